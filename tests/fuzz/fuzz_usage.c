/* Fuzz the usage scanner: the response body in pieces, of each kind.
 * Input: one control byte (low 3 bits the kind, all of it the split seed),
 * then the body. The counts must not depend on the split. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/usage.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

static void
us_scan(enum usage_kind kind, const char *in, size_t n,
    struct fuzz_split *sp, struct usage *u)
{
	struct usage_scan s;
	size_t off, k;

	usage_scan_init(&s, kind);
	for (off = 0; off < n; off += k) {
		k = sp ? fuzz_split_next(sp, n - off) : n - off;
		usage_scan_feed(&s, in + off, k);
	}
	usage_scan_done(&s, u);
	usage_scan_done(&s, u);         /* safe twice, says usage.h */
	if (memchr(u->model, '\0', sizeof u->model) == NULL)
		abort();
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static const enum usage_kind kinds[8] = {
		USAGE_ANTHROPIC_SSE, USAGE_RESPONSES_SSE,
		USAGE_ANTHROPIC_JSON, USAGE_RESPONSES_JSON, USAGE_CHAT_JSON,
		USAGE_ANTHROPIC_SSE, USAGE_RESPONSES_SSE, USAGE_NONE
	};
	struct usage whole, split;
	struct fuzz_split sp;
	enum usage_kind kind;
	char *in;

	if (size < 1)
		return 0;
	kind = kinds[data[0] & 7];
	in = fuzz_copy(data + 1, size - 1);
	memset(&whole, 0, sizeof whole);
	memset(&split, 0, sizeof split);
	us_scan(kind, in, size - 1, NULL, &whole);
	fuzz_split_init(&sp, data[0], size);
	us_scan(kind, in, size - 1, &sp, &split);
	if (memcmp(&whole, &split, sizeof whole) != 0) {
		fprintf(stderr, "usage depends on the split: %s %llu/%llu vs "
		    "%s %llu/%llu\n", whole.model, whole.input, whole.output,
		    split.model, split.input, split.output);
		abort();
	}
	(void)usage_kind_for((data[0] & 8) ? "codex" : "claude", in,
	    size - 1 < 40 ? size - 1 : 40);
	free(in);
	return 0;
}
