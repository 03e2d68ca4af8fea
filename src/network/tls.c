/*
 * The upstream TLS connection. The engine loop follows BearSSL's
 * br_sslio run_until, with a poll() deadline on each wait so a silent
 * server turns into a timeout instead of a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "network/tls.h"
#include "network/tlscache.h"
#include "network/tunnel.h"
#include "parsers/proxyurl.h"

/* BearSSL keeps this pointer: static storage outlives every engine. */
static const char *alpn[] = { "http/1.1" };

void
up_init(struct upstream *u)
{
	memset(u, 0, offsetof(struct upstream, iobuf));
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

/* Wait for fd to be ready for events within the upstream timeout. 0, or
 * -1 with u->timed_out and u->broken set. */
static int
wait_up(struct upstream *u, short events)
{
	if (wait_fd(u->fd, events, u->timeout_ms) > 0)
		return 0;
	u->timed_out = 1;
	u->broken = 1;
	return -1;
}

/* Send pending records. The socket is non-blocking: poll only when the
 * kernel has no room. 0, or -1 with u->broken (and timed_out) set. */
static int
send_records(struct upstream *u)
{
	br_ssl_engine_context *eng = &u->cc.eng;
	unsigned char *buf;
	size_t len;
	ssize_t r;

	buf = br_ssl_engine_sendrec_buf(eng, &len);
	r = send(u->fd, buf, len, MSG_NOSIGNAL);
	if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return wait_up(u, POLLOUT);
	if (r == -1 && errno == EINTR)
		return 0;
	if (r <= 0) {
		u->broken = 1;
		return -1;
	}
	br_ssl_engine_sendrec_ack(eng, (size_t)r);
	return 0;
}

/* Feed the engine from the read-ahead buffer, refilling it with one
 * read() of up to 64 KiB: several TLS records per system call instead of
 * a header read and a body read for each. 0, or -1 with u->broken (and
 * eof or timed_out) set. */
static int
recv_records(struct upstream *u)
{
	br_ssl_engine_context *eng = &u->cc.eng;
	unsigned char *buf;
	size_t len, take;
	ssize_t r;

	if (u->rlen == 0) {
		/* Just after a request went out the answer cannot be there
		 * yet: wait first rather than try a read bound to fail (the
		 * caller comes back to read). */
		if (u->flushed) {
			u->flushed = 0;
			return wait_up(u, POLLIN);
		}
		r = read(u->fd, u->rbuf, sizeof u->rbuf);
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return wait_up(u, POLLIN);
		if (r == -1 && errno == EINTR)
			return 0;
		if (r <= 0) {
			/* Many servers close without close_notify. */
			u->eof = 1;
			u->broken = 1;
			return -1;
		}
		u->roff = 0;
		u->rlen = (size_t)r;
	}
	buf = br_ssl_engine_recvrec_buf(eng, &len);
	take = len < u->rlen ? len : u->rlen;
	memcpy(buf, u->rbuf + u->roff, take);
	u->roff += take;
	u->rlen -= take;
	br_ssl_engine_recvrec_ack(eng, take);
	return 0;
}

/* Drive the engine until one of the states in want is reached. 0, or -1 when
 * the engine closed (cleanly or not) or the socket failed or timed out. */
static int
run_until(struct upstream *u, unsigned want)
{
	br_ssl_engine_context *eng = &u->cc.eng;

	for (;;) {
		unsigned st = br_ssl_engine_current_state(eng);

		if (u->broken || (st & BR_SSL_CLOSED))
			return -1;
		/* Pending records go out first: the peer may be waiting on
		 * them before it sends what we want to read. */
		if (st & BR_SSL_SENDREC) {
			if (send_records(u) == -1)
				return -1;
			continue;
		}
		if (st & want)
			return 0;
		if (st & BR_SSL_RECVREC) {
			if (recv_records(u) == -1)
				return -1;
			continue;
		}
		/* Nothing to do and not what we want: the engine waits for
		 * application data we will never give it. */
		br_ssl_engine_flush(eng, 0);
		if (!(br_ssl_engine_current_state(eng) & BR_SSL_SENDREC))
			return -1;
	}
}

/*
 * ECDHE with AEAD only. AES-GCM first where the CPU has AES instructions
 * (several times faster than ChaCha20 there), ChaCha20 first elsewhere;
 * servers that honour the client's order then pick the fast one.
 */
static void
set_suites(br_ssl_engine_context *eng)
{
	static const uint16_t aes_first[] = {
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	};
	static const uint16_t chacha_first[] = {
		BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	};
	int hw = br_aes_x86ni_ctr_get_vtable() != NULL ||
	    br_aes_pwr8_ctr_get_vtable() != NULL;

	br_ssl_engine_set_suites(eng, hw ? aes_first : chacha_first,
	    sizeof aes_first / sizeof aes_first[0]);
}

/* The TCP connection for up_connect, and u's state for a new one. UP_OK,
 * or UP_TIMEOUT or UP_CONNECT with err. */
static int
open_socket(struct upstream *u, const struct url *url, const struct proxy *px,
    int timeout_ms, char *err, size_t errlen)
{
	int to;

	u->fd = proxy_connect(px, url->host, url->port, timeout_ms, &to, err,
	    (unsigned)errlen);
	if (u->fd == -1)
		return to ? UP_TIMEOUT : UP_CONNECT;
	/* Non-blocking from here: reads and writes are tried first and
	 * polled only when the kernel has nothing or no room. */
	if (fcntl(u->fd, F_SETFL, fcntl(u->fd, F_GETFL) | O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(u->fd);
		u->fd = -1;
		return UP_CONNECT;
	}
	u->roff = u->rlen = 0;
	u->flushed = 0;
	snprintf(u->host, sizeof u->host, "%s", url->host);
	snprintf(u->port, sizeof u->port, "%s", url->port);
	u->timeout_ms = timeout_ms;
	u->timed_out = 0;
	u->eof = 0;
	u->broken = 0;
	u->used = 0;
	return UP_OK;
}

int
up_connect(struct upstream *u, const struct url *url, const struct proxy *px,
    const struct trust *ta, int timeout_ms, char *err, size_t errlen)
{
	br_ssl_engine_context *eng = &u->cc.eng;
	br_ssl_session_parameters sp;
	unsigned char old_id[32] = { 0 };
	int rc, resume = 0;

	up_close(u);
	if ((rc = open_socket(u, url, px, timeout_ms, err, errlen)) != UP_OK)
		return rc;
	br_ssl_client_init_full(&u->cc, &u->xc, ta->ta, ta->n);
	u->keyed = 1;
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	set_suites(eng);
	br_ssl_engine_set_buffer(eng, u->iobuf, sizeof u->iobuf, 1);
	br_ssl_engine_set_protocol_names(eng, alpn, 1);
	u->resumed = 0;
	if (tlscache_load(u->cache_dir, u->host, u->port, &sp) == 0) {
		br_ssl_engine_set_session_parameters(eng, &sp);
		memcpy(old_id, sp.session_id, sizeof old_id);
		resume = 1;
	}
	explicit_bzero(&sp, sizeof sp);
	if (!br_ssl_client_reset(&u->cc, url->host, resume)) {
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
	br_ssl_engine_get_session_parameters(eng, &sp);
	u->resumed = resume && memcmp(sp.session_id, old_id,
	    sizeof old_id) == 0;
	if (!u->resumed)
		tlscache_save(u->cache_dir, u->host, u->port, &sp);
	explicit_bzero(&sp, sizeof sp);
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
	if (u->rlen > 0 || wait_fd(u->fd, POLLIN, 0) != 0) {
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
	u->flushed = 1;
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
	if (u->fd != -1 && !u->broken &&
	    !(br_ssl_engine_current_state(&u->cc.eng) & BR_SSL_CLOSED)) {
		/* close_notify: servers drop sessions that end without it
		 * (RFC 5246 7.2.1), which would cost the next process a full
		 * handshake. Do not wait for the server's answer. */
		u->timeout_ms = 100;
		br_ssl_engine_close(&u->cc.eng);
		while (!u->broken && (br_ssl_engine_current_state(&u->cc.eng)
		    & BR_SSL_SENDREC))
			if (send_records(u) == -1)
				break;
	}
	u->rlen = 0;
	u->flushed = 0;
	if (u->fd != -1)
		close(u->fd);
	u->fd = -1;
	/* The engine holds the session's master secret; an upstream never
	 * set up holds nothing, and its buffer's pages stay untouched. */
	if (u->keyed) {
		wipe(&u->cc, sizeof u->cc);
		explicit_bzero(u->iobuf, sizeof u->iobuf);
		u->keyed = 0;
	}
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
