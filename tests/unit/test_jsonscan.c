/* The strict JSON scanner: what it accepts, the spans it finds, and how
 * string tokens compare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/jsonscan.h"
#include "unit.h"

static const struct {
	const char *name;
	const char *in;
	int rc;                 /* of jscan_object */
	const char *a;          /* member "a" as written; NULL: none */
} objects[] = {
	{ "empty object", "{}", 0, NULL },
	{ "spaces around", " \t\r\n{ \"a\" : 1 }\n", 0, "1" },
	{ "BOM", "\xef\xbb\xbf{\"a\":[]}", 0, "[]" },
	{ "last duplicate counts", "{\"a\":1,\"b\":2,\"a\":{\"c\":3}}", 0,
	    "{\"c\":3}" },
	{ "escaped key", "{\"\\u0061\":\"x\"}", 0, "\"x\"" },
	{ "nested a is not top-level", "{\"b\":{\"a\":1}}", 0, NULL },
	{ "numbers", "{\"a\":-0.5e+10,\"b\":0,\"c\":1E2}", 0, "-0.5e+10" },
	{ "surrogate pair", "{\"a\":\"\\ud83d\\ude00\"}", 0,
	    "\"\\ud83d\\ude00\"" },
	{ "data after", "{\"a\":1} x", -2, "1" },
	{ "two objects", "{}{}", -2, NULL },
	{ "array", "[]", -1, NULL },
	{ "empty", "", -1, NULL },
	{ "leading zero", "{\"a\":01}", -1, NULL },
	{ "bare dot", "{\"a\":1.}", -1, NULL },
	{ "no integer part", "{\"a\":-.5}", -1, NULL },
	{ "bad escape", "{\"a\":\"\\x\"}", -1, NULL },
	{ "short \\u", "{\"a\":\"\\u12g4\"}", -1, NULL },
	{ "lone low surrogate", "{\"a\":\"\\udc00\"}", -1, NULL },
	{ "high surrogate alone", "{\"a\":\"\\ud800x\"}", -1, NULL },
	{ "control in string", "{\"a\":\"\x01\"}", -1, NULL },
	{ "trailing comma", "{\"a\":1,}", -1, NULL },
	{ "NUL after", "{}\0", -2, NULL },
	{ "form feed is no space", "\f{}", -1, NULL },
	{ "tru", "{\"a\":tru}", -1, NULL },
};

static void
test_objects(void)
{
	static const char *const names[] = { "a" };
	struct jscan_tok v, obj;
	char name[128];
	size_t i, len;
	int rc;

	for (i = 0; i < sizeof objects / sizeof objects[0]; i++) {
		len = strlen(objects[i].in);
		if (strcmp(objects[i].name, "NUL after") == 0)
			len++;
		rc = jscan_object(objects[i].in, len, names, &v, 1, &obj);
		snprintf(name, sizeof name, "object: %s", objects[i].name);
		CHECK(name, rc == objects[i].rc);
		if (rc == -1)
			continue;
		snprintf(name, sizeof name, "object: %s: member",
		    objects[i].name);
		CHECK(name, objects[i].a ? v.p && v.n == strlen(objects[i].a) &&
		    memcmp(v.p, objects[i].a, v.n) == 0 : v.p == NULL);
		snprintf(name, sizeof name, "object: %s: span",
		    objects[i].name);
		CHECK(name, *obj.p == '{' && obj.p[obj.n - 1] == '}');
	}
}

/* Nesting: JSCAN_DEPTH containers, the outermost included. */
static void
test_depth(void)
{
	static const char *const names[] = { "a" };
	struct jscan_tok v, obj;
	size_t d, n, i;
	char *s;

	for (d = JSCAN_DEPTH; d <= JSCAN_DEPTH + 1; d++) {
		/* {"a": then d - 1 arrays */
		n = 5 + 2 * (d - 1) + 1;
		if ((s = malloc(n + 1)) == NULL)
			abort();
		memcpy(s, "{\"a\":", 5);
		for (i = 0; i < d - 1; i++) {
			s[5 + i] = '[';
			s[5 + d - 1 + i] = ']';
		}
		s[n - 1] = '}';
		s[n] = '\0';
		CHECK(d == JSCAN_DEPTH ? "depth: at the limit" :
		    "depth: past the limit",
		    jscan_object(s, n, names, &v, 1, &obj) ==
		    (d == JSCAN_DEPTH ? 0 : -1));
		free(s);
	}
}

static struct jscan_tok
tok(const char *s)
{
	struct jscan_tok t = { (const unsigned char *)s, strlen(s) };

	return t;
}

static void
test_strings(void)
{
	struct jscan_tok t = tok("\"a\\u0000b\\n\\u00e9\"");
	struct jscan_tok n = { NULL, 0 }, num = tok("12");

	CHECK("str: decoded, NUL included", jscan_str_is(&t, "a", 1) &&
	    !jscan_str_is(&t, "a", 0));
	t = tok("\"ab\\n\\u00e9\\ud83d\\ude00\"");
	CHECK("str: escapes decode", jscan_str_is(&t,
	    "ab\n\xc3\xa9\xf0\x9f\x98\x80", 0));
	CHECK("str: prefix", jscan_str_is(&t, "ab\n", 1) &&
	    !jscan_str_is(&t, "ab\n", 0));
	CHECK("str: longer literal", !jscan_str_is(&t,
	    "ab\n\xc3\xa9\xf0\x9f\x98\x80x", 1));
	CHECK("str: not a string", !jscan_str_is(&num, "12", 0));
	CHECK("str: no token", !jscan_str_is(&n, "", 1));
}

static void
test_arrays(void)
{
	static const char *const names[] = { "t" };
	struct jscan_tok arr = tok("[ 1 , {\"t\":\"x\",\"t\":\"y\"}, [] ,\"s\" ]");
	struct jscan_tok el, v, empty = tok("[ \n]"), obj = tok("{ }");
	struct jscan_tok bad = tok("[1,{\"a\"}]");
	struct jscan_iter it;
	char seen[64] = "";
	char found[64] = "";
	int n = 0;

	jscan_elements(&it, &arr);
	while (jscan_next(&it, &el, names, &v, 1)) {
		snprintf(seen + strlen(seen), sizeof seen - strlen(seen),
		    "%s%.*s", n ? "|" : "", (int)el.n, (const char *)el.p);
		snprintf(found + strlen(found), sizeof found - strlen(found),
		    "%s%.*s", n++ ? "|" : "", v.p ? (int)v.n : 0,
		    v.p ? (const char *)v.p : "");
	}
	CHECK_STR("array: elements", seen,
	    "1|{\"t\":\"x\",\"t\":\"y\"}|[]|\"s\"");
	CHECK_STR("array: members of elements", found, "|\"y\"||");
	jscan_elements(&it, &empty);
	CHECK("array: none", jscan_next(&it, &el, NULL, NULL, 0) == 0);
	jscan_elements(&it, &bad);
	CHECK("array: stops at a bad element",
	    jscan_next(&it, &el, NULL, NULL, 0) == 1 &&
	    jscan_next(&it, &el, NULL, NULL, 0) == 0 &&
	    jscan_next(&it, &el, NULL, NULL, 0) == 0);
	CHECK("empty: array", jscan_empty(&empty) && !jscan_empty(&arr));
	CHECK("empty: object", jscan_empty(&obj));
}

int
main(void)
{
	test_objects();
	test_depth();
	test_strings();
	test_arrays();
	return UNIT_END();
}
