/*
 * One client connection: its requests one after another, each read and
 * checked in full (head and body) before anything goes upstream, so a bad
 * request is never forwarded half-rewritten, then routed: answered here,
 * or forwarded to the provider and its answer relayed as it arrives.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "accounts/store.h"
#include "connection/conn.h"
#include "connection/filter.h"
#include "connection/status.h"
#include "network/net.h"
#include "network/tls.h"
#include "network/trust.h"
#include "parsers/http.h"
#include "providers/claude.h"
#include "providers/codex.h"
#include "support/buf.h"
#include "support/log.h"
#include "support/secret.h"

/* With api-keys set, the request must carry one of them. */
static int
client_authorized(const struct config *cfg, const struct http_msg *m)
{
	const struct http_header *h;
	const char *k = NULL;
	size_t klen = 0, i;
	int ok = 0;

	if (cfg->n_api_keys == 0)
		return 1;
	if ((h = http_header_get(m, "x-api-key")) != NULL) {
		k = h->value;
		klen = h->vlen;
	} else if ((h = http_header_get(m, "authorization")) != NULL &&
	    h->vlen > 7 && strncasecmp(h->value, "Bearer ", 7) == 0) {
		k = h->value + 7;
		klen = h->vlen - 7;
	}
	if (k == NULL)
		return 0;
	for (i = 0; i < cfg->n_api_keys; i++)
		ok |= secret_eq(k, klen, cfg->api_keys[i]);
	return ok;
}

static int
is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static void
unauthorized(struct conn *c, struct req *r)
{
	/* The body, if any, stays unread: after the answer, nothing of the
	 * connection can be trusted to be a request's start. */
	r->close |= r->msg.framing != HTTP_BODY_NONE;
	conn_error(c, r, 401, "missing or wrong API key: send one of the "
	    "config's api-keys as x-api-key or Authorization: Bearer", 0,
	    NULL);
}

/*
 * GET and HEAD on /health and the status page are answered without
 * reading a body. One that comes is refused unread, after the key check
 * for the status page (a client without a key gets nothing read), and
 * the connection closed, its bytes still on the way. keyed: the status
 * page's key came, in a header or in the query; 1 for /health.
 */
static void
body_refused(struct conn *c, struct req *r, int keyed)
{
	r->close = 1;
	if (!keyed) {
		unauthorized(c, r);
		return;
	}
	conn_error(c, r, 400, "a GET or HEAD request carries no body here",
	    0, NULL);
	c->exit = EXIT_BADREQ;
}

/* Answer r, routed by method and path (plen bytes of the target). */
static void
route(struct conn *c, struct req *r, size_t plen)
{
	const struct config *cfg = c->cfg;
	const char *q = memchr(r->msg.target, '?', r->msg.tlen);
	int get = is(r->msg.method, r->msg.mlen, "GET");
	int head = is(r->msg.method, r->msg.mlen, "HEAD");
	/* Claude Code sends HEAD /api/hello (or HEAD /, the status page)
	 * to its base URL before its first request: answered here, as
	 * health is. */
	int health = (get || head) && (!strcmp(r->path, "/health") ||
	    !strcmp(r->path, "/healthz") || !strcmp(r->path, "/api/hello"));
	int status = (get || head) && status_route(r->path), keyed;
	enum codex_route cx = codex_route(r->msg.method, r->msg.mlen,
	    r->path, plen);

	/* OpenAI clients get OpenAI's error shape. */
	/* Anthropic's SDKs (Claude Code's model discovery among them) send
	 * anthropic-version or x-api-key; OpenAI's neither. */
	r->openai = cx != CODEX_NONE || ((get || head) &&
	    !strcmp(r->path, "/v1/models") &&
	    !http_header_get(&r->msg, "anthropic-version") &&
	    !http_header_get(&r->msg, "x-api-key"));

	if ((health || status) && (r->msg.framing == HTTP_BODY_CHUNKED ||
	    (r->msg.framing == HTTP_BODY_LENGTH && r->msg.length > 0))) {
		keyed = health || client_authorized(cfg, &r->msg) || (q &&
		    status_query_key(cfg, q + 1, r->msg.tlen - plen - 1));
		body_refused(c, r, keyed);
	} else if (health) {
		local_answer(c, r, head, LOCAL_HEALTH);
	} else if (status) {
		local_status(c, r, head, client_authorized(cfg, &r->msg));
	} else if (!client_authorized(cfg, &r->msg)) {
		unauthorized(c, r);
	} else if ((get || head) && !strcmp(r->path, "/v1/models")) {
		if (conn_read_body(c, r) == 0)
			local_answer(c, r, head, r->openai ?
			    LOCAL_MODELS_OPENAI : LOCAL_MODELS_ANTHROPIC);
	} else if (claude_route(r->msg.method, r->msg.mlen, r->path, plen)) {
		forward(c, r, ROUTE_CLAUDE);
	} else if (cx != CODEX_NONE) {
		forward(c, r, cx == CODEX_CHAT ? ROUTE_CHAT : ROUTE_RESPONSES);
	} else {
		char msg[1400];

		r->close |= r->msg.framing != HTTP_BODY_NONE;
		snprintf(msg, sizeof msg, "no route for %.*s %s: this proxy "
		    "serves POST /v1/messages, POST /v1/messages/count_tokens, "
		    "POST /responses, POST /v1/responses, POST "
		    "/v1/chat/completions, GET /v1/models, GET /health and "
		    "GET /status",
		    (int)r->msg.mlen, r->msg.method, r->path);
		conn_error(c, r, 404, msg, 0, NULL);
	}
}

/* One request, read, answered. Returns 1 to go on with the next. */
static int
one_request(struct conn *c)
{
	const struct config *cfg = c->cfg;
	struct http_limits lim = { cfg->max_head, cfg->max_headers };
	struct req r;
	const char *why, *q;
	ssize_t hl;
	size_t plen;
	int more = 0;

	/* The message (first) without its 8 KiB header array, see
	 * http_msg_reset; the rest whole. */
	_Static_assert(offsetof(struct req, msg) == 0, "msg first in req");
	http_msg_reset(&r.msg);
	memset((char *)&r + sizeof r.msg, 0, sizeof r - sizeof r.msg);
	if ((hl = conn_read_head(c, &r)) <= 0)
		goto done;
	r.t0 = net_now_ms();
	/* Each request sees auth-dir as it is now. */
	store_look();
	if ((r.head = malloc((size_t)hl)) == NULL) {
		c->exit = EXIT_SYS;
		goto done;
	}
	memcpy(r.head, c->in_buf.p, (size_t)hl);
	buf_consume(&c->in_buf, (size_t)hl);
	if (http_parse_request(r.head, (size_t)hl, &lim, &r.msg, &why) == -1) {
		r.close = 1;
		conn_error(c, &r, 400, why, 0, NULL);
		c->exit = EXIT_BADREQ;
		goto done;
	}
	log_head("client request", r.head, (size_t)hl);
	q = memchr(r.msg.target, '?', r.msg.tlen);
	plen = q ? (size_t)(q - r.msg.target) : r.msg.tlen;
	snprintf(r.path, sizeof r.path, "%.*s", (int)plen, r.msg.target);
	r.close = !r.msg.keep_alive;
	route(c, &r, plen);
	log_info("%.*s %s %s %d %s%s%s%s%s %lldms %lluB", (int)r.msg.mlen,
	    r.msg.method, r.path, r.model[0] ? r.model : "-", r.status,
	    r.who[0] ? r.who : "-", r.via ? " " : "", r.via ? r.via : "",
	    r.client ? " " : "", r.client ? r.client : "",
	    net_now_ms() - r.t0, r.bytes);
	more = !r.close && c->exit == EXIT_OK;
done:
	free(r.head);
	/* The body is written once, never shrunk: wiping its length wipes
	 * all of it, without touching the rest of its room (up to half
	 * again as many pages of a large body). */
	if (r.body.p)
		explicit_bzero(r.body.p, r.body.len);
	buf_free(&r.body);
	return more;
}

int
filter_run(const struct config *cfg, int in, int out)
{
	struct conn *c;
	struct upstream *up;
	struct stat st;
	int rc;

	/* rbuf (the last 80 KB) is not cleared: its pages are touched only
	 * as answers fill them. */
	if ((c = malloc(sizeof *c)) == NULL ||
	    (up = malloc(sizeof *up)) == NULL) {
		free(c);
		log_err("out of memory");
		return EXIT_SYS;
	}
	memset(c, 0, offsetof(struct conn, rbuf));
	c->up = up;
	c->cfg = cfg;
	c->in_buf.secret = 1;   /* client keys pass through it */
	c->in = in;
	c->out = out;
	c->first_by = net_now_ms() + cfg->head_timeout * 1000LL;
	c->out_sock = fstat(out, &st) == 0 && S_ISSOCK(st.st_mode);
	c->in_sock = in == out ? c->out_sock : fstat(in, &st) == 0 &&
	    S_ISSOCK(st.st_mode);
	up_init(c->up);
	net_nodelay(out);
	while (one_request(c))
		;
	conn_linger(c);
	rc = c->exit;
	up_close(c->up);
	if (c->ta_loaded)
		trust_free(&c->ta);
	buf_free(&c->in_buf);
	free(c->up);
	free(c);
	return rc;
}
