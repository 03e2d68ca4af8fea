/*
 * The filter's seccomp-bpf allow-list: the system calls a filter makes,
 * EPERM for anything else and death for the calls that can only mean an
 * attacker is at work. No libseccomp: the BPF program is built here from
 * one table, sandbox_syscalls.c's.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "commands/sandbox_int.h"


/*
 * The program: the arch check, then a binary search on the system call
 * number. The table is grouped by purpose; here it is sorted by
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
#define MAX_RUNS (2 * SB_MAX_SYSCALLS + 2)

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
	const struct sandbox_syscall *by_nr[SB_MAX_SYSCALLS], *t;
	uint32_t next = 0;
	size_t i, n = 0, ne = 0, nt;

	t = sandbox_seccomp_table(&nt);
	for (i = 0; i < nt; i++)
		if (t[i].only != (udp ? SB_ONLY_TCP : SB_ONLY_UDP))
			by_nr[ne++] = &t[i];
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
	const struct sandbox_syscall *t;
	struct run r[MAX_RUNS];
	size_t nr, rets, i, nt;
	int dup = -1;

	t = sandbox_seccomp_table(&nt);
	for (i = 0; i < nt; i++)
		if (!args_ok(&t[i])) {
			snprintf(why, whylen, "seccomp: system call %d: an "
			    "argument check out of range", t[i].nr);
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

const struct sock_filter *
sandbox_seccomp_built(int udp, size_t *len)
{
	udp = udp != 0;
	sandbox_seccomp_build(udp);
	*len = sc[udp].len;
	return sc[udp].prog;
}
