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
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands/droid.h"

#define DUMMY_KEY	"dummy-not-used"
#define OURS		" [proxy]"

/* The newest visible Claude model of a family ("-opus-"), or NULL. */
static const struct model *
newest(const struct modellist *l, const char *fam)
{
	const struct model *best = NULL;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (!l->m[i].hidden && strstr(l->m[i].id, fam) &&
		    (best == NULL || l->m[i].created > best->created))
			best = &l->m[i];
	return best;
}

/* One entry: model (with -effort), its display name, provider, limit. */
static int
offer_one(struct droid_model *d, const struct model *m, const char *effort,
    const char *provider)
{
	const char *name = m->display[0] ? m->display : m->id;
	char eff[16] = "";

	memset(d, 0, sizeof *d);
	if (effort) {
		snprintf(eff, sizeof eff, " %s", effort);
		eff[1] = (char)toupper((unsigned char)eff[1]);
	}
	if (asprintf(&d->own, "%s%s%s%c%s%s" OURS, m->id, effort ? "-" : "",
	    effort ? effort : "", '\0', name, eff) == -1) {
		d->own = NULL;
		return -1;
	}
	d->model = d->own;
	d->display = d->own + strlen(d->own) + 1;
	d->provider = provider;
	d->max_tokens = m->max_out ? (int)m->max_out : 128000;
	return 0;
}

struct droid_model *
droid_offer(const struct modellist *claude, const struct modellist *codex,
    size_t *n)
{
	static const char *const fams[] = { "-opus-", "-sonnet-", "-haiku-" };
	struct droid_model *v;
	const struct model *m;
	size_t room = 4, i;
	int e;

	for (i = 0; codex && i < codex->n; i++)
		room += (size_t)codex->m[i].nefforts + 1;
	*n = 0;
	if ((v = calloc(room, sizeof *v)) == NULL)
		return NULL;
	for (i = 0; claude && i < 3; i++)
		if ((m = newest(claude, fams[i])) != NULL &&
		    offer_one(&v[(*n)++], m, NULL, "anthropic") == -1)
			goto fail;
	for (i = 0; codex && i < codex->n; i++) {
		m = &codex->m[i];
		if (m->hidden)
			continue;
		if (m->nefforts == 0 && offer_one(&v[(*n)++], m, NULL,
		    "openai") == -1)
			goto fail;
		for (e = 0; e < m->nefforts; e++)
			if (offer_one(&v[(*n)++], m, m->efforts[e],
			    "openai") == -1)
				goto fail;
	}
	return v;
fail:
	droid_offer_free(v, *n);
	*n = 0;
	return NULL;
}

void
droid_offer_free(struct droid_model *v, size_t n)
{
	size_t i;

	for (i = 0; v && i < n; i++)
		free(v[i].own);
	free(v);
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

/* Did --setup-droid write e for base: our base URL and the mark at the
 * end of its name? */
static int
written_by_us(const cJSON *e, const char *base)
{
	const char *b = str_of(e, "baseUrl"), *d = str_of(e, "displayName");
	size_t dl = d ? strlen(d) : 0, ol = strlen(OURS);

	return b && strcmp(b, base) == 0 && dl > ol &&
	    strcmp(d + dl - ol, OURS) == 0;
}

/* Our entries of an earlier run whose model is not offered now (a
 * retired model) move from list to gone. */
static void
drop_gone(cJSON *list, const struct droid_model *m, size_t n,
    const char *base, cJSON *gone)
{
	cJSON *e = list->child, *next;
	size_t i;

	for (; e; e = next) {
		const char *model = str_of(e, "model");

		next = e->next;
		if (!cJSON_IsObject(e) || model == NULL ||
		    !written_by_us(e, base))
			continue;
		for (i = 0; i < n && strcmp(m[i].model, model) != 0; i++)
			;
		if (i == n)
			cJSON_AddItemToArray(gone,
			    cJSON_DetachItemViaPointer(list, e));
	}
}

int
droid_merge(cJSON *root, const struct droid_model *m, size_t n,
    const char *base, enum droid_change *change, cJSON *gone, char *err,
    size_t errlen)
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
	if (gone)
		drop_gone(list, m, n, base, gone);
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
