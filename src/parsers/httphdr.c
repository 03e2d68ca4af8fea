/*
 * Header lines once a head is parsed: finding them by name, reading their
 * comma lists, telling hop-by-hop ones, writing them out.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "parsers/http.h"
#include "support/buf.h"

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* a[0..alen) is b, ASCII case folded: every header line meets a dozen of
 * these, so no strlen first. */
static int
ieq(const char *a, size_t alen, const char *b)
{
	size_t i;

	for (i = 0; i < alen; i++)
		if (b[i] == '\0' || lower((unsigned char)a[i]) !=
		    lower((unsigned char)b[i]))
			return 0;
	return b[alen] == '\0';
}

int
http_list_each(const char *v, size_t vlen,
    int (*fn)(const char *, size_t, void *), void *arg)
{
	size_t i = 0, j;
	int r;

	while (i < vlen) {
		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		j = i;
		while (j < vlen && v[j] != ',')
			j++;
		size_t e = j;
		while (e > i && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > i && (r = fn(v + i, e - i, arg)) != 0)
			return r;
		i = j;
	}
	return 0;
}

struct tok_find {
	const char *want;
};

static int
tok_is(const char *t, size_t n, void *arg)
{
	return ieq(t, n, ((struct tok_find *)arg)->want);
}

int
http_name_is(const struct http_header *h, const char *name)
{
	return ieq(h->name, h->nlen, name);
}

int
http_name_in(const struct http_header *h, const char *const *names)
{
	for (; *names; names++)
		if (http_name_is(h, *names))
			return 1;
	return 0;
}

const struct http_header *
http_header_get(const struct http_msg *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nheaders; i++)
		if (http_name_is(&m->headers[i], name))
			return &m->headers[i];
	return NULL;
}

int
http_has_token(const struct http_msg *m, const char *name,
    const char *token)
{
	struct tok_find f = { token };
	size_t i;

	for (i = 0; i < m->nheaders; i++) {
		const struct http_header *h = &m->headers[i];

		if (http_name_is(h, name) &&
		    http_list_each(h->value, h->vlen, tok_is, &f))
			return 1;
	}
	return 0;
}

int
http_is_hop(const struct http_msg *m, const struct http_header *h)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection",
		"proxy-authenticate", "proxy-authorization", "te", "trailer",
		"transfer-encoding", "upgrade", NULL
	};
	char name[128];

	if (http_name_in(h, hop))
		return 1;
	/* Headers the sender named in Connection are hop-by-hop too. */
	if (!m->conn_names || h->nlen >= sizeof name)
		return 0;
	memcpy(name, h->name, h->nlen);
	name[h->nlen] = '\0';
	return http_has_token(m, "connection", name);
}

int
http_value_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

time_t
http_retry_after(const char *v, size_t n, time_t now)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	char s[64];
	struct tm tm;
	unsigned long long secs = 0;
	int i, day, year, h, m, sec;
	char ms[4];
	size_t k;

	if (n == 0 || n >= sizeof s)
		return 0;
	memcpy(s, v, n);
	s[n] = '\0';
	for (k = 0; k < n && s[k] >= '0' && s[k] <= '9'; k++)
		if ((secs = secs * 10 + (unsigned)(s[k] - '0')) > 100000000ULL)
			return 0;
	if (k == n)
		return now + (time_t)secs;
	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (sscanf(s, "%*3s, %2d %3s %4d %2d:%2d:%2d GMT", &day, ms, &year,
	    &h, &m, &sec) != 6)
		return 0;
	memset(&tm, 0, sizeof tm);
	for (i = 0; i < 12 && strcmp(ms, mon[i]) != 0; i++)
		;
	if (i == 12)
		return 0;
	tm.tm_mday = day;
	tm.tm_mon = i;
	tm.tm_year = year - 1900;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = sec;
	return timegm(&tm);
}

int
http_header_add(struct buf *out, const struct http_header *h)
{
	/* Not buf_addf: this runs for every header of every request. */
	if (buf_reserve(out, h->nlen + h->vlen + 5) == -1)
		return -1;
	memcpy(out->p + out->len, h->name, h->nlen);
	out->len += h->nlen;
	memcpy(out->p + out->len, ": ", 2);
	out->len += 2;
	memcpy(out->p + out->len, h->value, h->vlen);
	out->len += h->vlen;
	memcpy(out->p + out->len, "\r\n", 3);
	out->len += 2;
	return 0;
}
