/* anchor: one certificate, DER, into a BearSSL trust anchor that owns
 * copies of its subject DN and public key. */
#ifndef ANCHOR_H
#define ANCHOR_H
#include <stddef.h>
#include <bearssl.h>

/* What anchor_decode returns for a certificate it cannot use. */
#define ANCHOR_BAD	1

/* Decode the certificate der[0..len) into *ta: subject DN, RSA or EC
 * key, BR_X509_TA_CA when it says it is a CA. 0; ANCHOR_BAD when it does
 * not decode or holds another kind of key; -1 out of memory. *ta is left
 * empty unless 0. */
int anchor_decode(br_x509_trust_anchor *ta, const void *der, size_t len);

/* Free what anchor_decode allocated; leaves *ta empty. */
void anchor_free(br_x509_trust_anchor *ta);

#endif
