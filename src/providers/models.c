/*
 * The models this proxy serves. The providers' catalogs say which
 * (catalog.c keeps them); until one was fetched, the built-in list
 * (modellist.c) stands. Every answer, suffix and explanation here reads
 * whichever list is current, so a retired model leaves the proxy when it
 * leaves the catalog.
 *
 * Pure: the list to read is the caller's (catalog_models).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "providers/models.h"
#include "support/timefmt.h"
#include "support/url.h"

/* Codex's catalog gives no dates: GPT-5's release stands for all. */
#define CODEX_CREATED 1754524800LL

/* ----------------------------------------------------------------- names */

const char *
models_alias(const struct config *cfg, const char *provider, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->n_model_alias; i++)
		if (strcmp(cfg->model_alias[i].provider, provider) == 0 &&
		    strcmp(cfg->model_alias[i].alias, id) == 0)
			return cfg->model_alias[i].name;
	for (i = 0; strcmp(provider, "codex") == 0 && i < cfg->n_aliases; i++)
		if (strcmp(cfg->aliases[i].from, id) == 0)
			return cfg->aliases[i].to;
	return NULL;
}

int
models_is_effort(const char *w)
{
	static const char *const efforts[] = { "none", "minimal", "low",
	    "medium", "high", "xhigh", "max", "ultra", NULL };
	const char *const *e;

	for (e = efforts; *e; e++)
		if (strcmp(w, *e) == 0)
			return 1;
	return 0;
}

int
models_effort(const struct modellist *l, const char *id, char *base,
    size_t baselen, char *effort, char *why, size_t whylen)
{
	const char *dash = strrchr(id, '-');
	const struct model *m;
	size_t i, at;

	effort[0] = '\0';
	snprintf(base, baselen, "%s", id);
	if (modellist_find(l, id) || dash == NULL || dash == id ||
	    !models_is_effort(dash + 1) || strlen(dash + 1) >= 12)
		return 0;
	base[(size_t)(dash - id) < baselen ? (size_t)(dash - id) :
	    baselen - 1] = '\0';
	snprintf(effort, 12, "%s", dash + 1);
	if ((m = modellist_find(l, base)) == NULL || m->nefforts == 0 ||
	    model_has_effort(m, effort))
		return 0;
	at = (size_t)snprintf(why, whylen, "%s does not take reasoning effort "
	    "%s; it takes ", base, effort);
	for (i = 0; i < (size_t)m->nefforts && at < whylen; i++)
		at += (size_t)snprintf(why + at, whylen - at, "%s%s-%s",
		    i == 0 ? "" : i + 1 == (size_t)m->nefforts ? " or " : ", ",
		    base, m->efforts[i]);
	if (at < whylen)
		snprintf(why + at, whylen - at, " (or %s alone, effort %s)",
		    base, m->default_effort[0] ? m->default_effort : "medium");
	return -1;
}

int
models_serves(const struct config *cfg, const struct modellist *l,
    const char *provider, const char *id)
{
	char base[128], effort[12], why[256];
	size_t i, n = strlen(id);

	if (models_alias(cfg, provider, id) || modellist_find(l, id))
		return 1;
	if (strcmp(provider, "codex") == 0)
		return models_effort(l, id, base, sizeof base, effort, why,
		    sizeof why) == 0 && effort[0] && modellist_find(l, base);
	/* Anthropic's aliases without the date: claude-haiku-4-5. */
	for (i = 0; i < l->n; i++)
		if (strncmp(l->m[i].id, id, n) == 0 &&
		    strncmp(l->m[i].id + n, "-20", 3) == 0)
			return 1;
	return 0;
}

int
models_resolve(const struct config *cfg, const struct modellist *l,
    const char *id, char *model, size_t modellen, char *effort,
    char *alias_of, size_t aliaslen, char *why, size_t whylen)
{
	const char *to = models_alias(cfg, "codex", id);
	char both[160], eff[12];

	alias_of[0] = '\0';
	if (to && strlen(to) >= modellen) {
		snprintf(why, whylen, "the model alias of %s is too long", id);
		return -1;
	}
	if (to)
		snprintf(alias_of, aliaslen, "%s", to);
	if (models_effort(l, to ? to : id, model, modellen, effort, why,
	    whylen) == -1)
		return -1;
	if (to || !effort[0] || (to = models_alias(cfg, "codex", model)) ==
	    NULL)
		return 0;
	/* An alias with an effort suffix: the client's effort on the
	 * alias's model (its own suffix, if any, set aside). */
	snprintf(alias_of, aliaslen, "%s", to);
	if (models_effort(l, to, both, sizeof both, eff, why, whylen) == -1)
		return -1;
	snprintf(both + strlen(both), sizeof both - strlen(both), "-%s",
	    effort);
	return models_effort(l, both, model, modellen, effort, why, whylen);
}

/* ---------------------------------------------------------------- lists */

/* One id to list: a model, or an alias standing for one (m its model, or
 * NULL when the catalog does not have it). */
struct entry {
	const char *id;
	const struct model *m;
};

/* Is the model called id replaced in the list by an alias without fork? */
static int
renamed(const struct config *cfg, const char *provider, const char *id)
{
	size_t i;

	for (i = 0; i < cfg->n_model_alias; i++)
		if (!cfg->model_alias[i].fork &&
		    strcmp(cfg->model_alias[i].provider, provider) == 0 &&
		    strcmp(cfg->model_alias[i].name, id) == 0)
			return 1;
	return 0;
}

/* What provider lists, in order: its visible models (each followed by the
 * aliases of it), then aliases of models it does not have. *n set; the
 * caller frees. NULL when out of memory. */
static struct entry *
entries(const struct config *cfg, const char *provider,
    const struct modellist *l, size_t *n)
{
	struct entry *e = calloc(l->n + cfg->n_model_alias + 1, sizeof *e);
	size_t i, k;

	*n = 0;
	if (e == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		if (l->m[i].hidden)
			continue;
		if (!renamed(cfg, provider, l->m[i].id))
			e[(*n)++] = (struct entry){ l->m[i].id, &l->m[i] };
		for (k = 0; k < cfg->n_model_alias; k++)
			if (strcmp(cfg->model_alias[k].provider, provider) == 0
			    && strcmp(cfg->model_alias[k].name, l->m[i].id) == 0)
				e[(*n)++] = (struct entry){
				    cfg->model_alias[k].alias, &l->m[i] };
	}
	for (k = 0; k < cfg->n_model_alias; k++)
		if (strcmp(cfg->model_alias[k].provider, provider) == 0 &&
		    modellist_find(l, cfg->model_alias[k].name) == NULL)
			e[(*n)++] = (struct entry){ cfg->model_alias[k].alias,
			    NULL };
	return e;
}

static int
openai_entry(struct buf *out, int *first, const char *id, const char *eff,
    long long created, const char *owner)
{
	int rc = buf_addf(out, "%s{\"id\":\"%s%s%s\",\"object\":\"model\","
	    "\"created\":%lld,\"owned_by\":\"%s\"}", *first ? "" : ",", id,
	    eff ? "-" : "", eff ? eff : "", created, owner);

	*first = 0;
	return rc;
}

/* provider's entries in OpenAI's shape; Codex's efforts as MODEL-EFFORT
 * after each model. */
static int
openai_list(const struct config *cfg, const char *provider,
    const struct modellist *l, int *first, struct buf *out)
{
	int codex = strcmp(provider, "codex") == 0, rc = 0, i;
	const char *owner = codex ? "openai" : "anthropic";
	struct entry *e;
	size_t n, k;

	if ((e = entries(cfg, provider, l, &n)) == NULL)
		return -1;
	for (k = 0; k < n && rc == 0; k++) {
		long long t = e[k].m && e[k].m->created ? e[k].m->created :
		    CODEX_CREATED;

		rc = openai_entry(out, first, e[k].id, NULL, t, owner);
		for (i = 0; codex && e[k].m && i < e[k].m->nefforts &&
		    rc == 0; i++)
			rc = openai_entry(out, first, e[k].id,
			    e[k].m->efforts[i], t, owner);
	}
	free(e);
	return rc;
}

int
models_openai(const struct config *cfg, const struct modellist *claude,
    const struct modellist *codex, struct buf *out)
{
	int first = 1;

	if (buf_adds(out, "{\"object\":\"list\",\"data\":[") == -1 ||
	    (claude && openai_list(cfg, "claude", claude, &first, out) == -1) ||
	    (codex && openai_list(cfg, "codex", codex, &first, out) == -1))
		return -1;
	return buf_adds(out, "]}");
}

/* name=value of a query string into out (at most outlen - 1 bytes,
 * decoded); 0 when absent. */
static int
query_get(const char *q, size_t qlen, const char *name, char *out,
    size_t outlen)
{
	size_t nl = strlen(name), i = 0, end;
	char *v;
	int bad;

	while (q && i < qlen) {
		for (end = i; end < qlen && q[end] != '&'; end++)
			;
		if (end - i > nl && memcmp(q + i, name, nl) == 0 &&
		    q[i + nl] == '=') {
			if ((v = url_pct_decode(q + i + nl + 1, end - i - nl - 1,
			    0, &bad)) == NULL)
				return 0;
			snprintf(out, outlen, "%s", v);
			free(v);
			return 1;
		}
		i = end + 1;
	}
	return 0;
}

/* Where the page starts and ends in e[0..n): after_id, before_id, limit
 * (Anthropic's default 20, at most 1000). */
static void
page(const struct entry *e, size_t n, const char *q, size_t qlen,
    size_t *from, size_t *to)
{
	char v[128];
	long limit = 20;
	size_t i;

	*from = 0;
	*to = n;
	if (query_get(q, qlen, "limit", v, sizeof v))
		limit = strtol(v, NULL, 10);
	limit = limit < 1 ? 1 : limit > 1000 ? 1000 : limit;
	if (query_get(q, qlen, "after_id", v, sizeof v))
		for (i = 0; i < n; i++)
			if (strcmp(e[i].id, v) == 0)
				*from = i + 1;
	if (query_get(q, qlen, "before_id", v, sizeof v)) {
		for (i = 0; i < n; i++)
			if (strcmp(e[i].id, v) == 0)
				*to = i;
		if (*to - *from > (size_t)limit && *to > *from)
			*from = *to - (size_t)limit;
	}
	if (*to > *from && *to - *from > (size_t)limit)
		*to = *from + (size_t)limit;
	if (*from > *to)
		*from = *to;
}

int
models_anthropic(const struct config *cfg, const struct modellist *l,
    const char *q, size_t qlen, struct buf *out)
{
	struct entry *e;
	size_t n, from, to, k;
	char when[32];
	int rc = -1;

	if ((e = entries(cfg, "claude", l, &n)) == NULL)
		return -1;
	page(e, n, q, qlen, &from, &to);
	if (buf_adds(out, "{\"data\":[") == -1)
		goto out;
	for (k = from; k < to; k++) {
		const struct model *m = e[k].m;

		timefmt_format(m && m->created ? (time_t)m->created : 0, when,
		    sizeof when);
		if (buf_addf(out, "%s{\"type\":\"model\",\"id\":\"%s\","
		    "\"display_name\":\"%s\",\"created_at\":\"%s\"",
		    k == from ? "" : ",", e[k].id, m && m->display[0] ?
		    m->display : e[k].id, when) == -1 || (m && m->context &&
		    buf_addf(out, ",\"max_input_tokens\":%ld", m->context) ==
		    -1) || (m && m->max_out && buf_addf(out, ",\"max_tokens\":"
		    "%ld", m->max_out) == -1) || buf_adds(out, "}") == -1)
			goto out;
	}
	if (from == to)
		rc = buf_addf(out, "],\"has_more\":false,\"first_id\":null,"
		    "\"last_id\":null}");
	else
		rc = buf_addf(out, "],\"has_more\":%s,\"first_id\":\"%s\","
		    "\"last_id\":\"%s\"}", to < n ? "true" : "false",
		    e[from].id, e[to - 1].id);
out:
	free(e);
	return rc;
}

/* ---------------------------------------------------------- explanation */

/* Claude's family of id: "opus" of claude-opus-4-1-20250805, into fam
 * with the dashes around it ("-opus-"); "" when id says none. */
static void
family(const char *id, char *fam, size_t n)
{
	const char *p = strncmp(id, "claude-", 7) == 0 ? id + 6 : NULL;
	size_t k = p ? strcspn(p + 1, "-") : 0;

	fam[0] = '\0';
	if (p && k > 0 && k + 3 < n && p[1 + k] == '-' && (p[1] < '0' ||
	    p[1] > '9'))
		snprintf(fam, n, "%.*s", (int)k + 2, p);
}

void
models_explain(const struct modellist *l, const char *provider,
    const char *asked, char *out, size_t outlen)
{
	int codex = strcmp(provider, "codex") == 0;
	char fam[32], word[32] = "", names[600] = "";
	size_t i, k = 0, at = 0;
	int pass;

	family(asked, fam, sizeof fam);
	if (fam[0]) {
		snprintf(word, sizeof word, " %.*s", (int)strlen(fam) - 2,
		    fam + 1);
		if (word[1] >= 'a' && word[1] <= 'z')
			word[1] = (char)(word[1] - 'a' + 'A');
	}
	/* Its family first; when the catalog has none of it, the whole
	 * list's head. */
	for (pass = fam[0] ? 0 : 1; pass < 2 && k == 0; pass++)
		for (i = 0; i < l->n && k < 5; i++) {
			if (l->m[i].hidden || (pass == 0 &&
			    strstr(l->m[i].id, fam) == NULL))
				continue;
			at += (size_t)snprintf(names + at, sizeof names - at,
			    "%s%s", k ? ", " : "", l->m[i].id);
			if (at >= sizeof names)
				at = sizeof names - 1;
			k++;
		}
	snprintf(out, outlen, "(cli-proxy-api: %s is not served by %s now; "
	    "the current %s%s models are %s. Pick one in the client, or "
	    "map the old name to one with oauth-model-alias in config.yaml; "
	    "GET /v1/models lists them all.)", asked, codex ?
	    "the Codex backend" : "Anthropic", codex ? "Codex" : "Claude",
	    word, k ? names : "(none known)");
}
