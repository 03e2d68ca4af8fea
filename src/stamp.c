/*
 * File identity by stat: device, inode, size, mode, owner, mtime, ctime.
 * Writers in auth-dir replace files by rename (a new inode, a new ctime)
 * and chmod changes the ctime, so any change a reader must see moves one
 * of these. The one gap is the clock: see FIDENT_RACY.
 */
#include <string.h>
#include <time.h>

#include "stamp.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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
	id->checked = now_ms();
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

/* st from a stat just made (r its result): the verdict, and the time it
 * stands from. */
static int
recheck(struct stamp *id, int r, const struct stat *st, long long now)
{
	if (r == -1 || !stamp_same(id, st))
		return 0;
	id->checked = now;
	return 1;
}

int
stamp_check(struct stamp *id, const char *path, int follow)
{
	struct stat st;
	long long now = now_ms();

	if (!id->trusted)
		return 0;
	if (now - id->checked < FIDENT_RECHECK_MS)
		return 1;
	return recheck(id, follow ? stat(path, &st) : lstat(path, &st), &st,
	    now);
}
