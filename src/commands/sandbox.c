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
 *   and death for the calls that can only mean an attacker is at work;
 *   TCP sockets (UDP too where the resolver needs it), no memory writable
 *   and executable at once. With it goes PR_SET_MDWE (6.3+): no memory
 *   executable once written.
 *
 * Only the per-connection filter is sandboxed: the login flow binds a
 * callback port and starts a browser, --status and --refresh are short
 * runs by the user, the --serve parent binds and forks (it only builds
 * the Landlock ruleset its spares enforce). This file is the policy: the
 * paths and ports a filter may use and when each layer goes on. The
 * Landlock rules are made in sandbox_landlock.c, the seccomp program (no
 * libseccomp: one table) in sandbox_seccomp.c; --sandbox-check is in
 * sandbox_check.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/sandbox.h"
#include "commands/sandbox_int.h"
#include "support/log.h"

#define NITEMS(a) (sizeof (a) / sizeof (a)[0])

/*
 * What a filter reads besides its own files. Name resolution: glibc's
 * getaddrinfo reads these, may dlopen NSS modules late (from the library
 * directories, through ld.so.cache) and syslog(3) formats its local time
 * from /etc/localtime. A rule on a symlink lands on its target, as the
 * opens that follow it do. Files, then directories: the kind is known
 * here, so no fstat per path (a Landlock rule copes with a surprise).
 */
static const char *const system_files[] = {
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf",
	"/etc/gai.conf", "/etc/host.conf", "/etc/services", "/etc/ld.so.cache",
	"/etc/localtime", "/dev/urandom",
};
static const char *const system_dirs[] = {
	"/usr/share/zoneinfo", "/run/systemd/resolve",
	"/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib",
};

/* The config's four paths, then the system's. */
_Static_assert(4 + NITEMS(system_files) + 1 + NITEMS(system_dirs) <=
    SB_MAX_PATHS, "sandbox_paths: SB_MAX_PATHS too small");
_Static_assert(4 + NITEMS(system_files) <= SANDBOX_RULE_FILES,
    "sandbox_rule_files: SANDBOX_RULE_FILES too small");

static void
put_path(struct sandbox_path *out, size_t *n, const char *path, int access,
    int flags)
{
	if (path == NULL)
		return;
	out[*n].path = path;
	out[*n].access = access;
	out[*n].flags = flags;
	(*n)++;
}

size_t
sandbox_paths(const struct config *cfg, struct sandbox_path *out,
    char *logs, size_t logslen)
{
	size_t n = 0, i;

	put_path(out, &n, cfg->ca_file, SB_PATH_READ, SB_PATH_WATCH);
	put_path(out, &n, cfg->path, SB_PATH_READ, SB_PATH_WATCH);
	put_path(out, &n, cfg->auth_dir, SB_PATH_RW_TREE, SB_PATH_WATCH);
	if (cfg->logging_to_file && log_dir(cfg->path, cfg->auth_dir, logs,
	    logslen) == 0)
		put_path(out, &n, logs, SB_PATH_RW_TREE,
		    SB_PATH_WATCH | SB_PATH_MKDIR);
	for (i = 0; i < NITEMS(system_files); i++)
		put_path(out, &n, system_files[i], SB_PATH_READ,
		    SB_PATH_WATCH);
	/* Not watched: /dev/null, and the system directories (/usr/lib,
	 * /run/systemd/resolve ...): they are not replaced whole in
	 * practice, and a recreated /run/systemd/resolve shows through the
	 * resolv.conf symlink. */
	put_path(out, &n, "/dev/null", SB_PATH_RW_FILE, 0);
	for (i = 0; i < NITEMS(system_dirs); i++)
		put_path(out, &n, system_dirs[i], SB_PATH_READ_TREE, 0);
	return n;
}

size_t
sandbox_rule_files(const struct config *cfg, const char **out, size_t max,
    char *logs, size_t logslen)
{
	struct sandbox_path p[SB_MAX_PATHS];
	size_t i, n, k = 0;

	if (cfg->sandbox == SANDBOX_OFF)
		return 0;
	n = sandbox_paths(cfg, p, logs, logslen);
	for (i = 0; i < n && k < max; i++)
		if (p[i].flags & SB_PATH_WATCH)
			out[k++] = p[i].path;
	return k;
}

/* The fingerprint: FNV-1a over each rule file's device and inode numbers
 * (zeros for one that is not there). */
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

/* A ruleset built ahead by sandbox_prepare (inherited by fork), its
 * verdict and what sandbox_landlock_build said. */
static struct {
	int fd;
	int rc;
	char why[256];
} ready = { -1, -1, "" };

/* Enforce the prepared ruleset, or build one and enforce it: as
 * sandbox_landlock_build. */
static int
landlock_apply(const struct config *cfg, int abi, char *why, size_t whylen)
{
	int rs, rc;

	if (ready.fd != -1) {
		rs = ready.fd;
		rc = ready.rc;
		snprintf(why, whylen, "%s", ready.why);
	} else if ((rc = sandbox_landlock_build(cfg, abi, &rs, why, whylen))
	    == -1)
		return -1;
	if (sandbox_landlock_restrict(rs, why, whylen) == -1)
		rc = -1;
	close(rs);
	ready.fd = -1;
	return rc;
}

int
sandbox_prepare(const struct config *cfg)
{
	sandbox_unprepare();
	if (cfg->sandbox != SANDBOX_OFF)
		sandbox_seccomp_build(sandbox_udp(cfg));
#if defined(__SANITIZE_ADDRESS__)
	/* The /proc rule of SANITIZE builds must name the child's own /proc
	 * directory: those build theirs in the child. */
	(void)cfg;
	return -1;
#else
	if (cfg->sandbox == SANDBOX_OFF)
		return -1;
	ready.rc = sandbox_landlock_build(cfg, sandbox_landlock_abi(),
	    &ready.fd, ready.why, sizeof ready.why);
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

/* No memory made executable once written: the seccomp list refuses only
 * writable and executable at once, blind to what a page was before. 0, or
 * -1 with why set (before Linux 6.3: EINVAL). */
static int
refuse_exec_gain(char *why, size_t whylen)
{
	if (prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0)
		return 0;
	snprintf(why, whylen, "PR_SET_MDWE: %s: memory once written may "
	    "still be made executable", strerror(errno));
	return -1;
}

static int
is_name(const char *host)
{
	unsigned char a[sizeof(struct in6_addr)];

	return host != NULL && inet_pton(AF_INET, host, a) != 1 &&
	    inet_pton(AF_INET6, host, a) != 1;
}

/* The hosts of sandbox_ports. */
int
sandbox_names_a_host(const struct config *cfg)
{
	size_t i;
	int n;

	n = is_name(cfg->claude_base.host) || is_name(cfg->codex_base.host) ||
	    is_name(cfg->claude_token_url.host) ||
	    is_name(cfg->codex_token_url.host) ||
	    (cfg->proxy.kind != PROXY_NONE && is_name(cfg->proxy.host));
	for (i = 0; !n && i < cfg->n_claude_keys; i++)
		n = is_name(cfg->claude_keys[i].base.host);
	for (i = 0; !n && i < cfg->n_codex_keys; i++)
		n = is_name(cfg->codex_keys[i].base.host);
	return n;
}

/* A nameserver may answer only over UDP (some container and VM networks
 * carry nothing else on port 53), so the resolver keeps it unless told to
 * use TCP; res_init reads that where getaddrinfo will, resolv.conf and
 * RES_OPTIONS. */
int
sandbox_udp(const struct config *cfg)
{
	if (!sandbox_names_a_host(cfg))
		return 0;
	return res_init() == -1 || !(_res.options & RES_USEVC);
}

/* A layer that could not be applied under sandbox: auto is said at warning
 * level, once per process. */
static int warned;

void
sandbox_quiet(void)
{
	warned = 1;
}

static void
warn_once(int ll, const char *ll_why, int sc, const char *sc_why)
{
	/* Without PR_SET_NO_NEW_PRIVS both say the same. */
	int both = ll == -1 && sc == -1 && strcmp(ll_why, sc_why) != 0;

	if (warned || (ll != -1 && sc != -1))
		return;
	log_warn("sandbox: %s%s%s: serving without %s (sandbox: auto)",
	    ll == -1 ? ll_why : sc_why, both ? " and " : "", both ? sc_why :
	    "", ll == -1 && sc == -1 ? "Landlock and seccomp" : ll == -1 ?
	    "Landlock's file and port rules" : "the seccomp system call list");
}

int
sandbox_apply(const struct config *cfg)
{
	char ll_why[256] = "", sc_why[256] = "", wx_why[128] = "";
	int ll, sc = -1, udp;

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
		/* Landlock and MDWE first: their calls are not on the list. */
		if (refuse_exec_gain(wx_why, sizeof wx_why) == -1)
			log_debug("sandbox: %s", wx_why);
		udp = sandbox_udp(cfg);
		ll = landlock_apply(cfg, sandbox_landlock_abi(), ll_why,
		    sizeof ll_why);
		sc = sandbox_seccomp_apply(udp, sc_why, sizeof sc_why);
	}
	if (cfg->sandbox == SANDBOX_REQUIRED && (ll == -1 || sc == -1)) {
		log_err("sandbox: required, but %s%s%s: not serving; set "
		    "sandbox: auto in the config to serve without it",
		    ll == -1 ? ll_why : "",
		    ll == -1 && sc == -1 ? " and " : "",
		    sc == -1 ? sc_why : "");
		return -1;
	}
	/* Landlock without TCP port rules (ABI < 4) is there in part. */
	if (ll == 1)
		log_debug("sandbox: %s", ll_why);
	warn_once(ll, ll_why, sc, sc_why);
	warned = 1;
	return 0;
}
