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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "sandbox_int.h"

#define ALLOW(name)	{ __NR_##name, SB_ALLOW, 0, { 0, 0, 0 } }
#define KILL(name)	{ __NR_##name, SB_KILL, 0, { 0, 0, 0 } }
#define ARGS(name, arg, a, b, c) { __NR_##name, SB_ARG, arg, { a, b, c } }

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
	ARGS(ioctl, 1, FIONREAD, TCGETS, 0),
	/* Upstream connections, DNS, syslog (/dev/log): IP and Unix
	 * sockets only. */
	ARGS(socket, 0, AF_UNIX, AF_INET, AF_INET6),
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
	/* Memory: malloc, and dlopen of NSS modules by getaddrinfo. */
	ALLOW(brk),
	ALLOW(mmap),
	ALLOW(munmap),
	ALLOW(mremap),
	ALLOW(mprotect),
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
 * tests cost 0.32 ms there; this program, 120 instructions and a dozen
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

/* The table as runs covering every number from 0 up, in r; their count,
 * or 0 when a number is in the table twice (*dup set to it). */
static size_t
sc_runs(struct run *r, int *dup)
{
	const struct sandbox_syscall *by_nr[NSYSCALLS];
	uint32_t next = 0;
	size_t i, n = 0;

	for (i = 0; i < NSYSCALLS; i++)
		by_nr[i] = &syscalls[i];
	qsort(by_nr, NSYSCALLS, sizeof by_nr[0], sc_cmp);
	for (i = 0; i < NSYSCALLS; i++) {
		const struct sandbox_syscall *e = by_nr[i];

		if (i > 0 && e->nr == by_nr[i - 1]->nr) {
			*dup = e->nr;
			return 0;
		}
		if ((uint32_t)e->nr > next)
			add_run(r, &n, next, 0, NULL);
		/* An argument check with no values allows nothing. */
		add_run(r, &n, (uint32_t)e->nr, e->action == SB_ARG &&
		    e->vals[0] == 0 ? 0 : e->action, e);
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
 * The code for runs r[0..n) at pc: "nr >= r[n/2].lo" to the right half,
 * else the left; a half that is one run without an argument check is a
 * jump to its shared return, else its code follows, the left half's
 * first. Returns the pc after it; f NULL: only that.
 */
static size_t
emit_tree(struct sock_filter *f, size_t pc, size_t rets, const struct run *r,
    size_t n)
{
	size_t h = n / 2, node = pc, v, nv;
	unsigned char jt, jf;

	if (n == 1 && r->action == SB_ARG) {
		for (nv = 0; nv < 3 && r->e->vals[nv] != 0; nv++)
			;
		if (f)
			f[pc] = STMT(BPF_LD | BPF_W | BPF_ABS,
			    offsetof(struct seccomp_data, args[r->e->arg]));
		for (pc++, v = 0; v < nv; v++, pc++)
			if (f)
				f[pc] = JUMP(BPF_JMP | BPF_JEQ | BPF_K,
				    r->e->vals[v], to_ret(pc, rets, RET_ALLOW),
				    v + 1 < nv ? 0 :
				    to_ret(pc, rets, RET_EPERM));
		return pc;
	}
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

size_t
sandbox_seccomp_program(struct sock_filter *f, char *why, size_t whylen)
{
#ifndef SB_AUDIT_ARCH
	snprintf(why, whylen, "seccomp: no system call table for this "
	    "architecture");
	return 0;
#else
	struct run r[MAX_RUNS];
	size_t nr, rets;
	int dup = -1;

	if ((nr = sc_runs(r, &dup)) == 0) {
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
 * faults included). */
static struct sock_filter sc_prog[SB_PROG_MAX];
static size_t sc_len;
static char sc_err[128];
static int sc_built;

void
sandbox_seccomp_build(void)
{
	if (!sc_built)
		sc_len = sandbox_seccomp_program(sc_prog, sc_err,
		    sizeof sc_err);
	sc_built = 1;
}

int
sandbox_seccomp_apply(char *why, size_t whylen)
{
	struct sock_fprog prog;

	sandbox_seccomp_build();
	if (sc_len == 0) {
		snprintf(why, whylen, "%s", sc_err);
		return -1;
	}
	prog.len = (unsigned short)sc_len;
	prog.filter = sc_prog;
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
sandbox_seccomp_built(size_t *len)
{
	sandbox_seccomp_build();
	*len = sc_len;
	return sc_prog;
}
