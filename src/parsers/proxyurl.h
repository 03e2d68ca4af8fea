/* proxyurl: the proxy-url setting (HTTP CONNECT or SOCKS5), parsed. */
#ifndef PROXYURL_H
#define PROXYURL_H

enum proxy_kind {
	PROXY_NONE = 0,
	PROXY_HTTP,     /* http://[user:pass@]host:port, CONNECT (RFC 9110 9.3.6) */
	PROXY_SOCKS5,   /* socks5://  names resolved here, sent as addresses */
	PROXY_SOCKS5H   /* socks5h:// names sent to the proxy to resolve */
};

/* SOCKS5's one-byte lengths (RFC 1928, 1929): proxy_parse refuses longer
 * user names and passwords, proxy_connect longer host names. */
#define PROXY_SOCKS_MAX 255

struct proxy {
	enum proxy_kind kind;
	char *host;
	char *port;
	char *user;     /* NULL when none; secret-ish: never logged */
	char *pass;
};

/* Parse a proxy-url. "" gives PROXY_NONE. 0, or -1 with a reason in err that
 * never quotes the password. Percent-escapes in user and password are
 * decoded. Default ports: 80 for http, 1080 for socks5. */
int proxy_parse(const char *s, struct proxy *p, char *err, unsigned errlen);
void proxy_free(struct proxy *p);

#endif
