/* Anthropic rewrite rules: the upstream head and the system prefix. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "providers/claude.h"
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
	{ "line with more text is Claude Code's", "{\"system\":[{\"type\":"
	    "\"text\",\"text\":\"" LINE " x\"}]}", NULL },
	{ "billing block first, line second: Claude Code's",
	    "{\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-"
	    "header: cc_version=2.1.197.abc; cc_entrypoint=sdk-cli;\"},"
	    "{\"type\":\"text\",\"text\":\"" LINE "\"}]}", NULL },
	{ "SDK identity in a later block: Claude Code's",
	    "{\"system\":[{\"type\":\"text\",\"text\":\"a\"},{\"text\":"
	    "\"You are a Claude agent, built on Anthropic's Claude Agent SDK."
	    "\",\"type\":\"text\"}]}", NULL },
	{ "billing block alone: Claude Code's", "{\"system\":[{\"type\":"
	    "\"text\",\"text\":\"x-anthropic-billing-header: cc_version=1;"
	    "\"}]}", NULL },
	{ "string system with the SDK line", "{\"system\":\"You are a Claude "
	    "agent, built on Anthropic's Claude Agent SDK. More\"}", NULL },
	{ "the line inside a text is not a mark", "{\"system\":[{\"type\":"
	    "\"text\",\"text\":\"Hi. " LINE "\"}]}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"},{\"type\":\"text\","
	    "\"text\":\"Hi. " LINE "\"}]" },
	{ "a mark in a nested object does not count", "{\"system\":[{\"type\":"
	    "\"text\",\"text\":\"a\",\"x\":{\"text\":\"" LINE "\"}}]}",
	    "[{\"type\":\"text\",\"text\":\"" LINE "\"},{\"type\":\"text\","
	    "\"text\":\"a\",\"x\":{\"text\":\"" LINE "\"}}]" },
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


/*
 * Byte-exact rewrites: everything but the system value goes as the client
 * wrote it. B is the line's block.
 */
#define B "{\"type\":\"text\",\"text\":\"" LINE "\"}"
#define S(x) x, sizeof x - 1

static const struct {
	const char *name;
	const char *in;
	size_t len;
	const char *want;       /* whole new body; NULL: unchanged */
} exact[] = {
	{ "absent: first member", S("{\"model\":\"m\",\"n\":1}"),
	    "{\"system\":[" B "],\"model\":\"m\",\"n\":1}" },
	{ "absent: empty object", S("{}"), "{\"system\":[" B "]}" },
	{ "absent: whitespace kept", S(" \r\n{ \t\n}\n "),
	    " \r\n{\"system\":[" B "] \t\n}\n " },
	{ "absent: whitespace before members", S("{ \"a\" : 1 }"),
	    "{\"system\":[" B "], \"a\" : 1 }" },
	{ "null replaced in place", S("{\"a\":1, \"system\" : null ,\"b\":2}"),
	    "{\"a\":1, \"system\" : [" B "] ,\"b\":2}" },
	{ "empty string", S("{\"system\":\"\"}"), "{\"system\":[" B "]}" },
	{ "numbers kept byte for byte", S("{\"a\":1e400,\"system\":\"x\","
	    "\"b\":-0.0,\"c\":12345678901234567890,\"d\":[1E+2,-0,0.5e-7]}"),
	    "{\"a\":1e400,\"system\":[" B ",{\"type\":\"text\",\"text\":\"x\"}],"
	    "\"b\":-0.0,\"c\":12345678901234567890,\"d\":[1E+2,-0,0.5e-7]}" },
	{ "string token reused raw", S("{\"system\":\"caf\\u00e9 \\\"q\\\" "
	    "\\\\ \\/ \\ud83d\\ude00 \xc3\xa9\\n\"}"),
	    "{\"system\":[" B ",{\"type\":\"text\",\"text\":\"caf\\u00e9 "
	    "\\\"q\\\" \\\\ \\/ \\ud83d\\ude00 \xc3\xa9\\n\"}]}" },
	{ "escaped line already first", S("{\"system\":\"You are Claude Code, "
	    "Anthropic\\u0027s official CLI for Claude.\\nMore\"}"), NULL },
	{ "escaped key is system", S("{\"sys\\u0074em\":\"x\"}"),
	    "{\"sys\\u0074em\":[" B ",{\"type\":\"text\",\"text\":\"x\"}]}" },
	{ "system-like keys are not system", S("{\"System\":1,\"system \":2,"
	    "\"sys\":3}"), "{\"system\":[" B "],\"System\":1,\"system \":2,"
	    "\"sys\":3}" },
	{ "nested system keys untouched", S("{\"messages\":[{\"role\":\"user\","
	    "\"system\":\"x\",\"content\":{\"system\":null}}],\"metadata\":"
	    "{\"system\":[]}}"), "{\"system\":[" B "],\"messages\":[{\"role\":"
	    "\"user\",\"system\":\"x\",\"content\":{\"system\":null}}],"
	    "\"metadata\":{\"system\":[]}}" },
	{ "nested system and top-level string", S("{\"messages\":[{\"system\":"
	    "\"a\"}],\"system\":\"b\"}"), "{\"messages\":[{\"system\":\"a\"}],"
	    "\"system\":[" B ",{\"type\":\"text\",\"text\":\"b\"}]}" },
	{ "duplicates: the last counts", S("{\"system\":\"a\",\"system\":\"b\"}"),
	    "{\"system\":\"a\",\"system\":[" B ",{\"type\":\"text\",\"text\":"
	    "\"b\"}]}" },
	{ "duplicates: line first but not last", S("{\"system\":\"" LINE "\","
	    "\"system\":\"other\"}"), "{\"system\":\"" LINE "\",\"system\":[" B
	    ",{\"type\":\"text\",\"text\":\"other\"}]}" },
	{ "duplicates: last has the line", S("{\"system\":\"other\","
	    "\"system\":\"" LINE "\"}"), NULL },
	{ "duplicates: last is a number", S("{\"system\":null,\"system\":42}"),
	    NULL },
	{ "array with whitespace", S("{ \"system\" : [ {\"type\":\"text\","
	    "\"text\":\"a\"} ] }"), "{ \"system\" : [" B ", {\"type\":\"text\","
	    "\"text\":\"a\"} ] }" },
	{ "empty array with whitespace", S("{\"system\":[ \n]}"),
	    "{\"system\":[" B " \n]}" },
	{ "array led by a string", S("{\"system\":[\"x\"]}"),
	    "{\"system\":[" B ",\"x\"]}" },
	{ "array: the line in a block of another type is still a mark",
	    S("{\"system\":[{\"type\":\"image\",\"text\":\"" LINE "\"}]}"),
	    NULL },
	{ "array: line block in any key order, escaped",
	    S("{\"system\":[ {\"cache_control\":{\"type\":\"ephemeral\"},"
	    "\"te\\u0078t\":\"You are Claude Code, Anthropic\\u0027s official "
	    "CLI for Claude.\",\"type\":\"\\u0074ext\"} ]}"), NULL },
	{ "array: a text that starts with the line is a mark",
	    S("{\"system\":[{\"type\":\"text\",\"text\":\"" LINE "\\u0000\"}]}"),
	    NULL },
	{ "array: duplicate text, the last counts", S("{\"system\":[{\"type\":"
	    "\"text\",\"text\":\"" LINE "\",\"text\":\"x\"}]}"),
	    "{\"system\":[" B ",{\"type\":\"text\",\"text\":\"" LINE "\","
	    "\"text\":\"x\"}]}" },
	{ "object system left to upstream", S("{\"system\":{\"a\":1}}"), NULL },
	{ "bool system left to upstream", S("{\"system\":true}"), NULL },
	{ "BOM kept", S("\xef\xbb\xbf{\"a\":1}"),
	    "\xef\xbb\xbf{\"system\":[" B "],\"a\":1}" },
};

static void
test_exact(void)
{
	size_t i;

	for (i = 0; i < sizeof exact / sizeof exact[0]; i++) {
		struct buf out = { 0 };
		const char *why = NULL;
		int changed = -1, r;

		r = claude_body(exact[i].in, exact[i].len, &out, &changed, &why);
		if (exact[i].want == NULL)
			CHECK(exact[i].name, r == 0 && changed == 0 &&
			    out.len == 0);
		else
			CHECK(exact[i].name, r == 0 && changed == 1 &&
			    out.len == strlen(exact[i].want) &&
			    memcmp(out.p, exact[i].want, out.len) == 0);
		buf_free(&out);
	}
}

#define NOTOBJ "the request body is not a JSON object"
#define AFTER "the request body has data after its JSON object"

/* Refused bodies. cJSON took the ones marked lax; the scanner is RFC 8259
 * strict. */
static const struct {
	const char *name;
	const char *in;
	size_t len;
	const char *why;
} refused[] = {
	{ "trailing comma in object", S("{\"a\":1,}"), NOTOBJ },
	{ "trailing comma in array", S("{\"a\":[1,]}"), NOTOBJ },
	{ "leading comma", S("{,\"a\":1}"), NOTOBJ },
	{ "single quotes", S("{'a':1}"), NOTOBJ },
	{ "bare key", S("{a:1}"), NOTOBJ },
	{ "number key", S("{1:2}"), NOTOBJ },
	{ "missing colon", S("{\"a\" 1}"), NOTOBJ },
	{ "missing value", S("{\"a\":}"), NOTOBJ },
	{ "missing comma", S("{\"a\":[1 2]}"), NOTOBJ },
	{ "lax: control char in string", S("{\"a\":\"x\x01y\"}"), NOTOBJ },
	{ "lax: raw tab in string", S("{\"a\":\"x\ty\"}"), NOTOBJ },
	{ "lax: raw newline in system", S("{\"system\":\"x\ny\"}"), NOTOBJ },
	{ "lax: NUL in string", S("{\"a\":\"x\0y\"}"), NOTOBJ },
	{ "lone high surrogate", S("{\"a\":\"\\ud800\"}"), NOTOBJ },
	{ "lone low surrogate", S("{\"a\":\"\\udc00\"}"), NOTOBJ },
	{ "high surrogate then letter", S("{\"a\":\"\\ud800\\u0041\"}"), NOTOBJ },
	{ "high surrogate at the end", S("{\"a\":\"\\ud83d\"}"), NOTOBJ },
	{ "bad escape", S("{\"a\":\"\\x41\"}"), NOTOBJ },
	{ "lax: bad hex", S("{\"a\":\"\\u12g4\"}"), NOTOBJ },
	{ "lax: short \\u", S("{\"a\":\"\\u12\"}"), NOTOBJ },
	{ "backslash at the end", S("{\"a\":\"\\"), NOTOBJ },
	{ "unterminated string", S("{\"a\":\"abc"), NOTOBJ },
	{ "lax: leading zero", S("{\"a\":01}"), NOTOBJ },
	{ "lax: no fraction digits", S("{\"a\":1.}"), NOTOBJ },
	{ "lax: no integer digits", S("{\"a\":-.5}"), NOTOBJ },
	{ "leading dot", S("{\"a\":.5}"), NOTOBJ },
	{ "plus sign", S("{\"a\":+1}"), NOTOBJ },
	{ "lone minus", S("{\"a\":-}"), NOTOBJ },
	{ "no exponent digits", S("{\"a\":1e}"), NOTOBJ },
	{ "hex number", S("{\"a\":0x10}"), NOTOBJ },
	{ "NaN", S("{\"a\":NaN}"), NOTOBJ },
	{ "Infinity", S("{\"a\":-Infinity}"), NOTOBJ },
	{ "short true", S("{\"a\":tru}"), NOTOBJ },
	{ "short null at the end", S("{\"a\":nul"), NOTOBJ },
	{ "True", S("{\"a\":True}"), NOTOBJ },
	{ "lax: vertical tab as whitespace", S("{\v\"a\":1}"), NOTOBJ },
	{ "lax: control byte before", S("\x01{}"), NOTOBJ },
	{ "unclosed object", S("{\"a\":1"), NOTOBJ },
	{ "unclosed array", S("{\"a\":[1}"), NOTOBJ },
	{ "mismatched brackets", S("{\"a\":[1}]"), NOTOBJ },
	{ "array root", S("[1,2]"), NOTOBJ },
	{ "string root", S("\"x\""), NOTOBJ },
	{ "only whitespace", S(" \n"), NOTOBJ },
	{ "empty", S(""), NOTOBJ },
	{ "BOM alone", S("\xef\xbb\xbf"), NOTOBJ },
	{ "garbage after", S("{\"a\":1} x"), AFTER },
	{ "second object", S("{}{}"), AFTER },
	{ "lax: NUL after", S("{}\0"), AFTER },
	{ "lax: form feed after", S("{}\f"), AFTER },
};

static void
test_refused(void)
{
	size_t i;

	for (i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		struct buf out = { 0 };
		const char *why = NULL;
		int changed = -1, r;

		r = claude_body(refused[i].in, refused[i].len, &out, &changed,
		    &why);
		CHECK(refused[i].name, r == -1 && changed == 0 &&
		    out.len == 0 && why && strcmp(why, refused[i].why) == 0);
		buf_free(&out);
	}
}

/* cJSON's nesting limit: 1000 containers, the body's object included. */
static void
test_depth(void)
{
	struct buf in = { 0 }, out = { 0 };
	const char *why;
	int changed, n, i;

	for (n = 999; n <= 1000; n++) {
		in.len = 0;
		buf_adds(&in, "{\"a\":");
		for (i = 0; i < n; i++)
			buf_adds(&in, i % 2 ? "{\"x\":" : "[");
		for (i = n - 1; i >= 0; i--)
			buf_adds(&in, i % 2 ? "}" : "]");
		buf_adds(&in, "}");
		out.len = 0;
		why = NULL;
		if (n == 999)
			CHECK("999 nested in the body", claude_body(in.p,
			    in.len, &out, &changed, &why) == 0 && changed == 1
			    && out.len == in.len + sizeof "\"system\":[" B "],"
			    - 1);
		else
			CHECK("1000 nested in the body refused", claude_body(
			    in.p, in.len, &out, &changed, &why) == -1 &&
			    strcmp(why, NOTOBJ) == 0);
	}
	buf_free(&in);
	buf_free(&out);
}

/* The cJSON version this replaced: the reference for the differential
 * test below. */
static cJSON *
old_block(const char *text)
{
	cJSON *b = cJSON_CreateObject();

	if (b == NULL || !cJSON_AddStringToObject(b, "type", "text") ||
	    !cJSON_AddStringToObject(b, "text", text)) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

/* Does a system text start with one of Claude Code's marks? */
static int
old_marked(const cJSON *text)
{
	static const char *const marks[] = { "x-anthropic-billing-header:",
	    "You are Claude Code, Anthropic's official CLI for Claude",
	    "You are a Claude agent, built on Anthropic's Claude Agent SDK" };
	size_t i;

	for (i = 0; cJSON_IsString(text) && i < 3; i++)
		if (strncmp(text->valuestring, marks[i], strlen(marks[i])) == 0)
			return 1;
	return 0;
}

/* Is the body Claude Code's: a mark in the string, or in any block? */
static int
old_has_line(const cJSON *sys)
{
	const cJSON *b;

	if (cJSON_IsString(sys))
		return old_marked(sys);
	if (!cJSON_IsArray(sys))
		return 0;
	cJSON_ArrayForEach(b, sys)
		if (cJSON_IsObject(b) && old_marked(
		    cJSON_GetObjectItemCaseSensitive(b, "text")))
			return 1;
	return 0;
}

/* The new system value: the line first, then what the client had. */
static cJSON *
old_system(cJSON *root, cJSON *sys)
{
	cJSON *arr, *line;

	if ((line = old_block(CLAUDE_CODE_LINE)) == NULL)
		return NULL;
	if (cJSON_IsArray(sys)) {
		/* Detach the client's array and put the line in front. */
		arr = cJSON_DetachItemViaPointer(root, sys);
		if (!cJSON_InsertItemInArray(arr, 0, line)) {
			cJSON_Delete(line);
			cJSON_Delete(arr);
			return NULL;
		}
		return arr;
	}
	if ((arr = cJSON_CreateArray()) == NULL) {
		cJSON_Delete(line);
		return NULL;
	}
	cJSON_AddItemToArray(arr, line);
	/* An empty text block is refused upstream: drop an empty string. */
	if (cJSON_IsString(sys) && sys->valuestring[0]) {
		cJSON *b = old_block(sys->valuestring);
		if (b == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, b);
	}
	if (sys)
		cJSON_DeleteItemFromObjectCaseSensitive(root, "system");
	return arr;
}

static int
old_body(const char *body, size_t len, struct buf *out, int *changed,
    const char **why)
{
	cJSON *root, *sys, *arr;
	const char *end = NULL;
	char *s = NULL;
	int rc = -1;

	*changed = 0;
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL || !cJSON_IsObject(root)) {
		*why = "the request body is not a JSON object";
		goto out;
	}
	for (; end < body + len; end++)
		if (!strchr(" \t\r\n", *end)) {
			*why = "the request body has data after its JSON object";
			goto out;
		}
	sys = cJSON_GetObjectItemCaseSensitive(root, "system");
	if (sys && !cJSON_IsNull(sys) && !cJSON_IsString(sys) &&
	    !cJSON_IsArray(sys)) {
		/* Not ours to fix: the upstream will say what is wrong. */
		rc = 0;
		goto out;
	}
	if (old_has_line(sys)) {
		rc = 0;
		goto out;
	}
	if ((arr = old_system(root, sys)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	cJSON_AddItemToObject(root, "system", arr);
	if ((s = cJSON_PrintUnformatted(root)) == NULL ||
	    buf_adds(out, s) == -1) {
		*why = "out of memory";
		goto out;
	}
	*changed = 1;
	rc = 0;
out:
	free(s);
	cJSON_Delete(root);
	return rc;
}


/* A small deterministic generator of request bodies. */
static unsigned long long rng = 0x9e3779b97f4a7c15ULL;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng >> 11) % n;
}

#define PICK(a) (a)[rnd(sizeof(a) / sizeof((a)[0]))]

static void
g_ws(struct buf *b)
{
	static const char *const ws[] = { "", "", "", " ", "\n  ", "\t",
	    "\r\n" };

	buf_adds(b, PICK(ws));
}

static void
g_string(struct buf *b)
{
	static const char *const frag[] = { "a", "hello", "system", " ",
	    "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u00e9", "\\u0027",
	    "\\ud83d\\ude00", "\xc3\xa9", "\xe2\x80\xa8", "text", LINE };
	unsigned i, n = rnd(4);

	buf_adds(b, "\"");
	for (i = 0; i < n; i++)
		buf_adds(b, PICK(frag));
	buf_adds(b, "\"");
}

static void g_value(struct buf *, int);

static void
g_object(struct buf *b, int depth)
{
	static const char *const keys[] = { "\"model\"", "\"system\"",
	    "\"role\"", "\"content\"", "\"type\"", "\"text\"", "\"x\"",
	    "\"\\u0078y\"", "\"\"" };
	unsigned used = 0, i, k, n = rnd(5);

	buf_adds(b, "{");
	for (i = 0; i < n; i++) {
		/* Distinct keys: cJSON_Compare looks up the first only. */
		if (used & 1u << (k = rnd(sizeof keys / sizeof keys[0])))
			continue;
		used |= 1u << k;
		buf_adds(b, used != 1u << k ? "," : "");
		g_ws(b);
		buf_adds(b, keys[k]);
		g_ws(b);
		buf_adds(b, ":");
		g_ws(b);
		g_value(b, depth + 1);
		g_ws(b);
	}
	buf_adds(b, "}");
}

static void
g_value(struct buf *b, int depth)
{
	static const char *const nums[] = { "0", "-0", "1", "-12", "3.5",
	    "-0.25", "1e3", "2E-2", "123456", "1.5e+10", "-0.0", "7e0" };
	static const char *const words[] = { "true", "false", "null" };
	unsigned i, n, k = rnd(depth > 3 ? 3 : 5);

	if (k == 0)
		buf_adds(b, PICK(nums));
	else if (k == 1)
		g_string(b);
	else if (k == 2)
		buf_adds(b, PICK(words));
	else if (k == 3) {
		buf_adds(b, "[");
		for (i = 0, n = rnd(4); i < n; i++) {
			buf_adds(b, i ? "," : "");
			g_ws(b);
			g_value(b, depth + 1);
			g_ws(b);
		}
		buf_adds(b, "]");
	} else
		g_object(b, depth);
}

/* A system value, often one that already has the line. */
static void
g_system(struct buf *b)
{
	static const char *const lines[] = { "\"" LINE "\"", "\"" LINE " x\"",
	    ("\"You are Claude Code, Anthropic\\u0027s official CLI for "
	    "Claude.\""), "\"You are Claude\"" };
	unsigned i, k, n;

	switch (rnd(7)) {
	case 0:
		buf_adds(b, "null");
		return;
	case 1:
		buf_adds(b, PICK(lines));
		return;
	case 2:
	case 3:
		buf_adds(b, "[");
		g_ws(b);
		if (rnd(2)) {
			k = rnd(2);
			buf_adds(b, k ? "{\"type\":\"text\",\"text\":" :
			    "{\"cache_control\":{},\"text\":");
			buf_adds(b, PICK(lines));
			buf_adds(b, k ? "}" : ",\"type\":\"text\"}");
			n = 1;
		} else
			n = 0;
		for (i = rnd(3); i > 0; i--, n++) {
			buf_adds(b, n ? "," : "");
			g_value(b, 2);
		}
		g_ws(b);
		buf_adds(b, "]");
		return;
	default:
		g_value(b, 1);
	}
}

static void
g_body(struct buf *b)
{
	static const char *const keys[] = { "\"model\"", "\"messages\"",
	    "\"max_tokens\"", "\"metadata\"", "\"stream\"" };
	unsigned i, n = rnd(5), at = rnd(n + 2), k = 0;

	g_ws(b);
	buf_adds(b, "{");
	for (i = 0; i <= n; i++) {
		if (i == at || i < n) {
			buf_adds(b, k++ ? "," : "");
			g_ws(b);
		}
		if (i == at) {
			buf_adds(b, rnd(4) ? "\"system\"" : "\"sys\\u0074em\"");
			buf_adds(b, ":");
			g_ws(b);
			g_system(b);
			if (i < n)
				buf_adds(b, ",");
		}
		if (i < n) {
			buf_adds(b, keys[i]);
			g_ws(b);
			buf_adds(b, ":");
			g_value(b, 1);
		}
		g_ws(b);
	}
	buf_adds(b, "}");
	g_ws(b);
}

/* One random edit; the bytes involved go to what. */
static void
mutate(struct buf *b, char what[2])
{
	static const char bytes[] = "{}[],:\"\\ 01-.eE+tnu\x01\n\t";
	size_t at = rnd((unsigned)b->len);
	char c = bytes[rnd(sizeof bytes - 1)];

	switch (rnd(3)) {
	case 0:         /* delete */
		what[0] = what[1] = b->p[at];
		memmove(b->p + at, b->p + at + 1, b->len - at - 1);
		b->len--;
		break;
	case 1:         /* insert */
		buf_add(b, "", 1);
		memmove(b->p + at + 1, b->p + at, b->len - at - 2);
		b->p[at] = what[0] = what[1] = c;
		b->len--;
		break;
	default:        /* replace */
		what[0] = b->p[at];
		b->p[at] = what[1] = c;
	}
	b->p[b->len] = '\0';
}

/* Where the scanner may refuse what cJSON took: control bytes, number
 * spellings outside the grammar, and \u without four hex digits (which
 * cJSON read as \u0000). */
static int
lax(const char *in, size_t len, const char what[2])
{
	const char *u;
	unsigned v;
	int i;

	for (u = in; (u = memmem(u, len - (u - in), "\\u", 2)) != NULL; u++)
		if (len - (u - in) < 6 || sscanf(u + 2, "%4x", &v) != 1 ||
		    strspn(u + 2, "0123456789abcdefABCDEF") < 4)
			return 1;
	for (i = 0; i < 2; i++)
		if ((unsigned char)what[i] < 0x20 ||
		    strchr("0123456789.-+eE", what[i]))
			return 1;
	return 0;
}

/* Are the bytes of out those of in, but for one insertion, or for the
 * replacement of one string or null token? */
static int
preserved(const char *in, size_t len, const char *out, size_t olen)
{
	size_t p = 0, q = 0, n;
	cJSON *mid;
	int ok;

	while (p < len && p < olen && in[p] == out[p])
		p++;
	while (q < len - p && q < olen - p &&
	    in[len - 1 - q] == out[olen - 1 - q])
		q++;
	if ((n = len - p - q) == 0)
		return 1;
	mid = cJSON_ParseWithLength(in + p, n);
	ok = cJSON_IsString(mid) || cJSON_IsNull(mid);
	cJSON_Delete(mid);
	return ok;
}

static int
dup_system(const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len), *it;
	int n = 0;

	cJSON_ArrayForEach(it, j)
		n += strcmp(it->string, "system") == 0;
	cJSON_Delete(j);
	return n > 1;
}

/* Does j hold a number out of double's range? cJSON wrote those as null;
 * the splice keeps the client's digits. */
static int
has_inf(const cJSON *j)
{
	const cJSON *it;

	if (cJSON_IsNumber(j))
		return isinf(j->valuedouble);
	cJSON_ArrayForEach(it, j)
		if (has_inf(it))
			return 1;
	return 0;
}

struct tally {
	unsigned both_ok, both_refused, stricter, bad;
};

/* Compare the scanner with the cJSON version on one body. */
static void
diff_one(const char *in, size_t len, const char what[2], struct tally *t)
{
	struct buf o = { 0 }, n = { 0 };
	const char *wo = NULL, *wn = NULL;
	int co = -1, cn = -1, ro, rn, ok;
	cJSON *jo, *jn;

	ro = old_body(in, len, &o, &co, &wo);
	rn = claude_body(in, len, &n, &cn, &wn);
	if (rn == -1) {
		if (ro == 0 || strcmp(wo, wn) != 0)
			ok = what && lax(in, len, what), t->stricter++;
		else
			ok = 1, t->both_refused++;
	} else if (ro == -1 || (dup_system(in, len) && (t->both_ok++, 1))) {
		ok = ro == 0;
	} else {
		jo = co ? cJSON_ParseWithLength(o.p, o.len) :
		    cJSON_ParseWithLength(in, len);
		jn = cn ? cJSON_ParseWithLength(n.p, n.len) :
		    cJSON_ParseWithLength(in, len);
		ok = co == cn && jo && jn && (cJSON_Compare(jo, jn, 1) ||
		    has_inf(jn)) &&
		    (!cn || preserved(in, len, n.p, n.len));
		cJSON_Delete(jo);
		cJSON_Delete(jn);
		t->both_ok++;
	}
	if (!ok && t->bad++ < 5)
		printf("# differs: %.*s\n#  old %d/%d %s\n#  new %d/%d %.*s\n",
		    (int)len, in, ro, co, ro ? wo : "", rn, cn,
		    (int)n.len, n.p ? n.p : wn);
	buf_free(&o);
	buf_free(&n);
}

static void
test_differential(void)
{
	struct tally t = { 0, 0, 0, 0 };
	struct buf b = { 0 };
	char what[2];
	int i;

	for (i = 0; i < 6000; i++) {
		b.len = 0;
		g_body(&b);
		if (i % 2 == 0) {
			diff_one(b.p, b.len, NULL, &t);
			continue;
		}
		mutate(&b, what);
		diff_one(b.p, b.len, what, &t);
	}
	printf("# differential: %u taken by both, %u refused by both, "
	    "%u refused only by the scanner\n", t.both_ok, t.both_refused,
	    t.stricter);
	CHECK("differential against cJSON", t.bad == 0 && t.both_ok > 3000);
	buf_free(&b);
}

/* A 10 MB body: a long conversation, the system string at the end. */
static void
test_big(void)
{
	static const char tail[] = "],\"system\":\"You are Droid.\"}";
	struct buf in = { 0 }, out = { 0 };
	char chunk[1100];
	const char *why = NULL;
	double t0, t1;
	int changed = 0, r, i;
	size_t at;

	memset(chunk, 'x', sizeof chunk);
	buf_adds(&in, "{\"model\":\"claude-sonnet-4-5\",\"messages\":[");
	for (i = 0; in.len < 10 * 1024 * 1024; i++) {
		buf_addf(&in, "%s{\"role\":\"user\",\"content\":\"%d \\u00e9 "
		    "%.*s\"}", i ? "," : "", i, 1000, chunk);
	}
	buf_adds(&in, tail);
	at = in.len - sizeof tail + 12;
	t0 = unit_now_ms();
	r = claude_body(in.p, in.len, &out, &changed, &why);
	t1 = unit_now_ms();
	printf("# %zu byte body: %.2f ms\n", in.len, t1 - t0);
	CHECK("10 MB body", r == 0 && changed == 1 && out.len == in.len +
	    sizeof "[" B ",{\"type\":\"text\",\"text\":}]" - 1 &&
	    memcmp(out.p, in.p, at) == 0 && memcmp(out.p + at, "[" B ",",
	    sizeof B + 1) == 0 && strcmp(out.p + out.len - 19,
	    "\"You are Droid.\"}]}") == 0);
	buf_free(&in);
	buf_free(&out);
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

	/* Every line in the client's order, the proxy's replaced in place. */
	CHECK("droid head, line by line", h && strcmp(h,
	    "POST /v1/messages?beta=true HTTP/1.1\r\n"
	    "Accept: application/json\r\nContent-Type: application/json\r\n"
	    "User-Agent: factory-cli/0.225.2\r\nX-Stainless-Lang: js\r\n"
	    "anthropic-beta: interleaved-thinking-2025-05-14,oauth-2025-04-20"
	    "\r\nanthropic-version: 2023-06-01\r\n"
	    "Authorization: Bearer sk-ant-oat01-SECRET\r\n"
	    "Connection: keep-alive\r\nHost: api.example:8443\r\n"
	    "Accept-Encoding: identity\r\nContent-Length: 1234\r\n\r\n") == 0);
	if (h && !has(h, "\r\nHost: api.example:8443\r\n"))
		printf("# got %s\n", h);
	CHECK("client key dropped", !has(h, "dummy"));
	free(h);

	h = head_for("POST /v1/messages HTTP/1.1\r\nanthropic-beta: a, "
	    "oauth-2025-04-20\r\nanthropic-beta: b,a\r\n\r\n", ACCT_OAUTH, 1,
	    "/pfx");
	CHECK("prefix path", h && strncmp(h, "POST /pfx/v1/messages ", 22)
	    == 0);
	CHECK("beta lines kept as sent when one has the oauth beta",
	    has(h, "\r\nanthropic-beta: a, oauth-2025-04-20\r\n"
	    "anthropic-beta: b,a\r\n"));
	CHECK("missing lines added at the end", has(h, "\r\n"
	    "Authorization: Bearer sk-ant-oat01-SECRET\r\n"
	    "anthropic-version: 2023-06-01\r\nAccept-Encoding: identity\r\n"
	    "Content-Length: 1234\r\n\r\n"));
	CHECK("host first when the client sent none", h && strncmp(h,
	    "POST /pfx/v1/messages HTTP/1.1\r\nHost: api.example:8443\r\n",
	    sizeof "POST /pfx/v1/messages HTTP/1.1\r\nHost: api.example:8443"
	    "\r\n" - 1) == 0);
	free(h);

	h = head_for("POST /v1/messages HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\nCookie: a=b\r\nExpect: "
	    "100-continue\r\nKeep-Alive: 5\r\nConnection: close, X-Hop\r\n"
	    "X-Hop: 1\r\nx-app: cli\r\n\r\n", ACCT_APIKEY, 1, "");
	CHECK("framing, cookie, expect and hop-by-hop are the proxy's",
	    h && strcmp(h, "POST /v1/messages HTTP/1.1\r\n"
	    "Host: api.example:8443\r\nContent-Length: 1234\r\n"
	    "Connection: keep-alive\r\nx-app: cli\r\n"
	    "x-api-key: sk-ant-oat01-SECRET\r\n"
	    "anthropic-version: 2023-06-01\r\nAccept-Encoding: identity\r\n"
	    "\r\n") == 0);
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

	/* A token must not end its header line early. */
	{
		struct http_limits lim = { 65536, 100 };
		struct http_msg m;
		struct config cfg;
		struct account a;
		struct buf out = { 0 };
		const char *why;
		static const char req[] = "POST /v1/messages HTTP/1.1\r\n\r\n";

		memset(&cfg, 0, sizeof cfg);
		memset(&a, 0, sizeof a);
		cfg.claude_base.path = (char *)(uintptr_t)"";
		cfg.claude_base.hostport = (char *)(uintptr_t)"h";
		a.access_token = (char *)(uintptr_t)"tok\r\nX-Injected: yes";
		http_parse_request(req, sizeof req - 1, &lim, &m, &why);
		CHECK("CR LF in a token refused", claude_head(&out, &m, &cfg,
		    &cfg.claude_base, &a, 0) == -1 && errno == EINVAL);
		buf_free(&out);
	}
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
test_model(void)
{
	struct claude_req r;
	const char *why;

	static const char b1[] = "{\"max_tokens\":5,\"model\":\"claude-x\"}";
	static const char b2[] = "{\"a\":{\"model\":\"y\"}}";
	static const char b3[] = "{\"model\":\"a\\nb\"}";

	CHECK("model found", claude_read(b1, sizeof b1 - 1, &r, &why) == 0 &&
	    strcmp(r.model, "claude-x") == 0 && r.json && !r.marked);
	CHECK("nested model ignored", claude_read(b2, sizeof b2 - 1, &r,
	    &why) == 0 && r.model[0] == '\0');
	CHECK("escaped model not logged", claude_read(b3, sizeof b3 - 1, &r,
	    &why) == 0 && r.model[0] == '\0');
	CHECK("not JSON", claude_read("x", 1, &r, &why) == -1 && !r.json &&
	    why != NULL);
}

/* First-party: the User-Agent, or a mark in the body. */
static void
test_first_party(void)
{
	static const char cc[] = "{\"system\":[{\"type\":\"text\",\"text\":"
	    "\"x-anthropic-billing-header: cc_version=2.1.197.abc;\"}]}";
	static const char droid[] = "{\"system\":\"You are Droid.\"}";
	struct http_limits lim = { 65536, 100 };
	struct http_msg m;
	struct claude_req r;
	const char *why;
	static const char ua_cc[] = "POST /v1/messages HTTP/1.1\r\n"
	    "User-Agent: claude-cli/2.1.197 (external, sdk-cli)\r\n\r\n";
	static const char ua_other[] = "POST /v1/messages HTTP/1.1\r\n"
	    "User-Agent: factory-cli/0.225.2\r\n\r\n";

	CHECK("parse", http_parse_request(ua_other, sizeof ua_other - 1,
	    &lim, &m, &why) == 0);
	claude_read(droid, sizeof droid - 1, &r, &why);
	CHECK("droid is third-party", !claude_first_party(&m, &r));
	claude_read(cc, sizeof cc - 1, &r, &why);
	CHECK("billing block makes it first-party", claude_first_party(&m, &r));
	CHECK("parse", http_parse_request(ua_cc, sizeof ua_cc - 1, &lim, &m,
	    &why) == 0);
	claude_read(droid, sizeof droid - 1, &r, &why);
	CHECK("claude-cli user agent makes it first-party",
	    claude_first_party(&m, &r));
	claude_read("not json", 8, &r, &why);
	CHECK("claude-cli user agent, body not JSON",
	    claude_first_party(&m, &r));
}

/* Anthropic's refusals of subscriptions for other clients. */
static void
test_refusal(void)
{
	static const char extra[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"invalid_request_error\",\"message\":\"Third-party apps now draw "
	    "from your extra usage, not your plan limits.\\nx\"}}";
	static const char only[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"invalid_request_error\",\"message\":\"This credential is only "
	    "authorized for use with Claude Code and cannot be used for other "
	    "API requests.\"}}";
	static const char other[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"invalid_request_error\",\"message\":\"max_tokens: too big\"}}";
	char msg[256], out[2048];

	CHECK("extra usage refusal", claude_refusal(400, extra, sizeof extra - 1,
	    msg, sizeof msg) == CLAUDE_EXTRA_USAGE &&
	    strcmp(msg, "Third-party apps now draw from your extra usage, not "
	    "your plan limits. x") == 0);
	CHECK("Claude Code only refusal", claude_refusal(400, only,
	    sizeof only - 1, msg, sizeof msg) == CLAUDE_CODE_ONLY);
	CHECK("other 400 is no refusal", claude_refusal(400, other,
	    sizeof other - 1, msg, sizeof msg) == CLAUDE_SERVED);
	CHECK("a 200 is no refusal", claude_refusal(200, extra,
	    sizeof extra - 1, msg, sizeof msg) == CLAUDE_SERVED);
	CHECK("not JSON", claude_refusal(400, "Third-party apps", 16, msg,
	    sizeof msg) == CLAUDE_SERVED);
	CHECK("cut to its room", claude_refusal(400, extra, sizeof extra - 1,
	    msg, 10) == CLAUDE_EXTRA_USAGE && strcmp(msg, "Third-par") == 0);
	claude_refusal_explain(out, sizeof out, "Anthropic said.", 0);
	CHECK("explanation keeps the words and names the fixes",
	    strncmp(out, "Anthropic said. (", 17) == 0 &&
	    strstr(out, "extra usage") && strstr(out, "claude-api-key") &&
	    strstr(out, "use Claude Code itself"));
	claude_refusal_explain(out, sizeof out, NULL, 0);
	CHECK("refuse mode names the setting",
	    strstr(out, "claude-third-party: refuse") != NULL);
}

/* Anthropic's 429 for a request that needs extra usage the account
 * lacks. */
static void
test_long_context(void)
{
	static const char gate[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"rate_limit_error\",\"message\":\"Extra usage is required for "
	    "long context requests.\"},\"request_id\":\"req_1\"}";
	static const char limit[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"rate_limit_error\",\"message\":\"This request would exceed "
	    "your account's rate limit. Please try again later.\"}}";
	static const char out[] = "{\"type\":\"error\",\"error\":{\"type\":"
	    "\"rate_limit_error\",\"message\":\"You're out of extra usage. Add "
	    "more at claude.ai/settings/usage and keep going.\"}}";

	CHECK("long context gate", claude_extra_usage_gate(429, gate,
	    sizeof gate - 1) == 1);
	CHECK("out of extra usage is a gate too", claude_extra_usage_gate(429,
	    out, sizeof out - 1) == 1);
	CHECK("a rate limit is no gate", claude_extra_usage_gate(429, limit,
	    sizeof limit - 1) == 0);
	CHECK("only a 429 is the gate", claude_extra_usage_gate(400, gate,
	    sizeof gate - 1) == 0);
	CHECK("not JSON is no gate", claude_extra_usage_gate(429,
	    "long context extra usage", 24) == 0);
}

int
main(void)
{
	test_model();
	test_first_party();
	test_refusal();
	test_long_context();
	test_bodies();
	test_exact();
	test_refused();
	test_depth();
	test_differential();
	test_big();
	test_head();
	test_routes();
	return UNIT_END();
}
