/*
 * One client connection. Requests are read from the client, parsed and
 * checked in full (head and body) before anything goes upstream, so a bad
 * request is never forwarded half-rewritten; responses stream back as they
 * arrive, each read from the upstream written to the client at once.
 */
#include <errno.h>
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
#include "filter.h"
#include "http.h"
#include "log.h"
#include "net.h"
#include "reply.h"
#include "store.h"
#include "ta.h"
#include "tls.h"
#include "token.h"

#define READ_CHUNK (16 * 1024)
#define RESP_HEAD_MAX (64 * 1024)

struct conn {
	const struct config *cfg;
	int in, out;
	int out_sock;           /* out is a socket: shutdown() at the end */
	struct buf in_buf;      /* client bytes read, not yet consumed */
	int in_eof;
	int exit;               /* exit code once the connection ends */
	struct ta_set ta;
	int ta_loaded;
	struct upstream *up;
	unsigned char rbuf[RESP_HEAD_MAX + READ_CHUNK];
};

/* What one request carries through its handling. */
struct req {
	struct http_msg msg;
	char *head;             /* own copy: in_buf moves under it */
	char path[1024];        /* target without the query, for routes and logs */
	struct buf body;
	int close;              /* close the client connection after it */
	int status;             /* for the log line */
	unsigned long long bytes;
	long long t0;
	char who[256];          /* account email, for the log line */
};

enum { RD_OK = 1, RD_EOF = 0, RD_TIMEOUT = -1, RD_ERR = -2 };

/* Read what the client sent within timeout_ms. */
static int
fill(struct conn *c, int timeout_ms)
{
	struct pollfd pfd = { c->in, POLLIN, 0 };
	ssize_t r;
	int p;

	if (c->in_eof)
		return RD_EOF;
	do
		p = poll(&pfd, 1, timeout_ms);
	while (p == -1 && errno == EINTR);
	if (p == 0)
		return RD_TIMEOUT;
	if (p == -1 || buf_reserve(&c->in_buf, READ_CHUNK) == -1)
		return RD_ERR;
	do
		r = read(c->in, c->in_buf.p + c->in_buf.len, READ_CHUNK);
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return errno == ECONNRESET ? RD_EOF : RD_ERR;
	if (r == 0) {
		c->in_eof = 1;
		return RD_EOF;
	}
	c->in_buf.len += (size_t)r;
	return RD_OK;
}

/* Write everything to the client. 0, or -1 when the client is gone or
 * stopped reading for idle-timeout. */
static int
write_client(struct conn *c, const struct iovec *iov0, int n)
{
	struct iovec iov[2];
	ssize_t w;

	memcpy(iov, iov0, (size_t)n * sizeof *iov);
	while (n > 0) {
		struct pollfd pfd = { c->out, POLLOUT, 0 };
		int p;

		do
			p = poll(&pfd, 1, c->cfg->idle_timeout * 1000);
		while (p == -1 && errno == EINTR);
		if (p <= 0)
			return -1;
		w = writev(c->out, iov, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
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

static int
write_buf(struct conn *c, const void *p, size_t n)
{
	struct iovec iov = { (void *)(uintptr_t)p, n };

	return write_client(c, &iov, 1);
}

/* Answer with an error made here. flags as in reply.h. */
static void
answer_error(struct conn *c, struct req *r, int status, const char *msg,
    int flags)
{
	struct buf b = { 0 };

	if (r->close)
		flags |= REPLY_CLOSE;
	if (status == 400 || status == 401 || status == 404 || status == 413)
		flags |= REPLY_NO_RETRY;
	if (flags & REPLY_CLOSE)
		r->close = 1;
	r->status = status;
	if (reply_error(&b, status, msg, flags) == 0) {
		r->bytes += b.len;
		(void)write_buf(c, b.p, b.len);
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
			rd = fill(c, cfg->idle_timeout * 1000);
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
		rd = left > 0 ? fill(c, (int)left) : RD_TIMEOUT;
		if (rd == RD_TIMEOUT) {
			r->close = 1;
			answer_error(c, r, 408, "the request head did not "
			    "arrive within head-timeout", 0);
			c->exit = EXIT_CLIENT_TIMEOUT;
			return -1;
		}
		if (rd == RD_EOF) {
			r->close = 1;
			answer_error(c, r, 400, "the connection ended before "
			    "the request head was complete", 0);
			c->exit = EXIT_BADREQ;
			return -1;
		}
		if (rd == RD_ERR)
			goto sys;
	}
	r->close = 1;
	answer_error(c, r, 400, "request head too large (max-head-bytes)", 0);
	c->exit = EXIT_BADREQ;
	return -1;
sys:
	c->exit = EXIT_SYS;
	return -1;
}

/* Read the request body into r->body, decoding chunked. 0, or -1 after
 * answering the error. */
static int
read_body(struct conn *c, struct req *r)
{
	const struct config *cfg = c->cfg;
	struct http_msg *m = &r->msg;
	struct http_chunked ch = { 0 };
	const char *why = NULL;
	int rd;

	if (m->framing == HTTP_BODY_LENGTH && m->length > cfg->max_body)
		goto too_large;
	for (;;) {
		if (m->framing == HTTP_BODY_LENGTH) {
			size_t want = (size_t)m->length - r->body.len;
			size_t take = c->in_buf.len < want ? c->in_buf.len
			    : want;

			if (buf_add(&r->body, c->in_buf.p, take) == -1)
				goto oom;
			buf_consume(&c->in_buf, take);
			if (r->body.len == m->length)
				return 0;
		} else if (m->framing == HTTP_BODY_CHUNKED) {
			size_t got = 0;
			ssize_t used;

			if (buf_reserve(&r->body, c->in_buf.len + 1) == -1)
				goto oom;
			used = http_chunked_feed(&ch, c->in_buf.p,
			    c->in_buf.len, r->body.p + r->body.len, &got, &why);
			if (used == -1) {
				r->close = 1;
				answer_error(c, r, 400, why, 0);
				c->exit = EXIT_BADREQ;
				return -1;
			}
			r->body.len += got;
			buf_consume(&c->in_buf, (size_t)used);
			if (r->body.len > cfg->max_body)
				goto too_large;
			if (ch.done)
				return 0;
		} else
			return 0;
		rd = fill(c, cfg->head_timeout * 1000);
		if (rd == RD_TIMEOUT) {
			r->close = 1;
			answer_error(c, r, 408, "the request body stalled for "
			    "head-timeout", 0);
			c->exit = EXIT_CLIENT_TIMEOUT;
			return -1;
		}
		if (rd != RD_OK) {
			r->close = 1;
			answer_error(c, r, 400, "the connection ended before "
			    "the request body was complete", 0);
			c->exit = rd == RD_ERR ? EXIT_SYS : EXIT_BADREQ;
			return -1;
		}
	}
too_large:
	r->close = 1;
	answer_error(c, r, 413, "request body too large (max-body-bytes)", 0);
	c->exit = EXIT_BADREQ;
	return -1;
oom:
	r->close = 1;
	answer_error(c, r, 500, "out of memory", 0);
	c->exit = EXIT_SYS;
	return -1;
}

/* Constant time in the length of the candidate, whatever it matches. */
static int
key_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char d = alen != blen;

	for (i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)(blen ?
		    b[i % blen] : 0);
	return d == 0;
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
		ok |= key_eq(k, klen, cfg->api_keys[i]);
	return ok;
}

/* The response head for the client: as the upstream sent it, less what
 * described the upstream connection. */
static int
client_head(struct buf *out, const char *head, const struct http_msg *m,
    int close, const char *extra)
{
	const char *eol = memchr(head, '\n', m->head_len);
	size_t i;

	if (buf_add(out, head, (size_t)(eol - head) + 1) == -1)
		return -1;
	for (i = 0; i < m->nheaders; i++) {
		const struct http_header *h = &m->headers[i];

		if (http_is_hop(m, h) && !http_name_is(h, "transfer-encoding"))
			continue;
		if (buf_addf(out, "%.*s: %.*s\r\n", (int)h->nlen, h->name,
		    (int)h->vlen, h->value) == -1)
			return -1;
	}
	if (buf_adds(out, extra) == -1)
		return -1;
	return buf_adds(out, close ? "Connection: close\r\n\r\n" : "\r\n");
}

/* Why the upstream could not be asked, for the client and the log. */
struct fail {
	int status;             /* 502 or 504 */
	int exit;               /* non-zero: end the connection with it */
	char msg[1200];
};

/* Connect to url unless the open connection can be reused. 0, or -1 with f
 * filled. */
static int
upstream_ready(struct conn *c, const struct url *url, struct fail *f)
{
	const struct config *cfg = c->cfg;
	char err[512];
	int e;

	if (up_usable(c->up, url))
		return 0;
	if (!c->ta_loaded) {
		if (ta_load(&c->ta, cfg->ca_file, err, sizeof err) == -1) {
			snprintf(f->msg, sizeof f->msg, "%s: set ca-file to a "
			    "PEM bundle of trusted CAs", err);
			f->status = 502;
			f->exit = EXIT_TLS;
			return -1;
		}
		c->ta_loaded = 1;
	}
	e = up_connect(c->up, url, &cfg->proxy, &c->ta,
	    cfg->connect_timeout * 1000, err, sizeof err);
	if (e == UP_OK) {
		c->up->timeout_ms = cfg->upstream_timeout * 1000;
		return 0;
	}
	if (e == UP_TLS)
		snprintf(f->msg, sizeof f->msg, "upstream %s: %s (ca-file %s)",
		    url->host, err, cfg->ca_file);
	else if (strncmp(err, "proxy ", 6) == 0)
		/* The proxy said no: name it, not the provider. */
		snprintf(f->msg, sizeof f->msg, "%s; check proxy-url", err);
	else
		snprintf(f->msg, sizeof f->msg, "upstream %s unreachable: %s; "
		    "check the network, the host name and the base URL",
		    url->host, err);
	f->status = e == UP_TIMEOUT ? 504 : 502;
	return -1;
}

/* Read the upstream's response head into c->rbuf. Returns the bytes in
 * rbuf (head and any body bytes after it), 0 on EOF before any byte, -1 on
 * error or timeout (c->up says which). */
static ssize_t
upstream_head(struct conn *c, size_t *hl)
{
	size_t have = 0;

	for (;;) {
		ssize_t n;

		if (have >= RESP_HEAD_MAX)
			return -1;
		n = up_read(c->up, c->rbuf + have, RESP_HEAD_MAX - have);
		if (n <= 0)
			return have == 0 && n == 0 ? 0 : -1;
		have += (size_t)n;
		if ((*hl = http_head_len((char *)c->rbuf, have)) > 0)
			return (ssize_t)have;
	}
}

/* Send one request upstream and read the response head, reconnecting once
 * when a reused connection turns out closed. Returns the bytes in rbuf, or
 * -1 with f filled. */
static ssize_t
exchange(struct conn *c, const struct url *url, const struct buf *head,
    const char *body, size_t blen, size_t *hl, struct fail *f)
{
	const struct config *cfg = c->cfg;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		int reused;
		ssize_t n;

		if (upstream_ready(c, url, f) == -1)
			return -1;
		reused = c->up->used;
		if (up_write(c->up, head->p, head->len, 0) == UP_OK &&
		    up_write(c->up, body, blen, 1) == UP_OK) {
			n = upstream_head(c, hl);
			if (n > 0)
				return n;
			if (n == -1 || !reused || c->up->timed_out)
				break;
		} else if (!reused || c->up->timed_out)
			break;
		/* The server closed the idle connection as we reused it:
		 * nothing reached it, so sending again is safe. */
		log_debug("upstream closed a kept connection; reconnecting");
		up_close(c->up);
	}
	if (c->up->timed_out) {
		snprintf(f->msg, sizeof f->msg, "upstream %s did not answer "
		    "within upstream-timeout (%d s)", url->host,
		    cfg->upstream_timeout);
		f->status = 504;
	} else {
		snprintf(f->msg, sizeof f->msg, "upstream %s closed the "
		    "connection or sent a malformed response", url->host);
		f->status = 502;
	}
	up_close(c->up);
	return -1;
}

/* Relay the response body: framing kept, each read written at once. */
static void
stream_body(struct conn *c, struct req *r, const struct http_msg *m,
    size_t at_hand_off, size_t at_hand, const char *extra)
{
	struct http_chunked ch = { 0 };
	uint64_t left = m->length;
	const char *why;
	struct buf head = { 0 };
	unsigned char *p = c->rbuf + at_hand_off;
	size_t n = at_hand;
	int first = 1, done = m->framing == HTTP_BODY_NONE;

	if (client_head(&head, (char *)c->rbuf, m, r->close, extra) == -1)
		goto fail;
	for (;;) {
		/* How much of this read belongs to the response. */
		if (m->framing == HTTP_BODY_LENGTH) {
			if (n > left)
				n = (size_t)left;
			left -= n;
			done = left == 0;
		} else if (m->framing == HTTP_BODY_CHUNKED && n > 0) {
			ssize_t used = http_chunked_feed(&ch, (char *)p, n,
			    NULL, &(size_t){ 0 }, &why);
			if (used == -1) {
				log_err("upstream sent a malformed chunked "
				    "body: %s", why);
				goto fail_sent;
			}
			n = (size_t)used;
			done = ch.done;
		} else if (m->framing == HTTP_BODY_NONE)
			n = 0;
		if (first) {
			/* The head and the body bytes at hand in one write:
			 * two small writes meet Nagle and delayed ACK. */
			struct iovec iov[2] = { { head.p, head.len },
			    { p, n } };
			if (write_client(c, iov, 2) == -1)
				goto gone;
			r->bytes += head.len + n;
			first = 0;
		} else if (n > 0) {
			if (write_buf(c, p, n) == -1)
				goto gone;
			r->bytes += n;
		}
		if (done)
			break;
		p = c->rbuf;
		ssize_t got = up_read(c->up, p, READ_CHUNK);
		if (got == 0 && m->framing == HTTP_BODY_CLOSE)
			break;
		if (got <= 0) {
			log_err("upstream %s ended the response early%s",
			    c->cfg->claude_base.host, c->up->timed_out ?
			    " (upstream-timeout)" : "");
			goto fail_sent;
		}
		n = (size_t)got;
	}
	buf_free(&head);
	if (!m->keep_alive)
		up_close(c->up);
	return;
gone:
	log_info("client went away during the response");
fail_sent:
	/* The head is out: the only honest signal left is to close. */
	r->close = 1;
	c->in_eof = 1;
fail:
	buf_free(&head);
	up_close(c->up);
}

/* Every account is cooling down: 429 with the soonest reset. */
static void
answer_cooling(struct conn *c, struct req *r, time_t soonest,
    const char *msg)
{
	struct buf b = { 0 };
	char extra[64];
	long wait = (long)(soonest - time(NULL));

	snprintf(extra, sizeof extra, "retry-after: %ld\r\n",
	    wait > 0 ? wait : 1);
	r->status = 429;
	if (reply_error_ex(&b, 429, msg, r->close ? REPLY_CLOSE : 0,
	    extra) == 0) {
		r->bytes += b.len;
		(void)write_buf(c, b.p, b.len);
	}
	buf_free(&b);
}

/* The request body as this account must get it, made at most once. */
static int
body_for(struct conn *c, struct req *r, const struct account *a,
    struct buf *prefixed, int *have, const char **body, size_t *blen)
{
	const char *why;
	int changed;

	*body = r->body.p ? r->body.p : "";
	*blen = r->body.len;
	if (!c->cfg->claude_system_prefix || a->kind != ACCT_OAUTH)
		return 0;
	if (!*have) {
		if (claude_body(*body, *blen, prefixed, &changed, &why) == -1) {
			r->close = 1;
			answer_error(c, r, 400, why, 0);
			c->exit = EXIT_BADREQ;
			return -1;
		}
		*have = changed ? 1 : 2;
	}
	if (*have == 1) {
		*body = prefixed->p;
		*blen = prefixed->len;
	}
	return 0;
}

#define MAX_SKIP 32

/* Accounts this request has given up on. */
struct tried {
	char id[MAX_SKIP][256];
	size_t n;
};

static void
tried_add(struct tried *t, const char *id)
{
	if (t->n < MAX_SKIP)
		snprintf(t->id[t->n++], sizeof t->id[0], "%s", id);
}

/* The next account to try, picked after the shared cursor and made fresh.
 * 0, or STORE_NONE / STORE_COOLING with err and *soonest. An account whose
 * token cannot be made fresh is passed over, its error kept in f. */
static int
next_account(const struct config *cfg, struct tried *t, struct account *a,
    time_t *soonest, char *err, size_t errlen, struct fail *f)
{
	for (;;) {
		int pr = store_pick(cfg, "claude", t->id, t->n, a, soonest,
		    err, errlen);

		if (pr != 0)
			return pr;
		if (store_fresh(cfg, a, 0, err, errlen) == 0)
			return 0;
		log_err("%s", err);
		tried_add(t, a->id);
		snprintf(f->msg, sizeof f->msg, "%.1100s", err);
		f->status = 401;
		account_free(a);
	}
}

/*
 * One proxied request: pick an account, make its token fresh, send, and
 * look at the status before a byte goes to the client. The body is held,
 * so a 401 gets one refresh and one more try on the same account, and a
 * 429, a 5xx or a failed connection moves on to the next account, up to
 * request-retry times. When no other account can take it, the client gets
 * what the upstream said.
 */
static void
forward(struct conn *c, struct req *r)
{
	const struct config *cfg = c->cfg;
	char err[4400], extra[64] = "";
	struct tried t;
	struct account a, next;
	struct buf head = { 0 }, prefixed = { 0 };
	struct http_msg resp;
	struct fail f;
	const struct url *url;
	const char *why, *body;
	size_t blen, hl = 0;
	ssize_t n;
	time_t soonest, until = 0;
	int tries = 0, refreshed = 0, have_body = 0, have_prefixed = 0, pr;

	memset(&t, 0, sizeof t);
	memset(&a, 0, sizeof a);
	memset(&next, 0, sizeof next);
	memset(&f, 0, sizeof f);
	if ((pr = next_account(cfg, &t, &a, &soonest, err, sizeof err,
	    &f)) != 0)
		goto none;
	for (;;) {
		snprintf(r->who, sizeof r->who, "%s", a.email ? a.email :
		    a.id);
		if (!have_body) {
			if (r->msg.expect_continue && write_buf(c,
			    "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1) {
				r->close = 1;
				goto out;
			}
			if (read_body(c, r) == -1)
				goto out;
			have_body = 1;
		}
		if (body_for(c, r, &a, &prefixed, &have_prefixed, &body,
		    &blen) == -1)
			goto out;
		url = a.base ? a.base : &cfg->claude_base;
		head.len = 0;
		if (claude_head(&head, &r->msg, cfg, url, &a, blen) == -1) {
			answer_error(c, r, 500, "out of memory", 0);
			goto out;
		}
		tries++;
		memset(&f, 0, sizeof f);
		n = exchange(c, url, &head, body, blen, &hl, &f);
		if (n > 0 && http_parse_response((char *)c->rbuf, hl, "POST",
		    &resp, &why) == -1) {
			log_err("upstream %s: %s", url->host, why);
			up_close(c->up);
			snprintf(f.msg, sizeof f.msg, "upstream %s sent a "
			    "malformed response head", url->host);
			f.status = 502;
			n = -1;
		}
		if (n == -1) {
			log_err("%s", f.msg);
			if (f.exit) {
				r->close = 1;
				c->exit = f.exit;
				answer_error(c, r, f.status, f.msg, 0);
				goto out;
			}
			if (tries <= cfg->request_retry && next_account(cfg, &t,
			    &next, &soonest, err, sizeof err, &f) == 0)
				goto swap;
			answer_error(c, r, f.status, f.msg, 0);
			goto out;
		}
		if (resp.status == 401 && a.kind == ACCT_OAUTH && !refreshed) {
			/* The token was refused: refresh it, try again. */
			refreshed = 1;
			tries--;
			up_close(c->up);
			if (store_fresh(cfg, &a, 1, err, sizeof err) == 0)
				continue;
			log_err("%s", err);
			tried_add(&t, a.id);
			snprintf(f.msg, sizeof f.msg, "%.1100s", err);
			f.status = 401;
			if ((pr = next_account(cfg, &t, &next, &soonest, err,
			    sizeof err, &f)) == 0)
				goto swap;
			goto none;
		}
		if (resp.status == 429) {
			until = claude_cooldown(&resp, time(NULL));
			store_cooldown(cfg, &a, until, "429 rate limited");
			tried_add(&t, a.id);
		}
		if ((resp.status == 429 || resp.status >= 500) &&
		    tries <= cfg->request_retry && next_account(cfg, &t,
		    &next, &soonest, err, sizeof err, &f) == 0) {
			log_warn("upstream answered %d for %s; trying the next "
			    "account", resp.status, r->who);
			up_close(c->up);
			goto swap;
		}
		break;
swap:
		account_free(&a);
		a = next;
		memset(&next, 0, sizeof next);
		refreshed = 0;
	}
	if (resp.status >= 200 && resp.status < 300)
		store_ok(cfg, &a);
	if (resp.status == 429 && !http_header_get(&resp, "retry-after") &&
	    until > time(NULL))
		snprintf(extra, sizeof extra, "retry-after: %lld\r\n",
		    (long long)(until - time(NULL)));
	r->status = resp.status;
	if (resp.framing == HTTP_BODY_CLOSE)
		r->close = 1;
	stream_body(c, r, &resp, hl, (size_t)n - hl, extra);
	goto out;
none:
	if (!have_body && r->msg.framing != HTTP_BODY_NONE)
		r->close = 1;
	if (pr == STORE_COOLING) {
		log_warn("%s", err);
		answer_cooling(c, r, soonest, err);
	} else {
		log_err("%s", err);
		answer_error(c, r, f.status == 401 || !f.status ? 401 :
		    f.status, f.status == 401 ? f.msg : err, 0);
	}
out:
	buf_wipe(&head);
	buf_free(&prefixed);
	account_free(&a);
	account_free(&next);
}

/* Local answers: health and the model list. */
static void
answer_local(struct conn *c, struct req *r, int head_only, int models)
{
	struct buf b = { 0 }, json = { 0 };
	int flags = (head_only ? REPLY_HEAD : 0) | (r->close ? REPLY_CLOSE : 0);

	if (models ? claude_models(&json) : buf_adds(&json,
	    "{\"status\":\"ok\"}"))
		goto out;
	if (reply_json(&b, 200, json.p, flags) == 0) {
		r->status = 200;
		r->bytes = b.len;
		if (write_buf(c, b.p, b.len) == -1)
			r->close = 1;
	}
out:
	buf_free(&b);
	buf_free(&json);
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
		answer_error(c, &r, 400, why, 0);
		c->exit = EXIT_BADREQ;
		goto done;
	}
	q = memchr(r.msg.target, '?', r.msg.tlen);
	plen = q ? (size_t)(q - r.msg.target) : r.msg.tlen;
	snprintf(r.path, sizeof r.path, "%.*s", (int)plen, r.msg.target);
	r.close = !r.msg.keep_alive;
	get = is(r.msg.method, r.msg.mlen, "GET");
	head = is(r.msg.method, r.msg.mlen, "HEAD");

	if ((get || head) && (!strcmp(r.path, "/health") ||
	    !strcmp(r.path, "/healthz"))) {
		if (read_body(c, &r) == 0)
			answer_local(c, &r, head, 0);
	} else if (!client_authorized(cfg, &r.msg)) {
		r.close |= r.msg.framing != HTTP_BODY_NONE;
		answer_error(c, &r, 401, "missing or wrong API key: send one "
		    "of the config's api-keys as x-api-key or Authorization: "
		    "Bearer", 0);
	} else if ((get || head) && !strcmp(r.path, "/v1/models")) {
		if (read_body(c, &r) == 0)
			answer_local(c, &r, head, 1);
	} else if (claude_route(r.msg.method, r.msg.mlen, r.path, plen)) {
		forward(c, &r);
	} else {
		char msg[1200];

		r.close |= r.msg.framing != HTTP_BODY_NONE;
		snprintf(msg, sizeof msg, "no route for %.*s %s: this proxy "
		    "serves POST /v1/messages, POST /v1/messages/count_tokens, "
		    "GET /v1/models and GET /health", (int)r.msg.mlen,
		    r.msg.method, r.path);
		answer_error(c, &r, 404, msg, 0);
	}
	log_info("%.*s %s %d %s %lldms %lluB", (int)r.msg.mlen, r.msg.method,
	    r.path, r.status, r.who[0] ? r.who : "-", net_now_ms() - r.t0,
	    r.bytes);
	more = !r.close && c->exit == EXIT_OK;
done:
	free(r.head);
	buf_wipe(&r.body);
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
	c->in = in;
	c->out = out;
	c->out_sock = fstat(out, &st) == 0 && S_ISSOCK(st.st_mode);
	up_init(c->up);
	net_nodelay(out);
	while (one_request(c))
		;
	linger(c);
	rc = c->exit;
	up_close(c->up);
	if (c->ta_loaded)
		ta_free(&c->ta);
	buf_wipe(&c->in_buf);
	free(c->up);
	free(c);
	return rc;
}
