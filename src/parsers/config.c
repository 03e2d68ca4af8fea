/*
 * config: config.yaml into a struct config.
 *
 * The file is loaded whole into a libyaml document and the root mapping is
 * walked against a table of known keys. Everything is built into a local
 * struct config and copied out only once the whole file was accepted, so a
 * bad file never leaves a half-applied configuration behind.
 *
 * Keys of the upstream CLIProxyAPI config that this program does not
 * implement are accepted with a warning, so that one config.yaml can be
 * shared between the two programs.
 *
 * The table says what each key holds; the setters of its types are in
 * config_scalar.c (one value) and config_mapping.c (lists of mappings and
 * model-aliases).
 */
#include <sys/stat.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "parsers/config.h"
#include "parsers/config_int.h"
#include "support/log.h"


#define OFF(m)	offsetof(struct config, m)

static const struct key keys[] = {
	{ "port",			K_INT,	OFF(port), 1, 65535 },
	{ "host",			K_HOST,	OFF(host), 0, 0 },
	{ "auth-dir",			K_PATH,	OFF(auth_dir), 0, 0 },
	{ "debug",			K_BOOL,	OFF(debug), 0, 0 },
	{ "api-keys",			K_KEYS,	0, 0, 0 },
	{ "claude-base-url",		K_URL,	OFF(claude_base), 0, 0 },
	{ "ca-file",			K_PATH,	OFF(ca_file), 0, 0 },
	{ "claude-system-prefix",	K_BOOL,	OFF(claude_system_prefix), 0, 0 },
	{ "claude-oauth-beta",		K_BOOL,	OFF(claude_oauth_beta), 0, 0 },
	{ "max-head-bytes",		K_SIZE,	OFF(max_head), 1024, 16777216 },
	{ "max-headers",		K_SIZE,	OFF(max_headers), 1, 256 },
	{ "max-body-bytes",		K_SIZE,	OFF(max_body), 1, 4294967295ULL },
	{ "head-timeout",		K_INT,	OFF(head_timeout), 1, 86400 },
	{ "idle-timeout",		K_INT,	OFF(idle_timeout), 1, 86400 },
	{ "first-byte-timeout",		K_INT,	OFF(first_byte_timeout), 1,
	    86400 },
	{ "body-timeout",		K_INT,	OFF(body_timeout), 1, 86400 },
	{ "max-connections",		K_INT,	OFF(max_connections), 1,
	    65536 },
	{ "connect-timeout",		K_INT,	OFF(connect_timeout), 1, 86400 },
	{ "upstream-timeout",		K_INT,	OFF(upstream_timeout), 1, 86400 },
	{ "proxy-url",			K_PROXY, OFF(proxy), 0, 0 },
	{ "request-retry",		K_INT,	OFF(request_retry), 0, 20 },
	{ "claude-token-url",		K_URL,	OFF(claude_token_url), 0, 0 },
	{ "codex-token-url",		K_URL,	OFF(codex_token_url), 0, 0 },
	{ "claude-auth-url",		K_URL,	OFF(claude_auth_url), 0, 0 },
	{ "codex-auth-url",		K_URL,	OFF(codex_auth_url), 0, 0 },
	{ "codex-base-url",		K_URL,	OFF(codex_base), 0, 0 },
	{ "refresh-lead",		K_INT,	OFF(refresh_lead), 0, 2592000 },
	{ "token-timeout",		K_INT,	OFF(token_timeout), 1, 3600 },
	{ "claude-api-key",		K_APIKEYS, OFF(claude_keys), 0, 0 },
	{ "codex-api-key",		K_APIKEYS, OFF(codex_keys), 0, 0 },
	{ "model-aliases",		K_ALIASES, 0, 0, 0 },
	{ "logging-to-file",		K_BOOL,	OFF(logging_to_file), 0, 0 },
	{ "usage-statistics-enabled",	K_BOOL,	OFF(usage_stats), 0, 0 },
	{ "usage-max-bytes",		K_SIZE,	OFF(usage_max), 4096, 4294967295ULL },
	{ "log-max-bytes",		K_SIZE,	OFF(log_max), 4096, 4294967295ULL },
	{ "allow-remote",		K_BOOL,	OFF(allow_remote), 0, 0 },
	{ "sandbox",			K_CHOICE, OFF(sandbox), 0, 0 },
	{ "codex-encrypted-reasoning",	K_BOOL,	OFF(codex_encrypted_reasoning), 0,
	    0 },
	{ "claude-third-party",		K_CHOICE, OFF(claude_third_party), 0, 0 },
	{ "routing",			K_CHOICE, OFF(routing), 0, 0 },
	{ "status",			K_CHOICE, OFF(status_page), 0, 0 },
	{ "claude-refusal-cooldown",	K_INT,	OFF(claude_refusal_cooldown), 0,
	    604800 },
	{ "droid-models",		K_DROID, 0, 0, 0 },
	{ "oauth-model-alias",		K_OAUTH_ALIAS, 0, 0, 0 },
	{ "codex-client-version",	K_VERSION, OFF(codex_client_version), 0,
	    0 },
	{ "models-refresh",		K_INT,	OFF(models_refresh), 60,
	    2592000 },
	{ "usage-refresh",		K_INT,	OFF(usage_refresh), 60, 86400 },

	{ "remote-management",		K_UNUSED, 0, 0, 0 },
	{ "quota-exceeded",		K_UNUSED, 0, 0, 0 },
	{ "auth",			K_UNUSED, 0, 0, 0 },
	{ "generative-language-api-key", K_UNUSED, 0, 0, 0 },
	{ "gemini-api-key",		K_UNUSED, 0, 0, 0 },
	{ "openai-compatibility",	K_UNUSED, 0, 0, 0 },
};

static void
warn_key(struct load *ld, const yaml_node_t *kn, const char *name, int known)
{
	char q[72];

	if (known)
		log_warn("%s:%zu: key '%s' is not used by this program; "
		    "ignored", ld->path, kn->start_mark.line + 1,
		    config_shown(q, sizeof q, name));
	else
		log_warn("%s:%zu: unknown key '%s'; ignored", ld->path,
		    kn->start_mark.line + 1, config_shown(q, sizeof q, name));
}

static const struct key *
lookup(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static int
apply(struct load *ld, const yaml_node_t *kn, const char *name,
    const yaml_node_t *vn)
{
	const struct key *k;

	if ((k = lookup(name)) == NULL) {
		warn_key(ld, kn, name, 0);
		return 0;
	}
	switch (k->type) {
	case K_INT:
		return config_set_int(ld, k, vn);
	case K_SIZE:
		return config_set_size(ld, k, vn);
	case K_BOOL:
		return config_set_bool(ld, k, vn);
	case K_HOST:
		return config_set_host(ld, k, vn);
	case K_PATH:
		return config_set_path(ld, k, vn);
	case K_KEYS:
		return config_set_keys(ld, k, vn);
	case K_URL:
		return config_set_url(ld, k, vn);
	case K_PROXY:
		return config_set_proxy(ld, k, vn);
	case K_APIKEYS:
		return config_set_api_keys(ld, k, vn);
	case K_ALIASES:
		return config_set_aliases(ld, k, vn);
	case K_CHOICE:
		return config_set_choice(ld, k, vn);
	case K_DROID:
		return config_set_droid_models(ld, k, vn);
	case K_VERSION:
		return config_set_version(ld, k, vn);
	case K_OAUTH_ALIAS:
		return config_set_oauth_alias(ld, k, vn);
	case K_UNUSED:
		warn_key(ld, kn, name, 1);
		return 0;
	}
	return 0;
}

/* Does a pair before p have the key name? */
static int
is_duplicate(struct load *ld, const yaml_node_pair_t *start,
    const yaml_node_pair_t *p, const char *name)
{
	const char *s;

	for (; start < p; start++) {
		s = config_scalar(yaml_document_get_node(ld->doc, start->key));
		if (s != NULL && strcmp(s, name) == 0)
			return 1;
	}
	return 0;
}

static int
walk_root(struct load *ld)
{
	yaml_node_t *root, *kn, *vn;
	yaml_node_pair_t *p, *start;
	const char *name;
	char q[72];

	root = yaml_document_get_root_node(ld->doc);
	if (root == NULL || config_is_null(root))
		return 0;	/* empty file: the defaults */
	if (root->type != YAML_MAPPING_NODE) {
		config_errat(ld, root->start_mark, "expected a mapping of "
		    "keys to values at the top level");
		return -1;
	}
	start = root->data.mapping.pairs.start;
	for (p = start; p < root->data.mapping.pairs.top; p++) {
		kn = yaml_document_get_node(ld->doc, p->key);
		vn = yaml_document_get_node(ld->doc, p->value);
		if ((name = config_scalar(kn)) == NULL) {
			config_errat(ld, kn->start_mark, "keys must be "
			    "strings");
			return -1;
		}
		if (is_duplicate(ld, start, p, name)) {
			config_errat(ld, kn->start_mark, "duplicate key '%s'",
			    config_shown(q, sizeof q, name));
			return -1;
		}
		if (apply(ld, kn, name, vn) == -1)
			return -1;
	}
	return 0;
}

static void
parse_error(struct load *ld, const yaml_parser_t *y)
{
	const char *problem = y->problem ? y->problem : "cannot parse";

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		config_seterr(ld->err, ld->errlen, "%s: out of memory",
		    ld->path);
		break;
	case YAML_READER_ERROR:
		/* Bad encoding: libyaml knows the byte, not the line. */
		config_seterr(ld->err, ld->errlen, "%s: %s at byte %zu",
		    ld->path, problem, y->problem_offset);
		break;
	default:
		config_errat(ld, y->problem_mark, "%s%s%s", problem,
		    y->context ? " " : "", y->context ? y->context : "");
		break;
	}
}

/*
 * The file's text and the document hold the api-keys: wipe what libyaml
 * allocated before it is freed.
 */
static void
wipe_parser(yaml_parser_t *y)
{
	if (y->raw_buffer.start != NULL)
		explicit_bzero(y->raw_buffer.start,
		    (size_t)(y->raw_buffer.end - y->raw_buffer.start));
	if (y->buffer.start != NULL)
		explicit_bzero(y->buffer.start,
		    (size_t)(y->buffer.end - y->buffer.start));
}

static void
wipe_document(yaml_document_t *doc)
{
	yaml_node_t *n;

	for (n = doc->nodes.start; n != NULL && n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			explicit_bzero(n->data.scalar.value,
			    n->data.scalar.length);
}

/*
 * yaml_parser_load stops after the first document. A second one would be
 * silently ignored, along with any syntax error in it: refuse it.
 */
static int
single_document(struct load *ld, yaml_parser_t *y)
{
	yaml_document_t next;
	yaml_node_t *root;
	int rc = 0;

	if (!yaml_parser_load(y, &next)) {
		parse_error(ld, y);
		return -1;
	}
	if ((root = yaml_document_get_root_node(&next)) != NULL) {
		config_errat(ld, root->start_mark, "only one YAML document is "
		    "allowed");
		rc = -1;
	}
	wipe_document(&next);
	yaml_document_delete(&next);
	return rc;
}

static FILE *
open_config(const char *path, char *err, size_t errlen)
{
	struct stat st;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		config_seterr(err, errlen, "config file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		config_seterr(err, errlen, "config file %s: %s", path,
		    strerror(EISDIR));
		fclose(fp);
		return NULL;
	}
	/* Unbuffered: libyaml reads big chunks itself, and stdio's buffer
	 * would be one more unwiped copy of the api-keys. */
	setvbuf(fp, NULL, _IONBF, 0);
	return fp;
}

static int
read_config(const char *path, struct config *c, char *err, size_t errlen)
{
	struct load ld = { path, NULL, c, err, errlen };
	yaml_parser_t y;
	yaml_document_t doc;
	FILE *fp;
	int rc = -1, have_parser = 0, have_doc = 0;

	if ((fp = open_config(path, err, errlen)) == NULL)
		goto fail;
	if (!yaml_parser_initialize(&y)) {
		config_seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	have_parser = 1;
	yaml_parser_set_input_file(&y, fp);
	if (!yaml_parser_load(&y, &doc)) {
		parse_error(&ld, &y);
		goto fail;
	}
	have_doc = 1;
	ld.doc = &doc;
	if (walk_root(&ld) == -1 || single_document(&ld, &y) == -1)
		goto fail;
	rc = 0;
fail:
	if (have_doc) {
		wipe_document(&doc);
		yaml_document_delete(&doc);
	}
	if (have_parser) {
		wipe_parser(&y);
		yaml_parser_delete(&y);
	}
	if (fp != NULL)
		fclose(fp);
	return rc;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct config c;
	char *found = NULL;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	if (config_defaults_base(&c) == -1) {
		config_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (path == NULL) {
		if (config_find(&found) == -1) {
			config_seterr(err, errlen, "out of memory");
			goto fail;
		}
		path = found;
	}
	if (path != NULL && read_config(path, &c, err, errlen) == -1)
		goto fail;
	if (c.auth_dir == NULL &&
	    (c.auth_dir = config_expand_home(CONFIG_AUTH_DIR)) == NULL) {
		if (errno == ENOENT)
			config_seterr(err, errlen, "%s: auth-dir defaults to "
			    "%s but HOME is not set", path ? path : "config",
			    CONFIG_AUTH_DIR);
		else
			config_seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (path != NULL && (c.path = strdup(path)) == NULL) {
		config_seterr(err, errlen, "out of memory");
		goto fail;
	}
	*cfg = c;
	memset(&c, 0, sizeof c);
	rc = 0;
fail:
	config_free(&c);
	free(found);
	return rc;
}

void
config_free(struct config *cfg)
{
	config_free_keys(cfg->api_keys, cfg->n_api_keys);
	free(cfg->path);
	free(cfg->host);
	free(cfg->auth_dir);
	free(cfg->ca_file);
	url_free(&cfg->claude_base);
	url_free(&cfg->claude_token_url);
	url_free(&cfg->codex_token_url);
	url_free(&cfg->claude_auth_url);
	url_free(&cfg->codex_auth_url);
	url_free(&cfg->codex_base);
	proxy_free(&cfg->proxy);
	config_free_api_keys(cfg->claude_keys, cfg->n_claude_keys);
	config_free_api_keys(cfg->codex_keys, cfg->n_codex_keys);
	config_free_aliases(cfg->aliases, cfg->n_aliases);
	config_free_droid_models(cfg->droid_models, cfg->n_droid_models);
	config_free_oauth_alias(cfg->model_alias, cfg->n_model_alias);
	free(cfg->codex_client_version);
	memset(cfg, 0, sizeof *cfg);
}
