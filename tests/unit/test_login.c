/* The pure parts of the logins: base64url, PKCE (RFC 7636 appendix B),
 * authorize URLs parsed back, callback and pasted answers, CODE#STATE,
 * the verdict on an answer, Codex id_token claims, email sanity, the
 * token file's JSON. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/token.h"
#include "commands/login.h"
#include "commands/login_int.h"
#include "support/pkce.h"
#include "support/timefmt.h"
#include "support/url.h"
#include "unit.h"

static const struct {
	const char *in, *out;
} b64[] = {
	/* RFC 4648 section 10, unpadded */
	{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
	{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" }, { "foobar", "Zm9vYmFy" },
	/* the two characters that differ from base64 */
	{ "\xfb\xff", "-_8" }, { "\xff\xfe\xfd", "__79" },
};

static void
test_b64url(void)
{
	char out[64], name[96], back[64];
	ssize_t n;
	size_t i;

	for (i = 0; i < sizeof b64 / sizeof b64[0]; i++) {
		size_t len = strlen(b64[i].in);

		snprintf(name, sizeof name, "b64url encode \"%s\"", b64[i].out);
		n = b64url_encode(b64[i].in, len, out, sizeof out);
		CHECK_STR(name, n >= 0 ? out : NULL, b64[i].out);
		snprintf(name, sizeof name, "b64url decode \"%s\"", b64[i].out);
		n = b64url_decode(b64[i].out, strlen(b64[i].out), back,
		    sizeof back);
		CHECK(name, n == (ssize_t)len && memcmp(back, b64[i].in,
		    len) == 0);
	}
	CHECK("b64url decode tolerates padding",
	    b64url_decode("Zg==", 4, back, sizeof back) == 1 && back[0] == 'f');
	CHECK("b64url decode rejects '+'",
	    b64url_decode("+/8", 3, back, sizeof back) == -1);
	CHECK("b64url decode rejects '!'",
	    b64url_decode("Zm9v!", 5, back, sizeof back) == -1);
	CHECK("b64url decode rejects an impossible length",
	    b64url_decode("Zm9vY", 5, back, sizeof back) == -1);
	CHECK("b64url decode rejects a small buffer",
	    b64url_decode("Zm9vYmFy", 8, back, 5) == -1);
	CHECK("b64url encode: exact buffer",
	    b64url_encode("foob", 4, out, 7) == 6);
	CHECK("b64url encode: one byte short",
	    b64url_encode("foob", 4, out, 6) == -1);
}

static int
alphabet_ok(const char *s)
{
	return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_")] == '\0';
}

static void
test_pkce(void)
{
	struct pkce a, b;
	char c[PKCE_LEN + 1];

	/* The RFC's example, byte for byte. */
	pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", c);
	CHECK_STR("RFC 7636 appendix B challenge", c,
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	CHECK("pkce_new", pkce_new(&a) == 0 && pkce_new(&b) == 0);
	CHECK("verifier is 43 characters", strlen(a.verifier) == 43);
	CHECK("verifier alphabet", alphabet_ok(a.verifier));
	CHECK("state is 43 characters", strlen(a.state) == 43 &&
	    alphabet_ok(a.state));
	pkce_challenge(a.verifier, c);
	CHECK_STR("challenge = S256(verifier)", a.challenge, c);
	CHECK("fresh verifier each time", strcmp(a.verifier, b.verifier) != 0);
	CHECK("fresh state each time", strcmp(a.state, b.state) != 0);
	CHECK("state is not the verifier", strcmp(a.state, a.verifier) != 0);
}

/* The URL parsed back: base, then each parameter decoded and compared;
 * want is NULL-terminated pairs; no parameter may be missing or extra. */
static void
check_url(const char *name, const char *url, const char *base,
    const char *const *want)
{
	const char *q = strchr(url, '?');
	char n[160];
	size_t i, nwant = 0, ngot = 1;
	const char *p;

	snprintf(n, sizeof n, "%s: base", name);
	CHECK(n, q && (size_t)(q - url) == strlen(base) &&
	    strncmp(url, base, strlen(base)) == 0);
	if (q == NULL)
		return;
	for (i = 0; want[i]; i += 2) {
		char *v = login_query_param(q + 1, want[i]);

		snprintf(n, sizeof n, "%s: %s", name, want[i]);
		CHECK_STR(n, v, want[i + 1]);
		free(v);
		nwant++;
	}
	for (p = q + 1; *p; p++)
		ngot += *p == '&';
	snprintf(n, sizeof n, "%s: no other parameter", name);
	CHECK(n, ngot == nwant);
	snprintf(n, sizeof n, "%s: nothing but unreserved and escapes", name);
	CHECK(n, q[1 + strspn(q + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789-._~%&=")] == '\0');
}

static void
test_urls(void)
{
	struct url cu, xu;
	char ruri[128], *u;
	const char *const claude[] = {
		"code", "true",
		"client_id", "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
		"response_type", "code",
		"redirect_uri", "http://localhost:54545/callback",
		"scope", "org:create_api_key user:profile user:inference",
		"code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		"code_challenge_method", "S256",
		"state", "st-ate_1",
		NULL
	};
	const char *const codex[] = {
		"client_id", "app_EMoamEEZ73f0CkXaXp7hrann",
		"response_type", "code",
		"redirect_uri", "http://localhost:1999/auth/callback",
		"scope", "openid email profile offline_access",
		"state", "st-ate_2",
		"code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		"code_challenge_method", "S256",
		"id_token_add_organizations", "true",
		"codex_cli_simplified_flow", "true",
		NULL
	};

	CHECK("default ports", login_default_port(LOGIN_CLAUDE) == 54545 &&
	    login_default_port(LOGIN_CODEX) == 1455);
	login_redirect_uri(LOGIN_CLAUDE, 54545, ruri, sizeof ruri);
	CHECK_STR("claude redirect_uri", ruri,
	    "http://localhost:54545/callback");
	CHECK("redirect_uri too small",
	    login_redirect_uri(LOGIN_CLAUDE, 54545, ruri, 20) == -1);
	if (url_parse("https://claude.ai/oauth/authorize", &cu, NULL, 0) ==
	    -1 || url_parse("https://127.0.0.1:8443/oauth/authorize/", &xu,
	    NULL, 0) == -1) {
		CHECK("url_parse", 0);
		return;
	}
	login_redirect_uri(LOGIN_CLAUDE, 54545, ruri, sizeof ruri);
	u = login_auth_url(LOGIN_CLAUDE, &cu, ruri,
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "st-ate_1");
	CHECK("claude url built", u != NULL);
	if (u)
		check_url("claude url", u, "https://claude.ai/oauth/authorize",
		    claude);
	CHECK("claude url: scope as %20",
	    u && strstr(u, "scope=org%3Acreate_api_key%20user%3Aprofile%20"
	    "user%3Ainference&"));
	free(u);
	login_redirect_uri(LOGIN_CODEX, 1999, ruri, sizeof ruri);
	u = login_auth_url(LOGIN_CODEX, &xu, ruri,
	    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "st-ate_2");
	CHECK("codex url built", u != NULL);
	if (u)
		check_url("codex url", u,
		    "https://127.0.0.1:8443/oauth/authorize", codex);
	free(u);
	url_free(&cu);
	url_free(&xu);
}

static void
test_query(void)
{
	char *v;

	v = login_query_param("ab=2&a=1&b=x%20y+z%2", "a");
	CHECK_STR("query: exact key, not a prefix", v, "1");
	free(v);
	v = login_query_param("ab=2&a=1&b=x%20y+z", "b");
	CHECK_STR("query: %20 and +", v, "x y z");
	free(v);
	v = login_query_param("ab=2&a=1&b=x%20y+z%2", "b");
	CHECK("query: a stray % is refused, not guessed at", v == NULL);
	free(v);
	v = login_query_param("a=1&&c=%41%42", "c");
	CHECK_STR("query: empty pair skipped, uppercase escapes", v, "AB");
	free(v);
	CHECK("query: absent", login_query_param("a=1", "b") == NULL);
	CHECK("query: empty value", login_query_param("a=&b=1", "a") == NULL);
	CHECK("query: %00 refused", login_query_param("a=x%00y", "a") == NULL);
	CHECK("query: key without =", login_query_param("a&b=1", "a") == NULL);
}

static void
test_answers(void)
{
	struct login_answer a;

	CHECK("callback: code and state",
	    login_parse_query("code=c0de&state=S1", &a) == 0 &&
	    a.code && strcmp(a.code, "c0de") == 0 &&
	    login_check_state(&a, "S1") == 0);
	CHECK("callback: wrong state", login_check_state(&a, "S2") == -1);
	CHECK("callback: longer state", login_check_state(&a, "S11") == -1);
	login_answer_free(&a);
	CHECK("callback: CODE#STATE split",
	    login_parse_query("code=c0de%23S1&state=S1", &a) == 0 &&
	    a.code && strcmp(a.code, "c0de") == 0 && a.code_state &&
	    strcmp(a.code_state, "S1") == 0 &&
	    login_check_state(&a, "S1") == 0);
	login_answer_free(&a);
	CHECK("callback: CODE#WRONG refused",
	    login_parse_query("code=c0de%23S9&state=S1", &a) == 0 &&
	    login_check_state(&a, "S1") == -1);
	login_answer_free(&a);
	CHECK("callback: CODE#STATE without a state parameter",
	    login_parse_query("code=c0de%23S1", &a) == 0 &&
	    login_check_state(&a, "S1") == 0);
	login_answer_free(&a);
	CHECK("callback: no state at all refused",
	    login_parse_query("code=c0de", &a) == 0 &&
	    login_check_state(&a, "S1") == -1);
	login_answer_free(&a);
	CHECK("callback: error",
	    login_parse_query("error=access_denied&state=S1", &a) == 0 &&
	    a.code == NULL && a.error && strcmp(a.error, "access_denied") == 0);
	login_answer_free(&a);

	CHECK("paste: redirect URL",
	    login_parse_paste("  http://localhost:54545/callback?code=c0de&"
	    "state=S1\r\n", &a) == 0 && !a.bare && a.code &&
	    strcmp(a.code, "c0de") == 0 && login_check_state(&a, "S1") == 0);
	login_answer_free(&a);
	CHECK("paste: redirect URL with the wrong state",
	    login_parse_paste("http://localhost:1455/auth/callback?code=c0de&"
	    "scope=openid&state=S9", &a) == 0 &&
	    login_check_state(&a, "S1") == -1);
	login_answer_free(&a);
	CHECK("paste: URL without state refused",
	    login_parse_paste("http://localhost:1455/auth/callback?code=c0de",
	    &a) == 0 && login_check_state(&a, "S1") == -1);
	login_answer_free(&a);
	CHECK("paste: a query",
	    login_parse_paste("code=c0de&state=S1", &a) == 0 &&
	    strcmp(a.code, "c0de") == 0 && login_check_state(&a, "S1") == 0);
	login_answer_free(&a);
	CHECK("paste: CODE#STATE",
	    login_parse_paste("c0de-c0de#S1\n", &a) == 0 && a.bare &&
	    strcmp(a.code, "c0de-c0de") == 0 &&
	    login_check_state(&a, "S1") == 0);
	login_answer_free(&a);
	CHECK("paste: CODE#WRONG refused",
	    login_parse_paste("c0de-c0de#S2", &a) == 0 &&
	    login_check_state(&a, "S1") == -1);
	login_answer_free(&a);
	CHECK("paste: bare code",
	    login_parse_paste("ac_Zm9v.YmFy~x", &a) == 0 && a.bare &&
	    strcmp(a.code, "ac_Zm9v.YmFy~x") == 0 &&
	    login_check_state(&a, "S1") == 0);
	login_answer_free(&a);
	CHECK("paste: a short word is not a code",
	    login_parse_paste("yes", &a) == -1);
	CHECK("paste: text with punctuation is not a code",
	    login_parse_paste("what's_this?", &a) == -1);
	CHECK("paste: blank is nothing", login_parse_paste("  \r\n", &a) == -1);
	CHECK("paste: '#STATE' alone is nothing",
	    login_parse_paste("#S1", &a) == -1);
	CHECK("paste: URL without code is nothing",
	    login_parse_paste("http://localhost:54545/callback?state=S1",
	    &a) == -1);
}

/* The state first, then the error: an answer that is not this login's
 * is ignored (and wiped) whatever it says; only a refusal with the right
 * state ends the login. */
static void
test_judge(void)
{
	static const struct {
		const char *query;
		int want;
	} t[] = {
		{ "code=c0de&state=S1", LOGIN_GOT },
		{ "code=c0de%23S1", LOGIN_GOT },
		{ "code=c0de&state=S2", LOGIN_MORE },
		{ "code=c0de", LOGIN_MORE },
		{ "code=c0de%23S2&state=S1", LOGIN_MORE },
		{ "error=access_denied", LOGIN_MORE },
		{ "error=access_denied&state=S2", LOGIN_MORE },
		{ "error=access_denied&state=S1", LOGIN_FAIL },
	};
	struct login_wait w;
	char name[96];
	size_t i;
	int rc;

	login_wait_init(&w, LOGIN_CLAUDE);
	w.state = "S1";
	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(name, sizeof name, "judge: %s", t[i].query);
		rc = login_parse_query(t[i].query, &w.a) == 0 ?
		    login_judge(&w, -1) : -1;
		CHECK(name, rc == t[i].want && (rc != LOGIN_MORE ||
		    (w.a.code == NULL && w.a.error == NULL)));
		login_answer_free(&w.a);
	}
	login_wait_free(&w);
}

/* header.payload.signature with the payload given as JSON. */
static char *
jwt(const char *payload)
{
	char p[2048], *out;

	b64url_encode(payload, strlen(payload), p, sizeof p);
	if (asprintf(&out, "eyJhbGciOiJSUzI1NiJ9.%s.c2ln", p) == -1)
		return NULL;
	return out;
}

static void
test_claims(void)
{
	static const struct {
		const char *name, *token;
	} bad[] = {
		{ "two parts", "eyJh.eyJh" },
		{ "four parts", "a.eyJlbWFpbCI6ImFAYi5jIn0.c.d" },
		{ "empty payload", "a..c" },
		{ "payload not base64url", "a.eyJ!bWFp.c" },
		{ "payload not JSON", "a.bm90IGpzb24.c" },          /* not json */
		{ "payload a JSON array", "a.WyJhIl0.c" },           /* ["a"] */
		{ "no email", "a.eyJzdWIiOiJ4In0.c" },               /* {"sub":"x"} */
		{ "not a JWT", "opaque-token" },
	};
	char err[256], *e, *acct, *plan, *t;
	size_t i;

	t = jwt("{\"email\":\"dev@example.com\",\"https://api.openai.com/"
	    "auth\":{\"chatgpt_account_id\":\"acc-123\",\"chatgpt_plan_type\":"
	    "\"plus\"},\"sub\":\"u\"}");
	CHECK("claims: parsed", t && login_codex_claims(t, &e, &acct, &plan,
	    err, sizeof err) == 0);
	CHECK_STR("claims: email", e, "dev@example.com");
	CHECK_STR("claims: account id", acct, "acc-123");
	CHECK_STR("claims: plan", plan, "plus");
	free(e);
	free(acct);
	free(plan);
	free(t);
	t = jwt("{\"email\":\"x@y.z\",\"https://api.openai.com/auth\":"
	    "{\"chatgpt_account_id\":\"a1\"}}");
	CHECK("claims: plan optional", t && login_codex_claims(t, &e, &acct,
	    &plan, err, sizeof err) == 0 && plan == NULL);
	free(e);
	free(acct);
	free(t);
	t = jwt("{\"email\":\"x@y.z\"}");
	CHECK("claims: no account id refused", t && login_codex_claims(t, &e,
	    &acct, &plan, err, sizeof err) == -1 && e == NULL &&
	    strstr(err, "chatgpt_account_id"));
	free(t);
	CHECK("claims: NULL id_token", login_codex_claims(NULL, &e, &acct,
	    &plan, err, sizeof err) == -1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char name[96];

		snprintf(name, sizeof name, "claims: %s refused", bad[i].name);
		err[0] = '\0';
		CHECK(name, login_codex_claims(bad[i].token, &e, &acct, &plan,
		    err, sizeof err) == -1 && e == NULL && acct == NULL &&
		    strstr(err, "id_token") != NULL);
	}
}

static void
test_email(void)
{
	static const struct {
		const char *email;
		int ok;
	} t[] = {
		{ "a@b.c", 1 }, { "first.last+tag@example.co.uk", 1 },
		{ "a..b@c", 1 }, { "", 0 }, { ".hidden@x", 0 }, { "..", 0 },
		{ "a/b@c", 0 }, { "../../etc/passwd", 0 }, { "a\nb@c", 0 },
		{ "a\tb@c", 0 }, { "a\x7f@c", 0 }, { "a\x1b[31m@c", 0 },
	};
	char name[96], longer[300];
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		snprintf(name, sizeof name, "email %zu %s", i,
		    t[i].ok ? "accepted" : "refused");
		CHECK(name, login_email_ok(t[i].email) == t[i].ok);
	}
	memset(longer, 'a', sizeof longer - 1);
	longer[sizeof longer - 1] = '\0';
	CHECK("email too long refused", !login_email_ok(longer));
	CHECK("email NULL refused", !login_email_ok(NULL));
}

static const char *
jstr(const cJSON *o, const char *k)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(j) ? j->valuestring : NULL;
}

static void
test_token_json(void)
{
	struct oauth_grant g = { 0 };
	char at[] = "sk-ant-oat01-A", rt[] = "sk-ant-ort01-R", it[] = "h.p.s";
	char *s;
	cJSON *o;
	struct account a;
	char err[128], when[32];
	time_t now = 1767225600;        /* 2026-01-01T00:00:00Z */

	g.access_token = at;
	g.refresh_token = rt;
	g.expires_in = 28800;
	s = login_token_json(LOGIN_CLAUDE, &g, "a@b.c", NULL, now);
	o = s ? cJSON_Parse(s) : NULL;
	CHECK("claude json", o != NULL);
	CHECK_STR("claude type", jstr(o, "type"), "claude");
	CHECK_STR("claude access_token", jstr(o, "access_token"),
	    "sk-ant-oat01-A");
	CHECK_STR("claude refresh_token", jstr(o, "refresh_token"),
	    "sk-ant-ort01-R");
	CHECK_STR("claude email", jstr(o, "email"), "a@b.c");
	CHECK_STR("claude expired", jstr(o, "expired"), "2026-01-01T08:00:00Z");
	CHECK_STR("claude last_refresh", jstr(o, "last_refresh"),
	    "2026-01-01T00:00:00Z");
	CHECK_STR("claude id_token empty", jstr(o, "id_token"), "");
	CHECK("claude: seven keys", cJSON_GetArraySize(o) == 7);
	CHECK("claude: the token store reads it", s && token_parse(s,
	    strlen(s), &a, err, sizeof err) == 0 && a.expires == now + 28800);
	account_free(&a);
	cJSON_Delete(o);
	free(s);

	g.id_token = it;
	g.expires_in = 0;
	s = login_token_json(LOGIN_CODEX, &g, "x@y.z", "acc-1", now);
	o = s ? cJSON_Parse(s) : NULL;
	timefmt_format(now + 3600, when, sizeof when);
	CHECK("codex json", o != NULL);
	CHECK_STR("codex type", jstr(o, "type"), "codex");
	CHECK_STR("codex id_token", jstr(o, "id_token"), "h.p.s");
	CHECK_STR("codex account_id", jstr(o, "account_id"), "acc-1");
	CHECK_STR("codex email", jstr(o, "email"), "x@y.z");
	CHECK_STR("codex expired without expires_in", jstr(o, "expired"), when);
	CHECK("codex: eight keys", cJSON_GetArraySize(o) == 8);
	CHECK("codex: the token store reads it", s && token_parse(s,
	    strlen(s), &a, err, sizeof err) == 0 && a.account_id &&
	    strcmp(a.account_id, "acc-1") == 0);
	account_free(&a);
	cJSON_Delete(o);
	free(s);
}

int
main(void)
{
	test_b64url();
	test_pkce();
	test_urls();
	test_query();
	test_answers();
	test_judge();
	test_claims();
	test_email();
	test_token_json();
	return UNIT_END();
}
