/*
 * auth-dir/usage.jsonl, one line per request, and those who read it back
 * (--usage, the status page). Every connection is its own process, so
 * appends and rotation (to usage.jsonl.1) are serialised by an flock on
 * usage.lock, a sidecar that is never renamed. Readers take no lock: an
 * append cut in half is one line that does not parse, counted and skipped.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts/usage.h"
#include "support/file.h"
#include "support/log.h"
#include "support/timefmt.h"

static int
usage_path(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The line for r, with its newline, malloc'd. cJSON does the escaping. */
static char *
usage_line(const struct usage_rec *r, time_t now)
{
	char when[32], *s = NULL, *line = NULL;
	cJSON *o;

	timefmt_format(now, when, sizeof when);
	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	if (!cJSON_AddStringToObject(o, "time", when) ||
	    !cJSON_AddStringToObject(o, "provider", r->provider ?
	    r->provider : "-") ||
	    !cJSON_AddStringToObject(o, "account", r->account &&
	    r->account[0] ? r->account : "-") ||
	    !cJSON_AddStringToObject(o, "model", r->u.model[0] ?
	    r->u.model : "-") ||
	    !cJSON_AddNumberToObject(o, "status", r->status) ||
	    !cJSON_AddNumberToObject(o, "input", (double)r->u.input) ||
	    !cJSON_AddNumberToObject(o, "output", (double)r->u.output) ||
	    !cJSON_AddNumberToObject(o, "cache_read",
	    (double)r->u.cache_read) ||
	    !cJSON_AddNumberToObject(o, "cache_write",
	    (double)r->u.cache_write) ||
	    !cJSON_AddNumberToObject(o, "ms", (double)(r->ms < 0 ? 0 :
	    r->ms)))
		goto out;
	if ((s = cJSON_PrintUnformatted(o)) == NULL ||
	    asprintf(&line, "%s\n", s) == -1)
		line = NULL;
out:
	free(s);
	cJSON_Delete(o);
	if (line == NULL)
		errno = ENOMEM;
	return line;
}

int
usage_record(const struct config *cfg, const struct usage_rec *r)
{
	char lockp[4200], path[4200], old[4200], *line = NULL;
	struct stat st;
	size_t n;
	int lfd = -1, fd = -1, rc = -1, e;

	if (!cfg->usage_stats)
		return 0;
	if (usage_path(lockp, sizeof lockp, cfg->auth_dir, "usage.lock") ||
	    usage_path(path, sizeof path, cfg->auth_dir, "usage.jsonl") ||
	    usage_path(old, sizeof old, cfg->auth_dir, "usage.jsonl.1") ||
	    (line = usage_line(r, time(NULL))) == NULL)
		goto out;
	n = strlen(line);
	lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd == -1)
		goto out;
	while (flock(lfd, LOCK_EX) == -1)
		if (errno != EINTR)
			goto out;
	/* Rotate under the lock, so concurrent processes rotate once. */
	if (stat(path, &st) == 0 && st.st_size > 0 &&
	    (size_t)st.st_size + n > cfg->usage_max &&
	    rename(path, old) == -1)
		goto out;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
	if (fd == -1 || file_write_all(fd, line, n) == -1)
		goto out;
	rc = 0;
out:
	e = errno;
	if (fd != -1)
		close(fd);
	if (lfd != -1)
		close(lfd);
	free(line);
	errno = e;
	return rc;
}

/* A count, when the object has it as a non-negative number. */
static unsigned long long
count_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(j) && j->valuedouble >= 0 &&
	    j->valuedouble < 1e15 ? (unsigned long long)j->valuedouble : 0;
}

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(j) && j->valuestring[0] ? j->valuestring : "-";
}

/* One line to fn: 0, 1 when it is not a record, -1 when fn failed. */
static int
each_line(const char *line, size_t len,
    int (*fn)(const struct usage_line *, void *), void *arg)
{
	struct usage_line l;
	const cJSON *st;
	cJSON *o;
	int rc;

	if ((o = cJSON_ParseWithLength(line, len)) == NULL ||
	    !cJSON_IsObject(o) || strlen(l.time = str_of(o, "time")) < 10) {
		cJSON_Delete(o);
		return 1;
	}
	l.provider = str_of(o, "provider");
	l.account = str_of(o, "account");
	l.model = str_of(o, "model");
	st = cJSON_GetObjectItemCaseSensitive(o, "status");
	l.status = cJSON_IsNumber(st) && st->valuedouble > 0 &&
	    st->valuedouble < 1000 ? (int)st->valuedouble : 0;
	l.input = count_of(o, "input");
	l.output = count_of(o, "output");
	l.cache_read = count_of(o, "cache_read");
	l.cache_write = count_of(o, "cache_write");
	rc = fn(&l, arg) == -1 ? -1 : 0;
	cJSON_Delete(o);
	return rc;
}

/* Every line of path to fn; a missing file is an empty one. */
static int
each_file(const char *path, int (*fn)(const struct usage_line *, void *),
    void *arg, unsigned long long *bad)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0, r;

	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, fp)) != -1) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if ((r = each_line(line, (size_t)n, fn, arg)) == -1) {
			errno = ENOMEM;
			rc = -1;
			break;
		}
		*bad += (unsigned long long)r;
	}
	if (rc == 0 && ferror(fp))
		rc = -1;
	free(line);
	fclose(fp);
	return rc;
}

int
usage_each(const struct config *cfg,
    int (*fn)(const struct usage_line *, void *), void *arg,
    unsigned long long *bad, char *path, size_t pathlen)
{
	char old[4200];

	if (usage_path(old, sizeof old, cfg->auth_dir, "usage.jsonl.1") ||
	    usage_path(path, pathlen, cfg->auth_dir, "usage.jsonl"))
		return -1;
	if (each_file(old, fn, arg, bad) == -1) {
		snprintf(path, pathlen, "%s", old);
		return -1;
	}
	return each_file(path, fn, arg, bad);
}

/* ---- --usage ---- */

struct row {
	char key[160];
	unsigned long long req, err, in, out, cr, cw;
	unsigned long long prompt;      /* every input token, cached or not */
};

struct table {
	const char *title;
	struct row *v;
	size_t n, cap;
};

struct totals {
	struct table day, account, model;
	struct row all;
};

static void
row_add(struct row *w, const struct row *add)
{
	w->req += add->req;
	w->err += add->err;
	w->in += add->in;
	w->out += add->out;
	w->cr += add->cr;
	w->cw += add->cw;
	w->prompt += add->prompt;
}

static int
table_add(struct table *t, const char *raw, const struct row *add)
{
	char key[sizeof t->v[0].key];
	struct row *v;
	size_t i;

	/* Model and account names come from clients and upstreams: they
	 * reach a terminal as text, never as its codes. */
	log_clean(key, sizeof key, raw);
	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].key, key) == 0)
			break;
	if (i == t->n) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 16;

			if ((v = reallocarray(t->v, cap, sizeof *v)) == NULL)
				return -1;
			t->v = v;
			t->cap = cap;
		}
		memset(&t->v[i], 0, sizeof t->v[i]);
		snprintf(t->v[i].key, sizeof t->v[i].key, "%s", key);
		t->n++;
	}
	row_add(&t->v[i], add);
	return 0;
}

/* One record into the totals. */
static int
tally(const struct usage_line *l, void *arg)
{
	struct totals *t = arg;
	struct row r;
	char day[11];

	memset(&r, 0, sizeof r);
	memcpy(day, l->time, 10);
	day[10] = '\0';
	r.req = 1;
	r.err = l->status >= 400;
	r.in = l->input;
	r.out = l->output;
	r.cr = l->cache_read;
	r.cw = l->cache_write;
	/* OpenAI's input already holds the cached tokens; Anthropic's
	 * leaves out what it read and wrote from the cache. */
	r.prompt = strcmp(l->provider, "codex") == 0 ? r.in :
	    r.in + r.cr + r.cw;
	if (table_add(&t->day, day, &r) == -1 ||
	    table_add(&t->account, l->account, &r) == -1 ||
	    table_add(&t->model, l->model, &r) == -1)
		return -1;
	row_add(&t->all, &r);
	return 0;
}

static int
by_key(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->key,
	    ((const struct row *)b)->key);
}

/* The share of the prompt tokens read from the cache: a conversation
 * kept on its account reads most of its prompt from there. */
static void
print_row(FILE *out, int w, const struct row *r)
{
	char share[16] = "-";

	if (r->prompt > 0)
		snprintf(share, sizeof share, "%.1f%%",
		    100.0 * (double)r->cr / (double)r->prompt);
	fprintf(out, "%-*s %9llu %7llu %12llu %12llu %12llu %12llu %7s\n", w,
	    r->key, r->req, r->err, r->in, r->out, r->cr, r->cw, share);
}

static void
print_table(FILE *out, int w, struct table *t)
{
	size_t i;

	qsort(t->v, t->n, sizeof *t->v, by_key);
	fprintf(out, "%-*s %9s %7s %12s %12s %12s %12s %7s\n", w, t->title,
	    "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHE-READ",
	    "CACHE-WRITE", "CACHED");
	for (i = 0; i < t->n; i++)
		print_row(out, w, &t->v[i]);
	fputc('\n', out);
}

/* The first column fits the longest name (up to the row's 159). */
static int
key_width(const struct totals *t)
{
	const struct table *tabs[] = { &t->day, &t->account, &t->model };
	size_t i, j, w = 10;

	for (i = 0; i < 3; i++)
		for (j = 0; j < tabs[i]->n; j++)
			if (strlen(tabs[i]->v[j].key) > w)
				w = strlen(tabs[i]->v[j].key);
	return (int)w;
}

int
usage_report(const struct config *cfg, FILE *out)
{
	char path[4200];
	struct totals t;
	unsigned long long bad = 0;
	int rc = -1, w;

	memset(&t, 0, sizeof t);
	t.day.title = "DAY";
	t.account.title = "ACCOUNT";
	t.model.title = "MODEL";
	snprintf(t.all.key, sizeof t.all.key, "TOTAL");
	if (usage_each(cfg, tally, &t, &bad, path, sizeof path) == -1)
		goto out;
	if (t.all.req == 0) {
		fprintf(out, "no usage recorded in %s%s\n", path,
		    cfg->usage_stats ? "" : " (set usage-statistics-enabled: "
		    "true to record it)");
	} else {
		w = key_width(&t);
		print_table(out, w, &t.day);
		print_table(out, w, &t.account);
		print_table(out, w, &t.model);
		print_row(out, w, &t.all);
	}
	if (bad)
		fprintf(out, "%llu line%s of %s.1 and %s could not be read; "
		    "skipped\n", bad, bad == 1 ? "" : "s", path, path);
	rc = ferror(out) ? -1 : 0;
out:
	free(t.day.v);
	free(t.account.v);
	free(t.model.v);
	return rc;
}
