/*
 * The client's side of a connection: reading requests (a head within
 * head-timeout of its first byte, a body however it is framed within
 * body-timeout) and writing answers, on fds that may be a socket, a pipe
 * or a file. Every wait for the client has an end that no trickle of
 * bytes can push back, but idle-timeout's between kept requests.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "connection/conn.h"
#include "network/net.h"
#include "parsers/http.h"
#include "parsers/httpbody.h"
#include "parsers/reply.h"
#include "support/buf.h"
#include "support/exits.h"
#include "support/log.h"

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
	/* The answer to HEAD has no body, errors included: bytes after its
	 * head would be read as the start of the next answer. */
	if (r->msg.method && r->msg.mlen == 4 &&
	    memcmp(r->msg.method, "HEAD", 4) == 0)
		flags |= REPLY_HEAD;
	r->status = status;
	if ((r->openai ? reply_openai_error(&b, status, msg, flags, extra) :
	    reply_error_ex(&b, status, msg, flags, extra)) == 0) {
		r->bytes += b.len;
		(void)conn_write(c, b.p, b.len);
	}
	buf_free(&b);
}

/* How long to wait for the first byte of a request, in ms. A kept
 * connection waits idle-timeout; a new one first-byte-timeout at most,
 * and no longer than its first head is due: a connection that never
 * says anything must not hold a process for long. */
static long long
idle_wait(const struct conn *c)
{
	const struct config *cfg = c->cfg;
	long long ms = cfg->idle_timeout * 1000LL, due;

	if (c->first_by == 0)
		return ms;
	if (ms > cfg->first_byte_timeout * 1000LL)
		ms = cfg->first_byte_timeout * 1000LL;
	due = c->first_by - net_now_ms();
	return ms < due ? ms : due;
}

ssize_t
conn_read_head(struct conn *c, struct req *r)
{
	const struct config *cfg = c->cfg;
	long long deadline = c->first_by, left;
	size_t hl;
	int rd;

	for (;;) {
		if ((hl = http_head_len(c->in_buf.p, c->in_buf.len)) > 0) {
			if (hl > cfg->max_head)
				break;
			c->first_by = 0;
			return (ssize_t)hl;
		}
		if (c->in_buf.len > cfg->max_head)
			break;
		if (c->in_buf.len == 0) {
			left = idle_wait(c);
			rd = left > 0 ? fill(c, (int)left, 0) : RD_TIMEOUT;
			if (rd == RD_TIMEOUT)
				log_debug("idle connection closed");
			if (rd == RD_EOF || rd == RD_TIMEOUT)
				return 0;
			if (rd == RD_ERR)
				goto sys;
			continue;
		}
		/* The whole head within head-timeout of its first byte (of
		 * the connection's start for the first): a trickle cannot
		 * hold the process. */
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

/* A read of the body came short (rd: RD_EOF, RD_TIMEOUT or RD_ERR;
 * late: the timeout was body-timeout's, not a stall's): answer, and end
 * the connection. -1. */
static int
body_short(struct conn *c, struct req *r, int rd, int late)
{
	r->close = 1;
	if (rd == RD_TIMEOUT) {
		conn_error(c, r, 408, late ? "the request body did not "
		    "arrive within body-timeout" : "the request body stalled "
		    "for head-timeout", 0, NULL);
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
	/* One deadline for the whole body: a stall timer alone restarts at
	 * each byte, and a byte now and then would hold the process. */
	long long due = net_now_ms() + cfg->body_timeout * 1000LL, left;
	long long stall = cfg->head_timeout * 1000LL;

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
		left = due - net_now_ms();
		n = left <= 0 ? RD_TIMEOUT : client_read(c, r->body.p +
		    r->body.len, room, (int)(left < stall ? left : stall), 1);
		if (n <= 0)
			return body_short(c, r, (int)n, left < stall);
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

void
conn_linger(struct conn *c)
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

