/*
 * Server-sent events as the Codex backend sends them, and as anything
 * relayed is read for its usage: lines ended by CR, LF or CRLF (a CRLF may
 * be split between two feeds), "event:" and "data:" fields, a blank line
 * ending the event. Comments and other fields are skipped.
 */
#include <string.h>

#include "parsers/sse.h"

#define SSE_MAX (16UL << 20)    /* longest SSE line, and longest event data */

static int
eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static int
sse_dispatch(struct sse *s, sse_fn fn, void *arg)
{
	int r = 0;

	if (s->has_data || s->event[0])
		r = fn(arg, s->event, s->data.p ? s->data.p : "", s->data.len);
	s->data.len = 0;
	if (s->data.p)
		s->data.p[0] = '\0';
	s->has_data = 0;
	s->event[0] = '\0';
	return r;
}

/* One complete line, without its end. */
static int
sse_line(struct sse *s, const char *l, size_t n, sse_fn fn, void *arg)
{
	const char *colon, *v;
	size_t fl, vl;

	if (n == 0)
		return sse_dispatch(s, fn, arg);
	if (l[0] == ':')
		return 0;
	colon = memchr(l, ':', n);
	fl = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vl = n - (size_t)(v - l);
	if (vl && *v == ' ') {
		v++;
		vl--;
	}
	if (eq(l, fl, "event")) {
		if (vl >= sizeof s->event)
			vl = sizeof s->event - 1;
		memcpy(s->event, v, vl);
		s->event[vl] = '\0';
	} else if (eq(l, fl, "data")) {
		if (s->data.len + vl + 1 > SSE_MAX ||
		    (s->has_data && buf_add(&s->data, "\n", 1) == -1) ||
		    buf_add(&s->data, v, vl) == -1)
			return -1;
		s->has_data = 1;
	}
	return 0;
}

int
sse_feed(struct sse *s, const char *p, size_t n, sse_fn fn, void *arg)
{
	size_t i = 0, k;
	int r;

	while (i < n) {
		/* The last line ended in CR (kept in line, where no CR can
		 * otherwise be): an LF right after it is part of that end. */
		if (s->line.len == 1 && s->line.p[0] == '\r') {
			s->line.len = 0;
			if (p[i] == '\n') {
				i++;
				continue;
			}
		}
		for (k = i; k < n && p[k] != '\n' && p[k] != '\r'; k++)
			;
		if (s->line.len + (k - i) > SSE_MAX)
			return -1;
		if (k == n)
			return buf_add(&s->line, p + i, k - i);
		if (s->line.len) {
			if (buf_add(&s->line, p + i, k - i) == -1)
				return -1;
			r = sse_line(s, s->line.p, s->line.len, fn, arg);
		} else
			r = sse_line(s, p + i, k - i, fn, arg);
		s->line.len = 0;
		if (p[k] == '\r' && buf_add(&s->line, "\r", 1) == -1)
			return -1;
		i = k + 1;
		if (r != 0)
			return r;
	}
	return 0;
}

void
sse_free(struct sse *s)
{
	buf_free(&s->line);
	buf_free(&s->data);
	memset(s, 0, sizeof *s);
}
