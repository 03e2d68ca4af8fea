/*
 * The one view of the accounts that --status, the status page, --doctor
 * and --setup-droid show and judge: each token file and API key with what
 * its file and state.json say. It never holds a secret: token files are
 * read with their secrets copied out and wiped, and only the email, the
 * expiry and the flags come into the view.
 *
 * Nothing here takes a lock: token files and state.json are replaced by
 * rename, so a plain read sees a whole old or new file, and a look at the
 * accounts never queues behind a token refresh.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "accounts/authdir.h"
#include "accounts/state.h"
#include "accounts/view.h"
#include "support/log.h"
#include "support/timefmt.h"

static const char *const providers[] = { "claude", "codex" };

/* What state.json says of v's account. */
static void
view_state(const struct config *cfg, const cJSON *root, struct view *v,
    time_t now)
{
	static const enum client_kind kinds[] = { CLIENT_THIRD_PARTY,
	    CLIENT_FIRST_PARTY };
	const cJSON *st = state_account((cJSON *)(uintptr_t)root, v->id, 0);
	const cJSON *m;
	const char *s;
	time_t t;
	size_t i;

	if ((t = (time_t)state_num(st, "cooldown_until")) > now)
		v->cooldown_until = t;
	v->needs_login = state_needs_login(st, v->key[0] ? v->key : NULL);
	if ((s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(st,
	    "last_error"))) != NULL) {
		snprintf(v->last_error, sizeof v->last_error, "%s", s);
		v->last_error_at = (time_t)state_num(st, "last_error_at");
	}
	quota_from_json(cJSON_GetObjectItemCaseSensitive(st, "quota"),
	    &v->quota);
	v->stale = v->quota.at && now - v->quota.at > cfg->usage_refresh;
	plan_from_json(cJSON_GetObjectItemCaseSensitive(st, "plan"), &v->plan);
	figures_ask_of(st, v->key[0] ? v->key : NULL, &v->ask);
	for (i = 0; i < 2; i++) {
		if ((m = state_refusal(st, kinds[i],
		    cfg->claude_refusal_cooldown, now)) == NULL)
			continue;
		v->refused[i].at = (time_t)state_num(m, "at");
		snprintf(v->refused[i].reason, sizeof v->refused[i].reason,
		    "%s", (s = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(m, "reason"))) ? s : "");
		snprintf(v->refused[i].message, sizeof v->refused[i].message,
		    "%s", (s = cJSON_GetStringValue(
		    cJSON_GetObjectItemCaseSensitive(m, "message"))) ? s : "");
	}
}

/* What the account's token file (or API key) says. */
static void
view_file(const struct config *cfg, const char *provider,
    const struct acct_ref *ref, struct view *v)
{
	struct account a;
	struct stat st;
	char path[4200];

	snprintf(v->name, sizeof v->name, "%s", ref->id);
	if (ref->key) {
		v->kind = ACCT_APIKEY;
		v->loaded = 1;
		return;
	}
	v->kind = ACCT_OAUTH;
	snprintf(path, sizeof path, "%s/%s", cfg->auth_dir, ref->id);
	if (lstat(path, &st) == 0)
		v->mode = (unsigned)(st.st_mode & 07777);
	if (token_peek(path, provider, &a, v->problem,
	    sizeof v->problem) == -1)
		return;
	v->loaded = 1;
	if (a.email && a.email[0])
		snprintf(v->name, sizeof v->name, "%s", a.email);
	else if (a.account_id && a.account_id[0])
		snprintf(v->name, sizeof v->name, "%s", a.account_id);
	v->disabled = a.disabled;
	v->has_refresh = a.refresh_token && a.refresh_token[0];
	token_key(&a, v->key);
	v->expires = a.expires;
	account_free(&a);
}

int
view_accounts(const struct config *cfg, time_t now, struct view **out,
    size_t *nout)
{
	struct acct_ref *refs;
	struct view *v = NULL, *more;
	const cJSON *root = authdir_state(cfg);
	size_t n = 0, nr, i, p;

	for (p = 0; p < 2; p++) {
		if (authdir_accounts(cfg, providers[p], &refs, &nr) == -1)
			goto fail;
		if ((more = reallocarray(v, n + nr + 1, sizeof *v)) == NULL) {
			free(refs);
			goto fail;
		}
		v = more;
		for (i = 0; i < nr; i++, n++) {
			memset(&v[n], 0, sizeof v[n]);
			snprintf(v[n].provider, sizeof v[n].provider, "%s",
			    providers[p]);
			snprintf(v[n].id, sizeof v[n].id, "%s", refs[i].id);
			view_file(cfg, providers[p], &refs[i], &v[n]);
			view_state(cfg, root, &v[n], now);
		}
		free(refs);
	}
	*out = v;
	*nout = n;
	return 0;
fail:
	free(v);
	*out = NULL;
	*nout = 0;
	return -1;
}

int
view_usable(const struct view *v, time_t now)
{
	return v->loaded && !v->disabled && !v->needs_login &&
	    (v->kind == ACCT_APIKEY || v->has_refresh || v->expires == 0 ||
	    v->expires > now);
}

int
view_has_usable(const struct config *cfg, const char *provider)
{
	struct view *v;
	size_t n, i;
	time_t now = time(NULL);
	int ok = 0;

	if (view_accounts(cfg, now, &v, &n) == -1)
		return 0;
	for (i = 0; i < n; i++)
		ok |= strcmp(v[i].provider, provider) == 0 &&
		    view_usable(&v[i], now);
	free(v);
	return ok;
}

void
view_windows(const struct view *v, time_t now, char *out, size_t n)
{
	const struct quota_window *w;
	size_t k = 0;
	char r[32];
	int i;

	out[0] = '\0';
	for (i = 0; i < v->quota.n && k < n; i++) {
		w = &v->quota.w[i];
		if (w->used < 0)
			continue;
		/* A window past its reset starts afresh. */
		k += (size_t)snprintf(out + k, n - k, "%s%s %.0f%%", k ? " · " :
		    "", w->name, w->reset && w->reset <= now ? 0 :
		    w->used * 100);
		if (k < n && w->reset > now) {
			timefmt_rel(w->reset, now, r, sizeof r);
			k += (size_t)snprintf(out + k, n - k, " (resets %s)", r);
		}
	}
	if (k && k < n && v->stale) {
		timefmt_rel(v->quota.at, now, r, sizeof r);
		k += (size_t)snprintf(out + k, n - k, " · %s", r);
	}
	if (k >= n && n > 0)
		out[n - 1] = '\0';
}

void
view_plan(const struct view *v, char *out, size_t n)
{
	const struct plan *p = &v->plan;
	size_t k;

	k = (size_t)snprintf(out, n, "%s", p->name);
	if (k < n && p->extra >= 0)
		k += (size_t)snprintf(out + k, n - k, "%sextra usage %s",
		    k ? " · " : "", p->extra ? "on" : "off");
	if (k < n && p->extra > 0 && p->extra_used >= 0 && p->extra_limit > 0)
		snprintf(out + k, n - k, " ($%.2f of $%.2f)", p->extra_used /
		    100.0, p->extra_limit / 100.0);
	else if (k < n && p->extra > 0 && p->extra_used >= 0)
		snprintf(out + k, n - k, " ($%.2f used)", p->extra_used / 100.0);
}

/* One --status line. */
static void
print_one(const struct view *v, time_t now, FILE *out)
{
	char when[32], r[32], win[512];
	size_t i;

	fprintf(out, "%-7s", v->provider);
	if (!v->loaded) {
		fprintf(out, " %-32s unusable: %s\n", v->id, v->problem);
		return;
	}
	fprintf(out, " %-32s", v->name);
	if (v->kind == ACCT_APIKEY)
		fprintf(out, " api-key");
	else if (v->expires) {
		timefmt_format(v->expires, when, sizeof when);
		timefmt_rel(v->expires, now, r, sizeof r);
		fprintf(out, " %s %s (%s)", v->expires > now ? "expires" :
		    "expired", when, r);
	} else
		fprintf(out, " expiry unknown");
	if (v->disabled)
		fprintf(out, " disabled");
	if (v->needs_login)
		fprintf(out, " needs-login (run cli-proxy-api --%s-login)",
		    v->provider);
	if (v->cooldown_until) {
		timefmt_rel(v->cooldown_until, now, r, sizeof r);
		fprintf(out, " cooling down until %s", r);
	}
	view_plan(v, win, sizeof win);
	if (win[0])
		fprintf(out, "; %s", win);
	view_windows(v, now, win, sizeof win);
	if (win[0] || v->quota.status[0])
		fprintf(out, "; %s%s%s", win, win[0] && v->quota.status[0] ?
		    " · " : "", v->quota.status);
	if (v->ask.denied)
		fprintf(out, "; figures from answers only; log in again to "
		    "get them");
	for (i = 0; i < 2; i++)
		if (v->refused[i].at) {
			timefmt_rel(v->refused[i].at, now, r, sizeof r);
			fprintf(out, "; %s use refused %s%s%s", i ? "Claude Code" :
			    "third-party", r, v->refused[i].reason[0] ? ": " : "",
			    v->refused[i].reason);
		}
	if (v->last_error[0])
		fprintf(out, "; last error: %s", v->last_error);
	fputc('\n', out);
}

/* One line, made first and cleaned: its names and messages come from
 * files, and an upstream's words reach them. */
static void
print_line(const struct view *v, time_t now, FILE *out)
{
	char *raw = NULL, *line;
	size_t n = 0;
	FILE *mem = open_memstream(&raw, &n);

	if (mem == NULL)
		return;
	print_one(v, now, mem);
	if (fclose(mem) != 0 || raw == NULL) {
		free(raw);
		return;
	}
	if (n > 0 && raw[n - 1] == '\n')
		raw[--n] = '\0';
	if ((line = malloc(4 * n + 1)) != NULL) {
		log_clean(line, 4 * n + 1, raw);
		fprintf(out, "%s\n", line);
	}
	free(line);
	free(raw);
}

int
view_print(const struct config *cfg, FILE *out)
{
	struct view *v;
	size_t n, i;
	time_t now = time(NULL);

	if (view_accounts(cfg, now, &v, &n) == -1) {
		fprintf(out, "cannot read auth-dir %s: %s\n", cfg->auth_dir,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++)
		print_line(&v[i], now, out);
	if (n == 0)
		fprintf(out, "no accounts in %s and no api keys in the config: "
		    "run cli-proxy-api --claude-login\n", cfg->auth_dir);
	free(v);
	return 0;
}
