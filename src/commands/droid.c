/*
 * droid: --setup-droid, the custom models Factory's droid needs to reach
 * this proxy, written into ~/.factory/settings.json.
 *
 * droid reads settings.json (customModels, camelCase) and the older
 * ~/.factory/config.json (custom_models, snake_case). --setup-droid writes
 * only the first: it plans (which models, which file), merges them in
 * (droid_models.c: what an entry holds) and writes the result after a
 * backup, or with --dry-run only prints it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/catalog.h"
#include "accounts/view.h"
#include "commands/droid.h"
#include "commands/settings.h"
#include "support/secret.h"

#define FETCH_MS	10000   /* to fetch a catalog that is due */

/* The models of the providers that have a usable account: droid-models
 * from the config, else those served now (their catalogs fetched first
 * when due). n set; NULL when out of memory. */
static struct droid_model *
pick_models(const struct config *cfg, size_t *n)
{
	int claude = view_has_usable(cfg, "claude");
	int codex = view_has_usable(cfg, "codex");
	const struct modellist *cl, *cx;
	struct droid_model *v;
	char err[1200];
	size_t i;

	*n = 0;
	if (cfg->n_droid_models > 0) {
		if ((v = calloc(cfg->n_droid_models, sizeof *v)) == NULL)
			return NULL;
		for (i = 0; i < cfg->n_droid_models; i++)
			if (strcmp(cfg->droid_models[i].provider,
			    "anthropic") == 0 ? claude : codex) {
				v[*n] = cfg->droid_models[i];
				v[(*n)++].own = NULL;
			}
		return v;
	}
	if (claude && catalog_fetch(cfg, "claude", FETCH_MS, 0, err,
	    sizeof err) == -1)
		fprintf(stderr, "cli-proxy-api: the Claude model list could "
		    "not be fetched (%s): offering the %s one\n", err,
		    catalog_kept(cfg, "claude")->n ? "last kept" : "built-in");
	if (codex && catalog_fetch(cfg, "codex", FETCH_MS, 0, err,
	    sizeof err) == -1)
		fprintf(stderr, "cli-proxy-api: the Codex model list could "
		    "not be fetched (%s): offering the %s one\n", err,
		    catalog_kept(cfg, "codex")->n ? "last kept" : "built-in");
	catalog_all(cfg, &cl, &cx);
	return droid_offer(claude ? cl : NULL, codex ? cx : NULL, n);
}

static void
report(FILE *out, const struct droid_model *m, const enum droid_change *ch,
    size_t n, const cJSON *gone)
{
	static const char *const word[] = { "added", "updated", "unchanged" };
	const cJSON *e;
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(out, "%-9s %s (%s, %s)\n", word[ch[i]], m[i].model,
		    m[i].display, m[i].provider);
	cJSON_ArrayForEach(e, gone)
		fprintf(out, "%-9s %s (%s: not served now)\n", "removed",
		    cJSON_GetStringValue(cJSON_GetObjectItem(e, "model")),
		    cJSON_GetStringValue(cJSON_GetObjectItem(e,
		    "displayName")));
}

/* ----------------------------------------------------------------- run */

/* One --setup-droid: what it offers droid and the file it merges into. */
struct setup {
	struct droid_model *pick;       /* the models offered */
	enum droid_change *ch;          /* what the merge did to each */
	size_t n;
	cJSON *gone;                    /* our old entries taken out */
	struct settings set;            /* settings.json */
	char *json;                     /* merged, printed */
};

/* The models to offer. EXIT_OK, EXIT_DROID when no account is usable, or
 * EXIT_SYS (said on stderr). */
static int
setup_plan(const struct config *cfg, struct setup *s)
{
	if ((s->pick = pick_models(cfg, &s->n)) == NULL ||
	    (s->ch = calloc(s->n + 1, sizeof *s->ch)) == NULL ||
	    (s->gone = cJSON_CreateArray()) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		return EXIT_SYS;
	}
	if (s->n == 0) {
		fprintf(stderr, "cli-proxy-api: no usable account in %s, so no "
		    "model to offer droid: log in first with cli-proxy-api "
		    "--claude-login or --codex-login (cli-proxy-api --doctor "
		    "says why an account is not usable); nothing was "
		    "changed\n", cfg->auth_dir);
		return EXIT_DROID;
	}
	return EXIT_OK;
}

/* Read the file, merge the models in and print the result into s->json.
 * EXIT_OK, EXIT_DROID when the file is no settings we can merge into, or
 * EXIT_SYS (said on stderr). */
static int
setup_merge(const struct config *cfg, struct setup *s)
{
	char err[PATH_MAX + 256] = "", base[48];
	int rc;

	if ((rc = settings_load(&s->set, "~/.factory/settings.json", err,
	    sizeof err)) != 0) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		return rc == 1 ? EXIT_DROID : EXIT_SYS;
	}
	snprintf(base, sizeof base, "http://localhost:%d", cfg->port);
	if (droid_merge(s->set.root, s->pick, s->n, base, s->ch, s->gone, err,
	    sizeof err) == -1) {
		fprintf(stderr, "cli-proxy-api: %s: %s; nothing was changed\n",
		    s->set.path, err);
		return EXIT_DROID;
	}
	if ((s->json = settings_print(&s->set)) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		return EXIT_SYS;
	}
	return EXIT_OK;
}

/* Replace the file, the old one kept in .bak, unless nothing changes;
 * what happened to each model and to the file on out. */
static int
setup_write(struct setup *s, FILE *out)
{
	char err[PATH_MAX + 256] = "";
	size_t i, changed;

	report(out, s->pick, s->ch, s->n, s->gone);
	changed = (size_t)cJSON_GetArraySize(s->gone);
	for (i = 0; i < s->n; i++)
		changed += s->ch[i] != DROID_UNCHANGED;
	if (changed == 0 && s->set.existed) {
		fprintf(out, "%s: nothing to change\n", s->set.path);
		return EXIT_OK;
	}
	if (settings_write(&s->set, s->json, err, sizeof err) == -1) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		return EXIT_SYS;
	}
	fprintf(out, "wrote %s%s%s%s\n", s->set.path, s->set.existed ?
	    " (the old one is in " : "", s->set.existed ? s->set.path : "",
	    s->set.existed ? ".bak)" : "");
	return EXIT_OK;
}

int
droid_setup(const struct config *cfg, int dry_run, FILE *out)
{
	struct setup s;
	int rc;

	memset(&s, 0, sizeof s);
	if ((rc = setup_plan(cfg, &s)) != EXIT_OK ||
	    (rc = setup_merge(cfg, &s)) != EXIT_OK)
		goto out;
	if (dry_run) {
		/* stdout stays pure JSON for a pipe; the summary goes aside. */
		report(stderr, s.pick, s.ch, s.n, s.gone);
		printf("%s", s.json);
	} else
		rc = setup_write(&s, out);
out:
	/* The settings may hold other providers' API keys. */
	if (s.json != NULL)
		explicit_bzero(s.json, strlen(s.json));
	free(s.json);
	secret_json_delete(s.gone);
	settings_free(&s.set);
	droid_offer_free(s.pick, s.n);
	free(s.ch);
	return rc;
}
