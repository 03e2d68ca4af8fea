/* buf: a growable byte buffer with one owner. */
#ifndef BUF_H
#define BUF_H
#include <stddef.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

/* Make room for n more bytes. 0, or -1 with errno ENOMEM. */
int buf_reserve(struct buf *b, size_t n);
/* Append n bytes / a C string / printf output. 0 or -1. */
int buf_add(struct buf *b, const void *p, size_t n);
int buf_adds(struct buf *b, const char *s);
int buf_addf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Wipe the contents (they may hold a credential) and free. */
void buf_wipe(struct buf *b);
void buf_free(struct buf *b);

#endif
