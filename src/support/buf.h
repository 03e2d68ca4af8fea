/* buf: a growable byte buffer with one owner. A buffer marked secret
 * (BUF_SECRET) is wiped whenever its bytes move (growth) and when it is
 * freed, so no copy of a credential is left in freed memory. */
#ifndef BUF_H
#define BUF_H
#include <stddef.h>
#include <sys/uio.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
	int secret;             /* wipe on growth and on free */
};

#define BUF_SECRET { NULL, 0, 0, 1 }

/* Bytes as pieces sent in order, slices of other buffers and constant
 * text, so that a body with a few bytes spliced in needs no copy. */
struct pieces {
	struct iovec v[5];
	int n;
	size_t len;             /* of all pieces */
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
/* Free (wiped first when secret); the buffer stays secret when it was,
 * ready to be used again. */
void buf_free(struct buf *b);

#endif
