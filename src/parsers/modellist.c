/*
 * The providers' model catalogs as lists: read from their answers, and
 * from and into the copy kept in auth-dir/models.json. The file holds
 * what the proxy needs of each model (its id, name, date, windows,
 * efforts, visibility, order), not the provider's whole answer: the
 * catalogs grow fields every season, and what is kept is read on every
 * /v1/models and every effort-suffixed request.
 *
 * Ids and names are kept only when printable ASCII without quotes or
 * backslashes: they are printed into JSON answers and log lines as they
 * are.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/json.h"
#include "parsers/modellist.h"
#include "support/timefmt.h"

/* A value fit to be printed as it is: printable ASCII, no quote, no
 * backslash, non-empty when must. */
static int
plain(const char *s, size_t max, int must)
{
	size_t i;

	if (s == NULL)
		return !must;
	for (i = 0; s[i]; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return i < max && (i > 0 || !must);
}

static void
copy(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", plain(s, n, 0) && s ? s : "");
}

/* A version tag: printable ASCII, quotes allowed ("W/\"abc\""); it is
 * compared and kept, never printed into JSON by hand. */
static void
copy_tag(char *dst, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (s[i] <= 0x20 || s[i] > 0x7e)
			break;
	snprintf(dst, n, "%s", s && !s[i] && i < n ? s : "");
}

/* A positive count of o.k, else 0. */
static long
num(const cJSON *o, const char *k)
{
	return (long)json_num(o, k, 0, 1e12, 0);
}

int
modellist_add(struct modellist *l, const struct model *m)
{
	struct model *more;

	if ((more = realloc(l->m, (l->n + 1) * sizeof *l->m)) == NULL)
		return -1;
	l->m = more;
	l->m[l->n++] = *m;
	return 0;
}

const struct model *
modellist_find(const struct modellist *l, const char *id)
{
	size_t i;

	for (i = 0; l && i < l->n; i++)
		if (strcmp(l->m[i].id, id) == 0)
			return &l->m[i];
	return NULL;
}

int
model_has_effort(const struct model *m, const char *e)
{
	int i;

	for (i = 0; i < m->nefforts; i++)
		if (strcmp(m->efforts[i], e) == 0)
			return 1;
	return 0;
}

void
modellist_free(struct modellist *l)
{
	free(l->m);
	memset(l, 0, sizeof *l);
}

/* An effort name into m, once. */
static void
add_effort(struct model *m, const char *e)
{
	if (m->nefforts < MODEL_EFFORTS && plain(e, sizeof m->efforts[0], 1)
	    && !model_has_effort(m, e))
		snprintf(m->efforts[m->nefforts++], sizeof m->efforts[0], "%s",
		    e);
}

/* The top level's list called key, or NULL with why. */
static const cJSON *
list_of(const cJSON *root, const char *key, const char **why)
{
	const cJSON *a = json_get(root, key);

	if (!cJSON_IsArray(a)) {
		*why = "the answer has no model list";
		return NULL;
	}
	return a;
}

/* ------------------------------------------------------------- built in */

/* Claude: 1M tokens of context and 128K of output (Haiku and the 4.5
 * models: 200K, 64K). The dates of the 4.5 models are in their ids; the
 * others give the order, newest first, until a fetched catalog brings
 * Anthropic's own. */
#define CLAUDE(id, name, date, ctx, out) \
	{ id, name, date, ctx, out, { "" }, 0, "", 0, 0 }
static struct model claude_builtin[] = {
	CLAUDE("claude-opus-5-5", "Claude Opus 5.5", 1795132800LL, 1000000,
	    128000),
	CLAUDE("claude-sonnet-5-5", "Claude Sonnet 5.5", 1795132800LL,
	    1000000, 128000),
	CLAUDE("claude-opus-5", "Claude Opus 5", 1788220800LL, 1000000,
	    128000),
	CLAUDE("claude-sonnet-5", "Claude Sonnet 5", 1788220800LL, 1000000,
	    128000),
	CLAUDE("claude-fable-5", "Claude Fable 5", 1788220800LL, 1000000,
	    128000),
	CLAUDE("claude-opus-4-8", "Claude Opus 4.8", 1782864000LL, 1000000,
	    128000),
	CLAUDE("claude-opus-4-7", "Claude Opus 4.7", 1776297600LL, 1000000,
	    128000),
	CLAUDE("claude-opus-4-6", "Claude Opus 4.6", 1770249600LL, 1000000,
	    128000),
	CLAUDE("claude-sonnet-4-6", "Claude Sonnet 4.6", 1770249600LL,
	    1000000, 128000),
	CLAUDE("claude-opus-4-5-20251101", "Claude Opus 4.5", 1761955200LL,
	    200000, 64000),
	CLAUDE("claude-haiku-4-5-20251001", "Claude Haiku 4.5", 1759276800LL,
	    200000, 64000),
	CLAUDE("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5",
	    1759104000LL, 200000, 64000),
};

/* Codex: the backend's models, in its order. */
#define CODEX(id, name, prio, ...) \
	{ id, name, 0, 272000, 128000, { __VA_ARGS__ }, \
	    sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *), \
	    "medium", 0, prio }
static struct model codex_builtin[] = {
	CODEX("gpt-5.6-sol", "GPT-5.6 Sol", 1, "low", "medium", "high",
	    "xhigh", "max", "ultra"),
	CODEX("gpt-5.6-terra", "GPT-5.6 Terra", 2, "low", "medium", "high",
	    "xhigh", "max", "ultra"),
	CODEX("gpt-5.6-luna", "GPT-5.6 Luna", 3, "low", "medium", "high",
	    "xhigh", "max", "ultra"),
	CODEX("gpt-5.5", "GPT-5.5", 4, "low", "medium", "high", "xhigh"),
	CODEX("gpt-5.4", "GPT-5.4", 5, "low", "medium", "high", "xhigh"),
	CODEX("gpt-5.4-mini", "GPT-5.4 Mini", 6, "low", "medium", "high",
	    "xhigh"),
	CODEX("gpt-5.3-codex-spark", "GPT-5.3 Codex Spark", 7, "low",
	    "medium", "high"),
};

#define N(a) (sizeof a / sizeof a[0])

const struct modellist *
modellist_builtin(const char *provider)
{
	static struct modellist lists[2];

	lists[0].m = claude_builtin;
	lists[0].n = N(claude_builtin);
	lists[1].m = codex_builtin;
	lists[1].n = N(codex_builtin);
	return &lists[strcmp(provider, "codex") == 0];
}

/* ---------------------------------------------------------------- codex */

/* Each entry of the array a that entry reads, added to l. 0, or -1 out
 * of memory. */
static int
add_all(const cJSON *a, int (*entry)(const cJSON *, struct model *),
    struct modellist *l)
{
	const cJSON *e;
	struct model m;

	cJSON_ArrayForEach(e, a)
		if (entry(e, &m) == 0 && modellist_add(l, &m) == -1)
			return -1;
	return 0;
}

static int
codex_entry(const cJSON *e, struct model *m)
{
	const cJSON *lv, *it;
	const char *slug = json_str(e, "slug");

	memset(m, 0, sizeof *m);
	if (!plain(slug, sizeof m->id, 1))
		return -1;
	copy(m->id, sizeof m->id, slug);
	copy(m->display, sizeof m->display, json_str(e, "display_name"));
	m->context = num(e, "context_window");
	if ((m->max_out = num(e, "max_output_tokens")) == 0)
		m->max_out = num(e, "max_tokens");
	lv = json_get(e, "supported_reasoning_levels");
	cJSON_ArrayForEach(it, (cJSON_IsArray(lv) ? lv : NULL))
		add_effort(m, cJSON_IsString(it) ? it->valuestring :
		    json_str(it, "effort"));
	copy(m->default_effort, sizeof m->default_effort,
	    json_str(e, "default_reasoning_level"));
	m->hidden = json_str_is(json_get(e, "visibility"), "hide");
	m->priority = (int)num(e, "priority");
	return 0;
}

int
modellist_parse_codex(const char *json, size_t len, struct modellist *l,
    const char **why)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *a;
	int rc = -1;

	*why = "the answer is not JSON";
	if (root == NULL || (a = list_of(root, "models", why)) == NULL)
		goto out;
	*why = "out of memory";
	if (add_all(a, codex_entry, l) == -1)
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/* ------------------------------------------------------------ anthropic */

static int
anthropic_entry(const cJSON *e, struct model *m)
{
	const char *id = json_str(e, "id");
	time_t t;

	memset(m, 0, sizeof *m);
	if (!plain(id, sizeof m->id, 1))
		return -1;
	copy(m->id, sizeof m->id, id);
	copy(m->display, sizeof m->display, json_str(e, "display_name"));
	if ((t = timefmt_parse(json_str(e, "created_at"))) > 0)
		m->created = (long long)t;
	m->context = num(e, "max_input_tokens");
	m->max_out = num(e, "max_tokens");
	return 0;
}

int
modellist_parse_anthropic(const char *json, size_t len, struct modellist *l,
    int *more, char *last, size_t lastlen, const char **why)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *a;
	int rc = -1;

	*more = 0;
	*why = "the answer is not JSON";
	if (root == NULL || (a = list_of(root, "data", why)) == NULL)
		goto out;
	*why = "out of memory";
	if (add_all(a, anthropic_entry, l) == -1)
		goto out;
	/* A page that says more but gives no place to go on from would
	 * be asked for again and again. */
	*more = cJSON_IsTrue(json_get(root, "has_more")) &&
	    plain(json_str(root, "last_id"), lastlen, 1) && cJSON_GetArraySize(a)
	    > 0;
	if (*more)
		snprintf(last, lastlen, "%s", json_str(root, "last_id"));
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

/* ---------------------------------------------------------------- kept */

static int
kept_entry(const cJSON *e, struct model *m)
{
	const cJSON *ef, *it;

	memset(m, 0, sizeof *m);
	if (!plain(json_str(e, "id"), sizeof m->id, 1))
		return -1;
	copy(m->id, sizeof m->id, json_str(e, "id"));
	copy(m->display, sizeof m->display, json_str(e, "display_name"));
	m->created = num(e, "created");
	m->context = num(e, "context");
	m->max_out = num(e, "max_output");
	ef = json_get(e, "efforts");
	cJSON_ArrayForEach(it, (cJSON_IsArray(ef) ? ef : NULL))
		add_effort(m, cJSON_GetStringValue(it));
	copy(m->default_effort, sizeof m->default_effort,
	    json_str(e, "default_effort"));
	m->hidden = cJSON_IsTrue(json_get(e, "hidden"));
	m->priority = (int)num(e, "priority");
	return 0;
}

int
modellist_from_file(const char *json, size_t len, const char *provider,
    struct modellist *l)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	const cJSON *p, *ms;
	int rc = -1;

	memset(l, 0, sizeof *l);
	if (!cJSON_IsObject(root))
		goto out;
	rc = 0;
	if (!cJSON_IsObject(p = json_get(root, provider)))
		goto out;
	l->fetched = num(p, "fetched");
	l->tried = num(p, "tried");
	l->stale = cJSON_IsTrue(json_get(p, "stale"));
	copy(l->error, sizeof l->error, json_str(p, "error"));
	copy_tag(l->etag, sizeof l->etag, json_str(p, "etag"));
	copy(l->client_version, sizeof l->client_version,
	    json_str(p, "client_version"));
	ms = json_get(p, "models");
	if (add_all(cJSON_IsArray(ms) ? ms : NULL, kept_entry, l) == -1) {
		modellist_free(l);
		rc = -1;
	}
out:
	cJSON_Delete(root);
	return rc;
}

static cJSON *
kept_json(const struct model *m)
{
	cJSON *e = cJSON_CreateObject(), *ef;
	int i, ok;

	ok = e && cJSON_AddStringToObject(e, "id", m->id) &&
	    cJSON_AddStringToObject(e, "display_name", m->display) &&
	    cJSON_AddNumberToObject(e, "created", (double)m->created) &&
	    cJSON_AddNumberToObject(e, "context", (double)m->context) &&
	    cJSON_AddNumberToObject(e, "max_output", (double)m->max_out) &&
	    (ef = cJSON_AddArrayToObject(e, "efforts")) != NULL &&
	    cJSON_AddStringToObject(e, "default_effort", m->default_effort) &&
	    cJSON_AddBoolToObject(e, "hidden", m->hidden) &&
	    cJSON_AddNumberToObject(e, "priority", m->priority);
	for (i = 0; ok && i < m->nefforts; i++)
		ok = json_append(ef, cJSON_CreateString(m->efforts[i])) == 0;
	if (!ok) {
		cJSON_Delete(e);
		return NULL;
	}
	return e;
}

static cJSON *
list_json(const struct modellist *l)
{
	cJSON *p = cJSON_CreateObject(), *ms;
	size_t i;
	int ok;

	ok = p && cJSON_AddNumberToObject(p, "fetched", (double)l->fetched) &&
	    cJSON_AddNumberToObject(p, "tried", (double)l->tried) &&
	    cJSON_AddStringToObject(p, "error", l->error) &&
	    cJSON_AddStringToObject(p, "etag", l->etag) &&
	    cJSON_AddBoolToObject(p, "stale", l->stale) &&
	    cJSON_AddStringToObject(p, "client_version", l->client_version) &&
	    (ms = cJSON_AddArrayToObject(p, "models")) != NULL;
	for (i = 0; ok && i < l->n; i++)
		ok = json_append(ms, kept_json(&l->m[i])) == 0;
	if (!ok) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

int
modellist_to_file(const char *old, size_t oldlen, const char *provider,
    const struct modellist *l, struct buf *out)
{
	cJSON *root = old ? cJSON_ParseWithLength(old, oldlen) : NULL;
	int rc = -1;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		if ((root = cJSON_CreateObject()) == NULL)
			return -1;
	}
	if (json_put(root, provider, list_json(l)) == 0)
		rc = json_print(root, out, "", "\n");
	cJSON_Delete(root);
	return rc;
}
