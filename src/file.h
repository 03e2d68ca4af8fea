/* file: whole files, written, replaced atomically, read within a cap. */
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

/* Append what is left to read of fd to b, when that is at most cap
 * bytes, NUL-terminated. 0, or -1 with errno (EFBIG past the cap). */
int file_read_fd(int fd, size_t cap, struct buf *b);

/* Append the file at path (not followed if a symlink) to b, when it holds
 * at most cap bytes; st, when given, gets its stat taken before the read.
 * 0, or -1 with errno (EFBIG past the cap). b may hold part of the file
 * then: the caller frees (or wipes) it either way. */
int file_read(const char *path, size_t cap, struct buf *b, struct stat *st);

#endif
