/* status: the status page. GET / and /status give one self-contained HTML
 * page (accounts, usage per day for 14 days as SVG bar charts, the last
 * errors); GET /status.json gives the same data as JSON. Never a token. */
#ifndef STATUS_H
#define STATUS_H
#include <stddef.h>
#include <sys/socket.h>
#include <time.h>

#include "parsers/config.h"
#include "parsers/http.h"
#include "support/buf.h"

#define STATUS_DAYS 14          /* days charted, today (UTC) the last */
#define STATUS_ERRORS 20        /* errors listed, newest first */

/* Is path one of the status page's: "/", "/status", "/status.json"? */
int status_route(const char *path);

/* The whole response to a GET or HEAD on a status path into out, headers
 * included. fd is the client's socket (or pipe): only loopback peers get
 * an answer (403 otherwise). authorized: the request carried a client key
 * in a header (filter.c's check); when api-keys are set and it did not,
 * ?key=KEY in the query is accepted instead (401 without either). flags
 * as in reply.h (REPLY_HEAD, REPLY_CLOSE). Returns the status sent, or -1
 * (ENOMEM) with nothing in out. */
int status_reply(const struct config *cfg, int fd, const struct http_msg *m,
    int authorized, int flags, struct buf *out);

/* The pieces of the access check, for the unit tests. */

/* Is the address loopback (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104) or a
 * Unix socket's? */
int status_addr_local(const struct sockaddr *sa, socklen_t len);
/* Is fd's peer local: not a socket at all (a pipe: the user ran us), a
 * Unix socket, or a loopback address? 0 when it cannot be told. */
int status_peer_local(int fd);
/* Does a Host header value name this machine's loopback (localhost,
 * 127.x.x.x, [::1], any port)? A page a browser fetched through a
 * rebound DNS name carries that name instead. */
int status_host_local(const char *v, size_t n);
/* Does the query (after '?', not NUL-terminated) hold key=K, percent-
 * decoded, equal to one of cfg's api-keys? Constant time per key. */
int status_query_key(const struct config *cfg, const char *q, size_t n);

/* The data of the page as JSON into out (no HTTP head), as of now. 0 or
 * -1 (ENOMEM). */
int status_json(const struct config *cfg, time_t now, struct buf *out);
/* The page as HTML into out (no HTTP head). 0 or -1. */
int status_html(const struct config *cfg, time_t now, struct buf *out);

/* status_model.c: the page's data as of now, a tree of the accounts
 * (view.c) and usage per day (usage.jsonl). NULL when out of memory. */
struct cJSON;
struct cJSON *status_model(const struct config *cfg, time_t now);

/* status_page.c: the HTML of the model tree status.c gathered (root) into
 * out, which it fills (out empty before). 0 or -1 (ENOMEM). */
int status_render(const struct cJSON *root, const struct config *cfg,
    time_t now, struct buf *out);

#endif
