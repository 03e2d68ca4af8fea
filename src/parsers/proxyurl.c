/*
 * proxyurl: the proxy-url setting, an HTTP proxy speaking CONNECT (RFC 9110
 * 9.3.6) or a SOCKS5 one (RFC 1928, with the user name and password method
 * of RFC 1929), parsed into a struct proxy. Connecting through it is
 * tunnel.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/proxyurl.h"
#include "support/url.h"

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

static void
seterr(char *err, unsigned errlen, const char *msg)
{
	if (errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

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
	if (p->kind != PROXY_HTTP && (strlen(p->user) > PROXY_SOCKS_MAX ||
	    strlen(p->pass) > PROXY_SOCKS_MAX)) {
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
