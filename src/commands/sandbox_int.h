/*
 * What sandbox.c (the policy), sandbox_landlock.c (the Landlock ruleset),
 * sandbox_seccomp.c (the system call allow-list) and --sandbox-check's
 * sandbox_check.c and sandbox_probe.c share. Nothing outside the sandbox
 * includes this, but tests/unit/test_sandbox.c, which reads the seccomp
 * table and program.
 */
#ifndef SANDBOX_INT_H
#define SANDBOX_INT_H
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "parsers/config.h"

/* ---------------------------------------------------------------- memory */

/* Older headers lack them; the values are the kernel's (Linux 6.3). */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#endif
#ifndef PR_GET_MDWE
#define PR_GET_MDWE 66
#endif
#ifndef PR_MDWE_REFUSE_EXEC_GAIN
#define PR_MDWE_REFUSE_EXEC_GAIN (1UL << 0)
#endif

/* ------------------------------------------------------- --sandbox-check */

/* --sandbox-check reports the layers itself: no warning from sandbox_apply
 * in the processes forked after this (its probes). */
void sandbox_quiet(void);

/* The attempts (sandbox_probe.c). */
enum {
	SB_TRY_READ,            /* read a byte of path */
	SB_TRY_OPENDIR,         /* open directory path */
	SB_TRY_WRITE,           /* make path.tmp, rename it to path, remove */
	SB_TRY_EXEC,            /* execve path */
	SB_TRY_BIND,            /* bind TCP 127.0.0.1:port */
	SB_TRY_CONNECT,         /* connect TCP 127.0.0.1:port (refused: ok) */
	SB_TRY_RESOLVE,         /* getaddrinfo path */
	SB_TRY_DNS,             /* getaddrinfo path; a "no such name": ok */
	SB_TRY_UNIX,            /* connect to the Unix stream socket path */
	SB_TRY_UDP,             /* send a UDP datagram to 127.0.0.1:port */
	SB_TRY_RAW,             /* make a raw, packet or netlink socket */
	SB_TRY_MAP_WX,          /* map memory writable and executable */
	SB_TRY_PROTECT_WX,      /* add exec to a writable page */
	SB_TRY_EXEC_GAIN,       /* make a written page read and exec */
};

/* Make attempt what: 0 when it went through, else the errno that stopped
 * it. */
int sandbox_try(int what, const char *path, int port);

/* 127.0.0.1:port into sa. */
void sandbox_loopback(struct sockaddr_in *sa, int port);

/* ---------------------------------------------------------------- paths */

/* What a filter may do beneath a path (sandbox_landlock.c turns each into
 * Landlock rights). */
enum {
	SB_PATH_READ = 1,       /* read a file */
	SB_PATH_READ_TREE,      /* read and list beneath a directory */
	SB_PATH_RW_TREE,        /* read, write, create and remove beneath */
	SB_PATH_RW_FILE,        /* read and write a file, no truncate */
};

/* sandbox_path.flags */
#define SB_PATH_WATCH   1       /* --serve watches it for replacement */
#define SB_PATH_MKDIR   2       /* made first: a rule needs it there */

struct sandbox_path {
	const char *path;
	int access;             /* SB_PATH_* */
	int flags;
};

#define SB_MAX_PATHS 32

/*
 * Every path a filter may open, with what it may do there, into out[
 * SB_MAX_PATHS] (logs is room for the logs directory's name): the one list
 * behind both the Landlock rules and sandbox_rule_files, so that no path
 * is allowed without --serve knowing whether to watch it. Returns how
 * many; paths the config leaves unset are not there.
 */
size_t sandbox_paths(const struct config *cfg, struct sandbox_path *out,
    char *logs, size_t logslen);

/* ------------------------------------------------------------- Landlock */

/*
 * Build the ruleset of sandbox_paths and sandbox_ports into *rsp, not yet
 * enforced. 0 when all of it is there; 1 when the filesystem part is but
 * this kernel cannot restrict TCP ports (ABI < 4), with why set; -1 with
 * why set when there is none.
 */
int sandbox_landlock_build(const struct config *cfg, int abi, int *rsp,
    char *why, size_t whylen);

/* Enforce ruleset rs on the calling thread. 0, or -1 with why set. */
int sandbox_landlock_restrict(int rs, char *why, size_t whylen);

/* -------------------------------------------------------------- seccomp */

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

/* A condition on an argument: its low 32 bits (a little-endian load: all
 * the kernel reads of an int, and where the flag bits of a long are) and
 * mask are one of vals[0..nvals). */
#define SB_ANY 0xffffffffU      /* mask: the whole word */
struct sandbox_arg {
	int arg;
	uint32_t mask;
	int nvals;
	uint32_t vals[3];
};

/* An entry of the table. SB_ARG: allowed when every condition of args
 * holds (nvals 0 ends them; none at all allows nothing), EPERM
 * otherwise. A number not in the table: EPERM. only: in both programs
 * (0), or only in the one that allows UDP sockets (SB_ONLY_UDP) or the
 * one that does not (SB_ONLY_TCP). */
#define SB_ONLY_UDP	1
#define SB_ONLY_TCP	2
struct sandbox_syscall {
	int nr;
	int action;
	int only;
	struct sandbox_arg args[3];
};

/* The table's length at most (a run per entry and per gap is room the
 * program builder sets aside on its stack). */
#define SB_MAX_SYSCALLS 192

/* Every jump's offset must fit in 8 bits: no program longer than this
 * (tests/unit/test_sandbox checks the table's). */
#define SB_PROG_MAX 256

/*
 * Two programs: udp 1 allows UDP sockets besides TCP ones, for a resolver
 * that asks over UDP, udp 0 does not (sandbox_udp decides). Each is built
 * once per process, at its first use: in --serve the parent does it in
 * sandbox_prepare and each child only installs it.
 */
void sandbox_seccomp_build(int udp);

/* Install the program (built if need be). 0, or -1 with why set. */
int sandbox_seccomp_apply(int udp, char *why, size_t whylen);

/*
 * For tests/unit/test_sandbox.c, which runs the program in a classic BPF
 * interpreter and compares each verdict with the table's.
 * sandbox_seccomp_table (sandbox_syscalls.c): the table and, in *n, its
 * length.
 * sandbox_seccomp_program: build program udp afresh into f[SB_PROG_MAX];
 * its length, 0 with why set when the table is wrong.
 * sandbox_seccomp_built: the program sandbox_seccomp_apply installs, its
 * length in *len (0 when it could not be built).
 */
const struct sandbox_syscall *sandbox_seccomp_table(size_t *n);
size_t sandbox_seccomp_program(struct sock_filter *f, int udp, char *why,
    size_t whylen);
const struct sock_filter *sandbox_seccomp_built(int udp, size_t *len);

/*
 * Whether the filter keeps UDP sockets: only for glibc's resolver, when a
 * configured host is a name and it asks its nameservers over UDP (no
 * "options use-vc" in resolv.conf or RES_OPTIONS). Such a socket can be
 * sent to any host and port: seccomp cannot read connect()'s address and
 * Landlock has no UDP rules before ABI 10.
 */
int sandbox_udp(const struct config *cfg);

/* Some host the filter may connect to is a name, not an address. */
int sandbox_names_a_host(const struct config *cfg);

#endif
