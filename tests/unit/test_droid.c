/* droid_models.c's pure parts: the settings.json merge, the entry check, the
 * model family. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "commands/droid.h"
#include "unit.h"

#define BASE "http://localhost:8317"

static const struct droid_model two[] = {
	{ "claude-sonnet-4-5-20250929", "Sonnet [proxy]", "anthropic", 64000,
	    NULL },
	{ "gpt-5", "GPT-5 [proxy]", "openai", 0, NULL },
};

struct merge_case {
	const char *name;
	const char *in;
	int rc;
	enum droid_change want[2];
	const char *out;        /* the result, cJSON_PrintUnformatted */
};

static const struct merge_case merges[] = {
	{ "empty object", "{}", 0, { DROID_ADDED, DROID_ADDED },
	  "{\"customModels\":[{\"model\":\"claude-sonnet-4-5-20250929\","
	  "\"baseUrl\":\"" BASE "\",\"displayName\":\"Sonnet [proxy]\","
	  "\"apiKey\":\"dummy-not-used\",\"provider\":\"anthropic\","
	  "\"maxOutputTokens\":64000},{\"model\":\"gpt-5\",\"baseUrl\":\""
	  BASE "\",\"displayName\":\"GPT-5 [proxy]\",\"apiKey\":"
	  "\"dummy-not-used\",\"provider\":\"openai\"}]}" },
	{ "other keys and entries kept",
	  "{\"theme\":\"dark\",\"customModels\":[{\"model\":\"gpt-5\","
	  "\"baseUrl\":\"https://api.openai.com/v1\",\"apiKey\":\"sk-x\","
	  "\"provider\":\"openai\"}],\"z\":[1,2]}", 0,
	  { DROID_ADDED, DROID_ADDED },
	  "{\"theme\":\"dark\",\"customModels\":[{\"model\":\"gpt-5\","
	  "\"baseUrl\":\"https://api.openai.com/v1\",\"apiKey\":\"sk-x\","
	  "\"provider\":\"openai\"},{\"model\":\"claude-sonnet-4-5-20250929\","
	  "\"baseUrl\":\"" BASE "\",\"displayName\":\"Sonnet [proxy]\","
	  "\"apiKey\":\"dummy-not-used\",\"provider\":\"anthropic\","
	  "\"maxOutputTokens\":64000},{\"model\":\"gpt-5\",\"baseUrl\":\""
	  BASE "\",\"displayName\":\"GPT-5 [proxy]\",\"apiKey\":"
	  "\"dummy-not-used\",\"provider\":\"openai\"}],\"z\":[1,2]}" },
	{ "ours updated in place, apiKey and extras kept",
	  "{\"customModels\":[{\"model\":\"gpt-5\",\"baseUrl\":\"" BASE "\","
	  "\"displayName\":\"old\",\"apiKey\":\"client-key\",\"provider\":"
	  "\"anthropic\",\"extraHeaders\":{\"a\":\"b\"}},{\"model\":"
	  "\"claude-sonnet-4-5-20250929\",\"baseUrl\":\"" BASE "\","
	  "\"displayName\":\"Sonnet [proxy]\",\"apiKey\":\"dummy-not-used\","
	  "\"provider\":\"anthropic\",\"maxOutputTokens\":64000}]}", 0,
	  { DROID_UNCHANGED, DROID_UPDATED },
	  "{\"customModels\":[{\"model\":\"gpt-5\",\"baseUrl\":\"" BASE "\","
	  "\"displayName\":\"GPT-5 [proxy]\",\"apiKey\":\"client-key\","
	  "\"provider\":\"openai\",\"extraHeaders\":{\"a\":\"b\"}},{\"model\":"
	  "\"claude-sonnet-4-5-20250929\",\"baseUrl\":\"" BASE "\","
	  "\"displayName\":\"Sonnet [proxy]\",\"apiKey\":\"dummy-not-used\","
	  "\"provider\":\"anthropic\",\"maxOutputTokens\":64000}]}" },
	{ "same model on another port is not ours",
	  "{\"customModels\":[{\"model\":\"gpt-5\",\"baseUrl\":"
	  "\"http://localhost:9999\",\"provider\":\"openai\"}]}", 0,
	  { DROID_ADDED, DROID_ADDED }, NULL },
	{ "top level a list", "[1]", -1, { 0, 0 }, "[1]" },
	{ "customModels not a list", "{\"customModels\":{}}", -1, { 0, 0 },
	  "{\"customModels\":{}}" },
};

static void
test_merge(void)
{
	enum droid_change ch[2];
	char name[160], err[128];
	size_t i;

	for (i = 0; i < sizeof merges / sizeof merges[0]; i++) {
		const struct merge_case *c = &merges[i];
		cJSON *root = cJSON_Parse(c->in);
		char *out;
		int rc;

		rc = droid_merge(root, two, 2, BASE, ch, NULL, err, sizeof err);
		snprintf(name, sizeof name, "merge %s: rc", c->name);
		CHECK(name, rc == c->rc);
		if (rc == 0) {
			snprintf(name, sizeof name, "merge %s: changes",
			    c->name);
			CHECK(name, ch[0] == c->want[0] && ch[1] == c->want[1]);
		}
		if (c->out != NULL) {
			out = cJSON_PrintUnformatted(root);
			snprintf(name, sizeof name, "merge %s: result",
			    c->name);
			CHECK_STR(name, out, c->out);
			free(out);
		}
		cJSON_Delete(root);
	}
}

/* A second merge of its own output changes nothing. */
static void
test_idempotent(void)
{
	enum droid_change ch[2];
	char err[128], *a, *b;
	cJSON *root = cJSON_Parse("{\"k\":true}");

	droid_merge(root, two, 2, BASE, ch, NULL, err, sizeof err);
	a = cJSON_PrintUnformatted(root);
	CHECK("idempotent: second merge ok",
	    droid_merge(root, two, 2, BASE, ch, NULL, err, sizeof err) == 0);
	CHECK("idempotent: second run unchanged", ch[0] == DROID_UNCHANGED &&
	    ch[1] == DROID_UNCHANGED);
	b = cJSON_PrintUnformatted(root);
	CHECK_STR("idempotent: same JSON", b, a);
	free(a);
	free(b);
	cJSON_Delete(root);
}

/* What an earlier run wrote for a model not offered now leaves; the
 * user's own entries, for this proxy or not, stay. */
static void
test_gone(void)
{
	enum droid_change ch[2];
	char err[128], *out;
	cJSON *gone = cJSON_CreateArray();
	cJSON *root = cJSON_Parse("{\"customModels\":[{\"model\":"
	    "\"gpt-5-codex-high\",\"baseUrl\":\"" BASE "\",\"displayName\":"
	    "\"GPT-5 Codex High [proxy]\",\"provider\":\"openai\"},"
	    "{\"model\":\"my-own\",\"baseUrl\":\"" BASE "\",\"displayName\":"
	    "\"Mine\",\"provider\":\"openai\"},{\"model\":\"gpt-5\","
	    "\"baseUrl\":\"https://api.openai.com/v1\",\"displayName\":"
	    "\"GPT-5 [proxy]\",\"provider\":\"openai\"}]}");

	CHECK("gone: merge", droid_merge(root, two, 2, BASE, ch, gone, err,
	    sizeof err) == 0);
	out = cJSON_PrintUnformatted(root);
	CHECK("gone: the retired entry of ours left", out &&
	    strstr(out, "gpt-5-codex-high") == NULL);
	CHECK("gone: the user's entries stay", out && strstr(out,
	    "\"my-own\"") && strstr(out, "api.openai.com"));
	CHECK("gone: reported", cJSON_GetArraySize(gone) == 1 &&
	    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(
	    cJSON_GetArrayItem(gone, 0), "model")), "gpt-5-codex-high") == 0);
	free(out);
	cJSON_Delete(gone);
	cJSON_Delete(root);
}

/* The models offered by default: the newest of each Claude family and
 * every Codex model with its efforts, none of them retired. */
static void
test_offer(void)
{
	size_t n = 0, i;
	struct droid_model *v = droid_offer(modellist_builtin("claude"),
	    modellist_builtin("codex"), &n);
	int opus = 0, sol_high = 0, retired = 0, marked = 1;

	for (i = 0; v && i < n; i++) {
		opus += strcmp(v[i].model, "claude-opus-5-5") == 0;
		sol_high += strcmp(v[i].model, "gpt-5.6-sol-high") == 0 &&
		    strcmp(v[i].display, "GPT-5.6 Sol High [proxy]") == 0 &&
		    strcmp(v[i].provider, "openai") == 0;
		retired += strcmp(v[i].model, "gpt-5") == 0 ||
		    strncmp(v[i].model, "gpt-5-codex", 11) == 0 ||
		    strncmp(v[i].model, "claude-opus-4-1", 15) == 0;
		marked &= strstr(v[i].display, " [proxy]") != NULL;
	}
	CHECK("offer: newest opus", opus == 1);
	CHECK("offer: efforts as ids", sol_high == 1);
	CHECK("offer: nothing retired", retired == 0 && n > 10);
	CHECK("offer: every name marked ours", marked);
	CHECK("offer: Claude first, three of them", v && n > 3 &&
	    strcmp(v[0].provider, "anthropic") == 0 && strcmp(v[2].provider,
	    "anthropic") == 0 && strcmp(v[3].provider, "openai") == 0 &&
	    v[0].max_tokens == 128000);
	droid_offer_free(v, n);
	v = droid_offer(NULL, modellist_builtin("codex"), &n);
	CHECK("offer: codex only", v && n > 0 && strcmp(v[0].provider,
	    "openai") == 0);
	droid_offer_free(v, n);
}

struct check_case {
	const char *model, *url, *provider;
	int ours, rc;
	const char *why_has, *fix_has;
};

static const struct check_case checks[] = {
	{ "claude-opus-4-1", "http://localhost:8317", "anthropic", 1, 0,
	  "", "" },
	{ "gpt-5", "http://127.0.0.1:8317/", "openai", 1, 0, "", "" },
	{ "gpt-5", "http://[::1]:8317", "openai", 1, 0, "", "" },
	{ "gpt-5", "https://api.openai.com/v1", "openai", 0, 0, "", "" },
	{ "gpt-5", "http://localhost.example:9", "anthropic", 0, 0, "", "" },
	{ "claude-x", "http://localhost:9999", "anthropic", 1, -1,
	  "port 9999 is not the proxy's port 8317",
	  "set the base URL to http://localhost:8317" },
	{ "claude-x", "http://localhost", "anthropic", 1, -1, "port 80", "" },
	{ "gpt-5-codex", "http://localhost:8317", "anthropic", 1, -1,
	  "provider anthropic does not serve OpenAI models",
	  "set provider to openai" },
	{ "o3", "http://localhost:8317", "anthropic", 1, -1, "provider",
	  "set provider to openai" },
	{ "claude-x", "http://LOCALHOST:8317", "openai", 1, -1,
	  "does not serve Claude", "set provider to anthropic" },
	{ "gpt-5", "http://localhost:8317/v1", "openai", 1, -1, "/v1",
	  "set the base URL to http://localhost:8317" },
	{ "gpt-5", "http://localhost:8317/v1/", "openai", 1, -1, "/v1", "" },
	{ "claude-x", "http://localhost:8317/v1", "anthropic", 1, 0, "", "" },
	{ "gpt-5", "http://localhost:9/v1", "anthropic", 1, -1,
	  "port 9 is not",
	  "set the base URL to http://localhost:8317 and set provider to "
	  "openai" },
	{ "mystery", "http://localhost:8317", NULL, 1, -1, "no provider",
	  "anthropic or openai" },
	{ "mystery", "http://localhost:8317", "openai", 1, 0, "", "" },
};

static void
test_check(void)
{
	char name[200], why[512], fix[256];
	size_t i;
	int ours, rc;

	for (i = 0; i < sizeof checks / sizeof checks[0]; i++) {
		const struct check_case *c = &checks[i];

		rc = droid_check(c->model, c->url, c->provider, 8317, &ours,
		    why, sizeof why, fix, sizeof fix);
		snprintf(name, sizeof name, "check %s %s %s", c->model, c->url,
		    c->provider ? c->provider : "(none)");
		CHECK(name, rc == c->rc && ours == c->ours &&
		    strstr(why, c->why_has) != NULL &&
		    strstr(fix, c->fix_has) != NULL);
		if (rc != c->rc || strstr(why, c->why_has) == NULL)
			printf("#   why: %s | fix: %s\n", why, fix);
	}
}

static void
test_family(void)
{
	CHECK_STR("family claude", config_droid_family("claude-haiku-4-5"),
	    "anthropic");
	CHECK_STR("family gpt", config_droid_family("gpt-5-codex"), "openai");
	CHECK_STR("family o4-mini", config_droid_family("o4-mini"), "openai");
	CHECK("family opus-like name", config_droid_family("opus") == NULL);
	CHECK("family unknown", config_droid_family("gemini-2.5-pro") == NULL);
}

/* droid-models in config.yaml: names, mappings, and what is refused. */
static int
load(const char *text, struct config *c, char *err, size_t errlen)
{
	char path[] = "/tmp/test_droid_XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -2;
	close(fd);
	rc = config_load(path, c, err, errlen);
	unlink(path);
	return rc;
}

static void
test_config(void)
{
	struct config c;
	const struct droid_model *m = NULL;
	char err[512] = "";
	size_t n = 0;

	CHECK("config: no list by default", load("port: 1\n", &c, err,
	    sizeof err) == 0 && c.n_droid_models == 0);
	config_free(&c);
	CHECK("config: list", load("droid-models:\n  - gpt-5\n  - {model: "
	    "claude-x, display-name: X, max-output-tokens: 5}\n  - model: y\n"
	    "    provider: anthropic\n", &c, err, sizeof err) == 0 &&
	    (m = c.droid_models) != NULL && (n = c.n_droid_models) == 3);
	if (n == 3) {
		CHECK_STR("config: name only display", m[0].display,
		    "gpt-5 [proxy]");
		CHECK_STR("config: name only provider", m[0].provider,
		    "openai");
		CHECK("config: mapping", strcmp(m[1].display, "X") == 0 &&
		    m[1].max_tokens == 5 && m[0].max_tokens == 0 &&
		    strcmp(m[1].provider, "anthropic") == 0);
		CHECK_STR("config: provider given", m[2].provider,
		    "anthropic");
	}
	config_free(&c);
	CHECK("config: empty list is the default", load("droid-models: []\n",
	    &c, err, sizeof err) == 0 && c.n_droid_models == 0);
	config_free(&c);
	CHECK("config: unknown family refused", load("droid-models:\n"
	    "  - gemini-pro\n", &c, err, sizeof err) == -1 &&
	    strstr(err, ":2:5: droid-models: cannot tell the provider of "
	    "'gemini-pro'") != NULL);
	CHECK("config: bad provider refused", load("droid-models:\n"
	    "  - {model: a, provider: google}\n", &c, err, sizeof err) == -1 &&
	    strstr(err, "provider must be anthropic or openai, not 'google'")
	    != NULL);
	CHECK("config: not a list", load("droid-models: true\n", &c, err,
	    sizeof err) == -1 && strstr(err, ":1:15: droid-models must be a "
	    "list") != NULL);
	CHECK("config: no model", load("droid-models:\n  - {provider: "
	    "openai}\n", &c, err, sizeof err) == -1 && strstr(err,
	    "droid-models entries are model names") != NULL);
	CHECK("config: bad max", load("droid-models:\n  - {model: gpt-5, "
	    "max-output-tokens: -1}\n", &c, err, sizeof err) == -1 &&
	    strstr(err, "max-output-tokens must be a number") != NULL);
}

int
main(void)
{
	test_merge();
	test_idempotent();
	test_gone();
	test_offer();
	test_check();
	test_family();
	test_config();
	return UNIT_END();
}
