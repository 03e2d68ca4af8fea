/* The request and response head parsers and the chunked decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/http.h"
#include "parsers/httpbody.h"
#include "unit.h"

static const struct http_limits lim = { 65536, 100 };

static const struct {
	const char *name;
	const char *head;
	int ok;
	int framing;
	unsigned long long length;
	int keep_alive;
} reqs[] = {
	{ "simple GET", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", 1,
	    HTTP_BODY_NONE, 0, 1 },
	{ "POST with length", "POST /v1/messages HTTP/1.1\r\n"
	    "Content-Length: 41237\r\n\r\n", 1, HTTP_BODY_LENGTH, 41237, 1 },
	{ "chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
	    1, HTTP_BODY_CHUNKED, 0, 1 },
	{ "chunked any case", "POST / HTTP/1.1\r\ntransfer-encoding: "
	    "Chunked\r\n\r\n", 1, HTTP_BODY_CHUNKED, 0, 1 },
	{ "same length twice", "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n", 1, HTTP_BODY_LENGTH, 5, 1 },
	{ "length list of equal values", "POST / HTTP/1.1\r\n"
	    "Content-Length: 5, 5\r\n\r\n", 1, HTTP_BODY_LENGTH, 5, 1 },
	{ "HTTP/1.0 closes", "GET / HTTP/1.0\r\n\r\n", 1, HTTP_BODY_NONE,
	    0, 0 },
	{ "HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: "
	    "Keep-Alive\r\n\r\n", 1, HTTP_BODY_NONE, 0, 1 },
	{ "Connection: close", "GET / HTTP/1.1\r\nConnection: foo, close\r\n"
	    "\r\n", 1, HTTP_BODY_NONE, 0, 0 },
	{ "value blanks trimmed", "GET / HTTP/1.1\r\nX-A:   b  \r\n\r\n", 1,
	    HTTP_BODY_NONE, 0, 1 },
	{ "leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", 1,
	    HTTP_BODY_NONE, 0, 1 },
	{ "CL with TE", "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 0, 0, 0, 0 },
	{ "differing CL", "POST / HTTP/1.1\r\nContent-Length: 3\r\n"
	    "Content-Length: 4\r\n\r\n", 0, 0, 0, 0 },
	{ "differing CL in a list", "POST / HTTP/1.1\r\n"
	    "Content-Length: 3, 4\r\n\r\n", 0, 0, 0, 0 },
	{ "CL not a number", "POST / HTTP/1.1\r\nContent-Length: 3a\r\n\r\n",
	    0, 0, 0, 0 },
	{ "CL negative", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
	    0, 0, 0, 0 },
	{ "CL overflow", "POST / HTTP/1.1\r\nContent-Length: "
	    "99999999999999999999999\r\n\r\n", 0, 0, 0, 0 },
	{ "CL empty", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, 0, 0,
	    0 },
	{ "TE gzip", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0,
	    0, 0, 0 },
	{ "TE gzip, chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n", 0, 0, 0, 0 },
	{ "TE twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", 0, 0, 0, 0 },
	{ "TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n", 0, 0, 0, 0 },
	{ "obs-fold", "GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", 0, 0, 0, 0 },
	{ "bare CR", "GET / HTTP/1.1\r\nX-A: b\rc\r\n\r\n", 0, 0, 0, 0 },
	{ "bare LF", "GET / HTTP/1.1\nHost: x\n\n", 0, 0, 0, 0 },
	{ "space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, 0,
	    0, 0 },
	{ "no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 0, 0, 0, 0 },
	{ "empty name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 0, 0, 0, 0 },
	{ "HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 0, 0, 0, 0 },
	{ "no version", "GET /\r\n\r\n", 0, 0, 0, 0 },
	{ "two spaces", "GET  / HTTP/1.1\r\n\r\n", 0, 0, 0, 0 },
	{ "control in target", "GET /\x01 HTTP/1.1\r\n\r\n", 0, 0, 0, 0 },
	{ "bad method char", "G(T / HTTP/1.1\r\n\r\n", 0, 0, 0, 0 },
	{ "DEL in value", "GET / HTTP/1.1\r\nX: a\x7f\r\n\r\n", 0, 0, 0, 0 },
	{ "two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n"
	    "host: b\r\n\r\n", 0, 0, 0, 0 },
};

static void
test_requests(void)
{
	size_t i;

	for (i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
		struct http_msg m;
		const char *why = NULL;
		size_t len = strlen(reqs[i].head);
		int r = http_parse_request(reqs[i].head, len, &lim, &m, &why);

		if (!reqs[i].ok) {
			CHECK(reqs[i].name, r == -1 && why != NULL);
			continue;
		}
		CHECK(reqs[i].name, r == 0 &&
		    (int)m.framing == reqs[i].framing &&
		    m.length == reqs[i].length &&
		    m.keep_alive == reqs[i].keep_alive && m.head_len == len);
	}
}

static void
test_nul_and_limits(void)
{
	static const char nul[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
	struct http_limits small = { 64, 3 };
	struct http_msg m;
	const char *why;
	char many[4096];
	int i, n;

	CHECK("NUL in head", http_parse_request(nul, sizeof nul - 1, &lim, &m,
	    &why) == -1);
	n = snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
	for (i = 0; i < 4; i++)
		n += snprintf(many + n, sizeof many - (size_t)n, "X%d: y\r\n", i);
	n += snprintf(many + n, sizeof many - (size_t)n, "\r\n");
	small.max_head = 4096;
	CHECK("4 headers over a limit of 3", http_parse_request(many,
	    (size_t)n, &small, &m, &why) == -1 && strstr(why, "too many"));
	small.max_headers = 4;
	CHECK("4 headers at a limit of 4", http_parse_request(many, (size_t)n,
	    &small, &m, &why) == 0 && m.nheaders == 4);
	small.max_head = 16;
	CHECK("head over max_head", http_parse_request(many, (size_t)n,
	    &small, &m, &why) == -1);
}

static void
test_headers(void)
{
	static const char h[] = "POST /v1/messages?beta=true HTTP/1.1\r\n"
	    "Host: 127.0.0.1:8317\r\nConnection: keep-alive, X-Foo\r\n"
	    "X-Foo: 1\r\nKeep-Alive: 5\r\nX-Stainless-Lang: js\r\n"
	    "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n";
	const struct http_header *x;
	struct http_msg m;
	const char *why;

	CHECK("parse", http_parse_request(h, sizeof h - 1, &lim, &m, &why)
	    == 0);
	CHECK("target keeps query", m.tlen == 22 &&
	    memcmp(m.target, "/v1/messages?beta=true", 22) == 0);
	CHECK("expect continue", m.expect_continue == 1);
	x = http_header_get(&m, "x-stainless-lang");
	CHECK("header lookup ignores case", x && x->vlen == 2 &&
	    memcmp(x->value, "js", 2) == 0);
	CHECK("Connection is hop-by-hop",
	    http_is_hop(&m, http_header_get(&m, "connection")));
	CHECK("Keep-Alive is hop-by-hop",
	    http_is_hop(&m, http_header_get(&m, "keep-alive")));
	CHECK("header named in Connection is hop-by-hop",
	    http_is_hop(&m, http_header_get(&m, "x-foo")));
	CHECK("other header is end-to-end", !http_is_hop(&m, x));
}

static void
test_head_len(void)
{
	CHECK("incomplete head", http_head_len("GET / HTTP/1.1\r\n", 16) == 0);
	CHECK("complete head", http_head_len("GET / HTTP/1.1\r\n\r\nxx", 20)
	    == 18);
	CHECK("bare LF head found for rejection",
	    http_head_len("GET / HTTP/1.1\n\nxx", 18) == 16);
}

static const struct {
	const char *name;
	const char *head;
	const char *method;
	int ok, status, framing, keep_alive;
} resps[] = {
	{ "200 with length", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
	    "POST", 1, 200, HTTP_BODY_LENGTH, 1 },
	{ "SSE chunked", "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", 1, 200,
	    HTTP_BODY_CHUNKED, 1 },
	{ "close-delimited", "HTTP/1.1 200 OK\r\n\r\n", "POST", 1, 200,
	    HTTP_BODY_CLOSE, 0 },
	{ "no reason phrase", "HTTP/1.1 204\r\n\r\n", "POST", 1, 204,
	    HTTP_BODY_NONE, 1 },
	{ "HEAD has no body", "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n",
	    "HEAD", 1, 200, HTTP_BODY_NONE, 1 },
	{ "100 continue", "HTTP/1.1 100 Continue\r\n\r\n", "POST", 1, 100,
	    HTTP_BODY_NONE, 1 },
	{ "gzip then chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, "
	    "chunked\r\n\r\n", "POST", 1, 200, HTTP_BODY_CHUNKED, 1 },
	{ "TE not chunked: close", "HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "gzip\r\n\r\n", "POST", 1, 200, HTTP_BODY_CLOSE, 0 },
	{ "Connection: close", "HTTP/1.1 529 x\r\nConnection: close\r\n"
	    "Content-Length: 0\r\n\r\n", "POST", 1, 529, HTTP_BODY_LENGTH, 0 },
	{ "bad status", "HTTP/1.1 2000 OK\r\n\r\n", "POST", 0, 0, 0, 0 },
	{ "bad version", "HTTP/3 200 OK\r\n\r\n", "POST", 0, 0, 0, 0 },
	{ "CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", "POST", 0, 0, 0, 0 },
};

static void
test_responses(void)
{
	size_t i;

	for (i = 0; i < sizeof resps / sizeof resps[0]; i++) {
		struct http_msg m;
		const char *why;
		int r = http_parse_response(resps[i].head,
		    strlen(resps[i].head), resps[i].method, &m, &why);

		if (!resps[i].ok) {
			CHECK(resps[i].name, r == -1);
			continue;
		}
		CHECK(resps[i].name, r == 0 && m.status == resps[i].status &&
		    (int)m.framing == resps[i].framing &&
		    m.keep_alive == resps[i].keep_alive);
	}
}

static const struct {
	const char *name;
	const char *in;
	const char *data;       /* NULL: malformed */
	size_t consumed;        /* bytes of in that belong to the body */
} chunks[] = {
	{ "one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", 15 },
	{ "two chunks", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", "abcde", 20 },
	{ "upper hex", "A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 20 },
	{ "extension", "3;x=y\r\nabc\r\n0\r\n\r\n", "abc", 17 },
	{ "trailer", "1\r\na\r\n0\r\nX-T: 1\r\n\r\n", "a", 19 },
	{ "stops at the end", "1\r\na\r\n0\r\n\r\nGET / ", "a", 11 },
	{ "empty body", "0\r\n\r\n", "", 5 },
	{ "not hex", "zz\r\nab\r\n0\r\n\r\n", NULL, 0 },
	{ "no size", "\r\nab\r\n", NULL, 0 },
	{ "overflow", "ffffffffffffffffffff\r\n", NULL, 0 },
	{ "16 digits", "0000000000000001\r\na\r\n0\r\n\r\n", NULL, 0 },
	{ "space after size", "3 \r\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "bare LF after size", "3\nabc\r\n0\r\n\r\n", NULL, 0 },
	{ "data too long", "3\r\nabcd\r\n0\r\n\r\n", NULL, 0 },
	{ "negative", "-1\r\n", NULL, 0 },
};

static void
test_chunked(void)
{
	size_t i, split;

	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		size_t n = strlen(chunks[i].in);
		int all_ok = 1;

		/* Every split point: the decoder must not care how the
		 * bytes arrive. */
		for (split = 0; split <= n; split++) {
			struct http_chunked c = { 0 };
			char out[256];
			size_t outn = 0, used = 0;
			const char *why = NULL;
			ssize_t r;

			r = http_chunked_feed(&c, chunks[i].in, split, out,
			    &outn, &why);
			if (r >= 0) {
				used = (size_t)r;
				if (!c.done) {
					r = http_chunked_feed(&c, chunks[i].in +
					    split, n - split, out, &outn, &why);
					if (r >= 0)
						used += (size_t)r;
				}
			}
			if (chunks[i].data == NULL)
				all_ok &= r == -1 && why != NULL;
			else
				all_ok &= r >= 0 && c.done &&
				    used == chunks[i].consumed &&
				    outn == strlen(chunks[i].data) &&
				    memcmp(out, chunks[i].data, outn) == 0;
		}
		CHECK(chunks[i].name, all_ok);
	}
}

/* The one body reader: what belongs to the body, decoded, in place. */
static void
test_body(void)
{
	static const char chunked[] = "4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\n"
	    "\r\nNEXT";
	struct http_msg m;
	struct http_body b;
	char buf[64], out[64];
	size_t got;
	ssize_t r;
	const char *why;

	memset(&m, 0, sizeof m);
	m.framing = HTTP_BODY_LENGTH;
	m.length = 5;
	http_body_init(&b, &m);
	got = 0;
	r = http_body_feed(&b, "abcNEXT", 3, out, &got, &why);
	CHECK("length: a first piece", r == 3 && got == 3 && !b.done);
	r = http_body_feed(&b, "deNEXT", 6, out, &got, &why);
	CHECK("length: stops at its end", r == 2 && got == 5 && b.done &&
	    memcmp(out, "abcde", 5) == 0);
	CHECK("length: short at EOF", (http_body_init(&b, &m),
	    !http_body_eof(&b)));

	m.length = 0;
	http_body_init(&b, &m);
	CHECK("length 0: whole at once", b.done &&
	    http_body_feed(&b, "x", 1, out, &got, &why) == 0);

	m.framing = HTTP_BODY_CLOSE;
	http_body_init(&b, &m);
	got = 0;
	r = http_body_feed(&b, "all of it", 9, NULL, &got, &why);
	CHECK("close: everything belongs, until EOF", r == 9 && got == 9 &&
	    !b.done && http_body_eof(&b) && b.done);

	m.framing = HTTP_BODY_NONE;
	http_body_init(&b, &m);
	CHECK("none: nothing belongs", b.done &&
	    http_body_feed(&b, "x", 1, NULL, &got, &why) == 0);

	/* Decoded where it lies: the request reader reads into the body's
	 * room and decodes there. */
	m.framing = HTTP_BODY_CHUNKED;
	http_body_init(&b, &m);
	memcpy(buf, chunked, sizeof chunked);
	got = 0;
	r = http_body_feed(&b, buf, sizeof chunked - 1, buf, &got, &why);
	CHECK("chunked in place", r == (ssize_t)sizeof chunked - 5 &&
	    b.done && got == 9 && memcmp(buf, "Wikipedia", 9) == 0 &&
	    memcmp(buf + r, "NEXT", 4) == 0);
}

int
main(void)
{
	test_body();
	test_requests();
	test_nul_and_limits();
	test_headers();
	test_head_len();
	test_responses();
	test_chunked();
	return UNIT_END();
}
