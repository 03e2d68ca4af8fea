/*
 * What every answer says of an account's limits (Anthropic's
 * anthropic-ratelimit-unified-* headers, Codex's x-codex-*), kept per
 * account in state.json. Every answer carries them, so writing them each
 * time would rewrite state.json on every request: a record is written
 * only when a figure moved by a percentage point, a status changed or a
 * reset moved, which for a steady account is a few times an hour.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "authdir.h"
#include "quota.h"
#include "state.h"

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

struct quota_window *
quota_window(struct quota *q, const char *name)
{
	int i;

	for (i = 0; i < q->n; i++)
		if (strcmp(q->w[i].name, name) == 0)
			return &q->w[i];
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
	const struct quota_window *best = NULL;
	int i;

	for (i = 0; i < q->n; i++)
		if (q->claim[0] && strcmp(q->w[i].name, q->claim) == 0 &&
		    q->w[i].used >= 0)
			return &q->w[i];
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

/* A number of o, when it is one and in range; else def. */
static double
num_of(const cJSON *o, const char *k, double lo, double hi, double def)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(j) && j->valuedouble >= lo &&
	    j->valuedouble <= hi ? j->valuedouble : def;
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

	quota_init(q);
	if (!cJSON_IsObject(o))
		return;
	q->at = (time_t)num_of(o, "at", 0, 1e12, 0);
	str_of(o, "status", q->status, sizeof q->status);
	str_of(o, "claim", q->claim, sizeof q->claim);
	str_of(o, "overage", q->overage, sizeof q->overage);
	q->reset = (time_t)num_of(o, "reset", 0, 1e12, 0);
	q->credits = (int)num_of(o, "credits", 0, 1, -1);
	q->unlimited = (int)num_of(o, "unlimited", 0, 1, -1);
	q->balance = num_of(o, "balance", 0, 1e15, -1);
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(o, "windows")) {
		if (w->string == NULL || (qw = quota_window(q, w->string)) ==
		    NULL)
			continue;
		qw->used = num_of(w, "used", 0, 100, -1);
		qw->reset = (time_t)num_of(w, "reset", 0, 1e12, 0);
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
	int i, k;

	if (prev->n != next->n || strcmp(prev->status, next->status) ||
	    strcmp(prev->claim, next->claim) ||
	    strcmp(prev->overage, next->overage) ||
	    moved(prev->reset, next->reset) ||
	    prev->credits != next->credits ||
	    prev->unlimited != next->unlimited ||
	    fabs(prev->balance - next->balance) >= 0.01)
		return 1;
	for (i = 0; i < next->n; i++) {
		for (k = 0; k < prev->n; k++)
			if (strcmp(prev->w[k].name, next->w[i].name) == 0)
				break;
		if (k == prev->n || window_changed(&prev->w[k], &next->w[i]))
			return 1;
	}
	return 0;
}

struct rec {
	const char *id;
	const struct quota *q;
};

/* Under the state lock, on a fresh read: write only what changed. */
static int
record_fn(cJSON *root, void *arg)
{
	struct rec *r = arg;
	struct quota prev, next = *r->q;
	cJSON *st = state_account(root, r->id, 1), *o;

	if (st == NULL)
		return 0;
	quota_from_json(cJSON_GetObjectItemCaseSensitive(st, "quota"), &prev);
	if (!quota_changed(&prev, &next))
		return 0;
	next.at = time(NULL);
	cJSON_DeleteItemFromObjectCaseSensitive(st, "quota");
	if ((o = cJSON_AddObjectToObject(st, "quota")) == NULL)
		return 0;
	quota_to_json(&next, o);
	return 1;
}

void
quota_record(const struct config *cfg, const char *id, const struct quota *q)
{
	struct rec r = { id, q };
	struct quota prev;
	const cJSON *kept = authdir_state(cfg);

	if (!quota_said(q))
		return;
	if (kept) {
		quota_from_json(cJSON_GetObjectItemCaseSensitive(state_account(
		    (cJSON *)(uintptr_t)kept, id, 0), "quota"), &prev);
		if (!quota_changed(&prev, q))
			return;
	}
	(void)state_run(cfg, 1, 0, record_fn, &r);
}
