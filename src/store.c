/*
 * The account pool. Each connection is its own process, so everything
 * shared lives in auth-dir:
 *   state.json  cursor per provider, and per account: cooldown_until,
 *               backoff, needs_login, refresh_after, last_error
 *   state.lock  the sidecar lock for state.json (never replaced)
 *   <provider>-<email>.json  each token file, locked on itself
 * Lock order: a token file's lock may be held while taking the state lock,
 * never the other way round.
 *
 * A keep-alive connection asks for an account on every request: what the
 * process read of auth-dir is kept (keep.c), and dropped here when this
 * process writes a file.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "keep.h"
#include "log.h"
#include "oauth.h"
#include "secret.h"
#include "store.h"
#include "timefmt.h"
#include "trust.h"

#define BACKOFF_MAX (30 * 60)

/* A place an account can come from: a token file, or an API key entry. */
struct cand {
	char id[256];
	const struct api_key *key;      /* NULL for a token file */
	int keyno;
};

static long
lead_of(const struct config *cfg, const char *provider)
{
	if (cfg->refresh_lead >= 0)
		return cfg->refresh_lead;
	return strcmp(provider, "codex") == 0 ? 5 * 86400L : 4 * 3600L;
}

static const struct api_key *
keys_of(const struct config *cfg, const char *provider, size_t *n)
{
	if (strcmp(provider, "codex") == 0) {
		*n = cfg->n_codex_keys;
		return cfg->codex_keys;
	}
	*n = cfg->n_claude_keys;
	return cfg->claude_keys;
}

/* Token files in name order, then API keys in config order. */
static int
candidates(const struct config *cfg, const char *provider, struct cand **out,
    size_t *nout)
{
	char *const *names;
	struct cand *c = NULL;
	const struct api_key *keys;
	size_t nkeys, nd, n = 0, i, pl = strlen(provider), len;

	keys = keys_of(cfg, provider, &nkeys);
	/* No auth-dir is fine (API keys alone, or no login yet); one we may
	 * not read is a problem to report, not an empty directory. */
	if (keep_dir_names(cfg->auth_dir, &names, &nd) == -1)
		return -1;
	if ((c = calloc(nd + nkeys + 1, sizeof *c)) == NULL)
		goto out;
	/* <provider>-*.json */
	for (i = 0; i < nd; i++) {
		len = strlen(names[i]);
		if (len < sizeof c[n].id && len >= pl + 6 &&
		    memcmp(names[i], provider, pl) == 0 && names[i][pl] == '-' &&
		    memcmp(names[i] + len - 5, ".json", 5) == 0)
			memcpy(c[n++].id, names[i], len + 1);
	}
	for (i = 0; i < nkeys; i++) {
		snprintf(c[n].id, sizeof c[n].id, "%s-api-key-%zu", provider,
		    i + 1);
		c[n].key = &keys[i];
		c[n++].keyno = (int)i + 1;
	}
out:
	*out = c;
	*nout = n;
	return c ? 0 : -1;
}

/* Run fn on the state under the state lock (exclusive when fn may change
 * it), and write the state back when fn returns 1. -1 when auth-dir has no
 * room for the state (fn then ran on an empty state). */
static int
state_run(const struct config *cfg, int excl, int durable,
    int (*fn)(cJSON *, void *), void *arg)
{
	char lockp[4200], path[4200], err[512];
	cJSON *root = NULL;
	int fd, rc = -1;

	snprintf(lockp, sizeof lockp, "%s/state.lock", cfg->auth_dir);
	snprintf(path, sizeof path, "%s/state.json", cfg->auth_dir);
	fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd != -1) {
		int corrupt;

		while (flock(fd, excl ? LOCK_EX : LOCK_SH) == -1 &&
		    errno == EINTR)
			;
		if ((root = keep_state_read(path, NULL, &corrupt)) == NULL &&
		    corrupt)
			log_warn("%s is corrupt; starting a new one", path);
	}
	if (root == NULL)
		root = cJSON_CreateObject();
	if (root && fn(root, arg) == 1 && fd != -1) {
		char *s = cJSON_Print(root);

		keep_state_forget();
		if (s == NULL || file_replace(path, s, strlen(s), durable,
		    err, sizeof err) == -1)
			log_warn("%s", s ? err : "out of memory");
		free(s);
	}
	rc = fd == -1 ? -1 : 0;
	cJSON_Delete(root);
	if (fd != -1)
		close(fd);
	return rc;
}

static cJSON *
obj(cJSON *parent, const char *key, int create)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (cJSON_IsObject(o) || !create)
		return cJSON_IsObject(o) ? o : NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	return cJSON_AddObjectToObject(parent, key);
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	/* state.json is a file like any other: a number that does not fit a
	 * time_t (1e300, inf) reads as absent, never as a wild cast. */
	return cJSON_IsNumber(j) && j->valuedouble > -1e15 &&
	    j->valuedouble < 1e15 ? j->valuedouble : 0;
}

static void
set_num(cJSON *o, const char *key, double v)
{
	cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(j))
		cJSON_SetNumberValue(j, v);
	else {
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
		cJSON_AddNumberToObject(o, key, v);
	}
}

static void
set_str(cJSON *o, const char *key, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddStringToObject(o, key, v);
}

static cJSON *
acct_state(cJSON *root, const char *id, int create)
{
	cJSON *accts = obj(root, "accounts", create);

	return accts ? obj(accts, id, create) : NULL;
}

/* The state key of a kind of client's refusal mark. */
static const char *
kind_key(enum client_kind k)
{
	return k == CLIENT_FIRST_PARTY ? "first_party" : "third_party";
}

/* The account's refusal mark for kind, when it is recent enough to
 * count; NULL otherwise. */
static const cJSON *
refusal(const cJSON *st, enum client_kind kind, long hold, time_t now)
{
	const cJSON *m;
	time_t at;

	if (kind == CLIENT_ANY)
		return NULL;
	m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    st, "refused"), kind_key(kind));
	at = (time_t)num(m, "at");
	return at > 0 && at <= now && now - at < hold ? m : NULL;
}

/* Candidates in the order to try, the cursor moved to the first. */
struct order {
	const struct want *w;
	long hold;              /* claude-refusal-cooldown */
	struct cand *c;
	size_t n;
	char (*skip)[256];
	size_t nskip;
	size_t *idx;            /* out: indexes to try */
	unsigned char *trouble; /* out: per candidate, a backoff or an error
	                         * on record that a success should clear */
	size_t nidx;
	time_t soonest;
	int needs_login;        /* skipped because they need a login */
	int refused;            /* skipped: refused this kind of client */
	time_t refused_at;      /* the latest of those refusals */
	char refused_msg[1024]; /* and what the provider said */
};

/* Skip the account for what the state says of it? Counts why. */
static int
order_skip(struct order *o, const cJSON *st, const struct cand *c, time_t now)
{
	time_t until = (time_t)num(st, "cooldown_until");
	const cJSON *m;
	size_t k;

	if (o->w->keys_only && c->key == NULL)
		return 1;
	if (c->key == NULL && (m = refusal(st, o->w->kind, o->hold, now))) {
		const char *msg = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(m, "message"));

		o->refused++;
		if ((time_t)num(m, "at") >= o->refused_at) {
			o->refused_at = (time_t)num(m, "at");
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
		o->needs_login++;
		return 1;
	}
	return 0;
}

static int
order_fn(cJSON *root, void *arg)
{
	struct order *o = arg;
	cJSON *prov = obj(root, o->w->provider, 1);
	/* No cursor yet: start with the first account in name order. */
	long cursor = cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(prov,
	    "cursor")) ? (long)num(prov, "cursor") : -1;
	time_t now = time(NULL);
	size_t i, k, tier;

	/* Subscriptions first, then API keys (billed per token), each in
	 * the shared round-robin order. */
	for (tier = 0; tier < 2; tier++)
		for (i = 0; i < o->n; i++) {
			size_t at = (size_t)(cursor + 1 + (long)i) % o->n;

			if ((o->c[at].key != NULL) != (tier == 1) ||
			    order_skip(o, acct_state(root, o->c[at].id, 0),
			    &o->c[at], now))
				continue;
			o->idx[o->nidx++] = at;
		}
	for (k = 0; k < o->nidx; k++) {
		cJSON *st = acct_state(root, o->c[o->idx[k]].id, 0);

		o->trouble[o->idx[k]] = num(st, "backoff") != 0 ||
		    cJSON_GetObjectItemCaseSensitive(st, "last_error") != NULL;
	}
	/* The state file is rewritten only when the cursor moves: with one
	 * account, never on the way of a request. */
	if (o->nidx == 0 || prov == NULL || (cJSON_IsNumber(
	    cJSON_GetObjectItemCaseSensitive(prov, "cursor")) &&
	    (size_t)num(prov, "cursor") == o->idx[0]))
		return 0;
	set_num(prov, "cursor", (double)o->idx[0]);
	return 1;
}

static int
load_cand(const struct config *cfg, const char *provider,
    const struct cand *c, struct account *a, char *err, size_t errlen)
{
	char path[4200];

	if (c->key == NULL) {
		snprintf(path, sizeof path, "%s/%s", cfg->auth_dir, c->id);
		return keep_token(path, provider, a, err, errlen);
	}
	memset(a, 0, sizeof *a);
	a->kind = ACCT_APIKEY;
	snprintf(a->id, sizeof a->id, "%s", c->id);
	snprintf(a->provider, sizeof a->provider, "%s", provider);
	a->base = c->key->base.host ? &c->key->base : NULL;
	if ((a->access_token = strdup(c->key->key)) == NULL ||
	    (a->email = strdup(c->id)) == NULL) {
		account_free(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

void
store_recheck(void)
{
	keep_recheck();
}

void
store_warm(const struct config *cfg)
{
	static const char *const providers[] = { "claude", "codex" };
	struct account a;
	struct cand *c;
	char path[4200], err[4400];
	size_t n, i, k;

	for (k = 0; k < 2; k++) {
		if (candidates(cfg, providers[k], &c, &n) == -1)
			continue;
		for (i = 0; i < n; i++) {
			if (c[i].key)
				continue;
			snprintf(path, sizeof path, "%s/%s", cfg->auth_dir,
			    c[i].id);
			if (keep_token(path, providers[k], &a, err,
			    sizeof err) == 0)
				account_free(&a);
		}
		free(c);
	}
	(void)keep_state(cfg);
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
	memset(&o, 0, sizeof o);
	memset(a, 0, sizeof *a);
	*soonest = 0;
	o.w = w;
	o.hold = cfg->claude_refusal_cooldown;
	o.skip = skip;
	o.nskip = nskip;
	if (candidates(cfg, provider, &o.c, &o.n) == -1) {
		snprintf(err, errlen, "cannot read auth-dir %s: %s: fix its "
		    "owner or mode (chmod 700)", cfg->auth_dir,
		    strerror(errno));
		goto out;
	}
	if ((o.idx = calloc(o.n + 1, sizeof *o.idx)) == NULL ||
	    (o.trouble = calloc(o.n + 1, 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* The cached state serves unless the cursor must move: that is a
	 * read-modify-write, done under the lock on a fresh read. */
	if ((root = keep_state(cfg)) == NULL || order_fn(root, &o) == 1) {
		if (root)
			keep_state_forget();
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
		if (load_cand(cfg, provider, &o.c[o.idx[i]], a, scratch,
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
		a->trouble = o.trouble[o.idx[i]];
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
	free(o.c);
	free(o.idx);
	free(o.trouble);
	return rc;
}

/* State changes for one account. */
struct mark {
	const char *id;
	time_t cooldown_until;  /* -1: leave */
	int backoff;            /* with cooldown_until 0: compute */
	int needs_login;        /* -1: leave */
	time_t refresh_after;   /* -1: leave */
	const char *error;      /* NULL: leave; "": clear */
	int clear;              /* success: drop backoff and last_error */
	time_t until;           /* out: the cooldown set */
};

static int
mark_fn(cJSON *root, void *arg)
{
	struct mark *m = arg;
	cJSON *st = acct_state(root, m->id, !m->clear);
	time_t now = time(NULL);

	if (st == NULL)
		return 0;
	if (m->clear) {
		if (num(st, "backoff") == 0 && !cJSON_GetObjectItemCaseSensitive(
		    st, "last_error"))
			return 0;
		cJSON_DeleteItemFromObjectCaseSensitive(st, "backoff");
		cJSON_DeleteItemFromObjectCaseSensitive(st, "last_error");
		return 1;
	}
	if (m->cooldown_until == 0) {
		/* No reset time given: 1 s, doubling, capped. */
		double b = num(st, "backoff");

		b = b < 1 ? 1 : b * 2 > BACKOFF_MAX ? BACKOFF_MAX : b * 2;
		set_num(st, "backoff", b);
		m->until = now + (time_t)b;
		set_num(st, "cooldown_until", (double)m->until);
	} else if (m->cooldown_until > 0) {
		m->until = m->cooldown_until;
		set_num(st, "cooldown_until", (double)m->cooldown_until);
	}
	if (m->needs_login >= 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(st, "needs_login");
		if (m->needs_login)
			cJSON_AddBoolToObject(st, "needs_login", 1);
	}
	if (m->refresh_after >= 0)
		set_num(st, "refresh_after", (double)m->refresh_after);
	if (m->error && m->error[0]) {
		set_str(st, "last_error", m->error);
		set_num(st, "last_error_at", (double)now);
	} else if (m->error)
		cJSON_DeleteItemFromObjectCaseSensitive(st, "last_error");
	return 1;
}

static void
mark(const struct config *cfg, struct mark *m, int durable)
{
	(void)state_run(cfg, 1, durable, mark_fn, m);
}

time_t
store_cooldown(const struct config *cfg, const struct account *a,
    time_t until, const char *why)
{
	struct mark m = { a->id, until, 0, -1, -1, why, 0, 0 };

	mark(cfg, &m, 0);
	return m.until;
}

void
store_ok(const struct config *cfg, const struct account *a)
{
	struct mark m = { a->id, -1, 0, -1, -1, NULL, 1, 0 };

	/* Nothing on record to clear: no lock, no read. */
	if (a->trouble)
		mark(cfg, &m, 0);
}

/* A refusal mark on one account. */
struct refusal_mark {
	const char *id;
	enum client_kind kind;
	const char *reason, *message;
};

static int
refused_fn(cJSON *root, void *arg)
{
	struct refusal_mark *m = arg;
	cJSON *st = acct_state(root, m->id, 1), *all, *one;

	if (st == NULL || (all = obj(st, "refused", 1)) == NULL)
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(all, kind_key(m->kind));
	if ((one = cJSON_AddObjectToObject(all, kind_key(m->kind))) == NULL)
		return 0;
	cJSON_AddNumberToObject(one, "at", (double)time(NULL));
	cJSON_AddStringToObject(one, "reason", m->reason);
	cJSON_AddStringToObject(one, "message", m->message);
	return 1;
}

void
store_refused(const struct config *cfg, const struct account *a,
    enum client_kind kind, const char *reason, const char *message)
{
	struct refusal_mark m = { a->id, kind, reason, message };

	if (kind != CLIENT_ANY)
		(void)state_run(cfg, 1, 0, refused_fn, &m);
}

/* Read refresh_after of an account. */
struct peek {
	const char *id;
	time_t refresh_after;
	cJSON *copy;            /* with want_copy: the account's state */
	int want_copy;
};

static int
peek_fn(cJSON *root, void *arg)
{
	struct peek *p = arg;
	cJSON *st = acct_state(root, p->id, 0);

	p->refresh_after = (time_t)num(st, "refresh_after");
	if (p->want_copy && st)
		p->copy = cJSON_Duplicate(st, 1);
	return 0;
}

static int
stale(const struct account *a, long lead, time_t now)
{
	return a->expires != 0 && a->expires - now < lead;
}

/* Take over the tokens of b into a. */
static void
adopt(struct account *a, struct account *b)
{
	secret_free(&a->access_token);
	secret_free(&a->refresh_token);
	a->access_token = b->access_token;
	a->refresh_token = b->refresh_token;
	b->access_token = b->refresh_token = NULL;
	a->expires = b->expires;
	if (b->account_id) {
		free(a->account_id);
		a->account_id = b->account_id;
		b->account_id = NULL;
	}
}

/* Write the grant into the token file's JSON, keeping every field we do
 * not know, and replace the file. Called with the file locked. */
static int
save_grant(const struct account *a, cJSON *root, const struct oauth_grant *g,
    char *err, size_t errlen)
{
	char when[32], now_s[32];
	time_t now = time(NULL);
	char *s;
	int rc;

	timefmt_format(now + (g->expires_in > 0 ? g->expires_in : 3600),
	    when, sizeof when);
	timefmt_format(now, now_s, sizeof now_s);
	set_str(root, "access_token", g->access_token);
	if (g->refresh_token)
		set_str(root, "refresh_token", g->refresh_token);
	if (g->id_token)
		set_str(root, "id_token", g->id_token);
	set_str(root, "expired", when);
	set_str(root, "last_refresh", now_s);
	if ((s = cJSON_Print(root)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = file_replace(a->file, s, strlen(s), 1, err, errlen);
	keep_token_forget(a->file);
	explicit_bzero(s, strlen(s));
	free(s);
	return rc;
}

/* Read the locked file into a tree and an account. */
static int
reread(int fd, const struct account *a, cJSON **root, struct account *now,
    char *err, size_t errlen)
{
	struct buf b = BUF_SECRET;
	char why[128];
	int rc = -1;

	*root = NULL;
	if (token_read(fd, a->file, &b, err, errlen) == -1)
		goto out;
	if (token_parse(b.p, b.len, now, why, sizeof why) == -1 ||
	    (*root = cJSON_ParseWithLength(b.p, b.len)) == NULL) {
		snprintf(err, errlen, "token file %s: %s", a->file, why);
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* One refresh grant on the locked file. Returns an enum oauth_rc. */
static int
refresh_locked(const struct config *cfg, struct account *a, cJSON *root,
    struct account *cur, time_t *retry_at, char *err, size_t errlen)
{
	struct oauth_grant g;
	struct trust ta;
	char why[1024];
	int rc;

	if (trust_load_cached(&ta, cfg->ca_file, cfg->auth_dir, why,
	    sizeof why) == -1) {
		snprintf(err, errlen, "%s", why);
		return OAUTH_FAIL;
	}
	rc = oauth_refresh(cfg, &ta, a->provider, cur->refresh_token, &g, err,
	    errlen);
	trust_free(&ta);
	*retry_at = g.retry_at;
	if (rc != OAUTH_OK)
		return rc;
	/* The old refresh token may be dead now: store before anything. */
	if (save_grant(a, root, &g, why, sizeof why) == -1)
		log_err("%s: the refreshed token is used for this request "
		    "only; the next refresh may need a new login", why);
	secret_free(&cur->access_token);
	cur->access_token = g.access_token;
	g.access_token = NULL;
	if (g.refresh_token) {
		secret_free(&cur->refresh_token);
		cur->refresh_token = g.refresh_token;
		g.refresh_token = NULL;
	}
	cur->expires = time(NULL) + (g.expires_in > 0 ? g.expires_in : 3600);
	oauth_grant_free(&g);
	adopt(a, cur);
	log_info("refreshed the %s token of %s", a->provider,
	    a->email ? a->email : a->id);
	return OAUTH_OK;
}

/* strict: any failed refresh is a failure, even with a token left. */
static int
fresh(const struct config *cfg, struct account *a, int force, int strict,
    char *err, size_t errlen)
{
	long lead = lead_of(cfg, a->provider);
	time_t now = time(NULL), retry_at = 0;
	struct account cur;
	struct peek pk = { a->id, 0, NULL, 0 };
	struct mark m = { a->id, -1, 0, -1, -1, NULL, 0, 0 };
	cJSON *root = NULL;
	char *used_rt = NULL;
	int fd, rc = -1, r, tries;

	memset(&cur, 0, sizeof cur);
	if (a->kind == ACCT_APIKEY || a->file == NULL)
		return force ? -1 : 0;
	if (!force && !stale(a, lead, now))
		return 0;
	if ((fd = token_lock(a->file, LOCK_EX)) == -1) {
		snprintf(err, errlen, "token file %s: %s", a->file,
		    strerror(errno));
		return -1;
	}
	if (reread(fd, a, &root, &cur, err, errlen) == -1)
		goto out;
	/* Someone refreshed (or logged in) while we waited for the lock. */
	if (strcmp(cur.access_token, a->access_token) != 0 &&
	    !stale(&cur, lead, now)) {
		adopt(a, &cur);
		rc = 0;
		goto out;
	}
	if (!force && !stale(&cur, lead, now)) {
		adopt(a, &cur);
		rc = 0;
		goto out;
	}
	(void)state_run(cfg, 0, 0, peek_fn, &pk);
	if (pk.refresh_after > now) {
		snprintf(err, errlen, "the %s token endpoint asked to wait",
		    a->provider);
		r = OAUTH_LIMITED;
	} else if (cur.refresh_token == NULL) {
		snprintf(err, errlen, "token file %s has no refresh_token: log "
		    "in again with cli-proxy-api --%s-login", a->file,
		    a->provider);
		r = OAUTH_INVALID;
	} else {
		for (tries = 0; tries < 2; tries++) {
			free(used_rt);
			used_rt = strdup(cur.refresh_token);
			r = refresh_locked(cfg, a, root, &cur, &retry_at, err,
			    errlen);
			if (r != OAUTH_INVALID || tries > 0 || used_rt == NULL)
				break;
			/* Someone else may have rotated it: re-read once. */
			cJSON_Delete(root);
			account_free(&cur);
			close(fd);
			if ((fd = token_lock(a->file, LOCK_EX)) == -1 ||
			    reread(fd, a, &root, &cur, err, errlen) == -1 ||
			    cur.refresh_token == NULL ||
			    strcmp(cur.refresh_token, used_rt) == 0)
				break;
			if (!stale(&cur, lead, now) && strcmp(cur.access_token,
			    a->access_token) != 0) {
				adopt(a, &cur);
				r = OAUTH_OK;
				break;
			}
		}
	}
	if (r == OAUTH_OK) {
		rc = 0;
		m.needs_login = 0;
		m.error = "";
	} else if (r == OAUTH_INVALID) {
		m.needs_login = 1;
		m.error = err;
		log_err("%s account %s needs a new login: %s", a->provider,
		    a->email ? a->email : a->id, err);
	} else {
		m.error = err;
		if (r == OAUTH_LIMITED && pk.refresh_after <= now)
			m.refresh_after = retry_at > now ? retry_at : now + 60;
		/* Not expired yet: better a working token than none. */
		if (!force && !strict && (a->expires == 0 || a->expires > now)) {
			log_warn("%s; using the current %s token of %s until "
			    "it expires", err, a->provider,
			    a->email ? a->email : a->id);
			rc = 0;
		}
	}
out:
	if (fd != -1)
		close(fd);
	secret_json_delete(root);
	account_free(&cur);
	if (used_rt)
		secret_free(&used_rt);
	/* The state is touched after the token file's lock is gone. */
	if (m.needs_login >= 0 || m.error || m.refresh_after >= 0)
		mark(cfg, &m, m.needs_login == 1);
	return rc;
}

int
store_fresh(const struct config *cfg, struct account *a, int force,
    char *err, size_t errlen)
{
	return fresh(cfg, a, force, 0, err, errlen);
}

/* "third-party use refused 12m ago: extra usage off" for each mark
 * that still holds. */
static void
status_refusals(const struct config *cfg, const cJSON *st, time_t now,
    FILE *out)
{
	static const enum client_kind kinds[] = { CLIENT_THIRD_PARTY,
	    CLIENT_FIRST_PARTY };
	char r[32];
	size_t i;

	for (i = 0; i < 2; i++) {
		const cJSON *m = refusal(st, kinds[i],
		    cfg->claude_refusal_cooldown, now);
		const char *why;

		if (m == NULL)
			continue;
		why = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m,
		    "reason"));
		timefmt_rel((time_t)num(m, "at"), now, r, sizeof r);
		fprintf(out, "; %s use refused %s%s%s",
		    kinds[i] == CLIENT_FIRST_PARTY ? "Claude Code" :
		    "third-party", r, why ? ": " : "", why ? why : "");
	}
}

static void
status_line(const struct config *cfg, const char *provider,
    const struct cand *c, FILE *out)
{
	struct account a;
	struct peek pk = { c->id, 0, NULL, 1 };
	char err[1024], when[32], r[32];
	time_t now = time(NULL), until;
	const cJSON *le;

	(void)state_run(cfg, 0, 0, peek_fn, &pk);
	fprintf(out, "%-7s", provider);
	if (load_cand(cfg, provider, c, &a, err, sizeof err) == -1) {
		fprintf(out, " %-32s unusable: %s\n", c->id, err);
		cJSON_Delete(pk.copy);
		return;
	}
	fprintf(out, " %-32s", a.kind == ACCT_APIKEY ? a.id :
	    a.email ? a.email : a.id);
	if (a.kind == ACCT_APIKEY)
		fprintf(out, " api-key");
	else if (a.expires) {
		timefmt_format(a.expires, when, sizeof when);
		timefmt_rel(a.expires, now, r, sizeof r);
		fprintf(out, " %s %s (%s)", a.expires > now ? "expires" :
		    "expired", when, r);
	} else
		fprintf(out, " expiry unknown");
	if (a.disabled)
		fprintf(out, " disabled");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pk.copy,
	    "needs_login")))
		fprintf(out, " needs-login (run cli-proxy-api --%s-login)",
		    provider);
	until = (time_t)num(pk.copy, "cooldown_until");
	if (until > now) {
		timefmt_rel(until, now, r, sizeof r);
		fprintf(out, " cooling down until %s", r);
	}
	status_refusals(cfg, pk.copy, now, out);
	le = cJSON_GetObjectItemCaseSensitive(pk.copy, "last_error");
	if (cJSON_IsString(le))
		fprintf(out, "; last error: %s", le->valuestring);
	fputc('\n', out);
	cJSON_Delete(pk.copy);
	account_free(&a);
}

int
store_status(const struct config *cfg, FILE *out)
{
	static const char *const providers[] = { "claude", "codex" };
	struct cand *c;
	size_t n, i, p, total = 0;

	for (p = 0; p < 2; p++) {
		if (candidates(cfg, providers[p], &c, &n) == -1) {
			fprintf(out, "cannot read auth-dir %s: %s\n",
			    cfg->auth_dir, strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++)
			status_line(cfg, providers[p], &c[i], out);
		total += n;
		free(c);
	}
	if (total == 0)
		fprintf(out, "no accounts in %s and no api keys in the config: "
		    "run cli-proxy-api --claude-login\n", cfg->auth_dir);
	return 0;
}

int
store_refresh_all(const struct config *cfg, FILE *out)
{
	static const char *const providers[] = { "claude", "codex" };
	struct cand *c;
	size_t n, i, p;
	int bad = 0;

	for (p = 0; p < 2; p++) {
		if (candidates(cfg, providers[p], &c, &n) == -1) {
			fprintf(out, "cannot read auth-dir %s: %s\n",
			    cfg->auth_dir, strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct account a;
			char err[1024], when[32];
			time_t before;

			if (c[i].key != NULL)
				continue;
			if (load_cand(cfg, providers[p], &c[i], &a, err,
			    sizeof err) == -1) {
				fprintf(out, "%s %s: %s\n", providers[p],
				    c[i].id, err);
				bad = 1;
				continue;
			}
			if (a.disabled) {
				account_free(&a);
				continue;
			}
			before = a.expires;
			if (fresh(cfg, &a, 0, 1, err, sizeof err) == -1) {
				fprintf(out, "%s %s: %s\n", providers[p],
				    a.email ? a.email : a.id, err);
				bad = 1;
			} else {
				timefmt_format(a.expires, when, sizeof when);
				fprintf(out, "%s %s: %s, expires %s\n",
				    providers[p], a.email ? a.email : a.id,
				    a.expires != before ? "refreshed" : "fresh",
				    a.expires ? when : "unknown");
			}
			account_free(&a);
		}
		free(c);
	}
	return bad ? -1 : 0;
}

int
store_has(const struct config *cfg, const char *provider)
{
	struct cand *c;
	size_t n;

	if (candidates(cfg, provider, &c, &n) == -1)
		return 0;
	free(c);
	return n > 0;
}
