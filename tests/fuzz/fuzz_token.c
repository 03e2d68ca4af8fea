/* Fuzz the token-file parser and the token endpoint answer parser: both
 * read JSON that holds secrets, and both must never quote it in err. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "accounts/token.h"
#include "network/oauth.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

/* err must not carry a secret: none of the token values may appear in
 * it. (The parse error path quotes nothing by construction: err there is
 * a fixed string, and cJSON's error pointer is never used.) */
static void
tok_no_quote(const char *err, const char *in, size_t n)
{
	static const char *const keys[] = { "access_token", "refresh_token",
	    "id_token", NULL };
	const char *const *k;
	const cJSON *v;
	cJSON *j = cJSON_ParseWithLength(in, n);

	for (k = keys; j && *k; k++) {
		v = cJSON_GetObjectItemCaseSensitive(j, *k);
		/* Values of lower-case words may be part of our own
		 * message ("no access_token in it"): not secrets. */
		if (cJSON_IsString(v) && strlen(v->valuestring) >= 4 &&
		    strspn(v->valuestring, "abcdefghijklmnopqrstuvwxyz_ ") <
		    strlen(v->valuestring) && strstr(err, v->valuestring))
			abort();
	}
	cJSON_Delete(j);
}

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 400, 401, 429, 500, 503, 302, 0 };
	struct oauth_grant g;
	struct account a;
	char err[256];
	char *in;
	int rc;

	if (size < 1)
		return 0;
	in = fuzz_copy(data + 1, size - 1);
	err[0] = '\0';
	if (data[0] & 0x80) {
		memset(&g, 0, sizeof g);
		rc = oauth_parse(statuses[data[0] & 7], in, size - 1, &g, err,
		    sizeof err);
		/* err may name the endpoint's own error code: no quote
		 * check here. */
		if (rc == OAUTH_OK && g.access_token == NULL)
			abort();
		oauth_grant_free(&g);
	} else {
		if (token_parse(in, size - 1, &a, err, sizeof err) == 0) {
			/* An expiry is a 4-digit-year date or epoch seconds
			 * (ms) below 1e15: within +-1e12 s. A huge number
			 * once came out as LONG_MIN (a UB cast that gcc's
			 * UBSan does not flag; regress/token/). */
			if (a.access_token == NULL ||
			    a.expires <= -1000000000000LL ||
			    a.expires >= 1000000000000LL)
				abort();
			account_free(&a);
		} else {
			tok_no_quote(err, in, size - 1);
		}
	}
	free(in);
	return 0;
}
