/* Fuzz claude_body, which puts the Claude Code line first in system.
 * Input: the client's JSON body. A body it changes goes upstream, so it
 * must be a JSON object that now starts with the line. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/claude.h"
#include "support/buf.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* The first system text of a body, "" when none. With duplicate keys
 * the last "system" counts: that is what the upstream's parser keeps
 * (cJSON would keep the first). */
static const char *
cb_first(const cJSON *j)
{
	const cJSON *sys = NULL, *it, *t;

	cJSON_ArrayForEach(it, j)
		if (it->string && strcmp(it->string, "system") == 0)
			sys = it;

	if (cJSON_IsString(sys))
		return sys->valuestring;
	if (cJSON_IsArray(sys) && sys->child &&
	    cJSON_IsString(t = cJSON_GetObjectItemCaseSensitive(sys->child,
	    "text")))
		return t->valuestring;
	return "";
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct buf out = { 0 };
	const char *why = NULL;
	char *in = fuzz_copy(data, size);
	cJSON *j;
	int changed = -1;

	if (claude_body(in, size, &out, &changed, &why) == 0) {
		if (changed) {
			j = cJSON_ParseWithLength(out.p, out.len);
			if (j == NULL || !cJSON_IsObject(j) ||
			    strncmp(cb_first(j), CLAUDE_CODE_LINE,
			    sizeof CLAUDE_CODE_LINE - 1) != 0) {
				fprintf(stderr, "bad rewrite: %.*s\n",
				    (int)out.len, out.p);
				abort();
			}
			cJSON_Delete(j);
		} else if (changed != 0 || out.len != 0) {
			abort();
		}
	} else if (why == NULL) {
		abort();
	}
	buf_free(&out);
	free(in);
	return 0;
}
