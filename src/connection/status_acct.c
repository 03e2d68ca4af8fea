/*
 * One account as the status page and /status.json show it: its file and
 * expiry, cooldown, refusals, each limit window with its reset, the age
 * and source of those figures, its plan and extra usage, and how its
 * usage endpoint is being asked. Never a token.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <time.h>

#include "connection/status_acct.h"
#include "support/timefmt.h"

static void
add_time(cJSON *o, const char *key, time_t t)
{
	char when[32];

	if (t <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	timefmt_format(t, when, sizeof when);
	cJSON_AddStringToObject(o, key, when);
}

/* The refusal marks that still hold: {"third_party": {"at", "ago",
 * "reason", "message"} or null, "first_party": ...}. */
static void
account_refusals(cJSON *o, const struct view *v, time_t now)
{
	static const char *const kinds[] = { "third_party", "first_party" };
	cJSON *r = cJSON_AddObjectToObject(o, "refused"), *m;
	size_t i;

	for (i = 0; r && i < 2; i++) {
		const struct view_refusal *f = &v->refused[i];

		if (f->at == 0 || (m = cJSON_AddObjectToObject(r,
		    kinds[i])) == NULL) {
			cJSON_AddNullToObject(r, kinds[i]);
			continue;
		}
		add_time(m, "at", f->at);
		cJSON_AddNumberToObject(m, "ago", (double)(now - f->at));
		cJSON_AddStringToObject(m, "reason", f->reason);
		cJSON_AddStringToObject(m, "message", f->message);
	}
}

/* An account's last error, also listed with the usage errors. */
static void
account_error(cJSON *o, const struct view *v, cJSON *errs)
{
	cJSON *e;

	if (v->last_error[0] == '\0') {
		cJSON_AddNullToObject(o, "last_error");
		cJSON_AddNullToObject(o, "last_error_at");
		return;
	}
	cJSON_AddStringToObject(o, "last_error", v->last_error);
	add_time(o, "last_error_at", v->last_error_at);
	if ((e = cJSON_CreateObject()) == NULL)
		return;
	add_time(e, "time", v->last_error_at);
	cJSON_AddStringToObject(e, "source", "account");
	cJSON_AddStringToObject(e, "provider", v->provider);
	cJSON_AddStringToObject(e, "account", v->name);
	cJSON_AddNullToObject(e, "model");
	cJSON_AddNullToObject(e, "status");
	cJSON_AddStringToObject(e, "message", v->last_error);
	cJSON_AddItemToArray(errs, e);
}

static void
add_word(cJSON *o, const char *key, const char *v)
{
	if (v[0])
		cJSON_AddStringToObject(o, key, v);
	else
		cJSON_AddNullToObject(o, key);
}

static void
add_flag(cJSON *o, const char *key, int v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, key);
	else
		cJSON_AddBoolToObject(o, key, v);
}

/* What its answers said of its limits: per window the used fraction and
 * the reset; null when they said nothing. */
static void
account_quota(cJSON *o, const struct view *v, time_t now)
{
	const struct quota *q = &v->quota;
	cJSON *j, *ws, *w, *cr;
	int i;

	if (!quota_said(q)) {
		cJSON_AddNullToObject(o, "quota");
		return;
	}
	if ((j = cJSON_AddObjectToObject(o, "quota")) == NULL ||
	    (ws = cJSON_AddArrayToObject(j, "windows")) == NULL)
		return;
	add_word(j, "status", q->status);
	add_word(j, "claim", q->claim);
	add_word(j, "overage", q->overage);
	add_time(j, "at", q->at);
	cJSON_AddNumberToObject(j, "age", q->at ? (double)(now - q->at) : 0);
	cJSON_AddStringToObject(j, "source", q->from_api ? "usage endpoint" :
	    "answers");
	cJSON_AddBoolToObject(j, "stale", v->stale);
	for (i = 0; i < q->n; i++) {
		const struct quota_window *qw = &q->w[i];
		/* A window past its reset starts afresh. */
		int fresh = qw->reset && qw->reset <= now;

		if ((w = cJSON_CreateObject()) == NULL)
			return;
		cJSON_AddItemToArray(ws, w);
		cJSON_AddStringToObject(w, "name", qw->name);
		if (qw->used < 0)
			cJSON_AddNullToObject(w, "used");
		else
			cJSON_AddNumberToObject(w, "used", fresh ? 0 : qw->used);
		add_time(w, "reset", fresh ? 0 : qw->reset);
		if (qw->reset > now)
			cJSON_AddNumberToObject(w, "resets_in",
			    (double)(qw->reset - now));
		else
			cJSON_AddNullToObject(w, "resets_in");
		add_word(w, "status", fresh ? "" : qw->status);
	}
	if (q->credits < 0 && q->unlimited < 0 && q->balance < 0)
		return;
	if ((cr = cJSON_AddObjectToObject(j, "credits")) == NULL)
		return;
	add_flag(cr, "has_credits", q->credits);
	add_flag(cr, "unlimited", q->unlimited);
	if (q->balance < 0)
		cJSON_AddNullToObject(cr, "balance");
	else
		cJSON_AddNumberToObject(cr, "balance", q->balance);
}

/* Its plan and extra usage (dollars), and how its usage endpoint is
 * being asked. */
static void
account_plan(cJSON *o, const struct view *v, time_t now)
{
	const struct plan *p = &v->plan;
	cJSON *j, *e, *u;

	if (p->at == 0 && !p->name[0] && p->extra < 0)
		cJSON_AddNullToObject(o, "plan");
	else if ((j = cJSON_AddObjectToObject(o, "plan")) != NULL) {
		add_word(j, "name", p->name);
		if ((e = cJSON_AddObjectToObject(j, "extra_usage")) != NULL) {
			add_flag(e, "enabled", p->extra);
			if (p->extra_used >= 0)
				cJSON_AddNumberToObject(e, "used",
				    p->extra_used / 100.0);
			else
				cJSON_AddNullToObject(e, "used");
			if (p->extra_limit >= 0)
				cJSON_AddNumberToObject(e, "limit",
				    p->extra_limit / 100.0);
			else
				cJSON_AddNullToObject(e, "limit");
		}
	}
	if (v->kind == ACCT_APIKEY ||
	    (u = cJSON_AddObjectToObject(o, "usage_endpoint")) == NULL)
		return;
	cJSON_AddBoolToObject(u, "denied", v->ask.denied);
	add_time(u, "asked", v->ask.asked);
	cJSON_AddNumberToObject(u, "retry_in", v->ask.wait_until > now ?
	    (double)(v->ask.wait_until - now) : 0);
	add_word(u, "error", v->ask.error);
}

void
status_account(cJSON *o, const struct view *v, time_t now, cJSON *errs)
{
	cJSON_AddStringToObject(o, "provider", v->provider);
	cJSON_AddStringToObject(o, "id", v->id);
	cJSON_AddStringToObject(o, "kind", v->kind == ACCT_APIKEY ?
	    "api-key" : "oauth");
	cJSON_AddStringToObject(o, "email", v->name);
	add_time(o, "expires", v->loaded ? v->expires : 0);
	if (v->loaded && v->expires)
		cJSON_AddNumberToObject(o, "expires_in",
		    (double)(v->expires - now));
	else
		cJSON_AddNullToObject(o, "expires_in");
	cJSON_AddBoolToObject(o, "disabled", v->disabled);
	if (v->loaded)
		cJSON_AddNullToObject(o, "problem");
	else
		cJSON_AddStringToObject(o, "problem", v->problem);
	add_time(o, "cooldown_until", v->cooldown_until);
	cJSON_AddNumberToObject(o, "cooldown_remaining", v->cooldown_until ?
	    (double)(v->cooldown_until - now) : 0);
	cJSON_AddBoolToObject(o, "needs_login", v->needs_login);
	account_refusals(o, v, now);
	account_quota(o, v, now);
	account_plan(o, v, now);
	account_error(o, v, errs);
}
