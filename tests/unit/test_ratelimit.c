/* What answers say of an account's limits, and when it is worth a write. */
#include <stdio.h>
#include <string.h>

#include "parsers/http.h"
#include "parsers/quota.h"
#include "providers/ratelimit.h"
#include "unit.h"

static struct http_msg m;

static int
parse(const char *head)
{
	const char *why;

	return http_parse_response(head, strlen(head), "POST", &m, &why);
}

static void
test_claude(void)
{
	struct quota q;
	const struct quota_window *w;

	CHECK("parse", parse("HTTP/1.1 200 OK\r\n"
	    "Anthropic-Ratelimit-Unified-Status: allowed_warning\r\n"
	    "anthropic-ratelimit-unified-5h-status: allowed\r\n"
	    "anthropic-ratelimit-unified-5h-utilization: 0.71\r\n"
	    "anthropic-ratelimit-unified-5h-reset: 1767225600\r\n"
	    "anthropic-ratelimit-unified-7d-utilization: 0.4\r\n"
	    "anthropic-ratelimit-unified-7d_sonnet-utilization: 0.95\r\n"
	    "anthropic-ratelimit-unified-7d_sonnet-reset: "
	    "2026-01-02T00:00:00Z\r\n"
	    "anthropic-ratelimit-unified-representative-claim: seven_day\r\n"
	    "anthropic-ratelimit-unified-overage-status: rejected\r\n"
	    "anthropic-ratelimit-unified-overage-reset: 1767225600\r\n"
	    "anthropic-ratelimit-unified-reset: 1767225600\r\n"
	    "anthropic-ratelimit-unified-b.d-utilization: 0.5\r\n"
	    "Content-Length: 0\r\n\r\n") == 0);
	ratelimit_claude_quota(&m, &q);
	CHECK("overall status", strcmp(q.status, "allowed_warning") == 0);
	CHECK("claim named as its window", strcmp(q.claim, "7d") == 0);
	CHECK("overage is no window", strcmp(q.overage, "rejected") == 0 &&
	    quota_find(&q, "overage") == NULL);
	CHECK("odd window names are not kept", quota_find(&q, "b.d") == NULL &&
	    q.n == 3);
	w = quota_find(&q, "5h");
	CHECK("5h", w && w->used > 0.709 && w->used < 0.711 &&
	    w->reset == 1767225600 && strcmp(w->status, "allowed") == 0);
	w = quota_find(&q, "7d_sonnet");
	CHECK("a model's window, reset in RFC 3339", w && w->used > 0.94 &&
	    w->reset == 1767312000);
	CHECK("binding: the claim", quota_binding(&q) == quota_find(&q, "7d"));
	CHECK("not blocked below 100 %", quota_blocked(&q, 1767200000) == 0);

	CHECK("parse none", parse("HTTP/1.1 200 OK\r\n\r\n") == 0);
	ratelimit_claude_quota(&m, &q);
	CHECK("no headers, nothing said", !quota_said(&q));
}

static void
test_codex(void)
{
	struct quota q;
	const struct quota_window *w;

	CHECK("parse", parse("HTTP/1.1 200 OK\r\n"
	    "x-codex-primary-used-percent: 100\r\n"
	    "x-codex-primary-window-minutes: 300\r\n"
	    "x-codex-primary-reset-after-seconds: 600\r\n"
	    "x-codex-secondary-used-percent: 12.5\r\n"
	    "x-codex-secondary-window-minutes: 10080\r\n"
	    "x-codex-secondary-reset-at: 1767225600\r\n"
	    "x-codex-credits-has-credits: True\r\n"
	    "x-codex-credits-balance: 3.5\r\n\r\n") == 0);
	ratelimit_codex_quota(&m, 1000, &q);
	w = quota_find(&q, "5h");
	CHECK("primary as 5h", w && w->used == 1.0 && w->reset == 1600);
	w = quota_find(&q, "7d");
	CHECK("secondary as 7d", w && w->used == 0.125 &&
	    w->reset == 1767225600);
	CHECK("credits", q.credits == 1 && q.unlimited == -1 &&
	    q.balance == 3.5);
	CHECK("binding: the most used", quota_binding(&q) == quota_find(&q, "5h"));
	CHECK("blocked until the used-up window resets",
	    quota_blocked(&q, 1000) == 1600);
	CHECK("not after it", quota_blocked(&q, 1600) == 0);
}

static void
test_changed(void)
{
	struct quota a, b;
	struct quota_window *w;

	quota_init(&a);
	w = quota_window(&a, "5h");
	w->used = 0.71;
	w->reset = 5000;
	b = a;
	CHECK("same", !quota_changed(&a, &b));
	quota_window(&b, "5h")->used = 0.715;
	CHECK("half a point: not worth a write", !quota_changed(&a, &b));
	quota_window(&b, "5h")->used = 0.72;
	CHECK("a point", quota_changed(&a, &b));
	b = a;
	quota_window(&b, "5h")->reset = 5030;
	CHECK("a reset that jitters", !quota_changed(&a, &b));
	quota_window(&b, "5h")->reset = 23000;
	CHECK("a reset that moved", quota_changed(&a, &b));
	b = a;
	snprintf(b.status, sizeof b.status, "rejected");
	CHECK("a status", quota_changed(&a, &b));
	b = a;
	quota_window(&b, "7d")->used = 0.1;
	CHECK("a new window", quota_changed(&a, &b));
	snprintf(a.status, sizeof a.status, "rejected");
	CHECK("rejected blocks until the binding reset",
	    quota_blocked(&a, 4000) == 5000);
}

int
main(void)
{
	test_claude();
	test_codex();
	test_changed();
	return UNIT_END();
}
