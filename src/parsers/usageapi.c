/*
 * The providers' usage endpoints read: the same figures an answer's
 * headers carry (quota.h), without spending a request, and the plan they
 * belong to. Anthropic's /api/oauth/usage gives each window's utilization
 * in percent (the headers give a fraction) and its reset as RFC 3339, and
 * extra usage in cents; /api/oauth/profile the plan and whether extra
 * usage is on. Codex's /backend-api/wham/usage gives its windows as
 * primary and secondary, which say nothing of their length: a window is
 * named by limit_window_seconds (on some plans the primary one is the
 * weekly one and there is no 5-hour window).
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers/json.h"
#include "parsers/usageapi.h"
#include "support/timefmt.h"

/* A plan's name as people read it, from what came over the network:
 * letters, digits, spaces, '-', '.' and '_' only. */
static void
plan_name(char *dst, size_t n, const char *s)
{
	size_t k = 0;

	for (; *s && k + 1 < n; s++)
		if (isalnum((unsigned char)*s) || strchr(" -._", *s))
			dst[k++] = *s;
	dst[k] = '\0';
	if (k)
		dst[0] = (char)toupper((unsigned char)dst[0]);
}

/* true 1, false 0, else -1. */
static int
flag(const cJSON *o, const char *k)
{
	const cJSON *j = json_get(o, k);

	return cJSON_IsTrue(j) ? 1 : cJSON_IsFalse(j) ? 0 : -1;
}

/* One window from {utilization|percent, resets_at}: percent to a
 * fraction. */
static void
claude_window(struct quota *q, const char *key, const cJSON *o,
    const char *pct)
{
	struct quota_window *w;
	char name[QUOTA_NAME];
	double used = json_num(o, pct, 0, 10000, -1);
	time_t t;

	if (!cJSON_IsObject(o) || used < 0)
		return;
	snprintf(name, sizeof name, "%s", key);
	quota_claim_name(name, sizeof name);
	if ((w = quota_window(q, name)) == NULL)
		return;
	w->used = used / 100;
	if ((t = timefmt_parse(json_str(o, "resets_at"))) > 0)
		w->reset = t;
}

/* The newer "limits" list: session is the 5-hour window, weekly_all the
 * week, weekly_scoped a model's week (named after its scope). */
static void
claude_limits(struct quota *q, const cJSON *limits)
{
	const cJSON *l;
	char key[QUOTA_NAME];

	cJSON_ArrayForEach(l, (cJSON_IsArray(limits) ? limits : NULL)) {
		const char *kind = json_str(l, "kind");
		const cJSON *sc = json_get(l, "scope");
		const char *m = *json_str(sc, "model") ? json_str(sc, "model")
		    : json_str(sc, "name");

		if (strcmp(kind, "session") == 0)
			snprintf(key, sizeof key, "five_hour");
		else if (strcmp(kind, "weekly_all") == 0)
			snprintf(key, sizeof key, "seven_day");
		else if (strcmp(kind, "weekly_scoped") == 0)
			snprintf(key, sizeof key, "seven_day_%.12s",
			    *m ? m : "scoped");
		else
			continue;
		/* A model name is a window name: letters, digits, _. */
		for (char *c = key; *c; c++)
			if (!isalnum((unsigned char)*c))
				*c = '_';
		claude_window(q, key, l, "percent");
	}
}

int
usageapi_claude(const char *json, size_t len, time_t now, struct quota *q,
    struct plan *p)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *it, *ex;

	quota_init(q);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	/* five_hour, seven_day, seven_day_opus, seven_day_sonnet, and any
	 * new window of the same kind. */
	cJSON_ArrayForEach(it, root)
		if (it->string && (strcmp(it->string, "five_hour") == 0 ||
		    strncmp(it->string, "seven_day", 9) == 0))
			claude_window(q, it->string, it, "utilization");
	claude_limits(q, json_get(root, "limits"));
	if (cJSON_IsObject(ex = json_get(root, "extra_usage"))) {
		p->extra = flag(ex, "is_enabled");
		p->extra_limit = (long)json_num(ex, "monthly_limit", 0, 1e12, -1);
		p->extra_used = (long)json_num(ex, "used_credits", 0, 1e12, -1);
		p->at = now;
	}
	q->at = now;
	cJSON_Delete(root);
	return 0;
}

/* "default_claude_max_20x" -> "Max 20x"; organization_type without a
 * tier: "claude_pro" -> "Pro". */
static void
claude_plan_name(const char *type, const char *tier, char *out, size_t n)
{
	const char *t = strstr(tier, "max_");
	char tmp[32];

	if (t && (t[4] >= '0' && t[4] <= '9')) {
		snprintf(tmp, sizeof tmp, "Max %.8s", t + 4);
		plan_name(out, n, tmp);
	} else
		plan_name(out, n, strncmp(type, "claude_", 7) == 0 ? type + 7 :
		    type);
}

int
usageapi_profile(const char *json, size_t len, time_t now, struct plan *p)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *org = json_get(root, "organization");
	const cJSON *acct = json_get(root, "account");
	int e;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	claude_plan_name(json_str(org, "organization_type"),
	    json_str(org, "rate_limit_tier"), p->name, sizeof p->name);
	if (!p->name[0] && flag(acct, "has_claude_max") == 1)
		snprintf(p->name, sizeof p->name, "Max");
	else if (!p->name[0] && flag(acct, "has_claude_pro") == 1)
		snprintf(p->name, sizeof p->name, "Pro");
	if ((e = flag(org, "has_extra_usage_enabled")) >= 0)
		p->extra = e;
	p->at = now;
	cJSON_Delete(root);
	return 0;
}

/* One of Codex's windows, named by its length. */
static void
codex_window(struct quota *q, const cJSON *o, time_t now)
{
	struct quota_window *w;
	char name[QUOTA_NAME];
	double used = json_num(o, "used_percent", 0, 10000, -1);
	long secs = (long)json_num(o, "limit_window_seconds", 1, 1e9, 0);
	double after = json_num(o, "reset_after_seconds", 0, 1e9, -1);
	double at = json_num(o, "reset_at", 1, 1e11, 0);

	if (!cJSON_IsObject(o) || used < 0)
		return;
	quota_window_name(secs / 60, "window", name, sizeof name);
	if ((w = quota_window(q, name)) == NULL)
		return;
	w->used = used / 100;
	/* Seconds rounded up: a reset is never said early. */
	w->reset = at > 0 ? (time_t)at : after >= 0 ? now + (time_t)after +
	    (after > (double)(time_t)after) : 0;
}

int
usageapi_codex(const char *json, size_t len, time_t now, struct quota *q,
    struct plan *p)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *rl = json_get(root, "rate_limit"), *cr;
	const char *pt = json_str(root, "plan_type");

	quota_init(q);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
	codex_window(q, json_get(rl, "primary_window"), now);
	codex_window(q, json_get(rl, "secondary_window"), now);
	if (flag(rl, "limit_reached") == 1)
		snprintf(q->status, sizeof q->status, "rejected");
	else if (flag(rl, "allowed") == 1)
		snprintf(q->status, sizeof q->status, "allowed");
	if (cJSON_IsObject(cr = json_get(root, "credits"))) {
		const cJSON *b = json_get(cr, "balance");

		q->credits = flag(cr, "has_credits");
		q->unlimited = flag(cr, "unlimited");
		/* The balance comes as a number or a numeric string. */
		if (cJSON_IsNumber(b) && b->valuedouble >= 0)
			q->balance = b->valuedouble;
		else if (cJSON_IsString(b) && *b->valuestring)
			q->balance = strtod(b->valuestring, NULL);
	}
	if (*pt) {
		plan_name(p->name, sizeof p->name, pt);
		p->at = now;
	}
	q->at = now;
	cJSON_Delete(root);
	return 0;
}
