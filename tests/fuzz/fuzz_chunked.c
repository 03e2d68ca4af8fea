/* Fuzz the chunked body decoder. Input: a split seed byte, then a body.
 * The body is decoded three times, whole, in pieces chosen by the seed,
 * and whole in place (as the request reader does); all must agree byte for
 * byte on the data, on where the body ends and on whether it is
 * malformed: a decoder whose answer depends on how TCP cut the stream
 * would let the proxy and the upstream disagree on framing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "parsers/http.h"
#include "parsers/httpbody.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

struct ch_run {
	char *out;
	size_t outn;
	size_t used;            /* bytes of input consumed */
	int failed;
	int done;
};

static void
ch_decode(const char *in, size_t n, struct fuzz_split *sp, struct ch_run *r)
{
	struct http_chunked c;
	const char *why;
	size_t off = 0;

	memset(&c, 0, sizeof c);
	memset(r, 0, sizeof *r);
	if ((r->out = malloc(n + 1)) == NULL)
		abort();
	while (off < n && !c.done) {
		size_t k = sp ? fuzz_split_next(sp, n - off) : n - off;
		size_t before = r->outn;
		ssize_t got;

		why = NULL;
		got = http_chunked_feed(&c, in + off, k, r->out,
		    &r->outn, &why);
		if (got == -1) {
			if (why == NULL)
				abort();
			r->failed = 1;
			break;
		}
		if ((size_t)got > k || ((size_t)got < k && !c.done) ||
		    r->outn - before > (size_t)got)
			abort();
		off += (size_t)got;
	}
	r->used = off;
	r->done = c.done;
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct ch_run whole, split;
	struct fuzz_split sp;
	char *in;

	if (size < 1)
		return 0;
	fuzz_split_init(&sp, data[0], size);
	in = fuzz_copy(data + 1, size - 1);
	ch_decode(in, size - 1, NULL, &whole);
	ch_decode(in, size - 1, &sp, &split);
	if (!whole.failed) {
		/* In place: out is the input itself. */
		struct http_chunked c;
		char *same = fuzz_copy(data + 1, size - 1);
		const char *why;
		size_t outn = 0;
		ssize_t got;

		memset(&c, 0, sizeof c);
		got = http_chunked_feed(&c, same, size - 1, same, &outn, &why);
		if (got != (ssize_t)whole.used || outn != whole.outn ||
		    memcmp(same, whole.out, outn) != 0 ||
		    memcmp(same + got, in + got, size - 1 - (size_t)got) != 0)
			abort();
		free(same);
	}
	if (whole.failed != split.failed || whole.done != split.done ||
	    (!whole.failed && (whole.used != split.used ||
	    whole.outn != split.outn ||
	    memcmp(whole.out, split.out, whole.outn) != 0))) {
		fprintf(stderr, "chunked: whole failed=%d done=%d used=%zu "
		    "out=%zu; split failed=%d done=%d used=%zu out=%zu\n",
		    whole.failed, whole.done, whole.used, whole.outn,
		    split.failed, split.done, split.used, split.outn);
		abort();
	}
	free(whole.out);
	free(split.out);
	free(in);
	return 0;
}
