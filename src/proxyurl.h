/* proxyurl: reaching upstreams through proxy-url (HTTP CONNECT or SOCKS5). */
#ifndef PROXYURL_H
#define PROXYURL_H

enum proxy_kind {
	PROXY_NONE = 0,
	PROXY_HTTP,     /* http://[user:pass@]host:port, CONNECT (RFC 9110 9.3.6) */
	PROXY_SOCKS5,   /* socks5://  names resolved here, sent as addresses */
	PROXY_SOCKS5H   /* socks5h:// names sent to the proxy to resolve */
};

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

/* Connect to host:port, through px when px->kind is not PROXY_NONE, within
 * timeout_ms in all (proxy handshake included). Returns a connected blocking
 * socket with TCP_NODELAY, ready for the TLS handshake with host, or -1 with
 * a message in err; *timed_out says whether the deadline ended it. Errors
 * from the proxy name the proxy ("proxy 10.0.0.1:3128 refused CONNECT to
 * api.anthropic.com:443: 403 Forbidden"), not the provider. */
int proxy_connect(const struct proxy *px, const char *host, const char *port,
    int timeout_ms, int *timed_out, char *err, unsigned errlen);

#endif
