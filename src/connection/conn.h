/* conn: what the connection's modules (filter.c, conn.c, local.c,
 * forward.c, upstream.c, relay.c) share about one client connection and
 * the request in hand. Private to them. */
#ifndef CONN_H
#define CONN_H
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "accounts/usage.h"
#include "network/tls.h"
#include "network/trust.h"
#include "parsers/config.h"
#include "parsers/http.h"
#include "support/buf.h"

#define READ_CHUNK (16 * 1024)
#define RESP_HEAD_MAX (64 * 1024)

struct conn {
	const struct config *cfg;
	int in, out;
	int out_sock;           /* out is a socket: shutdown() at the end */
	int in_sock;            /* in is a socket: reads may be tried first */
	struct buf in_buf;      /* client bytes read, not yet consumed */
	int in_eof;
	long long first_by;     /* ms: the first head is due by then; 0 once
	                         * it came (idle-timeout from there on) */
	int exit;               /* exit code once the connection ends */
	struct trust ta;
	int ta_loaded;
	char session_id[40];    /* Codex session_id when the client gave none */
	struct upstream *up;
	unsigned char rbuf[RESP_HEAD_MAX + READ_CHUNK];
};

/* What one request carries through its handling. */
struct req {
	struct http_msg msg;
	char *head;             /* own copy: in_buf moves under it */
	char path[1024];        /* target without the query, for routes and logs */
	struct buf body;
	int close;              /* close the client connection after it */
	int openai;             /* errors in OpenAI's shape, not Anthropic's */
	int status;             /* for the log line */
	unsigned long long bytes;
	long long t0;
	char who[256];          /* account email, for the log line */
	const char *via;        /* "subscription" or "api-key": who served */
	const char *client;     /* Claude: "claude-code" or "third-party" */
	char model[200];        /* the request's model, for the log line
	                         * ("ALIAS=>MODEL" when an alias served) */
	struct usage_scan *scan; /* usage-statistics: fed the decoded body */
};

/* The upstream routes. */
enum route {
	ROUTE_CLAUDE,           /* Anthropic Messages, relayed as is */
	ROUTE_RESPONSES,        /* Codex Responses API */
	ROUTE_CHAT              /* Chat Completions, translated to Responses */
};

/* conn.c: the client's side. */
/* Write everything to the client. 0, or -1 when the client is gone or
 * stopped reading for idle-timeout. */
int conn_writev(struct conn *c, const struct iovec *iov, int n);
int conn_write(struct conn *c, const void *p, size_t n);
/* Answer with an error made here, in the request's error shape. flags as
 * in reply.h; extra is more header lines or NULL. */
void conn_error(struct conn *c, struct req *r, int status, const char *msg,
    int flags, const char *extra);
/* Wait for a complete request head in c->in_buf: the first of a
 * connection by c->first_by, its first byte within first-byte-timeout;
 * later ones within head-timeout of their first byte. Returns its length,
 * 0 when the client is done (EOF, or silence before a byte of a new
 * request), or -1 after answering the error and setting c->exit. */
ssize_t conn_read_head(struct conn *c, struct req *r);
/* Read the request body into r->body, however it is framed: all of it
 * within body-timeout, no read waiting longer than head-timeout. 0, or -1
 * after answering the error. */
int conn_read_body(struct conn *c, struct req *r);
/* After an error the client may still be sending: read a little of it
 * so closing does not reset the connection before our answer is read. */
void conn_linger(struct conn *c);

/* local.c: answers made here. */
enum local { LOCAL_HEALTH, LOCAL_MODELS_ANTHROPIC, LOCAL_MODELS_OPENAI };
void local_answer(struct conn *c, struct req *r, int head_only,
    enum local what);
/* The status page checks the peer and the key itself: a browser cannot
 * send x-api-key, so ?key= in its query is accepted too (status.c);
 * authorized says whether a header carried a client key. */
void local_status(struct conn *c, struct req *r, int head_only,
    int authorized);

/* upstream.c: why the upstream could not be asked, for the client and
 * the log. */
struct fail {
	int status;             /* 502 or 504 */
	int exit;               /* non-zero: end the connection with it */
	int no_retry;           /* the request may be in the works upstream */
	char msg[1200];
};

/* Send one request upstream (head, then the body's pieces) and read the
 * response head into c->rbuf, reconnecting once when a kept connection
 * turns out closed. Returns the bytes in rbuf (*hl of them the head), or
 * -1 with f filled. */
ssize_t upstream_exchange(struct conn *c, const struct url *url,
    const struct buf *head, const struct pieces *body, size_t *hl,
    struct fail *f);

/* forward.c: send r upstream on route and relay the answer. */
void forward(struct conn *c, struct req *r, enum route route);

/* relay.c */
/* Relay the response whose head is in c->rbuf, framing kept, each read
 * written at once; extra is header lines to add, or "". */
void relay_stream(struct conn *c, struct req *r, const struct http_msg *m,
    size_t at_hand_off, size_t at_hand, const char *extra);

/* Read the whole body of the response whose head is in c->rbuf (decoded,
 * at most 1 MiB) into out. 0, or -1 when it could not be read. */
int relay_collect(struct conn *c, const struct http_msg *m, size_t off,
    size_t n, struct buf *out);
/* Send the response head m with body (already read whole), framed by
 * Content-Length. */
void relay_buffered(struct conn *c, struct req *r, const struct http_msg *m,
    const char *body, size_t len, const char *extra);
/* A 2xx Codex event stream, translated: Chat Completions (streamed or as
 * one JSON) or, for a non-streaming Responses request, the response object
 * of response.completed. */
struct codex_req;
void relay_events(struct conn *c, struct req *r, const struct http_msg *m,
    size_t off, size_t n, enum route route, const struct codex_req *cr);

#endif
