/* The usage endpoints' answers read (usageapi.c), and the figures they
 * become (quota.c: merge, plan, state.json's form). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "parsers/usageapi.h"
#include "unit.h"

#define NOW 1780000000LL

static const char claude_usage[] =
    "{\"five_hour\":{\"utilization\":48.0,\"resets_at\":"
    "\"2026-05-28T21:06:40.52+00:00\"},\"seven_day\":{\"utilization\":23.5,"
    "\"resets_at\":\"2026-06-01T00:00:00+00:00\"},\"seven_day_opus\":null,"
    "\"seven_day_sonnet\":{\"utilization\":5.0,\"resets_at\":null},"
    "\"extra_usage\":{\"is_enabled\":true,\"monthly_limit\":1000,"
    "\"used_credits\":320.0,\"utilization\":null}}";

static const char claude_limits[] =
    "{\"limits\":[{\"kind\":\"session\",\"percent\":12,\"resets_at\":"
    "\"2026-05-28T21:00:00Z\"},{\"kind\":\"weekly_all\",\"percent\":40},"
    "{\"kind\":\"weekly_scoped\",\"percent\":7,\"scope\":{\"model\":"
    "\"opus\"}},{\"kind\":\"daily\",\"percent\":1}]}";

static const char profile[] =
    "{\"account\":{\"uuid\":\"u\",\"email\":\"a@example.com\","
    "\"has_claude_max\":true,\"has_claude_pro\":false},\"organization\":"
    "{\"uuid\":\"o\",\"organization_type\":\"claude_max\","
    "\"rate_limit_tier\":\"default_claude_max_20x\","
    "\"has_extra_usage_enabled\":false,\"subscription_status\":\"active\"}}";

static const char wham[] =
    "{\"plan_type\":\"plus\",\"rate_limit\":{\"allowed\":true,"
    "\"limit_reached\":false,\"primary_window\":{\"used_percent\":7,"
    "\"limit_window_seconds\":18000,\"reset_after_seconds\":4851,"
    "\"reset_at\":1780004851},\"secondary_window\":{\"used_percent\":30,"
    "\"limit_window_seconds\":604800,\"reset_after_seconds\":300000.5}},"
    "\"credits\":{\"has_credits\":true,\"unlimited\":false,\"balance\":"
    "\"12.5\"}}";

#define PRO "{\"organization\":{\"organization_type\":\"claude_pro\"}}"
#define MARKUP "{\"organization\":{\"organization_type\":\"claude_<b>x\"}}"
#define WEEKLY "{\"rate_limit\":{\"limit_reached\":true,\"primary_window\":" \
    "{\"used_percent\":100,\"limit_window_seconds\":604800}}}"

static void
test_claude(void)
{
	struct quota q;
	struct plan p;
	const struct quota_window *w;

	plan_init(&p);
	CHECK("claude usage read", usageapi_claude(claude_usage,
	    strlen(claude_usage), NOW, &q, &p) == 0 && q.n == 3);
	CHECK("five_hour is 5h, a fraction", (w = quota_find(&q, "5h")) != NULL &&
	    w->used > 0.479 && w->used < 0.481 && w->reset == 1780002400);
	CHECK("seven_day is 7d", (w = quota_find(&q, "7d")) != NULL &&
	    w->used > 0.234 && w->used < 0.236);
	CHECK("seven_day_sonnet is 7d_sonnet, no reset at 5 %",
	    (w = quota_find(&q, "7d_sonnet")) != NULL && w->reset == 0);
	CHECK("seven_day_opus null: no window", quota_find(&q, "7d_opus") == NULL);
	CHECK("extra usage in cents", p.extra == 1 && p.extra_limit == 1000 &&
	    p.extra_used == 320 && q.at == NOW);
	CHECK("the newer limits list", usageapi_claude(claude_limits,
	    strlen(claude_limits), NOW, &q, &p) == 0 && q.n == 3 &&
	    quota_find(&q, "5h") && quota_find(&q, "7d") && (w = quota_find(&q, "7d_opus")) &&
	    w->used > 0.069 && w->used < 0.071);
	CHECK("not an object", usageapi_claude("[]", 2, NOW, &q, &p) == -1);
	plan_init(&p);
	CHECK("profile", usageapi_profile(profile, strlen(profile), NOW,
	    &p) == 0);
	CHECK_STR("profile: Max 20x", p.name, "Max 20x");
	CHECK("profile: extra usage off", p.extra == 0 && p.at == NOW);
	plan_init(&p);
	CHECK("pro without a tier", usageapi_profile(PRO, strlen(PRO), NOW,
	    &p) == 0 &&
	    strcmp(p.name, "Pro") == 0 && p.extra == -1);
	plan_init(&p);
	CHECK("a name with markup is cleaned", usageapi_profile(MARKUP,
	    strlen(MARKUP), NOW, &p) == 0 && strcmp(p.name, "Bx") == 0);
}

static void
test_codex(void)
{
	struct quota q;
	struct plan p;
	const struct quota_window *w;

	plan_init(&p);
	CHECK("wham read", usageapi_codex(wham, strlen(wham), NOW, &q, &p) ==
	    0 && q.n == 2);
	CHECK("windows named by their length", (w = quota_find(&q, "5h")) &&
	    w->used > 0.069 && w->used < 0.071 && w->reset == 1780004851 &&
	    (w = quota_find(&q, "7d")) && w->reset == NOW + 300001);
	CHECK("credits, a string balance", q.credits == 1 && q.unlimited ==
	    0 && q.balance > 12.49 && q.balance < 12.51);
	CHECK_STR("plan type", p.name, "Plus");
	CHECK_STR("allowed", q.status, "allowed");
	CHECK("weekly primary, no 5h", usageapi_codex(WEEKLY, strlen(WEEKLY),
	    NOW, &q, &p) == 0 &&
	    q.n == 1 && quota_find(&q, "7d") && strcmp(q.status, "rejected") == 0);
}

static void
test_merge(void)
{
	struct quota a, b;
	struct plan p, n;
	cJSON *o = cJSON_CreateObject();

	quota_init(&a);
	quota_window(&a, "5h")->used = 0.5;
	quota_window(&a, "7d_sonnet")->used = 0.1;
	snprintf(a.claim, sizeof a.claim, "5h");
	quota_init(&b);
	quota_window(&b, "5h")->used = 0.2;
	quota_window(&b, "7d")->used = 0.3;
	b.at = NOW;
	b.from_api = 1;
	quota_merge(&a, &b);
	CHECK("merge: newer window wins, others stay", a.n == 3 &&
	    quota_find(&a, "5h")->used == 0.2 && quota_find(&a, "7d_sonnet")->used == 0.1 &&
	    quota_find(&a, "7d")->used == 0.3 && strcmp(a.claim, "5h") == 0 &&
	    a.at == NOW && a.from_api);
	quota_to_json(&a, o);
	quota_init(&b);
	quota_from_json(o, &b);
	CHECK("the source survives state.json", b.from_api && b.at == NOW &&
	    b.n == 3);
	cJSON_Delete(o);
	plan_init(&p);
	plan_init(&n);
	snprintf(p.name, sizeof p.name, "Max 5x");
	p.extra = 1;
	n.extra_used = 120;
	n.extra_limit = 5000;
	n.at = NOW;
	plan_merge(&p, &n);
	CHECK("plan merge keeps what the newer does not say", strcmp(p.name,
	    "Max 5x") == 0 && p.extra == 1 && p.extra_used == 120 &&
	    p.at == NOW);
	o = cJSON_CreateObject();
	plan_to_json(&p, o);
	plan_init(&n);
	plan_from_json(o, &n);
	CHECK("plan in state.json's form and back", strcmp(n.name, "Max 5x") ==
	    0 && n.extra == 1 && n.extra_limit == 5000 && n.at == NOW);
	cJSON_Delete(o);
}

int
main(void)
{
	test_claude();
	test_codex();
	test_merge();
	return UNIT_END();
}
