/* Fuzz the Codex request body rewrites: codex_body (Responses for the
 * backend) and codex_chat_request (Chat Completions to Responses). Input:
 * one selector byte, then the client's JSON body. What they produce goes
 * upstream, so it must be a JSON object with what the backend demands. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/config.h"
#include "providers/codex.h"
#include "support/buf.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

static cJSON *
bd_json(const struct buf *b)
{
	cJSON *j = cJSON_ParseWithLength(b->p, b->len);

	if (j == NULL || !cJSON_IsObject(j)) {
		fprintf(stderr, "rewritten body is not a JSON object: %.*s\n",
		    (int)b->len, b->p);
		abort();
	}
	return j;
}

/* What the Codex backend refuses a body without. */
static void
bd_codex_ok(const struct buf *b, const struct codex_req *cr)
{
	cJSON *j = bd_json(b);

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream")) ||
	    !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "store")) ||
	    !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j,
	    "instructions")) ||
	    cJSON_GetObjectItemCaseSensitive(j, "max_output_tokens") ||
	    cJSON_GetObjectItemCaseSensitive(j, "temperature") ||
	    cJSON_GetObjectItemCaseSensitive(j, "previous_response_id") ||
	    memchr(cr->model, '\0', sizeof cr->model) == NULL ||
	    memchr(cr->session_id, '\0', sizeof cr->session_id) == NULL) {
		fprintf(stderr, "codex body lacks what the backend needs: "
		    "%.*s\n", (int)b->len, b->p);
		abort();
	}
	cJSON_Delete(j);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static struct alias aliases[] = {
		{ (char *)(uintptr_t)"fast", (char *)(uintptr_t)"gpt-5-codex-low" },
		{ (char *)(uintptr_t)"gpt-5", (char *)(uintptr_t)"gpt-5-high" },
	};
	struct config cfg;
	struct codex_req cr;
	struct buf out = { 0 };
	const char *why = NULL;
	char *in;

	if (size < 1)
		return 0;
	in = fuzz_copy(data + 1, size - 1);
	memset(&cfg, 0, sizeof cfg);
	cfg.aliases = aliases;
	cfg.n_aliases = 2;
	memset(&cr, 0, sizeof cr);
	switch (data[0] & 1) {
	case 0:
		if (codex_body(&cfg, NULL, in, size - 1, &out, &cr, &why) == 0)
			bd_codex_ok(&out, &cr);
		else if (why == NULL)
			abort();
		break;
	case 1:
		if (codex_chat_request(&cfg, NULL, in, size - 1, &out, &cr,
		    &why) == 0)
			bd_codex_ok(&out, &cr);
		else if (why == NULL)
			abort();
		break;
	}
	buf_free(&out);
	free(in);
	return 0;
}
