/*
 * sandbox: each filter process locks itself down before it reads a byte
 * from the client, so that a memory-safety bug in a parser cannot read
 * ~/.ssh, run a shell or reach another host. Two layers, both irreversible:
 *
 *   Landlock (Linux 5.13+): the files it may open (ca-file, the config,
 *   auth-dir, the logs directory, what name resolution needs) and, from
 *   ABI 4 (6.7+), the TCP ports it may connect to (the configured
 *   upstreams', token endpoints', proxy's, DNS) and no bind at all.
 *
 *   seccomp-bpf: an allow-list of the system calls a filter makes (found
 *   by running the test suite under strace -f), EPERM for anything else,
 *   and death for the calls that can only mean an attacker is at work.
 *
 * Only the per-connection filter is sandboxed: the login flow binds a
 * callback port and starts a browser, --status and --refresh are short
 * runs by the user, the --serve parent binds and forks (it only builds
 * the Landlock ruleset its spares enforce). No libseccomp: the BPF
 * program is built here from one table. --sandbox-check is in
 * sandbox_check.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>

#include "log.h"
#include "sandbox.h"

/* ------------------------------------------------------------ Landlock */

/* Older headers know fewer rights; the values are the kernel's ABI. */
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#endif
#ifndef __NR_landlock_add_rule
#define __NR_landlock_add_rule 445
#endif
#ifndef __NR_landlock_restrict_self
#define __NR_landlock_restrict_self 446
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#define LL_FS_EXECUTE		(1ULL << 0)
#define LL_FS_WRITE_FILE	(1ULL << 1)
#define LL_FS_READ_FILE		(1ULL << 2)
#define LL_FS_READ_DIR		(1ULL << 3)
#define LL_FS_REMOVE_FILE	(1ULL << 5)
#define LL_FS_MAKE_REG		(1ULL << 8)
#define LL_FS_REFER		(1ULL << 13)    /* ABI 2 */
#define LL_FS_TRUNCATE		(1ULL << 14)    /* ABI 3 */
#define LL_FS_IOCTL_DEV		(1ULL << 15)    /* ABI 5 */
#define LL_NET_BIND_TCP		(1ULL << 0)     /* ABI 4 */
#define LL_NET_CONNECT_TCP	(1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX	(1ULL << 0)     /* ABI 6 */
#define LL_SCOPE_SIGNAL		(1ULL << 1)
#define LL_RULE_PATH_BENEATH	1
#define LL_RULE_NET_PORT	2

/* Rights that make sense on a file (the rest are about directories). */
#define LL_FILE_RIGHTS (LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | \
    LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)
#define LL_READ		LL_FS_READ_FILE
#define LL_RW_DIR	(LL_FS_READ_FILE | LL_FS_WRITE_FILE | LL_FS_READ_DIR | \
    LL_FS_MAKE_REG | LL_FS_REMOVE_FILE | LL_FS_TRUNCATE)

/* Our own copies of the kernel's structures: headers older than the
 * running kernel lack the newer fields. The size passed tells the kernel
 * which fields we mean. */
struct ll_ruleset_attr {
	uint64_t handled_fs;
	uint64_t handled_net;   /* ABI 4 */
	uint64_t scoped;        /* ABI 6 */
};

struct ll_path_attr {
	uint64_t allowed;
	int32_t parent_fd;
} __attribute__((packed));

struct ll_port_attr {
	uint64_t allowed;
	uint64_t port;
};

/*
 * What a filter reads besides its own files. Name resolution: glibc's
 * getaddrinfo reads these, may dlopen NSS modules late (from the library
 * directories, through ld.so.cache) and syslog(3) formats its local time
 * from /etc/localtime. A rule on a symlink lands on its target, as the
 * opens that follow it do. Files, then directories: the kind is known
 * here, so no fstat per path (allow_path copes with a surprise).
 */
static const char *const system_files[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf",
	"/etc/host.conf", "/etc/services", "/etc/ld.so.cache",
	"/etc/localtime", "/dev/urandom",
};
static const char *const system_dirs[] = {
	"/usr/share/zoneinfo", "/run/systemd/resolve",
	"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
};

static unsigned long long
fnv(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--)
		h = (h ^ *b++) * 1099511628211ULL;
	return h;
}

static unsigned long long
inode_of(unsigned long long h, const char *path)
{
	struct stat st;
	unsigned long long id[2] = { 0, 0 };

	if (path && stat(path, &st) == 0) {
		id[0] = (unsigned long long)st.st_dev;
		id[1] = (unsigned long long)st.st_ino;
	}
	return fnv(h, id, sizeof id);
}

size_t
sandbox_rule_files(const struct config *cfg, const char **out, size_t max,
    char *logs, size_t logslen)
{
	size_t n = 0, i;

#define PUT(p) do { if ((p) && n < max) out[n++] = (p); } while (0)
	if (cfg->sandbox == SANDBOX_OFF)
		return 0;
	PUT(cfg->ca_file);
	PUT(cfg->path);
	PUT(cfg->auth_dir);
	if (cfg->logging_to_file && log_dir(cfg->path, cfg->auth_dir, logs,
	    logslen) == 0)
		PUT(logs);
	/* Files only: the system directories (/usr/lib, /run/systemd/resolve
	 * ...) are not replaced whole in practice, and a recreated
	 * /run/systemd/resolve shows through the resolv.conf symlink. */
	for (i = 0; i < sizeof system_files / sizeof system_files[0]; i++)
		PUT(system_files[i]);
#undef PUT
	return n;
}

unsigned long long
sandbox_inodes(const struct config *cfg)
{
	unsigned long long h = 14695981039346656037ULL;
	const char *paths[SANDBOX_RULE_FILES];
	char logs[4096];
	size_t i, n;

	n = sandbox_rule_files(cfg, paths, SANDBOX_RULE_FILES, logs,
	    sizeof logs);
	for (i = 0; i < n; i++)
		h = inode_of(h, paths[i]);
	return n ? h : 0;
}

int
sandbox_landlock_abi(void)
{
	long v = syscall(__NR_landlock_create_ruleset, NULL, 0,
	    LANDLOCK_CREATE_RULESET_VERSION);

	return v < 0 ? 0 : (int)v;
}

static uint64_t
fs_rights(int abi)
{
	uint64_t r = (1ULL << 13) - 1;  /* ABI 1: EXECUTE .. MAKE_SYM */

	if (abi >= 2)
		r |= LL_FS_REFER;
	if (abi >= 3)
		r |= LL_FS_TRUNCATE;
	if (abi >= 5)
		r |= LL_FS_IOCTL_DEV;
	return r;
}

/* Allow access beneath path. A path that does not exist is no error: the
 * filter will not find it either. Directory rights on what turns out not
 * to be a directory are refused (EINVAL): the file rights of access are
 * then what it gets, as an fstat first would have decided, one system
 * call fewer for the usual case. */
static int
allow_path(int rs, const char *path, uint64_t access, uint64_t handled)
{
	struct ll_path_attr pa;
	int fd, rc, e;

	if ((fd = open(path, O_PATH | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ENOTDIR || errno == EACCES ?
		    0 : -1;
	pa.allowed = access & handled;
	pa.parent_fd = fd;
	rc = (int)syscall(__NR_landlock_add_rule, rs, LL_RULE_PATH_BENEATH,
	    &pa, 0);
	if (rc == -1 && errno == EINVAL && (pa.allowed & ~LL_FILE_RIGHTS)) {
		pa.allowed &= LL_FILE_RIGHTS;
		rc = (int)syscall(__NR_landlock_add_rule, rs,
		    LL_RULE_PATH_BENEATH, &pa, 0);
	}
	e = errno;
	close(fd);
	errno = e;
	return rc == 0 ? 0 : -1;
}

/* The TCP ports a filter may connect to; 0 ends the list. */

static void
add_port(unsigned *ports, const char *s)
{
	char *end;
	long v;
	int i;

	if (s == NULL)
		return;
	v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 1 || v > 65535)
		return;
	for (i = 0; i < SANDBOX_MAX_PORTS - 1 && ports[i] != 0; i++)
		if (ports[i] == (unsigned)v)
			return;
	if (i < SANDBOX_MAX_PORTS - 1)
		ports[i] = (unsigned)v;
}

void
sandbox_ports(const struct config *cfg, unsigned *ports)
{
	size_t i;

	memset(ports, 0, SANDBOX_MAX_PORTS * sizeof *ports);
	add_port(ports, cfg->claude_base.port);
	add_port(ports, cfg->codex_base.port);
	/* A refresh happens inside the filter. */
	add_port(ports, cfg->claude_token_url.port);
	add_port(ports, cfg->codex_token_url.port);
	for (i = 0; i < cfg->n_claude_keys; i++)
		add_port(ports, cfg->claude_keys[i].base.port);
	for (i = 0; i < cfg->n_codex_keys; i++)
		add_port(ports, cfg->codex_keys[i].base.port);
	if (cfg->proxy.kind != PROXY_NONE)
		add_port(ports, cfg->proxy.port);
	/* DNS falls back to TCP for long answers. */
	add_port(ports, "53");
}

/*
 * Build the ruleset into *rsp. 0 when all of it is there; 1 when the
 * filesystem part is but this kernel cannot restrict TCP ports (ABI < 4),
 * with why set; -1 with why set when there is none.
 */
static int
landlock_build(const struct config *cfg, int abi, int *rsp, char *why,
    size_t whylen)
{
	struct ll_ruleset_attr ra;
	size_t ralen;
	unsigned ports[SANDBOX_MAX_PORTS];
	char logs[4096];
	size_t i;
	int rs, e;

	if (abi <= 0) {
		snprintf(why, whylen, "Landlock is not available (Linux 5.13 "
		    "or later with landlock in the lsm= list)");
		return -1;
	}
	memset(&ra, 0, sizeof ra);
	ra.handled_fs = fs_rights(abi);
	ralen = offsetof(struct ll_ruleset_attr, handled_net);
	if (abi >= 4) {
		ra.handled_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		ralen = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		/* No signals to processes outside, no abstract sockets. */
		ra.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		ralen = sizeof ra;
	}
	if ((rs = (int)syscall(__NR_landlock_create_ruleset, &ra, ralen, 0))
	    == -1) {
		snprintf(why, whylen, "landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	if (cfg->ca_file && allow_path(rs, cfg->ca_file, LL_READ,
	    ra.handled_fs) == -1)
		goto fail_path;
	if (cfg->path && allow_path(rs, cfg->path, LL_READ, ra.handled_fs)
	    == -1)
		goto fail_path;
	if (allow_path(rs, cfg->auth_dir, LL_RW_DIR, ra.handled_fs) == -1)
		goto fail_path;
	/* The log file may be opened or rotated later: the directory must
	 * be there now for the rule to hold on it. */
	if (cfg->logging_to_file && log_dir(cfg->path, cfg->auth_dir, logs,
	    sizeof logs) == 0 && (mkdir(logs, 0700) == 0 || errno == EEXIST) &&
	    allow_path(rs, logs, LL_RW_DIR, ra.handled_fs) == -1)
		goto fail_path;
	if (allow_path(rs, "/dev/null", LL_FS_READ_FILE | LL_FS_WRITE_FILE,
	    ra.handled_fs) == -1)
		goto fail_path;
	for (i = 0; i < sizeof system_files / sizeof system_files[0]; i++)
		if (allow_path(rs, system_files[i], LL_READ, ra.handled_fs) ==
		    -1)
			goto fail_path;
	for (i = 0; i < sizeof system_dirs / sizeof system_dirs[0]; i++)
		if (allow_path(rs, system_dirs[i], LL_READ | LL_FS_READ_DIR,
		    ra.handled_fs) == -1)
			goto fail_path;
#if defined(__SANITIZE_ADDRESS__)
	/* SANITIZE builds: LeakSanitizer reads /proc/PID/task and maps at
	 * exit. procfs makes a new inode for a PID directory at each lookup
	 * unless its dentry is in use: the fd stays open to pin it. */
	{
		static int proc_fd = -1;
		struct ll_path_attr pa;

		if (proc_fd == -1)
			proc_fd = open("/proc/self", O_PATH | O_CLOEXEC);
		pa.allowed = (LL_READ | LL_FS_READ_DIR) & ra.handled_fs;
		pa.parent_fd = proc_fd;
		if (proc_fd != -1 && syscall(__NR_landlock_add_rule, rs,
		    LL_RULE_PATH_BENEATH, &pa, 0) == -1)
			goto fail_path;
	}
#endif
	if (abi >= 4) {
		sandbox_ports(cfg, ports);
		for (i = 0; ports[i] != 0; i++) {
			struct ll_port_attr pa = { LL_NET_CONNECT_TCP, ports[i] };

			if (syscall(__NR_landlock_add_rule, rs, LL_RULE_NET_PORT,
			    &pa, 0) == -1) {
				snprintf(why, whylen, "landlock_add_rule: port "
				    "%u: %s", ports[i], strerror(errno));
				goto fail;
			}
		}
	}
	*rsp = rs;
	if (abi < 4) {
		snprintf(why, whylen, "Landlock ABI %d cannot restrict TCP "
		    "ports (ABI 4, Linux 6.7, can)", abi);
		return 1;
	}
	return 0;
fail_path:
	snprintf(why, whylen, "landlock_add_rule: %s", strerror(errno));
fail:
	e = errno;
	close(rs);
	errno = e;
	return -1;
}

static void sc_build(void);

/* A ruleset built ahead by sandbox_prepare (inherited by fork), its
 * verdict and what landlock_build said. */
static struct {
	int fd;
	int rc;
	char why[256];
} ready = { -1, -1, "" };

/* Enforce the prepared ruleset, or build one and enforce it: as
 * landlock_build. */
static int
landlock_apply(const struct config *cfg, int abi, char *why, size_t whylen)
{
	int rs, rc;

	if (ready.fd != -1) {
		rs = ready.fd;
		rc = ready.rc;
		snprintf(why, whylen, "%s", ready.why);
	} else if ((rc = landlock_build(cfg, abi, &rs, why, whylen)) == -1)
		return -1;
	if (syscall(__NR_landlock_restrict_self, rs, 0) == -1) {
		snprintf(why, whylen, "landlock_restrict_self: %s",
		    strerror(errno));
		rc = -1;
	}
	close(rs);
	ready.fd = -1;
	return rc;
}

int
sandbox_prepare(const struct config *cfg)
{
	sandbox_unprepare();
	if (cfg->sandbox != SANDBOX_OFF)
		sc_build();
#if defined(__SANITIZE_ADDRESS__)
	/* The /proc rule of SANITIZE builds must name the child's own /proc
	 * directory: those build theirs in the child. */
	(void)cfg;
	return -1;
#else
	if (cfg->sandbox == SANDBOX_OFF)
		return -1;
	ready.rc = landlock_build(cfg, sandbox_landlock_abi(), &ready.fd,
	    ready.why, sizeof ready.why);
	if (ready.rc == -1)
		ready.fd = -1;
	return ready.rc == -1 ? -1 : 0;
#endif
}

void
sandbox_unprepare(void)
{
	if (ready.fd != -1)
		close(ready.fd);
	ready.fd = -1;
}

/* ------------------------------------------------------------- seccomp */

#if defined(__x86_64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SB_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif
#ifndef SECCOMP_RET_KILL_PROCESS
#define SECCOMP_RET_KILL_PROCESS 0x80000000U
#endif
#ifndef SECCOMP_RET_ERRNO
#define SECCOMP_RET_ERRNO 0x00050000U
#endif

enum { SB_ALLOW = 1, SB_KILL, SB_ARG };

/* SB_ARG: allowed when argument arg's low 32 bits (a little-endian
 * load) are one of vals (a 0 ends the list), EPERM otherwise. */
struct sc {
	int nr;
	int action;
	int arg;
	uint32_t vals[3];
};

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
static const struct sc syscalls[] = {
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
	uint32_t lo;            /* first number; it ends where the next begins */
	int action;             /* SB_ALLOW, SB_KILL, SB_ARG; 0: EPERM */
	const struct sc *e;     /* SB_ARG: the entry, one number */
};

/* A run per entry and one per gap, and x32's. */
#define MAX_RUNS (2 * NSYSCALLS + 2)
/* Every jump's offset must fit in 8 bits: no program longer than this
 * (tests/unit/test_sandbox checks the table's). */
#define PROG_MAX 256

/* The shared returns, in this order after the tree. */
enum { RET_EPERM, RET_ALLOW, RET_KILL, NRETS };

#define STMT(c, k)		((struct sock_filter)BPF_STMT((c), (k)))
#define JUMP(c, k, t, f)	((struct sock_filter)BPF_JUMP((c), (k), (t), (f)))

static int
sc_cmp(const void *a, const void *b)
{
	const struct sc *x = *(const struct sc *const *)a;
	const struct sc *y = *(const struct sc *const *)b;

	return (x->nr > y->nr) - (x->nr < y->nr);
}

static void
add_run(struct run *r, size_t *n, uint32_t lo, int action,
    const struct sc *e)
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
	const struct sc *by_nr[NSYSCALLS];
	uint32_t next = 0;
	size_t i, n = 0;

	for (i = 0; i < NSYSCALLS; i++)
		by_nr[i] = &syscalls[i];
	qsort(by_nr, NSYSCALLS, sizeof by_nr[0], sc_cmp);
	for (i = 0; i < NSYSCALLS; i++) {
		const struct sc *e = by_nr[i];

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
				    v + 1 < nv ? 0 : to_ret(pc, rets, RET_EPERM));
		return pc;
	}
	if (n == 1) {           /* the whole table one run: no test */
		if (f)
			f[pc] = STMT(BPF_JMP | BPF_JA, (uint32_t)to_ret(pc, rets,
			    r->action == SB_ALLOW ? RET_ALLOW : r->action ==
			    SB_KILL ? RET_KILL : RET_EPERM));
		return pc + 1;
	}
	pc++;
	if (h == 1 && r[0].action != SB_ARG)
		jf = to_ret(node, rets, r[0].action == SB_ALLOW ? RET_ALLOW :
		    r[0].action == SB_KILL ? RET_KILL : RET_EPERM);
	else {
		jf = 0;
		pc = emit_tree(f, pc, rets, r, h);
	}
	if (n - h == 1 && r[h].action != SB_ARG)
		jt = to_ret(node, rets, r[h].action == SB_ALLOW ? RET_ALLOW :
		    r[h].action == SB_KILL ? RET_KILL : RET_EPERM);
	else {
		jt = (unsigned char)(pc - node - 1);
		pc = emit_tree(f, pc, rets, r + h, n - h);
	}
	if (f)
		f[node] = JUMP(BPF_JMP | BPF_JGE | BPF_K, r[h].lo, jt, jf);
	return pc;
}

/* The whole program in f (PROG_MAX long); its length, 0 with why set
 * when the table is wrong. */
static size_t
sc_program(struct sock_filter *f, char *why, size_t whylen)
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
	if (rets + NRETS > PROG_MAX) {
		snprintf(why, whylen, "seccomp: the program would be %zu "
		    "instructions, more than %d", rets + NRETS, PROG_MAX);
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

/*
 * Built once per process, at its first use: in --serve the parent builds
 * it in sandbox_prepare and each connection's child only hands it to the
 * kernel (it cost a child 25 µs to sort and build, page faults included).
 */
static struct sock_filter sc_prog[PROG_MAX];
static size_t sc_len;
static char sc_err[128];
static int sc_built;

static void
sc_build(void)
{
	if (!sc_built)
		sc_len = sc_program(sc_prog, sc_err, sizeof sc_err);
	sc_built = 1;
}

static int
seccomp_apply(char *why, size_t whylen)
{
	struct sock_fprog prog;

	sc_build();
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

/*
 * For the unit test: run the program on (arch, nr, args) as the kernel
 * would and compare with what the table says, for every number below
 * 1024, the x32 ones and each argument-checked entry with its values and
 * one not listed. A classic BPF interpreter for the few instructions the
 * program uses.
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
	size_t i;
	int v;

	for (i = 0; i < NSYSCALLS; i++) {
		const struct sc *e = &syscalls[i];

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

int
sandbox_seccomp_selftest(char *why, size_t whylen, size_t *len)
{
#ifndef SB_AUDIT_ARCH
	snprintf(why, whylen, "no system call table for this architecture");
	return -1;
#else
	struct sock_filter f[PROG_MAX];
	struct seccomp_data d;
	uint32_t got, want;
	size_t n, i;
	int nr, v;

	if ((n = sc_program(f, why, whylen)) == 0)
		return -1;
	*len = n;
	sc_build();
	if (sc_len != n || memcmp(sc_prog, f, n * sizeof f[0]) != 0) {
		snprintf(why, whylen, "the program built before main (%zu "
		    "instructions) is not this one (%zu)", sc_len, n);
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
	for (i = 0; i < NSYSCALLS; i++) {
		const struct sc *e = &syscalls[i];

		if (e->action != SB_ARG)
			continue;
		d.nr = e->nr;
		for (v = 0; v <= 3; v++) {
			memset(d.args, 0, sizeof d.args);
			/* Each listed value, then one that is not. */
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
#endif
}

/* -------------------------------------------------------------- apply */

int
sandbox_apply(const struct config *cfg)
{
	char ll_why[256] = "", sc_why[256] = "";
	int ll, sc = -1;

	if (cfg->sandbox == SANDBOX_OFF)
		return 0;
	/* Without it neither Landlock nor seccomp may be entered
	 * unprivileged, and nothing exec'd could regain privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
		snprintf(ll_why, sizeof ll_why, "PR_SET_NO_NEW_PRIVS: %s",
		    strerror(errno));
		ll = -1;
		snprintf(sc_why, sizeof sc_why, "%s", ll_why);
	} else {
		/* Landlock first: its system calls are not on the list. */
		ll = landlock_apply(cfg, sandbox_landlock_abi(), ll_why,
		    sizeof ll_why);
		sc = seccomp_apply(sc_why, sizeof sc_why);
	}
	if (cfg->sandbox == SANDBOX_REQUIRED && (ll == -1 || sc == -1)) {
		log_err("sandbox: required, but %s%s%s: not serving; set "
		    "sandbox: auto in the config to serve without it",
		    ll == -1 ? ll_why : "", ll == -1 && sc == -1 ? " and " : "",
		    sc == -1 ? sc_why : "");
		return -1;
	}
	if (ll != 0)
		log_debug("sandbox: %s", ll_why);
	if (sc != 0)
		log_debug("sandbox: %s", sc_why);
	return 0;
}
