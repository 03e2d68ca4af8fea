/* login_redirect: both ends of the login's redirect, pure: the authorize
 * URL the browser is sent to and what comes back from it, to the callback
 * or pasted on the terminal. Included by login.h. */
#ifndef LOGIN_REDIRECT_H
#define LOGIN_REDIRECT_H
#include <stddef.h>

#include "support/url.h"

enum login_provider { LOGIN_CLAUDE, LOGIN_CODEX };

/* "claude" and "codex": the --X-login option, the token endpoint's
 * provider and the token file's name. */
extern const char *const login_provider_name[];

/* What came back from the browser or the terminal. code and state are
 * secrets; error is the provider's error code when it refused. */
struct login_answer {
	char *code;
	char *state;              /* the state parameter */
	char *code_state;         /* the part after '#' in CODE#STATE */
	char *error;
	int bare;                 /* a pasted code, no URL: may lack state */
};

int login_default_port(enum login_provider p);
const char *login_callback_path(enum login_provider p);
/* "http://localhost:PORT/callback" into out. 0 or -1 (too small). */
int login_redirect_uri(enum login_provider p, int port, char *out,
    size_t outlen);
/* The authorize URL on auth (claude-auth-url, codex-auth-url) with every
 * parameter the provider expects, percent-encoded. malloc'd, NULL on
 * ENOMEM. */
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

#endif
