/*
 * The filter's Landlock ruleset: the files it may open and, from ABI 4
 * (Linux 6.7), the TCP ports it may connect to and no bind at all. What
 * is allowed is sandbox.c's (sandbox_paths, sandbox_ports); here it
 * becomes rules the kernel holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/landlock.h>

#include "commands/sandbox.h"
#include "commands/sandbox_int.h"

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
#define LL_RW_DIR	(LL_FS_READ_FILE | LL_FS_WRITE_FILE | \
    LL_FS_READ_DIR | LL_FS_MAKE_REG | LL_FS_REMOVE_FILE | LL_FS_TRUNCATE)

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

/* The Landlock rights of an SB_PATH_* access. */
static uint64_t
path_rights(int access)
{
	switch (access) {
	case SB_PATH_READ:
		return LL_READ;
	case SB_PATH_READ_TREE:
		return LL_READ | LL_FS_READ_DIR;
	case SB_PATH_RW_TREE:
		return LL_RW_DIR;
	case SB_PATH_RW_FILE:
		return LL_FS_READ_FILE | LL_FS_WRITE_FILE;
	}
	return 0;
}

/* SANITIZE builds: LeakSanitizer reads /proc/PID/task and maps at exit.
 * procfs makes a new inode for a PID directory at each lookup unless its
 * dentry is in use: the fd stays open to pin it. */
static int
allow_proc(int rs, uint64_t handled)
{
#if defined(__SANITIZE_ADDRESS__)
	static int proc_fd = -1;
	struct ll_path_attr pa;

	if (proc_fd == -1)
		proc_fd = open("/proc/self", O_PATH | O_CLOEXEC);
	pa.allowed = (LL_READ | LL_FS_READ_DIR) & handled;
	pa.parent_fd = proc_fd;
	if (proc_fd != -1 && syscall(__NR_landlock_add_rule, rs,
	    LL_RULE_PATH_BENEATH, &pa, 0) == -1)
		return -1;
#else
	(void)rs;
	(void)handled;
#endif
	return 0;
}

/* A rule for each of sandbox_paths. 0, or -1 with errno set. */
static int
allow_paths(const struct config *cfg, int rs, uint64_t handled)
{
	struct sandbox_path p[SB_MAX_PATHS];
	char logs[4096];
	size_t i, n;

	n = sandbox_paths(cfg, p, logs, sizeof logs);
	for (i = 0; i < n; i++) {
		/* The log file may be opened or rotated later: the
		 * directory must be there now for the rule to hold on it.
		 * When it cannot be made, the filter cannot log there
		 * either. */
		if ((p[i].flags & SB_PATH_MKDIR) && mkdir(p[i].path, 0700) ==
		    -1 && errno != EEXIST)
			continue;
		if (allow_path(rs, p[i].path, path_rights(p[i].access),
		    handled) == -1)
			return -1;
	}
	return allow_proc(rs, handled);
}

/* A connect rule for each of sandbox_ports. 0, or -1 with why set. */
static int
allow_ports(const struct config *cfg, int rs, char *why, size_t whylen)
{
	unsigned ports[SANDBOX_MAX_PORTS];
	size_t i;

	sandbox_ports(cfg, ports);
	for (i = 0; ports[i] != 0; i++) {
		struct ll_port_attr pa = { LL_NET_CONNECT_TCP, ports[i] };

		if (syscall(__NR_landlock_add_rule, rs, LL_RULE_NET_PORT, &pa,
		    0) == -1) {
			snprintf(why, whylen, "landlock_add_rule: port %u: %s",
			    ports[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* What the ruleset handles on this ABI, into ra; the size to pass. */
static size_t
ruleset_attr(int abi, struct ll_ruleset_attr *ra)
{
	size_t ralen;

	memset(ra, 0, sizeof *ra);
	ra->handled_fs = fs_rights(abi);
	ralen = offsetof(struct ll_ruleset_attr, handled_net);
	if (abi >= 4) {
		ra->handled_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		ralen = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		/* No signals to processes outside, no abstract sockets. */
		ra->scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		ralen = sizeof *ra;
	}
	return ralen;
}

int
sandbox_landlock_build(const struct config *cfg, int abi, int *rsp,
    char *why, size_t whylen)
{
	struct ll_ruleset_attr ra;
	size_t ralen;
	int rs, e;

	if (abi <= 0) {
		snprintf(why, whylen, "Landlock is not available (Linux 5.13 "
		    "or later with landlock in the lsm= list)");
		return -1;
	}
	ralen = ruleset_attr(abi, &ra);
	if ((rs = (int)syscall(__NR_landlock_create_ruleset, &ra, ralen, 0))
	    == -1) {
		snprintf(why, whylen, "landlock_create_ruleset: %s",
		    strerror(errno));
		return -1;
	}
	if (allow_paths(cfg, rs, ra.handled_fs) == -1) {
		snprintf(why, whylen, "landlock_add_rule: %s",
		    strerror(errno));
		goto fail;
	}
	if (abi >= 4 && allow_ports(cfg, rs, why, whylen) == -1)
		goto fail;
	*rsp = rs;
	if (abi < 4) {
		snprintf(why, whylen, "Landlock ABI %d cannot restrict TCP "
		    "ports (ABI 4, Linux 6.7, can)", abi);
		return 1;
	}
	return 0;
fail:
	e = errno;
	close(rs);
	errno = e;
	return -1;
}

int
sandbox_landlock_restrict(int rs, char *why, size_t whylen)
{
	if (syscall(__NR_landlock_restrict_self, rs, 0) == -1) {
		snprintf(why, whylen, "landlock_restrict_self: %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}
