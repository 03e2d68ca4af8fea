/* login: --claude-login and --codex-login, the OAuth authorization code
 * flow with PKCE, on a desktop (browser callback on 127.0.0.1) or on a
 * server over SSH (the redirect URL or the code pasted on the terminal). */
#ifndef LOGIN_H
#define LOGIN_H
#include <stddef.h>
#include <time.h>

#include "commands/login_redirect.h"
#include "network/oauth.h"
#include "support/exits.h"

/* Seconds to wait for the browser or a paste; the environment variable
 * overrides it (tests). */
#define LOGIN_TIMEOUT 300
#define LOGIN_TIMEOUT_ENV "CLI_PROXY_API_LOGIN_TIMEOUT"

struct login_opts {
	enum login_provider provider;
	int no_browser;
	int port;                 /* callback port; 0: 54545 or 1455 */
	const char *config_path;  /* --config as given, NULL without one */
};

/* The whole login: prints the URL, waits, exchanges the code, writes
 * auth-dir/<provider>-<email>.json. Returns an exit code: EXIT_OK,
 * EXIT_LOGIN, EXIT_SYS or EXIT_TLS. */
int login_run(const struct config *cfg, const struct login_opts *o);

/* Pure pieces of what is saved (login_save.c), for the unit tests; the
 * redirect's are in login_redirect.h. */

/* Claims of a Codex id_token's payload (the signature is not checked: the
 * token comes from the token endpoint over TLS). email and account_id are
 * required; plan may come back NULL. 0, or -1 with err (never quoting the
 * token). The caller frees the strings. */
int login_codex_claims(const char *id_token, char **email,
    char **account_id, char **plan, char *err, size_t errlen);
/* 1 when email is safe as part of a file name: no '/', no leading '.',
 * no control characters, not empty, not too long. */
int login_email_ok(const char *email);
/* The token file's JSON (CLIProxyAPI's format). malloc'd secret, or NULL. */
char *login_token_json(enum login_provider p, const struct oauth_grant *g,
    const char *email, const char *account_id, time_t now);

#endif
