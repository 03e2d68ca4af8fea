/*
 * config_scalar: the values of config.yaml's scalar keys (numbers, sizes,
 * booleans, hosts, paths, choices, URLs, the proxy-url) and of api-keys, a
 * list of scalars; with the helpers every setter uses to read a node and to
 * say what was wrong with it, and where.
 */
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

#include "parsers/config.h"
#include "parsers/config_int.h"

void
config_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* "PATH:LINE:COL: what"; libyaml counts from 0, editors from 1. */
void
config_errat(struct load *ld, yaml_mark_t m, const char *fmt, ...)
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
const char *
config_shown(char *dst, size_t dstlen, const char *s)
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

const char *
config_shown_as(char *dst, size_t dstlen, const char *s)
{
	char v[40];

	if (s == NULL || *s == '\0')
		return "";
	snprintf(dst, dstlen, ", not '%s'", config_shown(v, sizeof v, s));
	return dst;
}

/* $HOME, else the password file's entry: inetd and xinetd may start us
 * with an empty environment. */
const char *
config_home(void)
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
	if ((h = config_home()) == NULL) {
		errno = ENOENT;
		return NULL;
	}
	if (asprintf(&s, "%s%s", h, path + 1) == -1)
		return NULL;
	return s;
}

const char *
config_scalar(const yaml_node_t *n)
{
	const char *s;

	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return NULL;
	return s;
}

int
config_is_null(const yaml_node_t *n)
{
	const char *s;

	if ((s = config_scalar(n)) == NULL || n->data.scalar.style !=
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

/* An integer in k->min..k->max; the table keeps each range in one place. */
int
config_number(struct load *ld, const struct key *k, const yaml_node_t *n,
    unsigned long long *v)
{
	const char *s = config_scalar(n);
	char q[56];

	if (s == NULL || parse_uint(s, k->max, v) == -1 || *v < k->min) {
		config_errat(ld, n->start_mark, "%s must be a number from "
		    "%llu to %llu%s", k->name, k->min, k->max,
		    config_shown_as(q, sizeof q, s));
		return -1;
	}
	return 0;
}

int
config_set_int(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	unsigned long long v;

	if (config_number(ld, k, n, &v) == -1)
		return -1;
	*(int *)config_field(ld->cfg, k) = (int)v;
	return 0;
}

int
config_set_size(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	unsigned long long v;

	if (config_number(ld, k, n, &v) == -1)
		return -1;
	*(size_t *)config_field(ld->cfg, k) = (size_t)v;
	return 0;
}

int
config_set_bool(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	const char *s = config_scalar(n);
	char q[56];
	int v;

	if (s == NULL || parse_bool(s, &v) == -1) {
		config_errat(ld, n->start_mark, "%s must be true or false%s",
		    k->name, config_shown_as(q, sizeof q, s));
		return -1;
	}
	*(int *)config_field(ld->cfg, k) = v;
	return 0;
}

int
config_set_host(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	char **dst = config_field(ld->cfg, k);
	const char *s = config_scalar(n);
	char *v = NULL;

	if (s == NULL) {
		config_errat(ld, n->start_mark, "%s must be a string",
		    k->name);
		return -1;
	}
	if (!config_is_null(n) && *s != '\0' && (v = strdup(s)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = v;
	return 0;
}

int
config_set_path(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	char **dst = config_field(ld->cfg, k);
	const char *s = config_scalar(n);
	char *v;

	if (s == NULL || *s == '\0' || config_is_null(n)) {
		config_errat(ld, n->start_mark, "%s must be a path", k->name);
		return -1;
	}
	if ((v = config_expand_home(s)) == NULL) {
		if (errno == ENOENT)
			config_errat(ld, n->start_mark, "%s: HOME is not set, "
			    "cannot expand ~", k->name);
		else
			config_errat(ld, n->start_mark, "out of memory");
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
	{ "claude-third-party",
	    { "subscription", "api-key", "refuse", NULL } },
	{ "routing", { "headroom", "round-robin", NULL } },
	{ "status", { "local", "off", "api-key", NULL } },
};

/* One of the key's words (case-insensitive; YAML's plain off is a string
 * here, not false). */
int
config_set_choice(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	const char *s = config_scalar(n), *const *w = NULL;
	char q[56], list[128] = "";
	size_t i;

	for (i = 0; i < sizeof choices / sizeof choices[0]; i++)
		if (strcmp(choices[i].key, k->name) == 0)
			w = choices[i].words;
	for (i = 0; w && w[i]; i++)
		if (s != NULL && strcasecmp(s, w[i]) == 0) {
			*(int *)config_field(ld->cfg, k) = (int)i;
			return 0;
		}
	for (i = 0; w && w[i]; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list),
		    "%s%s", i == 0 ? "" : w[i + 1] ? ", " : " or ", w[i]);
	config_errat(ld, n->start_mark, "%s must be %s%s", k->name, list,
	    config_shown_as(q, sizeof q, s));
	return -1;
}

int
config_set_url(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct url *dst = config_field(ld->cfg, k);
	const char *s = config_scalar(n);
	struct url u;
	char why[128];

	if (s == NULL) {
		config_errat(ld, n->start_mark, "%s must be a string",
		    k->name);
		return -1;
	}
	if (url_parse(s, &u, why, sizeof why) == -1) {
		config_errat(ld, n->start_mark, "%s: %s", k->name, why);
		return -1;
	}
	url_free(dst);
	*dst = u;
	return 0;
}

int
config_set_proxy(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	struct proxy *dst = config_field(ld->cfg, k);
	const char *s = config_scalar(n);
	struct proxy p;
	char why[160];

	if (s == NULL) {
		config_errat(ld, n->start_mark, "%s must be a string",
		    k->name);
		return -1;
	}
	if (proxy_parse(config_is_null(n) ? "" : s, &p, why,
	    sizeof why) == -1) {
		config_errat(ld, n->start_mark, "%s: %s", k->name, why);
		return -1;
	}
	proxy_free(dst);
	*dst = p;
	return 0;
}

void
config_free_keys(char **v, size_t n)
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
int
config_set_keys(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	yaml_node_item_t *it;
	const yaml_node_t *item;
	const char *s;
	char **v = NULL;
	size_t i = 0, count;

	if (config_is_null(n))
		goto done;
	if (n->type != YAML_SEQUENCE_NODE) {
		config_errat(ld, n->start_mark, "%s must be a list of strings",
		    k->name);
		goto fail;
	}
	count = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	if (count > 0 && (v = calloc(count, sizeof *v)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		goto fail;
	}
	for (it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		item = yaml_document_get_node(ld->doc, *it);
		if ((s = config_scalar(item)) == NULL ||
		    config_is_null(item)) {
			config_errat(ld, item->start_mark, "%s must be a list "
			    "of strings", k->name);
			goto fail;
		}
		if (*s == '\0') {
			/* An empty key would let anyone in. */
			config_errat(ld, item->start_mark, "%s: an entry is "
			    "empty", k->name);
			goto fail;
		}
		if ((v[i] = strdup(s)) == NULL) {
			config_errat(ld, item->start_mark, "out of memory");
			goto fail;
		}
	}
done:
	config_free_keys(ld->cfg->api_keys, ld->cfg->n_api_keys);
	ld->cfg->api_keys = v;
	ld->cfg->n_api_keys = i;
	return 0;
fail:
	config_free_keys(v, i);
	return -1;
}

/* A version to send in a query: 0.171.0, 1.2.3-beta.1. */
int
config_set_version(struct load *ld, const struct key *k, const yaml_node_t *n)
{
	char **dst = config_field(ld->cfg, k), *v;
	const char *s = config_scalar(n);
	char q[56];
	size_t i;

	for (i = 0; s && s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-+_", s[i]))
			break;
	if (s == NULL || config_is_null(n) || i == 0 || s[i] || i > 31) {
		config_errat(ld, n->start_mark, "%s must be a version such as "
		    "0.171.0%s", k->name, config_shown_as(q, sizeof q, s));
		return -1;
	}
	if ((v = strdup(s)) == NULL) {
		config_errat(ld, n->start_mark, "out of memory");
		return -1;
	}
	free(*dst);
	*dst = v;
	return 0;
}
