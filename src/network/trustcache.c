/*
 * trustcache: the decoded trust anchors of the ca-file, cached in
 * cache_dir/ta-cache.bin (auth-dir), read with one read() into one
 * allocation that the anchors then point into (struct trust's blk says so
 * to trust_free). Decoding the system bundle costs ~15 ms even with
 * trust.c's fast PEM reader; a hit costs a stat, an open, a read of
 * ~65 KB and a checksum: ~0.15 ms in a fresh process.
 *
 * The cache is keyed by the ca-file's absolute path, st_dev, st_ino,
 * st_size, st_mtim and st_ctim, so any rewrite, rename over, touch or
 * chmod of the ca-file makes it stale. It is written (temp file 0600 +
 * rename, not fsynced: a torn file fails its checksum) after each miss,
 * last writer wins, no lock. One slot: two ca-files sharing an auth-dir
 * would take turns. A relative ca-file needs getcwd(), which the sandbox
 * refuses: then there is simply no cache.
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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "network/trustcache.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/log.h"

/* A cache is about a third of its bundle. */
#define MAX_CACHE	(32 * 1024 * 1024)

#define CACHE_NAME	"ta-cache.bin"
#define CACHE_VERSION	1
#define CACHE_MAGIC	"cpa-ta\n"	/* 8 bytes with its NUL */
#define REC_HEAD	20		/* five u32 per anchor */
#define RACY_SEC	2		/* FAT's granularity, the coarsest */

/* The image being written; a failed allocation is remembered, so that
 * the puts need no checks of their own. */
struct wr {
	struct buf b;
	int oom;
};

/* A cursor over the cache image. */
struct rd {
	unsigned char *p;
	size_t left;
};

int
trustcache_path(const char *dir, char *out, size_t outlen)
{
	int n = snprintf(out, outlen, "%s/%s", dir, CACHE_NAME);

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

/* Not a MAC, a check for torn and damaged files: 64-bit words, each one
 * mixed in by an odd multiplier and a shift (so a change in high bits
 * still reaches the low ones). A few µs for a whole cache. */
uint64_t
trustcache_sum(const unsigned char *p, size_t n)
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
put(struct wr *k, const void *p, size_t n)
{
	if (!k->oom && buf_add(&k->b, p, n) == -1)
		k->oom = 1;
}

static void
put32(struct wr *k, uint32_t v)
{
	put(k, &v, sizeof v);
}

static void
put64(struct wr *k, uint64_t v)
{
	put(k, &v, sizeof v);
}

/* The key: what must match for the cache to describe the ca-file. A
 * relative path needs the working directory (not available in the
 * sandbox): then there is no key and no cache. 0 or -1. */
static int
put_key(struct wr *k, const char *path, const struct stat *st)
{
	char cwd[PATH_MAX];
	size_t len = strlen(path);

	put(k, CACHE_MAGIC, sizeof CACHE_MAGIC);
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
		put(k, path, len);
	} else {
		if (getcwd(cwd, sizeof cwd) == NULL || len > PATH_MAX)
			return -1;
		put32(k, (uint32_t)(strlen(cwd) + 1 + len));
		put(k, cwd, strlen(cwd));
		put(k, "/", 1);
		put(k, path, len);
	}
	return k->oom ? -1 : 0;
}

static void
put_anchor(struct wr *k, const br_x509_trust_anchor *ta)
{
	const br_x509_pkey *pk = &ta->pkey;

	put32(k, ta->flags);
	put32(k, pk->key_type);
	put32(k, (uint32_t)ta->dn.len);
	if (pk->key_type == BR_KEYTYPE_RSA) {
		put32(k, (uint32_t)pk->key.rsa.nlen);
		put32(k, (uint32_t)pk->key.rsa.elen);
		put(k, ta->dn.data, ta->dn.len);
		put(k, pk->key.rsa.n, pk->key.rsa.nlen);
		put(k, pk->key.rsa.e, pk->key.rsa.elen);
	} else {
		put32(k, (uint32_t)pk->key.ec.curve);
		put32(k, (uint32_t)pk->key.ec.qlen);
		put(k, ta->dn.data, ta->dn.len);
		put(k, pk->key.ec.q, pk->key.ec.qlen);
	}
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

/* Best effort: a read-only or missing auth-dir just means no cache. */
void
trustcache_write(const char *cpath, const char *path, const struct stat *st,
    const br_x509_trust_anchor *ta, size_t n)
{
	struct wr k = { { NULL, 0, 0, 0 }, 0 };
	char err[512];
	size_t i;

	if (racy(st))
		return;
	if (put_key(&k, path, st) == -1)
		goto done;
	put32(&k, (uint32_t)n);
	for (i = 0; i < n; i++)
		put_anchor(&k, &ta[i]);
	if (k.oom)
		goto done;
	put64(&k, trustcache_sum((unsigned char *)k.b.p, k.b.len));
	if (k.oom)
		goto done;
	if (file_replace(cpath, k.b.p, k.b.len, 0, err, sizeof err) == -1)
		log_debug("trust anchor cache: %s", err);
done:
	buf_free(&k.b);
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
 * bytes) matched, into *tap and *np. The array goes at the end of the
 * same block, which may move: *blk follows it. 0 or -1. */
static int
cache_parse(unsigned char **blk, size_t size, size_t klen,
    br_x509_trust_anchor **tap, size_t *np)
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
	*tap = ta;
	*np = n;
	return 0;
}

/* Read the cache at cpath with one read(), check it and its key. 0 when
 * *blkp holds the image and *ta, *n its anchors, -1 for a miss of any
 * kind. */
static int
cache_read(const char *cpath, const struct buf *key, void **blkp,
    br_x509_trust_anchor **ta, size_t *n)
{
	unsigned char *blk = NULL;
	struct stat st;
	uint64_t sum;
	size_t size, got = 0;
	ssize_t r;
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
		r = read(fd, blk + got, size - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			goto fail;
		got += (size_t)r;
	}
	memcpy(&sum, blk + size - 8, 8);
	if (sum != trustcache_sum(blk, size - 8) ||
	    memcmp(blk, key->p, key->len) != 0)
		goto fail;
	rc = cache_parse(&blk, size, key->len, ta, n);
fail:
	if (rc == 0)
		*blkp = blk;
	else
		free(blk);
	close(fd);
	return rc;
}

int
trustcache_read(const char *cpath, const char *path, const struct stat *st,
    void **blk, br_x509_trust_anchor **ta, size_t *n)
{
	struct wr key = { { NULL, 0, 0, 0 }, 0 };
	int rc = -1;

	if (put_key(&key, path, st) == 0)
		rc = cache_read(cpath, &key.b, blk, ta, n);
	buf_free(&key.b);
	return rc;
}
