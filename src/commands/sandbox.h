/*
 * sandbox: the filter's self-confinement (Landlock and seccomp-bpf), in the
 * spirit of OpenBSD's unveil(2) and pledge(2).
 */
#ifndef SANDBOX_H
#define SANDBOX_H
#include <stdio.h>

#include "parsers/config.h"

/*
 * Lock the calling process down to what one filter needs: read ca-file and
 * the config file, read and write in auth-dir and the logs directory, read
 * what name resolution needs; TCP connect only to the ports of the
 * configured upstreams, token endpoints and proxy; a seccomp allow-list of
 * system calls, with TCP sockets only (and UDP ones where the resolver asks
 * over UDP) and no memory writable and executable; PR_SET_MDWE where the
 * kernel has it. Irreversible, and inherited by any child. Under inetd,
 * log_init must have connected syslog's socket before.
 *
 * cfg->sandbox SANDBOX_OFF: nothing. SANDBOX_AUTO: whatever the kernel
 * supports; Landlock or seccomp not applied is said with log_warn (once per
 * process), a part of one the kernel lacks with log_debug; returns 0.
 * SANDBOX_REQUIRED: -1 (after log_err) when Landlock or seccomp cannot be
 * applied; the caller must then not serve.
 *
 * Only the per-connection filter calls this. The login flow, --status,
 * --refresh and the --serve parent bind ports, start a browser or fork:
 * they run without it.
 */
int sandbox_apply(const struct config *cfg);

/*
 * --sandbox-check: for each probe, fork a child that applies the sandbox as
 * a filter would and then tries something: forbidden things (read
 * /etc/shadow, /etc/passwd and ~/.ssh, write outside auth-dir, exec /bin/sh,
 * bind a TCP port, connect to a port that is no upstream's or to a Unix
 * stream socket, send UDP to a port no resolver uses, open a raw socket,
 * map memory writable and executable) and allowed ones (read ca-file,
 * write in auth-dir, resolve localhost and a name through DNS, connect to
 * an upstream's port). One line per probe on out. Returns 0 when every
 * forbidden attempt was denied and every allowed one worked, else 1
 * (main exits EXIT_SANDBOX).
 */
int sandbox_check(const struct config *cfg, FILE *out);

/*
 * A fingerprint of the inodes sandbox_apply's Landlock rules would name
 * now (ca-file, the config file, auth-dir, the logs directory, the system
 * files such as /etc/resolv.conf, through symlinks). A rule holds the
 * inode it was made on: a file replaced since (a renewed ca-file, a
 * rewritten resolv.conf) is outside a sandbox applied before. --serve
 * compares it to retire a spare sandboxed before such a change. 0 with
 * cfg->sandbox off.
 */
unsigned long long sandbox_inodes(const struct config *cfg);
/* Those paths (at most SANDBOX_RULE_FILES of them) into out; logs is room
 * for the logs directory's name. They come from the list the Landlock
 * rules are made from: every rule path but those never replaced whole
 * (/dev/null, the system directories). Returns how many; 0 with the
 * sandbox off. */
#define SANDBOX_RULE_FILES 16
size_t sandbox_rule_files(const struct config *cfg, const char **out,
    size_t max, char *logs, size_t logslen);

/*
 * Build the Landlock ruleset sandbox_apply would build, without enforcing
 * it, for children forked later (--serve's spares): their sandbox_apply
 * then only enforces it. The rules hold the inodes of now (see
 * sandbox_inodes). 0, or -1 when there is none to prepare (the children
 * build their own). sandbox_unprepare drops it.
 */
int sandbox_prepare(const struct config *cfg);
void sandbox_unprepare(void);

/* The TCP ports a filter may connect to (upstreams, token endpoints,
 * API-key base URLs, proxy-url, DNS), 0-terminated, into ports[
 * SANDBOX_MAX_PORTS]. */
#define SANDBOX_MAX_PORTS 64
void sandbox_ports(const struct config *cfg, unsigned *ports);

/* The kernel's Landlock ABI version, 0 when Landlock is unavailable. */
int sandbox_landlock_abi(void);

#endif
