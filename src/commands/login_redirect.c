/*
 * Both ends of the redirect, pure: the authorize URL the browser is sent
 * to, with its PKCE challenge and state, and what comes back to the
 * callback or is pasted on the terminal (a redirect URL, its query,
 * CODE#STATE or a bare code), checked against the state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands/login_redirect.h"
#include "network/oauth.h"
#include "support/buf.h"
#include "support/secret.h"
#include "support/url.h"

const char *const login_provider_name[] = { "claude", "codex" };

int
login_default_port(enum login_provider p)
{
	return p == LOGIN_CODEX ? 1455 : 54545;
}

const char *
login_callback_path(enum login_provider p)
{
	return p == LOGIN_CODEX ? "/auth/callback" : "/callback";
}

int
login_redirect_uri(enum login_provider p, int port, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "http://localhost:%d%s", port,
	    login_callback_path(p));

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* One query parameter, RFC 3986 unreserved characters kept. */
static int
query_add(struct buf *b, const char *k, const char *v)
{
	if (buf_addf(b, "%s%s=", b->p[b->len - 1] == '?' ? "" : "&", k) == -1)
		return -1;
	return url_pct_encode(b, v, 0);
}

char *
login_auth_url(enum login_provider p, const struct url *auth,
    const char *redirect_uri, const char *challenge, const char *state)
{
	struct buf b = BUF_SECRET;
	int bad;

	if (buf_addf(&b, "https://%s%s?", auth->hostport, auth->path) == -1)
		return NULL;
	/* The order is the official clients': some servers are picky. */
	if (p == LOGIN_CLAUDE)
		bad = query_add(&b, "code", "true") == -1 ||
		    query_add(&b, "client_id", CLAUDE_CLIENT_ID) == -1 ||
		    query_add(&b, "response_type", "code") == -1 ||
		    query_add(&b, "redirect_uri", redirect_uri) == -1 ||
		    query_add(&b, "scope", "org:create_api_key user:profile "
		    "user:inference") == -1 ||
		    query_add(&b, "code_challenge", challenge) == -1 ||
		    query_add(&b, "code_challenge_method", "S256") == -1 ||
		    query_add(&b, "state", state) == -1;
	else
		bad = query_add(&b, "client_id", CODEX_CLIENT_ID) == -1 ||
		    query_add(&b, "response_type", "code") == -1 ||
		    query_add(&b, "redirect_uri", redirect_uri) == -1 ||
		    query_add(&b, "scope", "openid email profile "
		    "offline_access") == -1 ||
		    query_add(&b, "state", state) == -1 ||
		    query_add(&b, "code_challenge", challenge) == -1 ||
		    query_add(&b, "code_challenge_method", "S256") == -1 ||
		    query_add(&b, "id_token_add_organizations",
		    "true") == -1 ||
		    query_add(&b, "codex_cli_simplified_flow", "true") == -1;
	if (bad) {
		buf_free(&b);
		return NULL;
	}
	return b.p;
}

/* Form-decode n bytes of s; NULL on ENOMEM, a bad escape, %00 or an empty
 * result. */
static char *
unescape(const char *s, size_t n)
{
	char *out;
	int bad;

	if ((out = url_pct_decode(s, n, 1, &bad)) != NULL && out[0] == '\0') {
		free(out);
		out = NULL;
	}
	return out;
}

char *
login_query_param(const char *query, const char *key)
{
	size_t kl = strlen(key);
	const char *p = query, *end;

	while (*p) {
		end = p + strcspn(p, "&");
		if ((size_t)(end - p) > kl && strncmp(p, key, kl) == 0 &&
		    p[kl] == '=')
			return unescape(p + kl + 1,
			    (size_t)(end - p) - kl - 1);
		p = *end ? end + 1 : end;
	}
	return NULL;
}

/* CODE#STATE: Claude's way of handing both over in one string. */
static int
split_code(struct login_answer *a)
{
	char *h;

	if (a->code == NULL || (h = strchr(a->code, '#')) == NULL)
		return 0;
	*h++ = '\0';
	if (*h && (a->code_state = strdup(h)) == NULL)
		return -1;
	explicit_bzero(h, strlen(h));
	if (a->code[0] == '\0')
		secret_free(&a->code);
	return 0;
}

int
login_parse_query(const char *query, struct login_answer *a)
{
	memset(a, 0, sizeof *a);
	a->code = login_query_param(query, "code");
	a->state = login_query_param(query, "state");
	a->error = login_query_param(query, "error");
	return split_code(a);
}

/* A code alone, maybe with #STATE: URL-safe characters, and long enough
 * that "yes" or a stray word is taken for what it is. */
static int
bare_ok(const char *s)
{
	return strlen(s) >= 8 && s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-._~#")] == '\0';
}

int
login_parse_paste(const char *line, struct login_answer *a)
{
	const char *s = line, *q;
	size_t n;
	char *t;
	int rc;

	memset(a, 0, sizeof *a);
	while (*s == ' ' || *s == '\t')
		s++;
	n = strcspn(s, " \t\r\n");
	if ((t = strndup(s, n)) == NULL)
		return -1;
	if ((q = strchr(t, '?')) != NULL || strncmp(t, "code=", 5) == 0 ||
	    strstr(t, "&code=") != NULL) {
		/* A URL: what follows '#' is a fragment, never sent. */
		t[strcspn(t, "#")] = '\0';
		rc = login_parse_query(q ? q + 1 : t, a);
	} else if (bare_ok(t)) {
		a->bare = 1;
		a->code = strdup(t);
		rc = split_code(a);
	} else
		rc = -1;
	explicit_bzero(t, n);
	free(t);
	if (rc == -1 || (a->code == NULL && a->error == NULL)) {
		login_answer_free(a);
		return -1;
	}
	return 0;
}

/* Constant time for equal lengths; the length of a state is no secret. */
static int
state_eq(const char *a, const char *b)
{
	size_t n = strlen(a), i;
	unsigned char d = 0;

	if (n != strlen(b))
		return 0;
	for (i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

int
login_check_state(const struct login_answer *a, const char *want)
{
	if (a->state == NULL && a->code_state == NULL)
		return a->bare ? 0 : -1;
	if (a->state && !state_eq(a->state, want))
		return -1;
	if (a->code_state && !state_eq(a->code_state, want))
		return -1;
	return 0;
}

void
login_answer_free(struct login_answer *a)
{
	secret_free(&a->code);
	secret_free(&a->state);
	secret_free(&a->code_state);
	free(a->error);
	memset(a, 0, sizeof *a);
}
