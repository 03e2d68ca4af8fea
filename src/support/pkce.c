/*
 * PKCE (RFC 7636, S256 only) and the base64url it is written in. The
 * verifier and the state come straight from getrandom(2): no userland
 * generator to seed, nothing to fail half-way.
 */
#include <bearssl.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "support/pkce.h"

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

ssize_t
b64url_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t i, o = 0;

	/* Without padding: 4 characters per 3 bytes, 2 or 3 for the rest. */
	if (outlen < n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0) + 1)
		return -1;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16 | p[i + 1] << 8 |
		    p[i + 2];

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (i < n) {
		unsigned long v = (unsigned long)p[i] << 16 |
		    (i + 1 < n ? p[i + 1] << 8 : 0);

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		if (i + 1 < n)
			out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
	return (ssize_t)o;
}

static int
b64url_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

ssize_t
b64url_decode(const char *in, size_t n, void *out, size_t outlen)
{
	unsigned char *o = out;
	unsigned long acc = 0;
	size_t i, len = 0;
	int bits = 0, v;

	while (n > 0 && in[n - 1] == '=')
		n--;
	/* One leftover character carries 6 bits: never a whole byte. */
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64url_value(in[i])) == -1)
			return -1;
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (len == outlen)
				return -1;
			o[len++] = (unsigned char)(acc >> bits);
		}
	}
	return (ssize_t)len;
}

int
pkce_random(void *p, size_t n)
{
	unsigned char *b = p;

	while (n > 0) {
		ssize_t r = getrandom(b, n, 0);

		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

void
pkce_challenge(const char *verifier, char challenge[PKCE_LEN + 1])
{
	br_sha256_context h;
	unsigned char d[br_sha256_SIZE];

	br_sha256_init(&h);
	br_sha256_update(&h, verifier, strlen(verifier));
	br_sha256_out(&h, d);
	b64url_encode(d, sizeof d, challenge, PKCE_LEN + 1);
}

int
pkce_new(struct pkce *p)
{
	unsigned char r[32];
	int rc = -1;

	memset(p, 0, sizeof *p);
	if (pkce_random(r, sizeof r) == -1)
		goto out;
	b64url_encode(r, sizeof r, p->verifier, sizeof p->verifier);
	pkce_challenge(p->verifier, p->challenge);
	if (pkce_random(r, sizeof r) == -1)
		goto out;
	b64url_encode(r, sizeof r, p->state, sizeof p->state);
	rc = 0;
out:
	explicit_bzero(r, sizeof r);
	if (rc == -1)
		explicit_bzero(p, sizeof *p);
	return rc;
}
