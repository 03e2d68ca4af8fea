/* stamp: has a file changed since it was read? A process keeps what it
 * read of auth-dir across the requests of a keep-alive connection and
 * re-reads a file only when stat says it changed, asking stat at most once
 * a second per file. */
#ifndef STAMP_H
#define STAMP_H
#include <sys/stat.h>

/* How long after its last change a file's times can be trusted. File
 * times come from a coarse clock: two changes within one tick leave the
 * same times, so a file read within that window may change again unseen
 * (git has the same rule for its index). */
#define FIDENT_RACY 2

/* How long a check that found a file unchanged stands: another process's
 * change is seen within this time, a stat per file per request saved. */
#define FIDENT_RECHECK_MS 1000

struct stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	struct timespec mtim, ctim;
	int trusted;            /* settled when taken: comparisons may hit */
	long long checked;      /* CLOCK_MONOTONIC ms of the last stat */
};

/* Take st as the identity of what was read. Take it before reading: a
 * change between the stat and the read then shows as a difference. */
void stamp_take(struct stamp *id, const struct stat *st);
/* Is st the same file, unchanged, as id (and id trusted)? */
int stamp_same(const struct stamp *id, const struct stat *st);
/* Is the file at path (lstat without follow) still the one of id? 1 when
 * a stat said so less than FIDENT_RECHECK_MS ago, else after asking stat
 * again; 0 when the path is gone or not the same. */
int stamp_check(struct stamp *id, const char *path, int follow);

#endif
