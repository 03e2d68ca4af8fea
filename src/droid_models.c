/*
 * droid_models: the models offered to Factory's droid and their entries
 * in its files, without I/O: the built-in list, the merge into
 * settings.json's customModels (what --setup-droid writes) and the check
 * of an entry (what --doctor reports).
 *
 * The file is the user's: the merge leaves every key and every entry we
 * did not write as it was, and recognises an entry of ours by its model
 * and baseUrl alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "droid.h"

#define DUMMY_KEY	"dummy-not-used"

/* The guide's list: contrib/factory-config.json. */
static const struct droid_model builtin[] = {
	{ "claude-opus-4-1-20250805", "Claude Opus 4.1 [proxy]",
	    "anthropic", 32000, NULL },
	{ "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5 [proxy]",
	    "anthropic", 64000, NULL },
	{ "claude-haiku-4-5-20251001", "Claude Haiku 4.5 [proxy]",
	    "anthropic", 64000, NULL },
	{ "gpt-5", "GPT-5 [proxy]", "openai", 128000, NULL },
	{ "gpt-5-minimal", "GPT-5 Minimal [proxy]", "openai", 128000, NULL },
	{ "gpt-5-medium", "GPT-5 Medium [proxy]", "openai", 128000, NULL },
	{ "gpt-5-high", "GPT-5 High [proxy]", "openai", 128000, NULL },
	{ "gpt-5-codex", "GPT-5 Codex [proxy]", "openai", 128000, NULL },
	{ "gpt-5-codex-high", "GPT-5 Codex High [proxy]", "openai", 128000,
	    NULL },
};

const struct droid_model *
droid_models(const struct config *cfg, size_t *n)
{
	if (cfg->droid_models != NULL && cfg->n_droid_models > 0) {
		*n = cfg->n_droid_models;
		return cfg->droid_models;
	}
	*n = sizeof builtin / sizeof builtin[0];
	return builtin;
}

/* ---------------------------------------------------------------- merge */

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

/* Set a string member unless it already holds v. 1 changed, 0 not, -1. */
static int
put_str(cJSON *o, const char *key, const char *v)
{
	const char *cur = str_of(o, key);
	cJSON *j;

	if (cur != NULL && strcmp(cur, v) == 0)
		return 0;
	if ((j = cJSON_CreateString(v)) == NULL)
		return -1;
	if (cJSON_GetObjectItemCaseSensitive(o, key) != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, j);
	else
		cJSON_AddItemToObject(o, key, j);
	return 1;
}

static int
put_num(cJSON *o, const char *key, int v)
{
	const cJSON *cur = cJSON_GetObjectItemCaseSensitive(o, key);
	cJSON *j;

	if (cJSON_IsNumber(cur) && cur->valuedouble == (double)v)
		return 0;
	if ((j = cJSON_CreateNumber(v)) == NULL)
		return -1;
	if (cur != NULL)
		cJSON_ReplaceItemInObjectCaseSensitive(o, key, j);
	else
		cJSON_AddItemToObject(o, key, j);
	return 1;
}

static cJSON *
find_ours(cJSON *list, const char *model, const char *base)
{
	cJSON *e;

	cJSON_ArrayForEach(e, list) {
		const char *m = str_of(e, "model"), *b = str_of(e, "baseUrl");

		if (cJSON_IsObject(e) && m && b && strcmp(m, model) == 0 &&
		    strcmp(b, base) == 0)
			return e;
	}
	return NULL;
}

/* The fields we own in an entry. apiKey is written only on new entries:
 * with api-keys set, the user puts a real client key there. */
static int
fill(cJSON *e, const struct droid_model *m, int fresh)
{
	int r, changed = 0;

	if ((r = put_str(e, "displayName", m->display)) == -1)
		return -1;
	changed |= r;
	if (fresh && put_str(e, "apiKey", DUMMY_KEY) == -1)
		return -1;
	if ((r = put_str(e, "provider", m->provider)) == -1)
		return -1;
	changed |= r;
	if (m->max_tokens > 0) {
		if ((r = put_num(e, "maxOutputTokens", m->max_tokens)) == -1)
			return -1;
		changed |= r;
	}
	return changed;
}

static int
merge_one(cJSON *list, const struct droid_model *m, const char *base,
    enum droid_change *change)
{
	cJSON *e = find_ours(list, m->model, base);
	int r;

	if (e != NULL) {
		if ((r = fill(e, m, 0)) == -1)
			return -1;
		*change = r ? DROID_UPDATED : DROID_UNCHANGED;
		return 0;
	}
	if ((e = cJSON_CreateObject()) == NULL)
		return -1;
	if (put_str(e, "model", m->model) == -1 ||
	    put_str(e, "baseUrl", base) == -1 || fill(e, m, 1) == -1) {
		cJSON_Delete(e);
		return -1;
	}
	cJSON_AddItemToArray(list, e);
	*change = DROID_ADDED;
	return 0;
}

int
droid_merge(cJSON *root, const struct droid_model *m, size_t n,
    const char *base, enum droid_change *change, char *err, size_t errlen)
{
	cJSON *list;
	size_t i;

	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "the top level is not a JSON object");
		return -1;
	}
	list = cJSON_GetObjectItemCaseSensitive(root, "customModels");
	if (list != NULL && !cJSON_IsArray(list)) {
		snprintf(err, errlen, "customModels is not a list");
		return -1;
	}
	if (list == NULL && (list = cJSON_AddArrayToObject(root,
	    "customModels")) == NULL)
		goto nomem;
	for (i = 0; i < n; i++)
		if (merge_one(list, &m[i], base, &change[i]) == -1)
			goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	return -1;
}

/* ---------------------------------------------------------------- check */

/* Does u point at this machine? Then *port and *path (after the port). */
static int
local_url(const char *u, int *port, const char **path)
{
	static const char *const names[] = { "localhost", "127.0.0.1",
	    "[::1]" };
	const char *h, *e;
	size_t i, hl;
	long p;

	if (strncasecmp(u, "http://", 7) == 0) {
		h = u + 7;
		*port = 80;
	} else if (strncasecmp(u, "https://", 8) == 0) {
		h = u + 8;
		*port = 443;
	} else
		return 0;
	if (*h == '[')
		e = (e = strchr(h, ']')) ? e + 1 : h + strlen(h);
	else
		e = h + strcspn(h, ":/?#");
	hl = (size_t)(e - h);
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == hl && strncasecmp(h, names[i], hl) == 0)
			break;
	if (i == sizeof names / sizeof names[0])
		return 0;
	if (*e == ':') {
		char *end;

		p = strtol(e + 1, &end, 10);
		*port = p > 0 && p < 65536 && end != e + 1 ? (int)p : -1;
		e = end;
	}
	*path = e;
	return 1;
}

/* A path (query dropped) ending in /v1, trailing slashes aside. */
static int
ends_in_v1(const char *path)
{
	size_t n = strcspn(path, "?#");

	while (n > 0 && path[n - 1] == '/')
		n--;
	return n >= 3 && strncmp(path + n - 3, "/v1", 3) == 0;
}

/* Append "; " and s to dst. */
static void
add(char *dst, size_t len, const char *s)
{
	size_t at = strlen(dst);

	snprintf(dst + at, len - at, "%s%s", at ? "; " : "", s);
}

int
droid_check(const char *model, const char *base_url,
    const char *provider, int port, int *ours, char *why, size_t whylen,
    char *fix, size_t fixlen)
{
	const char *fam = model ? config_droid_family(model) : NULL;
	const char *path = "";
	char t[160];
	int up = 0, bad_url = 0, bad_prov = 0;

	why[0] = fix[0] = '\0';
	*ours = base_url != NULL && local_url(base_url, &up, &path);
	if (!*ours)
		return 0;
	if (up != port) {
		snprintf(t, sizeof t, "port %d is not the proxy's port %d", up,
		    port);
		add(why, whylen, t);
		bad_url = 1;
	}
	if (provider == NULL || *provider == '\0') {
		add(why, whylen, "no provider");
		bad_prov = 1;
	} else if (fam != NULL && strcmp(provider, fam) != 0) {
		snprintf(t, sizeof t, "provider %s does not serve %s models",
		    provider, strcmp(fam, "openai") == 0 ? "OpenAI" : "Claude");
		add(why, whylen, t);
		bad_prov = 1;
	}
	if (provider != NULL && strcmp(provider, "openai") == 0 &&
	    ends_in_v1(path)) {
		add(why, whylen, "an openai base URL for this proxy has no "
		    "/v1 at the end");
		bad_url = 1;
	}
	if (why[0] == '\0')
		return 0;
	if (bad_url)
		snprintf(fix, fixlen, "set the base URL to http://localhost:%d",
		    port);
	if (bad_prov)
		snprintf(fix + strlen(fix), fixlen - strlen(fix),
		    "%sset provider to %s", fix[0] ? " and " : "",
		    fam ? fam : "anthropic or openai");
	return -1;
}
