/*
 * Usage statistics. The scanner reads token counts from a response body as
 * the relay passes it along: it only looks at copies of the bytes, so it
 * never holds one back. Streams are cut into events by sse_feed and only
 * the few events that carry usage are parsed; JSON bodies are kept (up to
 * a bound) and parsed once at the end. Either way the result does not
 * depend on how the bytes were split.
 *
 * Each request becomes one line of auth-dir/usage.jsonl. Every connection
 * is its own process, so appends and rotation are serialised by an flock
 * on usage.lock, a sidecar that is never renamed.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"
#include "timefmt.h"
#include "usage.h"

#define JSON_MAX (4 * 1024 * 1024)

enum usage_kind
usage_kind_for(const char *provider, const char *ctype, size_t ctlen)
{
	static const char sse[] = "text/event-stream";
	int stream = ctype != NULL && ctlen >= sizeof sse - 1 &&
	    strncasecmp(ctype, sse, sizeof sse - 1) == 0;

	if (strcmp(provider, "claude") == 0)
		return stream ? USAGE_ANTHROPIC_SSE : USAGE_ANTHROPIC_JSON;
	if (strcmp(provider, "codex") == 0)
		return stream ? USAGE_RESPONSES_SSE : USAGE_RESPONSES_JSON;
	return USAGE_NONE;
}

void
usage_scan_init(struct usage_scan *s, enum usage_kind kind)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
}

/* A count, when the object has it as a non-negative number. */
static int
count(const cJSON *o, const char *key, unsigned long long *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(j) || j->valuedouble < 0 ||
	    j->valuedouble > 1e15)
		return 0;
	*v = (unsigned long long)j->valuedouble;
	return 1;
}

/* Whatever counts a usage object holds, in any provider's names. Absent
 * keys leave the count as it was: message_delta brings output alone. */
static void
take_usage(struct usage *u, const cJSON *us)
{
	const cJSON *d;

	if (!cJSON_IsObject(us))
		return;
	(void)(count(us, "input_tokens", &u->input) ||
	    count(us, "prompt_tokens", &u->input));
	(void)(count(us, "output_tokens", &u->output) ||
	    count(us, "completion_tokens", &u->output));
	(void)count(us, "cache_read_input_tokens", &u->cache_read);
	(void)count(us, "cache_creation_input_tokens", &u->cache_write);
	d = cJSON_GetObjectItemCaseSensitive(us, "input_tokens_details");
	if (!cJSON_IsObject(d))
		d = cJSON_GetObjectItemCaseSensitive(us,
		    "prompt_tokens_details");
	if (cJSON_IsObject(d))
		(void)count(d, "cached_tokens", &u->cache_read);
}

static void
take_model(struct usage *u, const cJSON *o)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model");

	if (cJSON_IsString(m) && m->valuestring[0] != '\0')
		snprintf(u->model, sizeof u->model, "%s", m->valuestring);
}

/* The event's type: its JSON "type", else its SSE event name. */
static const char *
event_type(const cJSON *root, const char *event)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");

	return cJSON_IsString(t) ? t->valuestring : event;
}

/* Only these events can carry usage; the deltas in between are many and
 * are never parsed. */
static int
may_carry(enum usage_kind kind, const char *event)
{
	if (event[0] == '\0')
		return 1;
	if (kind == USAGE_ANTHROPIC_SSE)
		return strcmp(event, "message_start") == 0 ||
		    strcmp(event, "message_delta") == 0;
	return strcmp(event, "response.created") == 0 ||
	    strcmp(event, "response.completed") == 0 ||
	    strcmp(event, "response.incomplete") == 0 ||
	    strcmp(event, "response.failed") == 0 ||
	    strcmp(event, "response.done") == 0;
}

static int
on_event(void *arg, const char *event, const char *data, size_t dlen)
{
	struct usage_scan *s = arg;
	const cJSON *o;
	const char *type;
	cJSON *root;

	if (!may_carry(s->kind, event) ||
	    memmem(data, dlen, "\"usage\"", 7) == NULL)
		return 0;
	if ((root = cJSON_ParseWithLength(data, dlen)) == NULL)
		return 0;
	type = event_type(root, event);
	if (s->kind == USAGE_ANTHROPIC_SSE) {
		if (strcmp(type, "message_start") == 0) {
			o = cJSON_GetObjectItemCaseSensitive(root, "message");
			take_model(&s->u, o);
			take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(o,
			    "usage"));
		} else if (strcmp(type, "message_delta") == 0)
			take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(
			    root, "usage"));
	} else if (strncmp(type, "response.", 9) == 0) {
		o = cJSON_GetObjectItemCaseSensitive(root, "response");
		take_model(&s->u, o);
		take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(o,
		    "usage"));
	}
	cJSON_Delete(root);
	return 0;
}

void
usage_scan_feed(struct usage_scan *s, const char *p, size_t n)
{
	if (s->kind == USAGE_NONE || s->gave_up || n == 0)
		return;
	if (s->kind == USAGE_ANTHROPIC_SSE || s->kind == USAGE_RESPONSES_SSE) {
		if (sse_feed(&s->sse, p, n, on_event, s) == -1) {
			s->gave_up = 1;
			sse_free(&s->sse);
		}
		return;
	}
	if (s->json.len + n > JSON_MAX || buf_add(&s->json, p, n) == -1) {
		s->gave_up = 1;
		buf_free(&s->json);
	}
}

/* A whole JSON body: the top-level usage and model, or those of the
 * response object a Responses event wraps. */
static void
scan_json(struct usage_scan *s)
{
	const cJSON *o;
	cJSON *root;

	if (s->json.len == 0 ||
	    (root = cJSON_ParseWithLength(s->json.p, s->json.len)) == NULL)
		return;
	o = root;
	if (!cJSON_GetObjectItemCaseSensitive(o, "usage") &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "response")))
		o = cJSON_GetObjectItemCaseSensitive(o, "response");
	take_model(&s->u, o);
	take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(o, "usage"));
	cJSON_Delete(root);
}

void
usage_scan_done(struct usage_scan *s, struct usage *u)
{
	if (!s->gave_up) {
		if (s->kind == USAGE_ANTHROPIC_SSE ||
		    s->kind == USAGE_RESPONSES_SSE)
			/* A stream cut off without its blank line still
			 * dispatches its last event. */
			(void)sse_feed(&s->sse, "\n\n", 2, on_event, s);
		else if (s->kind != USAGE_NONE)
			scan_json(s);
	}
	if (s->gave_up)
		memset(&s->u, 0, sizeof s->u);
	*u = s->u;
	sse_free(&s->sse);
	buf_free(&s->json);
	s->kind = USAGE_NONE;
}

/* ---- usage.jsonl ---- */

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

/* ---- --usage ---- */

struct row {
	char key[160];
	unsigned long long req, err, in, out, cr, cw;
};

struct table {
	const char *title;
	struct row *v;
	size_t n, cap;
};

struct totals {
	struct table day, account, model;
	struct row all;
	unsigned long long bad;
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
}

static int
table_add(struct table *t, const char *key, const struct row *add)
{
	struct row *v;
	size_t i;

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

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(j) && j->valuestring[0] ? j->valuestring : "-";
}

/* One line of the file into the totals. 0, 1 when it is not a record, -1
 * out of memory. */
static int
tally(struct totals *t, const char *line, size_t len)
{
	const cJSON *status;
	struct row r;
	char day[11];
	const char *when;
	cJSON *o;
	int rc = -1;

	if ((o = cJSON_ParseWithLength(line, len)) == NULL ||
	    !cJSON_IsObject(o) || strlen(when = str_of(o, "time")) < 10) {
		cJSON_Delete(o);
		return 1;
	}
	memset(&r, 0, sizeof r);
	memcpy(day, when, 10);
	day[10] = '\0';
	status = cJSON_GetObjectItemCaseSensitive(o, "status");
	r.req = 1;
	r.err = cJSON_IsNumber(status) && status->valuedouble >= 400;
	(void)count(o, "input", &r.in);
	(void)count(o, "output", &r.out);
	(void)count(o, "cache_read", &r.cr);
	(void)count(o, "cache_write", &r.cw);
	if (table_add(&t->day, day, &r) == 0 &&
	    table_add(&t->account, str_of(o, "account"), &r) == 0 &&
	    table_add(&t->model, str_of(o, "model"), &r) == 0) {
		row_add(&t->all, &r);
		rc = 0;
	}
	cJSON_Delete(o);
	return rc;
}

/* Every line of path into t; a missing file is an empty one. */
static int
tally_file(struct totals *t, const char *path)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0, r;

	if ((fp = fopen(path, "re")) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((n = getline(&line, &cap, fp)) != -1) {
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n == 0)
			continue;
		if ((r = tally(t, line, (size_t)n)) == -1) {
			errno = ENOMEM;
			rc = -1;
			break;
		}
		t->bad += (unsigned long long)r;
	}
	if (rc == 0 && ferror(fp))
		rc = -1;
	free(line);
	fclose(fp);
	return rc;
}

static int
by_key(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->key,
	    ((const struct row *)b)->key);
}

static void
print_row(FILE *out, int w, const struct row *r)
{
	fprintf(out, "%-*s %9llu %7llu %12llu %12llu %12llu %12llu\n", w,
	    r->key, r->req, r->err, r->in, r->out, r->cr, r->cw);
}

static void
print_table(FILE *out, int w, struct table *t)
{
	size_t i;

	qsort(t->v, t->n, sizeof *t->v, by_key);
	fprintf(out, "%-*s %9s %7s %12s %12s %12s %12s\n", w, t->title,
	    "REQUESTS", "ERRORS", "INPUT", "OUTPUT", "CACHE-READ",
	    "CACHE-WRITE");
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
	char path[4200], old[4200];
	struct totals t;
	int rc = -1, w;

	memset(&t, 0, sizeof t);
	t.day.title = "DAY";
	t.account.title = "ACCOUNT";
	t.model.title = "MODEL";
	snprintf(t.all.key, sizeof t.all.key, "TOTAL");
	if (usage_path(path, sizeof path, cfg->auth_dir, "usage.jsonl") ||
	    usage_path(old, sizeof old, cfg->auth_dir, "usage.jsonl.1") ||
	    tally_file(&t, old) == -1 || tally_file(&t, path) == -1)
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
	if (t.bad)
		fprintf(out, "%llu line%s of %s and %s could not be read; "
		    "skipped\n", t.bad, t.bad == 1 ? "" : "s", old, path);
	rc = ferror(out) ? -1 : 0;
out:
	free(t.day.v);
	free(t.account.v);
	free(t.model.v);
	return rc;
}
