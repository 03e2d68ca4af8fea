/* GET /v1/models answered here, in both shapes. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "models.h"
#include "unit.h"

static const char *
str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* OpenAI's entries: who owns how many, and is each entry whole? */
static int
owners(const cJSON *list, int *anthropic, int *openai)
{
	const cJSON *it;
	int ok = 1;

	*anthropic = *openai = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "data")) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(it,
		    "created");

		ok &= str(it, "id") != NULL && str(it, "object") &&
		    strcmp(str(it, "object"), "model") == 0 &&
		    cJSON_IsNumber(t) && t->valuedouble > 1.7e9 &&
		    str(it, "owned_by") != NULL;
		*anthropic += str(it, "owned_by") &&
		    strcmp(str(it, "owned_by"), "anthropic") == 0;
		*openai += str(it, "owned_by") &&
		    strcmp(str(it, "owned_by"), "openai") == 0;
	}
	return ok;
}

int
main(void)
{
	struct buf b = { 0 };
	cJSON *j;
	int a, o;

	CHECK("anthropic list builds", models_anthropic(&b) == 0);
	j = b.p ? cJSON_Parse(b.p) : NULL;
	CHECK("anthropic list shape", j && cJSON_IsArray(
	    cJSON_GetObjectItem(j, "data")) && cJSON_IsFalse(
	    cJSON_GetObjectItem(j, "has_more")) && str(j, "first_id") &&
	    strcmp(str(j, "first_id"), "claude-opus-4-5-20251101") == 0 &&
	    str(j, "last_id") && str(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "data"), 0), "display_name") != NULL);
	cJSON_Delete(j);
	buf_free(&b);

	CHECK("openai list builds", models_openai(1, 1, &b) == 0);
	j = b.p ? cJSON_Parse(b.p) : NULL;
	CHECK("openai list shape", j && str(j, "object") &&
	    strcmp(str(j, "object"), "list") == 0 && owners(j, &a, &o) &&
	    a == 8 && o == 13);
	CHECK("the Claude dates are the release dates", b.p && strstr(b.p,
	    "{\"id\":\"claude-sonnet-4-5-20250929\",\"object\":\"model\","
	    "\"created\":1759104000,\"owned_by\":\"anthropic\"}") != NULL);
	cJSON_Delete(j);
	buf_free(&b);

	CHECK("codex only", models_openai(0, 1, &b) == 0 && (j =
	    cJSON_Parse(b.p)) != NULL && owners(j, &a, &o) && a == 0 &&
	    o == 13 && strstr(b.p, "gpt-5-codex-high") != NULL);
	cJSON_Delete(j);
	buf_free(&b);
	CHECK("no provider: an empty list", models_openai(0, 0, &b) == 0 &&
	    strcmp(b.p, "{\"object\":\"list\",\"data\":[]}") == 0);
	buf_free(&b);
	return UNIT_END();
}
