/* sandbox: each case runs in a child that applies the sandbox, then makes
 * one system call; the child's exit status says what happened. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "sandbox.h"
#include "sandbox_int.h"
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

#ifdef SB_AUDIT_ARCH
/*
 * The seccomp program run on (arch, nr, args) as the kernel would, and
 * compared with what the table says: every number below 1024, the x32
 * ones and each argument-checked entry with its values and one not
 * listed. A classic BPF interpreter for the few instructions the program
 * uses.
 */
static uint32_t
bpf_run(const struct sock_filter *f, size_t n, const struct seccomp_data *d)
{
	uint32_t a = 0;
	size_t pc;

	for (pc = 0; pc < n; pc++) {
		const struct sock_filter *i = &f[pc];

		switch (i->code) {
		case BPF_LD | BPF_W | BPF_ABS: {
			uint32_t w;

			if (i->k > sizeof *d - sizeof w)
				return 0xffffffffU;
			memcpy(&w, (const char *)d + i->k, sizeof w);
			a = w;
			break;
		}
		case BPF_JMP | BPF_JEQ | BPF_K:
			pc += a == i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JGE | BPF_K:
			pc += a >= i->k ? i->jt : i->jf;
			break;
		case BPF_JMP | BPF_JA:
			pc += i->k;
			break;
		case BPF_RET | BPF_K:
			return i->k;
		default:
			return 0xffffffffU;
		}
	}
	return 0xffffffffU;     /* ran off the end */
}

/* What the table says, looked up in a line. */
static uint32_t
table_verdict(const struct seccomp_data *d)
{
	const struct sandbox_syscall *t;
	size_t i, nt;
	int v;

	t = sandbox_seccomp_table(&nt);
	for (i = 0; i < nt; i++) {
		const struct sandbox_syscall *e = &t[i];

		if ((uint32_t)e->nr != (uint32_t)d->nr)
			continue;
		if (e->action == SB_ALLOW)
			return SECCOMP_RET_ALLOW;
		if (e->action == SB_KILL)
			return SECCOMP_RET_KILL_PROCESS;
		for (v = 0; v < 3 && e->vals[v] != 0; v++)
			if ((uint32_t)d->args[e->arg] == e->vals[v])
				return SECCOMP_RET_ALLOW;
		return SECCOMP_RET_ERRNO | EPERM;
	}
	return SECCOMP_RET_ERRNO | EPERM;
}

/* Each argument-checked entry with each of its values, then one that is
 * not. 0, or -1 with why set. */
static int
selftest_args(const struct sock_filter *f, size_t n, char *why,
    size_t whylen)
{
	const struct sandbox_syscall *t;
	struct seccomp_data d;
	uint32_t got, want;
	size_t i, nt;
	int v;

	t = sandbox_seccomp_table(&nt);
	memset(&d, 0, sizeof d);
	d.arch = SB_AUDIT_ARCH;
	for (i = 0; i < nt; i++) {
		const struct sandbox_syscall *e = &t[i];

		if (e->action != SB_ARG)
			continue;
		d.nr = e->nr;
		for (v = 0; v <= 3; v++) {
			memset(d.args, 0, sizeof d.args);
			d.args[e->arg] = v < 3 && e->vals[v] ? e->vals[v] :
			    0x7fff1234U;
			if ((got = bpf_run(f, n, &d)) !=
			    (want = table_verdict(&d))) {
				snprintf(why, whylen, "system call %d arg "
				    "%d = %#llx: %#x, the table says %#x",
				    e->nr, e->arg,
				    (unsigned long long)d.args[e->arg], got,
				    want);
				return -1;
			}
		}
	}
	return 0;
}

/* The program built afresh is the one a filter installs, and its verdicts
 * are the table's. 0 with its length in *len, or -1 with why set on the
 * first that is not. */
static int
seccomp_selftest(char *why, size_t whylen, size_t *len)
{
	struct sock_filter f[SB_PROG_MAX];
	const struct sock_filter *built;
	struct seccomp_data d;
	uint32_t got, want;
	size_t n, blen;
	int nr;

	if ((n = sandbox_seccomp_program(f, why, whylen)) == 0)
		return -1;
	*len = n;
	built = sandbox_seccomp_built(&blen);
	if (blen != n || memcmp(built, f, n * sizeof f[0]) != 0) {
		snprintf(why, whylen, "the program a filter installs (%zu "
		    "instructions) is not this one (%zu)", blen, n);
		return -1;
	}
	memset(&d, 0, sizeof d);
	d.arch = SB_AUDIT_ARCH ^ 1;
	if ((got = bpf_run(f, n, &d)) != SECCOMP_RET_KILL_PROCESS) {
		snprintf(why, whylen, "another arch: %#x", got);
		return -1;
	}
	d.arch = SB_AUDIT_ARCH;
	for (nr = 0; nr < 1024; nr++) {
		d.nr = nr;
		if ((got = bpf_run(f, n, &d)) != (want = table_verdict(&d))) {
			snprintf(why, whylen, "system call %d: %#x, the table "
			    "says %#x", nr, got, want);
			return -1;
		}
#if defined(__x86_64__)
		d.nr = nr | 0x40000000;
		if ((got = bpf_run(f, n, &d)) != SECCOMP_RET_KILL_PROCESS) {
			snprintf(why, whylen, "x32 call %d: %#x", nr, got);
			return -1;
		}
#endif
	}
	return selftest_args(f, n, why, whylen);
}
#else
static int
seccomp_selftest(char *why, size_t whylen, size_t *len)
{
	(void)len;
	snprintf(why, whylen, "no system call table for this architecture");
	return -1;
}
#endif

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
		    seccomp_selftest(why, sizeof why, &len) == 0);
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
