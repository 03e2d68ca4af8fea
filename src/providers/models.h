/* models: the models this proxy serves, read against the list in force
 * (catalog_models): GET /v1/models in both shapes, effort suffixes,
 * aliases, and what to say of a model the provider refuses. Pure. */
#ifndef MODELS_H
#define MODELS_H
#include <stddef.h>

#include "parsers/config.h"
#include "parsers/modellist.h"
#include "support/buf.h"

/* The model oauth-model-alias (then, for codex, model-aliases) serves
 * for id on provider's routes, or NULL when id is no alias. */
const char *models_alias(const struct config *cfg, const char *provider,
    const char *id);

/* The reasoning efforts a suffix may name, "gpt-5.5-high". */
int models_is_effort(const char *word);
/* A Codex model id read against l: the id itself when l has it; else
 * MODEL-EFFORT when the effort is a known word: *effort set (its room
 * 12 bytes) and base cut from id into base. -1 with why (a sentence
 * naming the model's efforts) when l has the base model and it does not
 * take that effort. 0 otherwise, *effort "" when there is none. */
int models_effort(const struct modellist *l, const char *id, char *base,
    size_t baselen, char *effort, char *why, size_t whylen);

/* Does provider serve id, as l and the aliases say: l has it (Claude: or
 * a dated id it names, claude-haiku-4-5 for claude-haiku-4-5-20251001),
 * or it is an alias, or a Codex MODEL-EFFORT of a model l has? */
int models_serves(const struct config *cfg, const struct modellist *l,
    const char *provider, const char *id);

/* A Codex model id as the backend takes it: its alias (when id is one),
 * else its effort suffix read against l and then the alias of the base
 * (gpt-5-codex-high, gpt-5-codex an alias of gpt-5.5: gpt-5.5, high).
 * model gets the model to send, effort (12 bytes) the effort or "",
 * alias_of the alias's target or "". -1 with why when the model does not
 * take the effort; else 0. */
int models_resolve(const struct config *cfg, const struct modellist *l,
    const char *id, char *model, size_t modellen, char *effort,
    char *alias_of, size_t aliaslen, char *why, size_t whylen);

/* GET /v1/models in OpenAI's shape: {"object":"list","data":[{"id",
 * "object":"model","created","owned_by"}]}: Claude's models when claude,
 * Codex's (each effort as MODEL-EFFORT too) when codex, the aliases
 * among them; hidden models left out. 0 or -1 (ENOMEM). */
int models_openai(const struct config *cfg, const struct modellist *claude,
    const struct modellist *codex, struct buf *out);
/* Anthropic's shape, Claude's models (and aliases) only, newest first:
 * {"data":[{"type":"model","id","display_name","created_at",
 * "max_input_tokens","max_tokens"}],"has_more","first_id","last_id"};
 * query: the request's query string (limit, after_id, before_id), or
 * NULL. 0 or -1 (ENOMEM). */
int models_anthropic(const struct config *cfg, const struct modellist *l,
    const char *query, size_t qlen, struct buf *out);

/* One sentence for a client whose model the provider refused: the
 * current models of its family (Claude: Opus, Sonnet, Haiku, ...; Codex:
 * its list), from l, and how to keep an old name working. */
void models_explain(const struct modellist *l, const char *provider,
    const char *asked, char *out, size_t outlen);

#endif
