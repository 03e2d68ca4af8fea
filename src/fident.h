/* fident: has a file changed since it was read? A process keeps what it
 * read of auth-dir across the requests of a keep-alive connection and
 * re-reads a file only when stat says it changed. */
#ifndef FIDENT_H
#define FIDENT_H
#include <sys/stat.h>

/* How long after its last change a file's times can be trusted. File
 * times come from a coarse clock: two changes within one tick leave the
 * same times, so a file read within that window may change again unseen
 * (git has the same rule for its index). */
#define FIDENT_RACY 2

struct fident {
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	struct timespec mtim, ctim;
	int trusted;            /* settled when taken: comparisons may hit */
};

/* Take st as the identity of what was read. Take it before reading: a
 * change between the stat and the read then shows as a difference. */
void fident_take(struct fident *id, const struct stat *st);
/* Is st the same file, unchanged, as id (and id trusted)? */
int fident_same(const struct fident *id, const struct stat *st);
/* fident_same against stat(path) (lstat without follow). 0 when the path
 * is gone or not the same. */
int fident_check(const struct fident *id, const char *path, int follow);

#endif
