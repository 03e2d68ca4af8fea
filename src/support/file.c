/*
 * Files whole: written through short writes, replaced atomically, read
 * within a cap. Every writer in auth-dir replaces a file by rename, so a
 * reader sees the old file or the new one, never a torn one, without a
 * lock. A content that cannot be had twice (a token grant) gets its room
 * first: the temporary copy allocated at full size before it is asked
 * for, as databases preallocate their logs, then filled and renamed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/buf.h"
#include "support/file.h"

int
file_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Make tmp anew: a leftover by that name (a killed writer's) goes
 * first. The fd, or -1 with errno. */
static int
tmp_create(const char *tmp)
{
	unlink(tmp);
	return open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    0600);
}

/* The end of every replacement: tmp (written, open on fd) made durable
 * when asked, renamed over path, the directory made durable. 0, or -1
 * with err; tmp is gone either way. */
static int
commit(int fd, const char *tmp, const char *path, int durable, char *err,
    size_t errlen)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	int dfd;

	if ((durable && fsync(fd) == -1) || close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1)
		goto fail;
	if (durable) {
		snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) :
		    1, slash ? path : ".");
		if (dir[0] == '\0')
			snprintf(dir, sizeof dir, "/");
		if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
			fsync(dfd);
			close(dfd);
		}
	}
	return 0;
fail:
	snprintf(err, errlen, "cannot write %s: %s (the old file is kept)",
	    path, strerror(errno ? errno : EIO));
	if (fd != -1)
		close(fd);
	unlink(tmp);
	return -1;
}

int
file_replace(const char *path, const void *data, size_t len, int durable,
    char *err, size_t errlen)
{
	char tmp[4200];
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid())
	    >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fd = tmp_create(tmp)) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (file_write_all(fd, data, len) == -1) {
		snprintf(err, errlen, "cannot write %s: %s (the old file is "
		    "kept)", path, strerror(errno ? errno : EIO));
		close(fd);
		unlink(tmp);
		return -1;
	}
	return commit(fd, tmp, path, durable, err, errlen);
}

/* size bytes of zeros written at the file's start: what a file system
 * without fallocate charges against space and quota all the same. */
static int
fill_zeros(int fd, size_t size)
{
	static const char zeros[4096];
	size_t n;

	for (; size > 0; size -= n) {
		n = size < sizeof zeros ? size : sizeof zeros;
		if (file_write_all(fd, zeros, n) == -1)
			return -1;
	}
	return 0;
}

int
file_reserve(struct file_room *r, const char *tmp, size_t size)
{
	int e;

	r->fd = -1;
	if (snprintf(r->tmp, sizeof r->tmp, "%s", tmp) >= (int)sizeof r->tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((r->fd = tmp_create(r->tmp)) == -1)
		return -1;
	/* Blocks allocated, not just a size set: a sparse file would find
	 * the disk full only when written. */
	if (fallocate(r->fd, 0, 0, (off_t)size) == 0)
		return 0;
	if ((errno == EOPNOTSUPP || errno == ENOSYS) &&
	    fill_zeros(r->fd, size) == 0)
		return 0;
	e = errno ? errno : EIO;
	file_unreserve(r);
	errno = e;
	return -1;
}

void
file_unreserve(struct file_room *r)
{
	if (r->fd == -1)
		return;
	close(r->fd);
	unlink(r->tmp);
	r->fd = -1;
}

int
file_fill(struct file_room *r, const char *path, const void *data,
    size_t len, char *err, size_t errlen)
{
	int fd = r->fd;

	r->fd = -1;
	if (fd == -1) {
		snprintf(err, errlen, "cannot write %s: no room was taken for "
		    "it (the old file is kept)", path);
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) == -1 || file_write_all(fd, data, len) == -1 ||
	    ftruncate(fd, (off_t)len) == -1) {
		snprintf(err, errlen, "cannot write %s: %s (the old file is "
		    "kept)", path, strerror(errno ? errno : EIO));
		close(fd);
		unlink(r->tmp);
		return -1;
	}
	/* Always durable: what a room is taken for cannot be had again. */
	return commit(fd, r->tmp, path, 1, err, errlen);
}

int
file_read_fd(int fd, size_t cap, struct buf *b)
{
	ssize_t r;

	for (;;) {
		if (buf_reserve(b, 4096) == -1)
			return -1;
		r = read(fd, b->p + b->len, b->cap - b->len - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			break;
		b->len += (size_t)r;
		if (b->len > cap) {
			errno = EFBIG;
			return -1;
		}
	}
	b->p[b->len] = '\0';
	return 0;
}

int
file_read(const char *path, size_t cap, struct buf *b, struct stat *st)
{
	int fd, rc, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	rc = st && fstat(fd, st) == -1 ? -1 : file_read_fd(fd, cap, b);
	e = errno;
	close(fd);
	errno = e;
	return rc;
}
