/* oauth: the token-endpoint client, its grants (refresh; login adds the
 * code grant) and the parsing of their answers. */
#ifndef OAUTH_H
#define OAUTH_H
#include <time.h>

#include "network/trust.h"
#include "parsers/config.h"

#define CLAUDE_CLIENT_ID "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
#define CODEX_CLIENT_ID "app_EMoamEEZ73f0CkXaXp7hrann"

enum oauth_rc {
	OAUTH_OK = 0,
	OAUTH_FAIL = -1,        /* network, TLS, 5xx, malformed answer */
	OAUTH_INVALID = -2,     /* invalid_grant or refresh_token_reused */
	OAUTH_LIMITED = -3      /* 429: retry_at says when to try again */
};

/* What a token endpoint gave back. Every string is a secret but email and
 * account_id; oauth_grant_free wipes them. */
struct oauth_grant {
	char *access_token;
	char *refresh_token;    /* NULL when the endpoint kept the old one */
	char *id_token;
	long expires_in;        /* seconds, 0 when absent */
	char *email;            /* Claude: account.email_address */
	time_t retry_at;        /* with OAUTH_LIMITED */
};

/* Refresh grant for provider ("claude" JSON, "codex" form-urlencoded).
 * Returns an enum oauth_rc; err says what failed, never with a token. */
int oauth_refresh(const struct config *cfg, const struct trust *ta,
    const char *provider, const char *refresh_token, struct oauth_grant *g,
    char *err, size_t errlen);

/* Parse a token endpoint's JSON answer (pure, for tests and fuzzing). */
int oauth_parse(int status, const char *body, size_t len,
    struct oauth_grant *g, char *err, size_t errlen);

void oauth_grant_free(struct oauth_grant *g);

/* Authorization code grant (login) for provider: code with the PKCE
 * verifier and the redirect_uri of the authorize request; Claude's JSON
 * also carries the state. Returns an enum oauth_rc; err says what failed,
 * never with a code or a token. */
int oauth_exchange(const struct config *cfg, const struct trust *ta,
    const char *provider, const char *code, const char *verifier,
    const char *state, const char *redirect_uri, struct oauth_grant *g,
    char *err, size_t errlen);

#endif
