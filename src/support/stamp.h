/* stamp: has a file changed since it was read? A process keeps what it
 * read of auth-dir across the requests of a keep-alive connection and
 * reads a file again only when it changed. An inotify watch on the
 * directory answers that for every file in it with one read per request
 * (stamp_look); without one (no inotify, the user's limit of inotify
 * instances reached, the directory gone) stat answers, once per file per
 * request. */
#ifndef STAMP_H
#define STAMP_H
#include <sys/stat.h>

/* How long after its last change a file's times can be trusted. File
 * times come from a coarse clock: two changes within one tick leave the
 * same times, so a file read within that window may change again unseen
 * by stat (git has the same rule for its index). The watch has no such
 * gap. */
#define FIDENT_RACY 2

struct stamp {
	dev_t dev;
	ino_t ino;
	off_t size;
	mode_t mode;
	uid_t uid;
	struct timespec mtim, ctim;
	int trusted;            /* settled when taken: comparisons may hit */
	unsigned long long seq; /* the watch's count of changes when taken
	                         * (or last found unchanged) */
	unsigned long look;     /* the look of the last stat; 0: never */
};

/* What a name in the watched directory is to the one who keeps its
 * files (stamp_watch's kind). */
#define STAMP_KEPT 1            /* its content may be kept */
#define STAMP_LISTED 2          /* the kept listing holds it */

/* Watch dir from now on: kind(name) says which of its names matter
 * (STAMP_ flags; 0: none, such as temporary files and logs). Call it
 * before the first read of what is kept and before the sandbox (which
 * allows no inotify set-up). 0, or -1 with errno: then stat answers. */
int stamp_watch(const char *dir, int (*kind)(const char *name));
/* A new request: take in what the watch saw since the last look (one
 * read when nothing happened); without a watch, the next checks stat
 * again. */
void stamp_look(void);

/* Take st as the identity of what was read. Take it before reading: a
 * change between the stat and the read then shows as a difference. */
void stamp_take(struct stamp *id, const struct stat *st);
/* Is st the same file, unchanged, as id (and id trusted)? */
int stamp_same(const struct stamp *id, const struct stat *st);
/* Is the file at path (lstat without follow; the watched directory
 * itself: its listing) still the one of id? 1 when the watch saw nothing
 * happen to it, or (without a watch) when a stat in this look said so;
 * else after asking stat; 0 when the path is gone or not the same. */
int stamp_check(struct stamp *id, const char *path, int follow);

#endif
