/*
 * auth-dir as the accounts layer reads it: which accounts there are (token
 * files in name order, then the config's API keys), and what a connection
 * process keeps of it between the requests of a keep-alive connection:
 * the listing, state.json parsed, each token file's account parsed. Each
 * is read again only when it changed (stamp.h): an inotify watch on
 * auth-dir, made before the sandbox, says so with one read per request
 * for all of them, and exactly: what another process changes is seen by
 * this one's next request, what this one writes at once (its writers
 * drop what is kept). Without the watch, a stat per kept file per
 * request says it. Reads need no lock: every writer in auth-dir replaces
 * a file whole by rename.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/authdir.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/stamp.h"

/* state.json is small (a few hundred bytes an account); a file far past
 * that is not ours, and no reader should swallow it whole. */
#define STATE_MAX (4 << 20)

struct tokcache {
	char *path;
	struct stamp id;
	struct account acct;    /* as parsed: holds secrets, wiped */
};

static struct {
	char *dir;
	struct stamp dir_id;
	char **names;           /* auth-dir's entries in name order */
	size_t nnames;
	char *state_path;
	struct stamp state_id;
	cJSON *state;
	struct tokcache *tok;
	size_t ntok;
} cache;

/* A token file's name, of either provider: <provider>-*.json. */
static int
account_name(const char *name)
{
	static const char *const providers[] = { "claude", "codex" };
	size_t len = strlen(name), pl, i;

	for (i = 0; i < 2; i++) {
		pl = strlen(providers[i]);
		if (len >= pl + 6 && memcmp(name, providers[i], pl) == 0 &&
		    name[pl] == '-' && memcmp(name + len - 5, ".json", 5) == 0)
			return 1;
	}
	return 0;
}

/* What each name in auth-dir is to what this process keeps: the token
 * files are listed and kept, state.json, the conversations table and the
 * model catalogs kept; locks, temporary files, TLS sessions and
 * usage.jsonl are not (their changes wake nothing). */
static int
name_kind(const char *name)
{
	if (account_name(name))
		return STAMP_KEPT | STAMP_LISTED;
	return strcmp(name, "state.json") == 0 ||
	    strcmp(name, "conversations") == 0 ||
	    strcmp(name, "models.json") == 0 ? STAMP_KEPT : 0;
}

int
authdir_watch(const struct config *cfg)
{
	return stamp_watch(cfg->auth_dir, name_kind);
}

static void
names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* auth-dir's token files in name order (kept: do not free), as last
 * listed when none came or went since. -1 with errno. */
static int
dir_names(const char *dir, char *const **names, size_t *n)
{
	struct dirent **ents = NULL;
	struct stat st;
	char **copy = NULL;
	int nd, i, k;

	*names = NULL;
	*n = 0;
	if (cache.dir && strcmp(cache.dir, dir) == 0 &&
	    stamp_check(&cache.dir_id, dir, 1)) {
		*names = cache.names;
		*n = cache.nnames;
		return 0;
	}
	/* The identity before the listing: see stamp_take. */
	if (stat(dir, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((nd = scandir(dir, &ents, NULL, alphasort)) == -1)
		return errno == ENOENT ? 0 : -1;
	if ((copy = calloc((size_t)nd + 1, sizeof *copy)) == NULL)
		goto fail;
	for (i = k = 0; i < nd; i++)
		if (account_name(ents[i]->d_name) &&
		    (copy[k++] = strdup(ents[i]->d_name)) == NULL)
			goto fail;
	names_free(cache.names, cache.nnames);
	free(cache.dir);
	cache.names = copy;
	cache.nnames = (size_t)k;
	if ((cache.dir = strdup(dir)) != NULL)
		stamp_take(&cache.dir_id, &st);
	for (i = 0; i < nd; i++)
		free(ents[i]);
	free(ents);
	*names = cache.names;
	*n = cache.nnames;
	return 0;
fail:
	if (copy)
		names_free(copy, (size_t)nd);
	for (i = 0; i < nd; i++)
		free(ents[i]);
	free(ents);
	errno = ENOMEM;
	return -1;
}

cJSON *
authdir_state_read(const char *path, struct stat *st, int *corrupt)
{
	struct buf b = { 0 };
	cJSON *root = NULL;
	int rc;

	*corrupt = 0;
	rc = file_read(path, STATE_MAX, &b, st);
	if (rc == 0)
		root = cJSON_ParseWithLength(b.p ? b.p : "", b.len);
	if (root && !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		root = NULL;
	}
	*corrupt = root == NULL && (b.len > 0 || (rc == -1 && errno == EFBIG));
	buf_free(&b);
	return root;
}

void
authdir_state_forget(void)
{
	cJSON_Delete(cache.state);
	cache.state = NULL;
}

cJSON *
authdir_state(const struct config *cfg)
{
	char path[4200];
	struct stat st;
	int corrupt;

	snprintf(path, sizeof path, "%s/state.json", cfg->auth_dir);
	if (cache.state && strcmp(cache.state_path, path) == 0 &&
	    stamp_check(&cache.state_id, path, 0))
		return cache.state;
	authdir_state_forget();
	free(cache.state_path);
	if ((cache.state_path = strdup(path)) == NULL)
		return NULL;
	if ((cache.state = authdir_state_read(path, &st, &corrupt)) != NULL)
		stamp_take(&cache.state_id, &st);
	return cache.state;
}

static void
token_forget(const char *path)
{
	size_t i;

	for (i = 0; i < cache.ntok; i++)
		if (strcmp(cache.tok[i].path, path) == 0) {
			account_free(&cache.tok[i].acct);
			cache.tok[i].id.trusted = 0;
		}
}

/* What this process kept of the file at path is stale now (or, after a
 * failed write, maybe): its own writes must be seen at once, not at the
 * next request's look. */
static void
forget(const char *path)
{
	if (cache.state_path && strcmp(path, cache.state_path) == 0)
		authdir_state_forget();
	token_forget(path);
}

int
authdir_replace(const char *path, const void *data, size_t len,
    int durable, char *err, size_t errlen)
{
	int rc = file_replace(path, data, len, durable, err, errlen);

	forget(path);
	return rc;
}

int
authdir_reserve(struct file_room *r, const char *path, size_t size)
{
	char tmp[4200];

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return file_reserve(r, tmp, size);
}

int
authdir_fill(struct file_room *r, const char *path, const void *data,
    size_t len, char *err, size_t errlen)
{
	int rc = file_fill(r, path, data, len, err, errlen);

	forget(path);
	return rc;
}

int
authdir_token(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen)
{
	struct tokcache *t = NULL, *more;
	struct stat st;
	size_t i;

	for (i = 0; i < cache.ntok; i++)
		if (strcmp(cache.tok[i].path, path) == 0)
			t = &cache.tok[i];
	if (t && stamp_check(&t->id, path, 0)) {
		if (account_copy(a, &t->acct) == 0)
			return 0;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (t) {
		account_free(&t->acct);
		t->id.trusted = 0;
	}
	if (token_load_stat(path, provider, a, &st, err, errlen) == -1)
		return -1;
	if (t == NULL && (more = realloc(cache.tok, (cache.ntok + 1) *
	    sizeof *cache.tok)) != NULL) {
		cache.tok = more;
		t = &cache.tok[cache.ntok];
		memset(t, 0, sizeof *t);
		if ((t->path = strdup(path)) != NULL)
			cache.ntok++;
		else
			t = NULL;
	}
	if (t && account_copy(&t->acct, a) == 0)
		stamp_take(&t->id, &st);
	return 0;
}

void
authdir_look(void)
{
	stamp_look();
}

static const struct api_key *
keys_of(const struct config *cfg, const char *provider, size_t *n)
{
	if (strcmp(provider, "codex") == 0) {
		*n = cfg->n_codex_keys;
		return cfg->codex_keys;
	}
	*n = cfg->n_claude_keys;
	return cfg->claude_keys;
}

int
authdir_accounts(const struct config *cfg, const char *provider,
    struct acct_ref **out, size_t *nout)
{
	char *const *names;
	struct acct_ref *c = NULL;
	const struct api_key *keys;
	size_t nkeys, nd, n = 0, i, pl = strlen(provider), len;

	keys = keys_of(cfg, provider, &nkeys);
	/* No auth-dir is fine (API keys alone, or no login yet); one we may
	 * not read is a problem to report, not an empty directory. */
	if (dir_names(cfg->auth_dir, &names, &nd) == -1)
		return -1;
	if ((c = calloc(nd + nkeys + 1, sizeof *c)) == NULL)
		goto out;
	/* The listing holds token files only: provider's are <provider>-. */
	for (i = 0; i < nd; i++) {
		len = strlen(names[i]);
		if (len < sizeof c[n].id && strncmp(names[i], provider, pl) == 0 &&
		    names[i][pl] == '-')
			memcpy(c[n++].id, names[i], len + 1);
	}
	for (i = 0; i < nkeys; i++) {
		snprintf(c[n].id, sizeof c[n].id, "%s-api-key-%zu", provider,
		    i + 1);
		c[n].key = &keys[i];
		c[n++].keyno = (int)i + 1;
	}
out:
	*out = c;
	*nout = n;
	return c ? 0 : -1;
}

int
authdir_load(const struct config *cfg, const char *provider,
    const struct acct_ref *c, struct account *a, char *err, size_t errlen)
{
	char path[4200];

	if (c->key == NULL) {
		snprintf(path, sizeof path, "%s/%s", cfg->auth_dir, c->id);
		return authdir_token(path, provider, a, err, errlen);
	}
	memset(a, 0, sizeof *a);
	a->kind = ACCT_APIKEY;
	snprintf(a->id, sizeof a->id, "%s", c->id);
	snprintf(a->provider, sizeof a->provider, "%s", provider);
	a->base = c->key->base.host ? &c->key->base : NULL;
	if ((a->access_token = strdup(c->key->key)) == NULL ||
	    (a->email = strdup(c->id)) == NULL) {
		account_free(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}
