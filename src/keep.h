/* keep: what a connection process keeps of auth-dir (see keep.c). */
#ifndef KEEP_H
#define KEEP_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/stat.h>

#include "config.h"
#include "token.h"

/* auth-dir's entries in name order (kept: do not free), as last listed
 * when it has not changed since. 0, or -1 with errno. */
int keep_dir_names(const char *dir, char *const **names, size_t *n);
/* Read and parse state.json; NULL when it is missing, unreadable or
 * corrupt (*corrupt set for the last). st, when given, gets its stat taken
 * before the read. The caller owns the tree. */
cJSON *keep_state_read(const char *path, struct stat *st, int *corrupt);
/* cfg's state.json as last read (kept: do not free), read again when it
 * changed; NULL when there is none to read. */
cJSON *keep_state(const struct config *cfg);
/* Forget the kept state (this process rewrote it, or changed the tree it
 * was given). */
void keep_state_forget(void);
/* The token file at path as an account of provider, a copy of the one
 * kept when the file has not changed. 0, or -1 with err. */
int keep_token(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen);
/* Forget the kept account of the token file at path (this process
 * replaced it). */
void keep_token_forget(const char *path);
/* Make the next reads ask stat about every kept file. */
void keep_recheck(void);

#endif
