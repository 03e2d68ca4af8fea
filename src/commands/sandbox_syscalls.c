/*
 * The filter's system calls: the table sandbox_seccomp.c turns into its
 * seccomp-bpf program. Whatever is not here fails with EPERM.
 */
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <netinet/in.h>

#include "commands/sandbox_int.h"

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
	    IS(1, SOCK_KIND, 1, SOCK_STREAM),
	    IS(2, SB_ANY, 2, 0, IPPROTO_TCP)),
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
	ALLOW(fallocate),   /* room for a refreshed token before its grant */
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
_Static_assert(NSYSCALLS <= SB_MAX_SYSCALLS,
    "sandbox: SB_MAX_SYSCALLS too small");

const struct sandbox_syscall *
sandbox_seccomp_table(size_t *n)
{
	*n = NSYSCALLS;
	return syscalls;
}
