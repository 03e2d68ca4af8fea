/* Token files, token endpoint answers and rate-limit times: the pure
 * parts of the token store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/token.h"
#include "network/oauth.h"
#include "parsers/http.h"
#include "providers/claude.h"
#include "providers/ratelimit.h"
#include "support/timefmt.h"
#include "unit.h"

static const struct {
	const char *s;
	long long want;         /* -1: malformed */
} times[] = {
	{ "1970-01-01T00:00:00Z", 0 },
	{ "2026-11-25T12:00:00Z", 1795608000LL },
	{ "2026-11-25T12:00:00.123456Z", 1795608000LL },
	{ "2026-11-25T20:00:00+08:00", 1795608000LL },
	{ "2026-11-25T04:00:00-08:00", 1795608000LL },
	{ "2026-11-25t12:00:00z", 1795608000LL },
	{ "2026-11-25 12:00:00Z", 1795608000LL },
	{ "2026-11-25T12:00:00", -1 },
	{ "2026-13-25T12:00:00Z", -1 },
	{ "2026-11-25T12:00Z", -1 },
	{ "", -1 },
	{ "garbage", -1 },
	{ "2026-11-25T12:00:00Zjunk", -1 },
};

static void
test_times(void)
{
	size_t i;
	char out[32], name[96];

	for (i = 0; i < sizeof times / sizeof times[0]; i++) {
		snprintf(name, sizeof name, "time %s", times[i].s);
		CHECK(name, (long long)timefmt_parse(times[i].s) ==
		    times[i].want);
	}
	timefmt_format(1795608000, out, sizeof out);
	CHECK_STR("format time", out, "2026-11-25T12:00:00Z");
}

static void
test_token_parse(void)
{
	static const char full[] = "{\"type\":\"claude\",\"access_token\":"
	    "\"sk-ant-oat01-A\",\"refresh_token\":\"sk-ant-ort01-R\",\"email\":"
	    "\"a@b.c\",\"expired\":\"2026-11-25T12:00:00Z\",\"last_refresh\":"
	    "\"x\",\"id_token\":\"\",\"extra\":{\"k\":1}}";
	static const struct {
		const char *name, *json;
		long long expires;
	} alt[] = {
		{ "expires_at", "{\"access_token\":\"a\",\"expires_at\":"
		    "\"2026-11-25T12:00:00Z\"}", 1795608000LL },
		{ "expiresAt ms", "{\"access_token\":\"a\",\"expiresAt\":"
		    "1795608000000}", 1795608000LL },
		{ "expiry seconds", "{\"access_token\":\"a\",\"expiry\":"
		    "1795608000}", 1795608000LL },
		{ "no expiry", "{\"access_token\":\"a\"}", 0 },
	};
	struct account a;
	char err[128];
	size_t i;

	CHECK("parse full", token_parse(full, sizeof full - 1, &a, err,
	    sizeof err) == 0 && strcmp(a.access_token, "sk-ant-oat01-A") == 0
	    && strcmp(a.refresh_token, "sk-ant-ort01-R") == 0 &&
	    strcmp(a.email, "a@b.c") == 0 && a.expires == 1795608000 &&
	    !a.disabled);
	{
		struct account b;

		/* What the store hands out from its kept copy. */
		snprintf(a.id, sizeof a.id, "claude-a@b.c.json");
		CHECK("copy", account_copy(&b, &a) == 0);
		CHECK("copy owns its strings", b.access_token != a.access_token
		    && b.email != a.email && b.refresh_token != a.refresh_token);
		account_free(&a);
		CHECK("copy outlives the original", strcmp(b.access_token,
		    "sk-ant-oat01-A") == 0 && strcmp(b.refresh_token,
		    "sk-ant-ort01-R") == 0 && strcmp(b.email, "a@b.c") == 0 &&
		    b.expires == 1795608000 && strcmp(b.id,
		    "claude-a@b.c.json") == 0 && b.file == NULL);
		account_free(&b);
	}
	for (i = 0; i < sizeof alt / sizeof alt[0]; i++) {
		int r = token_parse(alt[i].json, strlen(alt[i].json), &a, err,
		    sizeof err);
		CHECK(alt[i].name, r == 0 && a.expires == alt[i].expires);
		account_free(&a);
	}
	CHECK("disabled", token_parse("{\"access_token\":\"a\",\"disabled\":"
	    "true}", 36, &a, err, sizeof err) == 0 && a.disabled);
	account_free(&a);
	CHECK("no access token", token_parse("{\"refresh_token\":\"sk-SECRET\"}",
	    29, &a, err, sizeof err) == -1 && !strstr(err, "SECRET"));
	CHECK("not JSON, secret not echoed", token_parse("{\"access_token\":"
	    "\"sk-SECRET", 26, &a, err, sizeof err) == -1 &&
	    !strstr(err, "SECRET"));
}

static void
test_oauth_parse(void)
{
	static const char ok[] = "{\"token_type\":\"Bearer\",\"access_token\":"
	    "\"sk-ant-oat01-N\",\"refresh_token\":\"sk-ant-ort01-N\","
	    "\"expires_in\":28800,\"organization\":{\"uuid\":\"o\"},"
	    "\"account\":{\"uuid\":\"u\",\"email_address\":\"a@b.c\"}}";
	struct oauth_grant g;
	char err[256];

	CHECK("grant ok", oauth_parse(200, ok, sizeof ok - 1, &g, err,
	    sizeof err) == OAUTH_OK && strcmp(g.access_token,
	    "sk-ant-oat01-N") == 0 && strcmp(g.refresh_token,
	    "sk-ant-ort01-N") == 0 && g.expires_in == 28800 &&
	    strcmp(g.email, "a@b.c") == 0);
	oauth_grant_free(&g);
	CHECK("grant without refresh token", oauth_parse(200,
	    "{\"access_token\":\"x\",\"expires_in\":60}", 37, &g, err,
	    sizeof err) == OAUTH_OK && g.refresh_token == NULL);
	oauth_grant_free(&g);
	CHECK("invalid_grant", oauth_parse(400, "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"x\"}", 49, &g, err, sizeof err) ==
	    OAUTH_INVALID);
	CHECK("refresh_token_reused", oauth_parse(401, "{\"error\":{\"message\":"
	    "\"Your refresh token has already been used\",\"code\":"
	    "\"refresh_token_reused\"}}", 101, &g, err, sizeof err) ==
	    OAUTH_INVALID && strstr(err, "refresh_token_reused"));
	CHECK("429 limited", oauth_parse(429, "{}", 2, &g, err, sizeof err) ==
	    OAUTH_LIMITED);
	CHECK("500 fails", oauth_parse(500, "oops", 4, &g, err, sizeof err) ==
	    OAUTH_FAIL && strstr(err, "500"));
	CHECK("200 without access token", oauth_parse(200, "{\"refresh_token\""
	    ":\"sk-SECRET\"}", 29, &g, err, sizeof err) == OAUTH_FAIL &&
	    !strstr(err, "SECRET"));
	CHECK("200 not JSON", oauth_parse(200, "<html>", 6, &g, err,
	    sizeof err) == OAUTH_FAIL);
	CHECK("a line break in a token", oauth_parse(200, "{\"access_token\":"
	    "\"a\\r\\nX-Injected: yes\"}", 41, &g, err, sizeof err) ==
	    OAUTH_FAIL && strstr(err, "control character") &&
	    !strstr(err, "Injected") && g.access_token == NULL);
	CHECK("a line break in a refresh token", oauth_parse(200,
	    "{\"access_token\":\"a\",\"refresh_token\":\"b\\nc\"}", 44, &g,
	    err, sizeof err) == OAUTH_FAIL);
}

/* Parse a response head and ask when the account may serve again. */
static long long
cooldown(const char *head, time_t now)
{
	struct http_msg m;
	const char *why;

	if (http_parse_response(head, strlen(head), "POST", &m, &why) == -1)
		return -2;
	return (long long)ratelimit_claude_cooldown(&m, now);
}

static void
test_cooldown(void)
{
	time_t now = 1795608000;

	CHECK("retry-after seconds", cooldown("HTTP/1.1 429 x\r\n"
	    "retry-after: 30\r\n\r\n", now) == now + 30);
	CHECK("retry-after date", cooldown("HTTP/1.1 429 x\r\nRetry-After: "
	    "Wed, 25 Nov 2026 12:01:00 GMT\r\n\r\n", now) == now + 60);
	CHECK("unified reset epoch", cooldown("HTTP/1.1 429 x\r\n"
	    "anthropic-ratelimit-unified-reset: 1795611600\r\n\r\n", now) ==
	    now + 3600);
	CHECK("soonest other reset, RFC 3339", cooldown("HTTP/1.1 429 x\r\n"
	    "anthropic-ratelimit-tokens-reset: 2026-11-25T12:10:00Z\r\n"
	    "anthropic-ratelimit-requests-reset: 2026-11-25T12:05:00Z\r\n"
	    "\r\n", now) == now + 300);
	CHECK("past reset ignored", cooldown("HTTP/1.1 429 x\r\n"
	    "anthropic-ratelimit-requests-reset: 2026-11-25T11:00:00Z\r\n"
	    "\r\n", now) == 0);
	CHECK("nothing said: backoff", cooldown("HTTP/1.1 429 x\r\n\r\n",
	    now) == 0);
	CHECK("a year away is capped", cooldown("HTTP/1.1 429 x\r\n"
	    "retry-after: 31536000\r\n\r\n", now) == now + 7 * 86400);
	CHECK("retry-after junk", http_retry_after("soon", 4, now) == 0);
}

int
main(void)
{
	test_times();
	test_token_parse();
	test_oauth_parse();
	test_cooldown();
	return UNIT_END();
}
