/*
 * config_alias: oauth-model-alias, CLIProxyAPI's map of model aliases,
 * read as its users write it:
 *
 *	oauth-model-alias:
 *	  codex:
 *	    - name: "gpt-5.5"           # the provider's model
 *	      alias: "gpt-5-codex"      # what the client asks for
 *	      fork: true                # list both in /v1/models
 *	  claude:
 *	    - name: "claude-opus-4-8"
 *	      alias: "claude-opus-4-1"
 *
 * Channels this program does not serve (gemini-cli, vertex, antigravity,
 * qwen, ...) are ignored with a warning; an entry without an alias (a
 * name alone) asks for nothing and is skipped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "parsers/config.h"
#include "parsers/config_int.h"
#include "support/log.h"

/* The longest model id kept (struct model's id). */
#define ID_MAX 95

void
config_free_oauth_alias(struct model_alias *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].name);
		free(v[i].alias);
	}
	free(v);
}

/* A model id as it may go into JSON and log lines unquoted. */
static int
model_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (s[i] <= 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\')
			return 0;
	return i > 0 && i <= ID_MAX;
}

/* One {name, alias, fork} entry into out (out->name NULL when it names
 * no alias). 0, or -1 with the error set. */
static int
entry(struct load *ld, const yaml_node_t *n, struct model_alias *out)
{
	const char *name = NULL, *alias = NULL, *k, *v;
	yaml_node_pair_t *p;
	char q[72];

	if (n->type != YAML_MAPPING_NODE) {
		config_errat(ld, n->start_mark, "oauth-model-alias: entries "
		    "are {name, alias, fork} mappings");
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(ld->doc,
		    p->value);

		k = config_scalar(kn);
		v = config_scalar(vn);
		if (k == NULL || v == NULL) {
			config_errat(ld, vn->start_mark, "oauth-model-alias: "
			    "name, alias and fork take plain values");
			return -1;
		}
		if (strcmp(k, "name") == 0)
			name = v;
		else if (strcmp(k, "alias") == 0)
			alias = v;
		else if (strcmp(k, "fork") == 0)
			out->fork = strcmp(v, "true") == 0;
		else
			log_warn("%s:%zu: key '%s' in oauth-model-alias is not "
			    "used; ignored", ld->path, kn->start_mark.line + 1,
			    config_shown(q, sizeof q, k));
	}
	if (name == NULL || !model_id(name) || (alias && *alias &&
	    !model_id(alias))) {
		config_errat(ld, n->start_mark, "oauth-model-alias: name and "
		    "alias are model ids (printable, no spaces or quotes, at "
		    "most %d characters)", ID_MAX);
		return -1;
	}
	if (alias == NULL || *alias == '\0' || strcmp(alias, name) == 0)
		return 0;
	if ((out->name = strdup(name)) == NULL ||
	    (out->alias = strdup(alias)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	return 0;
}

/* One channel's list, appended to v (room for it made by the caller). */
static int
channel(struct load *ld, const char *provider, const yaml_node_t *n,
    struct model_alias *v, size_t *i)
{
	yaml_node_item_t *it;

	if (config_is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE) {
		config_errat(ld, n->start_mark, "oauth-model-alias: %s must be "
		    "a list of {name, alias}", provider);
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		struct model_alias *a = &v[*i];

		memset(a, 0, sizeof *a);
		if (entry(ld, yaml_document_get_node(ld->doc, *it), a) == -1) {
			free(a->name);
			return -1;
		}
		if (a->name == NULL)
			continue;
		snprintf(a->provider, sizeof a->provider, "%s", provider);
		(*i)++;
	}
	return 0;
}

/* Entries in every channel: room for all of them. */
static size_t
count(struct load *ld, const yaml_node_t *n)
{
	yaml_node_pair_t *p;
	size_t c = 0;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		const yaml_node_t *vn = yaml_document_get_node(ld->doc,
		    p->value);

		if (vn->type == YAML_SEQUENCE_NODE)
			c += (size_t)(vn->data.sequence.items.top -
			    vn->data.sequence.items.start);
	}
	return c;
}

int
config_set_oauth_alias(struct load *ld, const struct key *k,
    const yaml_node_t *n)
{
	struct model_alias *v = NULL;
	yaml_node_pair_t *p;
	size_t i = 0;
	char q[72];

	if (config_is_null(n))
		goto done;
	if (n->type != YAML_MAPPING_NODE) {
		config_errat(ld, n->start_mark, "%s must map a provider "
		    "(claude, codex) to a list of {name, alias}", k->name);
		return -1;
	}
	if ((v = calloc(count(ld, n) + 1, sizeof *v)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
		const char *ch = config_scalar(kn);

		if (ch == NULL || (strcmp(ch, "claude") != 0 &&
		    strcmp(ch, "codex") != 0)) {
			log_warn("%s:%zu: oauth-model-alias: channel '%s' is "
			    "not served by this program; ignored", ld->path,
			    kn->start_mark.line + 1,
			    config_shown(q, sizeof q, ch ? ch : "?"));
			continue;
		}
		if (channel(ld, ch, yaml_document_get_node(ld->doc, p->value),
		    v, &i) == -1) {
			config_free_oauth_alias(v, i);
			return -1;
		}
	}
done:
	config_free_oauth_alias(ld->cfg->model_alias, ld->cfg->n_model_alias);
	ld->cfg->model_alias = v;
	ld->cfg->n_model_alias = i;
	return 0;
}
