/* forward_int: what forward.c (the exchange: the request made ready,
 * sent, the answer relayed) and failover.c (what an answer means: try
 * again, another account, or tell the client) share about one request.
 * Only those two include it. */
#ifndef FORWARD_INT_H
#define FORWARD_INT_H
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "accounts/store.h"
#include "accounts/token.h"
#include "connection/conn.h"
#include "providers/claude.h"
#include "providers/codex.h"
#include "support/keyhash.h"

#define MAX_SKIP 32

/* Accounts this request has given up on. */
struct tried {
	char id[MAX_SKIP][256];
	size_t n;
};

/* One request on its way through the accounts. */
struct fwd {
	struct conn *c;
	struct req *r;
	const struct config *cfg;
	enum route route;
	struct want want;       /* which accounts may serve it */
	struct tried t;
	struct account a;       /* the account being tried */
	struct account next;    /* the one to try after it */
	struct claude_req cq;   /* Claude: what the body says */
	const char *bad_json;   /* Claude: why the body is no JSON object */
	struct pieces prefixed; /* Claude: the body with the Claude Code line
	                         * (third-party, OAuth); n 0 when unchanged */
	struct codex_req cr;    /* Codex: what the client asked */
	struct buf made;        /* Codex: the body made for the backend */
	struct buf head;        /* the upstream request head */
	struct http_msg resp;
	size_t hl;              /* response head length in c->rbuf */
	ssize_t n;              /* bytes in c->rbuf */
	struct buf ebody;       /* an answer's body read whole */
	int collected;
	struct fail f;
	int tries, refreshed;
	time_t until, soonest;
	enum claude_refusal refused;    /* the last refusal seen */
	char said[1024];        /* and Anthropic's words with it */
	char conv[KEYHASH_LEN]; /* the request's conversation ("" none) */
	int known;              /* the table has it: */
	char was[256];          /* on this account, */
	time_t seen;            /* recorded then */
	char err[4400];
};

/* What to do after one try. */
enum step {
	STEP_ANSWER,            /* relay resp to the client */
	STEP_DONE,              /* the client got its answer already */
	STEP_NEXT,              /* try w->next */
	STEP_AGAIN              /* try w->a again (its token was refreshed) */
};

/* forward.c: send the request to the account in hand and read the
 * answer's head into w->resp. 0, 1 when the client already has its
 * answer, or -1 with w->f filled. */
int fwd_send(struct fwd *w);
/* forward.c: keep what the answer's head says of the account's limits
 * and of the provider's catalog. */
void fwd_note(struct fwd *w);

/* failover.c: the next account to try, made fresh. 0, or a STORE_ code
 * with w->err and w->soonest. */
int fwd_pick(struct fwd *w, struct account *a);
/* failover.c: no account can take the request: say why (pr from
 * fwd_pick). */
void fwd_answer_none(struct fwd *w, int pr);
/* failover.c: Anthropic said no to this kind of client (said: its words;
 * NULL: claude-third-party is refuse). */
void fwd_answer_refused(struct fwd *w, const char *said);
/* failover.c: one try on the account in hand, and what its answer means
 * for the request. */
enum step fwd_try(struct fwd *w);

#endif
