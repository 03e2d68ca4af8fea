/*
 * --doctor: walk the chain a request takes, from droid's settings to the
 * provider's certificate, and say which link is broken and how to mend
 * it. Every check only looks: it reads files, connects to our own port
 * (GET /health, answered locally) and handshakes with each upstream, but
 * sends the providers nothing and writes nothing.
 *
 * Here: the run, the report line, the config, auth-dir and the accounts;
 * doctor_net.c has our port, the socket unit and the upstreams,
 * doctor_droid.c droid's files.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "accounts/figures.h"
#include "accounts/view.h"
#include "commands/doctor.h"
#include "commands/doctor_int.h"
#include "support/log.h"
#include "support/owner.h"
#include "support/timefmt.h"

void
doctor_say(struct doc *d, enum doc_level l, const char *fix,
    const char *fmt, ...)
{
	static const char *const tag[] = { "ok   ", "warn ", "FAIL " };
	char raw[4096], line[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof raw, fmt, ap);
	va_end(ap);
	/* Names and messages come from files: one line, no terminal codes. */
	log_clean(line, sizeof line, raw);
	fputs(tag[l], d->out);
	fputs(line, d->out);
	if (fix != NULL && *fix != '\0')
		fprintf(d->out, " -> %s", fix);
	fputc('\n', d->out);
	/* A line as soon as its check is done: some wait on the network. */
	fflush(d->out);
	d->fails += l == DOC_FAIL;
}

/* ------------------------------------------------------------- accounts */

/* A refusal of a kind of client: what the user can do about it. */
static void
report_refusals(struct doc *d, const struct view *v, time_t now, int *bad)
{
	char r[32];
	int i;

	for (i = 0; i < 2; i++) {
		if (v->refused[i].at == 0)
			continue;
		++*bad;
		timefmt_rel(v->refused[i].at, now, r, sizeof r);
		doctor_say(d, DOC_WARN, i ? "add an API key account "
		    "(claude-api-key), turn on extra usage at claude.ai, or "
		    "run Claude Code without the proxy" : "turn on extra "
		    "usage for the account at claude.ai, add an API key "
		    "account (claude-api-key), or use Claude Code itself",
		    "account %s %s: %s use refused %s%s%s",
		    v->provider, v->name, i ? "Claude Code" : "third-party", r,
		    v->refused[i].reason[0] ? ": " : "", v->refused[i].reason);
	}
}

/* A window nearly used up: requests will soon wait for its reset. */
static void
report_windows(struct doc *d, const struct view *v, time_t now, int *bad)
{
	const struct quota_window *w;
	char r[32];
	int i;

	for (i = 0; i < v->quota.n; i++) {
		w = &v->quota.w[i];
		if (w->used < 0.9 || (w->reset && w->reset <= now))
			continue;
		++*bad;
		if (w->reset)
			timefmt_rel(w->reset, now, r, sizeof r);
		doctor_say(d, DOC_WARN, "wait for the reset, or add another "
		    "account", "account %s %s: its %s window is at %.0f%%%s%s",
		    v->provider, v->name, w->name, w->used * 100,
		    w->reset ? "; it resets " : "", w->reset ? r : "");
	}
}

/* Its expiry and refresh token: can it go on being refreshed? */
static void
report_expiry(struct doc *d, const struct view *v, time_t now,
    const char *fix, int *bad)
{
	char r[32];

	if (v->expires != 0 && v->expires <= now) {
		++*bad;
		timefmt_rel(v->expires, now, r, sizeof r);
		if (v->has_refresh)
			doctor_say(d, DOC_WARN, "nothing to do (cli-proxy-api "
			    "--refresh refreshes it now)",
			    "account %s %s expired %s; it will refresh on the "
			    "next request", v->provider, v->name, r);
		else
			doctor_say(d, DOC_FAIL, fix, "account %s %s expired "
			    "%s and has no refresh token", v->provider,
			    v->name, r);
	} else if (!v->has_refresh) {
		++*bad;
		timefmt_rel(v->expires, now, r, sizeof r);
		doctor_say(d, DOC_WARN, fix, "account %s %s has no refresh "
		    "token: it stops working when it expires%s%s", v->provider,
		    v->name, v->expires ? " " : "", v->expires ? r : "");
	}
}

/* One token file's account: each thing wrong on its own line, else one
 * ok line. */
static void
report_account(struct doc *d, const struct view *v, time_t now)
{
	char r[32], fix[96], plan[160];
	int bad = 0;

	snprintf(fix, sizeof fix, "run cli-proxy-api --%s-login", v->provider);
	if (!v->loaded) {
		doctor_say(d, DOC_FAIL, fix, "account %s %s: %s", v->provider,
		    v->name, v->problem);
		return;
	}
	if (v->disabled && ++bad)
		doctor_say(d, DOC_WARN, "remove \"disabled\" from its file to "
		    "use it", "account %s %s is disabled", v->provider,
		    v->name);
	if (v->needs_login && ++bad)
		doctor_say(d, DOC_FAIL, fix, "account %s %s needs a new login "
		    "(its refresh token was refused)", v->provider, v->name);
	report_expiry(d, v, now, fix, &bad);
	report_refusals(d, v, now, &bad);
	report_windows(d, v, now, &bad);
	if (v->ask.denied && ++bad)
		doctor_say(d, DOC_WARN, fix, "account %s %s: figures from "
		    "answers only (its usage endpoint answered 403: the token "
		    "lacks the user:profile scope); log in again to get them",
		    v->provider, v->name);
	if (v->cooldown_until && ++bad) {
		timefmt_rel(v->cooldown_until, now, r, sizeof r);
		doctor_say(d, DOC_WARN, "wait, or add another account",
		    "account %s %s is cooling down after a rate limit; ready "
		    "again %s", v->provider, v->name, r);
	}
	if (bad)
		return;
	view_plan(v, plan, sizeof plan);
	if (v->expires)
		timefmt_rel(v->expires, now, r, sizeof r);
	doctor_say(d, DOC_OK, NULL, "account %s %s: expires %s, refresh token "
	    "present%s%s", v->provider, v->name, v->expires ? r : "(unknown)",
	    plan[0] ? "; " : "", plan);
}

/* Every account as the view has it; at least one must be usable. */
static void
check_accounts(struct doc *d, const struct config *cfg)
{
	struct view *v;
	char fix[4400];
	time_t now = time(NULL);
	size_t n, i;
	int usable = 0;

	if (view_accounts(cfg, now, &v, &n) == -1) {
		doctor_say(d, DOC_FAIL, "fix its owner or mode (chmod 700)",
		    "cannot read auth-dir %s: %s", cfg->auth_dir,
		    strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		if (v[i].kind == ACCT_APIKEY)
			doctor_say(d, DOC_OK, NULL, "account %s: an API key "
			    "from the config", v[i].id);
		else if (v[i].mode & 077) {
			snprintf(fix, sizeof fix, "chmod 600 %s/%s",
			    cfg->auth_dir, v[i].id);
			doctor_say(d, DOC_FAIL, fix, "token file %s/%s is "
			    "mode %04o: the proxy refuses token files others "
			    "can read", cfg->auth_dir, v[i].id, v[i].mode);
			continue;
		} else
			report_account(d, &v[i], now);
		usable += view_usable(&v[i], now);
	}
	free(v);
	if (usable == 0)
		doctor_say(d, DOC_FAIL, "run cli-proxy-api --claude-login or "
		    "--codex-login", "no usable account in %s and no API key "
		    "in the config",
		    cfg->auth_dir);
}

/* ------------------------------------------------------- config, files */

/* The config, or the defaults when it is broken: the other links are
 * worth checking either way. */
static int
check_config(struct doc *d, const char *path, struct config *cfg)
{
	char err[1024];

	if (config_load(path, cfg, err, sizeof err) == 0) {
		if (cfg->path != NULL)
			doctor_say(d, DOC_OK, NULL, "config %s", cfg->path);
		else
			doctor_say(d, DOC_OK, NULL, "config: no config file "
			    "found; the built-in defaults are used");
		return 0;
	}
	doctor_say(d, DOC_FAIL, "fix the file at that place, or point "
	    "--config at the right one", "config: %s", err);
	if (config_defaults(cfg) == -1)
		return -1;
	doctor_say(d, DOC_WARN, NULL, "the checks below use the built-in "
	    "defaults");
	return 0;
}

static void
check_auth_dir(struct doc *d, const struct config *cfg)
{
	struct stat st;
	char fix[4200];
	int missing;

	missing = stat(cfg->auth_dir, &st) == -1;
	if (missing || !S_ISDIR(st.st_mode)) {
		snprintf(fix, sizeof fix, "run cli-proxy-api --claude-login "
		    "(it makes it), or mkdir -m 700 %s", cfg->auth_dir);
		doctor_say(d, DOC_FAIL, fix, "auth-dir %s: %s", cfg->auth_dir,
		    missing ? strerror(errno) : "not a directory");
		return;
	}
	if (st.st_mode & 077) {
		snprintf(fix, sizeof fix, "chmod 700 %s", cfg->auth_dir);
		doctor_say(d, DOC_WARN, fix, "auth-dir %s is mode %04o: "
		    "others can list the accounts", cfg->auth_dir,
		    (unsigned)(st.st_mode & 07777));
	} else
		doctor_say(d, DOC_OK, NULL, "auth-dir %s (0700)",
		    cfg->auth_dir);
}

/* Root checking a service's auth-dir acts as its owner, so what the
 * checks write there (refreshed tokens, figures) stays the service's.
 * 1 when it does. */
static int
doctor_owner(struct doc *d, const struct config *cfg)
{
	char who[256];
	int r = owner_become(cfg->auth_dir, 1, who, sizeof who);

	if (r == 1)
		doctor_say(d, DOC_OK, NULL, "checking as %s, the owner of "
		    "auth-dir (what it writes there stays theirs)", who);
	else if (r == -1)
		doctor_say(d, DOC_WARN, "run it as the owner of auth-dir "
		    "(sudo -u OWNER)", "cannot act as the owner of auth-dir "
		    "%s: %s", cfg->auth_dir, strerror(errno));
	return r == 1;
}

/* ------------------------------------------------------------------ run */

int
doctor_run(const char *config_path, FILE *out)
{
	struct doc d = { out, 0, 0 };
	struct config cfg;
	int claude, codex, as_owner;

	if (check_config(&d, config_path, &cfg) == -1) {
		doctor_say(&d, DOC_FAIL, NULL, "out of memory");
		return EXIT_DOCTOR;
	}
	check_auth_dir(&d, &cfg);
	as_owner = doctor_owner(&d, &cfg);
	/* Figures older than usage-refresh asked first, 2 s at most. */
	(void)figures_fetch(&cfg, NULL, FIGURES_DUE, 2000);
	check_accounts(&d, &cfg);
	claude = view_has_usable(&cfg, "claude");
	codex = view_has_usable(&cfg, "codex");
	doctor_port(&d, &cfg);
	doctor_systemd(&d);
	doctor_upstreams(&d, &cfg, claude, codex);
	/* droid's settings are the user's who runs this, not auth-dir's. */
	if (as_owner && owner_restore() == -1) {
		doctor_say(&d, DOC_FAIL, NULL, "cannot act as root again: %s",
		    strerror(errno));
		config_free(&cfg);
		return EXIT_DOCTOR;
	}
	doctor_droid(&d, &cfg, claude, codex);
	config_free(&cfg);
	fflush(out);
	return d.fails ? EXIT_DOCTOR : EXIT_OK;
}
