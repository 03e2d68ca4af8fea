/* sandbox: each case runs in a child that applies the sandbox, then makes
 * one system call; the child's exit status says what happened. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/if_ether.h>
#include <netinet/in.h>

#include "commands/sandbox.h"
#include "commands/sandbox_int.h"
#include "parsers/config.h"
#include "unit.h"

static struct config cfg;
static int sp[2] = { -1, -1 };
static char dir[] = "/tmp/cpa-sandbox-unit-XXXXXX";

enum { T_NETLINK, T_INET, T_TIOCSTI, T_FIONREAD, T_SETSID, T_EXEC,
    T_AUTHDIR, T_PASSWD, T_HIGHNR, T_X32, T_GETPID, T_INET6, T_UDP, T_RAW,
    T_PACKET, T_UNIX, T_UNIX_DGRAM, T_MMAP_WX, T_MPROTECT_WX, T_MMAP_RX,
    T_EXEC_GAIN };

/* A page mapped writable, written, then given prot: the errno, 0 when
 * it worked. */
static int
reprotect(int prot)
{
	char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE |
	    MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return errno;
	p[0] = (char)0xc3;
	return mprotect(p, 4096, prot) == -1 ? errno : 0;
}

static int
map(int prot)
{
	return mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) ==
	    MAP_FAILED ? errno : 0;
}

static int
sock(int domain, int type, int protocol)
{
	return socket(domain, type, protocol) == -1 ? errno : 0;
}

/* The errno of the attempt, 0 when it worked. */
static int
attempt(int what)
{
	char path[200], c;
	int fd, n;

	switch (what) {
	case T_NETLINK:
		return sock(AF_NETLINK, SOCK_RAW, 0);
	case T_INET:
		return sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, IPPROTO_TCP);
	case T_UDP:
		return sock(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	case T_RAW:
		return sock(AF_INET, SOCK_RAW, IPPROTO_ICMP);
	case T_PACKET:
		return sock(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	case T_UNIX:
		return sock(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	case T_UNIX_DGRAM:
		return sock(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	case T_MMAP_WX:
		return map(PROT_READ | PROT_WRITE | PROT_EXEC);
	case T_MMAP_RX:
		return map(PROT_READ | PROT_EXEC);
	case T_MPROTECT_WX:
		return reprotect(PROT_READ | PROT_WRITE | PROT_EXEC);
	case T_EXEC_GAIN:
		return reprotect(PROT_READ | PROT_EXEC);
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
		fd = socket(AF_INET6, SOCK_STREAM, 0);
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
		case BPF_ALU | BPF_AND | BPF_K:
			a &= i->k;
			break;
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

/* Every condition of an argument-checked entry holds (none: nothing
 * does). */
static int
args_hold(const struct sandbox_syscall *e, const struct seccomp_data *d)
{
	int k, v, ok;

	if (e->args[0].nvals == 0)
		return 0;
	for (k = 0; k < 3 && e->args[k].nvals > 0; k++) {
		const struct sandbox_arg *a = &e->args[k];
		uint32_t w = (uint32_t)d->args[a->arg] & a->mask;

		for (ok = 0, v = 0; v < a->nvals; v++)
			ok |= w == a->vals[v];
		if (!ok)
			return 0;
	}
	return 1;
}

/* The entry is in program udp. */
static int
in_program(const struct sandbox_syscall *e, int udp)
{
	return e->only != (udp ? SB_ONLY_TCP : SB_ONLY_UDP);
}

/* What the table of program udp says, looked up in a line. */
static uint32_t
table_verdict(const struct seccomp_data *d, int udp)
{
	const struct sandbox_syscall *t;
	size_t i, nt;

	t = sandbox_seccomp_table(&nt);
	for (i = 0; i < nt; i++) {
		const struct sandbox_syscall *e = &t[i];

		if ((uint32_t)e->nr != (uint32_t)d->nr || !in_program(e, udp))
			continue;
		if (e->action == SB_ALLOW)
			return SECCOMP_RET_ALLOW;
		if (e->action == SB_KILL)
			return SECCOMP_RET_KILL_PROCESS;
		return args_hold(e, d) ? SECCOMP_RET_ALLOW :
		    SECCOMP_RET_ERRNO | EPERM;
	}
	return SECCOMP_RET_ERRNO | EPERM;
}

/* The program's verdict on d against the table's. 0, or -1 with why
 * set. */
static int
same_verdict(const struct sock_filter *f, size_t n, int udp,
    const struct seccomp_data *d, char *why, size_t whylen)
{
	uint32_t got, want;

	if ((got = bpf_run(f, n, d)) == (want = table_verdict(d, udp)))
		return 0;
	snprintf(why, whylen, "system call %d (%#llx, %#llx, %#llx): %#x, the "
	    "table says %#x", d->nr, (unsigned long long)d->args[0],
	    (unsigned long long)d->args[1], (unsigned long long)d->args[2],
	    got, want);
	return -1;
}

/* A word that the condition's mask does not turn into one of its values. */
static uint32_t
unlisted(const struct sandbox_arg *a)
{
	uint32_t u;
	int v, hit;

	for (u = 0x7fff1234U;; u++) {
		for (hit = 0, v = 0; v < a->nvals; v++)
			hit |= (u & a->mask) == a->vals[v];
		if (!hit)
			return u;
	}
}

/*
 * Each argument-checked entry with its conditions at their first values,
 * then each condition in turn at each of its values, with the bits its
 * mask ignores set, with the upper half of the word set, and at a value
 * not listed. 0, or -1 with why set.
 */
static int
selftest_args(const struct sock_filter *f, size_t n, int udp, char *why,
    size_t whylen)
{
	const struct sandbox_syscall *t;
	struct seccomp_data d, base;
	size_t i, nt;
	int k, v;

	t = sandbox_seccomp_table(&nt);
	memset(&base, 0, sizeof base);
	base.arch = SB_AUDIT_ARCH;
	for (i = 0; i < nt; i++) {
		const struct sandbox_syscall *e = &t[i];

		if (e->action != SB_ARG || !in_program(e, udp))
			continue;
		base.nr = e->nr;
		memset(base.args, 0, sizeof base.args);
		for (k = 0; k < 3 && e->args[k].nvals > 0; k++)
			base.args[e->args[k].arg] = e->args[k].vals[0];
		if (same_verdict(f, n, udp, &base, why, whylen) == -1)
			return -1;
		for (k = 0; k < 3 && e->args[k].nvals > 0; k++) {
			const struct sandbox_arg *a = &e->args[k];

			d = base;
			for (v = 0; v <= a->nvals + 2; v++) {
				d.args[a->arg] = v < a->nvals ? a->vals[v] :
				    v == a->nvals ? (a->vals[0] | ~a->mask) :
				    v == a->nvals + 1 ? (a->vals[0] |
				    0x100000000ULL) : unlisted(a);
				if (same_verdict(f, n, udp, &d, why,
				    whylen) == -1)
					return -1;
			}
		}
	}
	return 0;
}

/* Program udp built afresh is the one a filter installs, and its verdicts
 * are the table's. 0 with its length in *len, or -1 with why set on the
 * first that is not. */
static int
seccomp_selftest(int udp, char *why, size_t whylen, size_t *len)
{
	struct sock_filter f[SB_PROG_MAX];
	const struct sock_filter *built;
	struct seccomp_data d;
	uint32_t got, want;
	size_t n, blen;
	int nr;

	if ((n = sandbox_seccomp_program(f, udp, why, whylen)) == 0)
		return -1;
	*len = n;
	built = sandbox_seccomp_built(udp, &blen);
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
		if ((got = bpf_run(f, n, &d)) !=
		    (want = table_verdict(&d, udp))) {
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
	return selftest_args(f, n, udp, why, whylen);
}

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif
#define SOCK_FLAGS (SOCK_NONBLOCK | SOCK_CLOEXEC)
#define ALLOWED SECCOMP_RET_ALLOW
#define REFUSED (SECCOMP_RET_ERRNO | EPERM)
#define RW (PROT_READ | PROT_WRITE)
#define RX (PROT_READ | PROT_EXEC)
#define RWX (PROT_READ | PROT_WRITE | PROT_EXEC)

/* What the argument checks are for, through the program: the sockets a
 * filter makes (TCP over IPv4 and IPv6) and the memory it maps. */
static const struct {
	const char *what;
	int nr;
	uint64_t a0, a1, a2;
	uint32_t want;          /* in the program without UDP */
	uint32_t want_udp;      /* in the one with */
} intents[] = {
	{ "socket AF_INET TCP with flags", __NR_socket, AF_INET,
	    SOCK_STREAM | SOCK_FLAGS, IPPROTO_TCP, ALLOWED, ALLOWED },
	{ "socket AF_INET6 stream 0", __NR_socket, AF_INET6, SOCK_STREAM, 0,
	    ALLOWED, ALLOWED },
	{ "socket AF_INET UDP", __NR_socket, AF_INET, SOCK_DGRAM, 0,
	    REFUSED, ALLOWED },
	{ "socket AF_INET6 UDP with flags", __NR_socket, AF_INET6,
	    SOCK_DGRAM | SOCK_FLAGS, IPPROTO_UDP, REFUSED, ALLOWED },
	{ "socket AF_INET raw", __NR_socket, AF_INET, SOCK_RAW, IPPROTO_ICMP,
	    REFUSED, REFUSED },
	{ "socket AF_INET6 raw", __NR_socket, AF_INET6, SOCK_RAW, IPPROTO_RAW,
	    REFUSED, REFUSED },
	{ "socket AF_INET stream MPTCP", __NR_socket, AF_INET, SOCK_STREAM,
	    IPPROTO_MPTCP, REFUSED, REFUSED },
	{ "socket AF_INET stream SCTP", __NR_socket, AF_INET, SOCK_STREAM,
	    IPPROTO_SCTP, REFUSED, REFUSED },
	{ "socket AF_INET seqpacket", __NR_socket, AF_INET, SOCK_SEQPACKET, 0,
	    REFUSED, REFUSED },
	{ "socket AF_UNIX stream", __NR_socket, AF_UNIX, SOCK_STREAM, 0,
	    REFUSED, REFUSED },
	{ "socket AF_UNIX datagram", __NR_socket, AF_UNIX,
	    SOCK_DGRAM | SOCK_CLOEXEC, 0, REFUSED, REFUSED },
	{ "socket AF_PACKET", __NR_socket, AF_PACKET, SOCK_RAW, 0x0300,
	    REFUSED, REFUSED },
	{ "socket AF_NETLINK", __NR_socket, AF_NETLINK, SOCK_RAW, 0, REFUSED,
	    REFUSED },
	{ "mmap read-write", __NR_mmap, 0, 4096, RW, ALLOWED, ALLOWED },
	{ "mmap read-exec", __NR_mmap, 0, 4096, RX, ALLOWED, ALLOWED },
	{ "mmap none", __NR_mmap, 0, 4096, PROT_NONE, ALLOWED, ALLOWED },
	{ "mmap write-exec", __NR_mmap, 0, 4096, PROT_WRITE | PROT_EXEC,
	    REFUSED, REFUSED },
	{ "mmap read-write-exec", __NR_mmap, 0, 4096, RWX, REFUSED, REFUSED },
	{ "mmap read-write-exec, upper bits", __NR_mmap, 0, 4096,
	    RWX | 0xff00000000ULL, REFUSED, REFUSED },
	{ "mprotect read-write", __NR_mprotect, 0, 4096, RW, ALLOWED,
	    ALLOWED },
	{ "mprotect read-exec", __NR_mprotect, 0, 4096, RX, ALLOWED,
	    ALLOWED },
	{ "mprotect read-write-exec", __NR_mprotect, 0, 4096, RWX, REFUSED,
	    REFUSED },
	{ "mprotect write-exec, grows down", __NR_mprotect, 0, 4096,
	    PROT_WRITE | PROT_EXEC | PROT_GROWSDOWN, REFUSED, REFUSED },
	{ "pkey_mprotect not on the list", __NR_pkey_mprotect, 0, 4096,
	    PROT_READ, REFUSED, REFUSED },
	{ "ioctl FIONREAD", __NR_ioctl, 0, FIONREAD, 0, ALLOWED, ALLOWED },
	{ "ioctl TIOCSTI", __NR_ioctl, 0, TIOCSTI, 0, REFUSED, REFUSED },
};

static void
check_intents(int udp)
{
	struct sock_filter f[SB_PROG_MAX];
	struct seccomp_data d;
	char name[160], why[256];
	size_t i, n;
	uint32_t want;

	n = sandbox_seccomp_program(f, udp, why, sizeof why);
	for (i = 0; i < sizeof intents / sizeof intents[0]; i++) {
		want = udp ? intents[i].want_udp : intents[i].want;
		memset(&d, 0, sizeof d);
		d.arch = SB_AUDIT_ARCH;
		d.nr = intents[i].nr;
		d.args[0] = intents[i].a0;
		d.args[1] = intents[i].a1;
		d.args[2] = intents[i].a2;
		snprintf(name, sizeof name, "seccomp verdict%s: %s %s",
		    udp ? " (resolver over UDP)" : "", intents[i].what,
		    want == ALLOWED ? "allowed" : "refused");
		CHECK(name, n > 0 && bpf_run(f, n, &d) == want);
	}
}
#else
static void
check_intents(int udp)
{
	(void)udp;
}

static int
seccomp_selftest(int udp, char *why, size_t whylen, size_t *len)
{
	(void)udp;
	(void)len;
	snprintf(why, whylen, "no system call table for this architecture");
	return -1;
}
#endif

/* The resolver's transport in the children: RES_OPTIONS "use-vc" (TCP,
 * no UDP socket for the filter) unless this is set. */
static int resolver_udp;

/* Exit status of the attempt in a sandboxed child, or 1000 + signal. */
static int
sandboxed(int mode, int what)
{
	pid_t pid;
	int st;

	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (resolver_udp)
			unsetenv("RES_OPTIONS");
		else
			setenv("RES_OPTIONS", "use-vc", 1);
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
	int abi = sandbox_landlock_abi(), udp;

	if (config_defaults(&cfg) == -1 || mkdtemp(dir) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1) {
		printf("not ok - setup: %s\n", strerror(errno));
		return 1;
	}
	free(cfg.auth_dir);
	cfg.auth_dir = strdup(dir);

	for (udp = 0; udp < 2; udp++) {
		char why[256] = "";
		size_t len = 0;

		CHECK(udp ? "seccomp: the verdicts of the program with UDP "
		    "are the table's" : "seccomp: the program's verdicts are "
		    "the table's", seccomp_selftest(udp, why, sizeof why,
		    &len) == 0);
		if (why[0])
			printf("# %s\n", why);
		else
			printf("# seccomp program%s: %zu instructions\n",
			    udp ? " with UDP" : "", len);
		check_intents(udp);
	}
	CHECK("seccomp: AF_NETLINK socket refused",
	    sandboxed(SANDBOX_AUTO, T_NETLINK) == EPERM);
	CHECK("seccomp: UDP socket refused",
	    sandboxed(SANDBOX_AUTO, T_UDP) == EPERM);
	resolver_udp = 1;
	CHECK("seccomp: UDP socket allowed where the resolver asks over UDP",
	    sandboxed(SANDBOX_AUTO, T_UDP) == 0);
	CHECK("seccomp: raw socket refused where UDP is allowed",
	    sandboxed(SANDBOX_AUTO, T_RAW) == EPERM);
	resolver_udp = 0;
	/* As root the kernel would allow these: only seccomp refuses. */
	CHECK("seccomp: raw socket refused",
	    sandboxed(SANDBOX_AUTO, T_RAW) == EPERM);
	CHECK("seccomp: AF_PACKET socket refused",
	    sandboxed(SANDBOX_AUTO, T_PACKET) == EPERM);
	CHECK("seccomp: Unix stream socket refused",
	    sandboxed(SANDBOX_AUTO, T_UNIX) == EPERM);
	CHECK("seccomp: Unix datagram socket refused",
	    sandboxed(SANDBOX_AUTO, T_UNIX_DGRAM) == EPERM);
	CHECK("seccomp: mmap writable and executable refused",
	    sandboxed(SANDBOX_AUTO, T_MMAP_WX) == EPERM);
	CHECK("seccomp: mprotect writable and executable refused",
	    sandboxed(SANDBOX_AUTO, T_MPROTECT_WX) == EPERM);
	CHECK("seccomp: mmap read and exec allowed",
	    sandboxed(SANDBOX_AUTO, T_MMAP_RX) == 0);
	if (prctl(PR_GET_MDWE, 0, 0, 0, 0) >= 0)
		CHECK("mdwe: written memory made executable refused",
		    sandboxed(SANDBOX_AUTO, T_EXEC_GAIN) == EACCES);
	else
		printf("skipped: mdwe: written memory made executable "
		    "refused (no PR_SET_MDWE in this kernel)\n");
	CHECK("off: written memory made executable",
	    sandboxed(SANDBOX_OFF, T_EXEC_GAIN) == 0);
	CHECK("off: raw socket as root, or EPERM from the kernel",
	    geteuid() != 0 || sandboxed(SANDBOX_OFF, T_RAW) == 0);
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
