/* store: the account pool of a provider, the accounts layer's face to the
 * connection: token files and API keys picked round-robin across
 * processes, cooled down after a rate limit, marked when they refuse a
 * kind of client. Coordination goes through state.json (state.c). */
#ifndef STORE_H
#define STORE_H
#include <stdio.h>
#include <time.h>

#include "accounts/state.h"
#include "accounts/token.h"
#include "parsers/config.h"

enum {
	STORE_NONE = -1,        /* no usable account: err says why */
	STORE_COOLING = -2,     /* every usable account is cooling down */
	STORE_REFUSED = -3      /* every account that could serve has refused
	                         * this kind of client lately: err holds what
	                         * the provider said */
};

/* Which accounts may serve a request. */
struct want {
	const char *provider;   /* "claude", "codex" */
	enum client_kind kind;  /* skip accounts that refused this kind */
	int keys_only;          /* API key accounts only */
	int needs_extra;        /* a third-party Claude request: a
	                         * subscription whose extra usage is known
	                         * to be off would refuse it */
	const char *sticky;     /* the account the request's conversation is
	                         * on: first, while it can serve; or NULL */
};

/* Pick an account for w among the usable ones, skipping those whose id
 * is in skip[0..nskip), disabled ones, those that need a new login, those
 * cooling down (after a 429, or with a window their answers said is used
 * up) and those that refused w's kind of client within
 * claude-refusal-cooldown. w->sticky first when it is usable; else
 * subscriptions before API keys, with routing: headroom the subscription
 * whose binding window is least used, else (figures unknown, ties,
 * round-robin) the next after the shared cursor. 0 with *a filled, or
 * STORE_COOLING with *soonest set, or STORE_REFUSED or STORE_NONE with
 * err. */
int store_pick(const struct config *cfg, const struct want *w,
    char (*skip)[256], size_t nskip, struct account *a, time_t *soonest,
    char *err, size_t errlen);

/* The provider refused to serve kind of client on a: record it (reason:
 * a few words for --status, message: the provider's own). */
void store_refused(const struct config *cfg, const struct account *a,
    enum client_kind kind, const char *reason, const char *message);

/* After a 429: cool the account until `until`, or for an exponential
 * backoff (1 s doubling, at most 30 min) when until is 0. Returns the time
 * the cooldown ends (0 when the state could not be written). */
time_t store_cooldown(const struct config *cfg, const struct account *a,
    time_t until, const char *why);
/* After a success: forget the backoff, if there was one. */
void store_ok(const struct config *cfg, const struct account *a);

/* Read auth-dir's listing, state and token files ahead of the first
 * store_pick (kept as store_pick keeps them: re-read when changed). */
void store_warm(const struct config *cfg);

/* Watch auth-dir for changes from now on: before the sandbox (which
 * allows no inotify set-up) and before the first read (store_warm,
 * store_pick). 0, or -1 with errno: then a stat per kept file per
 * request tells what changed. */
int store_watch(const struct config *cfg);
/* A new request: take in what changed in auth-dir since the last look,
 * so that it sees what other processes wrote (one read of the watch when
 * nothing did). */
void store_look(void);

/* The account a new conversation of provider would be placed on now
 * (as store_pick would choose for Claude Code, moving nothing), its id
 * into id. 0, or -1 when none can serve. */
int store_next(const struct config *cfg, const char *provider, char *id,
    size_t idlen);

/* How many accounts provider has (token files and API keys, usable or
 * not); 0 when auth-dir cannot be read. */
size_t store_count(const struct config *cfg, const char *provider);

#endif
