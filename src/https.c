/*
 * A one-shot HTTPS client for token endpoints, on the same TLS code as the
 * upstream path. Connection: close keeps it simple: one exchange, then the
 * body ends at Content-Length, the last chunk or the close.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "httpbody.h"
#include "https.h"
#include "tls.h"
#include "version.h"

#define RESP_MAX (1024 * 1024)
#define HEAD_MAX (64 * 1024)


/* Take n more bytes of the answer into its body. -1 when malformed or
 * too large. */
static int
body_add(struct https_resp *r, struct http_body *hb, const char *p, size_t n)
{
	const char *why;
	size_t got = 0;

	if (r->body.len + n > RESP_MAX || buf_reserve(&r->body, n + 1) == -1 ||
	    http_body_feed(hb, p, n, r->body.p + r->body.len, &got,
	    &why) == -1)
		return -1;
	r->body.len += got;
	r->body.p[r->body.len] = '\0';
	return 0;
}

static int
exchange(struct upstream *u, const struct url *url, const char *ctype,
    const char *body, size_t blen, struct https_resp *r, char *err,
    size_t errlen)
{
	struct buf req = BUF_SECRET, in = BUF_SECRET;
	struct http_body hb;
	struct http_msg *m = NULL;
	const struct http_header *ra;
	const char *why;
	size_t hl = 0;
	ssize_t n;
	int rc = -1, bad;

	if (buf_addf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: cli-proxy-api/" VERSION "\r\n"
	    "Content-Type: %s\r\nAccept: application/json\r\n"
	    "Accept-Encoding: identity\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", url->path[0] ? url->path : "/",
	    url->hostport, ctype, blen) == -1 ||
	    (m = malloc(sizeof *m)) == NULL)
		goto oom;
	if (up_write(u, req.p, req.len, 0) != UP_OK ||
	    up_write(u, body, blen, 1) != UP_OK) {
		snprintf(err, errlen, "%s: sending the request failed%s",
		    url->host, u->timed_out ? ": timed out" : "");
		goto out;
	}
	while (hl == 0) {
		if (buf_reserve(&in, 16384) == -1)
			goto oom;
		n = up_read(u, in.p + in.len, in.cap - in.len - 1);
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s before a response",
			    url->host, u->timed_out ? "timed out" :
			    "connection closed");
			goto out;
		}
		in.len += (size_t)n;
		in.p[in.len] = '\0';
		hl = http_head_len(in.p, in.len);
		if (hl == 0 && in.len > HEAD_MAX)
			goto bad;
	}
	if (http_parse_response(in.p, hl, "POST", m, &why) == -1)
		goto bad;
	r->status = m->status;
	if ((ra = http_header_get(m, "retry-after")) != NULL)
		r->retry_at = http_retry_after(ra->value, ra->vlen, time(NULL));
	http_body_init(&hb, m);
	if (body_add(r, &hb, in.p + hl, in.len - hl) == -1)
		goto bad;
	while (!hb.done) {
		char tmp[16384];

		if ((n = up_read(u, tmp, sizeof tmp)) == 0 &&
		    http_body_eof(&hb))
			break;
		if (n <= 0) {
			snprintf(err, errlen, "%s: the response ended early%s",
			    url->host, u->timed_out ? " (timed out)" : "");
			goto out;
		}
		bad = body_add(r, &hb, tmp, (size_t)n) == -1;
		explicit_bzero(tmp, sizeof tmp);
		if (bad)
			goto bad;
	}
	if (buf_add(&r->body, "", 0) == -1)
		goto oom;
	rc = 0;
	goto out;
bad:
	snprintf(err, errlen, "%s sent a malformed or oversized response",
	    url->host);
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	free(m);
	buf_free(&req);
	buf_free(&in);
	return rc;
}

int
https_post(const struct url *url, const struct proxy *px,
    const struct trust *ta, int timeout_ms, const char *ctype,
    const char *body, size_t blen, struct https_resp *r,
    char *err, size_t errlen)
{
	struct upstream *u;
	int rc = -1;

	memset(r, 0, sizeof *r);
	r->body.secret = 1;
	if ((u = malloc(sizeof *u)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	up_init(u);
	if (up_connect(u, url, px, ta, timeout_ms, err, errlen) == UP_OK) {
		u->timeout_ms = timeout_ms;
		rc = exchange(u, url, ctype, body, blen, r, err, errlen);
	}
	up_close(u);
	free(u);
	if (rc == -1)
		buf_free(&r->body);
	return rc;
}
