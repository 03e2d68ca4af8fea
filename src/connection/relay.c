/*
 * Relaying a response to the client: as it comes, framing kept, or
 * translated from the Responses API's events.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "connection/conn.h"
#include "network/tls.h"
#include "parsers/httpbody.h"
#include "parsers/sse.h"
#include "providers/codex.h"
#include "support/log.h"

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

		if (http_is_hop(m, h) && (!http_name_is(h,
		    "transfer-encoding") || m->framing == HTTP_BODY_NONE))
			continue;
		/* A body we send whole gets its own length. */
		if (m->framing == HTTP_BODY_NONE && http_name_is(h,
		    "content-length"))
			continue;
		if (http_header_add(out, h) == -1)
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
	struct http_body hb;
	const char *why;
	struct buf head = { 0 }, dec = { 0 };
	unsigned char *p = c->rbuf + at_hand_off;
	size_t n = at_hand, got;
	ssize_t used;
	int first = 1;

	if (client_head(&head, (char *)c->rbuf, m, r->close, extra) == -1)
		goto fail;
	http_body_init(&hb, m);
	for (;;) {
		/* How much of this read belongs to the response; the usage
		 * scanner wants it without the chunk framing: decode a copy. */
		got = 0;
		if (r->scan && buf_reserve(&dec, n) == -1)
			goto fail_sent;
		if ((used = http_body_feed(&hb, (char *)p, n, r->scan ? dec.p :
		    NULL, &got, &why)) == -1) {
			log_err("upstream sent a malformed chunked body: %s",
			    why);
			goto fail_sent;
		}
		n = (size_t)used;
		if (r->scan)
			usage_scan_feed(r->scan, dec.p, got);
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
		if (hb.done)
			break;
		p = c->rbuf;
		ssize_t rd = up_read(c->up, p, READ_CHUNK);
		if (rd == 0 && http_body_eof(&hb))
			break;
		if (rd <= 0) {
			log_err("upstream %s ended the response early%s",
			    c->up->host, c->up->timed_out ?
			    " (upstream-timeout)" : "");
			goto fail_sent;
		}
		n = (size_t)rd;
	}
	buf_free(&head);
	buf_free(&dec);
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
	buf_free(&dec);
	up_close(c->up);
}


#define COLLECT_MAX (1024 * 1024)

/* The response body decoded, piece by piece, as it arrives. */
struct body_rd {
	struct conn *c;
	struct http_body hb;
	unsigned char *pend;    /* bytes at hand after the head */
	size_t npend;
};

static void
body_rd_init(struct body_rd *b, struct conn *c, const struct http_msg *m,
    size_t off, size_t n)
{
	memset(b, 0, sizeof *b);
	b->c = c;
	http_body_init(&b->hb, m);
	b->pend = c->rbuf + off;
	b->npend = n;
}

/* The next decoded bytes into out (replacing its content). 1 with data
 * (maybe none), 0 at the end of the body, -1 on a broken upstream. */
static int
body_rd_next(struct body_rd *b, struct buf *out)
{
	unsigned char *p;
	const char *why;
	size_t got = 0;
	ssize_t n;

	out->len = 0;
	if (b->hb.done)
		return 0;
	if (b->npend) {
		p = b->pend;
		n = (ssize_t)b->npend;
		b->npend = 0;
	} else {
		p = b->c->rbuf;
		n = up_read(b->c->up, p, READ_CHUNK);
		if (n == 0 && http_body_eof(&b->hb))
			return 0;
		if (n <= 0)
			return -1;
	}
	if (buf_reserve(out, (size_t)n + 1) == -1 ||
	    http_body_feed(&b->hb, (char *)p, (size_t)n, out->p, &got,
	    &why) == -1)
		return -1;
	out->len = got;
	out->p[got] = '\0';
	return 1;
}

int
relay_collect(struct conn *c, const struct http_msg *m, size_t off,
    size_t n, struct buf *out)
{
	struct body_rd b;
	struct buf piece = { 0 };
	int r, rc = -1;

	body_rd_init(&b, c, m, off, n);
	while ((r = body_rd_next(&b, &piece)) == 1) {
		if (out->len + piece.len > COLLECT_MAX ||
		    buf_add(out, piece.p, piece.len) == -1)
			goto out;
	}
	if (r == 0 && buf_add(out, "", 0) == 0)
		rc = 0;
out:
	buf_free(&piece);
	if (rc == -1 || !m->keep_alive)
		up_close(c->up);
	return rc;
}

void
relay_buffered(struct conn *c, struct req *r, const struct http_msg *m,
    const char *body, size_t len, const char *extra)
{
	struct http_msg whole = *m;
	struct buf head = { 0 };
	char more[160];

	/* The head as the upstream sent it, but framed by our length. */
	whole.framing = HTTP_BODY_NONE;
	snprintf(more, sizeof more, "Content-Length: %zu\r\n%s", len, extra);
	if (client_head(&head, (char *)c->rbuf, &whole, r->close, more) == 0) {
		struct iovec iov[2] = { { head.p, head.len },
		    { (void *)(uintptr_t)body, len } };

		if (conn_writev(c, iov, 2) == -1)
			r->close = 1;
		r->bytes += head.len + len;
	}
	buf_free(&head);
}

/* Send a response made here: status, JSON body, Content-Length. */
static void
send_json(struct conn *c, struct req *r, const char *json, size_t len)
{
	struct buf head = { 0 };

	if (buf_addf(&head, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/json\r\nContent-Length: %zu\r\n%s\r\n", len,
	    r->close ? "Connection: close\r\n" : "") == 0) {
		struct iovec iov[2] = { { head.p, head.len },
		    { (void *)(uintptr_t)json, len } };
		if (conn_writev(c, iov, 2) == -1)
			r->close = 1;
		r->bytes += head.len + len;
	}
	r->status = 200;
	buf_free(&head);
}

/* What the event callback needs. */
struct ev {
	enum route route;
	struct chat_xlate x;
	struct resp_collect rc;
	struct buf out;         /* client bytes made from the events */
	int bad;
};

static int
on_event(void *arg, const char *event, const char *data, size_t dlen)
{
	struct ev *e = arg;

	if (e->route == ROUTE_CHAT)
		return chat_xlate_event(&e->x, event, data, dlen, &e->out);
	return resp_collect_event(&e->rc, event, data, dlen);
}

/* One chunk of a chunked response to the client (HTTP/1.0: raw). */
static int
send_chunk(struct conn *c, struct req *r, const char *p, size_t n)
{
	char size[24];
	struct iovec iov[3];
	int k = 0;

	if (n == 0)
		return 0;
	if (r->msg.minor == 0)
		return conn_write(c, p, n);
	snprintf(size, sizeof size, "%zx\r\n", n);
	iov[k++] = (struct iovec){ size, strlen(size) };
	iov[k++] = (struct iovec){ (void *)(uintptr_t)p, n };
	iov[k++] = (struct iovec){ (void *)(uintptr_t)"\r\n", 2 };
	r->bytes += n;
	return conn_writev(c, iov, k);
}

/* An OpenAI-shaped error as an SSE frame, then the end marker. The
 * message may come from the upstream: cJSON escapes it, so it cannot break
 * the JSON or forge frames. */
static void
error_frame(struct buf *out, const char *msg)
{
	cJSON *root = cJSON_CreateObject(), *err;
	char *s = NULL;

	if (root && (err = cJSON_AddObjectToObject(root, "error")) != NULL &&
	    cJSON_AddStringToObject(err, "message", msg) &&
	    cJSON_AddStringToObject(err, "type", "server_error"))
		s = cJSON_PrintUnformatted(root);
	if (s)
		buf_addf(out, "data: %s\n\n", s);
	buf_adds(out, "data: [DONE]\n\n");
	free(s);
	cJSON_Delete(root);
}

void
relay_events(struct conn *c, struct req *r, const struct http_msg *m,
    size_t off, size_t n, enum route route, const struct codex_req *cr)
{
	struct body_rd b;
	struct sse sse;
	struct ev e;
	struct buf piece = { 0 };
	int streaming = route == ROUTE_CHAT && cr->stream, rd, ok = 0;

	memset(&sse, 0, sizeof sse);
	memset(&e, 0, sizeof e);
	e.route = route;
	if (route == ROUTE_CHAT && chat_xlate_init(&e.x, cr, time(NULL)) == -1)
		goto broken;
	if (streaming) {
		/* HTTP/1.0 clients cannot take chunks: end by closing. */
		if (r->msg.minor == 0)
			r->close = 1;
		char head[256];
		snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
		    "text/event-stream\r\nCache-Control: no-cache\r\n%s%s\r\n",
		    r->msg.minor ? "Transfer-Encoding: chunked\r\n" : "",
		    r->close ? "Connection: close\r\n" : "");
		r->status = 200;
		if (conn_write(c, head, strlen(head)) == -1)
			goto gone;
		r->bytes += strlen(head);
	}
	body_rd_init(&b, c, m, off, n);
	while ((rd = body_rd_next(&b, &piece)) == 1) {
		if (r->scan)
			usage_scan_feed(r->scan, piece.p, piece.len);
		if (sse_feed(&sse, piece.p, piece.len, on_event, &e) != 0)
			break;
		if (streaming && send_chunk(c, r, e.out.p, e.out.len) == -1)
			goto gone;
		e.out.len = 0;
	}
	if (rd != 0)
		log_err("upstream %s ended the event stream early",
		    c->up->host);
	if (!m->keep_alive || rd != 0)
		up_close(c->up);
	if (route == ROUTE_CHAT) {
		ok = chat_xlate_finish(&e.x, &e.out) == 0;
		if (streaming) {
			if (!ok) {
				/* The head went out: report in the stream. */
				e.out.len = 0;
				error_frame(&e.out, e.x.error);
			}
			if (send_chunk(c, r, e.out.p, e.out.len) == -1 ||
			    (r->msg.minor && conn_write(c, "0\r\n\r\n", 5)
			    == -1))
				goto gone;
			goto out;
		}
		if (ok)
			send_json(c, r, e.out.p, e.out.len);
		else
			conn_error(c, r, 502, e.x.error, 0, NULL);
		goto out;
	}
	if (e.rc.done && !e.rc.error[0])
		send_json(c, r, e.rc.json.p, e.rc.json.len);
	else
		conn_error(c, r, 502, e.rc.error[0] ? e.rc.error :
		    "the upstream stream ended before response.completed", 0,
		    NULL);
	goto out;
broken:
	conn_error(c, r, 500, "out of memory", 0, NULL);
	goto out;
gone:
	log_info("client went away during the response");
	r->close = 1;
	c->in_eof = 1;
	up_close(c->up);
out:
	buf_free(&piece);
	sse_free(&sse);
	if (route == ROUTE_CHAT)
		chat_xlate_free(&e.x);
	resp_collect_free(&e.rc);
	buf_free(&e.out);
}
