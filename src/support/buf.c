/*
 * Growable byte buffers. Heads, bodies and files pass through them, some
 * holding credentials: those are marked secret and never leave a copy.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/buf.h"

int
buf_reserve(struct buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->cap - b->len >= n)
		return 0;
	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if (!b->secret) {
		if ((p = realloc(b->p, cap)) == NULL)
			return -1;
	} else {
		/* realloc may leave the old bytes behind in freed memory. */
		if ((p = malloc(cap)) == NULL)
			return -1;
		if (b->p) {
			memcpy(p, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n + 1) == -1)
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	/* Formatted once when it fits in the room there is, else measured
	 * and formatted again after the buffer grew. */
	va_start(ap, fmt);
	n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len :
	    0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (b->p && (size_t)n < b->cap - b->len) {
		b->len += (size_t)n;
		return 0;
	}
	if (buf_reserve(b, (size_t)n + 1) == -1) {
		if (b->p && b->cap > b->len)
			b->p[b->len] = '\0';
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void
buf_free(struct buf *b)
{
	if (b->secret && b->p)
		explicit_bzero(b->p, b->cap);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
