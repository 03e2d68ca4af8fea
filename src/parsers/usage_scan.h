/* usage_scan: token counts read from a response body as it passes (see
 * usage_scan.c). No I/O. */
#ifndef USAGE_SCAN_H
#define USAGE_SCAN_H
#include <stddef.h>

#include "parsers/sse.h"
#include "support/buf.h"

/* What the response body is, chosen by the route and its Content-Type. */
enum usage_kind {
	USAGE_NONE = 0,         /* nothing to read: feed and done are no-ops */
	USAGE_ANTHROPIC_SSE,    /* Messages stream: message_start, _delta */
	USAGE_ANTHROPIC_JSON,   /* Messages body: top-level usage */
	USAGE_RESPONSES_SSE,    /* Responses events: response.completed */
	USAGE_RESPONSES_JSON,   /* a response object: top-level usage */
	USAGE_CHAT_JSON         /* chat.completion: prompt/completion_tokens */
};

/* The counts as the provider reports them. Anthropic's input excludes the
 * cache tokens; OpenAI's input includes cache_read. */
struct usage {
	char model[128];        /* "" when the response named none */
	unsigned long long input, output, cache_read, cache_write;
};

struct usage_scan {
	enum usage_kind kind;
	struct sse sse;         /* SSE kinds: only the event in hand */
	struct buf json;        /* JSON kinds: the body, up to 4 MiB */
	int gave_up;            /* too big or unparsable: counts stay 0 */
	struct usage u;
};

/* The kind for a response: provider "claude" or "codex" (the upstream's
 * API, not the client's: a Chat Completions request still gets Responses
 * events from Codex) and its Content-Type value (NULL when none). */
enum usage_kind usage_kind_for(const char *provider, const char *ctype,
    size_t ctlen);

void usage_scan_init(struct usage_scan *s, enum usage_kind kind);
/* The decoded body bytes, in any pieces. Never fails: a body it cannot
 * read leaves the counts at zero. */
void usage_scan_feed(struct usage_scan *s, const char *p, size_t n);
/* The counts into u, and everything s holds freed. Safe to call twice, or
 * on a scan never fed. */
void usage_scan_done(struct usage_scan *s, struct usage *u);

#endif
