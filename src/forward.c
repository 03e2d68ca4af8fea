/*
 * Forwarding one request: pick an account, make its token fresh, rewrite,
 * send, and look at the status before a byte goes to the client, so a
 * refused token, a rate limit or a dead upstream can be stepped around
 * without the client noticing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "claude.h"
#include "codex.h"
#include "conn.h"
#include "convkey.h"
#include "convo.h"
#include "filter.h"
#include "ratelimit.h"
#include "log.h"
#include "quota.h"
#include "refresh.h"
#include "reply.h"
#include "store.h"
#include "token.h"
#include "net.h"
#include "usage.h"
#include "warm.h"

/* A random UUID for the Codex session_id header, one per connection, for
 * clients that send no prompt_cache_key. */
static const char *
conn_session(struct conn *c)
{
	unsigned char r[16];
	size_t i;
	int k = 0;

	if (c->session_id[0])
		return c->session_id;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (i = 0; i < sizeof r; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			c->session_id[k++] = '-';
		k += snprintf(c->session_id + k, sizeof c->session_id -
		    (size_t)k, "%02x", r[i]);
	}
	return c->session_id;
}

/* Every account is cooling down: 429 with the soonest reset. */
static void
answer_cooling(struct conn *c, struct req *r, time_t soonest,
    const char *msg)
{
	char extra[64];
	long wait = (long)(soonest - time(NULL));

	snprintf(extra, sizeof extra, "retry-after: %ld\r\n",
	    wait > 0 ? wait : 1);
	conn_error(c, r, 429, msg, 0, extra);
}

#define MAX_SKIP 32

/* Accounts this request has given up on. */
struct tried {
	char id[MAX_SKIP][256];
	size_t n;
};

static void
tried_add(struct tried *t, const char *id)
{
	if (t->n < MAX_SKIP)
		snprintf(t->id[t->n++], sizeof t->id[0], "%s", id);
}

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

/* The token of account id could not be made fresh (rc from
 * refresh_account, w->err why): it is passed over, and the client is
 * told if no other account serves: 401, or 503 when auth-dir has no room
 * for a refreshed token (free space and the same login serves again). */
static void
not_fresh(struct fwd *w, const char *id, int rc)
{
	log_err("%s", w->err);
	tried_add(&w->t, id);
	snprintf(w->f.msg, sizeof w->f.msg, "%.1100s", w->err);
	w->f.status = rc == REFRESH_NO_ROOM ? 503 : 401;
}

/* The next account to try, picked after the shared cursor and made fresh.
 * 0, or a STORE_ code with w->err and w->soonest. An account whose token
 * cannot be made fresh is passed over, its error kept in w->f. */
static int
pick(struct fwd *w, struct account *a)
{
	int rc;

	for (;;) {
		int pr = store_pick(w->cfg, &w->want, w->t.id, w->t.n, a,
		    &w->soonest, w->err, sizeof w->err);

		if (pr != 0)
			return pr;
		if ((rc = refresh_account(w->cfg, a, 0, w->err,
		    sizeof w->err)) == 0)
			return 0;
		not_fresh(w, a->id, rc);
		account_free(a);
	}
}

/* Anthropic said no to this kind of client: why, in its words and ours. */
static void
answer_refused(struct fwd *w, const char *said)
{
	char msg[2048];

	claude_refusal_explain(msg, sizeof msg, said,
	    w->want.kind == CLIENT_FIRST_PARTY);
	log_warn("%s", msg);
	conn_error(w->c, w->r, 400, msg, 0, NULL);
}

/* No account can take the request: say why. */
static void
answer_none(struct fwd *w, int pr)
{
	if (pr == STORE_COOLING) {
		log_warn("%s", w->err);
		answer_cooling(w->c, w->r, w->soonest, w->err);
	} else if (pr == STORE_REFUSED || w->refused)
		answer_refused(w, pr == STORE_REFUSED ? w->err : w->said);
	else {
		log_err("%s", w->err);
		conn_error(w->c, w->r, w->f.status == 401 || !w->f.status ?
		    401 : w->f.status, w->f.status == 401 ||
		    w->f.status == 503 ? w->f.msg : w->err, 0, NULL);
	}
}

/* The body read, checked and made ready for every kind of account, once:
 * the Claude Code line for third-party requests on Claude OAuth accounts
 * (spliced in as pieces of the client's body, not a copy of it), the
 * backend's rules (or the Chat Completions translation) for Codex. 0, or
 * -1 once the client has its answer. */
static int
prepare(struct fwd *w)
{
	struct conn *c = w->c;
	struct req *r = w->r;
	const char *why = NULL, *p;
	int changed, rc = 0;

	if (r->msg.expect_continue && conn_write(c,
	    "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1) {
		r->close = 1;
		return -1;
	}
	if (conn_read_body(c, r) == -1)
		return -1;
	p = r->body.p ? r->body.p : "";
	if (w->route == ROUTE_CLAUDE) {
		if (claude_read(p, r->body.len, &w->cq, &w->bad_json) == 0)
			snprintf(r->model, sizeof r->model, "%s", w->cq.model);
		w->want.kind = claude_first_party(&r->msg, &w->cq) ?
		    CLIENT_FIRST_PARTY : CLIENT_THIRD_PARTY;
		r->client = w->want.kind == CLIENT_FIRST_PARTY ? "claude-code" :
		    "third-party";
		if (w->want.kind == CLIENT_THIRD_PARTY) {
			w->want.keys_only = w->cfg->claude_third_party ==
			    THIRD_PARTY_API_KEY;
			if (w->cfg->claude_system_prefix)
				claude_prefix(p, r->body.len, &w->cq,
				    &w->prefixed, &changed);
		}
		return 0;
	}
	if (w->route == ROUTE_RESPONSES)
		rc = codex_body(w->cfg, p, r->body.len, &w->made, &w->cr, &why);
	else
		rc = codex_chat_request(w->cfg, p, r->body.len, &w->made,
		    &w->cr, &why);
	if (rc == -1) {
		r->close = 1;
		conn_error(c, r, 400, why, 0, NULL);
		c->exit = EXIT_BADREQ;
		return -1;
	}
	snprintf(r->model, sizeof r->model, "%s", w->cr.model);
	return 0;
}

/* Where the request's conversation is: its account goes first. Named
 * only when there is a choice of account to make. */
static void
find_conversation(struct fwd *w)
{
	if (w->cfg->routing != ROUTING_HEADROOM ||
	    store_count(w->cfg, w->want.provider) < 2)
		return;
	if (w->route == ROUTE_CLAUDE)
		convkey_claude(&w->r->msg, w->r->body.p ? w->r->body.p : "",
		    &w->cq, w->conv);
	else
		convkey_codex(&w->r->msg, &w->cr, w->conv);
	if (!w->conv[0])
		return;
	if ((w->known = convo_find(w->cfg, w->conv, w->was, sizeof w->was,
	    &w->seen)) != 0)
		w->want.sticky = w->was;
}

/* The conversation is on the account that served it now. */
static void
keep_conversation(struct fwd *w)
{
	if (w->cfg->routing == ROUTING_HEADROOM && w->conv[0] &&
	    w->r->status >= 200 && w->r->status < 300 && convo_due(w->known,
	    w->was, w->a.id, w->seen, time(NULL)))
		convo_put(w->cfg, w->conv, w->a.id);
}

/* Keep what the answer says of the account's limits. */
static void
note_limits(struct fwd *w)
{
	struct quota q;

	if (w->route == ROUTE_CLAUDE)
		ratelimit_claude_quota(&w->resp, &q);
	else
		ratelimit_codex_quota(&w->resp, time(NULL), &q);
	quota_record(w->cfg, w->a.id, &q);
}

/* The body as the account in hand gets it. 0, or -1 once the client has
 * its answer. */
static int
body_for(struct fwd *w, struct pieces *body)
{
	struct req *r = w->r;

	if (w->route != ROUTE_CLAUDE) {
		body->n = w->made.len > 0;
		body->v[0].iov_base = w->made.p;
		body->v[0].iov_len = body->len = w->made.len;
		return 0;
	}
	if (w->a.kind == ACCT_OAUTH && w->want.kind == CLIENT_THIRD_PARTY &&
	    w->cfg->claude_system_prefix) {
		if (w->bad_json) {
			/* The line cannot go into what is not JSON. */
			r->close = 1;
			conn_error(w->c, r, 400, w->bad_json, 0, NULL);
			w->c->exit = EXIT_BADREQ;
			return -1;
		}
		if (w->prefixed.n > 0) {
			*body = w->prefixed;
			return 0;
		}
	}
	body->n = r->body.len > 0;
	body->v[0].iov_base = r->body.p;
	body->v[0].iov_len = body->len = r->body.len;
	return 0;
}

/* The upstream head could not be made: out of memory, or a credential
 * that would split it (token files and the config refuse those when they
 * are read; this is the last guard). Named, never quoted. */
static void
head_failed(struct fwd *w)
{
	char msg[1400];

	if (errno != EINVAL)
		snprintf(msg, sizeof msg, "cannot build the upstream request: "
		    "out of memory");
	else
		snprintf(msg, sizeof msg, "the credential of account %.300s "
		    "(%.700s) holds a control character and would split the "
		    "request's head: log in again, or fix the %s", w->a.email ?
		    w->a.email : w->a.id, w->a.file ? w->a.file : "config",
		    w->a.file ? "file" : "key in the config");
	log_err("%s", msg);
	conn_error(w->c, w->r, 500, msg, 0, NULL);
}

/* Send the request to the account in hand and read the answer's head
 * into w->resp. 0, 1 when the client already has its answer, or -1 with
 * w->f filled. */
static int
send_one(struct fwd *w)
{
	struct conn *c = w->c;
	struct req *r = w->r;
	const struct url *url = w->a.base ? w->a.base :
	    w->route == ROUTE_CLAUDE ? &w->cfg->claude_base :
	    &w->cfg->codex_base;
	struct pieces body;
	const char *why;

	snprintf(r->who, sizeof r->who, "%s", w->a.email ? w->a.email :
	    w->a.id);
	r->via = w->a.kind == ACCT_OAUTH ? "subscription" : "api-key";
	if (body_for(w, &body) == -1)
		return 1;
	w->head.len = 0;
	if ((w->route == ROUTE_CLAUDE ? claude_head(&w->head, &r->msg,
	    w->cfg, url, &w->a, body.len) : codex_head(&w->head, &r->msg, url,
	    &w->a, w->cr.session_id[0] ? w->cr.session_id : conn_session(c),
	    body.len)) == -1) {
		head_failed(w);
		return 1;
	}
	log_head("upstream request", w->head.p, w->head.len);
	w->tries++;
	memset(&w->f, 0, sizeof w->f);
	if ((w->n = upstream_exchange(c, url, &w->head, &body, &w->hl, &w->f)) == -1)
		return -1;
	if (http_parse_response((char *)c->rbuf, w->hl, "POST", &w->resp,
	    &why) == -1) {
		log_err("upstream %s: %s", url->host, why);
		up_close(c->up);
		snprintf(w->f.msg, sizeof w->f.msg, "upstream %s sent a "
		    "malformed response head", url->host);
		w->f.status = 502;
		w->f.no_retry = 1;
		return -1;
	}
	log_head("upstream response", (char *)c->rbuf, w->hl);
	return 0;
}

/* The upstream could not be asked, or did not answer. */
static enum step
on_failure(struct fwd *w)
{
	log_err("%s", w->f.msg);
	if (w->f.exit) {
		w->r->close = 1;
		w->c->exit = w->f.exit;
		conn_error(w->c, w->r, w->f.status, w->f.msg, 0, NULL);
		return STEP_DONE;
	}
	/* A failed connection goes to the next account, not to this one
	 * again. */
	tried_add(&w->t, w->a.id);
	if (w->tries <= w->cfg->request_retry && !w->f.no_retry &&
	    pick(w, &w->next) == 0)
		return STEP_NEXT;
	conn_error(w->c, w->r, w->f.status, w->f.msg, 0, NULL);
	return STEP_DONE;
}

/* The token was refused: refresh it and try again, once. */
static enum step
on_unauthorized(struct fwd *w)
{
	int pr, rc;

	w->refreshed = 1;
	w->tries--;
	up_close(w->c->up);
	if ((rc = refresh_account(w->cfg, &w->a, 1, w->err,
	    sizeof w->err)) == 0)
		return STEP_AGAIN;
	not_fresh(w, w->a.id, rc);
	if ((pr = pick(w, &w->next)) == 0)
		return STEP_NEXT;
	answer_none(w, pr);
	return STEP_DONE;
}

/* Pass over the account in hand without counting a retry (its answer did
 * no work upstream) and pick the next; what was collected of the answer
 * goes with it. 0, or a STORE_ code. */
static int
pass_over(struct fwd *w)
{
	int pr;

	tried_add(&w->t, w->a.id);
	w->tries--;
	if ((pr = pick(w, &w->next)) == 0)
		w->collected = 0;
	return pr;
}

/* Anthropic refused this kind of client on the subscription in hand:
 * mark it, and take the request to an account that may serve it. Asking
 * another account is no retry: the refusal did no work upstream. */
static enum step
on_refused(struct fwd *w)
{
	int pr;

	store_refused(w->cfg, &w->a, w->want.kind,
	    claude_refusal_reason(w->refused), w->said);
	log_warn("%s refused a %s request: %s", w->r->who, w->r->client,
	    w->said);
	if ((pr = pass_over(w)) == 0)
		return STEP_NEXT;
	answer_none(w, pr);
	return STEP_DONE;
}

/* Anthropic's 429 for a request that needs extra usage the account
 * lacks (a long context request, the 1M context beta): a gate on this
 * request, not a limit on the account, so no cooldown and no retry
 * counted. Another account may take it; else the client gets Anthropic's
 * answer as it is (Claude Code shows Anthropic's words). */
static enum step
on_extra_usage(struct fwd *w)
{
	log_warn("%s has no extra usage for this request (a long context "
	    "request needs it)", w->r->who);
	return pass_over(w) == 0 ? STEP_NEXT : STEP_ANSWER;
}

/* The answer's body read whole into w->ebody before the client gets a
 * byte (an error's: small). Returns it, "" when there is none. */
static const char *
collect(struct fwd *w)
{
	w->ebody.len = 0;
	(void)relay_collect(w->c, &w->resp, w->hl, (size_t)w->n - w->hl,
	    &w->ebody);
	w->collected = 1;
	return w->ebody.p ? w->ebody.p : "";
}

/* Rate limited: cool the account down until the upstream says. */
static void
on_limited(struct fwd *w)
{
	time_t now = time(NULL), when;

	if (w->route == ROUTE_CLAUDE)
		when = ratelimit_claude_cooldown(&w->resp, now);
	else {
		/* Codex says when in the body. */
		const char *body = collect(w);

		when = ratelimit_codex_cooldown(&w->resp, body, w->ebody.len,
		    now);
	}
	w->until = store_cooldown(w->cfg, &w->a, when, "429 rate limited");
	tried_add(&w->t, w->a.id);
}

/* One try on the account in hand, and what the answer means. */
static enum step
try_one(struct fwd *w)
{
	int st, rc;

	if ((rc = send_one(w)) != 0)
		return rc == 1 ? STEP_DONE : on_failure(w);
	note_limits(w);
	st = w->resp.status;
	if (st == 401 && w->a.kind == ACCT_OAUTH && !w->refreshed)
		return on_unauthorized(w);
	if ((st == 400 || st == 403) && w->route == ROUTE_CLAUDE &&
	    w->a.kind == ACCT_OAUTH) {
		/* A refusal is told by its body. */
		const char *body = collect(w);

		if ((w->refused = claude_refusal(st, body, w->ebody.len,
		    w->said, sizeof w->said)) != CLAUDE_SERVED)
			return on_refused(w);
	}
	if (st == 429 && w->route == ROUTE_CLAUDE) {
		/* A gate is told from a rate limit by its body. */
		const char *body = collect(w);

		if (claude_extra_usage_gate(st, body, w->ebody.len))
			return on_extra_usage(w);
	}
	if (st == 429)
		on_limited(w);
	if ((st == 429 || st >= 500) && w->tries <= w->cfg->request_retry &&
	    pick(w, &w->next) == 0) {
		log_warn("upstream answered %d for %s; trying the next "
		    "account", st, w->r->who);
		up_close(w->c->up);
		w->collected = 0;
		return STEP_NEXT;
	}
	return STEP_ANSWER;
}

/* Relay the answer of the account that served. */
static void
answer(struct fwd *w)
{
	struct conn *c = w->c;
	struct req *r = w->r;
	const struct http_msg *resp = &w->resp;
	char extra[64] = "";

	if (resp->status >= 200 && resp->status < 300)
		store_ok(w->cfg, &w->a);
	if (resp->status == 429 && !http_header_get(resp, "retry-after") &&
	    w->until > time(NULL))
		snprintf(extra, sizeof extra, "retry-after: %lld\r\n",
		    (long long)(w->until - time(NULL)));
	r->status = resp->status;
	if (resp->framing == HTTP_BODY_CLOSE)
		r->close = 1;
	if (r->scan) {
		const struct http_header *ct = http_header_get(resp,
		    "content-type");

		usage_scan_init(r->scan, usage_kind_for(w->want.provider,
		    ct ? ct->value : NULL, ct ? ct->vlen : 0));
	}
	if (w->collected)
		relay_buffered(c, r, resp, w->ebody.p, w->ebody.len, extra);
	else if (w->route == ROUTE_CLAUDE || (w->route == ROUTE_RESPONSES &&
	    (w->cr.stream || resp->status < 200 || resp->status > 299)))
		relay_stream(c, r, resp, w->hl, (size_t)w->n - w->hl, extra);
	else
		relay_events(c, r, resp, w->hl, (size_t)w->n - w->hl,
		    w->route, &w->cr);
}

/* The usage line, once the client has its answer. */
static void
record(struct fwd *w, struct usage_scan *scan)
{
	struct req *r = w->r;
	struct usage_rec ur = { w->want.provider, r->who, r->status,
	    net_now_ms() - r->t0, { "", 0, 0, 0, 0 } };

	usage_scan_done(scan, &ur.u);
	r->scan = NULL;
	if (ur.u.model[0] == '\0')
		snprintf(ur.u.model, sizeof ur.u.model, "%s", r->model);
	if (usage_record(w->cfg, &ur) == -1)
		log_warn("usage: cannot append to %s/usage.jsonl: %s",
		    w->cfg->auth_dir, strerror(errno));
}

/*
 * One proxied request: pick an account, make its token fresh, send, and
 * look at the status before a byte goes to the client. The body is held,
 * so a 401 gets one refresh and one more try on the same account; a 429, a
 * 5xx or a failed connection moves on to the next account, up to
 * request-retry times; Anthropic's refusal of a subscription for this
 * kind of client moves on to an account that may serve it. When no other
 * account can take it, the client gets what the upstream said.
 */
void
forward(struct conn *c, struct req *r, enum route route)
{
	struct fwd *w;
	struct usage_scan scan;
	enum step s;
	int pr;

	if ((w = calloc(1, sizeof *w)) == NULL) {
		r->close = 1;
		conn_error(c, r, 500, "out of memory", 0, NULL);
		return;
	}
	w->c = c;
	w->r = r;
	w->head.secret = 1;     /* it carries the account's credential */
	w->cfg = c->cfg;
	w->route = route;
	w->want.provider = route == ROUTE_CLAUDE ? "claude" : "codex";
	usage_scan_init(&scan, USAGE_NONE);
	if (c->cfg->usage_stats)
		r->scan = &scan;
	if (prepare(w) == -1)
		goto out;
	find_conversation(w);
	if (w->want.kind == CLIENT_THIRD_PARTY &&
	    w->cfg->claude_third_party == THIRD_PARTY_REFUSE) {
		answer_refused(w, NULL);
		goto out;
	}
	if ((pr = pick(w, &w->a)) != 0) {
		answer_none(w, pr);
		goto out;
	}
	while ((s = try_one(w)) != STEP_ANSWER) {
		if (s == STEP_DONE)
			goto out;
		if (s == STEP_NEXT) {
			account_free(&w->a);
			w->a = w->next;
			memset(&w->next, 0, sizeof w->next);
			w->refreshed = 0;
		}
	}
	answer(w);
	keep_conversation(w);
out:
	if (r->scan && r->status != 0)
		record(w, &scan);
	r->scan = NULL;
	buf_free(&w->head);
	buf_free(&w->made);
	buf_free(&w->ebody);
	account_free(&w->a);
	account_free(&w->next);
	free(w);
}
