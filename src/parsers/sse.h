/* sse: server-sent events (text/event-stream), read
 * incrementally. No I/O: bytes in, events out through a callback. */
#ifndef SSE_H
#define SSE_H
#include <stddef.h>

#include "support/buf.h"

/* Feed bytes as they come, get each complete event (its "event:" name, ""
 * when none, and its joined "data:" lines). Zero it to start; sse_free at
 * the end. */
struct sse {
	struct buf line;
	struct buf data;
	char event[64];
	int has_data;
};
typedef int (*sse_fn)(void *arg, const char *event, const char *data,
    size_t dlen);
/* Returns 0, or the first non-zero value fn returned, or -1 when a line
 * grows past 16 MiB. */
int sse_feed(struct sse *s, const char *p, size_t n, sse_fn fn, void *arg);
void sse_free(struct sse *s);

#endif
