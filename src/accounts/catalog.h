/* catalog: the providers' model catalogs, fetched with an account and
 * kept in auth-dir/models.json (see catalog.c). */
#ifndef CATALOG_H
#define CATALOG_H
#include <stddef.h>
#include <time.h>

#include "parsers/config.h"
#include "parsers/modellist.h"

/* A failed fetch is not tried again for this long, so that a provider
 * that refuses the list is not asked on every /v1/models. */
#define CATALOG_RETRY 600

/* provider's catalog as kept ("claude", "codex"): l->fetched is 0 when it
 * was never fetched (l->m may then be empty). Kept in the process and
 * read again when the file changed; valid until the next call of a
 * catalog_ function. Never NULL. */
const struct modellist *catalog_kept(const struct config *cfg,
    const char *provider);

/* provider's models as served now: the kept catalog when one was ever
 * fetched, else the built-in list (fetched 0). Valid until the next call
 * of a catalog_ function. */
const struct modellist *catalog_models(const struct config *cfg,
    const char *provider);
/* Both at once, valid together until the next call of a catalog_
 * function. */
void catalog_all(const struct config *cfg, const struct modellist **claude,
    const struct modellist **codex);

/* Is the kept list due for a fetch at now: never fetched, older than
 * models-refresh, or marked stale by an answer with another version tag;
 * and no fetch failed within CATALOG_RETRY? */
int catalog_due(const struct config *cfg, const struct modellist *l,
    time_t now);

/* Fetch provider's catalog now (force) or when it is due, within
 * budget_ms, with an account of provider (Claude: an API key when there
 * is one, else a subscription; Codex: a ChatGPT login), and keep it.
 * Another process fetching at the same time is waited for, within the
 * budget, and its list taken. 0 when the kept list is a live one now; -1
 * with err when there is none (no account, a refusal, an error: recorded
 * in the file, so that it is not asked again for CATALOG_RETRY). */
int catalog_fetch(const struct config *cfg, const char *provider,
    int budget_ms, int force, char *err, size_t errlen);

/* An answer from provider carried the catalog's version tag etag: when
 * it is not the kept one, mark the kept list stale (fetched again by the
 * next /v1/models, --refresh or --setup-droid). Never asks upstream. */
void catalog_seen_tag(const struct config *cfg, const char *provider,
    const char *etag);

#endif
