/* Fuzz the request head parser and the two upstream head rewrites.
 * Input: one byte of limits, then the bytes a client sends. Properties
 * checked beyond "no crash": a parsed head's fields point inside it, and
 * the head we send upstream (claude_head, codex_head) parses again as one
 * request with exactly our Host and credential: no client header can
 * smuggle a line or a second credential through the rewrite. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/token.h"
#include "parsers/config.h"
#include "parsers/http.h"
#include "providers/claude.h"
#include "providers/codex.h"
#include "support/buf.h"
#include "support/log.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

static void
req_inside(const char *buf, size_t len, const char *p, size_t n)
{
	if (n > 0 && (p < buf || p + n > buf + len))
		abort();
}

static size_t
req_count(const struct http_msg *m, const char *name)
{
	size_t i, c = 0;

	for (i = 0; i < m->nheaders; i++)
		c += (size_t)http_name_is(&m->headers[i], name);
	return c;
}

/* The rewritten head must be a well-formed request of its own. */
static void
req_reparse(const struct buf *out, const char *cred)
{
	struct http_limits big = { (size_t)-1, HTTP_MAX_HEADERS };
	struct http_msg *m = malloc(sizeof *m);
	const char *why;

	if (m == NULL)
		abort();
	if (http_head_len(out->p, out->len) != out->len)
		abort();
	/* More than HTTP_MAX_HEADERS can come out of a client's 256; only
	 * check what the parser can hold. */
	if (http_parse_request(out->p, out->len, &big, m, &why) == 0) {
		if (req_count(m, "host") != 1 || req_count(m, cred) != 1 ||
		    req_count(m, "content-length") != 1 ||
		    req_count(m, "transfer-encoding") != 0 ||
		    m->framing != HTTP_BODY_LENGTH)
			abort();
	} else if (strcmp(why, "too many header fields") != 0) {
		fprintf(stderr, "rewritten head refused: %s\n", why);
		abort();
	}
	free(m);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static char host[] = "api.example", port[] = "443",
	    path[] = "/prefix";
	struct url base = { host, port, path, host };
	struct http_limits lim = { 65536, 100 };
	struct http_msg *m;
	struct config cfg;
	struct account a;
	struct buf out = { 0 };
	const struct http_header *h;
	const char *why = NULL;
	char *buf;
	size_t i, hl;

	if (size < 1)
		return 0;
	/* Small limits now and then, to reach the limit paths. */
	if (data[0] & 1) {
		lim.max_head = 16 + data[0];
		lim.max_headers = data[0] >> 4;
	}
	data++;
	size--;
	buf = fuzz_copy(data, size);
	if ((m = malloc(sizeof *m)) == NULL)
		abort();
	hl = http_head_len(buf, size);
	if (hl > size)
		abort();
	if (hl == 0 || http_parse_request(buf, hl, &lim, m, &why) == -1) {
		if (hl != 0 && why == NULL)
			abort();
		goto out;
	}
	req_inside(buf, hl, m->method, m->mlen);
	req_inside(buf, hl, m->target, m->tlen);
	if (m->mlen == 0 || m->tlen == 0 || m->head_len != hl ||
	    m->nheaders > lim.max_headers)
		abort();
	for (i = 0; i < m->nheaders; i++) {
		req_inside(buf, hl, m->headers[i].name, m->headers[i].nlen);
		req_inside(buf, hl, m->headers[i].value, m->headers[i].vlen);
		(void)http_is_hop(m, &m->headers[i]);
	}
	if ((h = http_header_get(m, "retry-after")) != NULL)
		(void)http_retry_after(h->value, h->vlen, 1700000000);
	log_head("fuzz request", buf, hl);

	memset(&cfg, 0, sizeof cfg);
	memset(&a, 0, sizeof a);
	cfg.claude_oauth_beta = 1;
	a.kind = (data[0] & 1) ? ACCT_APIKEY : ACCT_OAUTH;
	a.access_token = (char *)(uintptr_t)"sk-ant-oat01-SECRET";
	a.account_id = (char *)(uintptr_t)"acct-1";
	if (claude_head(&out, m, &cfg, &base, &a, 42) == 0)
		req_reparse(&out, a.kind == ACCT_OAUTH ? "authorization" :
		    "x-api-key");
	buf_free(&out);
	a.kind = ACCT_OAUTH;
	if (codex_head(&out, m, &base, &a, "sess-1", 42) == 0)
		req_reparse(&out, "authorization");
	buf_free(&out);
out:
	free(m);
	free(buf);
	return 0;
}
