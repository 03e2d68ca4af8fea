/*
 * config_int: what config.c (the key table, the walk, the load),
 * config_scalar.c (the typed setters of scalar keys) and config_mapping.c
 * (the keys holding lists of mappings) share. Only those three include it.
 *
 * It names struct config and the entry types without including config.h,
 * so that config.c including it does not make the two depend on each
 * other.
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H
#include <stddef.h>
#include <yaml.h>

struct alias;
struct api_key;
struct config;
struct droid_model;
struct model_alias;

/* auth-dir when config.yaml names none. */
#define CONFIG_AUTH_DIR "~/.cli-proxy-api"

enum ktype {
	K_INT,		/* int field, min..max */
	K_SIZE,		/* size_t field, min..max */
	K_BOOL,		/* int field, 0 or 1 */
	K_HOST,		/* char * field; "" or null: NULL */
	K_PATH,		/* char * field, ~ expanded */
	K_KEYS,		/* api_keys and n_api_keys */
	K_URL,		/* struct url field */
	K_PROXY,	/* struct proxy field */
	K_APIKEYS,	/* list of {api-key, base-url}: claude_keys, codex_keys */
	K_ALIASES,	/* mapping of model name to model name */
	K_CHOICE,	/* int field: the index of a word in choices[] */
	K_DROID,	/* droid-models: list of models or {model, ...} */
	K_VERSION,	/* char * field: a version, digits and dots */
	K_OAUTH_ALIAS,	/* oauth-model-alias: provider -> [{name, alias}] */
	K_UNUSED	/* an upstream CLIProxyAPI key, ignored with a warning */
};

/* One entry of config.c's key table. */
struct key {
	const char *name;
	enum ktype type;
	size_t off;
	unsigned long long min, max;
};

/* One load in progress: where errors go and what is being built. */
struct load {
	const char *path;
	yaml_document_t *doc;
	struct config *cfg;
	char *err;
	size_t errlen;
};

/* The member of c that k sets. */
static inline void *
config_field(struct config *c, const struct key *k)
{
	return (char *)c + k->off;
}

/* err = the formatted message, unless errlen is 0. */
void config_seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ld's err = "PATH:LINE:COL: " and the formatted message, m's place. */
void config_errat(struct load *ld, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A short printable copy of s in dst, for a message; never a secret. */
const char *config_shown(char *dst, size_t dstlen, const char *s);

/* ", not 'VALUE'" in dst for a bad value's message, or "" for none. */
const char *config_shown_as(char *dst, size_t dstlen, const char *s);

/* The home directory: $HOME, else the password file's; NULL if none. */
const char *config_home(void);

/* The value of a scalar node, or NULL if it is not one or holds a NUL. */
const char *config_scalar(const yaml_node_t *n);

/* Is n YAML's null: an empty value, "~" or "null", unless quoted? */
int config_is_null(const yaml_node_t *n);

/* n as a plain decimal in k->min..k->max into *v. 0, or -1 with the error
 * set in ld. */
int config_number(struct load *ld, const struct key *k, const yaml_node_t *n,
    unsigned long long *v);

/*
 * The setters: each sets k's member of ld->cfg from the value node n,
 * replacing (and freeing) what it held. 0, or -1 with the error set in ld
 * and ld->cfg as it was.
 */
int config_set_int(struct load *ld, const struct key *k, const yaml_node_t *n);
int config_set_size(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_bool(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_host(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_path(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_choice(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_url(struct load *ld, const struct key *k, const yaml_node_t *n);
int config_set_proxy(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_keys(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_api_keys(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_aliases(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_droid_models(struct load *ld, const struct key *k,
    const yaml_node_t *n);

int config_set_version(struct load *ld, const struct key *k,
    const yaml_node_t *n);
int config_set_oauth_alias(struct load *ld, const struct key *k,
    const yaml_node_t *n);

/* The defaults (config_default.c): every one but auth-dir, whose ~ needs
 * HOME only if it is used. 0, or -1 (ENOMEM) with c freed. */
int config_defaults_base(struct config *c);
/* The first existing of the user's and the system's config.yaml into
 * *out (NULL: none). 0, or -1 (ENOMEM). */
int config_find(char **out);

/* Free v[0..n) and v; the secrets among them are wiped first. */
void config_free_keys(char **v, size_t n);
void config_free_api_keys(struct api_key *v, size_t n);
void config_free_aliases(struct alias *v, size_t n);
void config_free_droid_models(struct droid_model *v, size_t n);
void config_free_oauth_alias(struct model_alias *v, size_t n);

#endif
