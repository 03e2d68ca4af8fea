/*
 * ta: the ca-file, a PEM bundle, into BearSSL trust anchors.
 *
 * Every CERTIFICATE object becomes an anchor holding its subject DN and
 * public key; other PEM objects and text between objects are skipped. As in
 * BearSSL's own tools, a certificate without the CA flag is still trusted
 * (BearSSL then uses it for direct trust only). The anchors own copies of
 * the DN and key bytes, since the decoders' buffers are reused.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "ta.h"

/* Far above any real bundle; stops a mistaken ca-file of /dev/zero. */
#define MAX_FILE	(64 * 1024 * 1024)

/* A decoder output that remembers a failed allocation, since BearSSL's
 * callbacks cannot report one. */
struct sink {
	struct buf b;
	int oom;
};

/* One load in progress. */
struct load {
	struct ta_set *s;
	size_t cap;		/* allocated entries in s->ta */
	size_t ncert;		/* CERTIFICATE objects seen, for messages */
	const char *path;
	char *err;
	size_t errlen;
};

static void
seterr(struct load *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "ca-file PATH: what". */
static void
seterr(struct load *ld, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (ld->errlen == 0)
		return;
	n = snprintf(ld->err, ld->errlen, "ca-file %s: ", ld->path);
	if (n < 0 || (size_t)n >= ld->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static void
sink_add(void *ctx, const void *p, size_t n)
{
	struct sink *k = ctx;

	if (!k->oom && buf_add(&k->b, p, n) == -1)
		k->oom = 1;
}

static int
read_file(const char *path, struct buf *b)
{
	struct stat st;
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	for (;;) {
		if (b->len > MAX_FILE) {
			errno = EFBIG;
			goto fail;
		}
		if (buf_reserve(b, 65536) == -1)
			goto fail;
		n = read(fd, b->p + b->len, b->cap - b->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		b->len += (size_t)n;
	}
	rc = 0;
fail:
	close(fd);
	return rc;
}

static void *
memdup(const void *p, size_t n)
{
	void *q;

	if ((q = malloc(n ? n : 1)) != NULL && n > 0)
		memcpy(q, p, n);
	return q;
}

static void
free_anchor(br_x509_trust_anchor *ta)
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

static int
grow(struct load *ld)
{
	br_x509_trust_anchor *p;
	size_t cap;

	if (ld->s->n < ld->cap)
		return 0;
	cap = ld->cap ? ld->cap * 2 : 16;
	if ((p = reallocarray(ld->s->ta, cap, sizeof *p)) == NULL)
		return -1;
	ld->s->ta = p;
	ld->cap = cap;
	return 0;
}

/* Decode one certificate's DER into the next trust anchor. */
static int
add_anchor(struct load *ld, const struct sink *der)
{
	br_x509_decoder_context dc;
	br_x509_trust_anchor ta;
	const br_x509_pkey *pk;
	struct sink dn = { { NULL, 0, 0 }, 0 };
	int rc = -1;

	memset(&ta, 0, sizeof ta);
	br_x509_decoder_init(&dc, sink_add, &dn);
	br_x509_decoder_push(&dc, der->b.p, der->b.len);
	pk = br_x509_decoder_get_pkey(&dc);
	if (pk == NULL || (pk->key_type != BR_KEYTYPE_RSA &&
	    pk->key_type != BR_KEYTYPE_EC)) {
		seterr(ld, "certificate %zu cannot be decoded", ld->ncert);
		goto fail;
	}
	if (dn.oom || der->oom || grow(ld) == -1)
		goto oom;
	ta.flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta.dn.len = dn.b.len;
	if ((ta.dn.data = memdup(dn.b.p, dn.b.len)) == NULL)
		goto oom;
	if (copy_key(&ta.pkey, pk) == -1)
		goto oom;
	ld->s->ta[ld->s->n++] = ta;
	memset(&ta, 0, sizeof ta);
	rc = 0;
	goto fail;
oom:
	seterr(ld, "out of memory");
fail:
	free_anchor(&ta);
	buf_free(&dn.b);
	return rc;
}

/* BearSSL's tools accept both names for a certificate object. */
static int
is_certificate(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 ||
	    strcmp(name, "X509 CERTIFICATE") == 0;
}

static int
decode_bundle(struct load *ld, const unsigned char *p, size_t len)
{
	br_pem_decoder_context pc;
	struct sink der = { { NULL, 0, 0 }, 0 };
	int inobj = 0, incert = 0, rc = -1;
	size_t n;

	br_pem_decoder_init(&pc);
	while (len > 0) {
		n = br_pem_decoder_push(&pc, p, len);
		p += n;
		len -= n;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			inobj = 1;
			incert = is_certificate(br_pem_decoder_name(&pc));
			der.b.len = 0;
			/* Other objects (keys, CRLs) are decoded to nowhere. */
			br_pem_decoder_setdest(&pc, incert ? sink_add : NULL,
			    &der);
			break;
		case BR_PEM_END_OBJ:
			inobj = 0;
			if (incert) {
				ld->ncert++;
				if (add_anchor(ld, &der) == -1)
					goto fail;
			}
			break;
		case BR_PEM_ERROR:
			seterr(ld, "bad PEM data after certificate %zu",
			    ld->ncert);
			goto fail;
		}
	}
	if (inobj) {
		seterr(ld, "PEM data ends inside an object");
		goto fail;
	}
	if (ld->s->n == 0) {
		seterr(ld, "no certificate found in it");
		goto fail;
	}
	rc = 0;
fail:
	buf_free(&der.b);
	return rc;
}

int
ta_load(struct ta_set *s, const char *path, char *err, size_t errlen)
{
	struct load ld = { s, 0, 0, path, err, errlen };
	struct buf file = { NULL, 0, 0 };
	int rc = -1;

	memset(s, 0, sizeof *s);
	if (read_file(path, &file) == -1) {
		seterr(&ld, "cannot read: %s", strerror(errno));
		goto fail;
	}
	/* The decoder sees an END line only once its newline arrives. */
	if (buf_add(&file, "\n", 1) == -1) {
		seterr(&ld, "out of memory");
		goto fail;
	}
	if (decode_bundle(&ld, (const unsigned char *)file.p, file.len) == -1)
		goto fail;
	rc = 0;
fail:
	if (rc == -1)
		ta_free(s);
	/* A bundle may hold a private key too: do not leave it in the heap. */
	buf_wipe(&file);
	return rc;
}

void
ta_free(struct ta_set *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free_anchor(&s->ta[i]);
	free(s->ta);
	s->ta = NULL;
	s->n = 0;
}
