/* quota: how much of its limits an account has used, as its provider's
 * answers and usage endpoints say, and its plan (see quota.c). No I/O. */
#ifndef QUOTA_H
#define QUOTA_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <time.h>

#define QUOTA_WINDOWS 8
#define QUOTA_NAME 24

/* One window of a limit: 5 hours, 7 days, a model's 7 days. */
struct quota_window {
	char name[QUOTA_NAME];  /* "5h", "7d", "7d_sonnet", ... */
	double used;            /* fraction used, 0..1; < 0: not said */
	time_t reset;           /* when it starts afresh; 0: not said */
	char status[QUOTA_NAME]; /* "allowed", "allowed_warning",
	                         * "rejected"; "" */
};

struct quota {
	int n;                  /* windows in w */
	struct quota_window w[QUOTA_WINDOWS];
	char status[QUOTA_NAME]; /* the account's overall status; "" */
	char claim[QUOTA_NAME]; /* the window that binds, by name; "" */
	char overage[QUOTA_NAME]; /* Anthropic: extra usage's status; "" */
	time_t reset;           /* the overall reset; 0: not said */
	int credits;            /* Codex: has credits 1, none 0, -1 not said */
	int unlimited;          /* Codex: 1, 0, -1 not said */
	double balance;         /* Codex: credits left; < 0: not said */
	time_t at;              /* when these figures were recorded */
	int from_api;           /* they came from a usage endpoint, not from
	                         * an answer's headers */
};

/* The plan the figures belong to, as the usage endpoints say. */
struct plan {
	char name[32];          /* "Max 20x", "Pro", "Plus"; "" unknown */
	int extra;              /* extra usage on 1, off 0, unknown -1 */
	long extra_used;        /* cents this month; -1 unknown */
	long extra_limit;       /* cents a month; -1 unknown */
	time_t at;              /* when said; 0 never */
};

/* An empty quota: nothing said. */
void quota_init(struct quota *q);
/* Did the answer say anything at all? */
int quota_said(const struct quota *q);
/* The window called name, or NULL. */
const struct quota_window *quota_find(const struct quota *q,
    const char *name);
/* The window called name, made when missing (NULL when full). */
struct quota_window *quota_window(struct quota *q, const char *name);
/* The window that binds: the one the claim names, else the most used;
 * NULL when no window has a figure. */
const struct quota_window *quota_binding(const struct quota *q);
/* Until when the account can take nothing: the status is rejected, or
 * the binding window is used up (>= 100 %), until that window's reset
 * (the overall reset when it names none). 0 when it can. */
time_t quota_blocked(const struct quota *q, time_t now);

/* The quota in state.json's form (an account's "quota" member) and
 * back. */
void quota_to_json(const struct quota *q, cJSON *o);
void quota_from_json(const cJSON *o, struct quota *q);
/* Is next worth writing over prev: a window's figure moved by a
 * percentage point or more, a status or the claim changed, a reset moved
 * by more than a minute, a window came or went? */
int quota_changed(const struct quota *prev, const struct quota *next);

/* newer's figures over into's: each window newer has replaces into's of
 * that name (the others stay), and what newer says of the statuses,
 * resets and credits; its time and source. */
void quota_merge(struct quota *into, const struct quota *newer);

/* Anthropic's name of a window (five_hour, seven_day, seven_day_sonnet:
 * its headers' representative claim, its usage endpoint's keys) as the
 * headers name it, in place: 5h, 7d, 7d_sonnet. */
void quota_claim_name(char *name, size_t n);
/* A window named by its length: 300 minutes 5h, 10080 7d; which when
 * the length is not said. */
void quota_window_name(int minutes, const char *which, char *out,
    size_t n);

/* An unknown plan; the plan in state.json's form and back. */
void plan_init(struct plan *p);
void plan_to_json(const struct plan *p, cJSON *o);
void plan_from_json(const cJSON *o, struct plan *p);
/* What newer says over into, the rest of into kept. */
void plan_merge(struct plan *into, const struct plan *newer);

#endif
