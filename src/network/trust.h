/* trust: a PEM bundle (ca-file) into BearSSL trust anchors. */
#ifndef TRUST_H
#define TRUST_H
#include <stddef.h>
#include <bearssl.h>

/* Where a set came from: a debugging aid, and what the tests check. */
enum trust_src {
	TRUST_SRC_PEM,             /* BearSSL's PEM decoder (unusual files) */
	TRUST_SRC_FAST,            /* our own PEM reader (plain bundles) */
	TRUST_SRC_CACHE            /* auth-dir/ta-cache.bin */
};

struct trust {
	br_x509_trust_anchor *ta;   /* owned; BearSSL keeps pointers into it */
	size_t n;
	void *blk;      /* non-NULL: ta and all anchor bytes live in this one
	                 * allocation (a cache hit); NULL: each is malloc'd */
	enum trust_src src;
};

/* Read every CERTIFICATE in the PEM file at path and turn each into a trust
 * anchor (RSA or EC key; CA flag from basicConstraints is not required, as
 * in BearSSL's own tools: every certificate in the bundle is trusted).
 * 0, or -1 with a message in err ("ca-file X: no certificate in it", ...).
 * A file with no usable certificate is an error. */
int trust_load(struct trust *s, const char *path, char *err, size_t errlen);

/* As trust_load, through a cache of the decoded anchors in
 * cache_dir/ta-cache.bin (trustcache.h), valid while the ca-file's path,
 * device, inode, size, mtime and ctime are unchanged. A missing, stale,
 * corrupt or untrusted cache is rebuilt (best effort: a cache_dir that
 * cannot be written just means no cache). cache_dir NULL is trust_load.
 * Same errors as trust_load; the cache itself never causes one. */
int trust_load_cached(struct trust *s, const char *path, const char *cache_dir,
    char *err, size_t errlen);

/* Either kind of set; leaves it empty. */
void trust_free(struct trust *s);

#endif
