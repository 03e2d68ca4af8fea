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
 *   A cache of the decoded anchors, cache_dir/ta-cache.bin (auth-dir), read
 *   with one read() into one allocation that the anchors then point into
 *   (struct trust's blk says so to trust_free). It is keyed by the ca-file's
 *   absolute path, st_dev, st_ino, st_size, st_mtim and st_ctim, so any
 *   rewrite, rename over, touch or chmod of the ca-file makes it stale. It
 *   is written (temp file 0600 + rename, not fsynced: a torn file fails its
 *   checksum) after each miss, last writer wins, no lock. A hit costs a
 *   stat, an open, a read of ~65 KB and a checksum: ~0.15 ms in a fresh
 *   process. One slot: two ca-files sharing an auth-dir would take turns.
 *   A relative ca-file needs getcwd(), which the sandbox refuses: then
 *   there is simply no cache.
 *
 * The cache file is untrusted input: it must be a regular file owned by
 * our euid and not group/world-writable; every length is checked against
 * the file's size; a checksum over the whole file catches torn writes and
 * bit rot (it is not a MAC: whoever can write auth-dir can as well change
 * ca-file in the config). Any doubt is a miss: decode the PEM, rewrite.
 *
 * A ca-file changed (st_mtim or st_ctim) less than RACY_SEC ago is not
 * cached: a second change within the file system's time stamp granularity
 * could leave both unchanged, and the cache would keep the first content
 * for good (git's "racy clean" problem). Once they are older, any change
 * moves st_ctim at least, even a rewrite that puts st_mtim back.
 *
 * Layout (native byte order; the file never leaves this machine):
 *	magic "cpa-ta\n\0", u32 version,
 *	u64 dev, ino, size, mtime s, mtime ns, ctime s, ctime ns,
 *	u32 path length, path bytes,		(all of this is the key)
 *	u32 anchor count, then per anchor:
 *	  u32 flags, key type, DN length, then RSA: n length, e length
 *	  or EC: curve, q length; then the DN bytes and n, e or q bytes,
 *	u64 checksum of everything before it.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "log.h"
#include "trust.h"

/* Far above any real bundle; stops a mistaken ca-file of /dev/zero. */
#define MAX_FILE	(64 * 1024 * 1024)
/* A cache is about a third of its bundle. */
#define MAX_CACHE	(32 * 1024 * 1024)

#define CACHE_NAME	"ta-cache.bin"
#define CACHE_VERSION	1
#define CACHE_MAGIC	"cpa-ta\n"	/* 8 bytes with its NUL */
#define REC_HEAD	20		/* five u32 per anchor */
#define RACY_SEC	2		/* FAT's granularity, the coarsest */

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

/* A cursor over the cache image. */
struct rd {
	unsigned char *p;
	size_t left;
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
	br_x509_decoder_context dc;
	br_x509_trust_anchor ta;
	const br_x509_pkey *pk;
	struct sink dn = { { NULL, 0, 0, 0 }, 0 };
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

/* ------------------------------------------------------------- cache */

/* Not a MAC, a check for torn and damaged files: 64-bit words, each one
 * mixed in by an odd multiplier and a shift (so a change in high bits
 * still reaches the low ones). A few µs for a whole cache. */
uint64_t
trust_cache_sum(const unsigned char *p, size_t n)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	uint64_t h = 0x243f6a8885a308d3ULL ^ n, w;

	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * k;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * k;
	return h ^ (h >> 32);
}

static void
put32(struct sink *k, uint32_t v)
{
	sink_add(k, &v, sizeof v);
}

static void
put64(struct sink *k, uint64_t v)
{
	sink_add(k, &v, sizeof v);
}

/* The key: what must match for the cache to describe the ca-file. A
 * relative path needs the working directory (not available in the
 * sandbox): then there is no key and no cache. 0 or -1. */
static int
put_key(struct sink *k, const char *path, const struct stat *st)
{
	char cwd[PATH_MAX];
	size_t len = strlen(path);

	sink_add(k, CACHE_MAGIC, sizeof CACHE_MAGIC);
	put32(k, CACHE_VERSION);
	put64(k, (uint64_t)st->st_dev);
	put64(k, (uint64_t)st->st_ino);
	put64(k, (uint64_t)st->st_size);
	put64(k, (uint64_t)st->st_mtim.tv_sec);
	put64(k, (uint64_t)st->st_mtim.tv_nsec);
	put64(k, (uint64_t)st->st_ctim.tv_sec);
	put64(k, (uint64_t)st->st_ctim.tv_nsec);
	if (path[0] == '/') {
		put32(k, (uint32_t)len);
		sink_add(k, path, len);
	} else {
		if (getcwd(cwd, sizeof cwd) == NULL || len > PATH_MAX)
			return -1;
		put32(k, (uint32_t)(strlen(cwd) + 1 + len));
		sink_add(k, cwd, strlen(cwd));
		sink_add(k, "/", 1);
		sink_add(k, path, len);
	}
	return k->oom ? -1 : 0;
}

static void
put_anchor(struct sink *k, const br_x509_trust_anchor *ta)
{
	const br_x509_pkey *pk = &ta->pkey;

	put32(k, ta->flags);
	put32(k, pk->key_type);
	put32(k, (uint32_t)ta->dn.len);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		put32(k, (uint32_t)pk->key.rsa.nlen);
		put32(k, (uint32_t)pk->key.rsa.elen);
		sink_add(k, ta->dn.data, ta->dn.len);
		sink_add(k, pk->key.rsa.n, pk->key.rsa.nlen);
		sink_add(k, pk->key.rsa.e, pk->key.rsa.elen);
	} else {
		put32(k, (uint32_t)pk->key.ec.curve);
		put32(k, (uint32_t)pk->key.ec.qlen);
		sink_add(k, ta->dn.data, ta->dn.len);
		sink_add(k, pk->key.ec.q, pk->key.ec.qlen);
	}
}

/* Best effort: a read-only or missing auth-dir just means no cache. */
static void
cache_write(const struct trust *s, const char *path, const struct stat *st,
    const char *cpath)
{
	struct sink k = { { NULL, 0, 0, 0 }, 0 };
	char err[512];
	size_t i;

	if (put_key(&k, path, st) == -1)
		goto done;
	put32(&k, (uint32_t)s->n);
	for (i = 0; i < s->n; i++)
		put_anchor(&k, &s->ta[i]);
	if (k.oom)
		goto done;
	put64(&k, trust_cache_sum((unsigned char *)k.b.p, k.b.len));
	if (k.oom)
		goto done;
	if (file_replace(cpath, k.b.p, k.b.len, 0, err, sizeof err) == -1)
		log_debug("trust anchor cache: %s", err);
done:
	buf_free(&k.b);
}

/* Changed so recently that another change could keep its st_mtim? */
static int
racy(const struct stat *st)
{
	struct timespec now;

	if (clock_gettime(CLOCK_REALTIME, &now) == -1)
		return 1;
	return st->st_mtim.tv_sec > now.tv_sec - RACY_SEC ||
	    st->st_ctim.tv_sec > now.tv_sec - RACY_SEC;
}

/* Not ours, or writable by others: someone else's words, not a cache. */
static int
cache_trusted(const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() &&
	    (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

static int
get32(struct rd *r, uint32_t *v)
{
	if (r->left < sizeof *v)
		return -1;
	memcpy(v, r->p, sizeof *v);
	r->p += sizeof *v;
	r->left -= sizeof *v;
	return 0;
}

/* n bytes of the image, or NULL when it has fewer left. */
static unsigned char *
take(struct rd *r, uint32_t n)
{
	unsigned char *p = r->p;

	if (r->left < n)
		return NULL;
	r->p += n;
	r->left -= n;
	return p;
}

/* One record into *ta, pointing into the image. 0 or -1. */
static int
get_anchor(struct rd *r, br_x509_trust_anchor *ta)
{
	br_x509_pkey *pk = &ta->pkey;
	uint32_t flags, type, dnlen, a, b;

	if (get32(r, &flags) == -1 || get32(r, &type) == -1 ||
	    get32(r, &dnlen) == -1 || get32(r, &a) == -1 ||
	    get32(r, &b) == -1)
		return -1;
	if ((flags & ~(uint32_t)BR_X509_TA_CA) != 0 ||
	    (type != BR_KEYTYPE_RSA && type != BR_KEYTYPE_EC))
		return -1;
	memset(ta, 0, sizeof *ta);
	ta->flags = flags;
	ta->dn.len = dnlen;
	if ((ta->dn.data = take(r, dnlen)) == NULL)
		return -1;
	pk->key_type = (unsigned char)type;
	if (type == BR_KEYTYPE_RSA) {
		if (a == 0 || b == 0)
			return -1;
		pk->key.rsa.nlen = a;
		pk->key.rsa.elen = b;
		pk->key.rsa.n = take(r, a);
		pk->key.rsa.e = take(r, b);
		return pk->key.rsa.n && pk->key.rsa.e ? 0 : -1;
	}
	if (a == 0 || a > INT_MAX || b == 0)
		return -1;
	pk->key.ec.curve = (int)a;
	pk->key.ec.qlen = b;
	pk->key.ec.q = take(r, b);
	return pk->key.ec.q ? 0 : -1;
}

/* The anchors of a checked image of size bytes at *blk, whose key (klen
 * bytes) matched. The array goes at the end of the same block, which may
 * move: *blk follows it. 0 or -1. */
static int
cache_parse(struct trust *s, unsigned char **blk, size_t size, size_t klen)
{
	const size_t al = alignof(br_x509_trust_anchor);
	br_x509_trust_anchor *ta;
	unsigned char *nb;
	struct rd r;
	size_t off, i;
	uint32_t n;

	r.p = *blk + klen;
	r.left = size - klen - 8;	/* the checksum is not a record */
	if (get32(&r, &n) == -1 || n == 0 || n > r.left / REC_HEAD)
		return -1;
	off = (size + al - 1) / al * al;
	if ((nb = realloc(*blk, off + (size_t)n * sizeof *ta)) == NULL)
		return -1;
	*blk = nb;
	r.p = nb + klen + 4;
	ta = (br_x509_trust_anchor *)(void *)(nb + off);
	for (i = 0; i < n; i++)
		if (get_anchor(&r, &ta[i]) == -1)
			return -1;
	if (r.left != 0)
		return -1;
	s->ta = ta;
	s->n = n;
	s->blk = nb;
	s->src = TRUST_SRC_CACHE;
	return 0;
}

/* Read the cache at cpath with one read(), check it and its key. 0 when
 * s now holds its anchors, -1 for a miss of any kind. */
static int
cache_read(struct trust *s, const char *cpath, const struct buf *key)
{
	unsigned char *blk = NULL;
	struct stat st;
	uint64_t sum;
	size_t size, got = 0;
	ssize_t n;
	int fd, rc = -1;

	/* O_NONBLOCK: a FIFO put there must not hang the connection. */
	if ((fd = open(cpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !cache_trusted(&st) ||
	    st.st_size < (off_t)(key->len + 4 + REC_HEAD + 8) ||
	    st.st_size > MAX_CACHE)
		goto fail;
	size = (size_t)st.st_size;
	if ((blk = malloc(size)) == NULL)
		goto fail;
	while (got < size) {
		n = read(fd, blk + got, size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	memcpy(&sum, blk + size - 8, 8);
	if (sum != trust_cache_sum(blk, size - 8) ||
	    memcmp(blk, key->p, key->len) != 0)
		goto fail;
	rc = cache_parse(s, &blk, size, key->len);
fail:
	if (rc == -1) {
		free(blk);
		memset(s, 0, sizeof *s);
	}
	close(fd);
	return rc;
}

/* A hit for the ca-file whose stat is *st? 0 or -1. */
static int
cache_hit(struct trust *s, const char *path, const struct stat *st,
    const char *cpath)
{
	struct sink key = { { NULL, 0, 0, 0 }, 0 };
	int rc = -1;

	if (put_key(&key, path, st) == 0)
		rc = cache_read(s, cpath, &key.b);
	buf_free(&key.b);
	return rc;
}

int
trust_load_cached(struct trust *s, const char *path, const char *cache_dir,
    char *err, size_t errlen)
{
	char cpath[PATH_MAX];
	struct stat st;
	int n;

	n = cache_dir ? snprintf(cpath, sizeof cpath, "%s/%s", cache_dir,
	    CACHE_NAME) : -1;
	if (n < 0 || (size_t)n >= sizeof cpath)
		return trust_load(s, path, err, errlen);
	memset(s, 0, sizeof *s);
	if (stat(path, &st) == 0 && cache_hit(s, path, &st, cpath) == 0)
		return 0;
	if (load(s, path, &st, err, errlen) == -1)
		return -1;
	if (!racy(&st))
		cache_write(s, path, &st, cpath);
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
			free_anchor(&s->ta[i]);
		free(s->ta);
	}
	memset(s, 0, sizeof *s);
}
