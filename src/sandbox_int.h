/*
 * What sandbox.c (the policy), sandbox_landlock.c (the Landlock ruleset)
 * and sandbox_seccomp.c (the system call allow-list) share. Nothing
 * outside the sandbox includes this, but tests/unit/test_sandbox.c, which
 * reads the seccomp table and program.
 */
#ifndef SANDBOX_INT_H
#define SANDBOX_INT_H
#include <stddef.h>
#include <stdint.h>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#include "config.h"

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

/* An entry of the table. SB_ARG: allowed when argument arg's low 32 bits
 * (a little-endian load) are one of vals (a 0 ends the list), EPERM
 * otherwise. A number not in the table: EPERM. */
struct sandbox_syscall {
	int nr;
	int action;
	int arg;
	uint32_t vals[3];
};

/* Every jump's offset must fit in 8 bits: no program longer than this
 * (tests/unit/test_sandbox checks the table's). */
#define SB_PROG_MAX 256

/* Build the program once per process, at its first use: in --serve the
 * parent does it in sandbox_prepare and each child only installs it. */
void sandbox_seccomp_build(void);

/* Install the program (built if need be). 0, or -1 with why set. */
int sandbox_seccomp_apply(char *why, size_t whylen);

/*
 * For tests/unit/test_sandbox.c, which runs the program in a classic BPF
 * interpreter and compares each verdict with the table's.
 * sandbox_seccomp_table: the table and, in *n, its length.
 * sandbox_seccomp_program: build the program afresh into f[SB_PROG_MAX];
 * its length, 0 with why set when the table is wrong.
 * sandbox_seccomp_built: the program sandbox_seccomp_apply installs, its
 * length in *len (0 when it could not be built).
 */
const struct sandbox_syscall *sandbox_seccomp_table(size_t *n);
size_t sandbox_seccomp_program(struct sock_filter *f, char *why,
    size_t whylen);
const struct sock_filter *sandbox_seccomp_built(size_t *len);

#endif
