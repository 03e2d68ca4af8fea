/*
 * droid: the custom models Factory's droid needs to reach this proxy.
 *
 * droid reads ~/.factory/settings.json (customModels, camelCase) and the
 * older ~/.factory/config.json (custom_models, snake_case). --setup-droid
 * writes only the first, merging: the file is the user's, so every key and
 * every entry we did not write stays as it was, and an entry of ours is
 * recognised by its model and baseUrl alone.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "droid.h"
#include "file.h"
#include "secret.h"
#include "view.h"

#define SETTINGS_MAX	(16 * 1024 * 1024)
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

/* ---------------------------------------------------------------- setup */

/* Read path whole. 0, 1 when it does not exist, -1 with err. */
static int
read_settings(const char *path, struct buf *b, mode_t *mode, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	*mode = st.st_mode & 07777;
	for (;;) {
		if (b->len > SETTINGS_MAX || buf_reserve(b, 65536) == -1) {
			snprintf(err, errlen, "%s: too big to be droid's "
			    "settings", path);
			close(fd);
			return -1;
		}
		if ((r = read(fd, b->p + b->len, b->cap - b->len)) <= 0)
			break;
		b->len += (size_t)r;
	}
	close(fd);
	if (r == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	b->p[b->len] = '\0';   /* the loop left room */
	return 0;
}

/* Only whitespace: a file just created by hand, taken as {}. */
static int
blank(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (!isspace((unsigned char)b->p[i]))
			return 0;
	return 1;
}

/* Parse the settings, saying where they are broken. The file may hold API
 * keys of other providers: the message gives a line, never the text. */
static cJSON *
parse_settings(const char *path, const struct buf *b, char *err,
    size_t errlen)
{
	const char *end = NULL, *p;
	cJSON *root;
	int line = 1;

	if (blank(b))
		return cJSON_CreateObject();
	/* With the NUL counted, cJSON refuses trailing garbage too. */
	root = cJSON_ParseWithLengthOpts(b->p, b->len + 1, &end, 1);
	if (root != NULL)
		return root;
	for (p = b->p; end != NULL && p < end && p < b->p + b->len; p++)
		line += *p == '\n';
	snprintf(err, errlen, "%s is not valid JSON (line %d): fix it or move "
	    "it away; nothing was changed", path, line);
	return NULL;
}

/* The models of the providers that have a usable account. */
static size_t
pick_models(const struct config *cfg, struct droid_model *out)
{
	const struct droid_model *all;
	int claude = view_has_usable(cfg, "claude");
	int codex = view_has_usable(cfg, "codex");
	size_t n, i, k = 0;

	all = droid_models(cfg, &n);
	for (i = 0; i < n; i++)
		if (strcmp(all[i].provider, "anthropic") == 0 ? claude : codex)
			out[k++] = all[i];
	return k;
}

static void
report(FILE *out, const struct droid_model *m, const enum droid_change *ch,
    size_t n)
{
	static const char *const word[] = { "added", "updated", "unchanged" };
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(out, "%-9s %s (%s, %s)\n", word[ch[i]], m[i].model,
		    m[i].display, m[i].provider);
}

/* settings.json itself when it is a symlink: replacing the link with a
 * file would cut the user's dotfiles repository out. */
static char *
settings_path(void)
{
	char *p = config_expand_home("~/.factory/settings.json"), *r;

	if (p != NULL && (r = realpath(p, NULL)) != NULL) {
		free(p);
		return r;
	}
	return p;
}

/* Back up the old file, then replace it keeping its mode. */
static int
write_settings(const char *path, const struct buf *old, int existed,
    mode_t mode, const char *json, char *err, size_t errlen)
{
	char bak[PATH_MAX + 8];

	if (existed) {
		snprintf(bak, sizeof bak, "%s.bak", path);
		if (file_replace(bak, old->p ? old->p : "", old->len, 1, err,
		    errlen) == -1)
			return -1;
	}
	if (file_replace(path, json, strlen(json), 1, err, errlen) == -1)
		return -1;
	if (existed && mode != 0600 && chmod(path, mode) == -1) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ~/.factory, made 0700 when missing. */
static int
make_dir(const char *path, char *err, size_t errlen)
{
	char *d = strdup(path), *slash;
	int rc = 0;

	if (d == NULL)
		return -1;
	if ((slash = strrchr(d, '/')) != NULL && slash != d) {
		*slash = '\0';
		if (mkdir(d, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", d, strerror(errno));
			rc = -1;
		}
	}
	free(d);
	return rc;
}

int
droid_setup(const struct config *cfg, int dry_run, FILE *out)
{
	struct droid_model *pick = NULL;
	enum droid_change *ch = NULL;
	struct buf old = BUF_SECRET;
	cJSON *root = NULL;
	char *path = NULL, *json = NULL, *grown, base[48];
	char err[PATH_MAX + 256];
	size_t n, i, changed = 0;
	mode_t mode = 0600;
	int rc = EXIT_SYS, missing, existed;

	(void)droid_models(cfg, &n);
	if ((pick = calloc(n + 1, sizeof *pick)) == NULL ||
	    (ch = calloc(n + 1, sizeof *ch)) == NULL ||
	    (path = settings_path()) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory or HOME unset\n");
		goto out;
	}
	if ((n = pick_models(cfg, pick)) == 0) {
		fprintf(stderr, "cli-proxy-api: no usable account in %s, so no "
		    "model to offer droid: log in first with cli-proxy-api "
		    "--claude-login or --codex-login (cli-proxy-api --doctor "
		    "says why an account is not usable); nothing was "
		    "changed\n", cfg->auth_dir);
		rc = EXIT_DROID;
		goto out;
	}
	if ((missing = read_settings(path, &old, &mode, err,
	    sizeof err)) == -1) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		goto out;
	}
	existed = missing == 0;
	snprintf(base, sizeof base, "http://localhost:%d", cfg->port);
	if ((root = parse_settings(path, &old, err, sizeof err)) == NULL ||
	    droid_merge(root, pick, n, base, ch, err, sizeof err) == -1) {
		if (root != NULL)
			fprintf(stderr, "cli-proxy-api: %s: %s; nothing was "
			    "changed\n", path, err);
		else
			fprintf(stderr, "cli-proxy-api: %s\n", err);
		rc = EXIT_DROID;
		goto out;
	}
	for (i = 0; i < n; i++)
		changed += ch[i] != DROID_UNCHANGED;
	if ((json = cJSON_Print(root)) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		goto out;
	}
	if (dry_run) {
		/* stdout stays pure JSON for a pipe; the summary goes aside. */
		report(stderr, pick, ch, n);
		printf("%s\n", json);
		rc = EXIT_OK;
		goto out;
	}
	report(out, pick, ch, n);
	if (changed == 0 && existed) {
		fprintf(out, "%s: nothing to change\n", path);
		rc = EXIT_OK;
		goto out;
	}
	if ((grown = realloc(json, strlen(json) + 2)) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		goto out;
	}
	json = grown;
	strcat(json, "\n");
	if (make_dir(path, err, sizeof err) == -1 || write_settings(path,
	    &old, existed, mode, json, err, sizeof err) == -1) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		goto out;
	}
	fprintf(out, "wrote %s%s%s%s\n", path, existed ? " (the old one is in "
	    : "", existed ? path : "", existed ? ".bak)" : "");
	rc = EXIT_OK;
out:
	if (json != NULL)
		explicit_bzero(json, strlen(json));
	free(json);
	secret_json_delete(root);
	buf_free(&old);
	free(pick);
	free(ch);
	free(path);
	return rc;
}
