/*
 * Files whole: written through short writes, replaced atomically, read
 * within a cap. Every writer in auth-dir replaces a file by rename, so a
 * reader sees the old file or the new one, never a torn one, without a
 * lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"

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

int
file_replace(const char *path, const void *data, size_t len, int durable,
    char *err, size_t errlen)
{
	char tmp[4200], dir[4096];
	const char *slash = strrchr(path, '/');
	const char *p = data;
	int fd, dfd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid())
	    >= (int)sizeof tmp) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	unlink(tmp);    /* a leftover of a killed process with our pid */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) == -1) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		return -1;
	}
	if (file_write_all(fd, p, len) == -1)
		goto fail;
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
