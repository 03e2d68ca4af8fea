/* sandbox: each case runs in a child that applies the sandbox, then makes
 * one system call; the child's exit status says what happened. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sandbox.h"
#include "unit.h"

static struct config cfg;
static int sp[2] = { -1, -1 };
static char dir[] = "/tmp/cpa-sandbox-unit-XXXXXX";

enum { T_NETLINK, T_INET, T_TIOCSTI, T_FIONREAD, T_SETSID, T_EXEC,
    T_AUTHDIR, T_PASSWD, T_HIGHNR, T_X32, T_GETPID, T_INET6 };

/* The errno of the attempt, 0 when it worked. */
static int
attempt(int what)
{
	char path[200], c;
	int fd, n;

	switch (what) {
	case T_NETLINK:
		return socket(AF_NETLINK, SOCK_RAW, 0) == -1 ? errno : 0;
	case T_INET:
		return socket(AF_INET, SOCK_STREAM, 0) == -1 ? errno : 0;
	case T_TIOCSTI:
		c = 'x';
		return ioctl(sp[0], TIOCSTI, &c) == -1 ? errno : 0;
	case T_FIONREAD:
		return ioctl(sp[0], FIONREAD, &n) == -1 ? errno : 0;
	case T_SETSID:
		return setsid() == -1 ? errno : 0;
	case T_EXEC:
		execl("/bin/true", "true", (char *)NULL);
		return errno;
	case T_AUTHDIR:
		snprintf(path, sizeof path, "%s/probe", dir);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
			return errno;
		close(fd);
		return unlink(path) == -1 ? errno : 0;
	case T_PASSWD:
		return open("/etc/passwd", O_RDONLY) == -1 ? errno : 0;
	case T_HIGHNR:
		/* Past the last number in the table: the tree's right edge. */
		return syscall(1000) == -1 ? errno : 0;
	case T_X32:
#if defined(__x86_64__)
		return syscall(0x40000000 | SYS_getpid) == -1 ? errno : 0;
#else
		return 0;
#endif
	case T_GETPID:
		return syscall(SYS_getpid) == -1 ? errno : 0;
	case T_INET6:
		fd = socket(AF_INET6, SOCK_DGRAM, 0);
		return fd == -1 && errno == EPERM ? EPERM : 0;
	}
	return EINVAL;
}

/* Exit status of the attempt in a sandboxed child, or 1000 + signal. */
static int
sandboxed(int mode, int what)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		cfg.sandbox = mode;
		if (sandbox_apply(&cfg) == -1)
			_exit(255);
		_exit(attempt(what));
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFSIGNALED(st) ? 1000 + WTERMSIG(st) : WEXITSTATUS(st);
}

int
main(void)
{
	int abi = sandbox_landlock_abi();

	if (config_defaults(&cfg) == -1 || mkdtemp(dir) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1) {
		printf("not ok - setup: %s\n", strerror(errno));
		return 1;
	}
	free(cfg.auth_dir);
	cfg.auth_dir = strdup(dir);

	{
		char why[256] = "";
		size_t len = 0;

		CHECK("seccomp: the program's verdicts are the table's",
		    sandbox_seccomp_selftest(why, sizeof why, &len) == 0);
		if (why[0])
			printf("# %s\n", why);
		else
			printf("# seccomp program: %zu instructions\n", len);
	}
	CHECK("seccomp: AF_NETLINK socket refused",
	    sandboxed(SANDBOX_AUTO, T_NETLINK) == EPERM);
	CHECK("seccomp: AF_INET socket allowed",
	    sandboxed(SANDBOX_AUTO, T_INET) == 0);
	CHECK("seccomp: ioctl TIOCSTI refused",
	    sandboxed(SANDBOX_AUTO, T_TIOCSTI) == EPERM);
	CHECK("seccomp: ioctl FIONREAD allowed",
	    sandboxed(SANDBOX_AUTO, T_FIONREAD) == 0);
	CHECK("seccomp: setsid not on the list: EPERM",
	    sandboxed(SANDBOX_AUTO, T_SETSID) == EPERM);
	CHECK("seccomp: execve kills with SIGSYS",
	    sandboxed(SANDBOX_AUTO, T_EXEC) == 1000 + SIGSYS);
	CHECK("seccomp: a number past the table: EPERM",
	    sandboxed(SANDBOX_AUTO, T_HIGHNR) == EPERM);
	CHECK("seccomp: getpid allowed",
	    sandboxed(SANDBOX_AUTO, T_GETPID) == 0);
	CHECK("seccomp: AF_INET6 socket allowed",
	    sandboxed(SANDBOX_AUTO, T_INET6) == 0);
#if defined(__x86_64__)
	CHECK("seccomp: an x32 call kills with SIGSYS",
	    sandboxed(SANDBOX_AUTO, T_X32) == 1000 + SIGSYS);
#endif
	CHECK("off: setsid works", sandboxed(SANDBOX_OFF, T_SETSID) == 0);
	CHECK("auth-dir writable", sandboxed(SANDBOX_AUTO, T_AUTHDIR) == 0);
	if (abi >= 1)
		CHECK("landlock: /etc/passwd refused",
		    sandboxed(SANDBOX_AUTO, T_PASSWD) == EACCES);
	else
		printf("skipped: landlock: /etc/passwd refused (no Landlock "
		    "in this kernel)\n");
	CHECK("off: /etc/passwd readable",
	    sandboxed(SANDBOX_OFF, T_PASSWD) == 0);
	rmdir(dir);
	config_free(&cfg);
	return UNIT_END();
}
