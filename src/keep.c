/*
 * What a connection process keeps of auth-dir between the requests of a
 * keep-alive connection: the listing, state.json parsed, each token file's
 * account parsed. Each is read again only when stat says the file changed
 * (stamp.h), and stat is asked at most once a second per file (at every
 * new connection's first request always): what another process changes is
 * seen within a second, what this one writes at once (store.c drops it).
 * Reads need no lock: every writer in auth-dir replaces a file whole by
 * rename.
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

#include "buf.h"
#include "stamp.h"
#include "keep.h"

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

static void
names_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* auth-dir's entries in name order, as last listed when it has not
 * changed since. -1 with errno. */
int
keep_dir_names(const char *dir, char *const **names, size_t *n)
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
		if (ents[i]->d_name[0] != '.' &&
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

/* Read and parse state.json; NULL when it is missing, unreadable or
 * corrupt (*corrupt set for the last). st, when given, gets its stat
 * taken before the read. */
cJSON *
keep_state_read(const char *path, struct stat *st, int *corrupt)
{
	struct buf b = { 0 };
	cJSON *root = NULL;
	ssize_t r;
	int fd;

	*corrupt = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if (st && fstat(fd, st) == -1) {
		close(fd);
		return NULL;
	}
	while (buf_reserve(&b, 4096) == 0 &&
	    (r = read(fd, b.p + b.len, b.cap - b.len)) > 0)
		b.len += (size_t)r;
	close(fd);
	root = cJSON_ParseWithLength(b.p ? b.p : "", b.len);
	if (root && !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		root = NULL;
	}
	*corrupt = root == NULL && b.len > 0;
	buf_free(&b);
	return root;
}

void
keep_state_forget(void)
{
	cJSON_Delete(cache.state);
	cache.state = NULL;
}

/* state.json as last read, read again when it changed; no lock (it is
 * replaced whole). NULL when there is none to read: the caller takes the
 * locked path, which also reports a corrupt file. */
cJSON *
keep_state(const struct config *cfg)
{
	char path[4200];
	struct stat st;
	int corrupt;

	snprintf(path, sizeof path, "%s/state.json", cfg->auth_dir);
	if (cache.state && strcmp(cache.state_path, path) == 0 &&
	    stamp_check(&cache.state_id, path, 0))
		return cache.state;
	keep_state_forget();
	free(cache.state_path);
	if ((cache.state_path = strdup(path)) == NULL)
		return NULL;
	if ((cache.state = keep_state_read(path, &st, &corrupt)) != NULL)
		stamp_take(&cache.state_id, &st);
	return cache.state;
}

/* Drop what is kept of the token file at path: this process replaced it. */
void
keep_token_forget(const char *path)
{
	size_t i;

	for (i = 0; i < cache.ntok; i++)
		if (strcmp(cache.tok[i].path, path) == 0) {
			account_free(&cache.tok[i].acct);
			cache.tok[i].id.trusted = 0;
		}
}

/* A token file's account, as last parsed when the file has not changed
 * since. A file that fails to load is not kept. */
int
keep_token(const char *path, const char *provider, struct account *a,
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
keep_recheck(void)
{
	size_t i;

	cache.dir_id.checked = 0;
	cache.state_id.checked = 0;
	for (i = 0; i < cache.ntok; i++)
		cache.tok[i].id.checked = 0;
}
