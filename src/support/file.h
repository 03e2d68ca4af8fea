/* file: whole files, written, replaced atomically (with room taken
 * ahead), read within a cap. */
#ifndef FILE_H
#define FILE_H
#include <stddef.h>
#include <sys/stat.h>

struct buf;

/* Write all n bytes of p to fd (a socket, a pipe or a file), through
 * short writes and EINTR. 0, or -1 (errno from write). */
int file_write_all(int fd, const void *p, size_t n);

/* Replace path with data atomically: a 0600 temporary file in the same
 * directory, written, fsynced (when durable), renamed over path, and the
 * directory fsynced. A crash at any point leaves the old or the new file,
 * never a torn one. 0, or -1 with err. */
int file_replace(const char *path, const void *data, size_t len,
    int durable, char *err, size_t errlen);

/* Room for a file's new content, taken before a step whose result
 * cannot be asked for twice (a token grant rotates the refresh token):
 * the temporary copy that will hold the result, made at its full size in
 * the file's directory, so that keeping the result does not fail for
 * want of space. */
struct file_room {
	int fd;                 /* -1: none */
	char tmp[4200];
};

/* Create tmp (0600, O_EXCL, not through a symlink; a leftover of that
 * name removed first) and allocate size bytes for it. 0, or -1 with
 * errno (ENOSPC, EDQUOT, EROFS, EIO, ...) and nothing left behind. */
int file_reserve(struct file_room *r, const char *tmp, size_t size);
/* Write data into the room from its start, cut it to len bytes, then
 * fsync, rename over path and fsync the directory, as file_replace
 * does. The room is used up either way. 0, or -1 with err (the old file
 * is kept). */
int file_fill(struct file_room *r, const char *path, const void *data,
    size_t len, char *err, size_t errlen);
/* Give back a room not filled (its file removed). */
void file_unreserve(struct file_room *r);

/* Append what is left to read of fd to b, when that is at most cap
 * bytes, NUL-terminated. 0, or -1 with errno (EFBIG past the cap). */
int file_read_fd(int fd, size_t cap, struct buf *b);

/* Append the file at path (not followed if a symlink) to b, when it holds
 * at most cap bytes; st, when given, gets its stat taken before the read.
 * 0, or -1 with errno (EFBIG past the cap). b may hold part of the file
 * then: the caller frees (or wipes) it either way. */
int file_read(const char *path, size_t cap, struct buf *b, struct stat *st);

#endif
