/*
 * oauth: the token-endpoint client. Grants as the providers take them:
 * Claude takes JSON, Codex takes a form. A rotated refresh token replaces
 * the old one, which dies: the caller must store it before anything else
 * can fail.
 *
 * Each grant is one HTTPS POST on the same TLS code as the upstream path,
 * with Connection: close to keep it simple: one exchange, then the body
 * ends at Content-Length, the last chunk or the close. The whole answer
 * is held in memory (it is small, and a secret: wiped when freed).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "http.h"
#include "httpbody.h"
#include "oauth.h"
#include "proxyurl.h"
#include "secret.h"
#include "tls.h"
#include "url.h"
#include "version.h"

#define RESP_MAX (1024 * 1024)
#define HEAD_MAX (64 * 1024)

/* A token endpoint's answer. */
struct answer {
	int status;
	struct buf body;        /* secret: wiped when freed */
	time_t retry_at;        /* from Retry-After, 0 when absent */
};

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

/* -------------------------------------------------------------- transport */

/* Take n more bytes of the answer into its body. -1 when malformed or
 * too large. */
static int
answer_add(struct answer *r, struct http_body *hb, const char *p, size_t n)
{
	const char *why;
	size_t got = 0;

	if (r->body.len + n > RESP_MAX || buf_reserve(&r->body, n + 1) == -1 ||
	    http_body_feed(hb, p, n, r->body.p + r->body.len, &got,
	    &why) == -1)
		return -1;
	r->body.len += got;
	r->body.p[r->body.len] = '\0';
	return 0;
}

static void
malformed(const struct url *url, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s sent a malformed or oversized response",
	    url->host);
}

/* Read into in until it holds the answer's head, *hl bytes of it. 0, or
 * -1 with err. */
static int
read_head(struct upstream *u, const struct url *url, struct buf *in,
    size_t *hl, char *err, size_t errlen)
{
	ssize_t n;

	while (*hl == 0) {
		if (buf_reserve(in, 16384) == -1) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		n = up_read(u, in->p + in->len, in->cap - in->len - 1);
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s before a response",
			    url->host, u->timed_out ? "timed out" :
			    "connection closed");
			return -1;
		}
		in->len += (size_t)n;
		in->p[in->len] = '\0';
		*hl = http_head_len(in->p, in->len);
		if (*hl == 0 && in->len > HEAD_MAX) {
			malformed(url, err, errlen);
			return -1;
		}
	}
	return 0;
}

/* The rest of the body, until hb says it is whole. 0, or -1 with err. */
static int
read_body(struct upstream *u, const struct url *url, struct http_body *hb,
    struct answer *r, char *err, size_t errlen)
{
	char tmp[16384];
	ssize_t n;
	int bad;

	while (!hb->done) {
		if ((n = up_read(u, tmp, sizeof tmp)) == 0 &&
		    http_body_eof(hb))
			break;
		if (n <= 0) {
			snprintf(err, errlen, "%s: the response ended early%s",
			    url->host, u->timed_out ? " (timed out)" : "");
			return -1;
		}
		bad = answer_add(r, hb, tmp, (size_t)n) == -1;
		explicit_bzero(tmp, sizeof tmp);
		if (bad) {
			malformed(url, err, errlen);
			return -1;
		}
	}
	return 0;
}

static int
exchange(struct upstream *u, const struct url *url, const char *ctype,
    const char *body, size_t blen, struct answer *r, char *err,
    size_t errlen)
{
	struct buf req = BUF_SECRET, in = BUF_SECRET;
	struct http_body hb;
	struct http_msg *m = NULL;
	const struct http_header *ra;
	const char *why;
	size_t hl = 0;
	int rc = -1;

	if (buf_addf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: cli-proxy-api/" VERSION "\r\n"
	    "Content-Type: %s\r\nAccept: application/json\r\n"
	    "Accept-Encoding: identity\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", url->path[0] ? url->path : "/",
	    url->hostport, ctype, blen) == -1 ||
	    (m = malloc(sizeof *m)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	if (up_write(u, req.p, req.len, 0) != UP_OK ||
	    up_write(u, body, blen, 1) != UP_OK) {
		snprintf(err, errlen, "%s: sending the request failed%s",
		    url->host, u->timed_out ? ": timed out" : "");
		goto out;
	}
	if (read_head(u, url, &in, &hl, err, errlen) == -1)
		goto out;
	if (http_parse_response(in.p, hl, "POST", m, &why) == -1)
		goto bad;
	r->status = m->status;
	if ((ra = http_header_get(m, "retry-after")) != NULL)
		r->retry_at = http_retry_after(ra->value, ra->vlen, time(NULL));
	http_body_init(&hb, m);
	if (answer_add(r, &hb, in.p + hl, in.len - hl) == -1)
		goto bad;
	if (read_body(u, url, &hb, r, err, errlen) == -1)
		goto out;
	if (buf_add(&r->body, "", 0) == -1) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rc = 0;
	goto out;
bad:
	malformed(url, err, errlen);
out:
	free(m);
	buf_free(&req);
	buf_free(&in);
	return rc;
}

/* POST body to url (its path, not a prefix) with the given Content-Type,
 * through px, every wait bounded by timeout_ms. 0 with r filled (any
 * status), or -1 with err when no HTTP answer came back. */
static int
post(const struct url *url, const struct proxy *px, const struct trust *ta,
    int timeout_ms, const char *ctype, const char *body, size_t blen,
    struct answer *r, char *err, size_t errlen)
{
	struct upstream *u;
	int rc = -1;

	memset(r, 0, sizeof *r);
	r->body.secret = 1;
	if ((u = malloc(sizeof *u)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	up_init(u);
	if (up_connect(u, url, px, ta, timeout_ms, err, errlen) == UP_OK) {
		u->timeout_ms = timeout_ms;
		rc = exchange(u, url, ctype, body, blen, r, err, errlen);
	}
	up_close(u);
	free(u);
	if (rc == -1)
		buf_free(&r->body);
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
	struct answer r;
	int rc;

	if (post(url, &cfg->proxy, ta, cfg->token_timeout * 1000, ctype,
	    body->p, body->len, &r, why, whylen) == -1) {
		snprintf(err, errlen, "token endpoint %s: %s", url->host, why);
		buf_free(body);
		return OAUTH_FAIL;
	}
	buf_free(body);
	rc = oauth_parse(r.status, r.body.p, r.body.len, g, why, whylen);
	if (rc != OAUTH_OK)
		snprintf(err, errlen, "token endpoint %s: %s", url->host, why);
	g->retry_at = r.retry_at;
	buf_free(&r.body);
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
