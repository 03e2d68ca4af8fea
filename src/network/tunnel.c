/*
 * tunnel: reaching upstreams through proxy-url, an HTTP proxy speaking
 * CONNECT (RFC 9110 9.3.6) or a SOCKS5 one (socks5.c). Each handshake runs
 * on a hop (hop.c), so one deadline bounds it all. Nothing past the
 * proxy's answer is consumed: the TLS handshake with the upstream follows
 * on the same socket.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "network/hop.h"
#include "network/net.h"
#include "network/socks5.h"
#include "network/tunnel.h"
#include "parsers/proxyurl.h"
#include "support/buf.h"
#include "support/url.h"

#define HEAD_MAX	16384	/* a CONNECT answer is a few lines */

/* "host:port", bracketing IPv6 literals, as CONNECT and messages want. */
static void
hostport(char *out, size_t len, const char *host, const char *port)
{
	int v6 = strchr(host, ':') != NULL;

	snprintf(out, len, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "",
	    port);
}

/* ---------------------------------------------------------------- HTTP */

static int
add_base64(struct buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];
	size_t i;

	for (i = 0; i < n; i += 3) {
		unsigned long v = (unsigned long)s[i] << 16;

		if (i + 1 < n)
			v |= (unsigned long)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		if (buf_add(b, q, 4) == -1)
			return -1;
	}
	explicit_bzero(q, sizeof q);
	return 0;
}

/* The CONNECT request; b ends up holding the credentials, so the caller
 * wipes it. */
static int
connect_request(struct buf *b, const struct proxy *px, const char *target)
{
	struct buf cred = BUF_SECRET;
	int r = -1;

	if (buf_addf(b, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", target,
	    target) == -1)
		return -1;
	if (px->user != NULL) {
		if (buf_addf(&cred, "%s:%s", px->user, px->pass ? px->pass :
		    "") == -1 ||
		    buf_adds(b, "Proxy-Authorization: Basic ") == -1 ||
		    add_base64(b, (const unsigned char *)cred.p, cred.len) ==
		    -1 || buf_adds(b, "\r\n") == -1)
			goto out;
	}
	r = buf_adds(b, "\r\n");
out:
	buf_free(&cred);
	return r;
}

/* Offset just past the blank line ending the head in h[0..n), looking
 * from 'from' on, or 0. A bare LF ends a line too (RFC 9112 2.2). */
static size_t
head_end(const char *h, size_t from, size_t n)
{
	size_t i;

	for (i = from; i < n; i++) {
		if (h[i] != '\n')
			continue;
		if (i >= 1 && h[i - 1] == '\n')
			return i + 1;
		if (i >= 2 && h[i - 1] == '\r' && h[i - 2] == '\n')
			return i + 1;
	}
	return 0;
}

/* Read the answer head without consuming a byte past it: peek at what
 * has come, then take only up to the blank line. h gets the head, NUL
 * terminated. */
static int
read_head(struct hop *c, char *h, size_t cap)
{
	size_t n = 0, end = 0;
	ssize_t r;

	while (end == 0) {
		size_t from = n > 2 ? n - 2 : 0, take;

		if (n + 1 >= cap) {
			snprintf(c->err, c->errlen, "proxy %s sent an answer "
			    "head over %zu bytes", c->name, cap - 1);
			return -1;
		}
		if ((r = hop_recv(c, h + n, cap - 1 - n, MSG_PEEK,
		    "the CONNECT answer")) == -1)
			return -1;
		end = head_end(h, from, n + (size_t)r);
		take = end ? end - n : (size_t)r;
		/* Peeked bytes are queued, so this returns them at once. */
		if ((r = hop_recv(c, h + n, take, 0, "the CONNECT answer"))
		    == -1)
			return -1;
		n += (size_t)r;
		if ((size_t)r < take)
			end = head_end(h, from, n);
	}
	h[n] = '\0';
	return 0;
}

/* The status line minus "HTTP/1.x ", printable and short, for messages. */
static void
status_text(char *out, size_t len, const char *h)
{
	const char *s = strchr(h, ' ');
	size_t i = 0;

	s = s ? s + 1 : h;
	for (; *s != '\0' && *s != '\r' && *s != '\n' && i + 1 < len &&
	    i < 120; s++)
		out[i++] = isprint((unsigned char)*s) ? *s : '?';
	out[i] = '\0';
}

static int
http_connect(struct hop *c, const struct proxy *px, const char *host,
    const char *port)
{
	struct buf req = BUF_SECRET;
	char target[300], text[128], *h = NULL;
	int ok = 0;

	hostport(target, sizeof target, host, port);
	if (connect_request(&req, px, target) == -1) {
		snprintf(c->err, c->errlen, "out of memory");
		goto fail;
	}
	if (hop_send(c, req.p, req.len, "the CONNECT request") == -1)
		goto fail;
	if ((h = malloc(HEAD_MAX + 1)) == NULL) {
		snprintf(c->err, c->errlen, "out of memory");
		goto fail;
	}
	if (read_head(c, h, HEAD_MAX + 1) == -1)
		goto fail;
	if (strncmp(h, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)h[7]) ||
	    h[8] != ' ' || !isdigit((unsigned char)h[9]) ||
	    !isdigit((unsigned char)h[10]) || !isdigit((unsigned char)h[11])) {
		snprintf(c->err, c->errlen, "proxy %s gave no HTTP answer to "
		    "CONNECT", c->name);
		goto fail;
	}
	/* Any 2xx is the tunnel; headers such as Content-Length on it
	 * are to be ignored (RFC 9110 9.3.6). */
	if (h[9] != '2') {
		status_text(text, sizeof text, h);
		snprintf(c->err, c->errlen, "proxy %s refused CONNECT to %s: "
		    "%s", c->name, target, text);
		goto fail;
	}
	ok = 1;
fail:
	buf_free(&req);
	free(h);
	return ok ? 0 : -1;
}

/* ---------------------------------------------------------------- connect */

/* One connection to the proxy and one handshake for the given address
 * (atyp 0: HTTP CONNECT to host). 0 with c->fd open, or -1 with it closed;
 * *rep as socks5_connect. */
static int
attempt(struct hop *c, const struct proxy *px, const char *host,
    const char *port, unsigned atyp, const void *addr, size_t alen, int *rep)
{
	char why[256], target[300];
	long long left = c->deadline - net_now_ms();
	int to = 0;

	*rep = -1;
	if (left <= 0) {
		c->timed_out = 1;
		snprintf(c->err, c->errlen, "proxy %s: timed out", c->name);
		return -1;
	}
	c->fd = net_connect(px->host, px->port, (int)left, &to, why,
	    sizeof why);
	if (c->fd == -1) {
		c->timed_out = to;
		snprintf(c->err, c->errlen, "proxy %s: %s", c->name, why);
		return -1;
	}
	hostport(target, sizeof target, host, port);
	if (atyp == 0) {
		if (http_connect(c, px, host, port) == -1)
			goto fail;
	} else if (socks5_connect(c, px, atyp, addr, alen,
	    (unsigned)atoi(port), target, rep) == -1)
		goto fail;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	return -1;
}

/* socks5://: resolve here and try each address in turn, as net_connect
 * does, since "localhost" may give ::1 first while the server listens on
 * 127.0.0.1 only. Only replies about the address move on to the next. */
static int
socks_resolved(struct hop *c, const struct proxy *px, const char *host,
    const char *port)
{
	struct addrinfo hints, *res = NULL, *ai;
	int r, rep;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(c->err, c->errlen, "cannot resolve %s (for proxy %s): "
		    "%s", host, c->name, r == EAI_SYSTEM ? strerror(errno) :
		    gai_strerror(r));
		return -1;
	}
	r = -1;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			r = attempt(c, px, host, port, 1,
			    &((struct sockaddr_in *)(void *)ai->ai_addr)->
			    sin_addr, 4, &rep);
		else if (ai->ai_family == AF_INET6)
			r = attempt(c, px, host, port, 4,
			    &((struct sockaddr_in6 *)(void *)ai->ai_addr)->
			    sin6_addr, 16, &rep);
		else
			continue;
		if (r == 0 || !socks5_other_address(rep))
			break;
	}
	freeaddrinfo(res);
	if (r == -1 && c->err[0] == '\0')
		snprintf(c->err, c->errlen, "cannot resolve %s: no address",
		    host);
	return r;
}

int
proxy_connect(const struct proxy *px, const char *host, const char *port,
    int timeout_ms, int *timed_out, char *err, unsigned errlen)
{
	struct hop c;
	unsigned char a[16];
	int rep, r;

	if (px == NULL || px->kind == PROXY_NONE)
		return net_connect(host, port, timeout_ms, timed_out, err,
		    errlen);
	memset(&c, 0, sizeof c);
	c.fd = -1;
	c.deadline = net_now_ms() + timeout_ms;
	c.err = err;
	c.errlen = errlen;
	if (errlen > 0)
		err[0] = '\0';
	hostport(c.name, sizeof c.name, px->host, px->port);

	/* The target goes into a request line or a length-prefixed field:
	 * refuse what would break either. */
	if (host[strcspn(host, " \t\r\n")] != '\0' ||
	    strlen(host) > PROXY_SOCKS_MAX ||
	    url_port_value(port, strlen(port)) == 0) {
		snprintf(err, errlen, "cannot reach %s port %s through proxy "
		    "%s: bad host or port", host, port, c.name);
		*timed_out = 0;
		return -1;
	}

	if (px->kind == PROXY_HTTP)
		r = attempt(&c, px, host, port, 0, NULL, 0, &rep);
	else if (inet_pton(AF_INET, host, a) == 1)
		r = attempt(&c, px, host, port, 1, a, 4, &rep);
	else if (inet_pton(AF_INET6, host, a) == 1)
		r = attempt(&c, px, host, port, 4, a, 16, &rep);
	else if (px->kind == PROXY_SOCKS5H)
		r = attempt(&c, px, host, port, 3, host, strlen(host), &rep);
	else
		r = socks_resolved(&c, px, host, port);
	*timed_out = r == -1 && c.timed_out;
	return r == 0 ? c.fd : -1;
}
