/*
 * --sandbox-check: each probe is a child that applies the sandbox as a
 * filter would and then tries one thing; its exit status says what
 * happened (a signal: killed by seccomp).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sandbox.h"

/* What a probe child reports through its exit status. */
#define PROBE_OK        0
#define PROBE_NOSANDBOX 254

struct probe_ctx {
	const struct config *cfg;
	const char *path;
	int port;
};

static int
probe_read(const struct probe_ctx *p)
{
	char c;
	int fd = open(p->path, O_RDONLY | O_CLOEXEC);

	if (fd == -1)
		return errno;
	if (read(fd, &c, 1) == -1)
		return errno;
	return PROBE_OK;
}

static int
probe_opendir(const struct probe_ctx *p)
{
	return open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) == -1 ?
	    errno : PROBE_OK;
}

/* Create, write, rename, remove: what an atomic replace does. */
static int
probe_write(const struct probe_ctx *p)
{
	char tmp[4200], dst[4300];
	int fd;

	snprintf(tmp, sizeof tmp, "%s.tmp", p->path);
	snprintf(dst, sizeof dst, "%s", p->path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return errno;
	if (write(fd, "probe\n", 6) != 6 || fsync(fd) == -1 ||
	    close(fd) == -1 || rename(tmp, dst) == -1) {
		int e = errno;

		unlink(tmp);
		return e;
	}
	return unlink(dst) == -1 ? errno : PROBE_OK;
}

static int
probe_exec(const struct probe_ctx *p)
{
	static char sh[] = "sh", dash_c[] = "-c", script[] = "exit 0";
	char *const argv[] = { sh, dash_c, script, NULL };
	char *const envp[] = { NULL };

	execve(p->path, argv, envp);
	return errno;
}

/* 127.0.0.1:port, for the probes. */
static void
loopback(struct sockaddr_in *sa, int port)
{
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons((uint16_t)port);
}

static int
probe_bind(const struct probe_ctx *p)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return errno;
	loopback(&sa, p->port);
	return bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ? errno :
	    PROBE_OK;
}

/* The kernel let the connection be tried: refused counts as allowed. */
static int
probe_connect(const struct probe_ctx *p)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return errno;
	loopback(&sa, p->port);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
	    errno != ECONNREFUSED)
		return errno;
	return PROBE_OK;
}

static int
probe_resolve(const struct probe_ctx *p)
{
	struct addrinfo hints, *res;
	int r;

	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(p->path, "443", &hints, &res)) != 0)
		return r == EAI_SYSTEM && errno ? errno : ENOENT;
	freeaddrinfo(res);
	return PROBE_OK;
}

/* Run fn in a sandboxed child. Returns what happened, as a line's tail in
 * out, and 1 if the attempt went through, 0 if it was stopped, -1 if the
 * sandbox itself could not be applied. */
static int
probe(const struct probe_ctx *p, int (*fn)(const struct probe_ctx *),
    char *out, size_t outlen)
{
	pid_t pid;
	int st;

	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(out, outlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (sandbox_apply(p->cfg) == -1)
			_exit(PROBE_NOSANDBOX);
		_exit(fn(p) & 0xff);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			snprintf(out, outlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFSIGNALED(st)) {
		snprintf(out, outlen, "killed by %s", WTERMSIG(st) == SIGSYS ?
		    "SIGSYS (seccomp)" : strsignal(WTERMSIG(st)));
		return 0;
	}
	if (WEXITSTATUS(st) == PROBE_NOSANDBOX) {
		snprintf(out, outlen, "the sandbox could not be applied");
		return -1;
	}
	if (WEXITSTATUS(st) == PROBE_OK) {
		snprintf(out, outlen, "ok");
		return 1;
	}
	snprintf(out, outlen, "%s (errno %d)", strerror(WEXITSTATUS(st)),
	    WEXITSTATUS(st));
	return 0;
}

/* A TCP listener on 127.0.0.1 at a port no upstream uses: a connection
 * to it is refused only by the sandbox. The fd, port in *port. */
static int
listener(const unsigned *ports, int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd, i, tries;

	for (tries = 0; tries < 8; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
		    == -1)
			return -1;
		loopback(&sa, 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
		    listen(fd, 1) == -1 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
			close(fd);
			return -1;
		}
		*port = ntohs(sa.sin_port);
		for (i = 0; ports[i] != 0 && ports[i] != (unsigned)*port; i++)
			;
		if (ports[i] == 0)
			return fd;
		close(fd);
	}
	return -1;
}

static int
exists(const char *path)
{
	struct stat st;

	return path != NULL && *path != '\0' && stat(path, &st) == 0;
}

/* One attempt of --sandbox-check. */
struct attempt {
	const char *label;
	int (*fn)(const struct probe_ctx *);
	const char *path;       /* what it opens, NULL when none */
	int port;
	int must_work;          /* 1: must work, 0: must be denied */
	int untested;           /* nothing there to try */
};

/* What the sandbox is made of here: the mode, the Landlock ABI with the
 * ports it allows, seccomp. */
static void
print_layers(const struct config *cfg, const unsigned *ports, FILE *out)
{
	static const char *const mode[] = { "auto", "required", "off" };
	int abi = sandbox_landlock_abi(), i;

	fprintf(out, "sandbox: %s (config %s)\n", mode[cfg->sandbox],
	    cfg->path ? cfg->path : "built-in defaults");
	if (abi == 0)
		fprintf(out, "landlock: not available in this kernel\n");
	else {
		fprintf(out, "landlock: ABI %d: files%s", abi, abi >= 4 ?
		    "; TCP connect only to ports" : "; TCP ports not "
		    "restricted (needs ABI 4)");
		for (i = 0; abi >= 4 && ports[i] != 0; i++)
			fprintf(out, " %u", ports[i]);
		fprintf(out, "%s\n", abi >= 4 ? "; no bind" : "");
	}
	fprintf(out, "seccomp: %s\n", prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == -1
	    && errno == EINVAL ? "not available in this kernel" :
	    "allow-list, EPERM for the rest, SIGSYS for exec and the like");
}

/* Make attempt a in a sandboxed child and say on out how it went. 1 when
 * it went the wrong way or could not be made, else 0. */
static int
try_attempt(const struct config *cfg, const struct attempt *a, FILE *out)
{
	struct probe_ctx p = { cfg, a->path, a->port };
	char what[4400], res[300];
	int r;

	if (a->port)
		snprintf(what, sizeof what, "%s (%d)", a->label, a->port);
	else if (a->path && a->fn != probe_resolve)
		snprintf(what, sizeof what, "%s (%s)", a->label, a->path);
	else
		snprintf(what, sizeof what, "%s", a->label);
	/* Trying what is not there would prove nothing. */
	if (a->untested) {
		fprintf(out, "untested %s: not there to try\n", what);
		return 0;
	}
	r = probe(&p, a->fn, res, sizeof res);
	if (r == -1) {
		fprintf(out, "FAILED %s: %s\n", what, res);
		return 1;
	}
	if (a->must_work) {
		fprintf(out, "%s %s: %s\n", r ? "allowed" : "DENIED", what,
		    res);
		return !r;
	}
	fprintf(out, "%s %s: %s\n", r ? "ALLOWED" : "denied", what, res);
	return r;
}

int
sandbox_check(const struct config *cfg, FILE *out)
{
	struct attempt a[16];
	unsigned ports[SANDBOX_MAX_PORTS];
	char ssh[4096], key[4200], outside[4096], inside[4200], tmpf[4200];
	const char *home = getenv("HOME"), *tmp = getenv("TMPDIR");
	struct stat st;
	int lfd, lport = 0, bad = 0;
	size_t n = 0, k;

	sandbox_ports(cfg, ports);
	print_layers(cfg, ports, out);
	ssh[0] = key[0] = '\0';
	if (home && *home) {
		snprintf(ssh, sizeof ssh, "%s/.ssh", home);
		snprintf(key, sizeof key, "%s/.ssh/id_ed25519", home);
		if (stat(key, &st) == -1)
			snprintf(key, sizeof key, "%s/.ssh/authorized_keys",
			    home);
	}
	snprintf(outside, sizeof outside, "%s/cli-proxy-api-sandbox-probe.%ld",
	    tmp && *tmp ? tmp : "/tmp", (long)getpid());
	snprintf(inside, sizeof inside, "%s/.sandbox-probe.%ld", cfg->auth_dir,
	    (long)getpid());
	lfd = listener(ports, &lport);

	a[n++] = (struct attempt){ "read /etc/shadow", probe_read,
	    "/etc/shadow", 0, 0, !exists("/etc/shadow") };
	/* Readable by everyone: only the sandbox can refuse it. */
	a[n++] = (struct attempt){ "read /etc/passwd", probe_read,
	    "/etc/passwd", 0, 0, !exists("/etc/passwd") };
	a[n++] = (struct attempt){ "open ~/.ssh", probe_opendir, ssh, 0, 0,
	    !exists(ssh) };
	a[n++] = (struct attempt){ "read ~/.ssh", probe_read, key, 0, 0,
	    !exists(key) };
	a[n++] = (struct attempt){ "write outside auth-dir", probe_write,
	    outside, 0, 0, 0 };
	a[n++] = (struct attempt){ "exec /bin/sh", probe_exec, "/bin/sh", 0,
	    0, !exists("/bin/sh") };
	a[n++] = (struct attempt){ "bind TCP 127.0.0.1 port 0", probe_bind,
	    NULL, 0, 0, 0 };
	a[n++] = (struct attempt){ "connect TCP 127.0.0.1 to a port no "
	    "upstream uses", probe_connect, NULL, lport, 0, lfd == -1 };
	a[n++] = (struct attempt){ "read ca-file", probe_read, cfg->ca_file,
	    0, 1, !exists(cfg->ca_file) };
	a[n++] = (struct attempt){ "write in auth-dir", probe_write, inside,
	    0, 1, !exists(cfg->auth_dir) };
	a[n++] = (struct attempt){ "resolve localhost", probe_resolve,
	    "localhost", 0, 1, 0 };
	a[n++] = (struct attempt){ "connect TCP 127.0.0.1 to the first "
	    "upstream's port", probe_connect, NULL, (int)ports[0], 1, 0 };

	for (k = 0; k < n; k++)
		bad |= try_attempt(cfg, &a[k], out);
	if (lfd != -1)
		close(lfd);
	/* A write that went through was undone by the child; a crash
	 * between may leave these. */
	unlink(outside);
	snprintf(tmpf, sizeof tmpf, "%s.tmp", outside);
	unlink(tmpf);
	fprintf(out, "sandbox check: %s\n", bad ? "FAILED" : "passed");
	fflush(out);
	return bad;
}
