/* ta: a PEM bundle (ca-file) into BearSSL trust anchors. */
#ifndef TA_H
#define TA_H
#include <stddef.h>
#include <bearssl.h>

struct ta_set {
	br_x509_trust_anchor *ta;   /* owned; BearSSL keeps pointers into it */
	size_t n;
};

/* Read every CERTIFICATE in the PEM file at path and turn each into a trust
 * anchor (RSA or EC key; CA flag from basicConstraints is not required, as
 * in BearSSL's own tools: every certificate in the bundle is trusted).
 * 0, or -1 with a message in err ("ca-file X: no certificate in it", ...).
 * A file with no usable certificate is an error. */
int ta_load(struct ta_set *s, const char *path, char *err, size_t errlen);
void ta_free(struct ta_set *s);

#endif
