/*
 * anchor: one certificate's DER into a trust anchor holding its subject DN
 * and public key. BearSSL's decoder hands out pointers into its own
 * context, which the next certificate reuses: the anchor owns copies.
 */
#include <stdlib.h>
#include <string.h>

#include "network/anchor.h"
#include "support/buf.h"

/* The DN as the decoder emits it; a failed allocation is remembered,
 * since BearSSL's callbacks cannot report one. */
struct sink {
	struct buf b;
	int oom;
};

static void
sink_add(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;

	if (!k->oom && buf_add(&k->b, p, n) == -1)
		k->oom = 1;
}

static void *
memdup(const void *p, size_t n)
{
	void *q;

	if ((q = malloc(n ? n : 1)) != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}

void
anchor_free(br_x509_trust_anchor *ta)
{
	free(ta->dn.data);
	switch (ta->pkey.key_type) {
	case BR_KEYTYPE_RSA:
		free(ta->pkey.key.rsa.n);
		free(ta->pkey.key.rsa.e);
		break;
	case BR_KEYTYPE_EC:
		free(ta->pkey.key.ec.q);
		break;
	}
	memset(ta, 0, sizeof *ta);
}

/* The decoder's key points into the decoder context: copy it out. */
static int
copy_key(br_x509_pkey *dst, const br_x509_pkey *src)
{
	memset(dst, 0, sizeof *dst);
	dst->key_type = src->key_type;
	switch (src->key_type) {
	case BR_KEYTYPE_RSA:
		dst->key.rsa.nlen = src->key.rsa.nlen;
		dst->key.rsa.elen = src->key.rsa.elen;
		dst->key.rsa.n = memdup(src->key.rsa.n, src->key.rsa.nlen);
		dst->key.rsa.e = memdup(src->key.rsa.e, src->key.rsa.elen);
		return dst->key.rsa.n && dst->key.rsa.e ? 0 : -1;
	case BR_KEYTYPE_EC:
		dst->key.ec.curve = src->key.ec.curve;
		dst->key.ec.qlen = src->key.ec.qlen;
		dst->key.ec.q = memdup(src->key.ec.q, src->key.ec.qlen);
		return dst->key.ec.q ? 0 : -1;
	}
	return -1;
}

int
anchor_decode(br_x509_trust_anchor *ta, const void *der, size_t len)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	struct sink dn = { { NULL, 0, 0, 0 }, 0 };
	int rc = -1;

	memset(ta, 0, sizeof *ta);
	br_x509_decoder_init(&dc, sink_add, &dn);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || (pk->key_type != BR_KEYTYPE_RSA &&
	    pk->key_type != BR_KEYTYPE_EC)) {
		rc = ANCHOR_BAD;
		goto fail;
	}
	if (dn.oom)
		goto fail;
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->dn.len = dn.b.len;
	if ((ta->dn.data = memdup(dn.b.p, dn.b.len)) == NULL)
		goto fail;
	if (copy_key(&ta->pkey, pk) == -1)
		goto fail;
	rc = 0;
fail:
	if (rc != 0)
		anchor_free(ta);
	buf_free(&dn.b);
	return rc;
}
