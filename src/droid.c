/*
 * droid: --setup-droid, the custom models Factory's droid needs to reach
 * this proxy, written into ~/.factory/settings.json.
 *
 * droid reads settings.json (customModels, camelCase) and the older
 * ~/.factory/config.json (custom_models, snake_case). --setup-droid writes
 * only the first: it plans (which models, which file), merges them in
 * (droid_models.c: what an entry holds) and writes the result after a
 * backup, or with --dry-run only prints it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "catalog.h"
#include "droid.h"
#include "file.h"
#include "secret.h"
#include "view.h"

#define SETTINGS_MAX	(16 * 1024 * 1024)
#define FETCH_MS	10000   /* to fetch a catalog that is due */

/* -------------------------------------------------------- settings.json */

/* Read path whole. 0, 1 when it does not exist, -1 with err. */
static int
read_settings(const char *path, struct buf *b, mode_t *mode, char *err,
    size_t errlen)
{
	struct stat st;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	*mode = st.st_mode & 07777;
	for (;;) {
		if (b->len > SETTINGS_MAX || buf_reserve(b, 65536) == -1) {
			snprintf(err, errlen, "%s: too big to be droid's "
			    "settings", path);
			close(fd);
			return -1;
		}
		if ((r = read(fd, b->p + b->len, b->cap - b->len)) <= 0)
			break;
		b->len += (size_t)r;
	}
	close(fd);
	if (r == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	b->p[b->len] = '\0';   /* the loop left room */
	return 0;
}

/* Only whitespace: a file just created by hand, taken as {}. */
static int
blank(const struct buf *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		if (!isspace((unsigned char)b->p[i]))
			return 0;
	return 1;
}

/* Parse the settings, saying where they are broken. The file may hold API
 * keys of other providers: the message gives a line, never the text. */
static cJSON *
parse_settings(const char *path, const struct buf *b, char *err,
    size_t errlen)
{
	const char *end = NULL, *p;
	cJSON *root;
	int line = 1;

	if (blank(b))
		return cJSON_CreateObject();
	/* With the NUL counted, cJSON refuses trailing garbage too. */
	root = cJSON_ParseWithLengthOpts(b->p, b->len + 1, &end, 1);
	if (root != NULL)
		return root;
	for (p = b->p; end != NULL && p < end && p < b->p + b->len; p++)
		line += *p == '\n';
	snprintf(err, errlen, "%s is not valid JSON (line %d): fix it or move "
	    "it away; nothing was changed", path, line);
	return NULL;
}

/* The models of the providers that have a usable account: droid-models
 * from the config, else those served now (their catalogs fetched first
 * when due). n set; NULL when out of memory. */
static struct droid_model *
pick_models(const struct config *cfg, size_t *n)
{
	int claude = view_has_usable(cfg, "claude");
	int codex = view_has_usable(cfg, "codex");
	const struct modellist *cl, *cx;
	struct droid_model *v;
	char err[1200];
	size_t i;

	*n = 0;
	if (cfg->n_droid_models > 0) {
		if ((v = calloc(cfg->n_droid_models, sizeof *v)) == NULL)
			return NULL;
		for (i = 0; i < cfg->n_droid_models; i++)
			if (strcmp(cfg->droid_models[i].provider,
			    "anthropic") == 0 ? claude : codex) {
				v[*n] = cfg->droid_models[i];
				v[(*n)++].own = NULL;
			}
		return v;
	}
	if (claude && catalog_fetch(cfg, "claude", FETCH_MS, 0, err,
	    sizeof err) == -1)
		fprintf(stderr, "cli-proxy-api: the Claude model list could "
		    "not be fetched (%s): offering the %s one\n", err,
		    catalog_kept(cfg, "claude")->n ? "last kept" : "built-in");
	if (codex && catalog_fetch(cfg, "codex", FETCH_MS, 0, err,
	    sizeof err) == -1)
		fprintf(stderr, "cli-proxy-api: the Codex model list could "
		    "not be fetched (%s): offering the %s one\n", err,
		    catalog_kept(cfg, "codex")->n ? "last kept" : "built-in");
	catalog_all(cfg, &cl, &cx);
	return droid_offer(claude ? cl : NULL, codex ? cx : NULL, n);
}

static void
report(FILE *out, const struct droid_model *m, const enum droid_change *ch,
    size_t n, const cJSON *gone)
{
	static const char *const word[] = { "added", "updated", "unchanged" };
	const cJSON *e;
	size_t i;

	for (i = 0; i < n; i++)
		fprintf(out, "%-9s %s (%s, %s)\n", word[ch[i]], m[i].model,
		    m[i].display, m[i].provider);
	cJSON_ArrayForEach(e, gone)
		fprintf(out, "%-9s %s (%s: not served now)\n", "removed",
		    cJSON_GetStringValue(cJSON_GetObjectItem(e, "model")),
		    cJSON_GetStringValue(cJSON_GetObjectItem(e,
		    "displayName")));
}

/* settings.json itself when it is a symlink: replacing the link with a
 * file would cut the user's dotfiles repository out. */
static char *
settings_path(void)
{
	char *p = config_expand_home("~/.factory/settings.json"), *r;

	if (p != NULL && (r = realpath(p, NULL)) != NULL) {
		free(p);
		return r;
	}
	return p;
}

/* Back up the old file, then replace it keeping its mode. */
static int
write_settings(const char *path, const struct buf *old, int existed,
    mode_t mode, const char *json, char *err, size_t errlen)
{
	char bak[PATH_MAX + 8];

	if (existed) {
		snprintf(bak, sizeof bak, "%s.bak", path);
		if (file_replace(bak, old->p ? old->p : "", old->len, 1, err,
		    errlen) == -1)
			return -1;
	}
	if (file_replace(path, json, strlen(json), 1, err, errlen) == -1)
		return -1;
	if (existed && mode != 0600 && chmod(path, mode) == -1) {
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ~/.factory, made 0700 when missing. */
static int
make_dir(const char *path, char *err, size_t errlen)
{
	char *d = strdup(path), *slash;
	int rc = 0;

	if (d == NULL)
		return -1;
	if ((slash = strrchr(d, '/')) != NULL && slash != d) {
		*slash = '\0';
		if (mkdir(d, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", d, strerror(errno));
			rc = -1;
		}
	}
	free(d);
	return rc;
}

/* ----------------------------------------------------------------- run */

/* One --setup-droid: what it offers droid and the file it merges into. */
struct setup {
	char *path;                     /* settings.json, symlinks followed */
	struct droid_model *pick;       /* the models offered */
	enum droid_change *ch;          /* what the merge did to each */
	size_t n;
	cJSON *gone;                    /* our old entries taken out */
	struct buf old;                 /* as read; it may hold keys */
	int existed;
	mode_t mode;                    /* the file's, kept on replacing it */
	cJSON *root;                    /* the settings, merged */
	char *json;                     /* root printed */
};

/* The file and the models to offer. EXIT_OK, EXIT_DROID when no account
 * is usable, or EXIT_SYS (said on stderr). */
static int
setup_plan(const struct config *cfg, struct setup *s)
{
	if ((s->pick = pick_models(cfg, &s->n)) == NULL ||
	    (s->ch = calloc(s->n + 1, sizeof *s->ch)) == NULL ||
	    (s->gone = cJSON_CreateArray()) == NULL ||
	    (s->path = settings_path()) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory or HOME unset\n");
		return EXIT_SYS;
	}
	if (s->n == 0) {
		fprintf(stderr, "cli-proxy-api: no usable account in %s, so no "
		    "model to offer droid: log in first with cli-proxy-api "
		    "--claude-login or --codex-login (cli-proxy-api --doctor "
		    "says why an account is not usable); nothing was "
		    "changed\n", cfg->auth_dir);
		return EXIT_DROID;
	}
	return EXIT_OK;
}

/* Read the file, merge the models in and print the result into s->json.
 * EXIT_OK, EXIT_DROID when the file is no settings we can merge into, or
 * EXIT_SYS (said on stderr). */
static int
setup_merge(const struct config *cfg, struct setup *s)
{
	char err[PATH_MAX + 256] = "", base[48];
	int missing;

	if ((missing = read_settings(s->path, &s->old, &s->mode, err,
	    sizeof err)) == -1) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		return EXIT_SYS;
	}
	s->existed = missing == 0;
	snprintf(base, sizeof base, "http://localhost:%d", cfg->port);
	if ((s->root = parse_settings(s->path, &s->old, err,
	    sizeof err)) == NULL) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		return EXIT_DROID;
	}
	if (droid_merge(s->root, s->pick, s->n, base, s->ch, s->gone, err,
	    sizeof err) == -1) {
		fprintf(stderr, "cli-proxy-api: %s: %s; nothing was changed\n",
		    s->path, err);
		return EXIT_DROID;
	}
	if ((s->json = cJSON_Print(s->root)) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		return EXIT_SYS;
	}
	return EXIT_OK;
}

/* Replace the file, the old one kept in .bak, unless nothing changes;
 * what happened to each model and to the file on out. */
static int
setup_write(struct setup *s, FILE *out)
{
	char err[PATH_MAX + 256] = "", *grown;
	size_t i, changed = 0;

	report(out, s->pick, s->ch, s->n, s->gone);
	changed = (size_t)cJSON_GetArraySize(s->gone);
	for (i = 0; i < s->n; i++)
		changed += s->ch[i] != DROID_UNCHANGED;
	if (changed == 0 && s->existed) {
		fprintf(out, "%s: nothing to change\n", s->path);
		return EXIT_OK;
	}
	if ((grown = realloc(s->json, strlen(s->json) + 2)) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		return EXIT_SYS;
	}
	s->json = grown;
	strcat(s->json, "\n");
	if (make_dir(s->path, err, sizeof err) == -1 ||
	    write_settings(s->path, &s->old, s->existed, s->mode, s->json,
	    err, sizeof err) == -1) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		return EXIT_SYS;
	}
	fprintf(out, "wrote %s%s%s%s\n", s->path, s->existed ? " (the old one "
	    "is in " : "", s->existed ? s->path : "", s->existed ? ".bak)" :
	    "");
	return EXIT_OK;
}

int
droid_setup(const struct config *cfg, int dry_run, FILE *out)
{
	struct setup s = { NULL, NULL, NULL, 0, NULL, BUF_SECRET, 0, 0600,
	    NULL, NULL };
	int rc;

	if ((rc = setup_plan(cfg, &s)) != EXIT_OK ||
	    (rc = setup_merge(cfg, &s)) != EXIT_OK)
		goto out;
	if (dry_run) {
		/* stdout stays pure JSON for a pipe; the summary goes aside. */
		report(stderr, s.pick, s.ch, s.n, s.gone);
		printf("%s\n", s.json);
	} else
		rc = setup_write(&s, out);
out:
	/* The settings may hold other providers' API keys. */
	if (s.json != NULL)
		explicit_bzero(s.json, strlen(s.json));
	free(s.json);
	secret_json_delete(s.root);
	buf_free(&s.old);
	droid_offer_free(s.pick, s.n);
	secret_json_delete(s.gone);
	free(s.ch);
	free(s.path);
	return rc;
}
