/*
 * settings: the clients' own JSON settings files, which the set-up
 * commands merge their entries into. The file is the user's: it is read
 * whole, refused untouched when it is not JSON, and replaced atomically
 * with the old one kept beside it, its mode and its symlink kept; what
 * is printed may hold keys of other providers, so buffers are wiped.
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

#include "commands/settings.h"
#include "parsers/config.h"
#include "support/file.h"
#include "support/secret.h"

#define SETTINGS_MAX	(16 * 1024 * 1024)

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

/* The file itself when it is a symlink: replacing the link with a file
 * would cut the user's dotfiles repository out. */
static char *
real_path(const char *home_path)
{
	char *p = config_expand_home(home_path), *r;

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

/* The file's folder (~/.factory, ~/.claude), made 0700 when missing. */
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

int
settings_load(struct settings *s, const char *home_path, char *err,
    size_t errlen)
{
	int missing;

	memset(s, 0, sizeof *s);
	s->old.secret = 1;
	s->mode = 0600;
	if ((s->path = real_path(home_path)) == NULL) {
		snprintf(err, errlen, "out of memory or HOME unset");
		return -1;
	}
	if ((missing = read_settings(s->path, &s->old, &s->mode, err,
	    errlen)) == -1)
		return -1;
	s->existed = missing == 0;
	if ((s->root = parse_settings(s->path, &s->old, err, errlen)) == NULL)
		return 1;
	if (!cJSON_IsObject(s->root)) {
		snprintf(err, errlen, "%s: the top level is not a JSON object; "
		    "nothing was changed", s->path);
		return 1;
	}
	return 0;
}

char *
settings_print(const struct settings *s)
{
	char *json = cJSON_Print(s->root), *grown;

	if (json == NULL || (grown = realloc(json, strlen(json) + 2)) == NULL) {
		if (json)
			explicit_bzero(json, strlen(json));
		free(json);
		return NULL;
	}
	strcat(grown, "\n");
	return grown;
}

int
settings_write(const struct settings *s, const char *json, char *err,
    size_t errlen)
{
	if (make_dir(s->path, err, errlen) == -1)
		return -1;
	return write_settings(s->path, &s->old, s->existed, s->mode, json, err,
	    errlen);
}

void
settings_free(struct settings *s)
{
	secret_json_delete(s->root);
	buf_free(&s->old);
	free(s->path);
	memset(s, 0, sizeof *s);
}
