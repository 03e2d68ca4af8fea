/* pkce: RFC 7636 proof keys, login state, base64url (RFC 4648 section 5). */
#ifndef PKCE_H
#define PKCE_H
#include <stddef.h>
#include <sys/types.h>

/* base64url of 32 bytes, no padding, is 43 characters. */
#define PKCE_LEN 43

/* One login's secrets: none of them is ever printed but the challenge. */
struct pkce {
	char verifier[PKCE_LEN + 1];
	char challenge[PKCE_LEN + 1];
	char state[PKCE_LEN + 1];
};

/* Base64url of n bytes, no padding, NUL-terminated in out. Returns the
 * length, or -1 when out is too small (it needs ceil(4n / 3) + 1). */
ssize_t b64url_encode(const void *in, size_t n, char *out, size_t outlen);
/* Decode n characters of base64url (trailing '=' padding tolerated) into
 * out. Returns the byte count, or -1 on a character outside the alphabet,
 * an impossible length or out too small. */
ssize_t b64url_decode(const char *in, size_t n, void *out, size_t outlen);
/* n bytes from the kernel's CSPRNG (getrandom). 0 or -1 with errno. */
int pkce_random(void *p, size_t n);
/* challenge = base64url(SHA-256(verifier)), 44 bytes with the NUL. */
void pkce_challenge(const char *verifier, char challenge[PKCE_LEN + 1]);
/* Fresh verifier (32 random bytes), its challenge, and a state (32 more
 * random bytes). 0 or -1. The caller wipes p. */
int pkce_new(struct pkce *p);

#endif
