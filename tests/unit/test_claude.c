/* Anthropic rewrite rules: the upstream head and the system prefix. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claude.h"
#include "unit.h"

#define LINE CLAUDE_CODE_LINE

static const struct {
	const char *name;
	const char *in;
	const char *want;       /* expected system value as JSON; NULL: body
	                         * unchanged; "!" parse error */
} bodies[] = {
	{ "no system", "{\"model\":\"m\",\"max_tokens\":5}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"}]" },
	{ "null system", "{\"system\":null}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"}]" },
	{ "string system", "{\"system\":\"You are Droid\"}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"},"
	    "{\"type\":\"text\",\"text\":\"You are Droid\"}]" },
	{ "empty string system", "{\"system\":\"\"}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"}]" },
	{ "string already starting with the line",
	    "{\"system\":\"" LINE " More.\"}", NULL },
	{ "array system", "{\"system\":[{\"type\":\"text\",\"text\":\"You are "
	    "Droid\",\"cache_control\":{\"type\":\"ephemeral\"}},{\"type\":"
	    "\"text\",\"text\":\"b\"}]}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"},{\"type\":\"text\","
	    "\"text\":\"You are Droid\",\"cache_control\":{\"type\":"
	    "\"ephemeral\"}},{\"type\":\"text\",\"text\":\"b\"}]" },
	{ "array already first", "{\"system\":[{\"type\":\"text\",\"text\":\""
	    LINE "\"},{\"type\":\"text\",\"text\":\"x\"}]}", NULL },
	{ "line with more text is not the line", "{\"system\":[{\"type\":"
	    "\"text\",\"text\":\"" LINE " x\"}]}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"},{\"type\":\"text\","
	    "\"text\":\"" LINE " x\"}]" },
	{ "empty array", "{\"system\":[]}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"}]" },
	{ "number system left to upstream", "{\"system\":5}", NULL },
	{ "not JSON", "hello", "!" },
	{ "array root", "[1,2]", "!" },
	{ "trailing garbage", "{\"a\":1} x", "!" },
	{ "truncated", "{\"a\":", "!" },
	{ "empty body", "", "!" },
};

static void
test_bodies(void)
{
	size_t i;

	for (i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
		struct buf out = { 0 };
		const char *why = NULL;
		int changed = -1, r;

		r = claude_body(bodies[i].in, strlen(bodies[i].in), &out,
		    &changed, &why);
		if (bodies[i].want && strcmp(bodies[i].want, "!") == 0) {
			CHECK(bodies[i].name, r == -1 && why != NULL);
		} else if (bodies[i].want == NULL) {
			CHECK(bodies[i].name, r == 0 && changed == 0 &&
			    out.len == 0);
		} else {
			cJSON *got = out.p ? cJSON_Parse(out.p) : NULL;
			cJSON *want = cJSON_Parse(bodies[i].want);
			cJSON *orig = cJSON_Parse(bodies[i].in);
			cJSON *sys = cJSON_GetObjectItem(got, "system");
			int others = 1;
			cJSON *it;

			/* Every other field is untouched. */
			cJSON_ArrayForEach(it, orig) {
				if (strcmp(it->string, "system") == 0)
					continue;
				others &= cJSON_Compare(it,
				    cJSON_GetObjectItem(got, it->string), 1);
			}
			CHECK(bodies[i].name, r == 0 && changed == 1 && got &&
			    want && cJSON_Compare(sys, want, 1) && others);
			cJSON_Delete(got);
			cJSON_Delete(want);
			cJSON_Delete(orig);
		}
		buf_free(&out);
	}
}

/* Build the upstream head for a request head and return it. */
static char *
head_for(const char *reqhead, enum acct_kind kind, int oauth_beta,
    const char *prefix)
{
	static struct http_msg m;
	struct http_limits lim = { 65536, 100 };
	struct config cfg;
	struct account a;
	struct buf out = { 0 };
	const char *why;

	memset(&cfg, 0, sizeof cfg);
	memset(&a, 0, sizeof a);
	cfg.claude_base.path = (char *)(uintptr_t)prefix;
	cfg.claude_base.hostport = (char *)(uintptr_t)"api.example:8443";
	cfg.claude_oauth_beta = oauth_beta;
	a.kind = kind;
	a.access_token = (char *)(uintptr_t)"sk-ant-oat01-SECRET";
	if (http_parse_request(reqhead, strlen(reqhead), &lim, &m, &why))
		return NULL;
	if (claude_head(&out, &m, &cfg, &cfg.claude_base, &a, 1234) == -1)
		return NULL;
	return out.p;
}

static int
has(const char *h, const char *line)
{
	return h && strstr(h, line) != NULL;
}

static void
test_head(void)
{
	static const char droid[] = "POST /v1/messages?beta=true HTTP/1.1\r\n"
	    "Accept: application/json\r\nContent-Type: application/json\r\n"
	    "User-Agent: factory-cli/0.225.2\r\nX-Stainless-Lang: js\r\n"
	    "anthropic-beta: interleaved-thinking-2025-05-14\r\n"
	    "anthropic-version: 2023-06-01\r\nx-api-key: dummy-not-used\r\n"
	    "Authorization: Bearer dummy\r\nConnection: keep-alive\r\n"
	    "Host: 127.0.0.1:8317\r\nAccept-Encoding: gzip, deflate, br, "
	    "zstd\r\nContent-Length: 41237\r\n\r\n";
	char *h = head_for(droid, ACCT_OAUTH, 1, "");

	CHECK("request line keeps query", h && strncmp(h,
	    "POST /v1/messages?beta=true HTTP/1.1\r\n", 38) == 0);
	CHECK("host is the upstream's", has(h, "\r\nHost: api.example:8443\r\n"));
	CHECK("client host dropped", !has(h, "127.0.0.1:8317"));
	CHECK("bearer from the account",
	    has(h, "\r\nAuthorization: Bearer sk-ant-oat01-SECRET\r\n"));
	CHECK("client key dropped", !has(h, "dummy"));
	CHECK("beta merged", has(h, "\r\nanthropic-beta: "
	    "interleaved-thinking-2025-05-14,oauth-2025-04-20\r\n"));
	CHECK("version kept", has(h, "\r\nanthropic-version: 2023-06-01\r\n"));
	CHECK("identity encoding", has(h, "\r\nAccept-Encoding: identity\r\n")
	    && !has(h, "gzip"));
	CHECK("content-length recomputed", has(h, "\r\nContent-Length: 1234"
	    "\r\n") && !has(h, "41237"));
	CHECK("connection dropped", !has(h, "keep-alive"));
	CHECK("other headers kept", has(h, "\r\nUser-Agent: factory-cli/"
	    "0.225.2\r\n") && has(h, "\r\nX-Stainless-Lang: js\r\n"));
	CHECK("ends with empty line", h && strlen(h) > 4 &&
	    strcmp(h + strlen(h) - 4, "\r\n\r\n") == 0);
	free(h);

	h = head_for("POST /v1/messages HTTP/1.1\r\nanthropic-beta: a, "
	    "oauth-2025-04-20\r\nanthropic-beta: b,a\r\n\r\n", ACCT_OAUTH, 1,
	    "/pfx");
	CHECK("prefix path", h && strncmp(h, "POST /pfx/v1/messages ", 22)
	    == 0);
	CHECK("beta deduplicated", has(h, "\r\nanthropic-beta: "
	    "a,oauth-2025-04-20,b\r\n"));
	CHECK("version added", has(h, "\r\nanthropic-version: 2023-06-01\r\n"));
	free(h);

	h = head_for("POST /v1/messages HTTP/1.1\r\n\r\n", ACCT_OAUTH, 0, "");
	CHECK("oauth beta switched off", h && !has(h, "anthropic-beta"));
	free(h);

	h = head_for("POST /v1/messages HTTP/1.1\r\n\r\n", ACCT_OAUTH, 1, "");
	CHECK("oauth beta alone", has(h, "\r\nanthropic-beta: "
	    "oauth-2025-04-20\r\n"));
	free(h);

	h = head_for("POST /v1/messages HTTP/1.1\r\nanthropic-beta: x\r\n\r\n",
	    ACCT_APIKEY, 1, "");
	CHECK("api key as x-api-key", has(h, "\r\nx-api-key: "
	    "sk-ant-oat01-SECRET\r\n") && !has(h, "Authorization"));
	CHECK("api key: no oauth beta", has(h, "\r\nanthropic-beta: x\r\n"));
	free(h);
}

static void
test_routes(void)
{
	CHECK("messages", claude_route("POST", 4, "/v1/messages", 12));
	CHECK("count_tokens", claude_route("POST", 4,
	    "/v1/messages/count_tokens", 25));
	CHECK("GET messages is not a route", !claude_route("GET", 3,
	    "/v1/messages", 12));
	CHECK("other path", !claude_route("POST", 4, "/v1/complete", 12));
	CHECK("trailing slash", !claude_route("POST", 4, "/v1/messages/", 13));
}

static void
test_models(void)
{
	struct buf b = { 0 };
	cJSON *j;

	CHECK("models builds", claude_models(&b) == 0);
	j = cJSON_Parse(b.p);
	CHECK("models list shape", j && cJSON_IsArray(cJSON_GetObjectItem(j,
	    "data")) && cJSON_IsFalse(cJSON_GetObjectItem(j, "has_more")) &&
	    cJSON_IsString(cJSON_GetObjectItem(j, "first_id")));
	cJSON_Delete(j);
	buf_free(&b);
}

int
main(void)
{
	test_bodies();
	test_head();
	test_routes();
	test_models();
	return UNIT_END();
}
