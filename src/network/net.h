/* net: TCP connect with a deadline, socket options, the monotonic
 * clock. */
#ifndef NET_H
#define NET_H
#include <stddef.h>

/* Connect to host:port, trying each address getaddrinfo gives in turn,
 * within timeout_ms in all. Returns a connected blocking socket with
 * TCP_NODELAY set, or -1 with a message in err. *timed_out is set when the
 * deadline, not a refusal, ended it. */
int net_connect(const char *host, const char *port, int timeout_ms,
    int *timed_out, char *err, unsigned errlen);
/* Set TCP_NODELAY when fd is a TCP socket; quiet otherwise. */
void net_nodelay(int fd);
/* Milliseconds on the monotonic clock. */
long long net_now_ms(void);

#endif
