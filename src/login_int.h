/* login_int: what the login's files share; nothing else includes it. */
#ifndef LOGIN_INT_H
#define LOGIN_INT_H
#include <stddef.h>

#include "config.h"
#include "login_redirect.h"
#include "oauth.h"

/* login_save.c: the token file. */

/* Write the grant's token file, auth-dir/<provider>-<email>.json, creating
 * auth-dir. 0 with *pathp malloc'd, or -1 (logged: nothing saved). */
int login_save(const struct config *cfg, enum login_provider p,
    const struct oauth_grant *g, const char *email, const char *account_id,
    char **pathp);

#endif
