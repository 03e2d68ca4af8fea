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
#include "https.h"
#include "tls.h"
#include "version.h"

#define RESP_MAX (1024 * 1024)
#define HEAD_MAX (64 * 1024)


/* Append n bytes of body as framed by m, decoding chunked. 1 when the body
 * is complete, 0 when more is needed, -1 when malformed or too large. */
static int
body_add(struct https_resp *r, const struct http_msg *m,
    struct http_chunked *ch, const char *p, size_t n)
{
	const char *why;

	if (r->body.len + n > RESP_MAX)
		return -1;
	if (m->framing == HTTP_BODY_CHUNKED) {
		size_t got = 0;

		if (buf_reserve(&r->body, n + 1) == -1 ||
		    http_chunked_feed(ch, p, n, r->body.p + r->body.len, &got,
		    &why) == -1)
			return -1;
		r->body.len += got;
		r->body.p[r->body.len] = '\0';
		return ch->done;
	}
	if (m->framing == HTTP_BODY_LENGTH && n > m->length - r->body.len)
		n = (size_t)(m->length - r->body.len);
	if (buf_add(&r->body, p, n) == -1)
		return -1;
	return m->framing == HTTP_BODY_LENGTH && r->body.len == m->length;
}

static int
exchange(struct upstream *u, const struct url *url, const char *ctype,
    const char *body, size_t blen, struct https_resp *r, char *err,
    size_t errlen)
{
	struct buf req = BUF_SECRET, in = BUF_SECRET;
	struct http_chunked ch = { 0 };
	struct http_msg *m = NULL;
	const struct http_header *ra;
	const char *why;
	size_t hl = 0;
	ssize_t n;
	int rc = -1, done;

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
	done = m->framing == HTTP_BODY_NONE;
	if (!done && (done = body_add(r, m, &ch, in.p + hl, in.len - hl)) < 0)
		goto bad;
	while (!done) {
		char tmp[16384];

		if ((n = up_read(u, tmp, sizeof tmp)) == 0 &&
		    m->framing == HTTP_BODY_CLOSE)
			break;
		if (n <= 0) {
			snprintf(err, errlen, "%s: the response ended early%s",
			    url->host, u->timed_out ? " (timed out)" : "");
			goto out;
		}
		if ((done = body_add(r, m, &ch, tmp, (size_t)n)) < 0) {
			explicit_bzero(tmp, sizeof tmp);
			goto bad;
		}
		explicit_bzero(tmp, sizeof tmp);
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
