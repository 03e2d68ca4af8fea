/*
 * What a provider's answer says of the account's limits: when an account
 * that was told to wait may ask again (a 429's retry-after and reset
 * headers, Codex's usage_limit_reached body), and how much of each window
 * is used, which every answer says in its headers. No I/O.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "parsers/http.h"
#include "parsers/json.h"
#include "providers/ratelimit.h"
#include "support/timefmt.h"

#define WEEK (7L * 86400)

/* A reset header's value: epoch seconds or RFC 3339. */
static time_t
reset_time(const struct http_header *h)
{
	char v[64];
	char *end;
	long long t;

	if (h->vlen == 0 || h->vlen >= sizeof v)
		return 0;
	memcpy(v, h->value, h->vlen);
	v[h->vlen] = '\0';
	t = strtoll(v, &end, 10);
	if (*end == '\0')
		return (time_t)t;
	t = timefmt_parse(v);
	return t == -1 ? 0 : (time_t)t;
}

time_t
ratelimit_claude_cooldown(const struct http_msg *resp, time_t now)
{
	const struct http_header *h;
	time_t t, best = 0;
	size_t i;

	if ((h = http_header_get(resp, "retry-after")) != NULL &&
	    (t = http_retry_after(h->value, h->vlen, now)) > now)
		best = t;
	else if ((h = http_header_get(resp,
	    "anthropic-ratelimit-unified-reset")) != NULL &&
	    (t = reset_time(h)) > now)
		best = t;
	else
		for (i = 0; i < resp->nheaders; i++) {
			h = &resp->headers[i];
			if (h->nlen < 26 || strncasecmp(h->name,
			    "anthropic-ratelimit-", 20) != 0 ||
			    strncasecmp(h->name + h->nlen - 6, "-reset", 6) != 0)
				continue;
			if ((t = reset_time(h)) > now && (best == 0 || t < best))
				best = t;
		}
	/* A reset a week away is a broken header, not a plan. */
	if (best > now + 7 * 86400)
		best = now + 7 * 86400;
	return best;
}

/* Seconds as a time, rounded up, without overflowing time_t. */
static time_t
after(time_t now, double secs)
{
	if (!(secs > 0))
		return 0;
	if (secs > WEEK)
		return now + WEEK + 1;
	return now + (time_t)secs + (secs > (double)(time_t)secs);
}

/* usage_limit_reached's error.resets_in_seconds or error.resets_at. */
static time_t
body_reset(const char *body, size_t blen, time_t now)
{
	cJSON *j = body && blen ? cJSON_ParseWithLength(body, blen) : NULL;
	const cJSON *e = json_get(j, "error");
	const cJSON *in = json_get(e, "resets_in_seconds"), *at = json_get(e,
	    "resets_at");
	double d = 0;
	char *end;
	time_t t = 0;

	if (cJSON_IsNumber(in) && in->valuedouble > 0)
		t = after(now, in->valuedouble);
	else {
		if (cJSON_IsNumber(at))
			d = at->valuedouble;
		else if (cJSON_IsString(at)) {
			d = strtod(at->valuestring, &end);
			if (end == at->valuestring || *end)
				d = 0;
		}
		if (d > (double)now)
			t = after(now, d - (double)now);
	}
	cJSON_Delete(j);
	return t;
}

time_t
ratelimit_codex_cooldown(const struct http_msg *resp, const char *body, size_t blen,
    time_t now)
{
	const struct http_header *h;
	time_t t = 0;

	h = resp ? http_header_get(resp, "retry-after") : NULL;
	if (h)
		t = http_retry_after(h->value, h->vlen, now);
	if (t <= now)
		t = body_reset(body, blen, now);
	if (t <= now)
		return 0;
	/* A reset a week away is a broken answer, not a plan. */
	return t > now + WEEK ? now + WEEK : t;
}

/* A header value as a C string in out; 0 when it does not fit. */
static int
value(const struct http_header *h, char *out, size_t n)
{
	if (h->vlen == 0 || h->vlen >= n)
		return 0;
	memcpy(out, h->value, h->vlen);
	out[h->vlen] = '\0';
	return 1;
}

/* A status or claim word: lower-case letters, digits and '_' only. */
static void
word(const struct http_header *h, char *out, size_t n)
{
	size_t i;

	out[0] = '\0';
	if (h->vlen == 0 || h->vlen >= n)
		return;
	for (i = 0; i < h->vlen; i++) {
		char c = h->value[i] >= 'A' && h->value[i] <= 'Z' ?
		    (char)(h->value[i] - 'A' + 'a') : h->value[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_')) {
			out[0] = '\0';
			return;
		}
		out[i] = c;
	}
	out[i] = '\0';
}

/* anthropic-ratelimit-unified-<window>-<field>: the window's figure. */
static void
claude_window(struct quota *q, const struct http_header *h,
    const char *rest, size_t rlen)
{
	static const char *const fields[] = { "-utilization", "-reset",
	    "-status" };
	struct quota_window *w;
	char name[QUOTA_NAME], v[64];
	size_t i, fl, k;

	for (i = 0; i < 3; i++) {
		fl = strlen(fields[i]);
		if (rlen > fl && strncasecmp(rest + rlen - fl, fields[i],
		    fl) == 0)
			break;
	}
	if (i == 3 || rlen - fl >= sizeof name)
		return;
	for (k = 0; k < rlen - fl; k++) {
		char c = rest[k] >= 'A' && rest[k] <= 'Z' ?
		    (char)(rest[k] - 'A' + 'a') : rest[k];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_'))
			return;
		name[k] = c;
	}
	name[k] = '\0';
	/* Not windows: extra usage's own status and reset. */
	if (strcmp(name, "overage") == 0 || (w = quota_window(q, name)) ==
	    NULL)
		return;
	if (i == 0 && value(h, v, sizeof v))
		w->used = strtod(v, NULL);
	else if (i == 1)
		w->reset = reset_time(h);
	else
		word(h, w->status, sizeof w->status);
	if (w->used < 0 || w->used > 100)
		w->used = -1;
}

void
ratelimit_claude_quota(const struct http_msg *resp, struct quota *q)
{
	static const char pre[] = "anthropic-ratelimit-unified-";
	const size_t pl = sizeof pre - 1;
	size_t i;

	quota_init(q);
	for (i = 0; i < resp->nheaders; i++) {
		const struct http_header *h = &resp->headers[i];

		if (h->nlen <= pl || strncasecmp(h->name, pre, pl) != 0)
			continue;
		if (http_name_is(h, "anthropic-ratelimit-unified-status"))
			word(h, q->status, sizeof q->status);
		else if (http_name_is(h, "anthropic-ratelimit-unified-reset"))
			q->reset = reset_time(h);
		else if (http_name_is(h, "anthropic-ratelimit-unified-"
		    "representative-claim")) {
			word(h, q->claim, sizeof q->claim);
			quota_claim_name(q->claim, sizeof q->claim);
		} else if (http_name_is(h, "anthropic-ratelimit-unified-"
		    "overage-status"))
			word(h, q->overage, sizeof q->overage);
		else
			claude_window(q, h, h->name + pl, h->nlen - pl);
	}
}

/* Codex names its windows primary and secondary; their length says
 * which they are: 300 minutes is 5h, 10080 is 7d. */
/* x-codex-<which>-*: one window. */
static void
codex_window(const struct http_msg *resp, const char *which, time_t now,
    struct quota *q)
{
	static const char *const fields[] = { "used-percent", "window-minutes",
	    "reset-after-seconds", "reset-at" };
	const struct http_header *h[4];
	struct quota_window *w;
	char name[64], v[64];
	double d;
	size_t i;

	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof name, "x-codex-%s-%s", which, fields[i]);
		h[i] = http_header_get(resp, name);
	}
	if (h[0] == NULL || !value(h[0], v, sizeof v) ||
	    (d = strtod(v, NULL)) < 0 || d > 10000)
		return;
	quota_window_name(h[1] && value(h[1], v, sizeof v) ? atoi(v) : 0,
	    which, name, sizeof name);
	if ((w = quota_window(q, name)) == NULL)
		return;
	w->used = d / 100;
	if (h[2] && value(h[2], v, sizeof v) && (d = strtod(v, NULL)) >= 0)
		w->reset = after(now, d > 0 ? d : 1);
	else if (h[3])
		w->reset = reset_time(h[3]);
}

/* A true/false header: 1, 0, or -1 when absent or neither. */
static int
boolean(const struct http_msg *resp, const char *name)
{
	const struct http_header *h = http_header_get(resp, name);

	if (h == NULL)
		return -1;
	if (h->vlen == 4 && strncasecmp(h->value, "true", 4) == 0)
		return 1;
	if (h->vlen == 5 && strncasecmp(h->value, "false", 5) == 0)
		return 0;
	return -1;
}

void
ratelimit_codex_quota(const struct http_msg *resp, time_t now, struct quota *q)
{
	const struct http_header *h;
	char v[64];
	double d;

	quota_init(q);
	codex_window(resp, "primary", now, q);
	codex_window(resp, "secondary", now, q);
	q->credits = boolean(resp, "x-codex-credits-has-credits");
	q->unlimited = boolean(resp, "x-codex-credits-unlimited");
	if ((h = http_header_get(resp, "x-codex-credits-balance")) != NULL &&
	    value(h, v, sizeof v) && (d = strtod(v, NULL)) >= 0 && d < 1e15)
		q->balance = d;
}
