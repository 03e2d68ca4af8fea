/* figures: each account's limits and plan in state.json, from answers'
 * headers and from the providers' usage endpoints, asked sparingly (see
 * figures.c). */
#ifndef FIGURES_H
#define FIGURES_H
#include <cjson/cJSON.h>
#include <time.h>

#include "parsers/config.h"
#include "parsers/quota.h"

/* Headers younger than this make asking the endpoint pointless. */
#define FIGURES_FRESH 60
/* A 429 or a 5xx from an endpoint: wait this long, doubling, up to
 * FIGURES_BACKOFF_MAX. */
#define FIGURES_BACKOFF 60
#define FIGURES_BACKOFF_MAX 3600
/* The plan (the profile) is asked this often. */
#define FIGURES_PLAN_EVERY 86400

/* What state.json says of asking the usage endpoints for an account. */
struct figures_ask {
	time_t asked;           /* the last time anyone asked; 0 never */
	time_t wait_until;      /* after a 429 or 5xx: not before */
	int backoff;            /* seconds of the last wait */
	int denied;             /* 403: the token lacks the user:profile
	                         * scope; not asked again until a new login */
	char error[256];        /* the last failure, "" */
};

/* Keep what an answer on account id said of its limits, when it changed
 * (compared with the kept state first: no lock, no write when it did
 * not). */
void figures_record(const struct config *cfg, const char *id,
    const struct quota *q);

/* st's (an account's state) asking record. key: token_key of the
 * account's refresh token now: a 403 recorded for another one (a new
 * login since) no longer holds. */
void figures_ask_of(const cJSON *st, const char *key, struct figures_ask *a);

enum {
	FIGURES_DUE = 0,        /* every OAuth account whose figures are
	                         * older than usage-refresh */
	FIGURES_NONE = 1        /* only those that have no figures at all */
};

/* Ask the usage endpoints (Anthropic's /api/oauth/usage, and its
 * /api/oauth/profile once a day; Codex's /backend-api/wham/usage) for
 * provider's OAuth accounts ("claude", "codex"; NULL both) that are due
 * by which (FIGURES_DUE, FIGURES_NONE), within budget_ms in all; at most
 * one ask per account per usage-refresh across processes, none while an
 * answer's headers are younger than FIGURES_FRESH, none after a 403,
 * none while a 429 or 5xx backoff runs. What comes back is kept in
 * state.json. Returns the accounts asked. */
int figures_fetch(const struct config *cfg, const char *provider, int which,
    int budget_ms);

#endif
