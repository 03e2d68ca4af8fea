/* Fuzz the model catalog readers: a provider's answer (Codex's /models,
 * Anthropic's /v1/models page) and the kept auth-dir/models.json, then the
 * listings and the effort reading over what they gave. Input: one control
 * byte (low 2 bits: which reader), then the JSON. What is read must print
 * back as JSON that reads again to the same number of models. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/models.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* The listings of l are JSON, and the kept file reads back as l. */
static void
cat_check(const struct modellist *l)
{
	static const struct config cfg;
	struct modellist back = { 0 };
	struct buf b = { 0 };
	char base[128], eff[12], why[512];
	cJSON *j;
	size_t i;

	if (models_openai(&cfg, l, l, &b) == -1 ||
	    (j = cJSON_Parse(b.p)) == NULL)
		abort();
	cJSON_Delete(j);
	b.len = 0;
	if (models_anthropic(&cfg, l, "limit=3&after_id=x", 18, &b) == -1 ||
	    (j = cJSON_Parse(b.p)) == NULL)
		abort();
	cJSON_Delete(j);
	b.len = 0;
	if (modellist_to_file(NULL, 0, "codex", l, &b) == -1 ||
	    modellist_from_file(b.p, b.len, "codex", &back) == -1 ||
	    back.n != l->n)
		abort();
	for (i = 0; i < l->n; i++) {
		char id[120];

		snprintf(id, sizeof id, "%s-high", l->m[i].id);
		(void)models_effort(l, id, base, sizeof base, eff, why,
		    sizeof why);
	}
	models_explain(l, "claude", l->n ? l->m[0].id : "claude-x-1", why,
	    sizeof why);
	modellist_free(&back);
	buf_free(&b);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct modellist l = { 0 };
	const char *why;
	char last[128];
	int more, rc;

	if (size < 1)
		return 0;
	switch (data[0] & 3) {
	case 0:
		rc = modellist_parse_codex((const char *)data + 1, size - 1,
		    &l, &why);
		break;
	case 1:
		rc = modellist_parse_anthropic((const char *)data + 1,
		    size - 1, &l, &more, last, sizeof last, &why);
		if (rc == 0 && more && memchr(last, '\0', sizeof last) == NULL)
			abort();
		break;
	default:
		rc = modellist_from_file((const char *)data + 1, size - 1,
		    (data[0] & 1) ? "codex" : "claude", &l);
		break;
	}
	if (rc == 0)
		cat_check(&l);
	modellist_free(&l);
	return 0;
}
