/* usageapi: the providers' usage endpoints' answers read into an
 * account's quota and plan (see usageapi.c). No I/O. */
#ifndef USAGEAPI_H
#define USAGEAPI_H
#include <stddef.h>
#include <time.h>

#include "parsers/quota.h"

/* Anthropic's GET /api/oauth/usage: {"five_hour":{"utilization":48.0,
 * "resets_at":"..."},"seven_day":{...},"seven_day_opus":null,
 * "seven_day_sonnet":{...},"extra_usage":{"is_enabled","monthly_limit",
 * "used_credits"},"limits":[{"kind","percent","resets_at","scope"}]}
 * into q (windows 5h, 7d, 7d_opus, 7d_sonnet, ...; q->at = now) and
 * p's extra usage (cents). 0, or -1 when it is no JSON object. */
int usageapi_claude(const char *json, size_t len, time_t now, struct quota *q,
    struct plan *p);
/* Anthropic's GET /api/oauth/profile: the plan's name ("Max 20x",
 * "Pro") and whether extra usage is on, into p. 0 or -1. */
int usageapi_profile(const char *json, size_t len, time_t now,
    struct plan *p);
/* Codex's GET /backend-api/wham/usage: {"plan_type","rate_limit":
 * {"allowed","limit_reached","primary_window":{"used_percent",
 * "limit_window_seconds","reset_after_seconds","reset_at"},
 * "secondary_window":{...}},"credits":{...}} into q (windows named by
 * their length) and p's name. 0 or -1. */
int usageapi_codex(const char *json, size_t len, time_t now, struct quota *q,
    struct plan *p);

#endif
