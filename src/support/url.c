/*
 * url: parse the https:// base URLs of upstreams and token endpoints.
 *
 * Only what a base URL needs is accepted: a host (name, IPv4 or bracketed
 * IPv6 literal), an optional port and an optional path prefix. Userinfo,
 * queries and fragments are refused rather than ignored, since a request
 * path is appended to the prefix and anything after '?' or '#' would end
 * up in the wrong place.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "support/buf.h"
#include "support/url.h"

#define SCHEME "https://"

static void
seterr(char *err, unsigned errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

int
url_valid_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return 0;
	}
	return 1;
}

int
url_valid_v6(const char *s, size_t n)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;

	if (n == 0 || n >= sizeof tmp)
		return 0;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, &a) == 1;
}

unsigned
url_port_value(const char *s, size_t n)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || n > 5)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	return v <= 65535 ? (unsigned)v : 0;
}

/* The path goes into a request line, so no spaces or control bytes. */
static int
valid_path(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f)
			return 0;
	}
	return 1;
}

int
url_parse(const char *s, struct url *u, char *err, unsigned errlen)
{
	const char *auth, *end, *host, *port = NULL, *p;
	size_t hostlen, portlen = 0, pathlen;
	int v6 = 0;
	const char *why = "out of memory";

	memset(u, 0, sizeof *u);
	if (strncasecmp(s, SCHEME, strlen(SCHEME)) != 0) {
		why = "must start with https://";
		goto fail;
	}
	auth = s + strlen(SCHEME);
	if (strpbrk(auth, "?#") != NULL) {
		why = "must not have a query or fragment";
		goto fail;
	}
	end = auth + strcspn(auth, "/");
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
		why = "must not have a user name or password";
		goto fail;
	}

	/* Host: "[v6]" or everything up to ':' or the end of the authority. */
	if (*auth == '[') {
		host = auth + 1;
		p = memchr(host, ']', (size_t)(end - host));
		if (p == NULL || !url_valid_v6(host, (size_t)(p - host))) {
			why = "has a bad IPv6 address";
			goto fail;
		}
		hostlen = (size_t)(p - host);
		p++;
		v6 = 1;
	} else {
		host = auth;
		p = memchr(auth, ':', (size_t)(end - auth));
		if (p == NULL)
			p = end;
		hostlen = (size_t)(p - host);
		if (!url_valid_name(host, hostlen)) {
			why = hostlen ? "has a bad host name" : "has no host";
			goto fail;
		}
	}

	/* p is now at ':port' or the end of the authority. */
	if (p < end && *p != ':') {
		why = "has a bad host";
		goto fail;
	}
	if (p < end) {
		if (!url_port_value(p + 1, (size_t)(end - p - 1))) {
			why = "port must be a number from 1 to 65535";
			goto fail;
		}
		port = p + 1;
		portlen = (size_t)(end - port);
	}

	/* Trailing slashes go so that prefix + "/v1/..." has exactly one. */
	pathlen = strlen(end);
	while (pathlen > 0 && end[pathlen - 1] == '/')
		pathlen--;
	if (!valid_path(end, pathlen)) {
		why = "path must not contain spaces or control characters";
		goto fail;
	}

	if ((u->host = strndup(host, hostlen)) == NULL)
		goto fail;
	if ((u->port = port ? strndup(port, portlen) : strdup("443")) == NULL)
		goto fail;
	if ((u->path = strndup(end, pathlen)) == NULL)
		goto fail;
	/* Host header: as written, so the default port stays implicit. */
	if (asprintf(&u->hostport, "%s%s%s%s%s", v6 ? "[" : "", u->host,
	    v6 ? "]" : "", port ? ":" : "", port ? u->port : "") == -1) {
		u->hostport = NULL;
		goto fail;
	}
	return 0;

fail:
	url_free(u);
	seterr(err, errlen, why);
	return -1;
}

void
url_free(struct url *u)
{
	free(u->host);
	free(u->port);
	free(u->path);
	free(u->hostport);
	u->host = u->port = u->path = u->hostport = NULL;
}

int
url_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
url_pct_decode(const char *s, size_t n, int form, int *bad)
{
	char *out, *o;
	size_t i;

	*bad = 0;
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0, o = out; i < n; i++) {
		int hi, lo;

		if (form && s[i] == '+') {
			*o++ = ' ';
			continue;
		}
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		/* A bad escape or %00 is refused, not guessed at. */
		if (i + 2 >= n ||
		    (hi = url_hexval((unsigned char)s[i + 1])) < 0 ||
		    (lo = url_hexval((unsigned char)s[i + 2])) < 0 ||
		    (hi == 0 && lo == 0))
			goto bad;
		*o++ = (char)(hi << 4 | lo);
		i += 2;
	}
	*o = '\0';
	return out;
bad:
	/* Part of a secret may already be in out. */
	explicit_bzero(out, n + 1);
	free(out);
	*bad = 1;
	return NULL;
}

int
url_pct_encode(struct buf *b, const char *v, int form)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		char e[3] = { '%', hex[c >> 4], hex[c & 15] };

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c)) {
			if (buf_add(b, v, 1) == -1)
				return -1;
		} else if (form && c == ' ') {
			if (buf_add(b, "+", 1) == -1)
				return -1;
		} else if (buf_add(b, e, 3) == -1)
			return -1;
	}
	return 0;
}
