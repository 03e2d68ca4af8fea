/* socks5: the SOCKS5 handshake (RFC 1928) on a hop to the proxy, with the
 * user name and password method (RFC 1929). */
#ifndef SOCKS5_H
#define SOCKS5_H
#include <stddef.h>

#include "network/hop.h"
#include "parsers/proxyurl.h"

/* Authenticate to the proxy as px says, then ask it to CONNECT to addr:
 * an IPv4 address (atyp 1, alen 4), a host name (atyp 3, at most
 * PROXY_SOCKS_MAX bytes) or an IPv6 address (atyp 4, alen 16). target
 * names the destination in messages. 0 with nothing past the reply read,
 * or -1 with the message in c->err; *rep gets the reply code when the
 * proxy sent one and is left alone otherwise. */
int socks5_connect(struct hop *c, const struct proxy *px, unsigned atyp,
    const void *addr, size_t alen, unsigned port, const char *target,
    int *rep);

/* Does reply code rep say this address, not the proxy, failed? Then
 * another address of the same name may still work. */
int socks5_other_address(int rep);

#endif
