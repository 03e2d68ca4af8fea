/* tunnel: reaching upstreams through proxy-url (HTTP CONNECT or SOCKS5). */
#ifndef TUNNEL_H
#define TUNNEL_H

#include "parsers/proxyurl.h"

/* Connect to host:port, through px when px->kind is not PROXY_NONE, within
 * timeout_ms in all (proxy handshake included). Returns a connected blocking
 * socket with TCP_NODELAY, ready for the TLS handshake with host, or -1 with
 * a message in err; *timed_out says whether the deadline ended it. Errors
 * from the proxy name the proxy ("proxy 10.0.0.1:3128 refused CONNECT to
 * api.anthropic.com:443: 403 Forbidden"), not the provider. */
int proxy_connect(const struct proxy *px, const char *host, const char *port,
    int timeout_ms, int *timed_out, char *err, unsigned errlen);

#endif
