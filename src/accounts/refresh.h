/* refresh: tokens made fresh under their file's lock (see refresh.c). */
#ifndef REFRESH_H
#define REFRESH_H
#include <stddef.h>
#include <stdio.h>

#include "accounts/token.h"
#include "parsers/config.h"

/* refresh_account's answer when the token could not be made fresh for
 * want of room in auth-dir: no grant was asked, the refresh token is
 * kept, and freeing space is the fix (err says so). */
#define REFRESH_NO_ROOM (-2)

/* Make a's access token fresh: when it expires within the refresh lead,
 * or with force (the upstream just refused it), take the file's exclusive
 * lock, re-read it, and refresh only if it still needs it; the grant is
 * asked only once room for its answer is taken in auth-dir. 0 when a
 * holds a token worth trying, -1 or REFRESH_NO_ROOM with err when the
 * account cannot serve now. */
int refresh_account(const struct config *cfg, struct account *a, int force,
    char *err, size_t errlen);

/* --refresh: refresh every stale OAuth account now, one line each on out.
 * 0 when all are usable. */
int refresh_all(const struct config *cfg, FILE *out);

#endif
