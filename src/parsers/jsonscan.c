/*
 * A JSON scanner without a tree. One strict pass over a text checks it and
 * finds the spans of the values a caller asks for; the caller can then
 * splice a few bytes in, so every other byte (key order, number spelling,
 * escapes) goes on as the client wrote it, and the cost is the text plus
 * its copy.
 *
 * The scanner follows RFC 8259 and is stricter than the cJSON parser it
 * replaced in claude.c: only space, tab, CR and LF are whitespace (cJSON
 * took any byte up to 0x20, a trailing NUL included), control characters
 * in strings are refused, numbers follow the grammar (no 01, 1., -.5), and
 * \u takes four hex digits (cJSON read \u12g4 as \u0000). Like cJSON it
 * refuses lone or misordered surrogate escapes, nests at most JSCAN_DEPTH
 * containers, skips a leading UTF-8 BOM, and does not check that the bytes
 * are UTF-8. Strings compare as decoded, NULs included: cJSON stopped at a
 * \u0000, so "\u0000x" was an empty string to it.
 *
 * Duplicate keys: the LAST member of a name counts, where cJSON looked at
 * the first. Upstream parsers keep the last one, and that is the one a
 * caller must judge.
 */
#include <stdint.h>
#include <string.h>

#include "parsers/jsonscan.h"

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
tok_is(const struct jscan_tok *t, const char *lit, int prefix)
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

/* An object; s->p is on its '{'. vals[i] gets the value of the last
 * member named names[i]. */
static int
sc_object(struct scan *s, const char *const *names, struct jscan_tok *vals,
    size_t nnames)
{
	struct jscan_tok key, val;
	size_t i;

	if (s->depth >= JSCAN_DEPTH)
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
	if (s->depth >= JSCAN_DEPTH)
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

static void
none(struct jscan_tok *vals, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		vals[i].p = NULL;
		vals[i].n = 0;
	}
}

int
jscan_object(const char *text, size_t n, const char *const *names,
    struct jscan_tok *vals, size_t nnames, struct jscan_tok *obj)
{
	struct scan s;

	none(vals, nnames);
	s.p = (const unsigned char *)text;
	s.e = s.p + n;
	s.depth = 0;
	/* cJSON skipped a BOM; it stays in the text, outside obj. */
	if (n >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		s.p += 3;
	sc_ws(&s);
	obj->p = s.p;
	if (!sc_is(&s, '{') || sc_object(&s, names, vals, nnames) == -1)
		return -1;
	obj->n = (size_t)(s.p - obj->p);
	sc_ws(&s);
	return s.p == s.e ? 0 : -2;
}

void
jscan_elements(struct jscan_iter *it, const struct jscan_tok *t)
{
	struct scan s;

	s.p = t->p + 1;
	s.e = t->p + t->n;
	sc_ws(&s);
	it->p = s.p;
	it->e = s.e;
	it->depth = 1;	/* the array */
}

int
jscan_next(struct jscan_iter *it, struct jscan_tok *elem,
    const char *const *names, struct jscan_tok *vals, size_t nnames)
{
	struct scan s = { it->p, it->e, it->depth };

	none(vals, nnames);
	if (s.p >= s.e || sc_is(&s, ']'))
		return 0;
	elem->p = s.p;
	if ((sc_is(&s, '{') ? sc_object(&s, names, vals, nnames) :
	    sc_value(&s)) == -1) {
		it->p = it->e;
		return 0;
	}
	elem->n = (size_t)(s.p - elem->p);
	sc_ws(&s);
	if (sc_is(&s, ','))
		s.p++;
	sc_ws(&s);
	it->p = s.p;
	return 1;
}

int
jscan_empty(const struct jscan_tok *t)
{
	struct scan s;

	s.p = t->p + 1;
	s.e = t->p + t->n;
	sc_ws(&s);
	return sc_is(&s, ']') || sc_is(&s, '}');
}

int
jscan_str_is(const struct jscan_tok *t, const char *lit, int prefix)
{
	return t->p != NULL && *t->p == '"' && tok_is(t, lit, prefix);
}
