/* The model lists: the providers' catalogs read (modellist.c), GET
 * /v1/models in both shapes, effort suffixes, aliases and the words for a
 * refused model (models.c). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/models.h"
#include "unit.h"

static const char codex_catalog[] =
    "{\"models\":[{\"slug\":\"gpt-5.6-sol\",\"display_name\":\"GPT-5.6 Sol\","
    "\"context_window\":400000,\"default_reasoning_level\":\"medium\","
    "\"supported_reasoning_levels\":[{\"effort\":\"low\"},{\"effort\":"
    "\"medium\"},{\"effort\":\"high\"},{\"effort\":\"xhigh\"}],"
    "\"visibility\":\"list\",\"priority\":1,\"shell_type\":\"x\"},"
    "{\"slug\":\"gpt-5.5\",\"display_name\":\"GPT-5.5\",\"visibility\":"
    "\"list\",\"priority\":2,\"supported_reasoning_levels\":[{\"effort\":"
    "\"low\"},{\"effort\":\"high\"}]},{\"slug\":\"internal-x\","
    "\"visibility\":\"hide\",\"priority\":9},{\"slug\":\"bad\\\"id\"},"
    "{\"display_name\":\"no slug\"}]}";

static const char claude_page1[] =
    "{\"data\":[{\"type\":\"model\",\"id\":\"claude-opus-5-5\","
    "\"display_name\":\"Claude Opus 5.5\",\"created_at\":"
    "\"2026-11-20T00:00:00Z\",\"max_input_tokens\":1000000,\"max_tokens\":"
    "128000},{\"type\":\"model\",\"id\":\"claude-sonnet-5\",\"display_name\":"
    "\"Claude Sonnet 5\",\"created_at\":\"2026-09-01T00:00:00Z\"}],"
    "\"has_more\":true,\"first_id\":\"claude-opus-5-5\",\"last_id\":"
    "\"claude-sonnet-5\"}";

static const char claude_page2[] =
    "{\"data\":[{\"type\":\"model\",\"id\":\"claude-haiku-4-5-20251001\","
    "\"display_name\":\"Claude Haiku 4.5\",\"created_at\":"
    "\"2025-10-01T00:00:00Z\"}],\"has_more\":false,\"first_id\":"
    "\"claude-haiku-4-5-20251001\",\"last_id\":\"claude-haiku-4-5-20251001\"}";

static const char *
str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* The ids of a listing, space-separated, into out. */
static void
ids(const char *json, char *out, size_t n)
{
	cJSON *j = cJSON_Parse(json);
	const cJSON *it;

	out[0] = '\0';
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "data"))
		snprintf(out + strlen(out), n - strlen(out), "%s ",
		    str(it, "id"));
	cJSON_Delete(j);
}

static void
test_parse(void)
{
	struct modellist l = { 0 }, k = { 0 };
	struct buf b = { 0 };
	const struct model *m;
	const char *why;
	char last[128];
	int more;

	CHECK("codex catalog parsed", modellist_parse_codex(codex_catalog,
	    strlen(codex_catalog), &l, &why) == 0 && l.n == 3);
	m = modellist_find(&l, "gpt-5.6-sol");
	CHECK("codex: fields", m && m->context == 400000 &&
	    m->nefforts == 4 && model_has_effort(m, "xhigh") &&
	    strcmp(m->default_effort, "medium") == 0 && m->priority == 1 &&
	    strcmp(m->display, "GPT-5.6 Sol") == 0);
	CHECK("codex: hidden kept as hidden", (m = modellist_find(&l,
	    "internal-x")) != NULL && m->hidden);
	CHECK("codex: an id with a quote is left out",
	    modellist_find(&l, "bad\"id") == NULL);
	CHECK("codex: not a catalog", modellist_parse_codex("{\"data\":[]}",
	    11, &k, &why) == -1 && strstr(why, "no model list"));
	modellist_free(&l);

	CHECK("anthropic page 1", modellist_parse_anthropic(claude_page1,
	    strlen(claude_page1), &l, &more, last, sizeof last, &why) == 0 &&
	    l.n == 2 && more && strcmp(last, "claude-sonnet-5") == 0);
	CHECK("anthropic page 2", modellist_parse_anthropic(claude_page2,
	    strlen(claude_page2), &l, &more, last, sizeof last, &why) == 0 &&
	    l.n == 3 && !more);
	m = modellist_find(&l, "claude-opus-5-5");
	CHECK("anthropic: fields", m && m->created == 1795132800LL &&
	    m->context == 1000000 && m->max_out == 128000);

	l.fetched = 1700000000;
	snprintf(l.etag, sizeof l.etag, "W/\"abc\"");
	CHECK("kept file written", modellist_to_file(NULL, 0, "claude", &l,
	    &b) == 0);
	CHECK("kept file read back", modellist_from_file(b.p, b.len,
	    "claude", &k) == 0 && k.n == 3 && k.fetched == 1700000000 &&
	    strcmp(k.etag, "W/\"abc\"") == 0 && modellist_find(&k,
	    "claude-opus-5-5")->max_out == 128000);
	modellist_free(&k);
	CHECK("kept file: the other provider empty", modellist_from_file(b.p,
	    b.len, "codex", &k) == 0 && k.n == 0 && k.fetched == 0);
	CHECK("kept file: not one", modellist_from_file("[1]", 3, "codex",
	    &k) == -1);
	buf_free(&b);
	modellist_free(&k);
	modellist_free(&l);
}

static void
test_effort(void)
{
	const struct modellist *cx = modellist_builtin("codex");
	char base[128], eff[12], why[512];

	CHECK("effort: a model as it is", models_effort(cx, "gpt-5.4-mini",
	    base, sizeof base, eff, why, sizeof why) == 0 &&
	    strcmp(base, "gpt-5.4-mini") == 0 && eff[0] == '\0');
	CHECK("effort: suffix read", models_effort(cx, "gpt-5.6-sol-xhigh",
	    base, sizeof base, eff, why, sizeof why) == 0 &&
	    strcmp(base, "gpt-5.6-sol") == 0 && strcmp(eff, "xhigh") == 0);
	CHECK("effort: one the model lacks refused", models_effort(cx,
	    "gpt-5.4-max", base, sizeof base, eff, why, sizeof why) == -1 &&
	    strstr(why, "gpt-5.4 does not take reasoning effort max") &&
	    strstr(why, "gpt-5.4-low, gpt-5.4-medium, gpt-5.4-high or "
	    "gpt-5.4-xhigh"));
	CHECK("effort: unknown model, the backend judges", models_effort(cx,
	    "gpt-5-codex-high", base, sizeof base, eff, why, sizeof why) ==
	    0 && strcmp(base, "gpt-5-codex") == 0 && strcmp(eff, "high") == 0);
	CHECK("effort: not an effort word", models_effort(cx, "gpt-5.4-fast",
	    base, sizeof base, eff, why, sizeof why) == 0 &&
	    strcmp(base, "gpt-5.4-fast") == 0 && eff[0] == '\0');
}

static void
test_lists(void)
{
	struct config cfg;
	char n0[] = "claude-opus-4-8", a0[] = "claude-opus-4-1";
	char n1[] = "gpt-5.5", a1[] = "gpt-5-codex";
	struct model_alias al[2] = { { "claude", n0, a0, 0 },
		{ "codex", n1, a1, 1 } };
	struct modellist cx = { 0 };
	struct buf b = { 0 };
	char got[8192];
	const char *why;
	cJSON *j;

	memset(&cfg, 0, sizeof cfg);
	(void)modellist_parse_codex(codex_catalog, strlen(codex_catalog), &cx,
	    &why);
	CHECK("openai: builds", models_openai(&cfg, modellist_builtin(
	    "claude"), &cx, &b) == 0 && (j = cJSON_Parse(b.p)) != NULL);
	ids(b.p, got, sizeof got);
	CHECK("openai: claude and codex, efforts as ids", strstr(got,
	    "claude-opus-5 ") && strstr(got, "gpt-5.6-sol gpt-5.6-sol-low "
	    "gpt-5.6-sol-medium gpt-5.6-sol-high gpt-5.6-sol-xhigh gpt-5.5 "));
	CHECK("openai: hidden left out", strstr(got, "internal-x") == NULL);
	CHECK("openai: entry shape", b.p && strstr(b.p, "{\"id\":\"gpt-5.5\","
	    "\"object\":\"model\",\"created\":1754524800,\"owned_by\":"
	    "\"openai\"}"));
	cJSON_Delete(j);
	buf_free(&b);
	CHECK("openai: no provider, no models", models_openai(&cfg, NULL,
	    NULL, &b) == 0 && strcmp(b.p, "{\"object\":\"list\",\"data\":[]}")
	    == 0);
	buf_free(&b);

	cfg.model_alias = al;
	cfg.n_model_alias = 2;
	(void)models_openai(&cfg, modellist_builtin("claude"), &cx, &b);
	ids(b.p, got, sizeof got);
	CHECK("alias: without fork it stands in the model's place",
	    strstr(got, "claude-opus-4-1 ") && !strstr(got,
	    "claude-opus-4-8 "));
	CHECK("alias: with fork both, efforts for the alias too",
	    strstr(got, "gpt-5.5 gpt-5.5-low gpt-5.5-high gpt-5-codex "
	    "gpt-5-codex-low gpt-5-codex-high "));
	buf_free(&b);
	CHECK("alias: resolved", models_alias(&cfg, "codex", "gpt-5-codex") &&
	    strcmp(models_alias(&cfg, "codex", "gpt-5-codex"), "gpt-5.5") ==
	    0 && models_alias(&cfg, "claude", "gpt-5-codex") == NULL);
	CHECK("serves: alias, dated, effort", models_serves(&cfg,
	    modellist_builtin("claude"), "claude", "claude-opus-4-1") &&
	    models_serves(&cfg, modellist_builtin("claude"), "claude",
	    "claude-haiku-4-5") && models_serves(&cfg, &cx, "codex",
	    "gpt-5.6-sol-high") && !models_serves(&cfg, &cx, "codex",
	    "gpt-5.2-codex") && !models_serves(&cfg,
	    modellist_builtin("claude"), "claude", "claude-3-7-sonnet"));
	cfg.n_model_alias = 0;

	CHECK("anthropic: builds", models_anthropic(&cfg,
	    modellist_builtin("claude"), NULL, 0, &b) == 0 &&
	    (j = cJSON_Parse(b.p)) != NULL);
	CHECK("anthropic: default page of 20, no more", j &&
	    cJSON_IsFalse(cJSON_GetObjectItem(j, "has_more")) &&
	    strcmp(str(j, "first_id"), "claude-opus-5-5") == 0 &&
	    strcmp(str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), 0),
	    "type"), "model") == 0 && strstr(b.p, "\"created_at\":"
	    "\"2026-11-20T00:00:00Z\",\"max_input_tokens\":1000000,"
	    "\"max_tokens\":128000}"));
	cJSON_Delete(j);
	buf_free(&b);
	(void)models_anthropic(&cfg, modellist_builtin("claude"), "limit=2",
	    7, &b);
	ids(b.p, got, sizeof got);
	CHECK("anthropic: limit", strcmp(got, "claude-opus-5-5 "
	    "claude-sonnet-5-5 ") == 0 && strstr(b.p, "\"has_more\":true,"
	    "\"first_id\":\"claude-opus-5-5\",\"last_id\":"
	    "\"claude-sonnet-5-5\"}"));
	buf_free(&b);
	(void)models_anthropic(&cfg, modellist_builtin("claude"),
	    "limit=2&after_id=claude-sonnet-5-5", 35, &b);
	ids(b.p, got, sizeof got);
	CHECK("anthropic: after_id", strcmp(got, "claude-opus-5 "
	    "claude-sonnet-5 ") == 0);
	buf_free(&b);
	(void)models_anthropic(&cfg, modellist_builtin("claude"),
	    "limit=1&before_id=claude-opus-5", 31, &b);
	ids(b.p, got, sizeof got);
	CHECK("anthropic: before_id", strcmp(got, "claude-sonnet-5-5 ") == 0);
	buf_free(&b);
	(void)models_anthropic(&cfg, &(struct modellist){ 0 }, NULL, 0, &b);
	CHECK("anthropic: empty page", b.p && strcmp(b.p, "{\"data\":[],"
	    "\"has_more\":false,\"first_id\":null,\"last_id\":null}") == 0);
	buf_free(&b);
	modellist_free(&cx);
}

static void
test_explain(void)
{
	char out[1024];

	models_explain(modellist_builtin("claude"), "claude",
	    "claude-opus-4-1-20250805", out, sizeof out);
	CHECK("explain: Opus family named", strstr(out,
	    "claude-opus-4-1-20250805 is not served by Anthropic now") &&
	    strstr(out, "the current Claude Opus models are claude-opus-5-5, "
	    "claude-opus-5, claude-opus-4-8, claude-opus-4-7, "
	    "claude-opus-4-6.") && strstr(out, "oauth-model-alias"));
	models_explain(modellist_builtin("codex"), "codex", "gpt-5-codex",
	    out, sizeof out);
	CHECK("explain: Codex list", strstr(out, "the current Codex models "
	    "are gpt-5.6-sol, gpt-5.6-terra, gpt-5.6-luna, gpt-5.5, gpt-5.4."));
}

int
main(void)
{
	test_parse();
	test_effort();
	test_lists();
	test_explain();
	return UNIT_END();
}
