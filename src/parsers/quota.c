/*
 * An account's limits as figures: its windows (5 hours, 7 days, a
 * model's 7 days), each with how much is used and when it starts afresh,
 * the statuses, Codex's credits, and the plan they belong to. What
 * answers' headers and the usage endpoints say is read into these
 * (ratelimit.c, usageapi.c) and kept in state.json in the form below
 * (figures.c). No I/O.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "parsers/json.h"
#include "parsers/quota.h"

void
quota_init(struct quota *q)
{
	memset(q, 0, sizeof *q);
	q->credits = q->unlimited = -1;
	q->balance = -1;
}

int
quota_said(const struct quota *q)
{
	return q->n > 0 || q->status[0] || q->claim[0] || q->overage[0] ||
	    q->reset || q->credits >= 0 || q->unlimited >= 0 ||
	    q->balance >= 0;
}

const struct quota_window *
quota_find(const struct quota *q, const char *name)
{
	int i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->w[i].name, name) == 0)
			return &q->w[i];
	return NULL;
}

struct quota_window *
quota_window(struct quota *q, const char *name)
{
	const struct quota_window *w = quota_find(q, name);

	if (w)
		return &q->w[w - q->w];
	if (q->n == QUOTA_WINDOWS)
		return NULL;
	memset(&q->w[q->n], 0, sizeof q->w[0]);
	snprintf(q->w[q->n].name, sizeof q->w[0].name, "%s", name);
	q->w[q->n].used = -1;
	return &q->w[q->n++];
}

const struct quota_window *
quota_binding(const struct quota *q)
{
	const struct quota_window *best = quota_find(q, q->claim);
	int i;

	if (q->claim[0] && best && best->used >= 0)
		return best;
	best = NULL;
	for (i = 0; i < q->n; i++)
		if (q->w[i].used >= 0 && (best == NULL ||
		    q->w[i].used > best->used))
			best = &q->w[i];
	return best;
}

time_t
quota_blocked(const struct quota *q, time_t now)
{
	const struct quota_window *b = quota_binding(q);
	time_t until = 0;
	int i;

	/* A rejected window says which reset ends it; else the binding
	 * one's, else the overall one. */
	for (i = 0; i < q->n; i++)
		if (strcmp(q->w[i].status, "rejected") == 0 &&
		    q->w[i].reset > until)
			until = q->w[i].reset;
	if (until == 0 && (strcmp(q->status, "rejected") == 0 ||
	    (b && b->used >= 1.0)))
		until = b && b->reset ? b->reset : q->reset;
	/* A reset long gone means the figures are old, not that the
	 * account is blocked; one a week away is a broken header. */
	if (until <= now)
		return 0;
	return until > now + 7 * 86400 ? now + 7 * 86400 : until;
}

static void
put_str(cJSON *o, const char *k, const char *v)
{
	if (v[0])
		cJSON_AddStringToObject(o, k, v);
}

static void
put_num(cJSON *o, const char *k, double v, int say)
{
	if (say)
		cJSON_AddNumberToObject(o, k, v);
}

void
quota_to_json(const struct quota *q, cJSON *o)
{
	cJSON *ws, *w;
	int i;

	put_num(o, "at", (double)q->at, q->at > 0);
	put_str(o, "src", q->from_api ? "api" : "");
	put_str(o, "status", q->status);
	put_str(o, "claim", q->claim);
	put_str(o, "overage", q->overage);
	put_num(o, "reset", (double)q->reset, q->reset > 0);
	put_num(o, "credits", q->credits, q->credits >= 0);
	put_num(o, "unlimited", q->unlimited, q->unlimited >= 0);
	put_num(o, "balance", q->balance, q->balance >= 0);
	if ((ws = cJSON_AddObjectToObject(o, "windows")) == NULL)
		return;
	for (i = 0; i < q->n; i++) {
		if ((w = cJSON_AddObjectToObject(ws, q->w[i].name)) == NULL)
			return;
		put_num(w, "used", q->w[i].used, q->w[i].used >= 0);
		put_num(w, "reset", (double)q->w[i].reset, q->w[i].reset > 0);
		put_str(w, "status", q->w[i].status);
	}
}

static void
str_of(const cJSON *o, const char *k, char *out, size_t n)
{
	const char *s = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(o, k));

	snprintf(out, n, "%s", s ? s : "");
}

void
quota_from_json(const cJSON *o, struct quota *q)
{
	const cJSON *w;
	struct quota_window *qw;
	const char *s;

	quota_init(q);
	if (!cJSON_IsObject(o))
		return;
	q->at = (time_t)json_num(o, "at", 0, 1e12, 0);
	q->from_api = (s = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(o, "src"))) != NULL &&
	    strcmp(s, "api") == 0;
	str_of(o, "status", q->status, sizeof q->status);
	str_of(o, "claim", q->claim, sizeof q->claim);
	str_of(o, "overage", q->overage, sizeof q->overage);
	q->reset = (time_t)json_num(o, "reset", 0, 1e12, 0);
	q->credits = (int)json_num(o, "credits", 0, 1, -1);
	q->unlimited = (int)json_num(o, "unlimited", 0, 1, -1);
	q->balance = json_num(o, "balance", 0, 1e15, -1);
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(o, "windows")) {
		if (w->string == NULL || (qw = quota_window(q, w->string)) ==
		    NULL)
			continue;
		qw->used = json_num(w, "used", 0, 100, -1);
		qw->reset = (time_t)json_num(w, "reset", 0, 1e12, 0);
		str_of(w, "status", qw->status, sizeof qw->status);
	}
}

static int
moved(time_t a, time_t b)
{
	return a > b ? a - b > 60 : b - a > 60;
}

/* Has the figure of one window changed enough? */
static int
window_changed(const struct quota_window *a, const struct quota_window *b)
{
	return (a->used < 0) != (b->used < 0) ||
	    fabs(a->used - b->used) >= 0.01 || moved(a->reset, b->reset) ||
	    strcmp(a->status, b->status) != 0;
}

int
quota_changed(const struct quota *prev, const struct quota *next)
{
	const struct quota_window *w;
	int i;

	if (prev->n != next->n || strcmp(prev->status, next->status) ||
	    strcmp(prev->claim, next->claim) ||
	    strcmp(prev->overage, next->overage) ||
	    moved(prev->reset, next->reset) ||
	    prev->credits != next->credits ||
	    prev->unlimited != next->unlimited ||
	    fabs(prev->balance - next->balance) >= 0.01)
		return 1;
	for (i = 0; i < next->n; i++)
		if ((w = quota_find(prev, next->w[i].name)) == NULL ||
		    window_changed(w, &next->w[i]))
			return 1;
	return 0;
}

void
quota_merge(struct quota *into, const struct quota *newer)
{
	int i;

	for (i = 0; i < newer->n; i++) {
		struct quota_window *w = quota_window(into, newer->w[i].name);

		if (w)
			*w = newer->w[i];
	}
	if (newer->status[0] || newer->from_api)
		snprintf(into->status, sizeof into->status, "%s",
		    newer->status);
	if (newer->claim[0])
		snprintf(into->claim, sizeof into->claim, "%s", newer->claim);
	if (newer->overage[0])
		snprintf(into->overage, sizeof into->overage, "%s",
		    newer->overage);
	if (newer->reset)
		into->reset = newer->reset;
	if (newer->credits >= 0)
		into->credits = newer->credits;
	if (newer->unlimited >= 0)
		into->unlimited = newer->unlimited;
	if (newer->balance >= 0)
		into->balance = newer->balance;
	into->at = newer->at;
	into->from_api = newer->from_api;
}

void
quota_claim_name(char *name, size_t n)
{
	char rest[QUOTA_NAME];

	if (strcmp(name, "five_hour") == 0)
		snprintf(name, n, "5h");
	else if (strncmp(name, "seven_day", 9) == 0) {
		snprintf(rest, sizeof rest, "%s", name + 9);
		snprintf(name, n, "7d%.21s", rest);
	}
}

void
quota_window_name(int minutes, const char *which, char *out, size_t n)
{
	if (minutes <= 0)
		snprintf(out, n, "%s", which);
	else if (minutes % 1440 == 0)
		snprintf(out, n, "%dd", minutes / 1440);
	else if (minutes % 60 == 0)
		snprintf(out, n, "%dh", minutes / 60);
	else
		snprintf(out, n, "%dm", minutes);
}

/* ---------------------------------------------------------------- plan */

void
plan_merge(struct plan *into, const struct plan *newer)
{
	if (newer->name[0])
		snprintf(into->name, sizeof into->name, "%s", newer->name);
	if (newer->extra >= 0)
		into->extra = newer->extra;
	if (newer->extra_used >= 0)
		into->extra_used = newer->extra_used;
	if (newer->extra_limit >= 0)
		into->extra_limit = newer->extra_limit;
	if (newer->at > into->at)
		into->at = newer->at;
}

void
plan_init(struct plan *p)
{
	memset(p, 0, sizeof *p);
	p->extra = -1;
	p->extra_used = p->extra_limit = -1;
}

void
plan_to_json(const struct plan *p, cJSON *o)
{
	put_num(o, "at", (double)p->at, p->at > 0);
	put_str(o, "name", p->name);
	put_num(o, "extra", p->extra, p->extra >= 0);
	put_num(o, "extra_used", (double)p->extra_used, p->extra_used >= 0);
	put_num(o, "extra_limit", (double)p->extra_limit,
	    p->extra_limit >= 0);
}

void
plan_from_json(const cJSON *o, struct plan *p)
{
	plan_init(p);
	if (!cJSON_IsObject(o))
		return;
	p->at = (time_t)json_num(o, "at", 0, 1e12, 0);
	str_of(o, "name", p->name, sizeof p->name);
	p->extra = (int)json_num(o, "extra", 0, 1, -1);
	p->extra_used = (long)json_num(o, "extra_used", 0, 1e12, -1);
	p->extra_limit = (long)json_num(o, "extra_limit", 0, 1e12, -1);
}
