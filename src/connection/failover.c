/*
 * What an upstream answer means for the request in hand: relay it, or
 * step around it without the client noticing: a refused token refreshed
 * and tried once more, a rate limit cooled down and another account
 * asked, a refusal of this kind of client marked and the request taken
 * elsewhere, a retired model explained. The exchange itself is
 * forward.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/catalog.h"
#include "accounts/refresh.h"
#include "accounts/store.h"
#include "connection/forward_int.h"
#include "providers/models.h"
#include "providers/ratelimit.h"
#include "support/log.h"

static void
tried_add(struct tried *t, const char *id)
{
	if (t->n < MAX_SKIP)
		snprintf(t->id[t->n++], sizeof t->id[0], "%s", id);
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
int
fwd_pick(struct fwd *w, struct account *a)
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
void
fwd_answer_refused(struct fwd *w, const char *said)
{
	char msg[2048];

	claude_refusal_explain(msg, sizeof msg, said,
	    w->want.kind == CLIENT_FIRST_PARTY);
	log_warn("%s", msg);
	conn_error(w->c, w->r, 400, msg, 0, NULL);
}

/* No account can take the request: say why. */
void
fwd_answer_none(struct fwd *w, int pr)
{
	if (pr == STORE_COOLING) {
		log_warn("%s", w->err);
		answer_cooling(w->c, w->r, w->soonest, w->err);
	} else if (pr == STORE_REFUSED || w->refused)
		fwd_answer_refused(w, pr == STORE_REFUSED ? w->err : w->said);
	else {
		log_err("%s", w->err);
		conn_error(w->c, w->r, w->f.status == 401 || !w->f.status ?
		    401 : w->f.status, w->f.status == 401 ||
		    w->f.status == 503 ? w->f.msg : w->err, 0, NULL);
	}
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
	    fwd_pick(w, &w->next) == 0)
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
	if ((pr = fwd_pick(w, &w->next)) == 0)
		return STEP_NEXT;
	fwd_answer_none(w, pr);
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
	if ((pr = fwd_pick(w, &w->next)) == 0)
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
	fwd_answer_none(w, pr);
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

/* The provider does not serve the model asked for (retired, or never
 * was): its words, and the models it serves now. 1 when so answered. */
static int
model_refused(struct fwd *w, int st)
{
	char msg[2048], *at;
	const char *body;
	size_t n;

	if (st != (w->route == ROUTE_CLAUDE ? 404 : 400))
		return 0;
	body = collect(w);
	if (!(w->route == ROUTE_CLAUDE ? claude_model_refused(st, body,
	    w->ebody.len, msg, 1024) : codex_model_refused(st, body,
	    w->ebody.len, msg, 1024)))
		return 0;
	n = strlen(msg);
	at = msg + n + (n > 0);
	if (n > 0)
		msg[n] = ' ';
	models_explain(catalog_models(w->cfg, w->want.provider),
	    w->want.provider, w->route == ROUTE_CLAUDE ? w->cq.model :
	    w->cr.alias_of[0] ? w->cr.alias_of : w->cr.model, at,
	    sizeof msg - (size_t)(at - msg));
	log_warn("%s", msg);
	conn_error(w->c, w->r, st, msg, 0, NULL);
	return 1;
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
enum step
fwd_try(struct fwd *w)
{
	int st, rc;

	if ((rc = fwd_send(w)) != 0)
		return rc == 1 ? STEP_DONE : on_failure(w);
	fwd_note(w);
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
	if (model_refused(w, st))
		return STEP_DONE;
	if (st == 429 && w->route == ROUTE_CLAUDE) {
		/* A gate is told from a rate limit by its body. */
		const char *body = collect(w);

		if (claude_extra_usage_gate(st, body, w->ebody.len))
			return on_extra_usage(w);
	}
	if (st == 429)
		on_limited(w);
	if ((st == 429 || st >= 500) && w->tries <= w->cfg->request_retry &&
	    fwd_pick(w, &w->next) == 0) {
		log_warn("upstream answered %d for %s; trying the next "
		    "account", st, w->r->who);
		up_close(w->c->up);
		w->collected = 0;
		return STEP_NEXT;
	}
	return STEP_ANSWER;
}
