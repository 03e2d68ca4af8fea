/*
 * Short stable names for things that must not be kept as they are (a
 * session id, a prompt): the first half of a SHA-256, in hex.
 */
#include <bearssl.h>

#include "support/keyhash.h"

void
keyhash(const struct keyhash_part *parts, int n, char out[KEYHASH_LEN])
{
	static const char hex[] = "0123456789abcdef";
	br_sha256_context h;
	unsigned char d[32], len[8];
	size_t k;
	int i, j;

	br_sha256_init(&h);
	for (i = 0; i < n; i++) {
		for (j = 0; j < 8; j++)
			len[j] = (unsigned char)((unsigned long long)parts[i].n >>
			    (8 * j));
		br_sha256_update(&h, len, sizeof len);
		br_sha256_update(&h, parts[i].p, parts[i].n);
	}
	br_sha256_out(&h, d);
	for (k = 0; k < 16; k++) {
		out[2 * k] = hex[d[k] >> 4];
		out[2 * k + 1] = hex[d[k] & 15];
	}
	out[32] = '\0';
}
