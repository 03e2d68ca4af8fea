/* modellist: a provider's models as its catalog gives them, read from its
 * own answers (Codex's /models, Anthropic's /v1/models) and from the copy
 * kept in auth-dir/models.json. Pure: buffers in, structures out. */
#ifndef MODELLIST_H
#define MODELLIST_H
#include <stddef.h>
#include <time.h>

#include "support/buf.h"

#define MODEL_EFFORTS 8

/* One model. */
struct model {
	char id[96];            /* what a client asks for: "gpt-5.6-sol" */
	char display[96];       /* "GPT-5.6 Sol"; "" when not given */
	long long created;      /* epoch seconds; 0 when unknown */
	long context;           /* input window in tokens; 0 unknown */
	long max_out;           /* output limit in tokens; 0 unknown */
	char efforts[MODEL_EFFORTS][12]; /* reasoning efforts it takes */
	int nefforts;
	char default_effort[12];
	int hidden;             /* the catalog says visibility "hide" */
	int priority;           /* Codex's order (lower first); 0 unknown */
};

/* A provider's list and where it came from. */
struct modellist {
	struct model *m;
	size_t n;
	time_t fetched;         /* 0: never fetched (built in) */
	time_t tried;           /* the last fetch that failed, or 0 */
	char error[256];        /* and why */
	char etag[160];         /* the catalog's version tag, or "" */
	int stale;              /* an answer carried another tag */
	char client_version[32]; /* Codex: what the catalog was asked for */
};

/* Codex's GET /models answer, {"models":[{"slug","display_name",
 * "context_window","supported_reasoning_levels":[{"effort"}],
 * "default_reasoning_level","visibility","priority",...}]}, appended to
 * l, in the catalog's order (by priority). 0, or -1 with why when it is
 * no such list. */
int modellist_parse_codex(const char *json, size_t len, struct modellist *l,
    const char **why);
/* One page of Anthropic's GET /v1/models, {"data":[{"type":"model","id",
 * "display_name","created_at","max_input_tokens","max_tokens"}],
 * "has_more","last_id"}, appended to l; *more and last (the id to ask
 * after) tell whether another page follows. 0, or -1 with why. */
int modellist_parse_anthropic(const char *json, size_t len,
    struct modellist *l, int *more, char *last, size_t lastlen,
    const char **why);

/* auth-dir/models.json: {"claude":{...},"codex":{...}}, one object per
 * provider with fetched, tried, error, etag, stale, client_version and
 * models [{id, display_name, created, context, max_output, efforts,
 * default_effort, hidden, priority}]. Read provider's list out of the
 * file's bytes into l (empty when the file has none). 0, or -1 when the
 * bytes are not such a file. */
int modellist_from_file(const char *json, size_t len, const char *provider,
    struct modellist *l);
/* The file's bytes with provider's list replaced by l (old: the file as
 * it was, or NULL), into out. 0 or -1 (ENOMEM). */
int modellist_to_file(const char *old, size_t oldlen, const char *provider,
    const struct modellist *l, struct buf *out);

/* The models of 2026 as their makers announced them, for provider
 * ("claude", "codex"), until a catalog was fetched (fetched 0). */
const struct modellist *modellist_builtin(const char *provider);

/* Append a copy of m to l. 0 or -1 (ENOMEM). */
int modellist_add(struct modellist *l, const struct model *m);
/* The model called id in l, or NULL. */
const struct model *modellist_find(const struct modellist *l,
    const char *id);
/* Does m take effort e? */
int model_has_effort(const struct model *m, const char *e);
void modellist_free(struct modellist *l);

#endif
