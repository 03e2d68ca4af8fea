/*
 * config_mapping: the keys whose values are lists of mappings or a
 * mapping: claude-api-key and codex-api-key ({api-key, base-url}),
 * model-aliases (model name to model name) and droid-models (model names
 * or {model, display-name, provider, max-output-tokens}).
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "parsers/config.h"
#include "parsers/config_int.h"
#include "parsers/http.h"
#include "support/log.h"

void
config_free_api_keys(struct api_key *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i].key != NULL) {
			explicit_bzero(v[i].key, strlen(v[i].key));
			free(v[i].key);
		}
		url_free(&v[i].base);
	}
	free(v);
}

/* One member of an {api-key, base-url} entry. The key is a secret: never
 * quoted. */
static int
api_key_pair(struct load *ld, const struct key *k, const yaml_node_t *kn,
    const yaml_node_t *vn, struct api_key *out)
{
	const char *name = config_scalar(kn), *v = config_scalar(vn);
	char why[128], q[72];

	if (name == NULL || v == NULL || config_is_null(vn)) {
		config_errat(ld, vn->start_mark, "%s: api-key and base-url "
		    "must be strings", k->name);
		return -1;
	}
	if (strcmp(name, "api-key") == 0) {
		if (*v == '\0' || out->key != NULL) {
			config_errat(ld, vn->start_mark, "%s: api-key is "
			    "empty or given twice", k->name);
			return -1;
		}
		if (!http_value_safe(v)) {
			config_errat(ld, vn->start_mark, "%s: api-key holds a "
			    "control character (a line break?): it would split "
			    "the upstream request's head", k->name);
			return -1;
		}
		if ((out->key = strdup(v)) == NULL) {
			config_errat(ld, vn->start_mark, "out of memory");
			return -1;
		}
	} else if (strcmp(name, "base-url") == 0) {
		if (*v == '\0')
			return 0;
		url_free(&out->base);
		if (url_parse(v, &out->base, why, sizeof why) == -1) {
			config_errat(ld, vn->start_mark, "%s: base-url: %s",
			    k->name, why);
			return -1;
		}
	} else
		log_warn("%s:%zu: key '%s' in %s is not used; ignored",
		    ld->path, kn->start_mark.line + 1,
		    config_shown(q, sizeof q, name), k->name);
	return 0;
}

/* One {api-key, base-url} entry. */
static int
api_key_entry(struct load *ld, const struct key *k, const yaml_node_t *n,
    struct api_key *out)
{
	const yaml_node_t *kn, *vn;
	yaml_node_pair_t *p;

	if (n->type != YAML_MAPPING_NODE) {
		config_errat(ld, n->start_mark, "%s entries must be mappings "
		    "with api-key and optionally base-url", k->name);
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		kn = yaml_document_get_node(ld->doc, p->key);
		vn = yaml_document_get_node(ld->doc, p->value);
		if (api_key_pair(ld, k, kn, vn, out) == -1)
			return -1;
	}
	if (out->key == NULL) {
		config_errat(ld, n->start_mark, "%s: an entry has no api-key",
		    k->name);
		return -1;
	}
	return 0;
}

/* claude-api-key / codex-api-key: the pointer field is followed by its
 * count in struct config. */
int
config_set_api_keys(struct load *ld, const struct key *k,
    const yaml_node_t *n)
{
	struct api_key **dst = config_field(ld->cfg, k), *v = NULL;
	size_t *count = (size_t *)(void *)(dst + 1), i = 0, want;
	yaml_node_item_t *it;

	if (config_is_null(n))
		goto done;
	if (n->type != YAML_SEQUENCE_NODE) {
		config_errat(ld, n->start_mark, "%s must be a list of "
		    "{api-key, base-url}", k->name);
		return -1;
	}
	want = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if (want > 0 && (v = calloc(want, sizeof *v)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if (api_key_entry(ld, k, yaml_document_get_node(ld->doc, *it),
		    &v[i++]) == -1) {
			config_free_api_keys(v, i);
			return -1;
		}
	}
done:
	config_free_api_keys(*dst, *count);
	*dst = v;
	*count = i;
	return 0;
}

void
config_free_aliases(struct alias *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].from);
		free(v[i].to);
	}
	free(v);
}

int
config_set_aliases(struct load *ld, const struct key *k,
    const yaml_node_t *n)
{
	struct alias *v = NULL;
	yaml_node_pair_t *p;
	size_t i = 0, want;

	if (config_is_null(n))
		goto done;
	if (n->type != YAML_MAPPING_NODE) {
		config_errat(ld, n->start_mark, "%s must be a mapping of "
		    "model names to model names", k->name);
		return -1;
	}
	want = (size_t)(n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start);
	if (want > 0 && (v = calloc(want, sizeof *v)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc,
		    p->key);
		const yaml_node_t *vn = yaml_document_get_node(ld->doc,
		    p->value);
		const char *from = config_scalar(kn), *to = config_scalar(vn);

		if (from == NULL || to == NULL || !*from || !*to ||
		    config_is_null(vn)) {
			config_errat(ld, vn->start_mark, "%s: each alias maps "
			    "a model name to a model name", k->name);
			config_free_aliases(v, i);
			return -1;
		}
		if ((v[i].from = strdup(from)) == NULL ||
		    (v[i].to = strdup(to)) == NULL) {
			i++;
			config_errat(ld, vn->start_mark, "out of memory");
			config_free_aliases(v, i);
			return -1;
		}
		i++;
	}
done:
	config_free_aliases(ld->cfg->aliases, ld->cfg->n_aliases);
	ld->cfg->aliases = v;
	ld->cfg->n_aliases = i;
	return 0;
}

void
config_free_droid_models(struct droid_model *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].own);
	free(v);
}

/* model and display share one allocation: own. */
static int
droid_strings(struct droid_model *d, const char *model, const char *display)
{
	size_t ml = strlen(model) + 1, dl;

	if (display == NULL || *display == '\0')
		dl = ml + sizeof " [proxy]" - 1;
	else
		dl = strlen(display) + 1;
	if ((d->own = malloc(ml + dl)) == NULL)
		return -1;
	memcpy(d->own, model, ml);
	if (display == NULL || *display == '\0')
		snprintf(d->own + ml, dl, "%s [proxy]", model);
	else
		memcpy(d->own + ml, display, dl);
	d->model = d->own;
	d->display = d->own + ml;
	return 0;
}

const char *
config_droid_family(const char *model)
{
	if (strncmp(model, "claude-", 7) == 0)
		return "anthropic";
	if (strncmp(model, "gpt-", 4) == 0 ||
	    (model[0] == 'o' && isdigit((unsigned char)model[1])))
		return "openai";
	return NULL;
}

/* The provider given, or the one the model's family implies. */
static int
droid_provider(struct load *ld, const yaml_node_t *n, const char *model,
    const char *given, struct droid_model *d)
{
	char q[56];

	if (given == NULL)
		d->provider = config_droid_family(model);
	else if (strcmp(given, "anthropic") == 0)
		d->provider = "anthropic";
	else if (strcmp(given, "openai") == 0)
		d->provider = "openai";
	else {
		config_errat(ld, n->start_mark, "droid-models: provider must "
		    "be anthropic or openai%s",
		    config_shown_as(q, sizeof q, given));
		return -1;
	}
	if (d->provider == NULL) {
		config_errat(ld, n->start_mark, "droid-models: cannot tell "
		    "the provider of '%s': give provider: anthropic or openai",
		    config_shown(q, sizeof q, model));
		return -1;
	}
	return 0;
}

/* The members of a {model, ...} entry; the strings stay the document's
 * until droid_strings copies them. */
static int
droid_fields(struct load *ld, const yaml_node_t *n, const char **model,
    const char **display, const char **provider, struct droid_model *d)
{
	static const struct key mt = { "max-output-tokens", K_INT, 0, 1,
	    10000000 };
	const yaml_node_t *kn, *vn;
	const char *name, *s;
	unsigned long long v;
	yaml_node_pair_t *p;
	char q[72];

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		kn = yaml_document_get_node(ld->doc, p->key);
		vn = yaml_document_get_node(ld->doc, p->value);
		name = config_scalar(kn);
		s = config_scalar(vn);
		if (name == NULL || s == NULL || config_is_null(vn)) {
			config_errat(ld, vn->start_mark, "droid-models: "
			    "model, display-name, provider and "
			    "max-output-tokens take plain values");
			return -1;
		}
		if (strcmp(name, "model") == 0)
			*model = s;
		else if (strcmp(name, "display-name") == 0)
			*display = s;
		else if (strcmp(name, "provider") == 0)
			*provider = s;
		else if (strcmp(name, "max-output-tokens") == 0) {
			if (config_number(ld, &mt, vn, &v) == -1)
				return -1;
			d->max_tokens = (int)v;
		} else
			log_warn("%s:%zu: key '%s' in droid-models is not "
			    "used; ignored", ld->path, kn->start_mark.line + 1,
			    config_shown(q, sizeof q, name));
	}
	return 0;
}

/* One droid-models entry: a model name, or {model, display-name,
 * provider, max-output-tokens}. */
static int
droid_entry(struct load *ld, const yaml_node_t *n, struct droid_model *d)
{
	const char *model = config_scalar(n), *display = NULL;
	const char *provider = NULL;

	if (n->type == YAML_MAPPING_NODE) {
		if (droid_fields(ld, n, &model, &display, &provider, d) == -1)
			return -1;
	} else if (config_is_null(n))
		model = NULL;
	if (model == NULL || *model == '\0') {
		config_errat(ld, n->start_mark, "droid-models entries are "
		    "model names or mappings with model and optionally "
		    "display-name, provider and max-output-tokens");
		return -1;
	}
	if (droid_provider(ld, n, model, provider, d) == -1)
		return -1;
	if (droid_strings(d, model, display) == -1) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	return 0;
}

/* droid-models: null or an empty list keeps the built-in list. */
int
config_set_droid_models(struct load *ld, const struct key *k,
    const yaml_node_t *n)
{
	struct droid_model *v = NULL;
	yaml_node_item_t *it;
	size_t i = 0, want;

	if (config_is_null(n))
		goto done;
	if (n->type != YAML_SEQUENCE_NODE) {
		config_errat(ld, n->start_mark, "%s must be a list of model "
		    "names or of {model, display-name, provider, "
		    "max-output-tokens}", k->name);
		return -1;
	}
	want = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if (want > 0 && (v = calloc(want, sizeof *v)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if (droid_entry(ld, yaml_document_get_node(ld->doc, *it),
		    &v[i++]) == -1) {
			config_free_droid_models(v, i);
			return -1;
		}
	}
done:
	config_free_droid_models(ld->cfg->droid_models,
	    ld->cfg->n_droid_models);
	ld->cfg->droid_models = i ? v : NULL;
	ld->cfg->n_droid_models = i;
	if (i == 0)
		free(v);
	return 0;
}
