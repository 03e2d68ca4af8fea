/*
 * One client connection. Requests are read from the client, parsed and
 * checked in full (head and body) before anything goes upstream, so a bad
 * request is never forwarded half-rewritten; responses stream back as they
 * arrive, each read from the upstream written to the client at once.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "buf.h"
#include "claude.h"
#include "codex.h"
#include "conn.h"
#include "stamp.h"
#include "filter.h"
#include "http.h"
#include "httpbody.h"
#include "log.h"
#include "net.h"
#include "reply.h"
#include "secret.h"
#include "status.h"
#include "store.h"
#include "timefmt.h"
#include "trust.h"
#include "tls.h"

enum { RD_OK = 1, RD_EOF = 0, RD_TIMEOUT = -1, RD_ERR = -2 };

/* Read up to n bytes from the client into p within timeout_ms. With
 * first, a socket is read before it is polled (the bytes are most likely
 * there: the rest of a request under way); else it is polled first (a
 * pipe or file may block). Returns the bytes read, or RD_EOF, RD_TIMEOUT,
 * RD_ERR. */
static ssize_t
client_read(struct conn *c, void *p, size_t n, int timeout_ms, int first)
{
	struct pollfd pfd = { c->in, POLLIN, 0 };
	ssize_t r;
	int q;

	if (c->in_eof)
		return RD_EOF;
	for (;;) {
		if (first && c->in_sock) {
			r = recv(c->in, p, n, MSG_DONTWAIT);
			if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR))
				break;
		}
		do
			q = poll(&pfd, 1, timeout_ms);
		while (q == -1 && errno == EINTR);
		if (q == 0)
			return RD_TIMEOUT;
		if (q == -1)
			return RD_ERR;
		do
			r = read(c->in, p, n);
		while (r == -1 && errno == EINTR);
		break;
	}
	if (r == -1)
		return errno == ECONNRESET ? RD_EOF : RD_ERR;
	if (r == 0) {
		c->in_eof = 1;
		return RD_EOF;
	}
	return r;
}

/* Read what the client sent into in_buf within timeout_ms. */
static int
fill(struct conn *c, int timeout_ms, int first)
{
	ssize_t r;

	if (buf_reserve(&c->in_buf, READ_CHUNK) == -1)
		return RD_ERR;
	if ((r = client_read(c, c->in_buf.p + c->in_buf.len, READ_CHUNK,
	    timeout_ms, first)) <= 0)
		return (int)r;
	c->in_buf.len += (size_t)r;
	return RD_OK;
}

int
conn_writev(struct conn *c, const struct iovec *iov0, int n)
{
	struct iovec iov[4];
	ssize_t w;

	if (n < 1 || n > 4)
		return -1;
	memcpy(iov, iov0, (size_t)n * sizeof *iov);
	while (n > 0) {
		struct pollfd pfd = { c->out, POLLOUT, 0 };
		int p;

		/* A socket is tried first and polled only when full: one
		 * system call per write instead of two. Anything else (a
		 * pipe, a file) may block, so it is polled first. */
		if (c->out_sock) {
			struct msghdr m;

			memset(&m, 0, sizeof m);
			m.msg_iov = iov;
			m.msg_iovlen = (size_t)n;
			w = sendmsg(c->out, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1 && errno != EAGAIN && errno != EWOULDBLOCK)
				return -1;
		} else
			w = -1;
		if (w == -1) {
			do
				p = poll(&pfd, 1, c->cfg->idle_timeout * 1000);
			while (p == -1 && errno == EINTR);
			if (p <= 0)
				return -1;
			if (c->out_sock)
				continue;
			w = writev(c->out, iov, n);
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1)
				return -1;
		}
		while (n > 0 && (size_t)w >= iov[0].iov_len) {
			w -= (ssize_t)iov[0].iov_len;
			memmove(iov, iov + 1, (size_t)--n * sizeof *iov);
		}
		if (n > 0) {
			iov[0].iov_base = (char *)iov[0].iov_base + w;
			iov[0].iov_len -= (size_t)w;
		}
	}
	return 0;
}

int
conn_write(struct conn *c, const void *p, size_t n)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };

	return conn_writev(c, &iov, 1);
}

void
conn_error(struct conn *c, struct req *r, int status, const char *msg,
    int flags, const char *extra)
{
	struct buf b = { 0 };

	if (r->close)
		flags |= REPLY_CLOSE;
	if (status == 400 || status == 401 || status == 404 || status == 413)
		flags |= REPLY_NO_RETRY;
	if (flags & REPLY_CLOSE)
		r->close = 1;
	r->status = status;
	if ((r->openai ? reply_openai_error(&b, status, msg, flags, extra) :
	    reply_error_ex(&b, status, msg, flags, extra)) == 0) {
		r->bytes += b.len;
		(void)conn_write(c, b.p, b.len);
	}
	buf_free(&b);
}

/* Wait for a complete request head in c->in_buf. Returns its length, 0 when
 * the client is done (EOF or idle-timeout before a byte of a new request),
 * or -1 after answering the error and setting c->exit. */
static ssize_t
read_head(struct conn *c, struct req *r)
{
	const struct config *cfg = c->cfg;
	long long deadline = 0, left;
	size_t hl;
	int rd;

	for (;;) {
		if ((hl = http_head_len(c->in_buf.p, c->in_buf.len)) > 0) {
			if (hl > cfg->max_head)
				break;
			return (ssize_t)hl;
		}
		if (c->in_buf.len > cfg->max_head)
			break;
		if (c->in_buf.len == 0) {
			rd = fill(c, cfg->idle_timeout * 1000, 0);
			if (rd == RD_TIMEOUT)
				log_debug("idle connection closed");
			if (rd == RD_EOF || rd == RD_TIMEOUT)
				return 0;
			if (rd == RD_ERR)
				goto sys;
			continue;
		}
		/* The whole head within head-timeout of its first byte: a
		 * trickle cannot hold the process. */
		if (deadline == 0)
			deadline = net_now_ms() + cfg->head_timeout * 1000LL;
		left = deadline - net_now_ms();
		rd = left > 0 ? fill(c, (int)left, 1) : RD_TIMEOUT;
		if (rd == RD_TIMEOUT) {
			r->close = 1;
			conn_error(c, r, 408, "the request head did not "
			    "arrive within head-timeout", 0, NULL);
			c->exit = EXIT_CLIENT_TIMEOUT;
			return -1;
		}
		if (rd == RD_EOF) {
			r->close = 1;
			conn_error(c, r, 400, "the connection ended before "
			    "the request head was complete", 0, NULL);
			c->exit = EXIT_BADREQ;
			return -1;
		}
		if (rd == RD_ERR)
			goto sys;
	}
	r->close = 1;
	conn_error(c, r, 400, "request head too large (max-head-bytes)", 0, NULL);
	c->exit = EXIT_BADREQ;
	return -1;
sys:
	c->exit = EXIT_SYS;
	return -1;
}

/* A read of the body came short (rd: RD_EOF, RD_TIMEOUT or RD_ERR):
 * answer, and end the connection. -1. */
static int
body_short(struct conn *c, struct req *r, int rd)
{
	r->close = 1;
	if (rd == RD_TIMEOUT) {
		conn_error(c, r, 408, "the request body stalled for "
		    "head-timeout", 0, NULL);
		c->exit = EXIT_CLIENT_TIMEOUT;
	} else {
		conn_error(c, r, 400, "the connection ended before the "
		    "request body was complete", 0, NULL);
		c->exit = rd == RD_ERR ? EXIT_SYS : EXIT_BADREQ;
	}
	return -1;
}

int
conn_read_body(struct conn *c, struct req *r)
{
	const struct config *cfg = c->cfg;
	struct http_body hb;
	const char *why = NULL;
	size_t got, room;
	ssize_t used, n;

	http_body_init(&hb, &r->msg);
	if (hb.framing == HTTP_BODY_LENGTH && r->msg.length > cfg->max_body)
		goto too_large;
	/* A body of known length gets its room at once. */
	if (!hb.done && buf_reserve(&r->body, hb.framing ==
	    HTTP_BODY_LENGTH ? (size_t)hb.left + 1 : c->in_buf.len + 1) == -1)
		goto oom;
	for (;;) {
		/* What in_buf holds first, then reads straight into the
		 * body's room, decoded in place: a chunk's framing is never
		 * longer than what it frames. */
		got = 0;
		if (c->in_buf.len > 0) {
			if (buf_reserve(&r->body, c->in_buf.len + 1) == -1)
				goto oom;
			if ((used = http_body_feed(&hb, c->in_buf.p,
			    c->in_buf.len, r->body.p + r->body.len, &got,
			    &why)) == -1)
				goto bad;
			buf_consume(&c->in_buf, (size_t)used);
			r->body.len += got;
		}
		if (r->body.len > cfg->max_body)
			goto too_large;
		if (hb.done)
			break;
		room = hb.framing == HTTP_BODY_LENGTH ? (size_t)hb.left :
		    READ_CHUNK;
		if (buf_reserve(&r->body, room + 1) == -1)
			goto oom;
		n = client_read(c, r->body.p + r->body.len, room,
		    cfg->head_timeout * 1000, 1);
		if (n <= 0)
			return body_short(c, r, (int)n);
		got = 0;
		if ((used = http_body_feed(&hb, r->body.p + r->body.len,
		    (size_t)n, r->body.p + r->body.len, &got, &why)) == -1)
			goto bad;
		/* Bytes past the body belong to the next request. */
		if (used < n && buf_add(&c->in_buf, r->body.p + r->body.len +
		    used, (size_t)(n - used)) == -1)
			goto oom;
		r->body.len += got;
		if (r->body.len > cfg->max_body)
			goto too_large;
		if (hb.done)
			break;
	}
	if (r->body.p)
		r->body.p[r->body.len] = '\0';
	return 0;
bad:
	r->close = 1;
	conn_error(c, r, 400, why, 0, NULL);
	c->exit = EXIT_BADREQ;
	return -1;
too_large:
	r->close = 1;
	conn_error(c, r, 413, "request body too large (max-body-bytes)", 0, NULL);
	c->exit = EXIT_BADREQ;
	return -1;
oom:
	r->close = 1;
	conn_error(c, r, 500, "out of memory", 0, NULL);
	c->exit = EXIT_SYS;
	return -1;
}

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

/* GET /v1/models in OpenAI's shape: the models of the providers that have
 * an account. */
static int
openai_models(const struct config *cfg, struct buf *out)
{
	struct buf b = { 0 };
	cJSON *list = cJSON_CreateObject(), *data, *j, *m;
	char *s = NULL;
	int rc = -1;

	if (list == NULL || !cJSON_AddStringToObject(list, "object", "list") ||
	    (data = cJSON_AddArrayToObject(list, "data")) == NULL)
		goto out;
	if (store_has(cfg, "claude") && claude_models(&b) == 0 &&
	    (j = cJSON_Parse(b.p)) != NULL) {
		cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "data")) {
			cJSON *e = cJSON_CreateObject();
			const char *id = cJSON_GetStringValue(
			    cJSON_GetObjectItem(m, "id"));
			const char *at = cJSON_GetStringValue(
			    cJSON_GetObjectItem(m, "created_at"));
			time_t t = at ? timefmt_parse(at) : 0;

			cJSON_AddStringToObject(e, "id", id ? id : "");
			cJSON_AddStringToObject(e, "object", "model");
			cJSON_AddNumberToObject(e, "created", t > 0 ?
			    (double)t : 0);
			cJSON_AddStringToObject(e, "owned_by", "anthropic");
			cJSON_AddItemToArray(data, e);
		}
		cJSON_Delete(j);
	}
	b.len = 0;
	if (store_has(cfg, "codex") && codex_models(&b) == 0 &&
	    (j = cJSON_Parse(b.p)) != NULL) {
		cJSON_ArrayForEach(m, cJSON_GetObjectItem(j, "data"))
			cJSON_AddItemToArray(data, cJSON_Duplicate(m, 1));
		cJSON_Delete(j);
	}
	if ((s = cJSON_PrintUnformatted(list)) != NULL &&
	    buf_adds(out, s) == 0)
		rc = 0;
out:
	free(s);
	cJSON_Delete(list);
	buf_free(&b);
	return rc;
}

/* Local answers: health and the model list. */
enum local { LOCAL_HEALTH, LOCAL_MODELS_ANTHROPIC, LOCAL_MODELS_OPENAI };

static void
answer_local(struct conn *c, struct req *r, int head_only, enum local what)
{
	struct buf b = { 0 }, json = { 0 };
	int flags = (head_only ? REPLY_HEAD : 0) | (r->close ? REPLY_CLOSE : 0);

	if ((what == LOCAL_MODELS_ANTHROPIC ? claude_models(&json) :
	    what == LOCAL_MODELS_OPENAI ? openai_models(c->cfg, &json) :
	    buf_adds(&json, "{\"status\":\"ok\"}")) == -1)
		goto out;
	if (reply_json(&b, 200, json.p, flags) == 0) {
		r->status = 200;
		r->bytes = b.len;
		if (conn_write(c, b.p, b.len) == -1)
			r->close = 1;
	}
out:
	buf_free(&b);
	buf_free(&json);
}

/* The status page checks the peer and the key itself: a browser cannot
 * send x-api-key, so ?key= in its query is accepted too (status.c). */
static void
answer_status(struct conn *c, struct req *r, int head_only)
{
	struct buf b = { 0 };
	int flags = (head_only ? REPLY_HEAD : 0) | (r->close ? REPLY_CLOSE : 0);
	int st = status_reply(c->cfg, c->in, &r->msg,
	    client_authorized(c->cfg, &r->msg), flags, &b);

	if (st == -1) {
		conn_error(c, r, 500, "out of memory", 0, NULL);
	} else {
		r->status = st;
		r->bytes = b.len;
		if (conn_write(c, b.p, b.len) == -1)
			r->close = 1;
	}
	buf_free(&b);
}

static int
is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
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
	int get, head, more = 0;
	enum codex_route cx;

	memset(&r, 0, sizeof r);
	if ((hl = read_head(c, &r)) <= 0)
		goto done;
	r.t0 = net_now_ms();
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
	get = is(r.msg.method, r.msg.mlen, "GET");
	head = is(r.msg.method, r.msg.mlen, "HEAD");
	cx = codex_route(r.msg.method, r.msg.mlen, r.path, plen);
	/* OpenAI clients get OpenAI's error shape. */
	r.openai = cx != CODEX_NONE || ((get || head) &&
	    !strcmp(r.path, "/v1/models") &&
	    !http_header_get(&r.msg, "anthropic-version"));

	if ((get || head) && (!strcmp(r.path, "/health") ||
	    !strcmp(r.path, "/healthz"))) {
		if (conn_read_body(c, &r) == 0)
			answer_local(c, &r, head, LOCAL_HEALTH);
	} else if ((get || head) && status_route(r.path)) {
		if (conn_read_body(c, &r) == 0)
			answer_status(c, &r, head);
	} else if (!client_authorized(cfg, &r.msg)) {
		r.close |= r.msg.framing != HTTP_BODY_NONE;
		conn_error(c, &r, 401, "missing or wrong API key: send one "
		    "of the config's api-keys as x-api-key or Authorization: "
		    "Bearer", 0, NULL);
	} else if ((get || head) && !strcmp(r.path, "/v1/models")) {
		if (conn_read_body(c, &r) == 0)
			answer_local(c, &r, head, r.openai ?
			    LOCAL_MODELS_OPENAI : LOCAL_MODELS_ANTHROPIC);
	} else if (claude_route(r.msg.method, r.msg.mlen, r.path, plen)) {
		forward(c, &r, ROUTE_CLAUDE);
	} else if (cx != CODEX_NONE) {
		forward(c, &r, cx == CODEX_CHAT ? ROUTE_CHAT : ROUTE_RESPONSES);
	} else {
		char msg[1400];

		r.close |= r.msg.framing != HTTP_BODY_NONE;
		snprintf(msg, sizeof msg, "no route for %.*s %s: this proxy "
		    "serves POST /v1/messages, POST /v1/messages/count_tokens, "
		    "POST /responses, POST /v1/responses, POST "
		    "/v1/chat/completions, GET /v1/models, GET /health and "
		    "GET /status",
		    (int)r.msg.mlen, r.msg.method, r.path);
		conn_error(c, &r, 404, msg, 0, NULL);
	}
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

/* After an error the client may still be sending: read a little of it so
 * closing does not reset the connection before our answer is read. */
static void
linger(struct conn *c)
{
	char junk[4096];
	long long end = net_now_ms() + 1000;
	size_t total = 0;

	if (!c->out_sock)
		return;
	shutdown(c->out, SHUT_WR);
	while (!c->in_eof && total < (1 << 20)) {
		struct pollfd pfd = { c->in, POLLIN, 0 };
		long long left = end - net_now_ms();
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if ((r = read(c->in, junk, sizeof junk)) <= 0)
			break;
		total += (size_t)r;
	}
}

/* Trust anchors loaded ahead by filter_prepare, and ca-file's identity
 * before they were. */
static struct trust ready_ta;
static struct stamp ready_ta_id;
static int ready;

int
conn_ready_ta(const struct config *cfg, struct trust *out)
{
	if (!ready)
		return 0;
	ready = 0;
	ready_ta_id.checked = 0;
	if (!stamp_check(&ready_ta_id, cfg->ca_file, 1)) {
		trust_free(&ready_ta);
		return 0;
	}
	*out = ready_ta;
	memset(&ready_ta, 0, sizeof ready_ta);
	return 1;
}

void
filter_prepare(const struct config *cfg)
{
	struct addrinfo hints, *res;
	struct stat st;
	char err[512];

	store_warm(cfg);
	/* A system bundle's anchors are some 100 KiB to read. */
	if (stat(cfg->ca_file, &st) == 0 && trust_load_cached(&ready_ta,
	    cfg->ca_file, cfg->auth_dir, err, sizeof err) == 0) {
		stamp_take(&ready_ta_id, &st);
		ready = 1;
	}
	/* glibc reads nsswitch.conf, host.conf and resolv.conf at the first
	 * lookup; "localhost" is answered from /etc/hosts, with no query on
	 * the network. */
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo("localhost", "443", &hints, &res) == 0)
		freeaddrinfo(res);
}

int
filter_run(const struct config *cfg, int in, int out)
{
	struct conn *c;
	struct stat st;
	int rc;

	if ((c = calloc(1, sizeof *c)) == NULL ||
	    (c->up = malloc(sizeof *c->up)) == NULL) {
		free(c);
		log_err("out of memory");
		return EXIT_SYS;
	}
	c->cfg = cfg;
	c->in_buf.secret = 1;   /* client keys pass through it */
	c->in = in;
	c->out = out;
	c->out_sock = fstat(out, &st) == 0 && S_ISSOCK(st.st_mode);
	c->in_sock = in == out ? c->out_sock : fstat(in, &st) == 0 &&
	    S_ISSOCK(st.st_mode);
	store_recheck();
	up_init(c->up);
	net_nodelay(out);
	while (one_request(c))
		;
	linger(c);
	rc = c->exit;
	up_close(c->up);
	if (c->ta_loaded)
		trust_free(&c->ta);
	buf_free(&c->in_buf);
	free(c->up);
	free(c);
	return rc;
}
