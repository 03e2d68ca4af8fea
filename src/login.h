/* login: --claude-login and --codex-login, the OAuth authorization code
 * flow with PKCE, on a desktop (browser callback on 127.0.0.1) or on a
 * server over SSH (the redirect URL or the code pasted on the terminal). */
#ifndef LOGIN_H
#define LOGIN_H
#include <stddef.h>
#include <time.h>

#include "exits.h"
#include "oauth.h"
#include "url.h"

/* Seconds to wait for the browser or a paste; the environment variable
 * overrides it (tests). */
#define LOGIN_TIMEOUT 300
#define LOGIN_TIMEOUT_ENV "CLI_PROXY_API_LOGIN_TIMEOUT"

enum login_provider { LOGIN_CLAUDE, LOGIN_CODEX };

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

/* What came back from the browser or the terminal. code and state are
 * secrets; error is the provider's error code when it refused. */
struct login_answer {
	char *code;
	char *state;              /* the state parameter */
	char *code_state;         /* the part after '#' in CODE#STATE */
	char *error;
	int bare;                 /* a pasted code, not a URL: may lack state */
};

/* Pure pieces, for the unit tests. */
int login_default_port(enum login_provider p);
const char *login_callback_path(enum login_provider p);
/* "http://localhost:PORT/callback" into out. 0 or -1 (too small). */
int login_redirect_uri(enum login_provider p, int port, char *out,
    size_t outlen);
/* The authorize URL on auth (claude-auth-url, codex-auth-url) with every
 * parameter the provider expects, percent-encoded. malloc'd, NULL on ENOMEM. */
char *login_auth_url(enum login_provider p, const struct url *auth,
    const char *redirect_uri, const char *challenge, const char *state);
/* The percent-decoded value of key in a query string ("a=1&b=2"),
 * malloc'd; NULL when absent, empty or holding %00. */
char *login_query_param(const char *query, const char *key);
/* The callback's query into a (code split at '#'). 0, or -1 on ENOMEM. */
int login_parse_query(const char *query, struct login_answer *a);
/* A line pasted on the terminal: a redirect URL, its query, CODE#STATE or
 * a bare code. 0, or -1 when nothing in it looks like a code. */
int login_parse_paste(const char *line, struct login_answer *a);
/* 0 when every state a carries equals want (in constant time) and there is
 * at least one, or none and a is a bare pasted code; -1 otherwise. */
int login_check_state(const struct login_answer *a, const char *want);
void login_answer_free(struct login_answer *a);
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
