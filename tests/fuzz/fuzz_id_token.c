/* Fuzz the Codex id_token (JWT) claims decoder and base64url, plus the
 * other parsers of what a login gets back from a browser or a terminal:
 * the callback query and a pasted line. Input: one selector byte, then the
 * string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands/login.h"
#include "support/pkce.h"
#include "fuzz.h"

#ifndef FUZZ_ENTRY
#define FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif
int FUZZ_ENTRY(const uint8_t *data, size_t size);

int
FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	struct login_answer ans;
	char *s, *email, *acct, *plan, *v, err[256];
	unsigned char *bin;
	char *enc;
	ssize_t n, m;
	size_t len;

	if (size < 1)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	len = strlen(s);
	switch (data[0] & 3) {
	case 0:
		if (login_codex_claims(s, &email, &acct, &plan, err,
		    sizeof err) == 0) {
			if (email == NULL || acct == NULL)
				abort();
			(void)login_email_ok(email);
			free(email);
			free(acct);
			free(plan);
		} else if (err[0] == '\0') {
			abort();
		}
		break;
	case 1:
		/* base64url round trip: what decodes must encode back to
		 * the same characters, padding aside. */
		if ((bin = malloc(len + 1)) == NULL ||
		    (enc = malloc(len * 2 + 8)) == NULL)
			abort();
		n = b64url_decode(s, len, bin, len + 1);
		if (n > (ssize_t)len)
			abort();
		if (n >= 0) {
			size_t k = len;

			while (k > 0 && s[k - 1] == '=')
				k--;
			m = b64url_encode(bin, (size_t)n, enc, len * 2 + 8);
			/* Non-canonical trailing bits may decode; compare
			 * only the length then. */
			if (m != (ssize_t)k)
				abort();
		}
		free(bin);
		free(enc);
		break;
	case 2:
		memset(&ans, 0, sizeof ans);
		if (login_parse_query(s, &ans) == 0)
			(void)login_check_state(&ans, "state-123");
		login_answer_free(&ans);
		v = login_query_param(s, "code");
		free(v);
		break;
	case 3:
		memset(&ans, 0, sizeof ans);
		if (login_parse_paste(s, &ans) == 0)
			(void)login_check_state(&ans, "state-123");
		login_answer_free(&ans);
		break;
	}
	free(s);
	return 0;
}
