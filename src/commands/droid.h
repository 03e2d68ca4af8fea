/* droid: Factory droid's custom models in ~/.factory/settings.json
 * (customModels) and the older ~/.factory/config.json (custom_models).
 * droid_models.c holds the pure parts (the models, the merge, the check),
 * droid.c the command, --setup-droid. */
#ifndef DROID_H
#define DROID_H
#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "parsers/config.h"
#include "parsers/modellist.h"
#include "support/exits.h"

/* What droid_merge did to each model. */
enum droid_change { DROID_ADDED, DROID_UPDATED, DROID_UNCHANGED };

/* The models served now, as droid entries: the newest Opus, Sonnet and
 * Haiku of claude, and each visible model of codex with each of its
 * efforts (gpt-5.6-sol-high, "GPT-5.6 Sol High [proxy]"); either list
 * may be NULL (no account). maxOutputTokens from the catalog. *n set;
 * NULL when out of memory. Free with droid_offer_free. Pure. */
struct droid_model *droid_offer(const struct modellist *claude,
    const struct modellist *codex, size_t *n);
void droid_offer_free(struct droid_model *v, size_t n);

/* Merge m[0..n) into root's customModels as entries with baseUrl base.
 * An entry with the same model and baseUrl is updated in place (displayName,
 * provider, maxOutputTokens; apiKey and every other key kept), a missing
 * one is appended; an entry an earlier run wrote (baseUrl base, its
 * displayName ending in " [proxy]") for a model not in m moves to gone
 * (a cJSON array; NULL: kept); other entries and keys are left alone.
 * change[i] says what happened to m[i]. Pure. 0, or -1 with err (root
 * not an object, customModels not a list: root untouched; or out of
 * memory). */
int droid_merge(cJSON *root, const struct droid_model *m, size_t n,
    const char *base, enum droid_change *change, cJSON *gone, char *err,
    size_t errlen);

/* Check one droid entry against the proxy's port. *ours says whether its
 * base URL points at this machine (localhost, 127.0.0.1, [::1]); only
 * those are checked. 0 when fine (or not ours), -1 with what is wrong in
 * why and what to do in fix: a port other than port, a provider that does
 * not match the model's family, a /v1 at the end of an openai base URL.
 * Pure. */
int droid_check(const char *model, const char *base_url,
    const char *provider, int port, int *ours, char *why, size_t whylen,
    char *fix, size_t fixlen);

/* --setup-droid: write the models of the providers that have a usable
 * account into ~/.factory/settings.json (backup in settings.json.bak),
 * printing one line per model; with dry_run print the resulting JSON and
 * write nothing. Returns an exit code: EXIT_OK, EXIT_DROID or EXIT_SYS. */
int droid_setup(const struct config *cfg, int dry_run, FILE *out);

#endif
