/*
 * oauth: the token-endpoint client. Grants as the providers take them:
 * Claude takes JSON, Codex takes a form. A rotated refresh token replaces
 * the old one, which dies: the caller must store it before anything else
 * can fail.
 *
 * Each grant is one HTTPS POST (httpc.c); the answer is a secret, held
 * in memory and wiped when freed.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "network/httpc.h"
#include "network/oauth.h"
#include "parsers/http.h"
#include "support/buf.h"
#include "support/secret.h"
#include "support/url.h"

#define RESP_MAX (1024 * 1024)

/* ---------------------------------------------------------------- answers */

void
oauth_grant_free(struct oauth_grant *g)
{
	secret_free(&g->access_token);
	secret_free(&g->refresh_token);
	secret_free(&g->id_token);
	free(g->email);
	memset(g, 0, sizeof *g);
}

/* The error code of an OAuth error answer: {"error":"invalid_grant"} or
 * {"error":{"code":"refresh_token_reused",...}}, copied into out. */
static void
error_code(const cJSON *root, char *out, size_t outlen)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");

	out[0] = '\0';
	if (cJSON_IsString(e))
		snprintf(out, outlen, "%s", e->valuestring);
	else if (cJSON_IsObject(e)) {
		const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "code");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "type");

		if (cJSON_IsString(c))
			snprintf(out, outlen, "%s", c->valuestring);
		else if (cJSON_IsString(t))
			snprintf(out, outlen, "%s", t->valuestring);
	}
	/* Only a short code, printable: it goes into logs and the state. */
	for (char *p = out; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (strlen(out) > 64)
		out[64] = '\0';
}

int
oauth_parse(int status, const char *body, size_t len, struct oauth_grant *g,
    char *err, size_t errlen)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *j, *acct;
	char code[72] = "";
	int rc = OAUTH_FAIL;

	memset(g, 0, sizeof *g);
	if (root)
		error_code(root, code, sizeof code);
	if (status < 200 || status > 299) {
		/* A reused refresh token may also be reported in a message
		 * rather than a code: look for the word in the raw body. */
		int reused = strstr(code, "refresh_token_reused") != NULL ||
		    (body && memmem(body, len, "refresh_token_reused", 20));

		if (reused || strcmp(code, "invalid_grant") == 0) {
			snprintf(err, errlen, "the refresh token was refused "
			    "(%s): log in again", reused ?
			    "refresh_token_reused" : "invalid_grant");
			rc = OAUTH_INVALID;
		} else if (status == 429) {
			snprintf(err, errlen, "the token endpoint is rate "
			    "limiting (429)");
			rc = OAUTH_LIMITED;
		} else
			snprintf(err, errlen, "the token endpoint answered %d%s"
			    "%s", status, code[0] ? " " : "", code);
		goto out;
	}
	if (root == NULL || !cJSON_IsObject(root)) {
		snprintf(err, errlen, "the token endpoint answered %d with "
		    "something that is not JSON", status);
		goto out;
	}
	g->access_token = secret_json_str(root, "access_token");
	g->refresh_token = secret_json_str(root, "refresh_token");
	g->id_token = secret_json_str(root, "id_token");
	j = cJSON_GetObjectItemCaseSensitive(root, "expires_in");
	if (cJSON_IsNumber(j) && j->valuedouble > 0 && j->valuedouble < 1e9)
		g->expires_in = (long)j->valuedouble;
	acct = cJSON_GetObjectItemCaseSensitive(root, "account");
	if (cJSON_IsObject(acct))
		g->email = secret_json_str(acct, "email_address");
	if (g->access_token == NULL) {
		snprintf(err, errlen, "the token endpoint's answer has no "
		    "access_token");
		oauth_grant_free(g);
		goto out;
	}
	/* A token goes into a header line and a token file: a control
	 * character in it could split the head of every request. */
	if (!http_value_safe(g->access_token) || (g->refresh_token &&
	    !http_value_safe(g->refresh_token)) || (g->id_token &&
	    !http_value_safe(g->id_token))) {
		snprintf(err, errlen, "the token endpoint's answer has a "
		    "control character in a token; it is not used");
		oauth_grant_free(g);
		goto out;
	}
	rc = OAUTH_OK;
out:
	secret_json_delete(root);
	return rc;
}

/* ---------------------------------------------------------------- grants */

/* application/x-www-form-urlencoded value */
static int
form_add(struct buf *b, const char *k, const char *v)
{
	if (b->len && buf_add(b, "&", 1) == -1)
		return -1;
	if (buf_adds(b, k) == -1 || buf_add(b, "=", 1) == -1)
		return -1;
	return url_pct_encode(b, v, 1);
}

/* A grant's JSON object printed into b, then wiped and freed with what
 * printed it; ok 0 when filling it failed. */
static int
json_body(cJSON *o, int ok, struct buf *b)
{
	char *s;
	int rc = -1;

	if (ok && (s = cJSON_PrintUnformatted(o)) != NULL) {
		rc = buf_adds(b, s);
		explicit_bzero(s, strlen(s));
		free(s);
	}
	secret_json_delete(o);
	return rc;
}

static int
refresh_body(const char *provider, const char *rt, struct buf *b,
    const char **ctype)
{
	cJSON *o;

	if (strcmp(provider, "codex") == 0) {
		*ctype = "application/x-www-form-urlencoded";
		return form_add(b, "client_id", CODEX_CLIENT_ID) == -1 ||
		    form_add(b, "grant_type", "refresh_token") == -1 ||
		    form_add(b, "refresh_token", rt) == -1 ||
		    form_add(b, "scope", "openid profile email") == -1 ? -1 : 0;
	}
	*ctype = "application/json";
	if ((o = cJSON_CreateObject()) == NULL)
		return -1;
	return json_body(o,
	    cJSON_AddStringToObject(o, "grant_type", "refresh_token") &&
	    cJSON_AddStringToObject(o, "refresh_token", rt) &&
	    cJSON_AddStringToObject(o, "client_id", CLAUDE_CLIENT_ID), b);
}

/* POST a grant body to provider's token endpoint and parse the answer.
 * Returns an enum oauth_rc; *why gets the parse error, err the transport
 * error. The body is wiped. */
static int
grant(const struct config *cfg, const struct trust *ta, const char *provider,
    struct buf *body, const char *ctype, struct oauth_grant *g, char *why,
    size_t whylen, char *err, size_t errlen)
{
	const struct url *url = strcmp(provider, "codex") == 0 ?
	    &cfg->codex_token_url : &cfg->claude_token_url;
	struct httpc_req rq = { "POST", url, url->path[0] ? url->path : "/",
	    NULL, ctype, body->p, body->len, cfg->token_timeout * 1000,
	    RESP_MAX };
	struct httpc_resp r;
	int rc;

	if (httpc_do(&rq, &cfg->proxy, ta, &r, why, whylen) == -1) {
		snprintf(err, errlen, "token endpoint %s: %s", url->host, why);
		buf_free(body);
		return OAUTH_FAIL;
	}
	buf_free(body);
	rc = oauth_parse(r.status, r.body.p, r.body.len, g, why, whylen);
	if (rc != OAUTH_OK)
		snprintf(err, errlen, "token endpoint %s: %s", url->host, why);
	g->retry_at = r.retry_at;
	httpc_resp_free(&r);
	return rc;
}

int
oauth_refresh(const struct config *cfg, const struct trust *ta,
    const char *provider, const char *refresh_token, struct oauth_grant *g,
    char *err, size_t errlen)
{
	struct buf body = BUF_SECRET;
	const char *ctype;
	char why[512];

	memset(g, 0, sizeof *g);
	if (refresh_body(provider, refresh_token, &body, &ctype) == -1) {
		buf_free(&body);
		snprintf(err, errlen, "out of memory");
		return OAUTH_FAIL;
	}
	return grant(cfg, ta, provider, &body, ctype, g, why, sizeof why, err,
	    errlen);
}

static int
code_body(const char *provider, const char *code, const char *verifier,
    const char *state, const char *redirect_uri, struct buf *b,
    const char **ctype)
{
	cJSON *o;

	if (strcmp(provider, "codex") == 0) {
		*ctype = "application/x-www-form-urlencoded";
		return form_add(b, "grant_type", "authorization_code") == -1 ||
		    form_add(b, "client_id", CODEX_CLIENT_ID) == -1 ||
		    form_add(b, "code", code) == -1 ||
		    form_add(b, "redirect_uri", redirect_uri) == -1 ||
		    form_add(b, "code_verifier", verifier) == -1 ? -1 : 0;
	}
	*ctype = "application/json";
	if ((o = cJSON_CreateObject()) == NULL)
		return -1;
	return json_body(o,
	    cJSON_AddStringToObject(o, "grant_type", "authorization_code") &&
	    cJSON_AddStringToObject(o, "code", code) &&
	    cJSON_AddStringToObject(o, "redirect_uri", redirect_uri) &&
	    cJSON_AddStringToObject(o, "client_id", CLAUDE_CLIENT_ID) &&
	    cJSON_AddStringToObject(o, "code_verifier", verifier) &&
	    cJSON_AddStringToObject(o, "state", state), b);
}

int
oauth_exchange(const struct config *cfg, const struct trust *ta,
    const char *provider, const char *code, const char *verifier,
    const char *state, const char *redirect_uri, struct oauth_grant *g,
    char *err, size_t errlen)
{
	const struct url *url = strcmp(provider, "codex") == 0 ?
	    &cfg->codex_token_url : &cfg->claude_token_url;
	struct buf body = BUF_SECRET;
	const char *ctype;
	char why[512];
	int rc;

	memset(g, 0, sizeof *g);
	if (code_body(provider, code, verifier, state, redirect_uri, &body,
	    &ctype) == -1) {
		buf_free(&body);
		snprintf(err, errlen, "out of memory");
		return OAUTH_FAIL;
	}
	rc = grant(cfg, ta, provider, &body, ctype, g, why, sizeof why, err,
	    errlen);
	/* oauth_parse words invalid_grant for a refresh token; here it means
	 * the code was used, expired or not issued for this verifier. */
	if (rc == OAUTH_INVALID)
		snprintf(err, errlen, "token endpoint %s refused the "
		    "authorization code (invalid_grant): it expires within "
		    "minutes and works once; log in again", url->host);
	return rc;
}
