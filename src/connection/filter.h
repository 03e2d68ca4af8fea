/* filter: one client connection, HTTP/1.1 on fds in and out, relayed to
 * the upstream over TLS. The heart of the program. */
#ifndef FILTER_H
#define FILTER_H
#include "parsers/config.h"
#include "support/exits.h"

/* Serve requests from in, answer on out, until the client is done. Returns
 * one of the exit codes of exits.h. */
int filter_run(const struct config *cfg, int in, int out);

#endif
