/*
 * Anthropic's Messages API behind an OAuth token or an API key: which
 * requests go there, and what changes on the way.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claude.h"
#include "timefmt.h"

static int
eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

int
claude_route(const char *method, size_t mlen, const char *path, size_t plen)
{
	return eq(method, mlen, "POST") && (eq(path, plen, "/v1/messages") ||
	    eq(path, plen, "/v1/messages/count_tokens"));
}

/* Does any of the client's anthropic-beta lines list token t? */
static int
beta_has(const struct http_msg *req, const char *t)
{
	size_t i, n = strlen(t);

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		size_t s = 0;

		if (!http_name_is(h, "anthropic-beta"))
			continue;
		while (s < h->vlen) {
			size_t e = s, ts, te;

			while (e < h->vlen && h->value[e] != ',')
				e++;
			for (ts = s; ts < e && (h->value[ts] == ' ' ||
			    h->value[ts] == '\t'); ts++)
				;
			for (te = e; te > ts && (h->value[te - 1] == ' ' ||
			    h->value[te - 1] == '\t'); te--)
				;
			if (te - ts == n && strncasecmp(h->value + ts, t, n) == 0)
				return 1;
			s = e + 1;
		}
	}
	return 0;
}

/* "Name: value" with the client's spelling of the name. */
static int
line(struct buf *out, const struct http_header *h, const char *v)
{
	return buf_addf(out, "%.*s: %s\r\n", (int)h->nlen, h->name, v);
}

/* The account's credential line. */
static int
credential(struct buf *out, const struct account *a)
{
	return buf_addf(out, a->kind == ACCT_OAUTH ?
	    "Authorization: Bearer %s\r\n" : "x-api-key: %s\r\n",
	    a->access_token);
}

/* The lines the upstream request must have and the client may not have
 * sent, in the order they are added at the end of the head. */
struct seen {
	int host, cred, length, conn, enc, ver, beta;
};

/* One client header line as it goes upstream: kept, replaced in place by
 * the proxy's, or dropped. */
static int
client_line(struct buf *out, const struct http_msg *req,
    const struct http_header *h, const struct url *base,
    const struct account *a, const char *len, struct seen *s)
{
	static const char *const cred[] = { "x-api-key", "authorization",
	    NULL };
	static const char *const framing[] = { "content-length",
	    "transfer-encoding", NULL };
	static const char *const gone[] = { "cookie", "expect", NULL };

	if (http_name_is(h, "host"))
		return s->host++ ? 0 : line(out, h, base->hostport);
	if (http_name_in(h, cred))
		return s->cred++ ? 0 : credential(out, a);
	if (http_name_in(h, framing))
		return s->length++ ? 0 : http_name_is(h, "content-length") ?
		    line(out, h, len) : buf_addf(out, "Content-Length: %s\r\n",
		    len);
	if (http_name_is(h, "connection"))
		return s->conn++ ? 0 : line(out, h, "keep-alive");
	if (http_name_is(h, "accept-encoding"))
		return s->enc++ ? 0 : line(out, h, "identity");
	if (http_name_in(h, gone) || http_is_hop(req, h))
		return 0;
	if (http_name_is(h, "anthropic-beta") && s->beta == 0) {
		s->beta = 1;
		return buf_addf(out, "%.*s: %.*s%s" CLAUDE_OAUTH_BETA "\r\n",
		    (int)h->nlen, h->name, (int)h->vlen, h->value,
		    h->vlen ? "," : "");
	}
	s->ver |= http_name_is(h, "anthropic-version");
	return http_header_add(out, h);
}

int
claude_head(struct buf *out, const struct http_msg *req,
    const struct config *cfg, const struct url *base,
    const struct account *a, size_t body_len)
{
	struct seen s = { 0, 0, 0, 0, 0, 0, 0 };
	char len[32];
	size_t i;

	if (a->access_token == NULL || !http_value_safe(a->access_token)) {
		errno = EINVAL;
		return -1;
	}
	/* Added only when the account needs it and the client lacks it;
	 * -1: nothing to add. */
	if (a->kind != ACCT_OAUTH || !cfg->claude_oauth_beta ||
	    beta_has(req, CLAUDE_OAUTH_BETA))
		s.beta = -1;
	snprintf(len, sizeof len, "%zu", body_len);
	if (buf_addf(out, "%.*s %s%.*s HTTP/1.1\r\n", (int)req->mlen,
	    req->method, base->path, (int)req->tlen, req->target) == -1 ||
	    (!http_header_get(req, "host") && buf_addf(out, "Host: %s\r\n",
	    base->hostport) == -1))
		return -1;
	for (i = 0; i < req->nheaders; i++)
		if (client_line(out, req, &req->headers[i], base, a, len,
		    &s) == -1)
			return -1;
	if ((!s.cred && credential(out, a) == -1) ||
	    (s.beta == 0 && buf_adds(out, "anthropic-beta: "
	    CLAUDE_OAUTH_BETA "\r\n") == -1) ||
	    (!s.ver && buf_adds(out, "anthropic-version: " CLAUDE_VERSION
	    "\r\n") == -1) ||
	    (!s.enc && buf_adds(out, "Accept-Encoding: identity\r\n") == -1) ||
	    (!s.length && buf_addf(out, "Content-Length: %s\r\n", len) == -1))
		return -1;
	return buf_adds(out, "\r\n");
}

/*
 * The system prefix without a tree. One strict pass over the body checks
 * that it is a JSON object and finds the span of the top-level "system"
 * value; the new body is the old one with a few bytes spliced in, so every
 * other byte (key order, number spelling, escapes) goes upstream as the
 * client wrote it, and the cost is the body plus its copy.
 *
 * The scanner follows RFC 8259 and is stricter than the cJSON parser it
 * replaces: only space, tab, CR and LF are whitespace (cJSON took any byte
 * up to 0x20, a trailing NUL included), control characters in strings are
 * refused, numbers follow the grammar (no 01, 1., -.5), and \u takes four
 * hex digits (cJSON read \u12g4 as \u0000). Like cJSON it refuses lone or
 * misordered surrogate escapes, nests at most CLAUDE_JSON_DEPTH
 * containers, skips a leading UTF-8 BOM, and does not check that the bytes
 * are UTF-8. Strings compare as decoded, NULs included: cJSON stopped at a
 * \u0000, so "\u0000x" was an empty system string to it.
 *
 * Duplicate keys: the LAST "system" counts (and the last "type" and "text"
 * of a first block), where cJSON looked at the first. The upstream's parser
 * keeps the last one, and that is the one that must start with the line
 * (tests/fuzz/fuzz_claude_body.c checks just that).
 */
#define CLAUDE_JSON_DEPTH 1000	/* cJSON's CJSON_NESTING_LIMIT */
#define LINE_BLOCK "{\"type\":\"text\",\"text\":\"" CLAUDE_CODE_LINE "\"}"

/* Bytes of one JSON value in the body; p is NULL when there is none. */
struct tok {
	const unsigned char *p;
	size_t n;
};

struct scan {
	const unsigned char *p, *e;
	int depth;
};

static int sc_value(struct scan *);

static int
sc_is(const struct scan *s, int c)
{
	return s->p < s->e && *s->p == c;
}

static void
sc_ws(struct scan *s)
{
	while (s->p < s->e && (*s->p == ' ' || *s->p == '\n' ||
	    *s->p == '\r' || *s->p == '\t'))
		s->p++;
}

static int
hex4(const unsigned char *p, unsigned *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		unsigned c = p[i];

		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*v = *v << 4 | c;
	}
	return 0;
}

/* A \u escape at p (end e): 12 bytes for a surrogate pair, 6 for any
 * other code point, 0 when invalid. cp gets the code point. */
static size_t
u_escape(const unsigned char *p, const unsigned char *e, unsigned *cp)
{
	unsigned lo;

	if (e - p < 6 || hex4(p + 2, cp) == -1 ||
	    (*cp >= 0xdc00 && *cp <= 0xdfff))
		return 0;
	if (*cp < 0xd800 || *cp > 0xdbff)
		return 6;
	if (e - p < 12 || p[6] != '\\' || p[7] != 'u' ||
	    hex4(p + 8, &lo) == -1 || lo < 0xdc00 || lo > 0xdfff)
		return 0;
	*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

/* The plain bytes (not '"', '\\' or control) at p, at most 8. SWAR:
 * (x - 0x01..) & ~x & 0x80.. flags x's zero bytes and (x - n..) & ~x &
 * 0x80.. its bytes below n; the lowest flag is always right (borrows only
 * run upward), so on little-endian it counts the plain bytes. */
static size_t
plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones << 7;
	uint64_t x, q, b, m;

	memcpy(&x, p, 8);
	q = x ^ ones * '"';
	b = x ^ ones * '\\';
	m = (((q - ones) & ~q) | ((b - ones) & ~b) | ((x - ones * 0x20) & ~x))
	    & high;
	if (m == 0)
		return 8;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (size_t)__builtin_ctzll(m) >> 3;
#else
	return 0;
#endif
}

/* A string; s->p is on its opening quote. */
static int
sc_string(struct scan *s)
{
	const unsigned char *p = s->p + 1, *e = s->e;
	unsigned cp;
	size_t n;

	for (;;) {
		/* The hot loop: most of a body is plain string bytes. */
		while (e - p >= 8 && (n = plain8(p)) == 8)
			p += 8;
		if (e - p >= 8)
			p += n;
		while (p < e && *p >= 0x20 && *p != '"' && *p != '\\')
			p++;
		if (p >= e || *p < 0x20)
			return -1;
		if (*p == '"')
			break;
		if (e - p < 2)
			return -1;
		switch (p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			p += 2;
			break;
		case 'u':
			if ((n = u_escape(p, e, &cp)) == 0)
				return -1;
			p += n;
			break;
		default:
			return -1;
		}
	}
	s->p = p + 1;
	return 0;
}

static int
sc_digits(struct scan *s)
{
	const unsigned char *p = s->p;

	while (s->p < s->e && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > p ? 0 : -1;
}

/* -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
static int
sc_number(struct scan *s)
{
	if (sc_is(s, '-'))
		s->p++;
	if (sc_is(s, '0'))
		s->p++;
	else if (sc_digits(s) == -1)
		return -1;
	if (sc_is(s, '.')) {
		s->p++;
		if (sc_digits(s) == -1)
			return -1;
	}
	if (sc_is(s, 'e') || sc_is(s, 'E')) {
		s->p++;
		if (sc_is(s, '+') || sc_is(s, '-'))
			s->p++;
		if (sc_digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
sc_word(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->e - s->p) < n || memcmp(s->p, w, n) != 0)
		return -1;
	s->p += n;
	return 0;
}

/* cp as UTF-8 in u; its length. */
static size_t
utf8(unsigned cp, unsigned char *u)
{
	if (cp < 0x80) {
		u[0] = cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = 0xc0 | cp >> 6;
		u[1] = 0x80 | (cp & 0x3f);
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = 0xe0 | cp >> 12;
		u[1] = 0x80 | (cp >> 6 & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		return 3;
	}
	u[0] = 0xf0 | cp >> 18;
	u[1] = 0x80 | (cp >> 12 & 0x3f);
	u[2] = 0x80 | (cp >> 6 & 0x3f);
	u[3] = 0x80 | (cp & 0x3f);
	return 4;
}

/* Does the (valid) string token t decode to lit, or with prefix set, to
 * something that starts with lit? Keys and texts may be escaped, so the
 * token is decoded as it is compared. */
static int
tok_is(const struct tok *t, const char *lit, int prefix)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const unsigned char *p = t->p + 1, *e = t->p + t->n - 1;
	const unsigned char *l = (const unsigned char *)lit;
	unsigned char u[4];
	unsigned cp;
	size_t i, n;

	while (p < e) {
		n = 1;
		if (*p != '\\')
			u[0] = *p++;
		else if (p[1] != 'u') {
			u[0] = to[strchr(from, p[1]) - from];
			p += 2;
		} else {
			p += u_escape(p, e, &cp);
			n = utf8(cp, u);
		}
		for (i = 0; i < n; i++, l++) {
			if (*l == '\0')
				return prefix;
			if (*l != u[i])
				return 0;
		}
	}
	return *l == '\0';
}

static int
tok_is_str(const struct tok *t, const char *lit, int prefix)
{
	return t->p != NULL && *t->p == '"' && tok_is(t, lit, prefix);
}

/* An object; s->p is on its '{'. vals[i] gets the value of the last
 * member named names[i]. */
static int
sc_object(struct scan *s, const char *const *names, struct tok *vals,
    size_t nnames)
{
	struct tok key, val;
	size_t i;

	if (s->depth >= CLAUDE_JSON_DEPTH)
		return -1;
	s->depth++;
	s->p++;
	sc_ws(s);
	if (!sc_is(s, '}'))
		for (;;) {
			key.p = s->p;
			if (!sc_is(s, '"') || sc_string(s) == -1)
				return -1;
			key.n = s->p - key.p;
			sc_ws(s);
			if (!sc_is(s, ':'))
				return -1;
			s->p++;
			sc_ws(s);
			val.p = s->p;
			if (sc_value(s) == -1)
				return -1;
			val.n = s->p - val.p;
			for (i = 0; i < nnames; i++)
				if (tok_is(&key, names[i], 0))
					vals[i] = val;
			sc_ws(s);
			if (sc_is(s, '}'))
				break;
			if (!sc_is(s, ','))
				return -1;
			s->p++;
			sc_ws(s);
		}
	s->p++;
	s->depth--;
	return 0;
}

static int
sc_array(struct scan *s)
{
	if (s->depth >= CLAUDE_JSON_DEPTH)
		return -1;
	s->depth++;
	s->p++;
	sc_ws(s);
	if (!sc_is(s, ']'))
		for (;;) {
			if (sc_value(s) == -1)
				return -1;
			sc_ws(s);
			if (sc_is(s, ']'))
				break;
			if (!sc_is(s, ','))
				return -1;
			s->p++;
			sc_ws(s);
		}
	s->p++;
	s->depth--;
	return 0;
}

static int
sc_value(struct scan *s)
{
	if (s->p >= s->e)
		return -1;
	switch (*s->p) {
	case '{':
		return sc_object(s, NULL, NULL, 0);
	case '[':
		return sc_array(s);
	case '"':
		return sc_string(s);
	case 't':
		return sc_word(s, "true");
	case 'f':
		return sc_word(s, "false");
	case 'n':
		return sc_word(s, "null");
	default:
		return sc_number(s);
	}
}

/* Check the whole body and find the top-level system value. open gets
 * the object's '{'. */
static int
find_system(const char *body, size_t len, const unsigned char **open,
    struct tok *sys, struct tok *model, const char **why)
{
	static const char *const name[] = { "system", "model" };
	struct tok v[2] = { { NULL, 0 }, { NULL, 0 } };
	struct scan s;

	s.p = (const unsigned char *)body;
	s.e = s.p + len;
	s.depth = 0;
	/* cJSON skipped a BOM; it stays in the body, as before when unchanged. */
	if (len >= 3 && memcmp(body, "\xef\xbb\xbf", 3) == 0)
		s.p += 3;
	sc_ws(&s);
	*open = s.p;
	if (!sc_is(&s, '{') || sc_object(&s, name, v, 2) == -1) {
		*why = "the request body is not a JSON object";
		return -1;
	}
	*sys = v[0];
	if (model)
		*model = v[1];
	sc_ws(&s);
	if (s.p != s.e) {
		*why = "the request body has data after its JSON object";
		return -1;
	}
	return 0;
}

/* Claude Code's own marks at the start of a system text: its billing
 * block and its identity lines (interactive, SDK). */
static const char *const cc_marks[] = {
	"x-anthropic-billing-header:",
	"You are Claude Code, Anthropic's official CLI for Claude",
	"You are a Claude agent, built on Anthropic's Claude Agent SDK",
	NULL
};

static int
marked(const struct tok *t)
{
	size_t i;

	for (i = 0; cc_marks[i]; i++)
		if (tok_is_str(t, cc_marks[i], 1))
			return 1;
	return 0;
}

/* Does a text of any block of the (checked) system array start with one
 * of Claude Code's marks? */
static int
array_marked(const struct tok *sys)
{
	static const char *const names[] = { "text" };
	struct scan s;

	s.p = sys->p + 1;
	s.e = sys->p + sys->n;
	s.depth = 2;	/* the body and this array: already checked */
	sc_ws(&s);
	while (s.p < s.e && !sc_is(&s, ']')) {
		struct tok text = { NULL, 0 };

		if (sc_is(&s, '{') ? sc_object(&s, names, &text, 1) == -1 :
		    sc_value(&s) == -1)
			return 0;
		if (marked(&text))
			return 1;
		sc_ws(&s);
		if (sc_is(&s, ','))
			s.p++;
		sc_ws(&s);
	}
	return 0;
}

static int
array_empty(const struct tok *sys)
{
	struct scan s;

	s.p = sys->p + 1;
	s.e = sys->p + sys->n;
	sc_ws(&s);
	return sc_is(&s, ']');
}

/* out gets body with the cut bytes at at kept between pre and post (mid:
 * the cut bytes stay) or dropped for pre and post alone. */
static void
splice(struct pieces *out, const char *body, size_t len, size_t at,
    size_t cut, const char *pre, int mid, const char *post)
{
	const char *part[5];
	size_t plen[5];
	int i;

	part[0] = body;
	plen[0] = at;
	part[1] = pre;
	plen[1] = strlen(pre);
	part[2] = body + at;
	plen[2] = mid ? cut : 0;
	part[3] = post;
	plen[3] = strlen(post);
	part[4] = body + at + cut;
	plen[4] = len - at - cut;
	out->n = 0;
	out->len = 0;
	for (i = 0; i < 5; i++) {
		if (plen[i] == 0)
			continue;
		out->v[out->n].iov_base = (void *)(uintptr_t)part[i];
		out->v[out->n++].iov_len = plen[i];
		out->len += plen[i];
	}
}

/* The model's name for the log: a plain string token only (no escapes,
 * printable), else "". */
static void
model_name(const struct tok *t, char *out, size_t outlen)
{
	size_t i, n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (t->p == NULL || *t->p != '"' || t->n < 2)
		return;
	n = t->n - 2;
	for (i = 0; i < n; i++)
		if (t->p[1 + i] == '\\' || t->p[1 + i] < 0x20 ||
		    t->p[1 + i] > 0x7e)
			return;
	snprintf(out, outlen, "%.*s", (int)n, (const char *)t->p + 1);
}

int
claude_read(const char *body, size_t len, struct claude_req *r,
    const char **why)
{
	const unsigned char *open;
	struct tok sys = { NULL, 0 }, m = { NULL, 0 };

	memset(r, 0, sizeof *r);
	if (find_system(body, len, &open, &sys, &m, why) == -1)
		return -1;
	r->json = 1;
	model_name(&m, r->model, sizeof r->model);
	r->open = (size_t)(open - (const unsigned char *)body);
	if (sys.p) {
		r->sys_at = (size_t)(sys.p - (const unsigned char *)body);
		r->sys_len = sys.n;
		r->marked = *sys.p == '"' ? marked(&sys) :
		    *sys.p == '[' && array_marked(&sys);
	}
	return 0;
}

int
claude_first_party(const struct http_msg *req, const struct claude_req *r)
{
	const struct http_header *ua = http_header_get(req, "user-agent");

	return r->marked || (ua && ua->vlen >= 11 &&
	    strncasecmp(ua->value, "claude-cli/", 11) == 0);
}

void
claude_prefix(const char *body, size_t len, const struct claude_req *r,
    struct pieces *out, int *changed)
{
	const unsigned char *b = (const unsigned char *)body;
	struct tok sys = { b + r->sys_at, r->sys_len };
	struct scan s;

	*changed = 0;
	out->n = 0;
	out->len = 0;
	/* Claude Code's own words are never added to: the request is its. */
	if (!r->json || r->marked)
		return;
	if (sys.n == 0) {
		/* First in the object, with a comma when members follow. */
		s.p = b + r->open + 1;
		s.e = b + len;
		sc_ws(&s);
		splice(out, body, len, r->open + 1, 0, sc_is(&s, '}') ?
		    "\"system\":[" LINE_BLOCK "]" :
		    "\"system\":[" LINE_BLOCK "],", 0, "");
	} else if (*sys.p == 'n' || (*sys.p == '"' && sys.n == 2))
		/* An empty text block is refused upstream: drop "". */
		splice(out, body, len, r->sys_at, sys.n,
		    "[" LINE_BLOCK "]", 0, "");
	else if (*sys.p == '"')
		/* The client's string token as it is: no re-escaping. */
		splice(out, body, len, r->sys_at, sys.n, "[" LINE_BLOCK
		    ",{\"type\":\"text\",\"text\":", 1, "}]");
	else if (*sys.p == '[')
		splice(out, body, len, r->sys_at + 1, 0,
		    array_empty(&sys) ? LINE_BLOCK : LINE_BLOCK ",", 0, "");
	else
		/* Not ours to fix: the upstream will say what is wrong. */
		return;
	*changed = 1;
}

int
claude_body(const char *body, size_t len, struct buf *out, int *changed,
    const char **why)
{
	struct claude_req r;
	struct pieces pc;
	int i;

	*changed = 0;
	if (claude_read(body, len, &r, why) == -1)
		return -1;
	claude_prefix(body, len, &r, &pc, changed);
	if (!*changed)
		return 0;
	if (buf_reserve(out, pc.len + 1) == -1) {
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < pc.n; i++)
		(void)buf_add(out, pc.v[i].iov_base, pc.v[i].iov_len);
	return 0;
}

int
claude_models(struct buf *out)
{
	static const struct {
		const char *id, *name, *created;
	} models[] = {
		{ "claude-opus-4-5-20251101", "Claude Opus 4.5",
		    "2025-11-01T00:00:00Z" },
		{ "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5",
		    "2025-09-29T00:00:00Z" },
		{ "claude-haiku-4-5-20251001", "Claude Haiku 4.5",
		    "2025-10-01T00:00:00Z" },
		{ "claude-opus-4-1-20250805", "Claude Opus 4.1",
		    "2025-08-05T00:00:00Z" },
		{ "claude-opus-4-20250514", "Claude Opus 4",
		    "2025-05-22T00:00:00Z" },
		{ "claude-sonnet-4-20250514", "Claude Sonnet 4",
		    "2025-05-22T00:00:00Z" },
		{ "claude-3-7-sonnet-20250219", "Claude Sonnet 3.7",
		    "2025-02-24T00:00:00Z" },
		{ "claude-3-5-haiku-20241022", "Claude Haiku 3.5",
		    "2024-10-22T00:00:00Z" },
	};
	size_t i, n = sizeof models / sizeof models[0];

	if (buf_adds(out, "{\"data\":[") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_addf(out, "%s{\"type\":\"model\",\"id\":\"%s\","
		    "\"display_name\":\"%s\",\"created_at\":\"%s\"}",
		    i ? "," : "", models[i].id, models[i].name,
		    models[i].created) == -1)
			return -1;
	return buf_addf(out, "],\"has_more\":false,\"first_id\":\"%s\","
	    "\"last_id\":\"%s\"}", models[0].id, models[n - 1].id);
}

enum claude_refusal
claude_refusal(int status, const char *body, size_t len, char *msg,
    size_t msglen)
{
	cJSON *j;
	const char *m;
	enum claude_refusal why = CLAUDE_SERVED;
	size_t i, k = 0;

	if ((status != 400 && status != 403) || msglen == 0)
		return CLAUDE_SERVED;
	if ((j = cJSON_ParseWithLength(body, len)) == NULL)
		return CLAUDE_SERVED;
	m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(j, "error"), "message"));
	if (m && (strstr(m, "Third-party apps") || strstr(m, "extra usage")))
		why = CLAUDE_EXTRA_USAGE;
	else if (m && strstr(m, "only authorized for use with Claude Code"))
		why = CLAUDE_CODE_ONLY;
	/* Anthropic's words go to logs and to state.json: printable only. */
	for (i = 0; why && m[i] && k + 1 < msglen; i++)
		msg[k++] = (unsigned char)m[i] < 0x20 || m[i] == 0x7f ? ' ' :
		    m[i];
	msg[k] = '\0';
	cJSON_Delete(j);
	return why;
}

const char *
claude_refusal_reason(enum claude_refusal why)
{
	return why == CLAUDE_EXTRA_USAGE ? "extra usage off" :
	    why == CLAUDE_CODE_ONLY ? "Claude Code only" : "";
}

void
claude_refusal_explain(char *out, size_t outlen, const char *said,
    int first_party)
{
	if (said == NULL) {
		snprintf(out, outlen, "cli-proxy-api is set to refuse requests "
		    "from clients other than Claude Code (claude-third-party: "
		    "refuse), as Anthropic serves a Claude subscription to "
		    "Claude Code and bills other clients to the account's extra "
		    "usage; set claude-third-party to subscription once extra "
		    "usage is on for the account at claude.ai, or to api-key "
		    "with an API key account (claude-api-key in config.yaml), "
		    "or use Claude Code itself.");
		return;
	}
	snprintf(out, outlen, "%s%s(cli-proxy-api: %s, and no account here "
	    "could take it; turn on extra usage for the Claude account at "
	    "claude.ai, add an API key account (claude-api-key in "
	    "config.yaml), or %s.)", said, *said ? " " : "", first_party ?
	    "Anthropic took this Claude Code request, sent through the proxy, "
	    "for another client's (the proxy's TLS handshake is not Claude "
	    "Code's)" : "Anthropic serves a Claude subscription to Claude "
	    "Code and bills other clients to the account's extra usage",
	    first_party ? "run Claude Code without the proxy" :
	    "use Claude Code itself");
}

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
claude_cooldown(const struct http_msg *resp, time_t now)
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
