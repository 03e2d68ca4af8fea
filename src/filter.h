/* filter: one client connection, HTTP/1.1 on fds in and out, relayed to
 * the upstream over TLS. The heart of the program. */
#ifndef FILTER_H
#define FILTER_H
#include "config.h"
#include "exits.h"

/* Serve requests from in, answer on out, until the client is done. Returns
 * one of the exit codes above. */
int filter_run(const struct config *cfg, int in, int out);

/* What filter_run will need whatever the connection brings, done ahead
 * (by --serve's spare while it waits): the auth-dir files read and kept
 * (store.c re-reads any that change before they are used) and the
 * resolver's configuration loaded. */
void filter_prepare(const struct config *cfg);

#endif
