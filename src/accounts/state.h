/* state: state.json, the accounts' shared state (see state.c). Inside the
 * accounts layer only. */
#ifndef STATE_H
#define STATE_H
#include <cjson/cJSON.h>
#include <time.h>

#include "parsers/config.h"

/* Who sent a Claude request: Claude Code itself, or another client.
 * Anthropic may serve a subscription to one and refuse the other. */
enum client_kind { CLIENT_ANY, CLIENT_FIRST_PARTY, CLIENT_THIRD_PARTY };

/* Run fn on the state under the state lock (exclusive when excl: fn may
 * change it), and write it back (fsynced when durable) when fn returns 1.
 * -1 when auth-dir has no room for the state (fn then ran on an empty
 * state). */
int state_run(const struct config *cfg, int excl, int durable,
    int (*fn)(cJSON *, void *), void *arg);

/* parent.key as an object; with create, made (replacing a non-object). */
cJSON *state_obj(cJSON *parent, const char *key, int create);
/* o.key as a number; 0 when absent or out of time_t's sane range. */
double state_num(const cJSON *o, const char *key);
void state_set_num(cJSON *o, const char *key, double v);
void state_set_str(cJSON *o, const char *key, const char *v);
/* The state of account id ("accounts" -> id), made with create. */
cJSON *state_account(cJSON *root, const char *id, int create);

/* "first_party" or "third_party": a refusal mark's key. */
const char *state_kind_key(enum client_kind k);
/* The account's refusal mark for kind ({"at", "reason", "message"}), when
 * it is younger than hold seconds; NULL otherwise. */
const cJSON *state_refusal(const cJSON *st, enum client_kind kind,
    long hold, time_t now);

/* State changes for one account (state_mark). */
struct state_mark {
	const char *id;
	time_t cooldown_until;  /* -1: leave */
	int backoff;            /* with cooldown_until 0: compute */
	int needs_login;        /* -1: leave */
	time_t refresh_after;   /* -1: leave */
	const char *error;      /* NULL: leave; "": clear */
	int clear;              /* success: drop backoff, last_error and
	                         * needs_login */
	time_t until;           /* out: the cooldown set */
	const char *refused_key; /* with needs_login 1: token_key of the
	                         * refresh token refused, so that a new login
	                         * (another token in the file) lifts the mark */
};

/* Does the account's state say it needs a new login, its token file
 * holding the refresh token of key (token_key; NULL: unknown)? A mark
 * made for another refresh token than the file's now (a new login since)
 * no longer holds; one that names none (older state files) holds. */
int state_needs_login(const cJSON *st, const char *key);

/* Apply m to its account's state, under the lock. */
void state_mark(const struct config *cfg, struct state_mark *m, int durable);
/* The provider refused kind of client on account id: mark it. */
void state_refuse(const struct config *cfg, const char *id,
    enum client_kind kind, const char *reason, const char *message);

#endif
