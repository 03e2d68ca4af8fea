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
 */
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "log.h"

#define DEFAULT_AUTH_DIR	"~/.cli-proxy-api"
#define DEFAULT_BASE_URL	"https://api.anthropic.com"
#define DEFAULT_CLAUDE_TOKEN_URL "https://platform.claude.com/v1/oauth/token"
#define DEFAULT_CODEX_TOKEN_URL	"https://auth.openai.com/oauth/token"
#define DEFAULT_CLAUDE_AUTH_URL	"https://claude.ai/oauth/authorize"
#define DEFAULT_CODEX_AUTH_URL	"https://auth.openai.com/oauth/authorize"
#define DEFAULT_CODEX_BASE_URL	"https://chatgpt.com/backend-api/codex"
#define DEFAULT_CA_FILE		"/etc/ssl/certs/ca-certificates.crt"
#define USER_CONFIG		"cli-proxy-api/config.yaml"
#define SYSTEM_CONFIG		"/etc/cli-proxy-api/config.yaml"

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
	K_UNUSED	/* an upstream CLIProxyAPI key, ignored with a warning */
};

struct key {
	const char *name;
	enum ktype type;
	size_t off;
	unsigned long long min, max;
};

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
	{ "claude-refusal-cooldown",	K_INT,	OFF(claude_refusal_cooldown), 0,
	    604800 },
	{ "droid-models",		K_DROID, 0, 0, 0 },

	{ "remote-management",		K_UNUSED, 0, 0, 0 },
	{ "quota-exceeded",		K_UNUSED, 0, 0, 0 },
	{ "auth",			K_UNUSED, 0, 0, 0 },
	{ "generative-language-api-key", K_UNUSED, 0, 0, 0 },
	{ "gemini-api-key",		K_UNUSED, 0, 0, 0 },
	{ "openai-compatibility",	K_UNUSED, 0, 0, 0 },
};

/* One load in progress: where errors go and what is being built. */
struct load {
	const char *path;
	yaml_document_t *doc;
	struct config *cfg;
	char *err;
	size_t errlen;
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void
errat(struct load *ld, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "PATH:LINE:COL: what"; libyaml counts from 0, editors from 1. */
static void
errat(struct load *ld, yaml_mark_t m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ld->errlen == 0)
		return;
	n = snprintf(ld->err, ld->errlen, "%s:%zu:%zu: ", ld->path,
	    m.line + 1, m.column + 1);
	if (n < 0 || (size_t)n >= ld->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/*
 * A short printable copy of a value for a message, so that a stray escape
 * sequence in the file cannot reach the terminal. Never used on secrets.
 */
static const char *
shown(char *dst, size_t dstlen, const char *s)
{
	size_t i, max = dstlen - 4;

	for (i = 0; s[i] != '\0' && i < max; i++)
		dst[i] = isprint((unsigned char)s[i]) ? s[i] : '?';
	if (s[i] != '\0') {
		memcpy(dst + i, "...", 3);
		i += 3;
	}
	dst[i] = '\0';
	return dst;
}

/* ", not 'VALUE'" for a bad value's message, or "" when there is none. */
static const char *
shown_as(char *dst, size_t dstlen, const char *s)
{
	char v[40];

	if (s == NULL || *s == '\0')
		return "";
	snprintf(dst, dstlen, ", not '%s'", shown(v, sizeof v, s));
	return dst;
}

/* $HOME, else the password file's entry: inetd and xinetd may start us
 * with an empty environment. */
static const char *
home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h != NULL && *h != '\0')
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && pw->pw_dir[0] ? pw->pw_dir : NULL;
}

char *
config_expand_home(const char *path)
{
	const char *h;
	char *s;

	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/'))
		return strdup(path);
	if ((h = home()) == NULL) {
		errno = ENOENT;
		return NULL;
	}
	if (asprintf(&s, "%s%s", h, path + 1) == -1)
		return NULL;
	return s;
}

/* The value of a scalar node, or NULL if it is not one or holds a NUL. */
static const char *
scalar(const yaml_node_t *n)
{
	const char *s;

	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return NULL;
	return s;
}

/* YAML's null: an empty value, "~" or "null", unless quoted. */
static int
is_null(const yaml_node_t *n)
{
	const char *s;

	if ((s = scalar(n)) == NULL || n->data.scalar.style !=
	    YAML_PLAIN_SCALAR_STYLE)
		return 0;
	return *s == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0;
}

/* Plain decimal only: no sign, no leading zero (YAML 1.1 octal), no "_". */
static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0, d;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned long long)(*s - '0');
		if (v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static void *
field(struct config *c, const struct key *k)
{
	return (char *)c + k->off;
}

/* An integer in k->min..k->max; the table keeps each range in one place. */
static int
get_number(struct load *ld, const struct key *k, const yaml_node_t *n,
    unsigned long long *v)
{
	const char *s = scalar(n);
	char q[56];

	if (s == NULL || parse_uint(s, k->max, v) == -1 || *v < k->min) {
		errat(ld, n->start_mark, "%s must be a number from %llu to "
		    "%llu%s", k->name, k->min, k->max, shown_as(q, sizeof q, s));
		return -1;
	}
	return 0;
}

static int
set_int(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	unsigned long long v;

	if (get_number(ld, k, n, &v) == -1)
		return -1;
	*(int *)field(ld->cfg, k) = (int)v;
	return 0;
}

static int
set_size(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	unsigned long long v;

	if (get_number(ld, k, n, &v) == -1)
		return -1;
	*(size_t *)field(ld->cfg, k) = (size_t)v;
	return 0;
}

static int
set_bool(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	const char *s = scalar(n);
	char q[56];
	int v;

	if (s == NULL || parse_bool(s, &v) == -1) {
		errat(ld, n->start_mark, "%s must be true or false%s",
		    k->name, shown_as(q, sizeof q, s));
		return -1;
	}
	*(int *)field(ld->cfg, k) = v;
	return 0;
}

static int
set_host(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	char **dst = field(ld->cfg, k);
	const char *s = scalar(n);
	char *v = NULL;

	if (s == NULL) {
		errat(ld, n->start_mark, "%s must be a string", k->name);
		return -1;
	}
	if (!is_null(n) && *s != '\0' && (v = strdup(s)) == NULL) {
		errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = v;
	return 0;
}

static int
set_path(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	char **dst = field(ld->cfg, k);
	const char *s = scalar(n);
	char *v;

	if (s == NULL || *s == '\0' || is_null(n)) {
		errat(ld, n->start_mark, "%s must be a path", k->name);
		return -1;
	}
	if ((v = config_expand_home(s)) == NULL) {
		if (errno == ENOENT)
			errat(ld, n->start_mark, "%s: HOME is not set, cannot "
			    "expand ~", k->name);
		else
			errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = v;
	return 0;
}

/* The words of each K_CHOICE key, in the order of their values. */
static const struct {
	const char *key;
	const char *words[4];
} choices[] = {
	{ "sandbox", { "auto", "required", "off", NULL } },
	{ "claude-third-party", { "subscription", "api-key", "refuse", NULL } },
};

/* One of the key's words (case-insensitive; YAML's plain off is a string
 * here, not false). */
static int
set_choice(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	const char *s = scalar(n), *const *w = NULL;
	char q[56], list[128] = "";
	size_t i;

	for (i = 0; i < sizeof choices / sizeof choices[0]; i++)
		if (strcmp(choices[i].key, k->name) == 0)
			w = choices[i].words;
	for (i = 0; w && w[i]; i++)
		if (s != NULL && strcasecmp(s, w[i]) == 0) {
			*(int *)field(ld->cfg, k) = (int)i;
			return 0;
		}
	for (i = 0; w && w[i]; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list),
		    "%s%s", i == 0 ? "" : w[i + 1] ? ", " : " or ", w[i]);
	errat(ld, n->start_mark, "%s must be %s%s", k->name, list,
	    shown_as(q, sizeof q, s));
	return -1;
}

static int
set_url(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct url *dst = field(ld->cfg, k);
	const char *s = scalar(n);
	struct url u;
	char why[128];

	if (s == NULL) {
		errat(ld, n->start_mark, "%s must be a string", k->name);
		return -1;
	}
	if (url_parse(s, &u, why, sizeof why) == -1) {
		errat(ld, n->start_mark, "%s: %s", k->name, why);
		return -1;
	}
	url_free(dst);
	*dst = u;
	return 0;
}

static void
free_keys(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (v[i] != NULL) {
			explicit_bzero(v[i], strlen(v[i]));
			free(v[i]);
		}
	}
	free(v);
}

/* api-keys: the values are secrets, so messages point at them only. */
static int
set_keys(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	yaml_node_item_t *it;
	const yaml_node_t *item;
	const char *s;
	char **v = NULL;
	size_t i = 0, count;

	if (is_null(n))
		goto done;
	if (n->type != YAML_SEQUENCE_NODE) {
		errat(ld, n->start_mark, "%s must be a list of strings",
		    k->name);
		goto fail;
	}
	count = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if (count > 0 && (v = calloc(count, sizeof *v)) == NULL) {
		errat(ld, n->start_mark, "out of memory");
		goto fail;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		item = yaml_document_get_node(ld->doc, *it);
		if ((s = scalar(item)) == NULL || is_null(item)) {
			errat(ld, item->start_mark, "%s must be a list of "
			    "strings", k->name);
			goto fail;
		}
		if (*s == '\0') {
			/* An empty key would let anyone in. */
			errat(ld, item->start_mark, "%s: an entry is empty",
			    k->name);
			goto fail;
		}
		if ((v[i] = strdup(s)) == NULL) {
			errat(ld, item->start_mark, "out of memory");
			goto fail;
		}
	}
done:
	free_keys(ld->cfg->api_keys, ld->cfg->n_api_keys);
	ld->cfg->api_keys = v;
	ld->cfg->n_api_keys = i;
	return 0;
fail:
	free_keys(v, i);
	return -1;
}

static int
set_proxy(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct proxy *dst = field(ld->cfg, k);
	const char *s = scalar(n);
	struct proxy p;
	char why[160];

	if (s == NULL) {
		errat(ld, n->start_mark, "%s must be a string", k->name);
		return -1;
	}
	if (proxy_parse(is_null(n) ? "" : s, &p, why, sizeof why) == -1) {
		errat(ld, n->start_mark, "%s: %s", k->name, why);
		return -1;
	}
	proxy_free(dst);
	*dst = p;
	return 0;
}

static void
free_api_keys(struct api_key *v, size_t n)
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

/* One {api-key, base-url} entry. The key is a secret: never quoted. */
static int
api_key_entry(struct load *ld, const struct key *k, const yaml_node_t *n,
    struct api_key *out)
{
	yaml_node_pair_t *p;
	char why[128];

	if (n->type != YAML_MAPPING_NODE) {
		errat(ld, n->start_mark, "%s entries must be mappings with "
		    "api-key and optionally base-url", k->name);
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(ld->doc,
		    p->value);
		const char *name = scalar(kn), *v = scalar(vn);

		if (name == NULL || v == NULL || is_null(vn)) {
			errat(ld, vn->start_mark, "%s: api-key and base-url "
			    "must be strings", k->name);
			return -1;
		}
		if (strcmp(name, "api-key") == 0) {
			if (*v == '\0' || out->key != NULL) {
				errat(ld, vn->start_mark, "%s: api-key is "
				    "empty or given twice", k->name);
				return -1;
			}
			if ((out->key = strdup(v)) == NULL) {
				errat(ld, vn->start_mark, "out of memory");
				return -1;
			}
		} else if (strcmp(name, "base-url") == 0) {
			if (*v == '\0')
				continue;
			url_free(&out->base);
			if (url_parse(v, &out->base, why, sizeof why) == -1) {
				errat(ld, vn->start_mark, "%s: base-url: %s",
				    k->name, why);
				return -1;
			}
		} else {
			char q[72];

			log_warn("%s:%zu: key '%s' in %s is not used; ignored",
			    ld->path, kn->start_mark.line + 1,
			    shown(q, sizeof q, name), k->name);
		}
	}
	if (out->key == NULL) {
		errat(ld, n->start_mark, "%s: an entry has no api-key",
		    k->name);
		return -1;
	}
	return 0;
}

/* claude-api-key / codex-api-key: the pointer field is followed by its
 * count in struct config. */
static int
set_api_keys(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct api_key **dst = field(ld->cfg, k), *v = NULL;
	size_t *count = (size_t *)(void *)(dst + 1), i = 0, want;
	yaml_node_item_t *it;

	if (is_null(n))
		goto done;
	if (n->type != YAML_SEQUENCE_NODE) {
		errat(ld, n->start_mark, "%s must be a list of {api-key, "
		    "base-url}", k->name);
		return -1;
	}
	want = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if (want > 0 && (v = calloc(want, sizeof *v)) == NULL) {
		errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if (api_key_entry(ld, k, yaml_document_get_node(ld->doc, *it),
		    &v[i++]) == -1) {
			free_api_keys(v, i);
			return -1;
		}
	}
done:
	free_api_keys(*dst, *count);
	*dst = v;
	*count = i;
	return 0;
}

static void
free_aliases(struct alias *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(v[i].from);
		free(v[i].to);
	}
	free(v);
}

static int
set_aliases(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct alias *v = NULL;
	yaml_node_pair_t *p;
	size_t i = 0, want;

	if (is_null(n))
		goto done;
	if (n->type != YAML_MAPPING_NODE) {
		errat(ld, n->start_mark, "%s must be a mapping of model names "
		    "to model names", k->name);
		return -1;
	}
	want = (size_t)(n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start);
	if (want > 0 && (v = calloc(want, sizeof *v)) == NULL) {
		errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		const yaml_node_t *kn = yaml_document_get_node(ld->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(ld->doc,
		    p->value);
		const char *from = scalar(kn), *to = scalar(vn);

		if (from == NULL || to == NULL || !*from || !*to ||
		    is_null(vn)) {
			errat(ld, vn->start_mark, "%s: each alias maps a model "
			    "name to a model name", k->name);
			free_aliases(v, i);
			return -1;
		}
		if ((v[i].from = strdup(from)) == NULL ||
		    (v[i].to = strdup(to)) == NULL) {
			i++;
			errat(ld, vn->start_mark, "out of memory");
			free_aliases(v, i);
			return -1;
		}
		i++;
	}
done:
	free_aliases(ld->cfg->aliases, ld->cfg->n_aliases);
	ld->cfg->aliases = v;
	ld->cfg->n_aliases = i;
	return 0;
}

static void
free_droid_models(struct droid_model *v, size_t n)
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
		errat(ld, n->start_mark, "droid-models: provider must be "
		    "anthropic or openai%s", shown_as(q, sizeof q, given));
		return -1;
	}
	if (d->provider == NULL) {
		errat(ld, n->start_mark, "droid-models: cannot tell the "
		    "provider of '%s': give provider: anthropic or openai",
		    shown(q, sizeof q, model));
		return -1;
	}
	return 0;
}

/* One droid-models entry: a model name, or {model, display-name,
 * provider, max-output-tokens}. */
static int
droid_entry(struct load *ld, const yaml_node_t *n, struct droid_model *d)
{
	static const struct key mt = { "max-output-tokens", K_INT, 0, 1,
	    10000000 };
	const char *model = scalar(n), *display = NULL, *provider = NULL;
	unsigned long long v;
	yaml_node_pair_t *p;
	char q[72];

	if (n->type == YAML_MAPPING_NODE) {
		for (p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			const yaml_node_t *kn = yaml_document_get_node(ld->doc,
			    p->key);
			const yaml_node_t *vn = yaml_document_get_node(ld->doc,
			    p->value);
			const char *name = scalar(kn), *s = scalar(vn);

			if (name == NULL || s == NULL || is_null(vn)) {
				errat(ld, vn->start_mark, "droid-models: "
				    "model, display-name, provider and "
				    "max-output-tokens take plain values");
				return -1;
			}
			if (strcmp(name, "model") == 0)
				model = s;
			else if (strcmp(name, "display-name") == 0)
				display = s;
			else if (strcmp(name, "provider") == 0)
				provider = s;
			else if (strcmp(name, "max-output-tokens") == 0) {
				if (get_number(ld, &mt, vn, &v) == -1)
					return -1;
				d->max_tokens = (int)v;
			} else
				log_warn("%s:%zu: key '%s' in droid-models is "
				    "not used; ignored", ld->path,
				    kn->start_mark.line + 1,
				    shown(q, sizeof q, name));
		}
	} else if (is_null(n))
		model = NULL;
	if (model == NULL || *model == '\0') {
		errat(ld, n->start_mark, "droid-models entries are model names "
		    "or mappings with model and optionally display-name, "
		    "provider and max-output-tokens");
		return -1;
	}
	if (droid_provider(ld, n, model, provider, d) == -1)
		return -1;
	if (droid_strings(d, model, display) == -1) {
		errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	return 0;
}

/* droid-models: null or an empty list keeps the built-in list. */
static int
set_droid_models(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct droid_model *v = NULL;
	yaml_node_item_t *it;
	size_t i = 0, want;

	if (is_null(n))
		goto done;
	if (n->type != YAML_SEQUENCE_NODE) {
		errat(ld, n->start_mark, "%s must be a list of model names or "
		    "of {model, display-name, provider, max-output-tokens}",
		    k->name);
		return -1;
	}
	want = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if (want > 0 && (v = calloc(want, sizeof *v)) == NULL) {
		errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++) {
		if (droid_entry(ld, yaml_document_get_node(ld->doc, *it),
		    &v[i++]) == -1) {
			free_droid_models(v, i);
			return -1;
		}
	}
done:
	free_droid_models(ld->cfg->droid_models, ld->cfg->n_droid_models);
	ld->cfg->droid_models = i ? v : NULL;
	ld->cfg->n_droid_models = i;
	if (i == 0)
		free(v);
	return 0;
}

static void
warn_key(struct load *ld, const yaml_node_t *kn, const char *name, int known)
{
	char q[72];

	if (known)
		log_warn("%s:%zu: key '%s' is not used by this program; "
		    "ignored", ld->path, kn->start_mark.line + 1,
		    shown(q, sizeof q, name));
	else
		log_warn("%s:%zu: unknown key '%s'; ignored", ld->path,
		    kn->start_mark.line + 1, shown(q, sizeof q, name));
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
		return set_int(ld, k, vn);
	case K_SIZE:
		return set_size(ld, k, vn);
	case K_BOOL:
		return set_bool(ld, k, vn);
	case K_HOST:
		return set_host(ld, k, vn);
	case K_PATH:
		return set_path(ld, k, vn);
	case K_KEYS:
		return set_keys(ld, k, vn);
	case K_URL:
		return set_url(ld, k, vn);
	case K_PROXY:
		return set_proxy(ld, k, vn);
	case K_APIKEYS:
		return set_api_keys(ld, k, vn);
	case K_ALIASES:
		return set_aliases(ld, k, vn);
	case K_CHOICE:
		return set_choice(ld, k, vn);
	case K_DROID:
		return set_droid_models(ld, k, vn);
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
		s = scalar(yaml_document_get_node(ld->doc, start->key));
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
	if (root == NULL || is_null(root))
		return 0;	/* empty file: the defaults */
	if (root->type != YAML_MAPPING_NODE) {
		errat(ld, root->start_mark, "expected a mapping of keys to "
		    "values at the top level");
		return -1;
	}
	start = root->data.mapping.pairs.start;
	for (p = start; p < root->data.mapping.pairs.top; p++) {
		kn = yaml_document_get_node(ld->doc, p->key);
		vn = yaml_document_get_node(ld->doc, p->value);
		if ((name = scalar(kn)) == NULL) {
			errat(ld, kn->start_mark, "keys must be strings");
			return -1;
		}
		if (is_duplicate(ld, start, p, name)) {
			errat(ld, kn->start_mark, "duplicate key '%s'",
			    shown(q, sizeof q, name));
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
		seterr(ld->err, ld->errlen, "%s: out of memory", ld->path);
		break;
	case YAML_READER_ERROR:
		/* Bad encoding: libyaml knows the byte, not the line. */
		seterr(ld->err, ld->errlen, "%s: %s at byte %zu", ld->path,
		    problem, y->problem_offset);
		break;
	default:
		errat(ld, y->problem_mark, "%s%s%s", problem,
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
		errat(ld, root->start_mark, "only one YAML document is "
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
		seterr(err, errlen, "config file %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		seterr(err, errlen, "config file %s: %s", path,
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
		seterr(err, errlen, "%s: out of memory", path);
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

/* First existing of the user's and the system's config.yaml, or NULL. */
static int
find_config(char **out)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *h = home();
	char *p = NULL;
	int n = 0;

	*out = NULL;
	/* The XDG spec says to ignore a relative XDG_CONFIG_HOME. */
	if (xdg != NULL && xdg[0] == '/')
		n = asprintf(&p, "%s/%s", xdg, USER_CONFIG);
	else if (h != NULL)
		n = asprintf(&p, "%s/.config/%s", h, USER_CONFIG);
	if (n == -1)
		return -1;
	if (p != NULL && access(p, F_OK) == 0) {
		*out = p;
		return 0;
	}
	free(p);
	if (access(SYSTEM_CONFIG, F_OK) == 0 &&
	    (*out = strdup(SYSTEM_CONFIG)) == NULL)
		return -1;
	return 0;
}

/* Every default but auth-dir, whose ~ needs HOME only if it is used. */
static int
defaults_base(struct config *c)
{
	memset(c, 0, sizeof *c);
	c->port = 8317;
	c->claude_system_prefix = 1;
	c->claude_oauth_beta = 1;
	c->max_head = 65536;
	c->max_headers = 100;
	c->max_body = 33554432;
	c->head_timeout = 30;
	c->idle_timeout = 600;
	c->connect_timeout = 10;
	c->upstream_timeout = 600;
	c->request_retry = 3;
	c->claude_refusal_cooldown = 3600;
	c->codex_encrypted_reasoning = 1;
	c->refresh_lead = -1;
	c->token_timeout = 30;
	c->usage_max = 10485760;
	c->log_max = 10485760;
	if ((c->ca_file = strdup(DEFAULT_CA_FILE)) == NULL)
		goto fail;
	if (url_parse(DEFAULT_BASE_URL, &c->claude_base, NULL, 0) == -1 ||
	    url_parse(DEFAULT_CLAUDE_TOKEN_URL, &c->claude_token_url, NULL,
	    0) == -1 || url_parse(DEFAULT_CODEX_TOKEN_URL,
	    &c->codex_token_url, NULL, 0) == -1 ||
	    url_parse(DEFAULT_CLAUDE_AUTH_URL, &c->claude_auth_url, NULL,
	    0) == -1 || url_parse(DEFAULT_CODEX_AUTH_URL, &c->codex_auth_url,
	    NULL, 0) == -1 || url_parse(DEFAULT_CODEX_BASE_URL,
	    &c->codex_base, NULL, 0) == -1)
		goto fail;
	return 0;
fail:
	config_free(c);
	errno = ENOMEM;
	return -1;
}

int
config_defaults(struct config *cfg)
{
	if (defaults_base(cfg) == -1)
		return -1;
	if ((cfg->auth_dir = config_expand_home(DEFAULT_AUTH_DIR)) == NULL) {
		config_free(cfg);
		return -1;
	}
	return 0;
}

int
config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct config c;
	char *found = NULL;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	if (defaults_base(&c) == -1) {
		seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (path == NULL) {
		if (find_config(&found) == -1) {
			seterr(err, errlen, "out of memory");
			goto fail;
		}
		path = found;
	}
	if (path != NULL && read_config(path, &c, err, errlen) == -1)
		goto fail;
	if (c.auth_dir == NULL &&
	    (c.auth_dir = config_expand_home(DEFAULT_AUTH_DIR)) == NULL) {
		if (errno == ENOENT)
			seterr(err, errlen, "%s: auth-dir defaults to %s but "
			    "HOME is not set", path ? path : "config",
			    DEFAULT_AUTH_DIR);
		else
			seterr(err, errlen, "out of memory");
		goto fail;
	}
	if (path != NULL && (c.path = strdup(path)) == NULL) {
		seterr(err, errlen, "out of memory");
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
	free_keys(cfg->api_keys, cfg->n_api_keys);
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
	free_api_keys(cfg->claude_keys, cfg->n_claude_keys);
	free_api_keys(cfg->codex_keys, cfg->n_codex_keys);
	free_aliases(cfg->aliases, cfg->n_aliases);
	free_droid_models(cfg->droid_models, cfg->n_droid_models);
	memset(cfg, 0, sizeof *cfg);
}
