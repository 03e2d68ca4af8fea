/*
 * Relaying a response to the client: as it comes, framing kept, or
 * translated from the Responses API's events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "tls.h"

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

void
relay_stream(struct conn *c, struct req *r, const struct http_msg *m,
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
			if (conn_writev(c, iov, 2) == -1)
				goto gone;
			r->bytes += head.len + n;
			first = 0;
		} else if (n > 0) {
			if (conn_write(c, p, n) == -1)
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

