/*
 * --sandbox-check: each probe is a child that applies the sandbox as a
 * filter would and then tries one thing (sandbox_probe.c); its exit
 * status says what happened (a signal: killed by seccomp).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/sandbox.h"
#include "commands/sandbox_int.h"

/* What a probe child reports through its exit status: 0, an errno, or
 * this. */
#define PROBE_NOSANDBOX 254

struct probe_ctx {
	const struct config *cfg;
	int what;               /* SB_TRY_* */
	const char *path;
	int port;
	int plain;              /* 1: without the sandbox, as a control */
};

/* Make attempt p->what in a sandboxed child (p->plain: one without).
 * Returns what happened, as a line's tail in out, and 1 if the attempt
 * went through, 0 if it was stopped, -1 if the sandbox itself could not
 * be applied. */
static int
probe(const struct probe_ctx *p, char *out, size_t outlen)
{
	pid_t pid;
	int st;

	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(out, outlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (!p->plain && sandbox_apply(p->cfg) == -1)
			_exit(PROBE_NOSANDBOX);
		_exit(sandbox_try(p->what, p->path, p->port) & 0xff);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR) {
			snprintf(out, outlen, "waitpid: %s", strerror(errno));
			return -1;
		}
	if (WIFSIGNALED(st)) {
		snprintf(out, outlen, "killed by %s", WTERMSIG(st) == SIGSYS ?
		    "SIGSYS (seccomp)" : strsignal(WTERMSIG(st)));
		return 0;
	}
	if (WEXITSTATUS(st) == PROBE_NOSANDBOX) {
		snprintf(out, outlen, "the sandbox could not be applied");
		return -1;
	}
	if (WEXITSTATUS(st) == 0) {
		snprintf(out, outlen, "ok");
		return 1;
	}
	snprintf(out, outlen, "%s (errno %d)", strerror(WEXITSTATUS(st)),
	    WEXITSTATUS(st));
	return 0;
}

/* A TCP listener on 127.0.0.1 at a port no upstream uses: a connection
 * to it is refused only by the sandbox. The fd, port in *port. */
static int
listener(const unsigned *ports, int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd, i, tries;

	for (tries = 0; tries < 8; tries++) {
		if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0))
		    == -1)
			return -1;
		sandbox_loopback(&sa, 0);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
		    listen(fd, 1) == -1 ||
		    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
			close(fd);
			return -1;
		}
		*port = ntohs(sa.sin_port);
		for (i = 0; ports[i] != 0 && ports[i] != (unsigned)*port; i++)
			;
		if (ports[i] == 0)
			return fd;
		close(fd);
	}
	return -1;
}

static int
exists(const char *path)
{
	struct stat st;

	return path != NULL && *path != '\0' && stat(path, &st) == 0;
}

/* What the probes need there: a TCP listener at a port no upstream uses,
 * a UDP port of ours and a Unix stream listener, so that only the sandbox
 * can stop a probe reaching them. */
struct fixtures {
	int tcp, tcp_port;
	int udp, udp_port;
	int un;
	char dir[4096], sock[4200];
};

static int
udp_port(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	sandbox_loopback(&sa, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A listening Unix stream socket in a directory of its own under tmp. */
static int
unix_listener(struct fixtures *fx, const char *tmp)
{
	struct sockaddr_un sa;
	int fd;

	snprintf(fx->dir, sizeof fx->dir, "%s/cli-proxy-api-sandbox.XXXXXX",
	    tmp);
	if (mkdtemp(fx->dir) == NULL) {
		fx->dir[0] = '\0';
		return -1;
	}
	snprintf(fx->sock, sizeof fx->sock, "%s/agent.sock", fx->dir);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(fx->sock) >= sizeof sa.sun_path ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memcpy(sa.sun_path, fx->sock, strlen(fx->sock));
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    listen(fd, 1) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static void
fixtures_open(struct fixtures *fx, const unsigned *ports, const char *tmp)
{
	fx->tcp_port = fx->udp_port = 0;
	fx->tcp = listener(ports, &fx->tcp_port);
	fx->udp = udp_port(&fx->udp_port);
	fx->un = unix_listener(fx, tmp);
}

static void
fixtures_close(struct fixtures *fx)
{
	if (fx->tcp != -1)
		close(fx->tcp);
	if (fx->udp != -1)
		close(fx->udp);
	if (fx->un != -1)
		close(fx->un);
	if (fx->dir[0] != '\0') {
		unlink(fx->sock);
		rmdir(fx->dir);
	}
}

/* One attempt of --sandbox-check. */
struct attempt {
	const char *label;
	int what;               /* SB_TRY_* */
	const char *path;       /* what it opens, NULL when none */
	int port;
	int must_work;          /* 1: must work, 0: must be denied */
	const char *untested;   /* why it is not made; NULL: it is */
};

#define NOT_THERE "not there to try"
#define UDP_OPEN "the resolver asks over UDP here, and a UDP socket may " \
    "be sent anywhere (\"options use-vc\" in resolv.conf or RES_OPTIONS, " \
    "with a nameserver that answers over TCP, takes UDP away)"

/* What the sandbox is made of here: the mode, the Landlock ABI with the
 * ports it allows, seccomp, memory. */
static void
print_layers(const struct config *cfg, const unsigned *ports, FILE *out)
{
	static const char *const mode[] = { "auto", "required", "off" };
	int abi = sandbox_landlock_abi(), i;

	fprintf(out, "sandbox: %s (config %s)\n", mode[cfg->sandbox],
	    cfg->path ? cfg->path : "built-in defaults");
	if (abi == 0)
		fprintf(out, "landlock: not available in this kernel\n");
	else {
		fprintf(out, "landlock: ABI %d: files%s", abi, abi >= 4 ?
		    "; TCP connect only to ports" : "; TCP ports not "
		    "restricted (needs ABI 4)");
		for (i = 0; abi >= 4 && ports[i] != 0; i++)
			fprintf(out, " %u", ports[i]);
		fprintf(out, "%s\n", abi >= 4 ? "; no bind" : "");
	}
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) == -1 && errno == EINVAL)
		fprintf(out, "seccomp: not available in this kernel\n");
	else
		fprintf(out, "seccomp: allow-list, EPERM for the rest, SIGSYS "
		    "for exec and the like; sockets: TCP%s; no memory "
		    "writable and executable\n", sandbox_udp(cfg) ? ", UDP "
		    "for the resolver (to any port)" : " only");
	fprintf(out, "mdwe: %s\n", prctl(PR_GET_MDWE, 0, 0, 0, 0) == -1 ?
	    "not available in this kernel (Linux 6.3)" : "no memory made "
	    "executable once written");
}

/* Make attempt a in a sandboxed child and say on out how it went. 1 when
 * it went the wrong way or could not be made, else 0. */
static int
try_attempt(const struct config *cfg, const struct attempt *a, FILE *out)
{
	struct probe_ctx p = { cfg, a->what, a->path, a->port, 0 };
	char what[4400], res[300];
	int r;

	if (a->port)
		snprintf(what, sizeof what, "%s (%d)", a->label, a->port);
	else if (a->path && a->what != SB_TRY_RESOLVE &&
	    a->what != SB_TRY_DNS)
		snprintf(what, sizeof what, "%s (%s)", a->label, a->path);
	else
		snprintf(what, sizeof what, "%s", a->label);
	/* Trying what is not there would prove nothing. */
	if (a->untested) {
		fprintf(out, "untested %s: %s\n", what, a->untested);
		return 0;
	}
	r = probe(&p, res, sizeof res);
	if (r == -1) {
		fprintf(out, "FAILED %s: %s\n", what, res);
		return 1;
	}
	if (a->must_work) {
		fprintf(out, "%s %s: %s\n", r ? "allowed" : "DENIED", what,
		    res);
		return !r;
	}
	fprintf(out, "%s %s: %s\n", r ? "ALLOWED" : "denied", what, res);
	return r;
}

/* A name that no hosts file has: only a nameserver answers it. */
#define DNS_NAME "cli-proxy-api-sandbox-check.invalid."

/* Whether a nameserver answers here at all, without the sandbox: NULL, or
 * why the DNS attempt proves nothing (in buf). */
static const char *
dns_control(const struct config *cfg, char *buf, size_t len)
{
	struct probe_ctx p = { cfg, SB_TRY_DNS, DNS_NAME, 0, 1 };
	char res[300];

	if (probe(&p, res, sizeof res) == 1)
		return NULL;
	snprintf(buf, len, "no nameserver answers here without the sandbox "
	    "either (%s)", res);
	return buf;
}

/* The forbidden attempts into a; how many. */
static size_t
forbidden(struct attempt *a, const struct fixtures *fx, int udp,
    const char *ssh, const char *key, const char *outside)
{
	size_t n = 0;

	a[n++] = (struct attempt){ "read /etc/shadow", SB_TRY_READ,
	    "/etc/shadow", 0, 0, exists("/etc/shadow") ? NULL : NOT_THERE };
	/* Readable by everyone: only the sandbox can refuse it. */
	a[n++] = (struct attempt){ "read /etc/passwd", SB_TRY_READ,
	    "/etc/passwd", 0, 0, exists("/etc/passwd") ? NULL : NOT_THERE };
	a[n++] = (struct attempt){ "open ~/.ssh", SB_TRY_OPENDIR, ssh, 0, 0,
	    exists(ssh) ? NULL : NOT_THERE };
	a[n++] = (struct attempt){ "read ~/.ssh", SB_TRY_READ, key, 0, 0,
	    exists(key) ? NULL : NOT_THERE };
	a[n++] = (struct attempt){ "write outside auth-dir", SB_TRY_WRITE,
	    outside, 0, 0, NULL };
	a[n++] = (struct attempt){ "exec /bin/sh", SB_TRY_EXEC, "/bin/sh", 0,
	    0, exists("/bin/sh") ? NULL : NOT_THERE };
	a[n++] = (struct attempt){ "bind TCP 127.0.0.1 port 0", SB_TRY_BIND,
	    NULL, 0, 0, NULL };
	a[n++] = (struct attempt){ "connect TCP 127.0.0.1 to a port no "
	    "upstream uses", SB_TRY_CONNECT, NULL, fx->tcp_port, 0,
	    fx->tcp == -1 ? NOT_THERE : NULL };
	a[n++] = (struct attempt){ "connect to a Unix stream socket",
	    SB_TRY_UNIX, fx->sock, 0, 0, fx->un == -1 ? NOT_THERE : NULL };
	a[n++] = (struct attempt){ "send UDP to 127.0.0.1 at a port no "
	    "resolver uses", SB_TRY_UDP, NULL, fx->udp_port, 0,
	    fx->udp == -1 ? NOT_THERE : udp ? UDP_OPEN : NULL };
	a[n++] = (struct attempt){ geteuid() == 0 ? "open a raw, packet or "
	    "netlink socket" : "open a raw, packet or netlink socket (not "
	    "root: the kernel refuses raw and packet ones anyway)",
	    SB_TRY_RAW, NULL, 0, 0, NULL };
	a[n++] = (struct attempt){ "map memory writable and executable",
	    SB_TRY_MAP_WX, NULL, 0, 0, NULL };
	a[n++] = (struct attempt){ "make a writable page executable",
	    SB_TRY_PROTECT_WX, NULL, 0, 0, NULL };
	a[n++] = (struct attempt){ "make written memory executable",
	    SB_TRY_EXEC_GAIN, NULL, 0, 0, NULL };
	return n;
}

int
sandbox_check(const struct config *cfg, FILE *out)
{
	struct attempt a[24];
	struct fixtures fx;
	unsigned ports[SANDBOX_MAX_PORTS];
	char ssh[4096], key[4200], outside[4096], inside[4200], tmpf[4200];
	char dns_why[400];
	const char *home = getenv("HOME"), *tmp = getenv("TMPDIR");
	struct stat st;
	int bad = 0;
	size_t n, k;

	sandbox_ports(cfg, ports);
	print_layers(cfg, ports, out);
	sandbox_quiet();
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	ssh[0] = key[0] = '\0';
	if (home && *home) {
		snprintf(ssh, sizeof ssh, "%s/.ssh", home);
		snprintf(key, sizeof key, "%s/.ssh/id_ed25519", home);
		if (stat(key, &st) == -1)
			snprintf(key, sizeof key, "%s/.ssh/authorized_keys",
			    home);
	}
	snprintf(outside, sizeof outside, "%s/cli-proxy-api-sandbox-probe.%ld",
	    tmp, (long)getpid());
	snprintf(inside, sizeof inside, "%s/.sandbox-probe.%ld", cfg->auth_dir,
	    (long)getpid());
	fixtures_open(&fx, ports, tmp);

	n = forbidden(a, &fx, cfg->sandbox != SANDBOX_OFF && sandbox_udp(cfg),
	    ssh, key, outside);
	a[n++] = (struct attempt){ "read ca-file", SB_TRY_READ, cfg->ca_file,
	    0, 1, exists(cfg->ca_file) ? NULL : NOT_THERE };
	a[n++] = (struct attempt){ "write in auth-dir", SB_TRY_WRITE, inside,
	    0, 1, exists(cfg->auth_dir) ? NULL : NOT_THERE };
	a[n++] = (struct attempt){ "resolve localhost", SB_TRY_RESOLVE,
	    "localhost", 0, 1, NULL };
	a[n++] = (struct attempt){ "resolve through DNS", SB_TRY_DNS,
	    DNS_NAME, 0, 1, !sandbox_names_a_host(cfg) ? "every host in the "
	    "config is an address: a filter resolves no name" :
	    dns_control(cfg, dns_why, sizeof dns_why) };
	a[n++] = (struct attempt){ "connect TCP 127.0.0.1 to the first "
	    "upstream's port", SB_TRY_CONNECT, NULL, (int)ports[0], 1, NULL };

	for (k = 0; k < n; k++)
		bad |= try_attempt(cfg, &a[k], out);
	fixtures_close(&fx);
	/* A write that went through was undone by the child; a crash
	 * between may leave these. */
	unlink(outside);
	snprintf(tmpf, sizeof tmpf, "%s.tmp", outside);
	unlink(tmpf);
	fprintf(out, "sandbox check: %s\n", bad ? "FAILED" : "passed");
	fflush(out);
	return bad;
}
