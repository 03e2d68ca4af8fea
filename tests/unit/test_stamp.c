/* stamp: any change a writer can make (rename over it, rewrite in place,
 * chmod, remove) shows: by stat, where a file read is trusted only once
 * settled, and by the watch, at the next look and without a clock. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/stamp.h"
#include "unit.h"

static char dir[] = "/tmp/fident-XXXXXX";

static void
put(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

/* Set a file's times to secs ago (ctime stays now: only the kernel moves
 * it). */
static void
age(const char *path, int secs)
{
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= secs;
	ts[1] = ts[0];
	utimensat(AT_FDCWD, path, ts, 0);
}

/* What the watch test's names are: f.json kept, listed names end in
 * .json, the rest (temporary files) nothing. */
static int
kind(const char *name)
{
	size_t n = strlen(name);

	if (strcmp(name, "f.json") == 0)
		return STAMP_KEPT | STAMP_LISTED;
	return n > 5 && strcmp(name + n - 5, ".json") == 0 ? STAMP_LISTED : 0;
}

/* With the watch: no clock, no stat while nothing happened, and every
 * change seen at the next look. */
static void
watched(const char *path, const char *other)
{
	char tmp[300];
	struct stamp id, d;
	struct stat st;

	snprintf(tmp, sizeof tmp, "%s/f.json.tmp.1", dir);
	CHECK("watch made", stamp_watch(dir, kind) == 0);
	put(path, "one");
	stamp_look();
	stat(path, &st);
	stamp_take(&id, &st);
	stat(dir, &st);
	stamp_take(&d, &st);
	CHECK("just written, nothing since: the same (no clock)",
	    !id.trusted && stamp_check(&id, path, 0));
	put(tmp, "x");
	put(other, "x");
	unlink(other);
	stamp_look();
	CHECK("another name written: the same", stamp_check(&id, path, 0));
	CHECK("a listed name came and went: the listing changed",
	    !stamp_check(&d, dir, 1));
	stat(dir, &st);
	stamp_take(&d, &st);
	rename(tmp, path);
	CHECK("replaced, before the look: not seen yet",
	    stamp_check(&id, path, 0));
	stamp_look();
	CHECK("replaced by rename: changed", !stamp_check(&id, path, 0));
	/* A rename cannot tell a name replaced from a name new. */
	CHECK("a listed name moved in: the listing is read again",
	    !stamp_check(&d, dir, 1));
	stat(path, &st);
	stamp_take(&id, &st);
	put(path, "two");
	stamp_look();
	CHECK("rewritten in place: changed", !stamp_check(&id, path, 0));
	stat(path, &st);
	stamp_take(&id, &st);
	chmod(path, 0600);
	stamp_look();
	CHECK("chmod: changed", !stamp_check(&id, path, 0));
	stat(path, &st);
	stamp_take(&id, &st);
	unlink(path);
	stamp_look();
	CHECK("removed: changed", !stamp_check(&id, path, 0));
	CHECK("removed: the listing changed", !stamp_check(&d, dir, 1));
	/* The directory gone: stat answers (a stamp of a file now missing
	 * says changed). */
	rmdir(dir);
	stamp_look();
	CHECK("directory gone: stat answers", !stamp_check(&id, path, 0));
	mkdir(dir, 0700);
}

int
main(void)
{
	char path[256], other[256];
	struct stamp id;
	struct stat st;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/f.json", dir);
	snprintf(other, sizeof other, "%s/g.json", dir);

	put(path, "one");
	stat(path, &st);
	stamp_take(&id, &st);
	CHECK("just written: not trusted", !id.trusted);
	CHECK("just written: never the same", !stamp_check(&id, path, 0));

	/* A settled identity, forged: the ctime of a real file is always
	 * recent here, so take one and push its times back. */
	stat(path, &st);
	st.st_mtim.tv_sec -= 10;
	st.st_ctim.tv_sec -= 10;
	stamp_take(&id, &st);
	CHECK("settled: trusted", id.trusted);
	CHECK("settled: the same stat is the same", stamp_same(&id, &st));
	{
		struct stat s2 = st;

		s2.st_ctim.tv_nsec ^= 1;
		CHECK("ctime moved: changed", !stamp_same(&id, &s2));
		s2 = st;
		s2.st_size++;
		CHECK("size moved: changed", !stamp_same(&id, &s2));
		s2 = st;
		s2.st_ino++;
		CHECK("inode moved: changed", !stamp_same(&id, &s2));
		s2 = st;
		s2.st_mode ^= 044;
		CHECK("mode moved: changed", !stamp_same(&id, &s2));
		s2 = st;
		s2.st_mtim.tv_sec++;
		CHECK("mtime moved: changed", !stamp_same(&id, &s2));
	}

	/* A real file: rewritten in place with its mtime put back, replaced
	 * by rename, chmod: each shows against the identity taken before. */
	put(path, "two");
	age(path, 10);
	stat(path, &st);
	stamp_take(&id, &st);
	put(path, "TWO");
	age(path, 10);
	stat(path, &st);
	id.trusted = 1;
	id.look = 0;
	CHECK("rewritten in place, mtime put back: changed",
	    !stamp_check(&id, path, 0));
	stamp_take(&id, &st);
	id.trusted = 1;
	id.look = 0;
	CHECK("unchanged real file: same", stamp_check(&id, path, 0));
	put(other, "TWO");
	age(other, 10);
	rename(other, path);
	id.look = 0;
	CHECK("replaced by rename: changed", !stamp_check(&id, path, 0));
	stat(path, &st);
	stamp_take(&id, &st);
	id.trusted = 1;
	id.look = 0;
	chmod(path, 0644);
	CHECK("chmod: changed", !stamp_check(&id, path, 0));
	unlink(path);
	CHECK("removed: changed", !stamp_check(&id, path, 0));

	/* A check that found the file unchanged stands for the rest of the
	 * look (one request): a change shows at the next. */
	put(path, "three");
	age(path, 10);
	stat(path, &st);
	stamp_take(&id, &st);
	id.trusted = 1;
	id.look = 0;
	CHECK("unchanged, checked", stamp_check(&id, path, 0));
	put(path, "THREE!");
	CHECK("changed within the look of the check: not asked again",
	    stamp_check(&id, path, 0));
	stamp_look();
	CHECK("changed, at the next look: seen", !stamp_check(&id, path, 0));
	unlink(path);
	CHECK("symlink made", symlink("/etc/hostname", path) == 0);
	lstat(path, &st);
	stamp_take(&id, &st);
	id.trusted = 1;
	id.look = 0;
	CHECK("lstat does not follow", stamp_check(&id, path, 0));
	id.look = 0;
	CHECK("stat follows: another file", !stamp_check(&id, path, 1));
	unlink(path);
	watched(path, other);
	rmdir(dir);
	return UNIT_END();
}
