/* settings: a client's JSON settings file (droid's ~/.factory/
 * settings.json, Claude Code's ~/.claude/settings.json), read, merged into
 * and written back with a backup (see settings.c). */
#ifndef SETTINGS_H
#define SETTINGS_H
#include <cjson/cJSON.h>
#include <stdio.h>
#include <sys/types.h>

#include "support/buf.h"

/* One settings file in hand. */
struct settings {
	char *path;             /* the file, symlinks followed */
	struct buf old;         /* as read; it may hold keys: wiped */
	int existed;
	mode_t mode;            /* the file's, kept on replacing it */
	cJSON *root;            /* parsed ({} when missing or blank) */
};

/* Read and parse the file at home_path ("~/.claude/settings.json"). 0;
 * 1 when it is no JSON, or no object (err says where, never what: it may
 * hold keys of other providers); -1 with err (unreadable, HOME unset,
 * out of memory). s is settings_free's either way. */
int settings_load(struct settings *s, const char *home_path, char *err,
    size_t errlen);
/* Write json (s->root printed, with its newline) over the file: its
 * folder made 0700 when missing, the old file kept in PATH.bak, its mode
 * kept. 0, or -1 with err. */
int settings_write(const struct settings *s, const char *json, char *err,
    size_t errlen);
/* s->root printed for the file (tabs, a final newline): malloc'd, wipe
 * and free it; NULL when out of memory. */
char *settings_print(const struct settings *s);
void settings_free(struct settings *s);

#endif
