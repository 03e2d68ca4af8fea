/*
 * trust: the ca-file, a PEM bundle, into BearSSL trust anchors.
 *
 * Every CERTIFICATE object becomes an anchor holding its subject DN and
 * public key; other PEM objects and text between objects are skipped. As in
 * BearSSL's own tools, a certificate without the CA flag is still trusted
 * (BearSSL then uses it for direct trust only). The anchors own copies of
 * the DN and key bytes, since the decoders' buffers are reused.
 *
 * Speed. Each client connection is its own process, and decoding the
 * system bundle (~150 certificates, 220 KB) took ~100 ms, two thirds of
 * it in br_pem_decoder (a byte-at-a-time T0 machine). Two remedies:
 *
 *   A PEM reader of our own for plain bundles: BEGIN/END CERTIFICATE
 *   banners alone on their lines, lines of base64 in quartets, LF or CRLF.
 *   It is deliberately narrow: anything else that could matter to the PEM
 *   grammar (another object type, a "-----" not in an exact banner, white
 *   space or a stray character in base64, a quartet split across lines,
 *   padding before the end or with non-zero dropped bits, no END) makes
 *   it give up, and the whole file goes through br_pem_decoder as before.
 *   So unusual files keep BearSSL's semantics and error messages. That
 *   leaves br_x509_decoder as the cost of a miss: ~15 ms instead of ~75.
 *
 *   A cache of the decoded anchors in auth-dir (trustcache.c): a hit costs
 *   ~0.15 ms.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "network/anchor.h"
#include "network/trust.h"
#include "network/trustcache.h"
#include "support/buf.h"

/* Far above any real bundle; stops a mistaken ca-file of /dev/zero. */
#define MAX_FILE	(64 * 1024 * 1024)

#define BEGIN_CERT	"-----BEGIN CERTIFICATE-----"
#define END_CERT	"-----END CERTIFICATE-----"

/* decode_fast: the file is not plain, let BearSSL do it. */
#define PUNT		1

/* A decoder output that remembers a failed allocation, since BearSSL's
 * callbacks cannot report one. */
struct sink {
	struct buf b;
	int oom;
};

/* One load in progress. */
struct pemload {
	struct trust *s;
	size_t cap;		/* allocated entries in s->ta */
	size_t ncert;		/* CERTIFICATE objects seen, for messages */
	const char *path;
	char *err;
	size_t errlen;
};

static void
seterr(struct pemload *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "ca-file PATH: what". */
static void
seterr(struct pemload *ld, const char *fmt, ...)
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

/* The file at path into b, and its fstat into *st: the stat that the
 * cache key uses must describe the bytes read, not a later file. */
static int
read_file(const char *path, struct buf *b, struct stat *st)
{
	ssize_t n;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (fstat(fd, st) == -1)
		goto fail;
	if (S_ISDIR(st->st_mode)) {
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

static int
grow(struct pemload *ld)
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
add_anchor(struct pemload *ld, const struct sink *der)
{
	br_x509_trust_anchor ta;
	int r;

	r = anchor_decode(&ta, der->b.p, der->b.len);
	if (r == ANCHOR_BAD) {
		seterr(ld, "certificate %zu cannot be decoded", ld->ncert);
		return -1;
	}
	if (r == -1 || der->oom || grow(ld) == -1) {
		anchor_free(&ta);
		seterr(ld, "out of memory");
		return -1;
	}
	ld->s->ta[ld->s->n++] = ta;
	return 0;
}

/* BearSSL's tools accept both names for a certificate object. */
static int
is_certificate(const char *name)
{
	return strcmp(name, "CERTIFICATE") == 0 ||
	    strcmp(name, "X509 CERTIFICATE") == 0;
}

/* The general case: BearSSL's PEM decoder over the whole file. */
static int
decode_bundle(struct pemload *ld, const unsigned char *p, size_t len)
{
	br_pem_decoder_context pc;
	struct sink der = { { NULL, 0, 0, 0 }, 0 };
	int inobj = 0, incert = 0, rc = -1;
	size_t n;

	ld->s->src = TRUST_SRC_PEM;
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
	rc = 0;
fail:
	buf_free(&der.b);
	return rc;
}

/* Base64 digit values; 254 is '=', 255 anything else. */
#define PAD	254
static const unsigned char b64[256] = {
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
	 52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255, 255, 254, 255, 255,
	255,   0,   1,   2,   3,   4,   5,   6,   7,   8,   9,  10,  11,  12,  13,  14,
	 15,  16,  17,  18,  19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
	255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,  37,  38,  39,  40,
	 41,  42,  43,  44,  45,  46,  47,  48,  49,  50,  51, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
	255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

/* Is the line [p, e) exactly s? */
static int
is_line(const unsigned char *p, const unsigned char *e, const char *s)
{
	size_t n = strlen(s);

	return (size_t)(e - p) == n && memcmp(p, s, n) == 0;
}

/* One line of base64 [p, e), whole quartets only, onto der. '=' may only
 * end the object's data: *padded then refuses more. 0, -1 or PUNT. */
static int
b64_line(struct pemload *ld, struct sink *der, const unsigned char *p,
    const unsigned char *e, int *padded)
{
	size_t n = (size_t)(e - p);
	unsigned char *o;
	unsigned a, b, c, d;
	uint32_t v;

	if (n == 0)
		return 0;
	if (*padded || n % 4 != 0)
		return PUNT;
	if (buf_reserve(&der->b, n / 4 * 3) == -1) {
		seterr(ld, "out of memory");
		return -1;
	}
	o = (unsigned char *)der->b.p + der->b.len;
	for (; p < e; p += 4) {
		a = b64[p[0]];
		b = b64[p[1]];
		c = b64[p[2]];
		d = b64[p[3]];
		v = (uint32_t)a << 18 | (uint32_t)b << 12 |
		    (uint32_t)(c & 63) << 6 | (d & 63);
		if ((a | b | c | d) < 64) {
			*o++ = (unsigned char)(v >> 16);
			*o++ = (unsigned char)(v >> 8);
			*o++ = (unsigned char)v;
			continue;
		}
		/* "xx==" or "xxx=", as the line's last quartet, the bits
		 * that fall off zero: BearSSL refuses anything else. */
		if (p + 4 != e || (a | b) >= 64 || d != PAD ||
		    (c == PAD ? (b & 15) != 0 : c >= 64 || (c & 3) != 0))
			return PUNT;
		*o++ = (unsigned char)(v >> 16);
		if (c != PAD)
			*o++ = (unsigned char)(v >> 8);
		*padded = 1;
	}
	der->b.len = (size_t)(o - (unsigned char *)der->b.p);
	return 0;
}

/* The common case, a plain bundle, without BearSSL's PEM decoder. 0, -1
 * with err set, or PUNT before any error when the file is not plain. */
static int
decode_fast(struct pemload *ld, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len, *nl, *e;
	struct sink der = { { NULL, 0, 0, 0 }, 0 };
	int inobj = 0, padded = 0, rc = PUNT, r;

	ld->s->src = TRUST_SRC_FAST;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		e = nl;
		if (e > p && e[-1] == '\r')
			e--;
		if (!inobj) {
			/* Text, unless it could be (part of) a banner. */
			if (memmem(p, (size_t)(e - p), "-----", 5) != NULL) {
				if (!is_line(p, e, BEGIN_CERT))
					goto done;
				inobj = 1;
				padded = 0;
				der.b.len = 0;
			}
		} else if (e > p && *p == '-') {
			if (!is_line(p, e, END_CERT))
				goto done;
			inobj = 0;
			ld->ncert++;
			if (add_anchor(ld, &der) == -1) {
				rc = -1;
				goto done;
			}
		} else if ((r = b64_line(ld, &der, p, e, &padded)) != 0) {
			rc = r;
			goto done;
		}
		p = nl < end ? nl + 1 : end;
	}
	rc = inobj ? PUNT : 0;
done:
	buf_free(&der.b);
	return rc;
}

static int
decode(struct pemload *ld, const unsigned char *p, size_t len)
{
	int rc;

	if ((rc = decode_fast(ld, p, len)) == PUNT) {
		trust_free(ld->s);
		ld->cap = 0;
		ld->ncert = 0;
		rc = decode_bundle(ld, p, len);
	}
	if (rc == 0 && ld->s->n == 0) {
		seterr(ld, "no certificate found in it");
		rc = -1;
	}
	return rc;
}

/* trust_load, also giving the fstat of the file that was decoded. */
static int
load(struct trust *s, const char *path, struct stat *st, char *err,
    size_t errlen)
{
	struct pemload ld = { s, 0, 0, path, err, errlen };
	struct buf file = { 0 };
	int rc = -1;

	memset(s, 0, sizeof *s);
	if (read_file(path, &file, st) == -1) {
		seterr(&ld, "cannot read: %s", strerror(errno));
		goto fail;
	}
	/* The decoder sees an END line only once its newline arrives. */
	if (buf_add(&file, "\n", 1) == -1) {
		seterr(&ld, "out of memory");
		goto fail;
	}
	if (decode(&ld, (const unsigned char *)file.p, file.len) == -1)
		goto fail;
	rc = 0;
fail:
	if (rc == -1)
		trust_free(s);
	/* A bundle may hold a private key too: do not leave it in the heap. */
	buf_free(&file);
	return rc;
}

int
trust_load(struct trust *s, const char *path, char *err, size_t errlen)
{
	struct stat st;

	return load(s, path, &st, err, errlen);
}

int
trust_load_cached(struct trust *s, const char *path, const char *cache_dir,
    char *err, size_t errlen)
{
	char cpath[PATH_MAX];
	struct stat st;

	if (cache_dir == NULL || trustcache_path(cache_dir, cpath,
	    sizeof cpath) == -1)
		return trust_load(s, path, err, errlen);
	memset(s, 0, sizeof *s);
	if (stat(path, &st) == 0 && trustcache_read(cpath, path, &st, &s->blk,
	    &s->ta, &s->n) == 0) {
		s->src = TRUST_SRC_CACHE;
		return 0;
	}
	if (load(s, path, &st, err, errlen) == -1)
		return -1;
	trustcache_write(cpath, path, &st, s->ta, s->n);
	return 0;
}

void
trust_free(struct trust *s)
{
	size_t i;

	if (s->blk != NULL) {
		/* A cache hit: the anchors point into this one block. */
		free(s->blk);
	} else {
		for (i = 0; i < s->n; i++)
			anchor_free(&s->ta[i]);
		free(s->ta);
	}
	memset(s, 0, sizeof *s);
}
