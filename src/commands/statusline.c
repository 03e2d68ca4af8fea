/*
 * --statusline: Claude Code's status line. Claude Code runs the command
 * after each answer and on a timer, with a JSON object about the session
 * on stdin, and shows the one line it prints; a run that takes too long
 * is cancelled. Its own rate_limits describe whatever account answered
 * last, and are missing when ANTHROPIC_BASE_URL is not Anthropic's; only
 * the proxy knows which account serves the session and how much of the
 * pool is left:
 *
 *	b@example.com · 5h 11% (2h10m) · 7d 23% · pool 2 of 3 free
 *
 * The account is the one the conversation table has for the session
 * (Claude Code's session id names its conversation), else the one a new
 * conversation would get now. When auth-dir cannot be read here (the
 * proxy runs as another user), the proxy's /status.json on 127.0.0.1 is
 * asked (300 ms at most); without it either, stdin's own rate_limits are
 * shown. No provider is ever asked, nothing is written, and the exit is
 * 0 with a short reason on trouble: Claude Code always has a line.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts/convo.h"
#include "accounts/store.h"
#include "accounts/view.h"
#include "commands/statusline.h"
#include "network/net.h"
#include "parsers/json.h"
#include "providers/convkey.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/log.h"

#define REMOTE_MS 300

/* What the line says of one account, from here or from /status.json. */
struct line {
	char name[256];
	int key;                /* an API key account */
	struct quota q;
	int stale;              /* the figures are older than usage-refresh */
	time_t at;
	int free, usable;       /* the pool: can serve now, of all */
};

/* "2h10m", "45m", "3d4h": what is left until t. */
static void
left(time_t t, time_t now, char *out, size_t n)
{
	long s = (long)(t - now);

	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(out, n, "%ldd%ldh", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, n, "%ldh%02ldm", s / 3600, s % 3600 / 60);
	else
		snprintf(out, n, "%ldm", (s + 59) / 60);
}

/* A percentage, coloured by how close to the limit it is. */
static void
pct(struct buf *b, double used, int color)
{
	int p = (int)(used * 100 + 0.5);

	if (!color)
		(void)buf_addf(b, "%d%%", p);
	else
		(void)buf_addf(b, "\033[%sm%d%%\033[0m", p >= 90 ? "31" :
		    p >= 70 ? "33" : "32", p);
}

/* The line itself. */
static void
render(const struct line *l, time_t now, int color, struct buf *b)
{
	char r[32], name[1024];
	int i;

	/* A name comes from a file: one line, no terminal codes of its. */
	log_clean(name, sizeof name, l->name);
	(void)buf_addf(b, color ? "\033[1m%s\033[0m" : "%s", name);
	if (l->key)
		(void)buf_adds(b, " (api key)");
	for (i = 0; i < l->q.n; i++) {
		const struct quota_window *w = &l->q.w[i];
		int fresh = w->reset && w->reset <= now;

		if (w->used < 0)
			continue;
		(void)buf_addf(b, " · %s ", w->name);
		pct(b, fresh ? 0 : w->used, color);
		/* The short windows' resets are what a user waits for. */
		if (!fresh && w->reset && w->reset - now < 86400) {
			left(w->reset, now, r, sizeof r);
			(void)buf_addf(b, " (%s)", r);
		}
	}
	if (l->stale && l->at) {
		left(now + (now - l->at), now, r, sizeof r);
		(void)buf_addf(b, " · %s ago", r);
	}
	if (l->usable > 1)
		(void)buf_addf(b, " · pool %d of %d free", l->free, l->usable);
}

/* ------------------------------------------------------------ from here */

/* Can v serve now: usable, not cooling down, not at its limit? */
static int
is_free(const struct view *v, time_t now)
{
	return view_usable(v, now) && v->cooldown_until <= now &&
	    quota_blocked(&v->quota, now) == 0;
}

/* The line from auth-dir. 0; 1 when auth-dir has no Claude account to
 * show (ask the proxy); -1 (why set) when it cannot be read. */
static int
local(const struct config *cfg, const char *sid, struct line *l,
    char *why, size_t whylen)
{
	struct view *v;
	char key[KEYHASH_LEN], id[256] = "";
	time_t now = time(NULL), seen;
	size_t n, i;
	int found = 0;

	if (view_accounts(cfg, now, &v, &n) == -1) {
		snprintf(why, whylen, "cannot read %s: %s", cfg->auth_dir,
		    strerror(errno));
		return -1;
	}
	if (sid[0]) {
		convkey_session(sid, key);
		(void)convo_find(cfg, key, id, sizeof id, &seen);
	}
	if (!id[0])
		(void)store_next(cfg, "claude", id, sizeof id);
	for (i = 0; i < n; i++) {
		if (strcmp(v[i].provider, "claude") != 0 ||
		    v[i].kind == ACCT_APIKEY)
			continue;
		l->usable += view_usable(&v[i], now);
		l->free += is_free(&v[i], now);
	}
	for (i = 0; i < n && !found; i++)
		if (strcmp(v[i].id, id) == 0) {
			snprintf(l->name, sizeof l->name, "%s", v[i].name);
			l->key = v[i].kind == ACCT_APIKEY;
			l->q = v[i].quota;
			l->stale = v[i].stale;
			l->at = v[i].quota.at;
			found = 1;
		}
	free(v);
	if (!found)
		snprintf(why, whylen, "no Claude account can serve");
	return found ? 0 : 1;
}

/* ------------------------------------------------ from the proxy itself */

/* GET /status.json?session=SID from the proxy on 127.0.0.1, within
 * REMOTE_MS; its body into b. 0 or -1. */
static int
ask_proxy(const struct config *cfg, const char *sid, struct buf *b)
{
	long long deadline = net_now_ms() + REMOTE_MS;
	char port[8], err[256], req[512];
	struct pollfd pfd;
	int fd, to, n, rc = -1;
	char *body;

	snprintf(port, sizeof port, "%d", cfg->port);
	if ((fd = net_connect("127.0.0.1", port, REMOTE_MS, &to, err,
	    sizeof err)) == -1)
		return -1;
	n = snprintf(req, sizeof req, "GET /status.json?session=%s HTTP/1.1\r\n"
	    "Host: 127.0.0.1\r\n%s%s%sConnection: close\r\n\r\n", sid,
	    cfg->n_api_keys ? "x-api-key: " : "", cfg->n_api_keys ?
	    cfg->api_keys[0] : "", cfg->n_api_keys ? "\r\n" : "");
	if (n <= 0 || (size_t)n >= sizeof req ||
	    file_write_all(fd, req, (size_t)n) == -1)
		goto out;
	explicit_bzero(req, sizeof req);
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		long long wait = deadline - net_now_ms();
		ssize_t r;

		if (wait <= 0 || poll(&pfd, 1, (int)wait) <= 0 ||
		    buf_reserve(b, 16384) == -1)
			goto out;
		if ((r = read(fd, b->p + b->len, b->cap - b->len - 1)) < 0)
			goto out;
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (b->len > (4 << 20))
			goto out;
	}
	b->p[b->len] = '\0';
	if (strncmp(b->p, "HTTP/1.1 200 ", 13) != 0 ||
	    (body = strstr(b->p, "\r\n\r\n")) == NULL)
		goto out;
	memmove(b->p, body + 4, b->len - (size_t)(body + 4 - b->p) + 1);
	b->len = strlen(b->p);
	rc = 0;
out:
	close(fd);
	return rc;
}

/* One account of /status.json into l. */
static void
remote_account(const cJSON *a, time_t now, struct line *l)
{
	const cJSON *q = json_get(a, "quota"), *w, *t;

	snprintf(l->name, sizeof l->name, "%s", json_str(a, "email"));
	l->key = json_str_is(json_get(a, "kind"), "api-key");
	quota_init(&l->q);
	l->stale = cJSON_IsTrue(json_get(q, "stale"));
	if (cJSON_IsNumber(t = json_get(q, "age")))
		l->at = now - (time_t)t->valuedouble;
	cJSON_ArrayForEach(w, json_get(q, "windows")) {
		struct quota_window *qw = quota_window(&l->q,
		    json_str(w, "name"));

		if (qw == NULL)
			continue;
		if (cJSON_IsNumber(t = json_get(w, "used")))
			qw->used = t->valuedouble;
		if (cJSON_IsNumber(t = json_get(w, "resets_in")))
			qw->reset = now + (time_t)t->valuedouble;
	}
}

/* The line from the proxy's /status.json. 0, or -1 with why. */
static int
remote(const struct config *cfg, const char *sid, struct line *l,
    char *why, size_t whylen)
{
	struct buf b = { 0 };
	cJSON *root = NULL;
	const cJSON *a, *s;
	const char *id;
	time_t now = time(NULL);
	int rc = -1;

	if (ask_proxy(cfg, sid, &b) == -1 ||
	    (root = cJSON_Parse(b.p)) == NULL) {
		snprintf(why, whylen, "the proxy on port %d did not answer",
		    cfg->port);
		goto out;
	}
	s = json_get(root, "session");
	id = *json_str(s, "account") ? json_str(s, "account") :
	    json_str(s, "next");
	cJSON_ArrayForEach(a, json_get(root, "accounts")) {
		int usable = json_str_is(json_get(a, "provider"), "claude") &&
		    json_str_is(json_get(a, "kind"), "oauth") &&
		    cJSON_IsNull(json_get(a, "problem")) &&
		    !cJSON_IsTrue(json_get(a, "disabled")) &&
		    !cJSON_IsTrue(json_get(a, "needs_login"));
		const cJSON *cd = json_get(a, "cooldown_remaining");

		l->usable += usable;
		l->free += usable && !(cJSON_IsNumber(cd) && cd->valuedouble >
		    0);
		if (*id && json_str_is(json_get(a, "id"), id)) {
			remote_account(a, now, l);
			rc = 0;
		}
	}
	if (rc == -1)
		snprintf(why, whylen, "no Claude account can serve");
out:
	cJSON_Delete(root);
	buf_free(&b);
	return rc;
}

/* ------------------------------------------------------------ from stdin */

/* Claude Code's own figures: rate_limits.five_hour and .seven_day. */
static int
own(const cJSON *in, struct line *l, time_t now)
{
	static const char *const keys[][2] = { { "five_hour", "5h" },
	    { "seven_day", "7d" } };
	const cJSON *rl = json_get(in, "rate_limits"), *w, *t;
	size_t i;

	quota_init(&l->q);
	for (i = 0; i < 2; i++) {
		struct quota_window *qw;

		w = json_get(rl, keys[i][0]);
		if (!cJSON_IsNumber(t = json_get(w, "used_percentage")) ||
		    (qw = quota_window(&l->q, keys[i][1])) == NULL)
			continue;
		qw->used = t->valuedouble / 100;
		if (cJSON_IsNumber(t = json_get(w, "resets_at")) &&
		    t->valuedouble > (double)now)
			qw->reset = (time_t)t->valuedouble;
	}
	return l->q.n > 0;
}

int
statusline_run(const struct config *cfg, int fd, FILE *out)
{
	struct buf in = { 0 }, b = { 0 };
	struct line l;
	cJSON *j;
	const char *sid;
	char why[512] = "", clean[1024];
	int color = getenv("NO_COLOR") == NULL, rc;
	time_t now = time(NULL);

	memset(&l, 0, sizeof l);
	(void)file_read_fd(fd, 1 << 20, &in);
	j = in.p ? cJSON_ParseWithLength(in.p, in.len) : NULL;
	sid = json_str(j, "session_id");
	/* A session id names a conversation only as the UUID it is. */
	if (strspn(sid, "0123456789abcdefABCDEF-") != strlen(sid) ||
	    strlen(sid) > 64)
		sid = "";
	rc = cfg ? local(cfg, sid, &l, why, sizeof why) : -1;
	if (rc != 0 && cfg && remote(cfg, sid, &l, why, sizeof why) == 0)
		rc = 0;
	if (rc == 0)
		render(&l, now, color, &b);
	else if (own(j, &l, now)) {
		snprintf(l.name, sizeof l.name, "claude");
		render(&l, now, color, &b);
		log_clean(clean, sizeof clean, why);
		(void)buf_addf(&b, " · cli-proxy-api: %s", clean);
	} else {
		/* why may quote a path: cleaned like a name. */
		log_clean(clean, sizeof clean, why[0] ? why : "no configuration");
		(void)buf_addf(&b, "cli-proxy-api: %s", clean);
	}
	if (b.p)
		fprintf(out, "%s\n", b.p);
	cJSON_Delete(j);
	buf_free(&b);
	buf_free(&in);
	return EXIT_OK;
}
