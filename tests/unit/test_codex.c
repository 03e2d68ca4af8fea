/* Codex rules: routes, body and head rewrites, Chat Completions both ways,
 * the SSE reader, non-stream collection, cooldowns and the model list. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/sse.h"
#include "providers/codex.h"
#include "providers/ratelimit.h"
#include "unit.h"

#define UUID "0b6f5c1e-8a52-4d7e-9f3a-2c1d4e5f6a7b"

/* Compare a JSON value against the JSON text want. */
static int
json_is(const cJSON *got, const char *want)
{
	cJSON *w = cJSON_Parse(want);
	int r = w && got && cJSON_Compare(got, w, 1);

	if (!r) {
		char *s = got ? cJSON_PrintUnformatted(got) : NULL;
		printf("# got  %s\n# want %s\n", s ? s : "(none)", want);
		free(s);
	}
	cJSON_Delete(w);
	return r;
}

static cJSON *
jget(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *s = jget(o, k);

	return cJSON_IsString(s) ? s->valuestring : NULL;
}

static void
test_routes(void)
{
	static const struct {
		const char *method, *path;
		enum codex_route want;
	} t[] = {
		{ "POST", "/responses", CODEX_RESPONSES },
		{ "POST", "/v1/responses", CODEX_RESPONSES },
		{ "POST", "/v1/chat/completions", CODEX_CHAT },
		{ "POST", "/chat/completions", CODEX_CHAT },
		{ "GET", "/v1/responses", CODEX_NONE },
		{ "POST", "/v1/responses/", CODEX_NONE },
		{ "POST", "/v1/messages", CODEX_NONE },
		{ "POST", "/v2/responses", CODEX_NONE },
		{ "post", "/responses", CODEX_NONE },
	};
	size_t i;
	char name[128];

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(name, sizeof name, "route %s %s", t[i].method,
		    t[i].path);
		CHECK(name, codex_route(t[i].method, strlen(t[i].method),
		    t[i].path, strlen(t[i].path)) == t[i].want);
	}
}

static struct alias aliases[] = {
	{ (char *)(uintptr_t)"fast", (char *)(uintptr_t)"gpt-5-codex-low" },
	{ (char *)(uintptr_t)"big", (char *)(uintptr_t)"gpt-5.1-codex-max" },
};

static struct config cfg = { .aliases = aliases, .n_aliases = 2 };

/* Rewrite a Responses body; the result parsed, or NULL. */
static cJSON *
rewrite(const char *in, struct codex_req *cr, const char **why)
{
	struct buf out = { 0 };
	cJSON *j = NULL;

	*why = NULL;
	if (codex_body(&cfg, NULL, in, strlen(in), &out, cr, why) == 0)
		j = cJSON_Parse(out.p);
	buf_free(&out);
	return j;
}

/* droid 0.225's request, as captured. */
static const char droid_body[] = "{\"model\":\"gpt-5-codex-high\","
    "\"input\":[{\"role\":\"user\",\"content\":[{\"type\":"
    "\"input_text\",\"text\":\"say hi\"}]}],\"store\":false,"
    "\"tools\":[{\"type\":\"function\",\"name\":\"Read\","
    "\"description\":\"Read a file\",\"parameters\":{\"type\":"
    "\"object\",\"properties\":{\"path\":{\"type\":\"string\"}}},"
    "\"strict\":false}],\"instructions\":\"You are Droid, an AI "
    "software engineering agent built by Factory.\",\"stream\":true,"
    "\"tool_choice\":\"auto\",\"parallel_tool_calls\":true,"
    "\"include\":[\"reasoning.encrypted_content\"],\"reasoning\":"
    "{\"effort\":\"high\",\"summary\":\"auto\"},\"prompt_cache_key\":"
    "\"" UUID "\",\"text\":{\"verbosity\":\"low\"}}";

static void
test_droid(void)
{
	struct codex_req cr;
	const char *why;
	cJSON *orig = cJSON_Parse(droid_body), *it;
	cJSON *j = rewrite(droid_body, &cr, &why);
	int others = 1;

	CHECK("droid body rewritten", j != NULL);
	CHECK_STR("droid model is the base", jstr(j, "model"), "gpt-5-codex");
	CHECK("droid reasoning", json_is(jget(j, "reasoning"),
	    "{\"effort\":\"high\",\"summary\":\"auto\"}"));
	CHECK("droid stream", cJSON_IsTrue(jget(j, "stream")) && cr.stream);
	CHECK("droid store", cJSON_IsFalse(jget(j, "store")));
	CHECK_STR("droid client model kept", cr.model, "gpt-5-codex-high");
	CHECK_STR("droid session id", cr.session_id, UUID);
	/* Everything else passes untouched. */
	cJSON_ArrayForEach(it, orig)
		if (strcmp(it->string, "model") && strcmp(it->string,
		    "reasoning"))
			others &= cJSON_Compare(it, jget(j, it->string), 1);
	CHECK("droid other fields untouched", others &&
	    cJSON_GetArraySize(j) == cJSON_GetArraySize(orig));
	cJSON_Delete(j);
	cJSON_Delete(orig);
}

static void
test_aliases(void)
{
	static const struct {
		const char *in, *model, *effort; /* effort NULL: none set */
	} t[] = {
		{ "gpt-5", "gpt-5", NULL },
		{ "gpt-5-codex", "gpt-5-codex", NULL },
		{ "gpt-5-minimal", "gpt-5", "minimal" },
		{ "gpt-5-low", "gpt-5", "low" },
		{ "gpt-5-medium", "gpt-5", "medium" },
		{ "gpt-5-high", "gpt-5", "high" },
		{ "gpt-5-codex-low", "gpt-5-codex", "low" },
		{ "gpt-5-codex-medium", "gpt-5-codex", "medium" },
		{ "gpt-5-codex-high", "gpt-5-codex", "high" },
		{ "gpt-5.1-codex-max", "gpt-5.1-codex", "max" },
		{ "gpt-5-ultra", "gpt-5", "ultra" },
		{ "gpt-5.6-sol-xhigh", "gpt-5.6-sol", "xhigh" },
		{ "gpt-5-fast", "gpt-5-fast", NULL },
		{ "-high", "-high", NULL },
		{ "gpt-5-High", "gpt-5-High", NULL },
		{ "fast", "gpt-5-codex", "low" },
		{ "big", "gpt-5.1-codex", "max" },
		{ "fast-high", "gpt-5-codex", "high" },
	};
	char in[256], name[128];
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct codex_req cr;
		const char *why;
		cJSON *j, *r;

		snprintf(in, sizeof in, "{\"model\":\"%s\",\"input\":[]}",
		    t[i].in);
		j = rewrite(in, &cr, &why);
		r = jget(j, "reasoning");
		snprintf(name, sizeof name, "alias %s", t[i].in);
		CHECK(name, j && strcmp(jstr(j, "model"), t[i].model) == 0 &&
		    strcmp(cr.model, t[i].in) == 0 && (t[i].effort ?
		    jstr(r, "effort") && strcmp(jstr(r, "effort"),
		    t[i].effort) == 0 : r == NULL));
		cJSON_Delete(j);
	}
}

static void
test_rules(void)
{
	struct codex_req cr;
	const char *why;
	cJSON *j;
	static const char *const refused[] = {
		"max_output_tokens", "max_completion_tokens", "temperature",
		"top_p", "user", "previous_response_id", "truncation",
		"prompt_cache_retention", "context_management", "service_tier",
		"metadata", "safety_identifier", "presence_penalty",
		"frequency_penalty", "seed", "top_logprobs", NULL
	};
	const char *const *k;
	int gone = 1;

	j = rewrite("{\"model\":\"gpt-5-high\",\"reasoning\":{\"effort\":"
	    "\"low\",\"summary\":\"detailed\"},\"input\":\"hi\"}", &cr, &why);
	CHECK("suffix overrides effort, keeps summary", json_is(jget(j,
	    "reasoning"), "{\"effort\":\"high\",\"summary\":\"detailed\"}"));
	CHECK("string input becomes a user message", json_is(jget(j, "input"),
	    "[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
	    "\"input_text\",\"text\":\"hi\"}]}]"));
	CHECK("missing instructions is empty", jstr(j, "instructions") &&
	    strcmp(jstr(j, "instructions"), "") == 0);
	CHECK("stream absent: client gets JSON, backend streams",
	    cr.stream == 0 && cJSON_IsTrue(jget(j, "stream")));
	CHECK("store added false", cJSON_IsFalse(jget(j, "store")));
	CHECK("no prompt_cache_key: no session", cr.session_id[0] == '\0');
	cJSON_Delete(j);

	j = rewrite("{\"model\":\"gpt-5\",\"max_output_tokens\":5,"
	    "\"max_completion_tokens\":5,\"temperature\":0.2,\"top_p\":1,"
	    "\"user\":\"u\",\"previous_response_id\":\"r\",\"truncation\":"
	    "\"auto\",\"prompt_cache_retention\":\"24h\","
	    "\"context_management\":"
	    "[],\"service_tier\":\"flex\",\"temperature\":1,\"store\":true,"
	    "\"store\":true,\"model\":\"gpt-6\","
	    "\"stream\":false,\"instructions\":null,"
	    "\"metadata\":{\"a\":\"b\"},\"safety_identifier\":\"h\","
	    "\"presence_penalty\":0,\"frequency_penalty\":0,\"seed\":1,"
	    "\"top_logprobs\":1,\"text\":{\"verbosity\":\"low\"}}",
	    &cr, &why);
	for (k = refused; *k; k++)
		gone &= jget(j, *k) == NULL;
	CHECK("refused parameters dropped, duplicates too", j && gone);
	CHECK("other parameters kept", json_is(jget(j, "text"),
	    "{\"verbosity\":\"low\"}"));
	CHECK("store true forced false", cJSON_IsFalse(jget(j, "store")));
	{
		const cJSON *it;
		int stores = 0, models = 0;

		cJSON_ArrayForEach(it, j) {
			stores += strcmp(it->string, "store") == 0;
			models += strcmp(it->string, "model") == 0;
		}
		CHECK("duplicate keys collapsed", stores == 1 && models == 1 &&
		    strcmp(jstr(j, "model"), "gpt-5") == 0);
	}
	CHECK("stream false: client JSON, backend stream",
	    cr.stream == 0 && cJSON_IsTrue(jget(j, "stream")));
	CHECK("null instructions is empty", jstr(j, "instructions") &&
	    *jstr(j, "instructions") == '\0');
	cJSON_Delete(j);

	j = rewrite("{\"model\":\"gpt-5\",\"service_tier\":\"priority\","
	    "\"stream\":true,\"instructions\":\"be brief\",\"input\":"
	    "[{\"role\":"
	    "\"system\",\"content\":\"s\"},{\"type\":\"message\",\"role\":"
	    "\"system\",\"content\":[]},{\"role\":\"user\",\"content\":\"u\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"c\",\"output\":"
	    "\"o\"}]}", &cr, &why);
	CHECK("priority tier kept", jstr(j, "service_tier") &&
	    strcmp(jstr(j, "service_tier"), "priority") == 0);
	CHECK("instructions kept", jstr(j, "instructions") &&
	    strcmp(jstr(j, "instructions"), "be brief") == 0);
	CHECK("stream true", cr.stream == 1);
	CHECK("system items become developer", json_is(jget(j, "input"),
	    "[{\"role\":\"developer\",\"content\":\"s\"},{\"type\":\"message\","
	    "\"role\":\"developer\",\"content\":[]},{\"role\":\"user\","
	    "\"content\":\"u\"},{\"type\":\"function_call_output\",\"call_id\":"
	    "\"c\",\"output\":\"o\"}]"));
	cJSON_Delete(j);

	j = rewrite("{\"model\":\"gpt-5\",\"prompt_cache_key\":"
	    "\"a\\r\\nX: y\"}", &cr, &why);
	CHECK("session id with a line break refused", j &&
	    cr.session_id[0] == '\0');
	cJSON_Delete(j);
	j = rewrite("{\"model\":\"gpt-5\",\"prompt_cache_key\":5}", &cr, &why);
	CHECK("non-string prompt_cache_key: no session", j &&
	    cr.session_id[0] == '\0');
	cJSON_Delete(j);
	{
		char in[512];

		snprintf(in, sizeof in, "{\"model\":\"gpt-5\","
		    "\"prompt_cache_key\":\"%0200d\"}", 7);
		j = rewrite(in, &cr, &why);
		CHECK("long session id truncated", j && strlen(cr.session_id)
		    == sizeof cr.session_id - 1 && cr.session_id[126] == '0');
		cJSON_Delete(j);
	}
}

static void
test_body_errors(void)
{
	static const struct {
		const char *name, *in;
	} t[] = {
		{ "not JSON", "hello" },
		{ "array root", "[{\"model\":\"gpt-5\"}]" },
		{ "empty body", "" },
		{ "trailing data", "{\"model\":\"gpt-5\"} x" },
		{ "no model", "{\"input\":\"hi\"}" },
		{ "model not a string", "{\"model\":5}" },
		{ "empty model", "{\"model\":\"\"}" },
		{ "instructions not a string", "{\"model\":\"gpt-5\","
		    "\"instructions\":[\"a\"]}" },
		{ "model too long", "{\"model\":\"gpt-5-xxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}" },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct buf out = { 0 };
		struct codex_req cr;
		const char *why = NULL;
		char name[128];

		snprintf(name, sizeof name, "body error: %s", t[i].name);
		CHECK(name, codex_body(&cfg, NULL, t[i].in, strlen(t[i].in), &out,
		    &cr, &why) == -1 && why != NULL && out.len == 0);
		buf_free(&out);
	}
	{
		struct buf out = { 0 };
		struct codex_req cr;
		const char *why = NULL;

		codex_body(&cfg, NULL, "[]", 2, &out, &cr, &why);
		CHECK_STR("not-an-object message", why,
		    "the request body is not a JSON object");
		buf_free(&out);
	}
}

static int
has(const char *h, const char *line)
{
	return h && strstr(h, line) != NULL;
}

static char *
head_for(const char *reqhead, enum acct_kind kind, const char *acct,
    const char *path, const char *session)
{
	static struct http_msg m;
	struct http_limits lim = { 65536, 100 };
	struct url base;
	struct account a;
	struct buf out = { 0 };
	const char *why;

	memset(&base, 0, sizeof base);
	memset(&a, 0, sizeof a);
	base.path = (char *)(uintptr_t)path;
	base.hostport = (char *)(uintptr_t)"chatgpt.example:8443";
	a.kind = kind;
	a.access_token = (char *)(uintptr_t)"eyJ-SECRET";
	a.account_id = (char *)(uintptr_t)acct;
	if (http_parse_request(reqhead, strlen(reqhead), &lim, &m, &why))
		return NULL;
	if (codex_head(&out, &m, &base, &a, session, 1234) == -1) {
		buf_free(&out);
		return NULL;
	}
	return out.p;
}

static void
test_head(void)
{
	static const char droid[] = "POST /responses HTTP/1.1\r\n"
	    "Accept: application/json\r\nAuthorization: Bearer dummy-not-used"
	    "\r\nContent-Type: application/json\r\nOpenAI-Platform: org-x\r\n"
	    "User-Agent: factory-cli/0.225.2\r\nX-Stainless-Lang: js\r\n"
	    "X-Stainless-Retry-Count: 0\r\nx-api-key: dummy2\r\n"
	    "OpenAI-Organization: org-dummy3\r\nOpenAI-Project: proj-dummy4\r\n"
	    "OpenAI-Beta: assistants=v2\r\noriginator: droid\r\n"
	    "session_id: dummy5\r\nchatgpt-account-id: dummy6\r\n"
	    "Cookie: a=dummy7\r\nExpect: 100-continue\r\n"
	    "Connection: keep-alive, X-Hop\r\nX-Hop: dummy8\r\n"
	    "Host: 127.0.0.1:8317\r\nAccept-Encoding: gzip, deflate, br, zstd"
	    "\r\nContent-Length: 41294\r\n\r\n";
	char *h = head_for(droid, ACCT_OAUTH, "acct-123",
	    "/backend-api/codex", UUID);
	char *e;

	CHECK("request line", h && strncmp(h, "POST /backend-api/codex/"
	    "responses HTTP/1.1\r\nHost: chatgpt.example:8443\r\n", 69) == 0);
	CHECK("bearer from the account",
	    has(h, "\r\nAuthorization: Bearer eyJ-SECRET\r\n"));
	CHECK("account id", has(h, "\r\nchatgpt-account-id: acct-123\r\n"));
	CHECK("openai-beta", has(h, "\r\nOpenAI-Beta: responses=experimental"
	    "\r\n"));
	CHECK("originator", has(h, "\r\noriginator: codex_cli_rs\r\n"));
	CHECK("session id", has(h, "\r\nsession_id: " UUID "\r\n"));
	CHECK("accept", has(h, "\r\nAccept: text/event-stream\r\n"));
	CHECK("content type", has(h, "\r\nContent-Type: application/json\r\n"));
	CHECK("identity", has(h, "\r\nAccept-Encoding: identity\r\n") &&
	    !has(h, "gzip"));
	CHECK("content length", has(h, "\r\nContent-Length: 1234\r\n") &&
	    !has(h, "41294"));
	CHECK("client credentials and ours-to-set dropped", h &&
	    !has(h, "dummy") && !has(h, "assistants") && !has(h, "droid") &&
	    !has(h, "Accept: application/json") && !has(h, "100-continue"));
	CHECK("hop-by-hop dropped", !has(h, "keep-alive") && !has(h, "X-Hop"));
	CHECK("client host dropped", !has(h, "127.0.0.1"));
	CHECK("end-to-end headers kept", has(h, "\r\nUser-Agent: factory-cli/"
	    "0.225.2\r\n") && has(h, "\r\nX-Stainless-Lang: js\r\n") &&
	    has(h, "\r\nX-Stainless-Retry-Count: 0\r\n") &&
	    has(h, "\r\nOpenAI-Platform: org-x\r\n"));
	e = h ? strstr(h, "\r\n\r\n") : NULL;
	CHECK("one empty line, at the end", e && e[4] == '\0');
	free(h);

	h = head_for("POST /v1/responses HTTP/1.1\r\n\r\n", ACCT_APIKEY,
	    "acct-123", "", NULL);
	CHECK("empty base path", h && strncmp(h, "POST /responses HTTP/1.1\r\n",
	    26) == 0);
	CHECK("api key: bearer, no account id", has(h, "\r\nAuthorization: "
	    "Bearer eyJ-SECRET\r\n") && !has(h, "chatgpt-account-id"));
	CHECK("no session id given: none sent", !has(h, "session_id"));
	free(h);

	h = head_for("POST /responses HTTP/1.1\r\n\r\n", ACCT_OAUTH, NULL,
	    "", "");
	CHECK("oauth without account id", h && !has(h, "chatgpt-account-id")
	    && !has(h, "session_id"));
	free(h);

	h = head_for("POST /responses HTTP/1.1\r\n\r\n", ACCT_OAUTH, "a",
	    "", "x\r\nEvil: 1");
	CHECK("session id with CRLF refused", h == NULL);
	free(h);

	/* Codex's own client, as codex exec 0.171 sends: it names itself
	 * and sends no OpenAI-Beta; both stay as sent. */
	h = head_for("POST /v1/responses HTTP/1.1\r\nsession-id: s-1\r\n"
	    "authorization: Bearer dummy\r\noriginator: codex_exec\r\n"
	    "user-agent: codex_exec/0.171.0\r\n\r\n", ACCT_OAUTH, "a",
	    "", UUID);
	CHECK("codex's own originator kept, once", has(h, "\r\noriginator: "
	    "codex_exec\r\nuser-agent: codex_exec/0.171.0\r\n") &&
	    !has(h, "codex_cli_rs"));
	CHECK("codex's own client: no OpenAI-Beta added",
	    !has(h, "OpenAI-Beta") && !has(h, "responses=experimental"));
	free(h);
	h = head_for("POST /v1/responses HTTP/1.1\r\noriginator: codex-tui\r\n"
	    "OpenAI-Beta: responses=v9\r\n\r\n", ACCT_OAUTH, "a", "", UUID);
	CHECK("codex's own OpenAI-Beta kept as sent",
	    has(h, "\r\noriginator: codex-tui\r\nOpenAI-Beta: responses=v9"
	    "\r\n") && !has(h, "experimental") && !has(h, "codex_cli_rs"));
	free(h);
}

/* Translate a chat request; the result parsed, or NULL. */
static cJSON *
chat(const char *in, struct codex_req *cr, const char **why)
{
	struct buf out = { 0 };
	cJSON *j = NULL;

	*why = NULL;
	if (codex_chat_request(&cfg, NULL, in, strlen(in), &out, cr, why) == 0)
		j = cJSON_Parse(out.p);
	buf_free(&out);
	return j;
}

/* An OpenAI SDK's chat request with every feature translated. */
static const char chat_body[] = "{\"model\":\"gpt-5-codex-high\","
    "\"messages\":["
    "{\"role\":\"system\",\"content\":\"You are terse.\"},"
    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"Use tools.\"}]},"
    "{\"role\":\"user\",\"content\":\"What is in the picture?\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
    "\"this\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
    "\"data:image/png;base64,AAAA\",\"detail\":\"low\"}},{\"type\":"
    "\"image_url\",\"image_url\":\"https://x/y.png\"}]},"
    "{\"role\":\"assistant\",\"content\":\"Let me look.\",\"tool_calls\":"
    "[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
    "\"Read\",\"arguments\":\"{\\\"path\\\":\\\"a\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":"
    "\"file a\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
    "\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"Ls\","
    "\"arguments\":{\"d\":1}}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_2\",\"content\":[{"
    "\"type\":\"text\",\"text\":\"x\"},{\"type\":\"text\",\"text\":"
    "\"y\"}]}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"Read\","
    "\"description\":\"Read a file\",\"parameters\":{\"type\":"
    "\"object\"},\"strict\":true}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":"
    "\"Read\"}},\"parallel_tool_calls\":false,"
    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{"
    "\"name\":\"answer\",\"schema\":{\"type\":\"object\"},\"strict\":"
    "true}},\"reasoning_effort\":\"low\",\"temperature\":0.5,"
    "\"max_tokens\":100,\"max_completion_tokens\":100,\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},\"user\":\"u\","
    "\"prompt_cache_key\":\"" UUID "\"}";

static void
test_chat_request(void)
{
	struct codex_req cr;
	const char *why;
	cJSON *j = chat(chat_body, &cr, &why), *it;
	static const char *const allowed[] = {
		"model", "input", "instructions", "tools", "tool_choice",
		"parallel_tool_calls", "text", "reasoning", "stream", "store",
		"prompt_cache_key", NULL
	};
	int extra = 0;

	CHECK("chat request translated", j != NULL);
	CHECK_STR("chat model", jstr(j, "model"), "gpt-5-codex");
	CHECK_STR("chat client model", cr.model, "gpt-5-codex-high");
	CHECK("chat stream and usage", cr.stream == 1 && cr.include_usage == 1);
	CHECK_STR("chat session", cr.session_id, UUID);
	CHECK_STR("chat instructions", jstr(j, "instructions"),
	    "You are terse.\n\nUse tools.");
	CHECK("chat input", json_is(jget(j, "input"), "["
	    "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
	    "\"input_text\",\"text\":\"What is in the picture?\"}]},"
	    "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":"
	    "\"input_text\",\"text\":\"this\"},{\"type\":\"input_image\","
	    "\"image_url\":\"data:image/png;base64,AAAA\",\"detail\":\"low\"},"
	    "{\"type\":\"input_image\",\"image_url\":\"https://x/y.png\"}]},"
	    "{\"type\":\"message\",\"role\":\"assistant\",\"content\":"
	    "[{\"type\":\"output_text\",\"text\":\"Let me look.\"}]},"
	    "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":"
	    "\"Read\",\"arguments\":\"{\\\"path\\\":\\\"a\\\"}\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"call_1\","
	    "\"output\":\"file a\"},"
	    "{\"type\":\"function_call\",\"call_id\":\"call_2\",\"name\":"
	    "\"Ls\",\"arguments\":\"{\\\"d\\\":1}\"},"
	    "{\"type\":\"function_call_output\",\"call_id\":\"call_2\","
	    "\"output\":\"xy\"}]"));
	CHECK("chat tools", json_is(jget(j, "tools"), "[{\"type\":\"function\","
	    "\"name\":\"Read\",\"description\":\"Read a file\",\"parameters\":"
	    "{\"type\":\"object\"},\"strict\":true}]"));
	CHECK("chat tool_choice", json_is(jget(j, "tool_choice"),
	    "{\"type\":\"function\",\"name\":\"Read\"}"));
	CHECK("chat parallel_tool_calls", cJSON_IsFalse(jget(j,
	    "parallel_tool_calls")));
	CHECK("chat response_format", json_is(jget(j, "text"), "{\"format\":"
	    "{\"type\":\"json_schema\",\"name\":\"answer\",\"schema\":"
	    "{\"type\":\"object\"},\"strict\":true}}"));
	CHECK("chat reasoning: suffix over reasoning_effort, summary",
	    json_is(jget(j, "reasoning"), "{\"effort\":\"high\",\"summary\":"
	    "\"auto\"}"));
	CHECK("chat backend stream, store", cJSON_IsTrue(jget(j, "stream")) &&
	    cJSON_IsFalse(jget(j, "store")));
	cJSON_ArrayForEach(it, j) {
		const char *const *k;

		for (k = allowed; *k && strcmp(*k, it->string); k++)
			;
		if (*k == NULL) {
			printf("# unexpected %s\n", it->string);
			extra++;
		}
	}
	CHECK("chat: nothing else sent", extra == 0);
	cJSON_Delete(j);

	j = chat("{\"model\":\"gpt-5\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}],\"tool_choice\":\"required\","
	    "\"response_format\":{\"type\":\"json_object\"},"
	    "\"reasoning_effort\":\"minimal\",\"verbosity\":\"low\"}", &cr,
	    &why);
	CHECK("chat defaults: no stream", j && cr.stream == 0 &&
	    cr.include_usage == 0 && cJSON_IsTrue(jget(j, "stream")));
	CHECK("chat empty instructions", jstr(j, "instructions") &&
	    *jstr(j, "instructions") == '\0');
	CHECK("chat tool_choice string", jstr(j, "tool_choice") &&
	    strcmp(jstr(j, "tool_choice"), "required") == 0);
	CHECK("chat json_object and verbosity", json_is(jget(j, "text"),
	    "{\"format\":{\"type\":\"json_object\"},\"verbosity\":\"low\"}"));
	CHECK("chat reasoning_effort", json_is(jget(j, "reasoning"),
	    "{\"effort\":\"minimal\",\"summary\":\"auto\"}"));
	cJSON_Delete(j);

	j = chat("{\"model\":\"gpt-5\",\"messages\":[{\"role\":\"user\","
	    "\"content\":\"hi\"}]}", &cr, &why);
	CHECK("chat without reasoning: none added", j &&
	    jget(j, "reasoning") == NULL && jget(j, "text") == NULL &&
	    jget(j, "tools") == NULL);
	cJSON_Delete(j);
}

static void
test_chat_errors(void)
{
	static const struct {
		const char *name, *in;
	} t[] = {
		{ "not an object", "[]" },
		{ "no messages", "{\"model\":\"gpt-5\"}" },
		{ "empty messages", "{\"model\":\"gpt-5\",\"messages\":[]}" },
		{ "no model", "{\"messages\":[{\"role\":\"user\",\"content\":"
		    "\"hi\"}]}" },
		{ "message without role", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"content\":\"hi\"}]}" },
		{ "unknown role", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"function\",\"content\":\"hi\"}]}" },
		{ "tool without id", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"tool\",\"content\":\"x\"}]}" },
		{ "unsupported part", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"user\",\"content\":[{\"type\":"
		    "\"input_audio\"}]}]}" },
		{ "image without url", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
		    "\"image_url\":{}}]}]}" },
		{ "content a number", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"user\",\"content\":5}]}" },
		{ "tool call without id", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":"
		    "{\"name\":\"a\"}}]}]}" },
		{ "tool without name", "{\"model\":\"gpt-5\",\"messages\":"
		    "[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":"
		    "[{\"type\":\"function\",\"function\":{}}]}" },
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct buf out = { 0 };
		struct codex_req cr;
		const char *why = NULL;
		char name[128];

		snprintf(name, sizeof name, "chat error: %s", t[i].name);
		CHECK(name, codex_chat_request(&cfg, NULL, t[i].in, strlen(t[i].in),
		    &out, &cr, &why) == -1 && why != NULL && out.len == 0);
		buf_free(&out);
	}
}

/* ---- SSE ---- */

struct events {
	struct buf b;
	int stop_after;         /* return 7 after this many events; 0: never */
	int n;
};

static int
collect(void *arg, const char *event, const char *data, size_t dlen)
{
	struct events *e = arg;

	buf_addf(&e->b, "[%s|%.*s]", event, (int)dlen, data);
	e->n++;
	return e->stop_after && e->n >= e->stop_after ? 7 : 0;
}

static const char sse_in[] =
    ": keep-alive comment\n"
    "event: response.created\n"
    "data: {\"a\":1}\n"
    "\n"
    "data:no space\n"
    "data:  two spaces\n"
    "id: 5\n"
    "retry: 10\n"
    "data\n"
    "\n"
    "\n"
    "event:ping\n"
    "\n"
    "unknown: x\n"
    "\n"
    "event: last\n"
    "data: x:y\n"
    "\n"
    "data: unterminated";
static const char sse_want[] =
    "[response.created|{\"a\":1}]"
    "[|no space\n two spaces\n]"
    "[ping|]"
    "[last|x:y]";

/* sse_in with its line ends as le. */
static void
with_ends(struct buf *b, const char *le)
{
	const char *p;

	for (p = sse_in; *p; p++)
		if (*p == '\n')
			buf_adds(b, le);
		else
			buf_add(b, p, 1);
}

static void
test_sse(void)
{
	static const char *const ends[] = { "\n", "\r\n", "\r" };
	size_t i, cut, c2;
	char name[64];
	int ok;

	for (i = 0; i < 3; i++) {
		struct buf in = { 0 };

		with_ends(&in, ends[i]);
		/* Every single split point, then byte by byte. */
		ok = 1;
		for (cut = 0; cut <= in.len; cut++) {
			struct sse s = { 0 };
			struct events e = { { 0 }, 0, 0 };

			ok &= sse_feed(&s, in.p, cut, collect, &e) == 0 &&
			    sse_feed(&s, in.p + cut, in.len - cut, collect,
			    &e) == 0;
			ok &= e.b.p && strcmp(e.b.p, sse_want) == 0;
			if (!ok) {
				printf("# cut %zu: %s\n", cut, e.b.p);
				cut = in.len;
			}
			sse_free(&s);
			buf_free(&e.b);
		}
		snprintf(name, sizeof name, "sse every split, ends %zu", i);
		CHECK(name, ok);
		{
			struct sse s = { 0 };
			struct events e = { { 0 }, 0, 0 };

			ok = 1;
			for (cut = 0; cut < in.len; cut++)
				ok &= sse_feed(&s, in.p + cut, 1, collect,
				    &e) == 0;
			snprintf(name, sizeof name,
			    "sse byte by byte, ends %zu", i);
			CHECK(name, ok && e.b.p &&
			    strcmp(e.b.p, sse_want) == 0);
			sse_free(&s);
			buf_free(&e.b);
		}
		buf_free(&in);
	}

	/* Mixed line ends, split at every pair of points. */
	{
		static const char mixed[] = "event: a\r\ndata: 1\r\r"
		    "data: 2\n\r\ndata: 3\r\n\r\n";
		size_t n = sizeof mixed - 1;

		ok = 1;
		for (cut = 0; cut <= n; cut++)
			for (c2 = cut; c2 <= n; c2++) {
				struct sse s = { 0 };
				struct events e = { { 0 }, 0, 0 };

				sse_feed(&s, mixed, cut, collect, &e);
				sse_feed(&s, mixed + cut, c2 - cut, collect,
				    &e);
				sse_feed(&s, mixed + c2, n - c2, collect, &e);
				ok &= e.b.p && strcmp(e.b.p,
				    "[a|1][|2][|3]") == 0;
				sse_free(&s);
				buf_free(&e.b);
			}
		CHECK("sse mixed ends, every two splits", ok);
	}

	/* A callback's non-zero stops the feed and is returned. */
	{
		struct sse s = { 0 };
		struct events e = { { 0 }, 1, 0 };
		static const char two[] = "data: 1\n\ndata: 2\n\n";

		CHECK("sse stop value returned", sse_feed(&s, two,
		    sizeof two - 1, collect, &e) == 7 && e.n == 1);
		sse_free(&s);
		buf_free(&e.b);
	}

	/* A line longer than 16 MiB. */
	{
		size_t big = (16UL << 20) + 1;
		char *p = malloc(big);
		struct sse s = { 0 };
		struct events e = { { 0 }, 0, 0 };

		memset(p, 'x', big);
		memcpy(p, "data: ", 6);
		CHECK("sse 16 MiB line fits", sse_feed(&s, p, big - 1, collect,
		    &e) == 0);
		CHECK("sse longer line refused", sse_feed(&s, p, 1, collect,
		    &e) == -1);
		sse_free(&s);
		buf_free(&e.b);
		free(p);
	}
}

/* ---- Responses to Chat Completions ---- */

static const char *const stream_events[][2] = {
	{ "response.created", "{\"type\":\"response.created\",\"response\":"
	    "{\"id\":\"resp_1\",\"status\":\"in_progress\"}}" },
	{ "response.in_progress", "{\"type\":\"response.in_progress\"}" },
	{ "response.output_item.added", "{\"type\":"
	    "\"response.output_item.added\",\"item\":{\"type\":"
	    "\"reasoning\"}}" },
	{ "response.reasoning_summary_text.delta", "{\"delta\":\"Think\"}" },
	{ "response.reasoning_summary_text.delta", "{\"delta\":\"ing.\"}" },
	{ "response.output_item.added", "{\"item\":{\"type\":\"message\","
	    "\"role\":\"assistant\"}}" },
	{ "response.output_text.delta", "{\"delta\":\"Hel\"}" },
	{ "response.output_text.delta", "{\"delta\":\"lo\"}" },
	{ "response.output_text.done", "{\"text\":\"Hello\"}" },
	{ "response.output_item.added", "{\"item\":{\"type\":"
	    "\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_9\","
	    "\"name\":\"Read\",\"arguments\":\"\"}}" },
	{ "response.function_call_arguments.delta", "{\"delta\":"
	    "\"{\\\"pa\"}" },
	{ "response.function_call_arguments.delta", "{\"delta\":"
	    "\"th\\\":1}\"}" },
	{ "response.output_item.done", "{\"item\":{\"type\":"
	    "\"function_call\",\"id\":\"fc_1\",\"call_id\":\"call_9\","
	    "\"name\":\"Read\",\"arguments\":\"{\\\"path\\\":1}\"}}" },
	/* No event name: the data's type names it. */
	{ "", "{\"type\":\"response.completed\",\"response\":{\"id\":"
	    "\"resp_1\",\"status\":\"completed\",\"usage\":{\"input_tokens\":"
	    "100,\"input_tokens_details\":{\"cached_tokens\":40},"
	    "\"output_tokens\":20,\"output_tokens_details\":"
	    "{\"reasoning_tokens\":8},\"total_tokens\":120}}}" },
};

static const char usage_want[] = "{\"prompt_tokens\":100,"
    "\"completion_tokens\":20,\"total_tokens\":120,\"prompt_tokens_details\":"
    "{\"cached_tokens\":40},\"completion_tokens_details\":"
    "{\"reasoning_tokens\":8}}";

static int
xev(struct chat_xlate *x, const char *event, const char *data,
    struct buf *out)
{
	return chat_xlate_event(x, event, data, strlen(data), out);
}

static int
rcev(struct resp_collect *rc, const char *event, const char *data)
{
	return resp_collect_event(rc, event, data, strlen(data));
}

static int
run_events(struct chat_xlate *x, size_t n, struct buf *out)
{
	size_t i;
	int ok = 1;

	for (i = 0; i < n; i++)
		ok &= chat_xlate_event(x, stream_events[i][0],
		    stream_events[i][1], strlen(stream_events[i][1]), out) == 0;
	return ok;
}

/* The frames of an SSE body, parsed, as a JSON array; [DONE] as "DONE". */
static cJSON *
frames(const char *s, int *done_last)
{
	cJSON *a = cJSON_CreateArray();
	const char *e;

	*done_last = 0;
	while (s && *s) {
		if (strncmp(s, "data: ", 6) != 0 ||
		    (e = strstr(s, "\n\n")) == NULL)
			break;
		if (strncmp(s + 6, "[DONE]\n\n", 8) == 0) {
			*done_last = s[14] == '\0';
			break;
		}
		cJSON_AddItemToArray(a, cJSON_ParseWithLength(s + 6,
		    (size_t)(e - s - 6)));
		s = e + 2;
	}
	return a;
}

static const cJSON *
delta_of(const cJSON *f)
{
	return jget(cJSON_GetArrayItem(jget(f, "choices"), 0), "delta");
}

static void
test_xlate_stream(void)
{
	struct codex_req cr = { 1, 0, "gpt-5-codex-high", "", "", "", "" };
	struct chat_xlate x;
	struct buf out = { 0 };
	cJSON *f, *it;
	int done_last, same = 1, n;

	CHECK("xlate init", chat_xlate_init(&x, &cr, 1700000000) == 0);
	CHECK("stream events", run_events(&x, sizeof stream_events /
	    sizeof stream_events[0], &out));
	CHECK("stream finish", chat_xlate_finish(&x, &out) == 0);
	f = frames(out.p, &done_last);
	n = cJSON_GetArraySize(f);
	CHECK("stream frame count", n == 8);
	CHECK("stream ends with [DONE]", done_last);
	cJSON_ArrayForEach(it, f)
		same &= jstr(it, "id") && strcmp(jstr(it, "id"),
		    "chatcmpl-resp_1") == 0 && strcmp(jstr(it, "object"),
		    "chat.completion.chunk") == 0 && strcmp(jstr(it, "model"),
		    "gpt-5-codex-high") == 0 && cJSON_GetNumberValue(jget(it,
		    "created")) == 1700000000;
	CHECK("stream chunks: id, object, model, created", same);
	CHECK("stream first: role and reasoning", json_is(delta_of(
	    cJSON_GetArrayItem(f, 0)), "{\"role\":\"assistant\","
	    "\"reasoning_content\":\"Think\"}"));
	CHECK("stream reasoning", json_is(delta_of(cJSON_GetArrayItem(f, 1)),
	    "{\"reasoning_content\":\"ing.\"}"));
	CHECK("stream text", json_is(delta_of(cJSON_GetArrayItem(f, 2)),
	    "{\"content\":\"Hel\"}") && json_is(delta_of(cJSON_GetArrayItem(f,
	    3)), "{\"content\":\"lo\"}"));
	CHECK("stream finish_reason null mid-stream", cJSON_IsNull(jget(
	    cJSON_GetArrayItem(jget(cJSON_GetArrayItem(f, 2), "choices"), 0),
	    "finish_reason")));
	CHECK("stream tool call start", json_is(delta_of(cJSON_GetArrayItem(f,
	    4)), "{\"tool_calls\":[{\"index\":0,\"id\":\"call_9\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"Read\",\"arguments\":"
	    "\"\"}}]}"));
	CHECK("stream tool call arguments", json_is(delta_of(
	    cJSON_GetArrayItem(f, 5)), "{\"tool_calls\":[{\"index\":0,"
	    "\"function\":{\"arguments\":\"{\\\"pa\"}}]}") &&
	    json_is(delta_of(cJSON_GetArrayItem(f, 6)), "{\"tool_calls\":"
	    "[{\"index\":0,\"function\":{\"arguments\":\"th\\\":1}\"}}]}"));
	CHECK("stream last chunk", json_is(jget(cJSON_GetArrayItem(f, 7),
	    "choices"), "[{\"index\":0,\"delta\":{},\"finish_reason\":"
	    "\"tool_calls\"}]"));
	cJSON_Delete(f);
	chat_xlate_free(&x);
	buf_free(&out);

	/* include_usage: one more chunk with no choices. */
	cr.include_usage = 1;
	chat_xlate_init(&x, &cr, 1700000000);
	run_events(&x, sizeof stream_events / sizeof stream_events[0], &out);
	buf_free(&out);
	CHECK("usage finish", chat_xlate_finish(&x, &out) == 0);
	f = frames(out.p, &done_last);
	CHECK("usage chunk", cJSON_GetArraySize(f) == 2 && done_last &&
	    json_is(jget(cJSON_GetArrayItem(f, 1), "choices"), "[]") &&
	    json_is(jget(cJSON_GetArrayItem(f, 1), "usage"), usage_want));
	cJSON_Delete(f);
	chat_xlate_free(&x);
	buf_free(&out);

	/* Without include_usage: finish chunk and [DONE] only. */
	cr.include_usage = 0;
	chat_xlate_init(&x, &cr, 1700000000);
	run_events(&x, 8, &out);
	chat_xlate_event(&x, "response.completed", "{\"response\":{}}", 15,
	    &out);
	buf_free(&out);
	chat_xlate_finish(&x, &out);
	f = frames(out.p, &done_last);
	CHECK("no usage chunk; stop", cJSON_GetArraySize(f) == 1 &&
	    done_last && strcmp(jstr(cJSON_GetArrayItem(jget(
	    cJSON_GetArrayItem(f, 0), "choices"), 0), "finish_reason"),
	    "stop") == 0);
	cJSON_Delete(f);
	chat_xlate_free(&x);
	buf_free(&out);
}

static void
test_xlate_whole(void)
{
	struct codex_req cr = { 0, 0, "gpt-5", "", "", "", "" };
	struct chat_xlate x;
	struct buf out = { 0 };
	cJSON *j;

	chat_xlate_init(&x, &cr, 1700000001);
	CHECK("whole events", run_events(&x, sizeof stream_events /
	    sizeof stream_events[0], &out));
	CHECK("whole: nothing until the end", out.len == 0);
	CHECK("whole finish", chat_xlate_finish(&x, &out) == 0);
	j = out.p ? cJSON_Parse(out.p) : NULL;
	CHECK("whole completion", json_is(j, "{\"id\":\"chatcmpl-resp_1\","
	    "\"object\":\"chat.completion\",\"created\":1700000001,\"model\":"
	    "\"gpt-5\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
	    "\"assistant\",\"content\":\"Hello\",\"reasoning_content\":"
	    "\"Thinking.\",\"tool_calls\":[{\"id\":\"call_9\",\"type\":"
	    "\"function\",\"function\":{\"name\":\"Read\",\"arguments\":"
	    "\"{\\\"path\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],"
	    "\"usage\":" "{\"prompt_tokens\":100,\"completion_tokens\":20,"
	    "\"total_tokens\":120,\"prompt_tokens_details\":{\"cached_tokens\":"
	    "40},\"completion_tokens_details\":{\"reasoning_tokens\":8}}}"));
	cJSON_Delete(j);
	chat_xlate_free(&x);
	buf_free(&out);

	/* Tool call only, incomplete: content null, finish length. */
	chat_xlate_init(&x, &cr, 1700000001);
	chat_xlate_event(&x, "response.output_item.done", stream_events[12][1],
	    strlen(stream_events[12][1]), &out);
	xev(&x, "response.incomplete", "{\"response\":{"
	    "\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":"
	    "\"max_output_tokens\"},\"usage\":{\"input_tokens\":3,"
	    "\"output_tokens\":4}}}", &out);
	CHECK("incomplete finish", chat_xlate_finish(&x, &out) == 0);
	j = out.p ? cJSON_Parse(out.p) : NULL;
	{
		const cJSON *ch = cJSON_GetArrayItem(jget(j, "choices"), 0);
		const cJSON *m = jget(ch, "message");

		CHECK("incomplete: length, null content, unannounced call",
		    ch && strcmp(jstr(ch, "finish_reason"), "length") == 0 &&
		    cJSON_IsNull(jget(m, "content")) &&
		    cJSON_GetArraySize(jget(m, "tool_calls")) == 1 &&
		    jget(m, "reasoning_content") == NULL);
		CHECK("incomplete: usage summed", json_is(jget(j, "usage"),
		    "{\"prompt_tokens\":3,\"completion_tokens\":4,"
		    "\"total_tokens\":7,\"prompt_tokens_details\":"
		    "{\"cached_tokens\":0},\"completion_tokens_details\":"
		    "{\"reasoning_tokens\":0}}"));
	}
	cJSON_Delete(j);
	chat_xlate_free(&x);
	buf_free(&out);
}

static void
test_xlate_errors(void)
{
	struct codex_req cr = { 1, 1, "gpt-5", "", "", "", "" };
	struct chat_xlate x;
	struct buf out = { 0 };

	chat_xlate_init(&x, &cr, 1);
	run_events(&x, 8, &out);
	CHECK("early end refused", chat_xlate_finish(&x, &out) == -1);
	CHECK_STR("early end message", x.error,
	    "the upstream stream ended before the response completed");
	chat_xlate_free(&x);
	buf_free(&out);

	cr.stream = 0;
	chat_xlate_init(&x, &cr, 1);
	xev(&x, "response.failed", "{\"response\":{\"status\":"
	    "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
	    "\"Something broke\"}}}", &out);
	CHECK("failed flagged", x.failed && chat_xlate_finish(&x, &out) == -1);
	CHECK_STR("failed message", x.error, "Something broke");
	chat_xlate_free(&x);
	buf_free(&out);

	chat_xlate_init(&x, &cr, 1);
	xev(&x, "error", "{\"type\":\"error\",\"code\":"
	    "\"rate_limit\",\"message\":\"Slow down\"}", &out);
	CHECK("error event", x.failed && chat_xlate_finish(&x, &out) == -1);
	CHECK_STR("error event message", x.error, "Slow down");
	chat_xlate_free(&x);
	buf_free(&out);

	chat_xlate_init(&x, &cr, 1);
	CHECK("garbage data ignored", chat_xlate_event(&x,
	    "response.output_text.delta", "{not json", 9, &out) == 0 &&
	    x.content.len == 0);
	chat_xlate_free(&x);
	buf_free(&out);
}

static void
test_collect(void)
{
	static const char done[] = "{\"type\":\"response.completed\","
	    "\"response\":{\"id\":\"resp_2\",\"object\":\"response\","
	    "\"status\":\"completed\",\"output\":[{\"type\":\"message\"}],"
	    "\"usage\":{\"input_tokens\":1}}}";
	struct resp_collect rc = { { 0 }, 0, "" };
	cJSON *j;

	CHECK("collect ignores deltas", resp_collect_event(&rc,
	    "response.output_text.delta", "{\"delta\":\"x\"}", 13) == 0 &&
	    !rc.done && rc.json.len == 0);
	CHECK("collect completed", resp_collect_event(&rc,
	    "response.completed", done, strlen(done)) == 0 && rc.done &&
	    rc.error[0] == '\0');
	j = rc.json.p ? cJSON_Parse(rc.json.p) : NULL;
	CHECK("collect keeps the response object", json_is(j, "{\"id\":"
	    "\"resp_2\",\"object\":\"response\",\"status\":\"completed\","
	    "\"output\":[{\"type\":\"message\"}],\"usage\":{\"input_tokens\":"
	    "1}}"));
	cJSON_Delete(j);
	resp_collect_free(&rc);

	CHECK("collect by data type", resp_collect_event(&rc, "", done,
	    strlen(done)) == 0 && rc.done);
	resp_collect_free(&rc);

	rcev(&rc, "response.incomplete", "{\"response\":"
	    "{\"status\":\"incomplete\"}}");
	CHECK("collect incomplete", rc.done && rc.json.p &&
	    strcmp(rc.json.p, "{\"status\":\"incomplete\"}") == 0);
	resp_collect_free(&rc);

	rcev(&rc, "response.failed", "{\"response\":{\"status\":"
	    "\"failed\",\"error\":{\"message\":\"boom\"}}}");
	CHECK("collect failed", rc.done && rc.json.len > 0);
	CHECK_STR("collect failed message", rc.error, "boom");
	resp_collect_free(&rc);

	rcev(&rc, "error", "{\"message\":\"bad\"}");
	CHECK("collect error event", !rc.done);
	CHECK_STR("collect error message", rc.error, "bad");
	resp_collect_free(&rc);
}

static void
test_cooldown(void)
{
	static const struct {
		const char *name, *head, *body;
		long want;      /* seconds after now; 0: unknown */
	} t[] = {
		{ "retry-after", "HTTP/1.1 429 x\r\nRetry-After: 30\r\n\r\n",
		    "{\"error\":{\"resets_in_seconds\":99}}", 30 },
		{ "resets_in_seconds", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"type\":\"usage_limit_reached\","
		    "\"resets_in_seconds\":120}}", 120 },
		{ "fractional seconds round up", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"resets_in_seconds\":1.5}}", 2 },
		{ "resets_at number", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"resets_at\":1000000600}}", 600 },
		{ "resets_at string", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"resets_at\":\"1000000700\"}}", 700 },
		{ "resets_at past", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"resets_at\":999999999}}", 0 },
		{ "capped at a week", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"resets_in_seconds\":1e12}}", 7 * 86400 },
		{ "retry-after capped", "HTTP/1.1 429 x\r\nRetry-After: "
		    "99999999\r\n\r\n", "", 7 * 86400 },
		{ "bad retry-after falls back", "HTTP/1.1 429 x\r\n"
		    "Retry-After: soon\r\n\r\n",
		    "{\"error\":{\"resets_in_seconds\":5}}", 5 },
		{ "nothing", "HTTP/1.1 429 x\r\n\r\n", "{\"detail\":\"x\"}",
		    0 },
		{ "not JSON", "HTTP/1.1 429 x\r\n\r\n", "<html>", 0 },
		{ "negative", "HTTP/1.1 429 x\r\n\r\n",
		    "{\"error\":{\"resets_in_seconds\":-5}}", 0 },
	};
	const time_t now = 1000000000;
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct http_msg m;
		const char *why;
		time_t got;

		if (http_parse_response(t[i].head, strlen(t[i].head), "POST",
		    &m, &why) == -1) {
			CHECK(t[i].name, 0);
			continue;
		}
		got = ratelimit_codex_cooldown(&m, t[i].body, strlen(t[i].body), now);
		CHECK(t[i].name, got == (t[i].want ? now + t[i].want : 0));
	}
}

/* Every truncation and many byte flips of real requests: -1 or 0, never
 * a crash or a leak (the sanitizers watch). */
static void
test_mangled(const char *name, const char *in,
    int (*fn)(const struct config *, const struct modellist *, const char *,
    size_t, struct buf *, struct codex_req *, const char **))
{
	size_t n = strlen(in), i;
	char *p = malloc(n + 1);
	unsigned seed = 1;
	int ok = 1, r;

	for (i = 0; i <= n; i++) {
		struct buf out = { 0 };
		struct codex_req cr;
		const char *why = NULL;

		r = fn(&cfg, modellist_builtin("codex"), in, i, &out, &cr,
		    &why);
		ok &= (r == 0) == (i == n) && (r == 0 || why);
		buf_free(&out);
	}
	for (i = 0; i < 3000; i++) {
		struct buf out = { 0 };
		struct codex_req cr;
		const char *why = NULL;

		memcpy(p, in, n + 1);
		seed = seed * 1103515245 + 12345;
		p[(seed >> 8) % n] = "{}[]\":,0atn\\x"[(seed >> 20) % 14];
		r = fn(&cfg, modellist_builtin("codex"), p, n, &out, &cr,
		    &why);
		ok &= r == 0 || (r == -1 && why);
		buf_free(&out);
	}
	CHECK(name, ok);
	free(p);
}

int
main(void)
{
	test_routes();
	test_droid();
	test_aliases();
	test_rules();
	test_body_errors();
	test_head();
	test_chat_request();
	test_chat_errors();
	test_sse();
	test_xlate_stream();
	test_xlate_whole();
	test_xlate_errors();
	test_collect();
	test_cooldown();
	test_mangled("mangled droid bodies", droid_body, codex_body);
	test_mangled("mangled chat bodies", chat_body, codex_chat_request);
	return UNIT_END();
}
