/* serve: --serve, listen and fork one filter per connection. */
#ifndef SERVE_H
#define SERVE_H
#include "parsers/config.h"

/* Listen on cfg's host and port (or on sockets passed by systemd with
 * LISTEN_FDS) and run filter_run in a child per connection. Returns an exit
 * code only when it cannot listen. */
int serve_run(const struct config *cfg);

#endif
