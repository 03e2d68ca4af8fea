/* Fuzz the SSE reader and what consumes the Codex event stream: the
 * Responses-to-Chat translator (streaming and not) and the non-stream
 * Responses collector. Input: one control byte (bit 0 stream, bit 1
 * include_usage, bit 2 the collector instead of the translator, all of it
 * the split seed), then the upstream's event stream.
 * Checked: the events seen do not depend on how the stream was split, and
 * everything the translator hands the client is valid JSON. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/sse.h"
#include "providers/codex.h"
#include "support/buf.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

struct sc_ev {
	struct buf log;         /* every event, length-prefixed */
	int collect;
	struct chat_xlate x;
	struct resp_collect rc;
	struct buf out;
	int consume;            /* 0: only log the events */
};

static void
sc_json(const char *p, size_t n)
{
	cJSON *j = cJSON_ParseWithLength(p, n);

	if (j == NULL) {
		fprintf(stderr, "not JSON: %.*s\n", (int)n, p);
		abort();
	}
	cJSON_Delete(j);
}

/* Every "data: X\n\n" frame in out[from..] holds JSON or [DONE]. */
static void
sc_frames(const struct buf *out, size_t from)
{
	const char *p, *end, *e;

	if (out->len == from)
		return;
	p = out->p + from;
	end = out->p + out->len;
	while (p < end) {
		if (end - p < 6 || memcmp(p, "data: ", 6) != 0)
			abort();
		p += 6;
		for (e = p; e + 1 < end && !(e[0] == '\n' && e[1] == '\n');
		    e++)
			;
		if (e + 1 >= end)
			abort();
		if (!((size_t)(e - p) == 6 && memcmp(p, "[DONE]", 6) == 0))
			sc_json(p, (size_t)(e - p));
		p = e + 2;
	}
}

static int
sc_on_event(void *arg, const char *event, const char *data, size_t dlen)
{
	struct sc_ev *e = arg;
	size_t elen = strlen(event), before = e->out.len;
	int r;

	if (buf_add(&e->log, &elen, sizeof elen) == -1 ||
	    buf_add(&e->log, event, elen) == -1 ||
	    buf_add(&e->log, &dlen, sizeof dlen) == -1 ||
	    buf_add(&e->log, data, dlen) == -1)
		abort();
	if (!e->consume)
		return 0;
	if (e->collect)
		return resp_collect_event(&e->rc, event, data, dlen);
	r = chat_xlate_event(&e->x, event, data, dlen, &e->out);
	if (r == 0 && e->x.stream)
		sc_frames(&e->out, before);
	return r;
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct codex_req cr;
	struct sc_ev whole, split;
	struct fuzz_split sp;
	struct sse s;
	const char *in;
	size_t n, off, before;
	int r = 0;

	if (size < 1)
		return 0;
	in = (const char *)data + 1;
	n = size - 1;

	/* The reference: the whole stream in one piece, events only. */
	memset(&whole, 0, sizeof whole);
	memset(&s, 0, sizeof s);
	if (sse_feed(&s, in, n, sc_on_event, &whole) == 0)
		(void)sse_feed(&s, "\n\n", 2, sc_on_event, &whole);
	sse_free(&s);

	memset(&cr, 0, sizeof cr);
	cr.stream = data[0] & 1;
	cr.include_usage = (data[0] >> 1) & 1;
	snprintf(cr.model, sizeof cr.model, "gpt-5-codex-high");
	memset(&split, 0, sizeof split);
	split.consume = 1;
	split.collect = (data[0] >> 2) & 1;
	if (!split.collect && chat_xlate_init(&split.x, &cr, 1700000000) == -1)
		abort();
	memset(&s, 0, sizeof s);
	fuzz_split_init(&sp, data[0], size);
	for (off = 0; off < n && r == 0; ) {
		size_t k = fuzz_split_next(&sp, n - off);

		r = sse_feed(&s, in + off, k, sc_on_event, &split);
		off += k;
	}
	if (r == 0)
		r = sse_feed(&s, "\n\n", 2, sc_on_event, &split);
	sse_free(&s);
	/* A callback that stops the stream early makes the logs differ
	 * only in their tail: compare when both ran to the end. */
	if (r == 0 && (whole.log.len != split.log.len ||
	    (whole.log.len && memcmp(whole.log.p, split.log.p,
	    whole.log.len) != 0))) {
		fprintf(stderr, "sse events depend on the split\n");
		abort();
	}
	if (!split.collect) {
		before = split.out.len;
		if (chat_xlate_finish(&split.x, &split.out) == 0) {
			if (split.x.stream)
				sc_frames(&split.out, before);
			else
				sc_json(split.out.p + before,
				    split.out.len - before);
		} else if (split.x.error[0] == '\0') {
			abort();
		}
		chat_xlate_free(&split.x);
	} else {
		if (split.rc.done && split.rc.json.len)
			sc_json(split.rc.json.p, split.rc.json.len);
		resp_collect_free(&split.rc);
	}
	buf_free(&split.out);
	buf_free(&split.log);
	buf_free(&whole.log);
	return 0;
}
