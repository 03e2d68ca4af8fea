/*
 * Each account's figures (its limits and its plan) in state.json. Every
 * answer's headers carry the limits, so writing them each time would
 * rewrite state.json on every request: a record is written only when a
 * figure moved by a percentage point, a status changed or a reset moved,
 * which for a steady account is a few times an hour.
 *
 * The providers also publish the figures without spending a request:
 * Anthropic's /api/oauth/usage (and /api/oauth/profile for the plan) and
 * Codex's /backend-api/wham/usage. There is no daemon here to poll them,
 * so the processes that already run ask, sparingly: an account is asked
 * when its figures are older than usage-refresh, at most once per
 * usage-refresh across all processes (the time asked is claimed in
 * state.json under its lock before the request goes), never while an
 * answer's headers are younger than a minute, never again after a 403
 * (a token without the user:profile scope) until a new login, and after
 * a 429 or a 5xx only once a backoff (a minute, doubling to an hour) has
 * run. Each request goes under the proxy's own User-Agent.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "accounts/ask.h"
#include "accounts/authdir.h"
#include "accounts/figures.h"
#include "accounts/refresh.h"
#include "accounts/state.h"
#include "network/httpc.h"
#include "network/net.h"
#include "network/trust.h"
#include "parsers/usageapi.h"
#include "support/log.h"

#define ANSWER_MAX (1 << 20)

/* ------------------------------------------------------ from the headers */

struct rec {
	const char *id;
	const struct quota *q;
};

/* prev with the answer's figures over it: a window the headers do not
 * name (a model's week the endpoint gave) stays. 1 when that changed
 * anything worth a write. */
static int
merged(const cJSON *st, const struct quota *q, struct quota *out)
{
	struct quota prev;

	quota_from_json(cJSON_GetObjectItemCaseSensitive(st, "quota"), &prev);
	*out = prev;
	quota_merge(out, q);
	return quota_changed(&prev, out);
}

/* Under the state lock, on a fresh read: write only what changed. */
static int
record_fn(cJSON *root, void *arg)
{
	struct rec *r = arg;
	struct quota next;
	cJSON *st = state_account(root, r->id, 1), *o;

	if (st == NULL || !merged(st, r->q, &next))
		return 0;
	next.at = time(NULL);
	cJSON_DeleteItemFromObjectCaseSensitive(st, "quota");
	if ((o = cJSON_AddObjectToObject(st, "quota")) == NULL)
		return 0;
	quota_to_json(&next, o);
	return 1;
}

void
figures_record(const struct config *cfg, const char *id,
    const struct quota *q)
{
	struct rec r = { id, q };
	struct quota next;
	const cJSON *kept = authdir_state(cfg);

	if (!quota_said(q))
		return;
	if (kept && !merged(state_account((cJSON *)(uintptr_t)kept, id, 0), q,
	    &next))
		return;
	(void)state_run(cfg, 1, 0, record_fn, &r);
}

/* ----------------------------------------------------- the asking record */

void
figures_ask_of(const cJSON *st, const char *key, struct figures_ask *a)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(st, "usage_api");
	const char *dk = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(u, "denied_key"));
	const char *e = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(u, "error"));

	memset(a, 0, sizeof *a);
	a->asked = (time_t)state_num(u, "asked");
	a->wait_until = (time_t)state_num(u, "wait_until");
	a->backoff = (int)state_num(u, "backoff");
	a->denied = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(u,
	    "denied")) && (key == NULL || dk == NULL || strcmp(dk, key) == 0);
	snprintf(a->error, sizeof a->error, "%s", e ? e : "");
}

/* Is the account of state st (its token's key) due for an ask at now?
 * With key NULL, what the token does not decide: a 403 remembered is
 * left to the look with the key. */
static int
due(const struct config *cfg, const cJSON *st, const char *key, int which,
    time_t now)
{
	struct figures_ask a;
	struct quota q;

	figures_ask_of(st, key, &a);
	quota_from_json(cJSON_GetObjectItemCaseSensitive(st, "quota"), &q);
	if ((key && a.denied) || now < a.wait_until ||
	    (a.asked && now - a.asked < cfg->usage_refresh && now >= a.asked))
		return 0;
	if (which == FIGURES_NONE)
		return q.at == 0;
	if (q.at && !q.from_api && now - q.at < FIGURES_FRESH)
		return 0;
	return q.at == 0 || now - q.at >= cfg->usage_refresh || now < q.at;
}

struct claim {
	const struct config *cfg;
	const char *id, *key;
	int which;
	time_t now;
	int won;
	int plan_due;           /* the profile is asked too */
};

/* Under the lock, on a fresh read: still due, and nobody claimed it
 * meanwhile? Then the ask is this process's. */
static int
claim_fn(cJSON *root, void *arg)
{
	struct claim *c = arg;
	cJSON *st = state_account(root, c->id, 1), *u;
	struct plan p;

	if (st == NULL || !due(c->cfg, st, c->key, c->which, c->now))
		return 0;
	if ((u = state_obj(st, "usage_api", 1)) == NULL)
		return 0;
	state_set_num(u, "asked", (double)c->now);
	plan_from_json(cJSON_GetObjectItemCaseSensitive(st, "plan"), &p);
	c->plan_due = p.at == 0 || c->now - p.at >= FIGURES_PLAN_EVERY;
	c->won = 1;
	return 1;
}

/* What came of one ask. */
struct outcome {
	const char *id, *key;
	int status;             /* the endpoint's; 0: no answer */
	time_t retry_at;
	struct quota q;         /* with status 200 */
	struct plan p;
	char error[256];
};

static int
outcome_fn(cJSON *root, void *arg)
{
	struct outcome *o = arg;
	cJSON *st = state_account(root, o->id, 1), *u, *j;
	struct quota q;
	struct plan p;
	time_t now = time(NULL), wait;
	int b;

	if (st == NULL || (u = state_obj(st, "usage_api", 1)) == NULL)
		return 0;
	if (o->status == 200) {
		quota_from_json(cJSON_GetObjectItemCaseSensitive(st, "quota"),
		    &q);
		quota_merge(&q, &o->q);
		plan_from_json(cJSON_GetObjectItemCaseSensitive(st, "plan"), &p);
		plan_merge(&p, &o->p);
		cJSON_DeleteItemFromObjectCaseSensitive(st, "quota");
		cJSON_DeleteItemFromObjectCaseSensitive(st, "plan");
		if ((j = cJSON_AddObjectToObject(st, "quota")) != NULL)
			quota_to_json(&q, j);
		if ((j = cJSON_AddObjectToObject(st, "plan")) != NULL)
			plan_to_json(&p, j);
		cJSON_DeleteItemFromObjectCaseSensitive(u, "backoff");
		cJSON_DeleteItemFromObjectCaseSensitive(u, "wait_until");
		cJSON_DeleteItemFromObjectCaseSensitive(u, "error");
		cJSON_DeleteItemFromObjectCaseSensitive(u, "denied");
		cJSON_DeleteItemFromObjectCaseSensitive(u, "denied_key");
		return 1;
	}
	state_set_str(u, "error", o->error);
	if (o->status == 403) {
		cJSON_DeleteItemFromObjectCaseSensitive(u, "denied");
		cJSON_AddTrueToObject(u, "denied");
		state_set_str(u, "denied_key", o->key ? o->key : "");
		return 1;
	}
	/* A 429 (Retry-After 0 is what these tools are seen to get), a 5xx
	 * or no answer: back off, doubling. */
	b = (int)state_num(u, "backoff");
	b = b < FIGURES_BACKOFF ? FIGURES_BACKOFF : b * 2 > FIGURES_BACKOFF_MAX
	    ? FIGURES_BACKOFF_MAX : b * 2;
	wait = now + b;
	if (o->retry_at > wait && o->retry_at < now + FIGURES_BACKOFF_MAX)
		wait = o->retry_at;
	state_set_num(u, "backoff", b);
	state_set_num(u, "wait_until", (double)wait);
	return 1;
}

/* ------------------------------------------------------------- the asks */

/* A fetch under way: its bounds, the trust anchors once loaded. */
struct run {
	const struct config *cfg;
	struct trust ta;
	int loaded;
	long long deadline;
};

/* The endpoint's target: Anthropic's beside the Messages API, Codex's
 * beside the backend's /codex (https://chatgpt.com/backend-api/wham/
 * usage). */
static int
target(const struct config *cfg, int codex, const char *what, struct buf *t)
{
	const char *path = codex ? cfg->codex_base.path : cfg->claude_base.path;
	size_t n = strlen(path);

	if (codex && n >= 6 && strcmp(path + n - 6, "/codex") == 0)
		n -= 6;
	return buf_addf(t, "%.*s%s", (int)n, path, what);
}

/* One GET of what (a path) with a's token. The status (0: no answer),
 * the body into body. */
static int
get(struct run *k, const struct account *a, const char *what,
    struct httpc_resp *rs, char *err, size_t errlen)
{
	struct buf t = { 0 };
	int rc = 0;

	memset(rs, 0, sizeof *rs);
	if (target(k->cfg, strcmp(a->provider, "codex") == 0, what, &t) == -1)
		snprintf(err, errlen, "out of memory");
	else
		rc = ask_get(k->cfg, &k->ta, a, t.p, NULL, ANSWER_MAX,
		    k->deadline, rs, err, errlen);
	buf_free(&t);
	return rc;
}

/* The usage (and, when due, the profile) of a into o. */
static void
ask(struct run *k, struct account *a, int plan_due, struct outcome *o)
{
	int codex = strcmp(a->provider, "codex") == 0, again;
	struct httpc_resp rs;
	time_t now;

	for (again = 0; again < 2; again++) {
		o->status = get(k, a, codex ? "/wham/usage" : "/api/oauth/usage",
		    &rs, o->error, sizeof o->error);
		if (o->status == 401 && !again && refresh_account(k->cfg, a, 1,
		    o->error, sizeof o->error) == 0) {
			httpc_resp_free(&rs);
			continue;
		}
		break;
	}
	now = time(NULL);
	if (o->status && o->status != 200)
		snprintf(o->error, sizeof o->error, "the usage endpoint "
		    "answered %d", o->status);
	if (o->status == 200 && (codex ? usageapi_codex(rs.body.p, rs.body.len,
	    now, &o->q, &o->p) : usageapi_claude(rs.body.p, rs.body.len, now,
	    &o->q, &o->p)) == -1) {
		o->status = 0;
		snprintf(o->error, sizeof o->error, "the usage endpoint's "
		    "answer is not what it should be");
	}
	o->retry_at = o->status ? rs.retry_at : 0;
	httpc_resp_free(&rs);
	o->q.from_api = 1;
	if (o->status != 200 || codex || !plan_due)
		return;
	/* The plan: a failure here costs only the plan's name. */
	if (get(k, a, "/api/oauth/profile", &rs, o->error, sizeof o->error) ==
	    200)
		(void)usageapi_profile(rs.body.p, rs.body.len, now, &o->p);
	httpc_resp_free(&rs);
	o->error[0] = '\0';
}

/* One account: due, claimed, asked, kept. 1 when asked. */
static int
one(struct run *k, const char *provider, const struct acct_ref *ref,
    int which)
{
	struct claim c = { k->cfg, ref->id, NULL, which, time(NULL), 0, 0 };
	struct outcome o;
	struct account a;
	char key[KEYHASH_LEN], err[1100];
	const cJSON *st;

	/* Not due whatever the token: its file is not read. */
	st = state_account((cJSON *)(uintptr_t)authdir_state(k->cfg), ref->id,
	    0);
	if (ref->key || !due(k->cfg, st, NULL, which, c.now) ||
	    authdir_load(k->cfg, provider, ref, &a, err, sizeof err) == -1)
		return 0;
	token_key(&a, key);
	c.key = key;
	/* The load may have read the state again. */
	st = state_account((cJSON *)(uintptr_t)authdir_state(k->cfg), ref->id,
	    0);
	/* An expired token without a refresh token is the login's
	 * business: a look at the figures must not mark the account. */
	if (a.disabled || state_needs_login(st, key) || (a.expires &&
	    a.expires < c.now + 60 && !(a.refresh_token &&
	    a.refresh_token[0])) ||
	    !due(k->cfg, st, key, which, c.now) ||
	    state_run(k->cfg, 1, 0, claim_fn, &c) == -1 || !c.won) {
		account_free(&a);
		return 0;
	}
	memset(&o, 0, sizeof o);
	if (!k->loaded && trust_load_cached(&k->ta, k->cfg->ca_file,
	    k->cfg->auth_dir, o.error, sizeof o.error) == 0)
		k->loaded = 1;
	o.id = ref->id;
	o.key = key;
	quota_init(&o.q);
	plan_init(&o.p);
	/* An expired token is refreshed first; one about to expire serves. */
	if (!k->loaded || (a.expires && a.expires < c.now + 60 &&
	    refresh_account(k->cfg, &a, 1, o.error, sizeof o.error) != 0))
		o.status = 0;
	else
		ask(k, &a, c.plan_due, &o);
	if (o.status != 200)
		log_warn("%s %s: usage figures not had: %s", provider,
		    a.email ? a.email : ref->id, o.error);
	(void)state_run(k->cfg, 1, 0, outcome_fn, &o);
	account_free(&a);
	return 1;
}

int
figures_fetch(const struct config *cfg, const char *provider, int which,
    int budget_ms)
{
	static const char *const all[] = { "claude", "codex" };
	struct run k;
	struct acct_ref *c;
	size_t n, i, p;
	int asked = 0;

	memset(&k, 0, sizeof k);
	k.cfg = cfg;
	k.deadline = net_now_ms() + budget_ms;
	for (p = 0; p < 2; p++) {
		if ((provider && strcmp(provider, all[p]) != 0) ||
		    authdir_accounts(cfg, all[p], &c, &n) == -1)
			continue;
		for (i = 0; i < n && net_now_ms() < k.deadline; i++)
			asked += one(&k, all[p], &c[i], which);
		free(c);
	}
	if (k.loaded)
		trust_free(&k.ta);
	return asked;
}
