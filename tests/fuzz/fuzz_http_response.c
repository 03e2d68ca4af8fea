/* Fuzz the response head parser, the body framing it chooses and the
 * 429 cool-down readers. Input: one byte choosing the request method and
 * how to split the body, then the bytes an upstream sends. A chunked body
 * is decoded in pieces (see fuzz_chunked.c for the decoder alone). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/http.h"
#include "parsers/httpbody.h"
#include "providers/claude.h"
#include "providers/codex.h"
#include "providers/ratelimit.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "GET", "POST", "HEAD", "PUT" };
	struct http_chunked c;
	struct http_msg *m;
	struct fuzz_split sp;
	const struct http_header *h;
	const char *why = NULL, *body;
	char *buf, *out = NULL;
	size_t hl, blen, off, outn = 0;
	uint8_t ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	data++;
	size--;
	buf = fuzz_copy(data, size);
	if ((m = malloc(sizeof *m)) == NULL)
		abort();
	hl = http_head_len(buf, size);
	if (hl == 0 || http_parse_response(buf, hl, methods[ctl & 3], m,
	    &why) == -1)
		goto out;
	if (m->status < 100 || m->status > 599 || m->head_len != hl)
		abort();
	if (((ctl & 3) == 2 || m->status / 100 == 1 || m->status == 204 ||
	    m->status == 304) && m->framing != HTTP_BODY_NONE)
		abort();
	body = buf + hl;
	blen = size - hl;
	if ((h = http_header_get(m, "retry-after")) != NULL)
		(void)http_retry_after(h->value, h->vlen, 1700000000);
	(void)ratelimit_claude_cooldown(m, 1700000000);
	(void)ratelimit_codex_cooldown(m, body, blen, 1700000000);
	if (m->framing != HTTP_BODY_CHUNKED)
		goto out;
	memset(&c, 0, sizeof c);
	if ((out = malloc(blen + 1)) == NULL)
		abort();
	fuzz_split_init(&sp, ctl, size);
	for (off = 0; off < blen && !c.done; ) {
		size_t n = fuzz_split_next(&sp, blen - off), before = outn;
		ssize_t r = http_chunked_feed(&c, body + off, n, out,
		    &outn, &why);

		if (r == -1)
			break;
		if ((size_t)r > n || ((size_t)r < n && !c.done) ||
		    outn - before > (size_t)r)
			abort();
		off += (size_t)r;
	}
out:
	free(out);
	free(m);
	free(buf);
	return 0;
}
