/*
 * --doctor, the first link: droid's own files, ~/.factory/settings.json
 * (customModels) and the older ~/.factory/config.json (custom_models).
 * Each entry pointing at this machine is checked by droid_check, and must
 * have a usable account behind its provider.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "accounts/catalog.h"
#include "commands/doctor_int.h"
#include "commands/droid.h"
#include "providers/models.h"
#include "support/buf.h"
#include "support/secret.h"

/* One of droid's files and what its entries are checked against. */
struct droid_file {
	const char *path;
	const char *list_key;   /* customModels or custom_models */
	const char *url_key;    /* baseUrl or base_url */
	const struct config *cfg;
	int claude, codex;      /* a usable account of each */
	const struct modellist *cl, *cx; /* the models served now */
};

/* The file parsed, or NULL (said) when it is no JSON. *missing when it
 * cannot be opened. It may hold other providers' API keys: the buffer is
 * wiped. */
static cJSON *
read_json(struct doc *d, const char *path, int *missing)
{
	struct buf b = BUF_SECRET;
	cJSON *root;
	ssize_t r;
	int fd;

	*missing = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*missing = 1;
		return NULL;
	}
	while (buf_reserve(&b, 4096) == 0 &&
	    (r = read(fd, b.p + b.len, b.cap - b.len)) > 0)
		b.len += (size_t)r;
	close(fd);
	root = cJSON_ParseWithLength(b.p ? b.p : "", b.len);
	buf_free(&b);
	if (root == NULL)
		doctor_say(d, DOC_FAIL, "fix its syntax (droid ignores a "
		    "broken file)", "droid: %s is not valid JSON", path);
	return root;
}

/* One entry: -1 when it points here but wrongly (a FAIL); a warning when
 * it is right but no account serves its provider. *ours as droid_check
 * sets it. */
static int
check_entry(struct doc *d, const struct droid_file *f, const cJSON *e,
    int *ours)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "model");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, f->url_key);
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(e, "provider");
	const char *ms = cJSON_IsString(m) ? m->valuestring : "?";
	const char *ps = cJSON_IsString(p) ? p->valuestring : NULL;
	char why[512], fix[160], fix2[200];

	if (droid_check(ms, cJSON_IsString(u) ? u->valuestring : NULL, ps,
	    f->cfg->port, ours, why, sizeof why, fix, sizeof fix) == -1) {
		snprintf(fix2, sizeof fix2, "%s (or run cli-proxy-api "
		    "--setup-droid)", fix);
		doctor_say(d, DOC_FAIL, fix2, "droid: %s: model %s (%s): %s",
		    f->path, ms, cJSON_IsString(u) ? u->valuestring : "?",
		    why);
		return -1;
	}
	if (*ours && ps != NULL && !(strcmp(ps, "openai") == 0 ? f->codex :
	    f->claude))
		doctor_say(d, DOC_WARN, strcmp(ps, "openai") == 0 ? "run "
		    "cli-proxy-api --codex-login" : "run cli-proxy-api "
		    "--claude-login", "droid: %s: model %s: no usable "
		    "%s account to serve it", f->path, ms,
		    strcmp(ps, "openai") == 0 ? "codex" : "claude");
	else if (*ours && ps != NULL && !models_serves(f->cfg, strcmp(ps,
	    "openai") == 0 ? f->cx : f->cl, strcmp(ps, "openai") == 0 ?
	    "codex" : "claude", ms))
		doctor_say(d, DOC_WARN, "run cli-proxy-api --setup-droid to "
		    "write the models served now (or map the name with "
		    "oauth-model-alias)", "droid: %s: model %s is not in the "
		    "%s model list (%s): retired, or misspelt", f->path, ms,
		    strcmp(ps, "openai") == 0 ? "Codex" : "Claude",
		    (strcmp(ps, "openai") == 0 ? f->cx : f->cl)->fetched ?
		    "the provider's catalog" : "built in");
	return 0;
}

/* Returns how many entries point at this proxy, or -1 when the file
 * cannot be opened. */
static int
check_droid_file(struct doc *d, const struct droid_file *f)
{
	const cJSON *list, *e;
	cJSON *root;
	int missing, ours, n = 0, bad = 0;

	if ((root = read_json(d, f->path, &missing)) == NULL)
		return missing ? -1 : 0;
	list = cJSON_GetObjectItemCaseSensitive(root, f->list_key);
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(e, list) {
		if (check_entry(d, f, e, &ours) == -1)
			bad++;
		n += ours;
	}
	if (n > 0 && bad == 0)
		doctor_say(d, DOC_OK, NULL, "droid: %s: %d model%s for this "
		    "proxy, port, provider and base URL right", f->path, n,
		    n == 1 ? "" : "s");
	secret_json_delete(root);
	return n;
}

void
doctor_droid(struct doc *d, const struct config *cfg, int claude, int codex)
{
	char *s = config_expand_home("~/.factory/settings.json");
	char *c = config_expand_home("~/.factory/config.json");
	struct droid_file sf = { s, "customModels", "baseUrl", cfg, claude,
	    codex, NULL, NULL };
	struct droid_file cf;
	char err[1200];
	int a = -1, b = -1;

	/* The lists as served now: fetched first when due. */
	if (claude && catalog_fetch(cfg, "claude", 5000, 0, err,
	    sizeof err) == -1)
		doctor_say(d, DOC_WARN, NULL, "models: the Claude catalog "
		    "could not be fetched (%s); checking against the %s list",
		    err, catalog_kept(cfg, "claude")->n ? "kept" : "built-in");
	if (codex && catalog_fetch(cfg, "codex", 5000, 0, err,
	    sizeof err) == -1)
		doctor_say(d, DOC_WARN, NULL, "models: the Codex catalog "
		    "could not be fetched (%s); checking against the %s list",
		    err, catalog_kept(cfg, "codex")->n ? "kept" : "built-in");
	catalog_all(cfg, &sf.cl, &sf.cx);
	cf = sf;
	cf.path = c;
	cf.list_key = "custom_models";
	cf.url_key = "base_url";

	if (s != NULL)
		a = check_droid_file(d, &sf);
	if (c != NULL)
		b = check_droid_file(d, &cf);
	if (a == -1 && b == -1)
		doctor_say(d, DOC_WARN, "run cli-proxy-api --setup-droid",
		    "droid: %s does not exist",
		    s ? s : "~/.factory/settings.json");
	else if (a <= 0 && b <= 0)
		doctor_say(d, DOC_WARN, "run cli-proxy-api --setup-droid",
		    "droid: no custom model in %s%s points at this proxy",
		    s ? s : "~/.factory/settings.json", b >= 0 ?
		    " or config.json" : "");
	free(s);
	free(c);
}
