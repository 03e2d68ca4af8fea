/*
 * proxyurl: reaching upstreams through proxy-url, an HTTP proxy speaking
 * CONNECT (RFC 9110 9.3.6) or a SOCKS5 one (RFC 1928, with the user name
 * and password method of RFC 1929).
 *
 * The handshake runs on the blocking socket net_connect gives, but every
 * read and write is preceded by a poll() on what is left of one overall
 * deadline and done with MSG_DONTWAIT, so a proxy that stalls mid-way turns
 * into a timeout rather than a hang. Nothing past the proxy's answer is
 * consumed: the TLS handshake with the upstream follows on the same socket.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "net.h"
#include "proxyurl.h"
#include "url.h"

#define HEAD_MAX	16384	/* a CONNECT answer is a few lines */
#define SOCKS_MAX	255	/* RFC 1928/1929 one-byte lengths */

/* SOCKS5 reply codes (RFC 1928 section 6) we may retry on another
 * address of the same name: they say this address, not the proxy, failed. */
#define REP_NET_UNREACH		3
#define REP_HOST_UNREACH	4
#define REP_REFUSED		5

struct scheme {
	const char *name;
	enum proxy_kind kind;
	const char *port;
};

static const struct scheme schemes[] = {
	{ "http", PROXY_HTTP, "80" },
	{ "socks5", PROXY_SOCKS5, "1080" },
	{ "socks5h", PROXY_SOCKS5H, "1080" },
};

/* One handshake in progress: the socket, the deadline and how to name the
 * proxy in messages. */
struct hop {
	int fd;
	long long deadline;
	int timed_out;
	char name[300];	/* "host:port" or "[v6]:port" */
	char *err;
	unsigned errlen;
};

static void
seterr(char *err, unsigned errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ---------------------------------------------------------------- parse */

/* The user[:pass] part of the authority. Messages never quote either. */
static int
parse_userinfo(const char *s, size_t n, struct proxy *p, const char **why)
{
	const char *colon = memchr(s, ':', n);
	size_t ulen = colon ? (size_t)(colon - s) : n;
	int bad;

	if (ulen == 0) {
		*why = "has an empty user name";
		return -1;
	}
	if ((p->user = url_pct_decode(s, ulen, 0, &bad)) == NULL) {
		*why = bad ? "has a bad %-escape in the user name" :
		    "out of memory";
		return -1;
	}
	if (colon)
		p->pass = url_pct_decode(colon + 1, n - ulen - 1, 0, &bad);
	else
		p->pass = strdup("");
	if (p->pass == NULL) {
		*why = bad ? "has a bad %-escape in the password" :
		    "out of memory";
		return -1;
	}
	/* Basic credentials are "user:pass", so the user has no ':'. */
	if (p->kind == PROXY_HTTP && strchr(p->user, ':') != NULL) {
		*why = "user name must not contain ':'";
		return -1;
	}
	if (p->kind != PROXY_HTTP && (strlen(p->user) > SOCKS_MAX ||
	    strlen(p->pass) > SOCKS_MAX)) {
		*why = "SOCKS5 user name and password are at most 255 bytes";
		return -1;
	}
	return 0;
}

/* host[:port] or [v6][:port]. */
static int
parse_hostport(const char *s, const char *end, const char *defport,
    struct proxy *p, const char **why)
{
	const char *host, *q;
	size_t hostlen;

	if (*s == '[') {
		host = s + 1;
		q = memchr(host, ']', (size_t)(end - host));
		if (q == NULL || !url_valid_v6(host, (size_t)(q - host))) {
			*why = "has a bad IPv6 address";
			return -1;
		}
		hostlen = (size_t)(q - host);
		q++;
	} else {
		host = s;
		if ((q = memchr(s, ':', (size_t)(end - s))) == NULL)
			q = end;
		hostlen = (size_t)(q - host);
		if (!url_valid_name(host, hostlen)) {
			*why = hostlen ? "has a bad host name" : "has no host";
			return -1;
		}
	}
	if (q < end && *q != ':') {
		*why = "has a bad host";
		return -1;
	}
	if (q < end && url_port_value(q + 1, (size_t)(end - q - 1)) == 0) {
		*why = "port must be a number from 1 to 65535";
		return -1;
	}
	if ((p->host = strndup(host, hostlen)) == NULL ||
	    (p->port = q < end ? strndup(q + 1, (size_t)(end - q - 1)) :
	    strdup(defport)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

int
proxy_parse(const char *s, struct proxy *p, char *err, unsigned errlen)
{
	const struct scheme *sc = NULL;
	const char *sep, *auth, *end, *at = NULL, *q;
	const char *why = "out of memory";
	size_t i, slen;

	memset(p, 0, sizeof *p);
	if (*s == '\0')
		return 0;
	if ((sep = strstr(s, "://")) == NULL) {
		why = "must look like http://host:port or "
		    "socks5://host:port";
		goto fail;
	}
	slen = (size_t)(sep - s);
	for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
		if (strlen(schemes[i].name) == slen &&
		    strncasecmp(s, schemes[i].name, slen) == 0)
			sc = &schemes[i];
	if (sc == NULL) {
		/* An https proxy would need TLS inside TLS; say so rather
		 * than "bad scheme", which reads like a typo. */
		if (slen == 5 && strncasecmp(s, "https", 5) == 0)
			why = "https:// proxies are not supported: use http:// "
			    "(the upstream's TLS runs end to end through "
			    "CONNECT anyway), socks5:// or socks5h://";
		else
			why = "scheme must be http://, socks5:// or socks5h://";
		goto fail;
	}
	p->kind = sc->kind;

	/* The authority ends at the first '/'; the last '@' before it ends
	 * the userinfo, so an unescaped '@' in a password still works. */
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	if (*end != '\0' && strcmp(end, "/") != 0) {
		why = "must not have a path, query or fragment";
		goto fail;
	}
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at != NULL) {
		if (parse_userinfo(auth, (size_t)(at - auth), p, &why) == -1)
			goto fail;
		auth = at + 1;
	}
	if (parse_hostport(auth, end, sc->port, p, &why) == -1)
		goto fail;
	return 0;

fail:
	proxy_free(p);
	seterr(err, errlen, why);
	return -1;
}

static void
wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void
proxy_free(struct proxy *p)
{
	wipe_free(p->user);
	wipe_free(p->pass);
	free(p->host);
	free(p->port);
	memset(p, 0, sizeof *p);
}

/* ---------------------------------------------------------------- I/O */

/* Wait for events on c->fd until the deadline. 0 ready, -1 with the
 * message set (timed out or failed). */
static int
await(struct hop *c, short events, const char *what)
{
	struct pollfd pfd = { c->fd, events, 0 };
	int r;

	for (;;) {
		long long left = c->deadline - net_now_ms();

		if (left <= 0)
			break;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR) {
			snprintf(c->err, c->errlen, "proxy %s: poll: %s",
			    c->name, strerror(errno));
			return -1;
		}
	}
	c->timed_out = 1;
	snprintf(c->err, c->errlen, "proxy %s timed out during %s", c->name,
	    what);
	return -1;
}

static int
send_all(struct hop *c, const void *p, size_t n, const char *what)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		if (await(c, POLLOUT, what) == -1)
			return -1;
		r = send(c->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			snprintf(c->err, c->errlen, "proxy %s: send during "
			    "%s: %s", c->name, what, strerror(errno));
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Up to n bytes (flags may hold MSG_PEEK). The count, or -1 with the
 * message set; an early close is an error here. */
static ssize_t
recv_some(struct hop *c, void *p, size_t n, int flags, const char *what)
{
	ssize_t r;

	for (;;) {
		if (await(c, POLLIN, what) == -1)
			return -1;
		r = recv(c->fd, p, n, flags | MSG_DONTWAIT);
		if (r > 0)
			return r;
		if (r == 0) {
			snprintf(c->err, c->errlen, "proxy %s closed the "
			    "connection during %s", c->name, what);
			return -1;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(c->err, c->errlen, "proxy %s: recv during "
			    "%s: %s", c->name, what, strerror(errno));
			return -1;
		}
	}
}

static int
recv_exact(struct hop *c, void *p, size_t n, const char *what)
{
	unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		if ((r = recv_some(c, b, n, 0, what)) == -1)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

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
		if ((r = recv_some(c, h + n, cap - 1 - n, MSG_PEEK,
		    "the CONNECT answer")) == -1)
			return -1;
		end = head_end(h, from, n + (size_t)r);
		take = end ? end - n : (size_t)r;
		/* Peeked bytes are queued, so this returns them at once. */
		if ((r = recv_some(c, h + n, take, 0, "the CONNECT answer"))
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
	if (send_all(c, req.p, req.len, "the CONNECT request") == -1)
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

/* ---------------------------------------------------------------- SOCKS5 */

static const char *
socks_reply_text(unsigned rep)
{
	static const char *const text[] = {
		"succeeded",
		"general SOCKS server failure",
		"connection not allowed by ruleset",
		"network unreachable",
		"host unreachable",
		"connection refused",
		"TTL expired",
		"command not supported",
		"address type not supported",
	};

	return rep < sizeof text / sizeof text[0] ? text[rep] :
	    "unknown reply code";
}

/* Method negotiation, then RFC 1929 when the proxy picks it. */
static int
socks_auth(struct hop *c, const struct proxy *px)
{
	unsigned char m[SOCKS_MAX * 2 + 3], r[2];
	size_t ulen, plen;
	int rc;

	/* Offer user/password only when we have one: a proxy must not pick
	 * a method we did not list. */
	m[0] = 5;
	m[1] = px->user ? 2 : 1;
	m[2] = 0x00;
	m[3] = 0x02;
	if (send_all(c, m, px->user ? 4 : 3, "the SOCKS5 greeting") == -1 ||
	    recv_exact(c, r, 2, "the SOCKS5 greeting") == -1)
		return -1;
	if (r[0] != 5) {
		snprintf(c->err, c->errlen, "proxy %s is not a SOCKS5 proxy "
		    "(greeting answer version %u)", c->name, r[0]);
		return -1;
	}
	if (r[1] == 0x00)
		return 0;
	if (r[1] == 0xff) {
		snprintf(c->err, c->errlen, "proxy %s accepts none of our "
		    "authentication methods (%s)", c->name, px->user ?
		    "no authentication, user name and password" :
		    "no authentication; does it need a user name and "
		    "password?");
		return -1;
	}
	if (r[1] != 0x02 || px->user == NULL) {
		snprintf(c->err, c->errlen, "proxy %s chose authentication "
		    "method %u, which was not offered", c->name, r[1]);
		return -1;
	}

	/* proxy_parse kept both at most 255 bytes. */
	ulen = strlen(px->user);
	plen = px->pass ? strlen(px->pass) : 0;
	m[0] = 1;
	m[1] = (unsigned char)ulen;
	memcpy(m + 2, px->user, ulen);
	m[2 + ulen] = (unsigned char)plen;
	memcpy(m + 3 + ulen, px->pass ? px->pass : "", plen);
	rc = send_all(c, m, 3 + ulen + plen, "SOCKS5 authentication");
	explicit_bzero(m, sizeof m);
	if (rc == -1 || recv_exact(c, r, 2, "SOCKS5 authentication") == -1)
		return -1;
	if (r[1] != 0) {
		snprintf(c->err, c->errlen, "proxy %s refused the user name "
		    "and password (RFC 1929 status %u)", c->name, r[1]);
		return -1;
	}
	return 0;
}

/* Read the rest of a successful reply: BND.ADDR and BND.PORT, whose size
 * depends on the address type. Left unread they would reach BearSSL. */
static int
socks_bound(struct hop *c, unsigned atyp)
{
	unsigned char b[SOCKS_MAX + 2];
	size_t n;

	switch (atyp) {
	case 1:
		n = 4;
		break;
	case 4:
		n = 16;
		break;
	case 3:
		if (recv_exact(c, b, 1, "the SOCKS5 reply") == -1)
			return -1;
		n = b[0];
		break;
	default:
		snprintf(c->err, c->errlen, "proxy %s sent a SOCKS5 reply with "
		    "address type %u", c->name, atyp);
		return -1;
	}
	return recv_exact(c, b, n + 2, "the SOCKS5 reply");
}

/* The CONNECT request for addr (atyp 1, 3 or 4) and its reply. 0, or -1;
 * *rep gets the reply code when the proxy sent one. */
static int
socks_request(struct hop *c, unsigned atyp, const void *addr, size_t alen,
    unsigned port, const char *target, int *rep)
{
	unsigned char m[4 + 1 + SOCKS_MAX + 2];
	size_t n = 0;

	m[n++] = 5;
	m[n++] = 1;	/* CONNECT */
	m[n++] = 0;
	m[n++] = (unsigned char)atyp;
	if (atyp == 3)
		m[n++] = (unsigned char)alen;
	memcpy(m + n, addr, alen);
	n += alen;
	m[n++] = (unsigned char)(port >> 8);
	m[n++] = (unsigned char)(port & 0xff);
	if (send_all(c, m, n, "the SOCKS5 request") == -1 ||
	    recv_exact(c, m, 4, "the SOCKS5 reply") == -1)
		return -1;
	if (m[0] != 5) {
		snprintf(c->err, c->errlen, "proxy %s sent a SOCKS5 reply with "
		    "version %u", c->name, m[0]);
		return -1;
	}
	*rep = m[1];
	if (m[1] != 0) {
		snprintf(c->err, c->errlen, "proxy %s refused CONNECT to %s: "
		    "%s (SOCKS5 reply %u)", c->name, target,
		    socks_reply_text(m[1]), m[1]);
		return -1;
	}
	return socks_bound(c, m[3]);
}

/* ---------------------------------------------------------------- connect */

/* One connection to the proxy and one handshake for the given address
 * (atyp 0: HTTP CONNECT to host). 0 with c->fd open, or -1 with it closed;
 * *rep as socks_request. */
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
	} else if (socks_auth(c, px) == -1 || socks_request(c, atyp, addr,
	    alen, (unsigned)atoi(port), target, rep) == -1)
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
		if (r == 0 || (rep != REP_NET_UNREACH &&
		    rep != REP_HOST_UNREACH && rep != REP_REFUSED))
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
	    strlen(host) > SOCKS_MAX || url_port_value(port, strlen(port)) == 0) {
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
