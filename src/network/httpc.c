/*
 * httpc: the proxy's own HTTPS requests, one exchange per connection
 * (Connection: close keeps it simple: the body ends at Content-Length,
 * the last chunk or the close). The whole answer is held in memory: a
 * token grant, a model catalog or a usage figure is small, and the first
 * is a secret, so the buffers are wiped.
 *
 * The deadline covers the whole exchange: each wait on the socket gets
 * what is left of it, so a server that trickles cannot hold a caller
 * with a budget (a /v1/models request waits 3 s at most) past it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "network/httpc.h"
#include "network/net.h"
#include "network/tls.h"
#include "parsers/http.h"
#include "parsers/httpbody.h"
#include "support/version.h"

#define HEAD_MAX (64 * 1024)

/* What is left of the deadline, at least 1 ms: 0 means no wait at all
 * to poll, which would make a slow answer look like a dead one. */
static int
left_ms(long long deadline)
{
	long long l = deadline - net_now_ms();

	return l < 1 ? 1 : l > 0x7fffffff ? 0x7fffffff : (int)l;
}

/* Take n more bytes of the answer into its body. -1 when malformed or
 * too large. */
static int
body_add(struct httpc_resp *rs, size_t max, struct http_body *hb,
    const char *p, size_t n)
{
	const char *why;
	size_t got = 0;

	if (rs->body.len + n > max || buf_reserve(&rs->body, n + 1) == -1 ||
	    http_body_feed(hb, p, n, rs->body.p + rs->body.len, &got,
	    &why) == -1)
		return -1;
	rs->body.len += got;
	rs->body.p[rs->body.len] = '\0';
	return 0;
}

static void
malformed(const struct url *url, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s sent a malformed or oversized response",
	    url->host);
}

/* Read into in until it holds the answer's head, *hl bytes of it. 0, or
 * -1 with err. */
static int
read_head(struct upstream *u, const struct url *url, long long deadline,
    struct buf *in, size_t *hl, char *err, size_t errlen)
{
	ssize_t n;

	while (*hl == 0) {
		if (buf_reserve(in, 16384) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		u->timeout_ms = left_ms(deadline);
		n = up_read(u, in->p + in->len, in->cap - in->len - 1);
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s before a response",
			    url->host, u->timed_out ? "timed out" :
			    "connection closed");
			return -1;
		}
		in->len += (size_t)n;
		in->p[in->len] = '\0';
		*hl = http_head_len(in->p, in->len);
		if (*hl == 0 && in->len > HEAD_MAX) {
			malformed(url, err, errlen);
			return -1;
		}
	}
	return 0;
}

/* The rest of the body, until hb says it is whole. 0, or -1 with err. */
static int
read_body(struct upstream *u, const struct httpc_req *rq, long long deadline,
    struct http_body *hb, struct httpc_resp *rs, char *err, size_t errlen)
{
	char tmp[16384];
	ssize_t n;
	int bad;

	while (!hb->done) {
		u->timeout_ms = left_ms(deadline);
		if ((n = up_read(u, tmp, sizeof tmp)) == 0 &&
		    http_body_eof(hb))
			break;
		if (n <= 0) {
			snprintf(err, errlen, "%s: the response ended early%s",
			    rq->url->host, u->timed_out ? " (timed out)" : "");
			return -1;
		}
		bad = body_add(rs, rq->max_body, hb, tmp, (size_t)n) == -1;
		explicit_bzero(tmp, sizeof tmp);
		if (bad) {
			malformed(rq->url, err, errlen);
			return -1;
		}
	}
	return 0;
}

/* The catalog's version tag, printable ASCII only: it is compared, kept
 * in a file and logged. */
static void
etag_of(const struct http_msg *m, char *out, size_t outlen)
{
	const struct http_header *h = http_header_get(m, "x-models-etag");
	size_t i;

	if (h == NULL)
		h = http_header_get(m, "etag");
	out[0] = '\0';
	if (h == NULL || h->vlen >= outlen)
		return;
	for (i = 0; i < h->vlen; i++)
		if (h->value[i] <= 0x20 || h->value[i] >= 0x7f)
			return;
	memcpy(out, h->value, h->vlen);
	out[h->vlen] = '\0';
}

static int
exchange(struct upstream *u, const struct httpc_req *rq, long long deadline,
    struct httpc_resp *rs, char *err, size_t errlen)
{
	struct buf req = BUF_SECRET, in = BUF_SECRET;
	struct http_body hb;
	struct http_msg *m = NULL;
	const struct http_header *ra;
	const char *why;
	size_t hl = 0;
	int rc = -1;

	if (buf_addf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: cli-proxy-api/" VERSION "\r\n"
	    "Accept: application/json\r\nAccept-Encoding: identity\r\n"
	    "Connection: close\r\n%s", rq->method, rq->target,
	    rq->url->hostport, rq->headers ? rq->headers : "") == -1 ||
	    (rq->body && buf_addf(&req, "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n", rq->ctype, rq->blen) == -1) ||
	    buf_adds(&req, "\r\n") == -1 || (m = malloc(sizeof *m)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	u->timeout_ms = left_ms(deadline);
	if (up_write(u, req.p, req.len, rq->body == NULL) != UP_OK ||
	    (rq->body && up_write(u, rq->body, rq->blen, 1) != UP_OK)) {
		snprintf(err, errlen, "%s: sending the request failed%s",
		    rq->url->host, u->timed_out ? ": timed out" : "");
		goto out;
	}
	if (read_head(u, rq->url, deadline, &in, &hl, err, errlen) == -1)
		goto out;
	if (http_parse_response(in.p, hl, rq->method, m, &why) == -1)
		goto bad;
	rs->status = m->status;
	if ((ra = http_header_get(m, "retry-after")) != NULL)
		rs->retry_at = http_retry_after(ra->value, ra->vlen, time(NULL));
	etag_of(m, rs->etag, sizeof rs->etag);
	http_body_init(&hb, m);
	if (body_add(rs, rq->max_body, &hb, in.p + hl, in.len - hl) == -1)
		goto bad;
	if (read_body(u, rq, deadline, &hb, rs, err, errlen) == -1)
		goto out;
	if (buf_add(&rs->body, "", 0) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
	goto out;
bad:
	malformed(rq->url, err, errlen);
out:
	free(m);
	buf_free(&req);
	buf_free(&in);
	return rc;
}

int
httpc_do(const struct httpc_req *rq, const struct proxy *px,
    const struct trust *ta, struct httpc_resp *rs, char *err, size_t errlen)
{
	long long deadline = net_now_ms() + rq->timeout_ms;
	struct upstream *u;
	int rc = -1;

	memset(rs, 0, sizeof *rs);
	rs->body.secret = 1;
	if ((u = malloc(sizeof *u)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	up_init(u);
	if (up_connect(u, rq->url, px, ta, rq->timeout_ms, err, errlen) ==
	    UP_OK)
		rc = exchange(u, rq, deadline, rs, err, errlen);
	up_close(u);
	free(u);
	if (rc == -1)
		httpc_resp_free(rs);
	return rc;
}

void
httpc_resp_free(struct httpc_resp *rs)
{
	buf_free(&rs->body);
	rs->body.len = 0;
}
