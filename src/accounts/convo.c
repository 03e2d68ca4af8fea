/*
 * The conversation table, auth-dir/conversations: which account each
 * conversation is on, so that its next request goes where its prompt
 * cache is. One line per conversation, "KEY SEEN ACCOUNT": a keyhash of
 * what names it (convkey.c), when it was last recorded, the account's id.
 *
 * Bounded two ways: a conversation not seen for an hour is dropped, and
 * past CONVO_MAX entries the least recently seen go. Every process reads
 * it without a lock (it is replaced whole by rename) and keeps what it
 * read until stat says the file changed; writers take conversations.lock,
 * a sidecar never replaced, and write only when a conversation is new,
 * moves, or was last recorded CONVO_TOUCH ago (so that a long
 * conversation is not dropped as idle): a conversation in steady use
 * costs no write per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts/convo.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/log.h"
#include "support/stamp.h"

#define CONVO_IDLE (60 * 60)    /* seconds a conversation is kept idle */
#define CONVO_FILE_MAX (2 << 20)

/* What this process read of the table. */
static struct {
	char *path;
	struct stamp id;
	struct buf text;
	int have;
} kept;

static void
table_path(const struct config *cfg, char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", cfg->auth_dir, name);
}

/* The table as it is now: kept, or read again when it changed. A
 * missing table is an empty one. */
static const struct buf *
table(const struct config *cfg)
{
	char path[4200];
	struct stat st;

	table_path(cfg, path, sizeof path, "conversations");
	if (kept.have && strcmp(kept.path, path) == 0 &&
	    stamp_check(&kept.id, path, 0))
		return &kept.text;
	free(kept.path);
	kept.text.len = 0;
	kept.have = 0;
	if ((kept.path = strdup(path)) == NULL)
		return &kept.text;
	if (file_read(path, CONVO_FILE_MAX, &kept.text, &st) == 0) {
		stamp_take(&kept.id, &st);
		kept.have = 1;
	} else
		kept.text.len = 0;
	return &kept.text;
}

/* One line of the table. */
struct line {
	char key[KEYHASH_LEN];
	time_t seen;
	char id[256];
};

/* Parse the line at p (up to its '\n' or end). 0, or -1 when it is not
 * one of ours. */
static int
line_parse(const char *p, const char *end, struct line *l)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	char tmp[400], *s, *t;
	size_t n = (size_t)((nl ? nl : end) - p);
	long long seen;

	if (n >= sizeof tmp || n < KEYHASH_LEN + 2)
		return -1;
	memcpy(tmp, p, n);
	tmp[n] = '\0';
	if (tmp[KEYHASH_LEN - 1] != ' ')
		return -1;
	memcpy(l->key, tmp, KEYHASH_LEN - 1);
	l->key[KEYHASH_LEN - 1] = '\0';
	seen = strtoll(tmp + KEYHASH_LEN, &s, 10);
	if (s == tmp + KEYHASH_LEN || *s != ' ' || seen <= 0)
		return -1;
	for (t = s + 1; *t; t++)
		if ((unsigned char)*t < 0x21)
			return -1;
	if (t == s + 1 || (size_t)(t - s - 1) >= sizeof l->id)
		return -1;
	l->seen = (time_t)seen;
	memcpy(l->id, s + 1, (size_t)(t - s - 1) + 1);
	return 0;
}

int
convo_find(const struct config *cfg, const char *key, char *id,
    size_t idlen, time_t *seen)
{
	const struct buf *t = table(cfg);
	const char *p = t->p, *end = t->p + t->len;
	size_t kl = strlen(key);
	struct line l;

	if (kl != KEYHASH_LEN - 1)
		return 0;
	/* A key is 32 hex digits at a line's start: memmem finds it among
	 * thousands of lines in microseconds. */
	while (p && p < end && (p = memmem(p, (size_t)(end - p), key,
	    kl)) != NULL) {
		if ((p == t->p || p[-1] == '\n') && line_parse(p, end, &l) == 0 &&
		    time(NULL) - l.seen < CONVO_IDLE) {
			snprintf(id, idlen, "%s", l.id);
			*seen = l.seen;
			return 1;
		}
		p += kl;
	}
	return 0;
}

static int
by_seen_desc(const void *a, const void *b)
{
	const struct line *x = a, *y = b;

	return x->seen < y->seen ? 1 : x->seen > y->seen ? -1 : 0;
}

/* The table's lines worth keeping (not idle, not key), newest first,
 * with room for one more. */
static struct line *
keep_lines(const struct buf *text, const char *key, time_t now, size_t *n)
{
	const char *p = text->p, *end = text->p + text->len, *nl;
	struct line *v, l;
	size_t cap = 1;

	for (nl = p; nl && nl < end; nl = memchr(nl + 1, '\n',
	    (size_t)(end - nl - 1)))
		cap++;
	if ((v = calloc(cap + 1, sizeof *v)) == NULL)
		return NULL;
	*n = 0;
	while (p && p < end) {
		if (*n < cap && line_parse(p, end, &l) == 0 &&
		    now - l.seen < CONVO_IDLE && strcmp(l.key, key) != 0)
			v[(*n)++] = l;
		nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : NULL;
	}
	qsort(v, *n, sizeof *v, by_seen_desc);
	if (*n > CONVO_MAX - 1)
		*n = CONVO_MAX - 1;
	return v;
}

/* Under the lock: the table read afresh, key put first, written back. */
static int
rewrite(const struct config *cfg, const char *key, const char *id,
    time_t now)
{
	char path[4200], err[512];
	struct buf old = { 0 }, out = { 0 };
	struct line *v = NULL;
	size_t n = 0, i;
	int rc = -1;

	table_path(cfg, path, sizeof path, "conversations");
	if (file_read(path, CONVO_FILE_MAX, &old, NULL) == -1 &&
	    errno != ENOENT && errno != EFBIG)
		goto out;
	if ((v = keep_lines(&old, key, now, &n)) == NULL ||
	    buf_addf(&out, "%s %lld %s\n", key, (long long)now, id) == -1)
		goto out;
	for (i = 0; i < n; i++)
		if (buf_addf(&out, "%s %lld %s\n", v[i].key,
		    (long long)v[i].seen, v[i].id) == -1)
			goto out;
	/* Not fsynced: a table lost in a crash costs a cache miss. */
	if (file_replace(path, out.p, out.len, 0, err, sizeof err) == -1) {
		log_warn("%s", err);
		goto out;
	}
	rc = 0;
out:
	kept.have = 0;          /* this process's own write: read it again */
	free(v);
	buf_free(&old);
	buf_free(&out);
	return rc;
}

void
convo_put(const struct config *cfg, const char *key, const char *id)
{
	char lockp[4200];
	int fd;

	if (strlen(key) != KEYHASH_LEN - 1 || strchr(id, '\n') ||
	    strchr(id, ' '))
		return;
	table_path(cfg, lockp, sizeof lockp, "conversations.lock");
	fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1)
		return;
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			close(fd);
			return;
		}
	(void)rewrite(cfg, key, id, time(NULL));
	close(fd);
}

int
convo_due(int known, const char *was, const char *now_on, time_t seen,
    time_t now)
{
	return !known || strcmp(was, now_on) != 0 ||
	    now - seen >= CONVO_TOUCH;
}
