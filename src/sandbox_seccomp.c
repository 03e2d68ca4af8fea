/*
 * The filter's seccomp-bpf allow-list: the system calls a filter makes,
 * EPERM for anything else and death for the calls that can only mean an
 * attacker is at work. No libseccomp: the BPF program is built here from
 * one table.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <netinet/in.h>

#include "sandbox_int.h"

#define NONE		{ 0, 0, 0, { 0, 0, 0 } }
#define ALLOW(name)	{ __NR_##name, SB_ALLOW, 0, { NONE, NONE, NONE } }
#define KILL(name)	{ __NR_##name, SB_KILL, 0, { NONE, NONE, NONE } }
/* Allowed when each condition holds: IS(argument, mask, count, values). */
#define ARGS(name, a, b, c) { __NR_##name, SB_ARG, 0, { a, b, c } }
#define ONLY(only, name, a, b, c) { __NR_##name, SB_ARG, only, { a, b, c } }
#define IS(arg, mask, n, ...) { arg, mask, n, { __VA_ARGS__ } }

/* socket()'s type without the flags a filter sets. */
#define SOCK_KIND	((uint32_t)~(SOCK_NONBLOCK | SOCK_CLOEXEC))
/* mmap() and mprotect(): anything but writable and executable at once. */
#define NOT_WX		IS(2, PROT_WRITE | PROT_EXEC, 3, 0, PROT_WRITE, \
    PROT_EXEC)

/*
 * The system calls of a filter, found with strace -f over the test suite
 * and, for what strace cannot follow (LeakSanitizer's untraced clone), with
 * the default action set to SECCOMP_RET_LOG and the kernel log read after a
 * run of the suite, normal and SANITIZE builds. Whatever is not here fails
 * with EPERM;
 * SB_KILL ends the process with SIGSYS, for calls a proxy never makes
 * unless someone else is driving it.
 */
static const struct sandbox_syscall syscalls[] = {
	/* Reading and writing the client, upstream and files. */
	ALLOW(read),
	ALLOW(write),
	ALLOW(readv),
	ALLOW(writev),
	ALLOW(pread64),
	ALLOW(lseek),
	ALLOW(close),
	ALLOW(fcntl),
	ALLOW(ppoll),
#ifdef __NR_poll
	ALLOW(poll),
#endif
	/* glibc's DNS client sizes a UDP answer with FIONREAD; stdio asks
	 * isatty (TCGETS). Nothing else: no TIOCSTI and the like. */
	ARGS(ioctl, IS(1, SB_ANY, 2, FIONREAD, TCGETS), NONE, NONE),
	/*
	 * Upstream connections: TCP sockets, and UDP ones where the resolver
	 * needs them (sandbox_udp). socket() is the one place a kind of
	 * socket can be refused, connect()'s address being out of seccomp's
	 * reach: no Unix socket (Landlock does not cover connecting to one:
	 * D-Bus, ssh-agent, docker.sock; syslog's is opened before), no raw,
	 * packet or netlink socket, and no MPTCP or SCTP (Landlock's port
	 * rules are for TCP alone). A mismatched type and protocol (UDP
	 * stream) the kernel refuses itself.
	 */
	ONLY(SB_ONLY_TCP, socket, IS(0, SB_ANY, 2, AF_INET, AF_INET6),
	    IS(1, SOCK_KIND, 1, SOCK_STREAM), IS(2, SB_ANY, 2, 0, IPPROTO_TCP)),
	ONLY(SB_ONLY_UDP, socket, IS(0, SB_ANY, 2, AF_INET, AF_INET6),
	    IS(1, SOCK_KIND, 2, SOCK_STREAM, SOCK_DGRAM),
	    IS(2, SB_ANY, 3, 0, IPPROTO_TCP, IPPROTO_UDP)),
	ALLOW(connect),
	ALLOW(sendto),
	ALLOW(sendmsg),
	ALLOW(sendmmsg),
	ALLOW(recvfrom),
	ALLOW(recvmsg),
	ALLOW(shutdown),
	ALLOW(setsockopt),
	ALLOW(getsockopt),
	ALLOW(getsockname),
	ALLOW(getpeername),
	/* Files in auth-dir (tokens, state, usage, TLS sessions: flock,
	 * temp file, fsync, rename), ca-file, resolver files. */
	ALLOW(openat),
	ALLOW(newfstatat),
	ALLOW(fstat),
	ALLOW(statx),
	ALLOW(faccessat),
	ALLOW(faccessat2),
	ALLOW(getdents64),
	ALLOW(flock),
	ALLOW(fsync),
	ALLOW(fdatasync),
	ALLOW(ftruncate),
	ALLOW(renameat),
	ALLOW(renameat2),
	ALLOW(unlinkat),
	ALLOW(mkdirat),
#ifdef __NR_open
	ALLOW(open),
	ALLOW(stat),
	ALLOW(lstat),
	ALLOW(access),
	ALLOW(rename),
	ALLOW(unlink),
	ALLOW(mkdir),
#endif
	/* Memory: malloc, and dlopen of NSS modules by getaddrinfo. Never
	 * writable and executable at once (and, where the kernel has
	 * PR_SET_MDWE, never executable after written: sandbox.c);
	 * pkey_mprotect is not on the list. */
	ALLOW(brk),
	ARGS(mmap, NOT_WX, NONE, NONE),
	ALLOW(munmap),
	ALLOW(mremap),
	ARGS(mprotect, NOT_WX, NONE, NONE),
	ALLOW(madvise),
	/* Time, randomness (BearSSL's seeder, Codex session ids). */
	ALLOW(clock_gettime),
	ALLOW(gettimeofday),
	ALLOW(clock_nanosleep),
	ALLOW(nanosleep),
	ALLOW(getrandom),
	/* The process itself: signals, identity, locks, the end. */
	ALLOW(rt_sigaction),
	ALLOW(rt_sigprocmask),
	ALLOW(rt_sigreturn),
	ALLOW(restart_syscall),
	ALLOW(getpid),
	ALLOW(gettid),
	ALLOW(getuid),
	ALLOW(geteuid),
	ALLOW(getgid),
	ALLOW(getegid),
	ALLOW(uname),
	ALLOW(futex),
	ALLOW(tgkill),      /* abort() */
	ALLOW(exit),
	ALLOW(exit_group),
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
	/* ASan and UBSan reports, LeakSanitizer's check at exit (a tracer
	 * clone that ptraces its parent): SANITIZE test builds only. */
	ALLOW(sigaltstack),
	ALLOW(prctl),
	ALLOW(sched_yield),
	ALLOW(readlinkat),
#ifdef __NR_readlink
	ALLOW(readlink),
	ALLOW(getdents),
#endif
	ALLOW(clone),
	ALLOW(wait4),
	ALLOW(ptrace),
	ALLOW(prlimit64),
	ALLOW(getppid),
	ALLOW(sched_getaffinity),
#else
	KILL(ptrace),
#endif
	/* Never by a proxy: running programs, reading other processes,
	 * changing the system or escaping the sandbox. */
	KILL(execve),
	KILL(execveat),
	KILL(process_vm_readv),
	KILL(process_vm_writev),
	KILL(mount),
	KILL(umount2),
	KILL(pivot_root),
	KILL(chroot),
	KILL(unshare),
	KILL(setns),
	KILL(bpf),
	KILL(perf_event_open),
	KILL(kexec_load),
#ifdef __NR_kexec_file_load
	KILL(kexec_file_load),
#endif
	KILL(init_module),
	KILL(finit_module),
	KILL(delete_module),
	KILL(keyctl),
	KILL(add_key),
	KILL(request_key),
	KILL(swapon),
	KILL(swapoff),
	KILL(reboot),
	KILL(open_by_handle_at),
#ifdef __NR_fsopen
	KILL(fsopen),
	KILL(fsmount),
	KILL(move_mount),
	KILL(open_tree),
#endif
#ifdef __NR_userfaultfd
	KILL(userfaultfd),
#endif
#ifdef __NR_iopl
	KILL(iopl),
	KILL(ioperm),
#endif
};

#define NSYSCALLS (sizeof syscalls / sizeof syscalls[0])

/*
 * The program: the arch check, then a binary search on the system call
 * number. The table above is grouped by purpose; here it is sorted by
 * number and cut into runs of consecutive numbers with the same outcome
 * (a gap between entries is a run of EPERM), and the runs are the leaves
 * of a balanced tree of "nr >= k" tests that jump straight to one of
 * three shared returns at the end; only the argument-checked calls have
 * code of their own at their leaf. A call passes about log2(runs) tests,
 * not the whole table walked in a line.
 *
 * Installing the filter is what this saves most, once per connection:
 * the kernel copies the program, translates it to eBPF and compiles it
 * (about half a microsecond an instruction), then, with interrupts off,
 * runs it for every system call number to find those it may always allow
 * without running it (its action cache). The table as a chain of 222
 * tests cost 0.32 ms there; this program, some 140 instructions and a dozen
 * steps a run, about 0.1 ms.
 */
struct run {
	uint32_t lo;            /* first number; ends where the next begins */
	int action;             /* SB_ALLOW, SB_KILL, SB_ARG; 0: EPERM */
	const struct sandbox_syscall *e; /* SB_ARG: the entry, one number */
};

/* A run per entry and one per gap, and x32's. */
#define MAX_RUNS (2 * NSYSCALLS + 2)

/* The shared returns, in this order after the tree. */
enum { RET_EPERM, RET_ALLOW, RET_KILL, NRETS };

#define STMT(c, k)		((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f) \
	((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))

static int
sc_cmp(const void *a, const void *b)
{
	const struct sandbox_syscall *x, *y;

	x = *(const struct sandbox_syscall *const *)a;
	y = *(const struct sandbox_syscall *const *)b;

	return (x->nr > y->nr) - (x->nr < y->nr);
}

static void
add_run(struct run *r, size_t *n, uint32_t lo, int action,
    const struct sandbox_syscall *e)
{
	if (*n > 0 && action != SB_ARG && r[*n - 1].action == action)
		return;         /* the run before goes on */
	r[*n].lo = lo;
	r[*n].action = action;
	r[*n].e = e;
	(*n)++;
}

/* The table of program udp as runs covering every number from 0 up, in
 * r; their count, or 0 when a number is in it twice (*dup set to it). */
static size_t
sc_runs(struct run *r, int udp, int *dup)
{
	const struct sandbox_syscall *by_nr[NSYSCALLS];
	uint32_t next = 0;
	size_t i, n = 0, ne = 0;

	for (i = 0; i < NSYSCALLS; i++)
		if (syscalls[i].only != (udp ? SB_ONLY_TCP : SB_ONLY_UDP))
			by_nr[ne++] = &syscalls[i];
	qsort(by_nr, ne, sizeof by_nr[0], sc_cmp);
	for (i = 0; i < ne; i++) {
		const struct sandbox_syscall *e = by_nr[i];

		if (i > 0 && e->nr == by_nr[i - 1]->nr) {
			*dup = e->nr;
			return 0;
		}
		if ((uint32_t)e->nr > next)
			add_run(r, &n, next, 0, NULL);
		/* An argument check with no conditions allows nothing. */
		add_run(r, &n, (uint32_t)e->nr, e->action == SB_ARG &&
		    e->args[0].nvals == 0 ? 0 : e->action, e);
		next = (uint32_t)e->nr + 1;
	}
	add_run(r, &n, next, 0, NULL);
#if defined(__x86_64__)
	/* x32 numbers alias ours with a bit set: not for us. */
	add_run(r, &n, 0x40000000U, SB_KILL, NULL);
#endif
	return n;
}

/* The offset of a jump at pc to shared return ret; rets is where they
 * start. */
static unsigned char
to_ret(size_t pc, size_t rets, int ret)
{
	return (unsigned char)(rets + (size_t)ret - pc - 1);
}

/* The shared return of a run's action (not SB_ARG). */
static int
ret_of(int action)
{
	return action == SB_ALLOW ? RET_ALLOW : action == SB_KILL ? RET_KILL :
	    RET_EPERM;
}

/*
 * The code of an argument-checked entry at pc: for each condition, load
 * the argument, mask it, compare it with each value; a miss anywhere is
 * EPERM, a match of the last condition the allow. Returns the pc after
 * it; f NULL: only that.
 */
static size_t
emit_args(struct sock_filter *f, size_t pc, size_t rets,
    const struct sandbox_syscall *e)
{
	const struct sandbox_arg *a;
	unsigned char jt, jf;
	int k, v, nc;

	for (nc = 0; nc < 3 && e->args[nc].nvals > 0; nc++)
		;
	for (k = 0; k < nc; k++) {
		a = &e->args[k];
		if (f)
			f[pc] = STMT(BPF_LD | BPF_W | BPF_ABS,
			    offsetof(struct seccomp_data, args[a->arg]));
		pc++;
		if (a->mask != SB_ANY) {
			if (f)
				f[pc] = STMT(BPF_ALU | BPF_AND | BPF_K,
				    a->mask);
			pc++;
		}
		for (v = 0; v < a->nvals; v++, pc++) {
			/* A match goes on to the next condition's load. */
			jt = k + 1 < nc ? (unsigned char)(a->nvals - v - 1) :
			    to_ret(pc, rets, RET_ALLOW);
			jf = v + 1 < a->nvals ? 0 : to_ret(pc, rets,
			    RET_EPERM);
			if (f)
				f[pc] = JUMP(BPF_JMP | BPF_JEQ | BPF_K,
				    a->vals[v], jt, jf);
		}
	}
	return pc;
}

/*
 * The code for runs r[0..n) at pc: "nr >= r[n/2].lo" to the right half,
 * else the left; a half that is one run without an argument check is a
 * jump to its shared return, else its code follows, the left half's
 * first. Returns the pc after it; f NULL: only that.
 */
static size_t
emit_tree(struct sock_filter *f, size_t pc, size_t rets, const struct run *r,
    size_t n)
{
	size_t h = n / 2, node = pc;
	unsigned char jt, jf;

	if (n == 1 && r->action == SB_ARG)
		return emit_args(f, pc, rets, r->e);
	if (n == 1) {           /* the whole table one run: no test */
		if (f)
			f[pc] = STMT(BPF_JMP | BPF_JA,
			    (uint32_t)to_ret(pc, rets, ret_of(r->action)));
		return pc + 1;
	}
	pc++;
	if (h == 1 && r[0].action != SB_ARG)
		jf = to_ret(node, rets, ret_of(r[0].action));
	else {
		jf = 0;
		pc = emit_tree(f, pc, rets, r, h);
	}
	if (n - h == 1 && r[h].action != SB_ARG)
		jt = to_ret(node, rets, ret_of(r[h].action));
	else {
		jt = (unsigned char)(pc - node - 1);
		pc = emit_tree(f, pc, rets, r + h, n - h);
	}
	if (f)
		f[node] = JUMP(BPF_JMP | BPF_JGE | BPF_K, r[h].lo, jt, jf);
	return pc;
}

/* An entry's conditions name an argument there is (six) and at most three
 * values each. */
static int
args_ok(const struct sandbox_syscall *e)
{
	int k;

	for (k = 0; e->action == SB_ARG && k < 3; k++)
		if (e->args[k].arg < 0 || e->args[k].arg > 5 ||
		    e->args[k].nvals < 0 || e->args[k].nvals > 3)
			return 0;
	return 1;
}

size_t
sandbox_seccomp_program(struct sock_filter *f, int udp, char *why,
    size_t whylen)
{
#ifndef SB_AUDIT_ARCH
	(void)udp;
	snprintf(why, whylen, "seccomp: no system call table for this "
	    "architecture");
	return 0;
#else
	struct run r[MAX_RUNS];
	size_t nr, rets, i;
	int dup = -1;

	for (i = 0; i < NSYSCALLS; i++)
		if (!args_ok(&syscalls[i])) {
			snprintf(why, whylen, "seccomp: system call %d: an "
			    "argument check out of range", syscalls[i].nr);
			return 0;
		}
	if ((nr = sc_runs(r, udp, &dup)) == 0) {
		snprintf(why, whylen, "seccomp: system call %d is in the "
		    "table twice", dup);
		return 0;
	}
	/* The arch, then the number, then the tree, then the returns. */
	rets = emit_tree(NULL, 3, 0, r, nr);
	if (rets + NRETS > SB_PROG_MAX) {
		snprintf(why, whylen, "seccomp: the program would be %zu "
		    "instructions, more than %d", rets + NRETS, SB_PROG_MAX);
		return 0;
	}
	f[0] = STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, arch));
	f[1] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SB_AUDIT_ARCH, 0,
	    to_ret(1, rets, RET_KILL));
	f[2] = STMT(BPF_LD | BPF_W | BPF_ABS,
	    offsetof(struct seccomp_data, nr));
	emit_tree(f, 3, rets, r, nr);
	f[rets + RET_EPERM] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[rets + RET_ALLOW] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[rets + RET_KILL] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	return rets + NRETS;
#endif
}

/* Built once per process (it cost a child 25 µs to sort and build, page
 * faults included), each of the two. */
static struct {
	struct sock_filter prog[SB_PROG_MAX];
	size_t len;
	char err[128];
	int built;
} sc[2];

void
sandbox_seccomp_build(int udp)
{
	udp = udp != 0;
	if (!sc[udp].built)
		sc[udp].len = sandbox_seccomp_program(sc[udp].prog, udp,
		    sc[udp].err, sizeof sc[udp].err);
	sc[udp].built = 1;
}

int
sandbox_seccomp_apply(int udp, char *why, size_t whylen)
{
	struct sock_fprog prog;

	udp = udp != 0;
	sandbox_seccomp_build(udp);
	if (sc[udp].len == 0) {
		snprintf(why, whylen, "%s", sc[udp].err);
		return -1;
	}
	prog.len = (unsigned short)sc[udp].len;
	prog.filter = sc[udp].prog;
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) == -1) {
		snprintf(why, whylen, "seccomp: %s", strerror(errno));
		return -1;
	}
	return 0;
}

const struct sandbox_syscall *
sandbox_seccomp_table(size_t *n)
{
	*n = NSYSCALLS;
	return syscalls;
}

const struct sock_filter *
sandbox_seccomp_built(int udp, size_t *len)
{
	udp = udp != 0;
	sandbox_seccomp_build(udp);
	*len = sc[udp].len;
	return sc[udp].prog;
}
