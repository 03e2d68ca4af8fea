/* ratelimit: what providers' answers say of an account's limits (see
 * ratelimit.c). No I/O. */
#ifndef RATELIMIT_H
#define RATELIMIT_H
#include <stddef.h>
#include <time.h>

#include "parsers/http.h"
#include "parsers/quota.h"

/* When a 429 says the account may be used again: retry-after, else
 * anthropic-ratelimit-unified-reset, else the soonest other
 * anthropic-ratelimit-*-reset (epoch seconds or RFC 3339). 0 when the
 * response does not say: the caller backs off. */
time_t ratelimit_claude_cooldown(const struct http_msg *resp, time_t now);

/* When a Codex 429 says the account may be used again: retry-after, else
 * the body's error.resets_in_seconds or error.resets_at. 0 when unknown. */
time_t ratelimit_codex_cooldown(const struct http_msg *resp, const char *body,
    size_t blen, time_t now);

/* The anthropic-ratelimit-unified-* headers of an answer: the overall
 * status, reset, binding window (representative-claim, as the window's
 * name: 5h, 7d, 7d_sonnet) and extra usage's status, and per window its
 * utilization (a fraction), reset and status. Windows the headers name
 * are kept by their names; q is empty when there are none. */
void ratelimit_claude_quota(const struct http_msg *resp, struct quota *q);

/* The x-codex-* headers of an answer: the primary and secondary windows
 * (named by their length: 5h, 7d) with the used percent as a fraction
 * and the reset, and the credits. */
void ratelimit_codex_quota(const struct http_msg *resp, time_t now,
    struct quota *q);

#endif
