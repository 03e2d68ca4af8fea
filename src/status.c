/*
 * The status page. Everything shown is first gathered into one cJSON tree
 * (the "model"): the accounts from auth-dir and the config, their state
 * from state.json, usage per UTC day from usage.jsonl.1 and usage.jsonl.
 * /status.json is that tree printed and the HTML (status_page.c) is
 * rendered from it, so the two never disagree.
 *
 * Tokens: token files are parsed with token_parse, which copies the
 * secrets out; only the email, expiry and flags reach the model. As a
 * last guard the finished body is searched for every secret we know
 * (tokens, API keys, client keys) and withheld if one shows up, e.g. in an
 * error message some other code wrote to state.json.
 *
 * Nothing here waits for a lock: token files and state.json are replaced
 * by rename, so a plain read sees a whole old or new file, and an append
 * to usage.jsonl cut in half is one line that does not parse. A glance at
 * the page must never queue behind a token refresh.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "reply.h"
#include "status.h"
#include "timefmt.h"
#include "url.h"
#include "secret.h"
#include "token.h"
#include "version.h"

#define SERIES_MAX 64           /* accounts or models charted; the rest
                                 * are summed as "(other)" */
#define KEY_MAX 160

/* ---------------------------------------------------------- access */

int
status_route(const char *path)
{
	return strcmp(path, "/") == 0 || strcmp(path, "/status") == 0 ||
	    strcmp(path, "/status.json") == 0;
}

int
status_addr_local(const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *in4;
	const struct sockaddr_in6 *in6;

	if (len < (socklen_t)sizeof sa->sa_family)
		return 0;
	switch (sa->sa_family) {
	case AF_UNIX:
		return 1;
	case AF_INET:
		if (len < (socklen_t)sizeof *in4)
			return 0;
		in4 = (const struct sockaddr_in *)(const void *)sa;
		return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		if (len < (socklen_t)sizeof *in6)
			return 0;
		in6 = (const struct sockaddr_in6 *)(const void *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		/* A dual-stack listener sees IPv4 clients this way. */
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		    in6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

int
status_peer_local(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct stat st;

	if (fstat(fd, &st) == -1)
		return 0;
	/* A pipe or a file: whoever started us is on this machine. */
	if (!S_ISSOCK(st.st_mode))
		return 1;
	memset(&ss, 0, sizeof ss);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return status_addr_local((const struct sockaddr *)&ss, len);
}

int
status_host_local(const char *v, size_t n)
{
	char host[256];
	const char *end, *port;
	struct in_addr a4;
	struct in6_addr a6;
	size_t hl;

	if (n == 0 || n >= sizeof host)
		return 0;
	if (v[0] == '[') {
		if ((end = memchr(v, ']', n)) == NULL)
			return 0;
		hl = (size_t)(end - v - 1);
		memcpy(host, v + 1, hl);
		port = end + 1;
	} else {
		end = memchr(v, ':', n);
		hl = end ? (size_t)(end - v) : n;
		memcpy(host, v, hl);
		port = v + hl;
	}
	host[hl] = '\0';
	/* The rest is nothing, or a colon and digits. */
	if (port < v + n) {
		if (*port++ != ':' || port == v + n)
			return 0;
		for (; port < v + n; port++)
			if (*port < '0' || *port > '9')
				return 0;
	}
	if (v[0] == '[')
		return inet_pton(AF_INET6, host, &a6) == 1 &&
		    IN6_IS_ADDR_LOOPBACK(&a6);
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	return inet_pton(AF_INET, host, &a4) == 1 &&
	    (ntohl(a4.s_addr) >> 24) == 127;
}

int
status_query_key(const struct config *cfg, const char *q, size_t n)
{
	const char *p = q, *end = q + n, *amp;
	char *key;
	size_t i;
	int ok = 0, bad;

	while (p < end) {
		amp = memchr(p, '&', (size_t)(end - p));
		if (amp == NULL)
			amp = end;
		/* Not form data: a '+' in a key must still match. */
		if (amp - p > 4 && memcmp(p, "key=", 4) == 0 &&
		    (key = url_pct_decode(p + 4, (size_t)(amp - p - 4), 0,
		    &bad)) != NULL) {
			for (i = 0; i < cfg->n_api_keys; i++)
				ok |= secret_eq(key, strlen(key),
				    cfg->api_keys[i]);
			secret_free(&key);
		}
		p = amp + 1;
	}
	return ok;
}

/* ---------------------------------------------------------- the model */

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
	struct buf secrets;     /* NUL-separated, wiped at the end */
};

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

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(j) && j->valuestring[0] ? j->valuestring : "-";
}

static unsigned long long
count_of(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(j) || j->valuedouble < 0 || j->valuedouble > 1e15)
		return 0;
	return (unsigned long long)j->valuedouble;
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
keep_error(struct gather *g, const cJSON *o, int status)
{
	struct err_rec *e = &g->ring[g->nerr++ % STATUS_ERRORS];

	memset(e, 0, sizeof *e);
	snprintf(e->time, sizeof e->time, "%s", str_of(o, "time"));
	e->source = "request";
	snprintf(e->provider, sizeof e->provider, "%s", str_of(o, "provider"));
	snprintf(e->account, sizeof e->account, "%s", str_of(o, "account"));
	snprintf(e->model, sizeof e->model, "%s", str_of(o, "model"));
	e->status = status;
}

/* One usage line. 0, 1 when it is not a record, -1 out of memory. */
static int
tally(struct gather *g, const char *line, size_t len)
{
	unsigned long long m[NMETRIC];
	struct series *s[2];
	const cJSON *st;
	const char *when;
	cJSON *o;
	int day, status, i, k, rc = 0;

	if ((o = cJSON_ParseWithLength(line, len)) == NULL ||
	    !cJSON_IsObject(o) || strlen(when = str_of(o, "time")) < 10) {
		cJSON_Delete(o);
		return 1;
	}
	st = cJSON_GetObjectItemCaseSensitive(o, "status");
	status = cJSON_IsNumber(st) && st->valuedouble > 0 &&
	    st->valuedouble < 1000 ? (int)st->valuedouble : 0;
	if (status >= 400)
		keep_error(g, o, status);
	if ((day = day_index(g, when)) == -1)
		goto out;
	m[M_REQ] = 1;
	m[M_ERR] = status >= 400;
	m[M_IN] = count_of(o, "input");
	m[M_OUT] = count_of(o, "output");
	m[M_CR] = count_of(o, "cache_read");
	m[M_CW] = count_of(o, "cache_write");
	/* OpenAI's input already holds the cached tokens. */
	m[M_TOK] = m[M_IN] + m[M_OUT] + m[M_CW] +
	    (strcmp(str_of(o, "provider"), "codex") == 0 ? 0 : m[M_CR]);
	s[0] = series_of(&g->acct, str_of(o, "account"));
	s[1] = series_of(&g->model, str_of(o, "model"));
	if (s[0] == NULL || s[1] == NULL) {
		rc = -1;
		goto out;
	}
	for (k = 0; k < 2; k++)
		for (i = 0; i < NMETRIC; i++)
			s[k]->v[i][day] += m[i];
out:
	cJSON_Delete(o);
	return rc;
}

/* Every line of auth-dir/name; a missing file is an empty one, one we
 * cannot read is noted on the page. -1 only when out of memory. */
static int
tally_file(const struct config *cfg, struct gather *g, const char *name)
{
	char path[4200], *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;
	int rc = 0, r;

	snprintf(path, sizeof path, "%s/%s", cfg->auth_dir, name);
	if ((fp = fopen(path, "re")) == NULL) {
		if (errno != ENOENT)
			snprintf(g->usage_err, sizeof g->usage_err, "cannot "
			    "read %s: %s", path, strerror(errno));
		return 0;
	}
	while ((n = getline(&line, &cap, fp)) != -1) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (n == 0)
			continue;
		if ((r = tally(g, line, (size_t)n)) == -1) {
			rc = -1;
			break;
		}
		g->bad += (unsigned long long)r;
	}
	free(line);
	fclose(fp);
	return rc;
}

static void
add_secret(struct gather *g, const char *s)
{
	if (s && *s)
		(void)buf_add(&g->secrets, s, strlen(s) + 1);
}

static cJSON *
read_state(const struct config *cfg)
{
	char path[4200];
	struct buf b = { 0 };
	cJSON *root = NULL;
	ssize_t r;
	int fd;

	snprintf(path, sizeof path, "%s/state.json", cfg->auth_dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	while (b.len < (1 << 22) && buf_reserve(&b, 4096) == 0 &&
	    (r = read(fd, b.p + b.len, b.cap - b.len)) > 0)
		b.len += (size_t)r;
	close(fd);
	if (b.len > 0)
		root = cJSON_ParseWithLength(b.p, b.len);
	buf_free(&b);
	return root;
}

static void
add_time(cJSON *o, const char *key, time_t t)
{
	char when[32];

	if (t <= 0) {
		cJSON_AddNullToObject(o, key);
		return;
	}
	timefmt_format(t, when, sizeof when);
	cJSON_AddStringToObject(o, key, when);
}

/* A token file: its email, expiry and flags, its secrets to g. The file
 * is read without its lock (see the top). */
static void
account_file(const struct config *cfg, struct gather *g, cJSON *o,
    const char *provider, const char *id, time_t now)
{
	char path[4200], err[4400], why[128];
	struct buf b = BUF_SECRET;
	struct account a;
	int fd;

	memset(&a, 0, sizeof a);
	snprintf(path, sizeof path, "%s/%s", cfg->auth_dir, id);
	cJSON_AddStringToObject(o, "kind", "oauth");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, sizeof err, "token file %s: %s", path,
		    strerror(errno));
		goto bad;
	}
	if (token_read(fd, path, &b, err, sizeof err) == -1)
		goto bad;
	if (token_parse(b.p, b.len, &a, why, sizeof why) == -1) {
		snprintf(err, sizeof err, "token file %s: %s: log in again or "
		    "fix the file", path, why);
		goto bad;
	}
	add_secret(g, a.access_token);
	add_secret(g, a.refresh_token);
	cJSON_AddStringToObject(o, "email", a.email ? a.email :
	    a.account_id ? a.account_id : id);
	add_time(o, "expires", a.expires);
	if (a.expires)
		cJSON_AddNumberToObject(o, "expires_in",
		    (double)(a.expires - now));
	else
		cJSON_AddNullToObject(o, "expires_in");
	cJSON_AddBoolToObject(o, "disabled", a.disabled);
	cJSON_AddNullToObject(o, "problem");
	goto out;
bad:
	cJSON_AddStringToObject(o, "email", id);
	cJSON_AddNullToObject(o, "expires");
	cJSON_AddNullToObject(o, "expires_in");
	cJSON_AddBoolToObject(o, "disabled", 0);
	cJSON_AddStringToObject(o, "problem", err);
out:
	if (fd != -1)
		close(fd);
	buf_free(&b);
	account_free(&a);
}

static void
account_key(struct gather *g, cJSON *o, const char *id, const char *key)
{
	add_secret(g, key);
	cJSON_AddStringToObject(o, "kind", "api-key");
	cJSON_AddStringToObject(o, "email", id);
	cJSON_AddNullToObject(o, "expires");
	cJSON_AddNullToObject(o, "expires_in");
	cJSON_AddBoolToObject(o, "disabled", 0);
	cJSON_AddNullToObject(o, "problem");
}

/* The refusal marks that still hold: {"third_party": {"at", "ago",
 * "reason", "message"} or null, "first_party": ...}. */
static void
account_refusals(cJSON *o, const cJSON *st, time_t now, long hold)
{
	static const char *const kinds[] = { "third_party", "first_party" };
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(st, "refused");
	cJSON *r = cJSON_AddObjectToObject(o, "refused"), *m;
	size_t i;

	for (i = 0; r && i < 2; i++) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(all,
		    kinds[i]), *j = cJSON_GetObjectItemCaseSensitive(k, "at");
		time_t at = cJSON_IsNumber(j) && j->valuedouble > 0 &&
		    j->valuedouble < 1e12 ? (time_t)j->valuedouble : 0;

		if (at == 0 || at > now || now - at >= hold ||
		    (m = cJSON_AddObjectToObject(r, kinds[i])) == NULL) {
			cJSON_AddNullToObject(r, kinds[i]);
			continue;
		}
		add_time(m, "at", at);
		cJSON_AddNumberToObject(m, "ago", (double)(now - at));
		cJSON_AddStringToObject(m, "reason", json_str(k, "reason"));
		cJSON_AddStringToObject(m, "message", json_str(k, "message"));
	}
}

/* What state.json says of the account: cooldown, needs-login, refusals,
 * the last error (also kept in errs for the error list). */
static void
account_state(cJSON *o, const cJSON *state, time_t now, long hold,
    cJSON *errs)
{
	const cJSON *accts = cJSON_GetObjectItemCaseSensitive(state,
	    "accounts");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(accts,
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "id")));
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(st,
	    "cooldown_until");
	const char *le;
	time_t until = cJSON_IsNumber(j) && j->valuedouble > 0 &&
	    j->valuedouble < 1e12 ? (time_t)j->valuedouble : 0;
	time_t at;
	cJSON *e;

	if (until <= now)
		until = 0;
	add_time(o, "cooldown_until", until);
	cJSON_AddNumberToObject(o, "cooldown_remaining",
	    until ? (double)(until - now) : 0);
	cJSON_AddBoolToObject(o, "needs_login", cJSON_IsTrue(
	    cJSON_GetObjectItemCaseSensitive(st, "needs_login")));
	account_refusals(o, st, now, hold);
	j = cJSON_GetObjectItemCaseSensitive(st, "last_error_at");
	at = cJSON_IsNumber(j) && j->valuedouble > 0 &&
	    j->valuedouble < 1e12 ? (time_t)j->valuedouble : 0;
	le = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st,
	    "last_error"));
	if (le == NULL) {
		cJSON_AddNullToObject(o, "last_error");
		cJSON_AddNullToObject(o, "last_error_at");
		return;
	}
	cJSON_AddStringToObject(o, "last_error", le);
	add_time(o, "last_error_at", at);
	if ((e = cJSON_CreateObject()) == NULL)
		return;
	add_time(e, "time", at);
	cJSON_AddStringToObject(e, "source", "account");
	cJSON_AddStringToObject(e, "provider", json_str(o, "provider"));
	cJSON_AddStringToObject(e, "account", json_str(o, "email"));
	cJSON_AddNullToObject(e, "model");
	cJSON_AddNullToObject(e, "status");
	cJSON_AddStringToObject(e, "message", le);
	cJSON_AddItemToArray(errs, e);
}

/* Token files in name order, then the config's API keys: store.c's
 * order, so the page lists accounts as --status does. */
static void
accounts(const struct config *cfg, struct gather *g, cJSON *list,
    cJSON *errs, time_t now)
{
	static const char *const providers[] = { "claude", "codex" };
	struct dirent **names = NULL;
	const struct api_key *keys;
	cJSON *state = read_state(cfg), *o;
	char pattern[32], id[64];
	size_t nkeys, i, p;
	int nd;

	if ((nd = scandir(cfg->auth_dir, &names, NULL, alphasort)) == -1)
		nd = 0;
	for (p = 0; p < 2; p++) {
		snprintf(pattern, sizeof pattern, "%s-*.json", providers[p]);
		for (i = 0; i < (size_t)nd; i++) {
			if (fnmatch(pattern, names[i]->d_name, 0) != 0 ||
			    (o = cJSON_CreateObject()) == NULL)
				continue;
			cJSON_AddItemToArray(list, o);
			cJSON_AddStringToObject(o, "provider", providers[p]);
			cJSON_AddStringToObject(o, "id", names[i]->d_name);
			account_file(cfg, g, o, providers[p],
			    names[i]->d_name, now);
			account_state(o, state, now, cfg->claude_refusal_cooldown, errs);
		}
		keys = p == 0 ? cfg->claude_keys : cfg->codex_keys;
		nkeys = p == 0 ? cfg->n_claude_keys : cfg->n_codex_keys;
		for (i = 0; i < nkeys; i++) {
			if ((o = cJSON_CreateObject()) == NULL)
				continue;
			snprintf(id, sizeof id, "%s-api-key-%zu", providers[p],
			    i + 1);
			cJSON_AddItemToArray(list, o);
			cJSON_AddStringToObject(o, "provider", providers[p]);
			cJSON_AddStringToObject(o, "id", id);
			account_key(g, o, id, keys[i].key);
			account_state(o, state, now, cfg->claude_refusal_cooldown, errs);
		}
	}
	for (i = 0; i < (size_t)nd; i++)
		free(names[i]);
	free(names);
	cJSON_Delete(state);
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

/* The whole model; secrets met on the way go to g->secrets. NULL when
 * out of memory. */
static cJSON *
model(const struct config *cfg, struct gather *g, time_t now)
{
	cJSON *root = cJSON_CreateObject(), *list, *errs = NULL, *days, *j;
	char when[32];
	int i;

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
	accounts(cfg, g, list, errs, now);
	if (tally_file(cfg, g, "usage.jsonl.1") == -1 ||
	    tally_file(cfg, g, "usage.jsonl") == -1 ||
	    (days = cJSON_AddArrayToObject(root, "days")) == NULL)
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
	return root;
fail:
	cJSON_Delete(errs);
	cJSON_Delete(root);
	return NULL;
}

static void
gather_free(struct gather *g)
{
	free(g->acct.v);
	free(g->model.v);
	buf_free(&g->secrets);
}

/* ---------------------------------------------------------- the answer */

/* Does body hold any piece of a secret? Windows of 16 bytes every 8:
 * a run of 24 bytes or more of a secret holds a whole window. */
static int
leaks(const struct buf *body, const struct buf *secrets)
{
	const char *s, *end;
	size_t n, off, w;

	if (secrets->len == 0 || body->len == 0)
		return 0;
	end = secrets->p + secrets->len;
	for (s = secrets->p; s < end; s += n + 1) {
		n = strlen(s);
		w = n < 16 ? n : 16;
		for (off = 0; off + w <= n; off += 8)
			if (memmem(body->p, body->len, s + off, w) != NULL)
				return 1;
		if (memmem(body->p, body->len, s + n - w, w) != NULL)
			return 1;
	}
	return 0;
}

/* The body: 0, -1 out of memory, -2 withheld (it held a secret). */
static int
build(const struct config *cfg, time_t now, int html, struct buf *out)
{
	struct gather g;
	struct buf b = { 0 };
	cJSON *root;
	char *s = NULL;
	int rc = -1;

	memset(&g, 0, sizeof g);
	g.secrets.secret = 1;
	if ((root = model(cfg, &g, now)) == NULL)
		goto out;
	if (html ? status_render(root, cfg, now, &b) == -1 :
	    (s = cJSON_Print(root)) == NULL || buf_adds(&b, s) == -1 ||
	    buf_adds(&b, "\n") == -1)
		goto out;
	if (leaks(&b, &g.secrets)) {
		log_err("status page withheld: it would have shown a "
		    "credential; look for one in %s/state.json and "
		    "usage.jsonl", cfg->auth_dir);
		rc = -2;
		goto out;
	}
	*out = b;
	b.p = NULL;
	rc = 0;
out:
	free(s);
	buf_free(&b);
	cJSON_Delete(root);
	gather_free(&g);
	return rc;
}

int
status_json(const struct config *cfg, time_t now, struct buf *out)
{
	return build(cfg, now, 0, out) == 0 ? 0 : -1;
}

int
status_html(const struct config *cfg, time_t now, struct buf *out)
{
	return build(cfg, now, 1, out) == 0 ? 0 : -1;
}

static int
refuse(struct buf *out, int status, const char *msg, int flags)
{
	return reply_error_ex(out, status, msg, flags | REPLY_NO_RETRY,
	    "Cache-Control: no-store\r\n") == 0 ? status : -1;
}

int
status_reply(const struct config *cfg, int fd, const struct http_msg *m,
    int authorized, int flags, struct buf *out)
{
	const struct http_header *h = http_header_get(m, "host");
	const char *q = memchr(m->target, '?', m->tlen);
	size_t plen = q ? (size_t)(q - m->target) : m->tlen;
	struct buf body = { 0 };
	int json = plen == 12 && memcmp(m->target, "/status.json", 12) == 0;
	int rc;

	if (!status_peer_local(fd))
		return refuse(out, 403, "the status page is served to "
		    "loopback clients only", flags);
	/* A browser that reached us through a rebound DNS name sends that
	 * name: refusing it keeps other web sites from reading the page. */
	if (h && !status_host_local(h->value, h->vlen))
		return refuse(out, 403, "the status page answers to Host "
		    "localhost, 127.0.0.1 or [::1] only", flags);
	if (!authorized && !(q && status_query_key(cfg, q + 1,
	    m->tlen - plen - 1)))
		return refuse(out, 401, "missing or wrong API key: open "
		    "/status?key=KEY with one of the config's api-keys, or "
		    "send it as x-api-key", flags);
	if ((rc = build(cfg, time(NULL), !json, &body)) == -1)
		return -1;
	if (rc == -2)
		return refuse(out, 500, "the status page would have shown a "
		    "credential and was withheld; see the log", flags);
	rc = buf_addf(out, "HTTP/1.1 200 OK\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "Cache-Control: no-store\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src data:; "
	    "frame-ancestors 'none'\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "%s\r\n", json ? "application/json" : "text/html; charset=utf-8",
	    body.len, flags & REPLY_CLOSE ? "Connection: close\r\n" : "");
	if (rc == 0 && !(flags & REPLY_HEAD))
		rc = buf_add(out, body.p, body.len);
	buf_free(&body);
	return rc == 0 ? 200 : -1;
}
