/* conn: what filter.c, forward.c and relay.c share about one client
 * connection and the request in hand. Private to those three files. */
#ifndef CONN_H
#define CONN_H
#include <stddef.h>
#include <sys/uio.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "trust.h"
#include "tls.h"
#include "usage.h"

#define READ_CHUNK (16 * 1024)
#define RESP_HEAD_MAX (64 * 1024)

struct conn {
	const struct config *cfg;
	int in, out;
	int out_sock;           /* out is a socket: shutdown() at the end */
	int in_sock;            /* in is a socket: reads may be tried first */
	struct buf in_buf;      /* client bytes read, not yet consumed */
	int in_eof;
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
	char model[128];        /* the request's model, for the log line */
	struct usage_scan *scan; /* usage-statistics: fed the decoded body */
};

/* The upstream routes. */
enum route {
	ROUTE_CLAUDE,           /* Anthropic Messages, relayed as is */
	ROUTE_RESPONSES,        /* Codex Responses API */
	ROUTE_CHAT              /* Chat Completions, translated to Responses */
};

/* filter.c */
/* Write everything to the client. 0, or -1 when the client is gone or
 * stopped reading for idle-timeout. */
int conn_writev(struct conn *c, const struct iovec *iov, int n);
int conn_write(struct conn *c, const void *p, size_t n);
/* Answer with an error made here, in the request's error shape. flags as
 * in reply.h; extra is more header lines or NULL. */
void conn_error(struct conn *c, struct req *r, int status, const char *msg,
    int flags, const char *extra);
/* Read the request body into r->body, decoding chunked. 0, or -1 after
 * answering the error. */
int conn_read_body(struct conn *c, struct req *r);
/* The trust anchors filter_prepare loaded, into out, when ca-file has not
 * changed since. 1 when out was filled, else 0 (load them now). */
int conn_ready_ta(const struct config *cfg, struct trust *out);

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
