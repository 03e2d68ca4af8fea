/* keyhash: a short stable name for some bytes (see keyhash.c). */
#ifndef KEYHASH_H
#define KEYHASH_H
#include <stddef.h>

#define KEYHASH_LEN 33          /* 32 hex digits and a NUL */

/* One piece of what is named. */
struct keyhash_part {
	const void *p;
	size_t n;
};

/* 32 hex digits of the SHA-256 of parts, each part's length hashed
 * before its bytes so that no two splits of the same bytes meet. */
void keyhash(const struct keyhash_part *parts, int n,
    char out[KEYHASH_LEN]);

#endif
