/* authdir: which accounts auth-dir and the config hold, and what a
 * connection process keeps of auth-dir (see authdir.c). Inside the
 * accounts layer only. */
#ifndef AUTHDIR_H
#define AUTHDIR_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <sys/stat.h>

#include "accounts/token.h"
#include "parsers/config.h"
#include "support/file.h"

/* A place an account can come from: a token file, or an API key entry. */
struct acct_ref {
	char id[256];
	const struct api_key *key;      /* NULL for a token file */
	int keyno;
};


/* provider's accounts ("claude", "codex"): its token files in name order
 * (<provider>-*.json), then its API keys in config order. *out is the
 * caller's to free. 0, or -1 with errno when auth-dir cannot be read (a
 * missing auth-dir is no accounts). */
int authdir_accounts(const struct config *cfg, const char *provider,
    struct acct_ref **out, size_t *n);
/* The account ref points to: the token file read (kept, see above), or
 * the API key as an account. 0, or -1 with err. */
int authdir_load(const struct config *cfg, const char *provider,
    const struct acct_ref *ref, struct account *a, char *err,
    size_t errlen);

/* Read and parse state.json (at most 4 MiB); NULL when it is missing,
 * unreadable or corrupt (*corrupt set for the last). st, when given, gets
 * its stat taken before the read. The caller owns the tree. */
cJSON *authdir_state_read(const char *path, struct stat *st, int *corrupt);
/* cfg's state.json as last read (kept: do not free), read again when it
 * changed; NULL when there is none to read: the caller then takes the
 * locked path, which also reports a corrupt file. */
cJSON *authdir_state(const struct config *cfg);
/* Forget the kept state (this process changed the tree it was given). */
void authdir_state_forget(void);
/* The token file at path as an account of provider: a copy of the one
 * kept when the file has not changed. A file that fails to load is not
 * kept. 0, or -1 with err. */
int authdir_token(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen);
/* Replace the file at path in auth-dir (file_replace) and forget what
 * this process kept of it: every writer of state.json and token files
 * in a connection process writes through here. */
int authdir_replace(const char *path, const void *data, size_t len,
    int durable, char *err, size_t errlen);
/* Room for the next content of the file at path, taken before what
 * cannot be asked twice (file_reserve, path.tmp beside it). Called
 * under path's exclusive lock, so the name is the account's own: what a
 * process killed mid-grant left is taken over by the next one, never
 * piled up. 0, or -1 with errno. */
int authdir_reserve(struct file_room *r, const char *path, size_t size);
/* Fill the room and put it in place of path (file_fill), forgetting
 * what this process kept of it. */
int authdir_fill(struct file_room *r, const char *path, const void *data,
    size_t len, char *err, size_t errlen);
/* Watch auth-dir for changes from now on (before the sandbox, before
 * the first read). 0, or -1 with errno: a stat per kept file per request
 * then tells instead. */
int authdir_watch(const struct config *cfg);
/* A new request: take in what changed in auth-dir since the last one. */
void authdir_look(void);

#endif
