/* view: the accounts as --status, the status page, --doctor and
 * --setup-droid see them (see view.c). Never a secret. */
#ifndef VIEW_H
#define VIEW_H
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "accounts/figures.h"
#include "accounts/token.h"
#include "parsers/config.h"
#include "parsers/quota.h"

/* A refusal of a kind of client that still holds. */
struct view_refusal {
	time_t at;              /* 0: no mark */
	char reason[64];        /* "extra usage off" */
	char message[512];      /* what the provider said */
};

/* One account. */
struct view {
	char provider[8];       /* "claude", "codex" */
	char id[256];           /* token file name, or "claude-api-key-N" */
	char name[256];         /* its email (API keys and unreadable files:
	                         * the id) */
	enum acct_kind kind;
	int loaded;             /* the token file was read (API keys: 1) */
	char problem[1100];     /* why not, when !loaded: the fix named */
	unsigned mode;          /* the token file's permission bits */
	int disabled;
	int needs_login;        /* its refresh token was refused (and no new
	                         * login since) */
	char key[KEYHASH_LEN];  /* token_key of its refresh token; "" */
	int has_refresh;
	time_t expires;         /* 0: unknown (and for API keys) */
	time_t cooldown_until;  /* 0 when not cooling down */
	char last_error[512];   /* "" when none */
	time_t last_error_at;
	struct view_refusal refused[2]; /* third-party, Claude Code */
	struct quota quota;     /* what its answers and usage endpoint said
	                         * of its limits */
	int stale;              /* those figures are older than
	                         * usage-refresh */
	struct plan plan;       /* its plan, extra usage */
	struct figures_ask ask; /* asking its usage endpoint: a 403, a
	                         * backoff */
};

/* Every account of both providers as of now, in --status's order (Claude
 * then Codex; token files in name order, then API keys). *out is the
 * caller's to free. 0, or -1 with errno (auth-dir unreadable, ENOMEM). */
int view_accounts(const struct config *cfg, time_t now, struct view **out,
    size_t *n);
/* Can it serve: read, not disabled, no login needed, and not expired
 * without a refresh token? */
int view_usable(const struct view *v, time_t now);
/* Does provider have an account that can serve? */
int view_has_usable(const struct config *cfg, const char *provider);
/* Its windows as people read them, "5h 71% (resets in 42m) · 7d 40%",
 * with their age when stale ("· 12m ago"), into out; "" when none is
 * known. */
void view_windows(const struct view *v, time_t now, char *out, size_t n);
/* Its plan as people read it, "Max 20x · extra usage off", "Pro · extra
 * usage on ($3.20 of $10.00)", into out; "" when nothing is known. */
void view_plan(const struct view *v, char *out, size_t n);
/* --status: one line per account on out. 0, or -1 when auth-dir cannot
 * be read (said on out). */
int view_print(const struct config *cfg, FILE *out);

#endif
