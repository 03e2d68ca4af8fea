/*
 * Has a file changed since it was read: asked once per file per request,
 * so the answer must cost less than the read it saves.
 *
 * With an inotify watch on the directory the answer costs nothing per
 * file: every change to a name in it (created, replaced by rename,
 * written, chmod'ed, removed) is an event, and one non-blocking read per
 * request (stamp_look) takes them all in. Each event bumps a counter and
 * notes it against the name; a file is unchanged while no event for its
 * name came after it was read. This is exact: no clock, no window, a
 * change made an instant after a read is seen by the next request. A
 * stat per kept file would cost three or four calls a request and still
 * miss a second change within one tick of the file times. The
 * watch must be made before the sandbox (seccomp allows no
 * inotify_init1 or inotify_add_watch), and an inotify instance counts
 * against fs.inotify.max_user_instances (128 by default): past it, and
 * when the directory itself goes away, stat answers instead.
 *
 * File identity by stat: device, inode, size, mode, owner, mtime, ctime.
 * Writers in auth-dir replace files by rename (a new inode, a new ctime)
 * and chmod changes the ctime, so any change a reader must see moves one
 * of these. The one gap is the clock: see FIDENT_RACY. Without a watch
 * each kept file costs a stat per request.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "support/stamp.h"

/* Names the watch keeps a count for; past that, every name counts as
 * changed once (a few accounts, state.json and the conversations table
 * need a handful). */
#define SEEN_MAX 64

static struct {
	int fd;                 /* inotify, -1 without a watch */
	char *dir;
	size_t dirlen;
	int (*kind)(const char *);
	unsigned long long seq;         /* events taken in so far */
	unsigned long long listing;     /* seq of the last listed name's
	                                 * coming or going */
	unsigned long long floor;       /* every name changed at this seq
	                                 * (the queue overflowed) */
	size_t n;
	struct {
		unsigned long long seq;
		char name[NAME_MAX + 1];
	} seen[SEEN_MAX];
	unsigned long look;     /* looks so far, from 1 */
} w = { -1, NULL, 0, NULL, 0, 0, 0, 0, { { 0, "" } }, 1 };

int
stamp_watch(const char *dir, int (*kind)(const char *name))
{
	int fd, e;

	if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		return -1;
	/* Every way a name's file can change, and the directory's own end
	 * (IN_IGNORED comes with those). IN_OPEN and IN_ACCESS are reads. */
	if (inotify_add_watch(fd, dir, IN_CREATE | IN_DELETE | IN_MOVED_FROM |
	    IN_MOVED_TO | IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB |
	    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR) == -1 ||
	    (w.dir = strdup(dir)) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	w.fd = fd;
	/* "/a/b/" and "/a/b" are one directory. */
	for (w.dirlen = strlen(w.dir); w.dirlen > 1 &&
	    w.dir[w.dirlen - 1] == '/'; w.dirlen--)
		;
	w.kind = kind;
	return 0;
}

/* The watch is gone (the directory was removed or moved, or the file
 * system unmounted): stat answers from now on. */
static void
unwatch(void)
{
	close(w.fd);
	w.fd = -1;
}

/* Name changed, as event mask says. */
static void
note(const char *name, uint32_t mask)
{
	int k = w.kind(name);
	size_t i;

	if (k & STAMP_LISTED && mask & (IN_CREATE | IN_DELETE |
	    IN_MOVED_FROM | IN_MOVED_TO))
		w.listing = ++w.seq;
	if (!(k & STAMP_KEPT))
		return;
	w.seq++;
	for (i = 0; i < w.n; i++)
		if (strcmp(w.seen[i].name, name) == 0) {
			w.seen[i].seq = w.seq;
			return;
		}
	if (w.n == SEEN_MAX) {
		w.floor = w.seq;
		w.n = 0;
		return;
	}
	w.seen[w.n].seq = w.seq;
	strcpy(w.seen[w.n++].name, name);
}

void
stamp_look(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	ssize_t r;
	char *p;

	w.look++;
	while (w.fd != -1) {
		if ((r = read(w.fd, buf, sizeof buf)) == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;          /* EAGAIN: nothing (more) happened */
		for (p = buf; p < buf + r; p += sizeof *ev + ev->len) {
			ev = (const struct inotify_event *)(void *)p;
			if (ev->mask & IN_Q_OVERFLOW) {
				w.floor = w.listing = ++w.seq;
				w.n = 0;
			} else if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
			    IN_MOVE_SELF | IN_UNMOUNT)) {
				unwatch();
				break;
			} else if (ev->len > 0)
				note(ev->name, ev->mask);
		}
		/* Room for one more event was left: the queue was empty,
		 * and a second read would only say so. */
		if ((size_t)r <= sizeof buf - sizeof *ev - NAME_MAX - 1)
			break;
	}
}

/* When the watch last saw a change to path (the directory itself: to
 * its listing). 0 with *last set, or -1 when path is not watched. */
static int
last_change(const char *path, unsigned long long *last)
{
	const char *name = path + w.dirlen;
	size_t i;

	if (w.fd == -1 || strncmp(path, w.dir, w.dirlen) != 0 ||
	    (*name != '/' && *name != '\0'))
		return -1;
	while (*name == '/')
		name++;
	*last = w.floor;
	if (*name == '\0') {
		if (w.listing > *last)
			*last = w.listing;
		return 0;
	}
	if (strchr(name, '/'))
		return -1;
	for (i = 0; i < w.n; i++)
		if (w.seen[i].seq > *last && strcmp(w.seen[i].name, name) == 0)
			*last = w.seen[i].seq;
	return 0;
}

void
stamp_take(struct stamp *id, const struct stat *st)
{
	time_t now = time(NULL);

	memset(id, 0, sizeof *id);
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mode = st->st_mode;
	id->uid = st->st_uid;
	id->mtim = st->st_mtim;
	id->ctim = st->st_ctim;
	/* A time in the future (a clock set back) is never settled. */
	id->trusted = st->st_mtim.tv_sec + FIDENT_RACY <= now &&
	    st->st_ctim.tv_sec + FIDENT_RACY <= now;
	id->seq = w.seq;
	id->look = w.look;
}

int
stamp_same(const struct stamp *id, const struct stat *st)
{
	return id->trusted && id->dev == st->st_dev &&
	    id->ino == st->st_ino && id->size == st->st_size &&
	    id->mode == st->st_mode && id->uid == st->st_uid &&
	    id->mtim.tv_sec == st->st_mtim.tv_sec &&
	    id->mtim.tv_nsec == st->st_mtim.tv_nsec &&
	    id->ctim.tv_sec == st->st_ctim.tv_sec &&
	    id->ctim.tv_nsec == st->st_ctim.tv_nsec;
}

int
stamp_check(struct stamp *id, const char *path, int follow)
{
	struct stat st;
	unsigned long long last;

	if (last_change(path, &last) == 0) {
		if (last <= id->seq)
			return 1;
	} else if (id->trusted && id->look == w.look)
		return 1;
	if ((follow ? stat(path, &st) : lstat(path, &st)) == -1 ||
	    !stamp_same(id, &st))
		return 0;
	id->seq = w.seq;
	id->look = w.look;
	return 1;
}
