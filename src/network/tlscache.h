/* tlscache: TLS sessions kept across processes, a file in auth-dir for
 * each upstream host and port. */
#ifndef TLSCACHE_H
#define TLSCACHE_H
#include <bearssl.h>

/* The session saved for host:port in dir, when there is one under 12
 * hours old, into *p. 0, or -1 when dir is NULL or there is none to use.
 * *p holds a master secret: the caller wipes it. */
int tlscache_load(const char *dir, const char *host, const char *port,
    br_ssl_session_parameters *p);

/* Keep p as the session for host:port in dir, replacing the one there.
 * Best effort: nothing when dir is NULL or p has no session ID, and a
 * failure to write is only logged (debug). */
void tlscache_save(const char *dir, const char *host, const char *port,
    const br_ssl_session_parameters *p);

#endif
