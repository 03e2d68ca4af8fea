/*
 * The status page's answer: who may see it (loopback peers naming
 * localhost, with a client key when api-keys are set) and the page or its
 * JSON, made from status_model.c's tree. Nothing here waits for a lock,
 * so a glance at the page never queues behind a token refresh.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "accounts/convo.h"
#include "accounts/figures.h"
#include "accounts/store.h"
#include "connection/status.h"
#include "parsers/reply.h"
#include "providers/convkey.h"
#include "support/secret.h"
#include "support/url.h"

/* ---------------------------------------------------------- access */

int
status_route(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/status") == 0 ||
	    strcmp(path, "/status.json") == 0;
}

int
status_addr_local(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;

	if (len < (socklen_t)sizeof sa->sa_family)
		return 0;
	switch (sa->sa_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		if (len < (socklen_t)sizeof *in4)
			return 0;
		in4 = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		if (len < (socklen_t)sizeof *in6)
			return 0;
		in6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		/* A dual-stack listener sees IPv4 clients this way. */
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

int
status_peer_local(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct stat st;

	if (fstat(fd, &st) == -1)
		return 0;
	/* A pipe or a file: whoever started us is on this machine. */
	if (!S_ISSOCK(st.st_mode))
		return 1;
	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return status_addr_local((const struct sockaddr *)&ss, len);
}

int
status_host_local(const char *v, size_t n)
{
	char host[256];
	const char *end, *port;
	struct in_addr a4;
	struct in6_addr a6;
	size_t hl;

	if (n == 0 || n >= sizeof host)
		return 0;
	if (v[0] == '[') {
		if ((end = memchr(v, ']', n)) == NULL)
			return 0;
		hl = (size_t)(end - v - 1);
		memcpy(host, v + 1, hl);
		port = end + 1;
	} else {
		end = memchr(v, ':', n);
		hl = end ? (size_t)(end - v) : n;
		memcpy(host, v, hl);
		port = v + hl;
	}
	host[hl] = '\0';
	/* The rest is nothing, or a colon and digits. */
	if (port < v + n) {
		if (*port++ != ':' || port == v + n)
			return 0;
		for (; port < v + n; port++)
			if (*port < '0' || *port > '9')
				return 0;
	}
	if (v[0] == '[')
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

int
status_query_key(const struct config *cfg, const char *q, size_t n)
{
	const char *p = q, *end = q + n, *amp;
	char *key;
	size_t i;
	int ok = 0, bad;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		/* Not form data: a '+' in a key must still match. */
		if (amp - p > 4 && memcmp(p, "key=", 4) == 0 &&
		    (key = url_pct_decode(p + 4, (size_t)(amp - p - 4), 0,
		    &bad)) != NULL) {
			for (i = 0; i < cfg->n_api_keys; i++)
				ok |= secret_eq(key, strlen(key),
				    cfg->api_keys[i]);
			secret_free(&key);
		}
		p = amp + 1;
	}
	return ok;
}

/* session=ID of the query: Claude Code's session id (a UUID: letters,
 * digits and '-'), into sid; 0 when there is none. */
static int
query_session(const char *q, size_t n, char *sid, size_t sidlen)
{
	const char *p = q, *end = q + n, *amp;
	size_t k;

	while (p && p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		if (amp - p > 8 && memcmp(p, "session=", 8) == 0 &&
		    (size_t)(amp - p - 8) < sidlen) {
			for (k = 0; p + 8 + k < amp; k++) {
				char c = p[8 + k];

				if (!(c == '-' || (c >= '0' && c <= '9') ||
				    (c >= 'a' && c <= 'z') ||
				    (c >= 'A' && c <= 'Z')))
					return 0;
				sid[k] = c;
			}
			sid[k] = '\0';
			return k > 0;
		}
		p = amp + 1;
	}
	return 0;
}

/* /status.json?session=ID: which account Claude Code's session is on
 * ("account", the conversation table's), and which one a new
 * conversation would get now ("next"), for the status line of a user
 * who cannot read auth-dir. */
static void
add_session(cJSON *root, const struct config *cfg, const char *sid)
{
	char key[KEYHASH_LEN], id[256];
	time_t seen;
	cJSON *s = cJSON_AddObjectToObject(root, "session");

	if (s == NULL)
		return;
	convkey_session(sid, key);
	if (convo_find(cfg, key, id, sizeof id, &seen))
		cJSON_AddStringToObject(s, "account", id);
	else
		cJSON_AddNullToObject(s, "account");
	if (store_next(cfg, "claude", id, sizeof id) == 0)
		cJSON_AddStringToObject(s, "next", id);
	else
		cJSON_AddNullToObject(s, "next");
}

/* ---------------------------------------------------------- the answer */

/* The body: 0, or -1 out of memory. */
static int
build(const struct config *cfg, time_t now, int html, const char *sid,
    struct buf *out)
{
	struct buf b = { 0 };
	cJSON *root;
	char *s = NULL;
	int rc = -1;

	if ((root = status_model(cfg, now)) == NULL)
		goto out;
	if (sid)
		add_session(root, cfg, sid);
	if (html ? status_render(root, cfg, now, &b) == -1 :
	    (s = cJSON_Print(root)) == NULL || buf_adds(&b, s) == -1 ||
	    buf_adds(&b, "\n") == -1)
		goto out;
	*out = b;
	b.p = NULL;
	rc = 0;
out:
	free(s);
	buf_free(&b);
	cJSON_Delete(root);
	return rc;
}

int
status_json(const struct config *cfg, time_t now, struct buf *out)
{
	return build(cfg, now, 0, NULL, out);
}

int
status_html(const struct config *cfg, time_t now, struct buf *out)
{
	return build(cfg, now, 1, NULL, out);
}

static int
refuse(struct buf *out, int status, const char *msg, int flags)
{
	return reply_error_ex(out, status, msg, flags | REPLY_NO_RETRY,
	    "Cache-Control: no-store\r\n") == 0 ? status : -1;
}

int
status_reply(const struct config *cfg, int fd, const struct http_msg *m,
    int authorized, int flags, struct buf *out)
{
	const struct http_header *h = http_header_get(m, "host");
	const char *q = memchr(m->target, '?', m->tlen);
	size_t plen = q ? (size_t)(q - m->target) : m->tlen;
	struct buf body = { 0 };
	char len[48] = "", sid[128];
	int json = plen == 12 && memcmp(m->target, "/status.json", 12) == 0;
	int rc;

	if (cfg->status_page == STATUS_PAGE_OFF)
		return refuse(out, 404, "the status page is off (status: off in "
		    "the config)", flags);
	if (cfg->status_page == STATUS_PAGE_API_KEY && cfg->n_api_keys == 0)
		return refuse(out, 403, "the status page wants a client key "
		    "(status: api-key) and the config has no api-keys", flags);
	/* A pipe or a Unix socket counts as local: behind a relay (socat
	 * from a public address) that is wrong, and status: api-key is the
	 * setting for it. */
	if (cfg->status_page == STATUS_PAGE_LOCAL && !status_peer_local(fd))
		return refuse(out, 403, "the status page is served to "
		    "loopback clients only", flags);
	/* A browser that reached us through a rebound DNS name sends that
	 * name: refusing it keeps other web sites from reading the page.
	 * With a key required, the key does that. */
	if (cfg->status_page == STATUS_PAGE_LOCAL && h &&
	    !status_host_local(h->value, h->vlen))
		return refuse(out, 403, "the status page answers to Host "
		    "localhost, 127.0.0.1 or [::1] only", flags);
	if (!authorized && !(q && status_query_key(cfg, q + 1,
	    m->tlen - plen - 1)))
		return refuse(out, 401, "missing or wrong API key: open "
		    "/status?key=KEY with one of the config's api-keys, or "
		    "send it as x-api-key", flags);
	/* HEAD (Claude Code sends HEAD / before its first request) is
	 * answered without building the page, which reads every account and
	 * all of usage.jsonl: the length is left out, as RFC 9110 allows. */
	if (!(flags & REPLY_HEAD)) {
		int session = json && q && query_session(q + 1, m->tlen -
		    plen - 1, sid, sizeof sid);

		/* Figures older than usage-refresh are asked of the usage
		 * endpoints first, 2 s at most for all; not for a status
		 * line (session=), which must answer at once and never
		 * makes a provider be asked. */
		if (!session)
			(void)figures_fetch(cfg, NULL, FIGURES_DUE, 2000);
		if (build(cfg, time(NULL), !json, session ? sid : NULL,
		    &body) == -1)
			return -1;
		snprintf(len, sizeof len, "Content-Length: %zu\r\n", body.len);
	}
	rc = buf_addf(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: %s\r\n"
	    "%s"
	    "Cache-Control: no-store\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src data:; "
	    "frame-ancestors 'none'\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "%s\r\n", json ? "application/json" : "text/html; charset=utf-8",
	    len, flags & REPLY_CLOSE ? "Connection: close\r\n" : "");
	if (rc == 0 && !(flags & REPLY_HEAD))
		rc = buf_add(out, body.p, body.len);
	buf_free(&body);
	return rc == 0 ? 200 : -1;
}
