/* trustcache: decoded trust anchors kept in auth-dir/ta-cache.bin, valid
 * while the ca-file they came from is unchanged. */
#ifndef TRUSTCACHE_H
#define TRUSTCACHE_H
#include <sys/stat.h>
#include <stddef.h>
#include <stdint.h>
#include <bearssl.h>

/* The cache file's path in dir, into out. 0, or -1 when it does not fit. */
int trustcache_path(const char *dir, char *out, size_t outlen);

/* The anchors cached at cpath for the ca-file at path, whose stat is *st.
 * 0 on a hit: *ta (*n of them) and all their bytes live in one allocation,
 * *blk, that the caller frees. -1 for a miss of any kind (missing, stale,
 * corrupt, not ours), the outputs then untouched. */
int trustcache_read(const char *cpath, const char *path,
    const struct stat *st, void **blk, br_x509_trust_anchor **ta,
    size_t *n);

/* Write the n anchors decoded from the ca-file at path (stat *st) to the
 * cache at cpath, unless the ca-file changed too recently for its stat to
 * tell a later change. Best effort: a failure is only logged (debug). */
void trustcache_write(const char *cpath, const char *path,
    const struct stat *st, const br_x509_trust_anchor *ta, size_t n);

/* The cache file's checksum (damage detection, not a MAC); exported so
 * the tests can reseal a damaged image and reach the checks behind it. */
uint64_t trustcache_sum(const unsigned char *p, size_t n);

#endif
