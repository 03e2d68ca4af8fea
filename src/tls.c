/*
 * The upstream TLS connection. The engine loop follows BearSSL's
 * br_sslio run_until, with a poll() deadline on each wait so a silent
 * server turns into a timeout instead of a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "proxy.h"
#include "tls.h"

/* BearSSL keeps this pointer: static storage outlives every engine. */
static const char *alpn[] = { "http/1.1" };

void
up_init(struct upstream *u)
{
	memset(u, 0, sizeof *u);
	u->fd = -1;
}

/* Wait until fd is ready for events, or the timeout. 1 ready, 0 timeout,
 * -1 error. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { fd, events, 0 };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	return r;
}

/* Drive the engine until one of the states in want is reached. 0, or -1 when
 * the engine closed (cleanly or not) or the socket failed or timed out. */
static int
run_until(struct upstream *u, unsigned want)
{
	br_ssl_engine_context *eng = &u->cc.eng;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);
		unsigned char *buf;
		size_t len;
		ssize_t r;

		if (u->broken || (st & BR_SSL_CLOSED))
			return -1;
		/* Pending records go out first: the peer may be waiting on
		 * them before it sends what we want to read. */
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			if (wait_fd(u->fd, POLLOUT, u->timeout_ms) <= 0)
				goto timeout_or_fail;
			r = send(u->fd, buf, len, MSG_NOSIGNAL);
			if (r <= 0) {
				if (r == -1 && errno == EINTR)
					continue;
				u->broken = 1;
				return -1;
			}
			br_ssl_engine_sendrec_ack(eng, (size_t)r);
			continue;
		}
		if (st & want)
			return 0;
		if (st & BR_SSL_RECVREC) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			if (wait_fd(u->fd, POLLIN, u->timeout_ms) <= 0)
				goto timeout_or_fail;
			r = read(u->fd, buf, len);
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				/* Many servers close without close_notify. */
				u->eof = 1;
				u->broken = 1;
				return -1;
			}
			br_ssl_engine_recvrec_ack(eng, (size_t)r);
			continue;
		}
		/* Nothing to do and not what we want: the engine waits for
		 * application data we will never give it. */
		br_ssl_engine_flush(eng, 0);
		if (!(br_ssl_engine_current_state(eng) & BR_SSL_SENDREC))
			return -1;
	}
timeout_or_fail:
	u->timed_out = 1;
	u->broken = 1;
	return -1;
}

int
up_connect(struct upstream *u, const struct url *url, const struct proxy *px,
    const struct ta_set *ta, int timeout_ms, char *err, size_t errlen)
{
	br_ssl_engine_context *eng = &u->cc.eng;
	int to;

	up_close(u);
	u->fd = proxy_connect(px, url->host, url->port, timeout_ms, &to, err,
	    (unsigned)errlen);
	if (u->fd == -1)
		return to ? UP_TIMEOUT : UP_CONNECT;
	snprintf(u->host, sizeof u->host, "%s", url->host);
	snprintf(u->port, sizeof u->port, "%s", url->port);
	u->timeout_ms = timeout_ms;
	u->timed_out = 0;
	u->eof = 0;
	u->broken = 0;
	u->used = 0;

	br_ssl_client_init_full(&u->cc, &u->xc, ta->ta, ta->n);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffer(eng, u->iobuf, sizeof u->iobuf, 1);
	br_ssl_engine_set_protocol_names(eng, alpn, 1);
	if (!br_ssl_client_reset(&u->cc, url->host, 0)) {
		snprintf(err, errlen, "TLS setup for %s failed (error %d)",
		    url->host, br_ssl_engine_last_error(eng));
		goto fail;
	}
	if (run_until(u, BR_SSL_SENDAPP | BR_SSL_RECVAPP) == -1) {
		if (u->timed_out) {
			snprintf(err, errlen, "TLS handshake with %s port %s "
			    "timed out", url->host, url->port);
			up_close(u);
			return UP_TIMEOUT;
		}
		snprintf(err, errlen, "TLS handshake with %s port %s failed: "
		    "%s", url->host, url->port, up_tls_error(u));
		goto fail;
	}
	return UP_OK;
fail:
	up_close(u);
	return UP_TLS;
}

int
up_usable(struct upstream *u, const struct url *url)
{
	if (u->fd == -1)
		return 0;
	if (strcmp(u->host, url->host) != 0 || strcmp(u->port, url->port) != 0
	    || u->broken ||
	    (br_ssl_engine_current_state(&u->cc.eng) & BR_SSL_CLOSED)) {
		up_close(u);
		return 0;
	}
	/* Readable while idle means the server closed it (or sent junk). */
	if (wait_fd(u->fd, POLLIN, 0) != 0) {
		up_close(u);
		return 0;
	}
	return 1;
}

int
up_write(struct upstream *u, const void *p, size_t n, int flush)
{
	br_ssl_engine_context *eng = &u->cc.eng;
	const unsigned char *s = p;

	while (n > 0) {
		unsigned char *buf;
		size_t len;

		if (run_until(u, BR_SSL_SENDAPP) == -1)
			goto fail;
		buf = br_ssl_engine_sendapp_buf(eng, &len);
		if (len > n)
			len = n;
		memcpy(buf, s, len);
		br_ssl_engine_sendapp_ack(eng, len);
		s += len;
		n -= len;
	}
	if (!flush)
		return UP_OK;
	br_ssl_engine_flush(eng, 0);
	if (run_until(u, BR_SSL_SENDAPP) == -1)
		goto fail;
	u->used = 1;
	return UP_OK;
fail:
	return u->timed_out ? UP_TIMEOUT : UP_CLOSED;
}

ssize_t
up_read(struct upstream *u, void *p, size_t n)
{
	br_ssl_engine_context *eng = &u->cc.eng;
	unsigned char *buf;
	size_t len;

	if (run_until(u, BR_SSL_RECVAPP) == -1) {
		int e = br_ssl_engine_last_error(eng);

		if (u->timed_out)
			return -1;
		/* close_notify, or a TCP close: both end the stream. */
		return e == BR_ERR_OK || u->eof ? 0 : -1;
	}
	buf = br_ssl_engine_recvapp_buf(eng, &len);
	if (len > n)
		len = n;
	memcpy(p, buf, len);
	br_ssl_engine_recvapp_ack(eng, len);
	return (ssize_t)len;
}

/* explicit_bzero through a pointer GCC cannot see into: fortify takes
 * &u->cc for its first member and warns on the size. */
static void
wipe(void *p, size_t n)
{
	void *volatile vp = p;

	explicit_bzero(vp, n);
}

void
up_close(struct upstream *u)
{
	if (u->fd != -1)
		close(u->fd);
	u->fd = -1;
	/* The engine holds the session's master secret. */
	wipe(&u->cc, sizeof u->cc);
	explicit_bzero(u->iobuf, sizeof u->iobuf);
}

const char *
up_tls_error(struct upstream *u)
{
	static char other[64];
	int e = br_ssl_engine_last_error(&u->cc.eng);

	switch (e) {
	case BR_ERR_X509_NOT_TRUSTED:
		return "its certificate is not signed by a CA in ca-file";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "its certificate does not match the host name";
	case BR_ERR_X509_EXPIRED:
		return "its certificate has expired or is not yet valid";
	case BR_ERR_X509_TIME_UNKNOWN:
		return "the system clock is not set";
	case BR_ERR_UNSUPPORTED_VERSION:
	case BR_ERR_BAD_VERSION:
		return "the server does not speak TLS 1.2";
	case BR_ERR_OK:
		return u->timed_out ? "timed out" :
		    "the connection was closed";
	default:
		if (e & BR_ERR_RECV_FATAL_ALERT) {
			snprintf(other, sizeof other, "the server sent alert %d",
			    e & 0xff);
			return other;
		}
		snprintf(other, sizeof other, "BearSSL error %d", e);
		return other;
	}
}
