/*
 * tlscache: TLS session resumption across processes. Each connection is a
 * new process, so BearSSL's in-memory session cache never sees a second
 * handshake: the session parameters go to a 0600 file in auth-dir per
 * upstream host instead (tls-HOST-PORT.session), written under an flock
 * (of tls-HOST-PORT.lock, never replaced) and replaced atomically, and the
 * master secret is wiped from memory once used. BearSSL resumes by session
 * ID; a server that declines gets a full handshake.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "network/tlscache.h"
#include "support/file.h"
#include "support/log.h"

#define SESSION_MAGIC "CPAS1\n"
#define SESSION_MAX_AGE (12 * 3600)

struct session_file {
	char magic[6];
	unsigned char id_len;
	unsigned char id[32];
	unsigned char version[2];
	unsigned char suite[2];
	unsigned char master[48];
	unsigned char saved[8];         /* big-endian epoch seconds */
};

static int
session_path(const char *dir, const char *host, const char *port,
    const char *what, char *out, size_t outlen)
{
	char name[300];
	size_t i;

	snprintf(name, sizeof name, "%s-%s", host, port);
	/* A host name is nearly safe for a file name; make it so. */
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' &&
		    name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
		    name[i] == '.' || name[i] == '-'))
			name[i] = '_';
	return snprintf(out, outlen, "%s/tls-%s.%s", dir, name, what) <
	    (int)outlen ? 0 : -1;
}

/* Lock the cache's sidecar lock file. The fd, or -1. */
static int
session_lock(const char *dir, const char *host, const char *port, int op)
{
	char path[4200];
	int fd;

	if (session_path(dir, host, port, "lock", path, sizeof path) == -1 ||
	    (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return -1;
	while (flock(fd, op) == -1)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

int
tlscache_load(const char *dir, const char *host, const char *port,
    br_ssl_session_parameters *p)
{
	struct session_file f;
	char path[4200];
	long long saved = 0;
	int fd, lk, i, rc = -1;
	ssize_t r;

	if (dir == NULL || session_path(dir, host, port, "session", path,
	    sizeof path) == -1 || (lk = session_lock(dir, host, port,
	    LOCK_SH)) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		goto out;
	r = read(fd, &f, sizeof f);
	close(fd);
	for (i = 0; i < 8 && r == (ssize_t)sizeof f; i++)
		saved = saved << 8 | f.saved[i];
	if (r != (ssize_t)sizeof f || memcmp(f.magic, SESSION_MAGIC, 6) != 0 ||
	    f.id_len == 0 || f.id_len > 32 ||
	    time(NULL) - saved > SESSION_MAX_AGE)
		goto out;
	memset(p, 0, sizeof *p);
	memcpy(p->session_id, f.id, f.id_len);
	p->session_id_len = f.id_len;
	p->version = (uint16_t)(f.version[0] << 8 | f.version[1]);
	p->cipher_suite = (uint16_t)(f.suite[0] << 8 | f.suite[1]);
	memcpy(p->master_secret, f.master, sizeof p->master_secret);
	rc = 0;
out:
	explicit_bzero(&f, sizeof f);
	close(lk);
	return rc;
}

void
tlscache_save(const char *dir, const char *host, const char *port,
    const br_ssl_session_parameters *p)
{
	struct session_file f;
	char path[4200], err[256];
	long long now = (long long)time(NULL);
	int lk, i;

	if (dir == NULL || p->session_id_len == 0 || session_path(dir, host,
	    port, "session", path, sizeof path) == -1 ||
	    (lk = session_lock(dir, host, port, LOCK_EX)) == -1)
		return;
	memset(&f, 0, sizeof f);
	memcpy(f.magic, SESSION_MAGIC, 6);
	f.id_len = p->session_id_len;
	memcpy(f.id, p->session_id, p->session_id_len);
	f.version[0] = (unsigned char)(p->version >> 8);
	f.version[1] = (unsigned char)p->version;
	f.suite[0] = (unsigned char)(p->cipher_suite >> 8);
	f.suite[1] = (unsigned char)p->cipher_suite;
	memcpy(f.master, p->master_secret, sizeof f.master);
	for (i = 7; i >= 0; i--, now >>= 8)
		f.saved[i] = (unsigned char)now;
	if (file_replace(path, &f, sizeof f, 0, err, sizeof err) == -1)
		log_debug("TLS session cache: %s", err);
	explicit_bzero(&f, sizeof f);
	close(lk);
}
