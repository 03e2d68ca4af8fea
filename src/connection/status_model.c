/*
 * The status page's data, gathered into one cJSON tree (the "model"): the
 * accounts as view.c sees them and usage per UTC day from usage.jsonl.
 * /status.json is that tree printed and the HTML (status_page.c) is
 * rendered from it, so the two never disagree. The view holds no secret,
 * so neither does the tree.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/usage.h"
#include "accounts/view.h"
#include "connection/status.h"
#include "connection/status_acct.h"
#include "parsers/json.h"
#include "support/timefmt.h"
#include "support/version.h"

#define SERIES_MAX 64           /* accounts or models charted; the rest
                                 * are summed as "(other)" */
#define KEY_MAX 160

/* Per series and day; "tokens" counts every token once: input, output,
 * cache writes and, where input does not already hold them (Anthropic),
 * cache reads. */
enum { M_REQ, M_ERR, M_TOK, M_IN, M_OUT, M_CR, M_CW, NMETRIC };
static const char *const metric_name[NMETRIC] = {
	"requests", "errors", "tokens", "input", "output", "cache_read",
	"cache_write"
};

struct series {
	char key[KEY_MAX];
	unsigned long long v[NMETRIC][STATUS_DAYS];
};

struct group {
	struct series *v;
	size_t n, cap;
};

/* One error as listed. */
struct err_rec {
	char time[32];          /* RFC 3339 UTC: sorts as a string */
	const char *source;     /* "request" or "account" */
	char provider[16];
	char account[KEY_MAX];
	char model[128];
	int status;             /* 0 for an account's last_error */
	char message[512];
};

struct gather {
	char days[STATUS_DAYS][11];
	struct group acct, model;
	struct err_rec ring[STATUS_ERRORS]; /* the newest usage errors */
	size_t nerr;            /* usage errors seen in all */
	unsigned long long bad; /* lines that did not parse */
	char usage_err[4400];   /* a usage file that could not be read */
};

static void
gather_free(struct gather *g)
{
	free(g->acct.v);
	free(g->model.v);
}

static struct series *
series_of(struct group *g, const char *key)
{
	struct series *v;
	size_t i;

	if (g->n == SERIES_MAX - 1)
		key = "(other)";
	for (i = 0; i < g->n; i++)
		if (strcmp(g->v[i].key, key) == 0)
			return &g->v[i];
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;

		if ((v = reallocarray(g->v, cap, sizeof *v)) == NULL)
			return NULL;
		g->v = v;
		g->cap = cap;
	}
	v = &g->v[g->n++];
	memset(v, 0, sizeof *v);
	snprintf(v->key, sizeof v->key, "%s", key);
	return v;
}

static int
day_index(const struct gather *g, const char *when)
{
	int i;

	for (i = 0; i < STATUS_DAYS; i++)
		if (strncmp(when, g->days[i], 10) == 0)
			return i;
	return -1;
}

static void
keep_error(struct gather *g, const struct usage_line *l)
{
	struct err_rec *e = &g->ring[g->nerr++ % STATUS_ERRORS];

	memset(e, 0, sizeof *e);
	snprintf(e->time, sizeof e->time, "%s", l->time);
	e->source = "request";
	snprintf(e->provider, sizeof e->provider, "%s", l->provider);
	snprintf(e->account, sizeof e->account, "%s", l->account);
	snprintf(e->model, sizeof e->model, "%s", l->model);
	e->status = l->status;
}

/* One usage record into the charts and the error list. */
static int
tally(const struct usage_line *l, void *arg)
{
	struct gather *g = arg;
	unsigned long long v[NMETRIC];
	struct series *s[2];
	int day, i, k;

	if (l->status >= 400)
		keep_error(g, l);
	if ((day = day_index(g, l->time)) == -1)
		return 0;
	v[M_REQ] = 1;
	v[M_ERR] = l->status >= 400;
	v[M_IN] = l->input;
	v[M_OUT] = l->output;
	v[M_CR] = l->cache_read;
	v[M_CW] = l->cache_write;
	/* OpenAI's input already holds the cached tokens. */
	v[M_TOK] = v[M_IN] + v[M_OUT] + v[M_CW] +
	    (strcmp(l->provider, "codex") == 0 ? 0 : v[M_CR]);
	s[0] = series_of(&g->acct, l->account);
	s[1] = series_of(&g->model, l->model);
	if (s[0] == NULL || s[1] == NULL)
		return -1;
	for (k = 0; k < 2; k++)
		for (i = 0; i < NMETRIC; i++)
			s[k]->v[i][day] += v[i];
	return 0;
}


/* The accounts, in --status's order. */
static void
accounts(const struct config *cfg, cJSON *list, cJSON *errs, time_t now)
{
	struct view *v;
	size_t n, i;
	cJSON *o;

	if (view_accounts(cfg, now, &v, &n) == -1)
		return;
	for (i = 0; i < n; i++)
		if ((o = cJSON_CreateObject()) != NULL) {
			cJSON_AddItemToArray(list, o);
			status_account(o, &v[i], now, errs);
		}
	free(v);
}

static int
by_key(const void *a, const void *b)
{
	return strcmp(((const struct series *)a)->key,
	    ((const struct series *)b)->key);
}

static cJSON *
group_json(struct group *g)
{
	cJSON *o = cJSON_CreateObject(), *s, *arr;
	size_t i;
	int m, d;

	if (o == NULL)
		return NULL;
	if (g->n > 1)
		qsort(g->v, g->n, sizeof *g->v, by_key);
	for (i = 0; i < g->n; i++) {
		if ((s = cJSON_AddObjectToObject(o, g->v[i].key)) == NULL)
			continue;
		for (m = 0; m < NMETRIC; m++) {
			if ((arr = cJSON_AddArrayToObject(s,
			    metric_name[m])) == NULL)
				continue;
			for (d = 0; d < STATUS_DAYS; d++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber(
				    (double)g->v[i].v[m][d]));
		}
	}
	return o;
}

/* Newest first; those without a time last. */
static int
by_time_desc(const void *a, const void *b)
{
	return strcmp(json_str(*(cJSON *const *)b, "time"),
	    json_str(*(cJSON *const *)a, "time"));
}

/* The usage errors kept, with the accounts' last errors already in errs:
 * sorted, cut to STATUS_ERRORS. */
static cJSON *
errors_json(struct gather *g, cJSON *errs)
{
	cJSON **v, *out, *e;
	size_t n = 0, i, kept = g->nerr < STATUS_ERRORS ? g->nerr :
	    STATUS_ERRORS;
	int total = cJSON_GetArraySize(errs);

	if ((out = cJSON_CreateArray()) == NULL ||
	    (v = calloc((size_t)total + kept + 1, sizeof *v)) == NULL)
		return out;
	while (cJSON_GetArraySize(errs) > 0)
		v[n++] = cJSON_DetachItemFromArray(errs, 0);
	for (i = 0; i < kept; i++) {
		const struct err_rec *r = &g->ring[i];

		if ((e = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(e, "time", r->time);
		cJSON_AddStringToObject(e, "source", r->source);
		cJSON_AddStringToObject(e, "provider", r->provider);
		cJSON_AddStringToObject(e, "account", r->account);
		cJSON_AddStringToObject(e, "model", r->model);
		cJSON_AddNumberToObject(e, "status", r->status);
		cJSON_AddNullToObject(e, "message");
		v[n++] = e;
	}
	qsort(v, n, sizeof *v, by_time_desc);
	for (i = 0; i < n; i++)
		if (i < STATUS_ERRORS)
			cJSON_AddItemToArray(out, v[i]);
		else
			cJSON_Delete(v[i]);
	free(v);
	return out;
}

cJSON *
status_model(const struct config *cfg, time_t now)
{
	struct gather gather, *g = &gather;
	cJSON *root = cJSON_CreateObject(), *list, *errs = NULL, *days, *j;
	char when[32], path[4200];
	int i;

	memset(g, 0, sizeof *g);
	for (i = 0; i < STATUS_DAYS; i++) {
		time_t t = now - (time_t)(STATUS_DAYS - 1 - i) * 86400;

		timefmt_format(t, when, sizeof when);
		snprintf(g->days[i], sizeof g->days[i], "%.10s", when);
	}
	if (root == NULL || (errs = cJSON_CreateArray()) == NULL)
		goto fail;
	timefmt_format(now, when, sizeof when);
	cJSON_AddStringToObject(root, "generated", when);
	cJSON_AddStringToObject(root, "version", VERSION);
	cJSON_AddBoolToObject(root, "usage_statistics", cfg->usage_stats);
	if ((list = cJSON_AddArrayToObject(root, "accounts")) == NULL)
		goto fail;
	accounts(cfg, list, errs, now);
	if (usage_each(cfg, tally, g, &g->bad, path, sizeof path) == -1) {
		if (errno == ENOMEM)
			goto fail;
		snprintf(g->usage_err, sizeof g->usage_err, "cannot read %s: "
		    "%s", path, strerror(errno));
	}
	if ((days = cJSON_AddArrayToObject(root, "days")) == NULL)
		goto fail;
	for (i = 0; i < STATUS_DAYS; i++)
		cJSON_AddItemToArray(days, cJSON_CreateString(g->days[i]));
	cJSON_AddItemToObject(root, "by_account", group_json(&g->acct));
	cJSON_AddItemToObject(root, "by_model", group_json(&g->model));
	if ((j = errors_json(g, errs)) == NULL)
		goto fail;
	cJSON_AddItemToObject(root, "errors", j);
	cJSON_AddNumberToObject(root, "unreadable_lines", (double)g->bad);
	if (g->usage_err[0])
		cJSON_AddStringToObject(root, "usage_error", g->usage_err);
	else
		cJSON_AddNullToObject(root, "usage_error");
	cJSON_Delete(errs);
	gather_free(g);
	return root;
fail:
	cJSON_Delete(errs);
	cJSON_Delete(root);
	gather_free(g);
	return NULL;
}

