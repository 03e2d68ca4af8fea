/*
 * socks5: a SOCKS5 handshake (RFC 1928) on a hop to the proxy, with the
 * user name and password method of RFC 1929 when proxy-url has them.
 */
#include <stdio.h>
#include <string.h>

#include "network/hop.h"
#include "network/socks5.h"
#include "parsers/proxyurl.h"

/* SOCKS5 reply codes (RFC 1928 section 6) we may retry on another
 * address of the same name: they say this address, not the proxy, failed. */
#define REP_NET_UNREACH		3
#define REP_HOST_UNREACH	4
#define REP_REFUSED		5

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
	unsigned char m[PROXY_SOCKS_MAX * 2 + 3], r[2];
	size_t ulen, plen;
	int rc;

	/* Offer user/password only when we have one: a proxy must not pick
	 * a method we did not list. */
	m[0] = 5;
	m[1] = px->user ? 2 : 1;
	m[2] = 0x00;
	m[3] = 0x02;
	if (hop_send(c, m, px->user ? 4 : 3, "the SOCKS5 greeting") == -1 ||
	    hop_recv_exact(c, r, 2, "the SOCKS5 greeting") == -1)
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
	rc = hop_send(c, m, 3 + ulen + plen, "SOCKS5 authentication");
	explicit_bzero(m, sizeof m);
	if (rc == -1 || hop_recv_exact(c, r, 2, "SOCKS5 authentication") == -1)
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
	unsigned char b[PROXY_SOCKS_MAX + 2];
	size_t n;

	switch (atyp) {
	case 1:
		n = 4;
		break;
	case 4:
		n = 16;
		break;
	case 3:
		if (hop_recv_exact(c, b, 1, "the SOCKS5 reply") == -1)
			return -1;
		n = b[0];
		break;
	default:
		snprintf(c->err, c->errlen, "proxy %s sent a SOCKS5 reply with "
		    "address type %u", c->name, atyp);
		return -1;
	}
	return hop_recv_exact(c, b, n + 2, "the SOCKS5 reply");
}

/* The CONNECT request for addr (atyp 1, 3 or 4) and its reply. 0, or -1;
 * *rep gets the reply code when the proxy sent one. */
static int
socks_request(struct hop *c, unsigned atyp, const void *addr, size_t alen,
    unsigned port, const char *target, int *rep)
{
	unsigned char m[4 + 1 + PROXY_SOCKS_MAX + 2];
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
	if (hop_send(c, m, n, "the SOCKS5 request") == -1 ||
	    hop_recv_exact(c, m, 4, "the SOCKS5 reply") == -1)
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

int
socks5_connect(struct hop *c, const struct proxy *px, unsigned atyp,
    const void *addr, size_t alen, unsigned port, const char *target,
    int *rep)
{
	if (socks_auth(c, px) == -1)
		return -1;
	return socks_request(c, atyp, addr, alen, port, target, rep);
}

int
socks5_other_address(int rep)
{
	return rep == REP_NET_UNREACH || rep == REP_HOST_UNREACH ||
	    rep == REP_REFUSED;
}
