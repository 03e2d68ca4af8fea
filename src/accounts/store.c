/*
 * The account pool: which account serves the next request. Each
 * connection is its own process, so the choice is shared through
 * state.json (state.c): a cursor per provider moves round-robin over the
 * usable accounts, subscriptions before API keys, past those cooling
 * down, needing a new login, or lately refused for the request's kind of
 * client.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/authdir.h"
#include "accounts/state.h"
#include "accounts/store.h"
#include "parsers/quota.h"
#include "support/log.h"

/* Candidates in the order to try, the cursor moved to the first. */
struct order {
	const struct want *w;
	long hold;              /* claude-refusal-cooldown */
	struct acct_ref *c;
	size_t n;
	char (*skip)[256];
	size_t nskip;
	size_t *idx;            /* out: indexes to try */
	unsigned char *trouble; /* out: per candidate, a backoff or an error
	                         * on record that a success should clear */
	char (*dead)[KEYHASH_LEN]; /* out: per candidate, the token_key of
	                         * the refresh token that needs a new login,
	                         * "" for none: judged once its file is read */
	size_t nidx;
	time_t soonest;
	int needs_login;        /* skipped because they need a login */
	int refused;            /* skipped: refused this kind of client */
	time_t refused_at;      /* the latest of those refusals */
	char refused_msg[1024]; /* and what the provider said */
	const char *sticky;     /* the account the conversation is on, or
	                         * NULL */
	int headroom;           /* routing: headroom */
	int on_sticky;          /* out: idx[0] is the sticky account */
};

/* When the account cannot serve: its cooldown, or the reset of the
 * window its own figures say is used up. */
static time_t
blocked_until(const cJSON *st, time_t now)
{
	time_t until = (time_t)state_num(st, "cooldown_until");
	struct quota q;
	time_t qb;

	quota_from_json(cJSON_GetObjectItemCaseSensitive(st, "quota"), &q);
	qb = quota_blocked(&q, now);
	return qb > until ? qb : until;
}

/* A subscription whose plan says extra usage is off, for a request that
 * would draw from it: passed over as refused, without the round trip
 * (the refusal mark stays the fallback when the plan is not known). */
static int
no_extra(struct order *o, const cJSON *st)
{
	static const char msg[] = "Extra usage is off for this subscription "
	    "(its profile says so), and Anthropic bills requests from apps "
	    "other than Claude Code to extra usage.";
	struct plan p;

	plan_from_json(cJSON_GetObjectItemCaseSensitive(st, "plan"), &p);
	if (!o->w->needs_extra || p.extra != 0)
		return 0;
	o->refused++;
	if (o->refused_at == 0) {
		o->refused_at = p.at;
		snprintf(o->refused_msg, sizeof o->refused_msg, "%s", msg);
	}
	return 1;
}

/* Skip the account for what the state says of it? Counts why. */
static int
order_skip(struct order *o, const cJSON *st, const struct acct_ref *c, time_t now)
{
	time_t until = blocked_until(st, now);
	const cJSON *m;
	size_t k;

	if (o->w->keys_only && c->key == NULL)
		return 1;
	if (c->key == NULL && no_extra(o, st))
		return 1;
	if (c->key == NULL && (m = state_refusal(st, o->w->kind, o->hold, now))) {
		const char *msg = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(m, "message"));

		o->refused++;
		if ((time_t)state_num(m, "at") >= o->refused_at) {
			o->refused_at = (time_t)state_num(m, "at");
			snprintf(o->refused_msg, sizeof o->refused_msg, "%s",
			    msg ? msg : "");
		}
		return 1;
	}
	/* A cooling account counts for the soonest reset even when this
	 * request already tried it. */
	if (until > now && !cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(st, "needs_login"))) {
		if (o->soonest == 0 || until < o->soonest)
			o->soonest = until;
		return 1;
	}
	for (k = 0; k < o->nskip; k++)
		if (strcmp(o->skip[k], c->id) == 0)
			return 1;
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "needs_login"))) {
		const char *key = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(st, "refused_key"));

		/* A mark names the refresh token refused: a new login since
		 * lifts it, as the file will show. One without (older
		 * state files) holds. */
		if (key == NULL || strlen(key) != KEYHASH_LEN - 1) {
			o->needs_login++;
			return 1;
		}
		memcpy(o->dead[c - o->c], key, KEYHASH_LEN);
	}
	return 0;
}

/* Still the refresh token refused (refused: its token_key), or has a new
 * login put another one in a's file? */
static int
still_refused(const struct account *a, const char *refused)
{
	char key[KEYHASH_LEN];

	if (refused[0] == '\0')
		return 0;
	token_key(a, key);
	return strcmp(key, refused) == 0;
}

/* Put the account called id first in the order, when it is in it. A
 * conversation that had to go to an API key comes back to a subscription
 * as soon as one can take it: a cache rebuilt once costs less than a
 * conversation billed per token. */
static int
to_front(struct order *o, const char *id)
{
	size_t k, at;

	for (k = 0; id && k < o->nidx; k++)
		if (strcmp(o->c[o->idx[k]].id, id) == 0) {
			if (o->c[o->idx[k]].key && o->c[o->idx[0]].key == NULL)
				return 0;
			at = o->idx[k];
			memmove(o->idx + 1, o->idx, k * sizeof *o->idx);
			o->idx[0] = at;
			return 1;
		}
	return 0;
}

/* How much of the binding window of account id is used, as far as the
 * state knows: a window past its reset starts afresh. -1 when unknown. */
static double
used_of(cJSON *root, const char *id, time_t now)
{
	struct quota q;
	const struct quota_window *b;

	quota_from_json(cJSON_GetObjectItemCaseSensitive(state_account(root,
	    id, 0), "quota"), &q);
	if ((b = quota_binding(&q)) == NULL)
		return -1;
	return b->reset && b->reset <= now ? 0 : b->used;
}

/* A new conversation goes to the subscription with the most headroom:
 * the least used binding window. When a subscription's figures are not
 * known yet (or for the API keys, which report none), the round-robin
 * order stands; so does it between equals (the sort is stable). */
static void
by_headroom(struct order *o, cJSON *root, time_t now)
{
	double used[64];
	size_t n = 0, i, k, at;
	double u;

	while (n < o->nidx && n < 64 && o->c[o->idx[n]].key == NULL) {
		if ((used[n] = used_of(root, o->c[o->idx[n]].id, now)) < 0)
			return;
		n++;
	}
	/* Insertion sort: a handful of accounts, and stable. */
	for (i = 1; i < n; i++) {
		at = o->idx[i];
		u = used[i];
		for (k = i; k > 0 && used[k - 1] > u; k--) {
			used[k] = used[k - 1];
			o->idx[k] = o->idx[k - 1];
		}
		used[k] = u;
		o->idx[k] = at;
	}
}

static int
order_fn(cJSON *root, void *arg)
{
	struct order *o = arg;
	cJSON *prov = state_obj(root, o->w->provider, 1);
	/* No cursor yet: start with the first account in name order. */
	long cursor = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(prov,
	    "cursor")) ? (long)state_num(prov, "cursor") : -1;
	time_t now = time(NULL);
	size_t i, k, tier;

	memset(o->dead, 0, o->n * sizeof *o->dead);
	/* Subscriptions first, then API keys (billed per token), each in
	 * the shared round-robin order. */
	for (tier = 0; tier < 2; tier++)
		for (i = 0; i < o->n; i++) {
			size_t at = (size_t)(cursor + 1 + (long)i) % o->n;

			if ((o->c[at].key != NULL) != (tier == 1) ||
			    order_skip(o, state_account(root, o->c[at].id, 0),
			    &o->c[at], now))
				continue;
			o->idx[o->nidx++] = at;
		}
	for (k = 0; k < o->nidx; k++) {
		cJSON *st = state_account(root, o->c[o->idx[k]].id, 0);

		o->trouble[o->idx[k]] = state_num(st, "backoff") != 0 ||
		    cJSON_GetObjectItemCaseSensitive(st, "last_error") != NULL;
	}
	/* A conversation stays where its prompt cache is, while that
	 * account can serve; the cursor is not its business. */
	if ((o->on_sticky = to_front(o, o->sticky)) != 0)
		return 0;
	if (o->headroom)
		by_headroom(o, root, now);
	/* The state file is rewritten only when the cursor moves: with one
	 * account, never on the way of a request. */
	if (o->nidx == 0 || prov == NULL || (cJSON_IsNumber(
	    cJSON_GetObjectItemCaseSensitive(prov, "cursor")) &&
	    (size_t)state_num(prov, "cursor") == o->idx[0]))
		return 0;
	state_set_num(prov, "cursor", (double)o->idx[0]);
	return 1;
}

int
store_watch(const struct config *cfg)
{
	return authdir_watch(cfg);
}

void
store_look(void)
{
	authdir_look();
}

void
store_warm(const struct config *cfg)
{
	static const char *const providers[] = { "claude", "codex" };
	struct account a;
	struct acct_ref *c;
	char path[4200], err[4400];
	size_t n, i, k;

	for (k = 0; k < 2; k++) {
		if (authdir_accounts(cfg, providers[k], &c, &n) == -1)
			continue;
		for (i = 0; i < n; i++) {
			if (c[i].key)
				continue;
			snprintf(path, sizeof path, "%s/%s", cfg->auth_dir,
			    c[i].id);
			if (authdir_token(path, providers[k], &a, err,
			    sizeof err) == 0)
				account_free(&a);
		}
		free(c);
	}
	(void)authdir_state(cfg);
}

/* An order for w over provider's accounts, its room made. 0, or -1 with
 * err (o is order_free's either way). */
static int
order_open(const struct config *cfg, const struct want *w, struct order *o,
    char *err, size_t errlen)
{
	memset(o, 0, sizeof *o);
	o->w = w;
	o->hold = cfg->claude_refusal_cooldown;
	o->sticky = w->sticky;
	o->headroom = cfg->routing == ROUTING_HEADROOM;
	if (authdir_accounts(cfg, w->provider, &o->c, &o->n) == -1) {
		snprintf(err, errlen, "cannot read auth-dir %s: %s: fix its "
		    "owner or mode (chmod 700)", cfg->auth_dir,
		    strerror(errno));
		return -1;
	}
	if ((o->idx = calloc(o->n + 1, sizeof *o->idx)) == NULL ||
	    (o->trouble = calloc(o->n + 1, 1)) == NULL ||
	    (o->dead = calloc(o->n + 1, sizeof *o->dead)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static void
order_free(struct order *o)
{
	free(o->c);
	free(o->idx);
	free(o->trouble);
	free(o->dead);
}

int
store_pick(const struct config *cfg, const struct want *w,
    char (*skip)[256], size_t nskip, struct account *a, time_t *soonest,
    char *err, size_t errlen)
{
	const char *provider = w->provider;
	struct order o;
	cJSON *root;
	char why[4400], scratch[4400];
	size_t i;
	int rc = STORE_NONE, disabled = 0;

	why[0] = '\0';
	memset(a, 0, sizeof *a);
	*soonest = 0;
	if (order_open(cfg, w, &o, err, errlen) == -1)
		goto out;
	o.skip = skip;
	o.nskip = nskip;
	/* The cached state serves unless the cursor must move: that is a
	 * read-modify-write, done under the lock on a fresh read. */
	if ((root = authdir_state(cfg)) == NULL || order_fn(root, &o) == 1) {
		if (root)
			authdir_state_forget();
		o.nidx = 0;
		o.soonest = 0;
		o.needs_login = 0;
		o.refused = 0;
		o.refused_at = 0;
		(void)state_run(cfg, 1, 0, order_fn, &o);
	}
	/* Token files are read after the state lock is released: see the
	 * lock order above. */
	for (i = 0; i < o.nidx; i++) {
		/* Each broken file is named (another account may serve, but
		 * this one needs fixing); the first is kept for the client. */
		if (authdir_load(cfg, provider, &o.c[o.idx[i]], a, scratch,
		    sizeof scratch) == -1) {
			log_warn("%s", scratch);
			if (!why[0])
				snprintf(why, sizeof why, "%s", scratch);
			continue;
		}
		if (a->disabled) {
			disabled++;
			account_free(a);
			continue;
		}
		if (still_refused(a, o.dead[o.idx[i]])) {
			o.needs_login++;
			account_free(a);
			continue;
		}
		/* A new login's first success lifts its old mark. */
		a->trouble = o.trouble[o.idx[i]] || o.dead[o.idx[i]][0];
		rc = 0;
		goto out;
	}
	if (o.soonest) {
		*soonest = o.soonest;
		rc = STORE_COOLING;
		snprintf(err, errlen, "every %s account is cooling down after "
		    "a rate limit", provider);
	} else if (o.refused) {
		rc = STORE_REFUSED;
		snprintf(err, errlen, "%s", o.refused_msg);
	} else if (why[0])
		snprintf(err, errlen, "%s", why);
	else if (o.needs_login)
		snprintf(err, errlen, "every %s account needs a new login: run "
		    "cli-proxy-api --%s-login", provider, provider);
	else if (disabled)
		snprintf(err, errlen, "every %s account in %s is disabled",
		    provider, cfg->auth_dir);
	else if (w->keys_only && nskip == 0)
		snprintf(err, errlen, "no %s-api-key in the config: "
		    "claude-third-party is api-key, so requests from clients "
		    "other than Claude Code need one", provider);
	else if (o.n == 0 || nskip == 0)
		snprintf(err, errlen, "no %s account: no %s-*.json in %s and "
		    "no %s-api-key in the config; run cli-proxy-api "
		    "--%s-login", provider, provider, cfg->auth_dir, provider,
		    provider);
	else
		snprintf(err, errlen, "no other %s account left to try",
		    provider);
out:
	order_free(&o);
	return rc;
}

time_t
store_cooldown(const struct config *cfg, const struct account *a,
    time_t until, const char *why)
{
	struct state_mark m = { a->id, until, 0, -1, -1, why, 0, 0, NULL };

	state_mark(cfg, &m, 0);
	return m.until;
}

void
store_ok(const struct config *cfg, const struct account *a)
{
	struct state_mark m = { a->id, -1, 0, -1, -1, NULL, 1, 0, NULL };

	/* Nothing on record to clear: no lock, no read. */
	if (a->trouble)
		state_mark(cfg, &m, 0);
}

void
store_refused(const struct config *cfg, const struct account *a,
    enum client_kind kind, const char *reason, const char *message)
{
	state_refuse(cfg, a->id, kind, reason, message);
}

size_t
store_count(const struct config *cfg, const char *provider)
{
	struct acct_ref *c;
	size_t n;

	if (authdir_accounts(cfg, provider, &c, &n) == -1)
		return 0;
	free(c);
	return n;
}


int
store_next(const struct config *cfg, const char *provider, char *id,
    size_t idlen)
{
	struct want w = { provider, CLIENT_FIRST_PARTY, 0, 0, NULL };
	struct order o;
	struct account a;
	cJSON *root;
	char err[4400];
	size_t i;
	int rc = -1;

	if (order_open(cfg, &w, &o, err, sizeof err) == -1)
		goto out;
	/* A copy: the order moves the cursor in the tree it is given, and
	 * this look moves nothing. */
	root = authdir_state(cfg);
	if ((root = root ? cJSON_Duplicate(root, 1) : cJSON_CreateObject()) ==
	    NULL)
		goto out;
	(void)order_fn(root, &o);
	cJSON_Delete(root);
	for (i = 0; i < o.nidx && rc == -1; i++) {
		if (authdir_load(cfg, provider, &o.c[o.idx[i]], &a, err,
		    sizeof err) == -1)
			continue;
		if (!a.disabled && !still_refused(&a, o.dead[o.idx[i]])) {
			snprintf(id, idlen, "%s", a.id);
			rc = 0;
		}
		account_free(&a);
	}
out:
	order_free(&o);
	return rc;
}
