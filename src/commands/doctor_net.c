/*
 * --doctor, the links past droid: who holds our port and whether it is
 * us, the socket unit that should listen there, and each upstream and
 * token endpoint (DNS, TCP, the TLS handshake with the certificate
 * checked). Only our own port is sent a request, GET /health, which the
 * proxy answers itself.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/doctor_int.h"
#include "network/net.h"
#include "network/tls.h"
#include "network/trust.h"

#define UNIT "cli-proxy-api.socket"

/* ----------------------------------------------------------------- port */

/* Inodes of the sockets listening on port, from /proc/net/tcp{,6}. */
static int
listen_inodes(int port, unsigned long *ino, int max)
{
	static const char *const files[] = { "/proc/net/tcp",
	    "/proc/net/tcp6" };
	char line[512];
	unsigned lport, st;
	unsigned long inode;
	int i, n = 0;
	FILE *f;

	for (i = 0; i < 2; i++) {
		if ((f = fopen(files[i], "re")) == NULL)
			continue;
		while (n < max && fgets(line, sizeof line, f) != NULL)
			if (sscanf(line, " %*d: %*x:%x %*x:%*x %x %*x:%*x "
			    "%*x:%*x %*x %*u %*u %lu", &lport, &st,
			    &inode) == 3 && (int)lport == port && st == 0x0A &&
			    inode != 0)
				ino[n++] = inode;
		fclose(f);
	}
	return n;
}

static int
pid_holds(long pid, const unsigned long *ino, int n)
{
	char dir[64], link[320], want[40], got[64];
	struct dirent *e;
	ssize_t r;
	DIR *fds;
	int i, hit = 0;

	snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
	if ((fds = opendir(dir)) == NULL)
		return 0;
	while (!hit && (e = readdir(fds)) != NULL) {
		snprintf(link, sizeof link, "%s/%s", dir, e->d_name);
		if ((r = readlink(link, got, sizeof got - 1)) <= 0)
			continue;
		got[r] = '\0';
		for (i = 0; i < n && !hit; i++) {
			snprintf(want, sizeof want, "socket:[%lu]", ino[i]);
			hit = strcmp(got, want) == 0;
		}
	}
	closedir(fds);
	return hit;
}

/* "python3, pid 42" for the process holding the listening socket, when
 * /proc lets us see it (our own processes, or all as root). */
static int
port_holder(int port, char *who, size_t len)
{
	unsigned long ino[16];
	char path[64], comm[64] = "?";
	struct dirent *e;
	long pid;
	DIR *proc;
	FILE *f;
	int n, found = 0;

	if ((n = listen_inodes(port, ino, 16)) == 0 ||
	    (proc = opendir("/proc")) == NULL)
		return -1;
	while (!found && (e = readdir(proc)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
		    !pid_holds((pid = atol(e->d_name)), ino, n))
			continue;
		snprintf(path, sizeof path, "/proc/%ld/comm", pid);
		if ((f = fopen(path, "re")) != NULL) {
			if (fgets(comm, sizeof comm, f) != NULL)
				comm[strcspn(comm, "\n")] = '\0';
			fclose(f);
		}
		snprintf(who, len, "%s, pid %ld", comm, pid);
		found = 1;
	}
	closedir(proc);
	return found ? 0 : -1;
}

/* GET /health over fd: is it us? Reads until EOF or 2 s pass. */
static int
answers_health(int fd)
{
	static const char req[] = "GET /health HTTP/1.1\r\nHost: localhost\r\n"
	    "Connection: close\r\n\r\n";
	char buf[2048];
	size_t have = 0;
	long long end = net_now_ms() + 2000;
	struct pollfd p = { fd, POLLIN, 0 };
	ssize_t r;

	if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
		return 0;
	while (have < sizeof buf - 1) {
		long long left = end - net_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if ((r = read(fd, buf + have, sizeof buf - 1 - have)) <= 0)
			break;
		have += (size_t)r;
	}
	buf[have] = '\0';
	return strncmp(buf, "HTTP/1.1 200", 12) == 0 &&
	    strstr(buf, "\r\n\r\n{\"status\":\"ok\"}") != NULL;
}

/* The address the clients use: the listen host, unless it is a wildcard. */
static const char *
client_host(const struct config *cfg)
{
	const char *h = cfg->host;

	if (h == NULL || *h == '\0' || strcmp(h, "0.0.0.0") == 0 ||
	    strcmp(h, "::") == 0 || strcmp(h, "*") == 0)
		return "127.0.0.1";
	return h;
}

void
doctor_port(struct doc *d, const struct config *cfg)
{
	const char *host = client_host(cfg);
	char port[8], err[512], who[128];
	int fd, to, known;

	snprintf(port, sizeof port, "%d", cfg->port);
	known = port_holder(cfg->port, who, sizeof who) == 0;
	if ((fd = net_connect(host, port, 2000, &to, err,
	    sizeof err)) == -1) {
		/* The unit's own line below names the manager (system or
		 * user) it is installed in, and the command for it. */
		doctor_say(d, DOC_WARN, "start " UNIT " as its line below "
		    "says, or run cli-proxy-api --serve",
		    "port %s:%s is free: nothing serves droid's requests yet",
		    host, port);
		return;
	}
	d->ours = answers_health(fd);
	close(fd);
	if (d->ours) {
		doctor_say(d, DOC_OK, NULL, "port %s:%s: cli-proxy-api "
		    "answers /health (%s%s)", host, port, known ? "held by " :
		    "socket unit, inetd or --serve", known ? who : "");
		return;
	}
	doctor_say(d, DOC_FAIL, "stop it, or give the proxy another port: in "
	    "the config (then cli-proxy-api --setup-droid)",
	    "port %s:%s is held by %s%s", host, port,
	    known ? who : "another program", known ? "" : " (not this proxy)");
}

/* -------------------------------------------------------------- systemd */

/* Run args (at most 4), first line of its stdout into out. Exit status,
 * or -1 when it could not run; 127 when the program is missing. */
static int
run_cmd(const char *const *args, char *out, size_t len)
{
	char store[4][32], *argv[5];
	struct pollfd p;
	long long end = net_now_ms() + 5000;
	size_t have = 0;
	ssize_t r;
	pid_t pid;
	int pfd[2], st, nul;

	out[0] = '\0';
	for (st = 0; st < 4 && args[st] != NULL; st++) {
		snprintf(store[st], sizeof store[st], "%s", args[st]);
		argv[st] = store[st];
	}
	argv[st] = NULL;
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		nul = open("/dev/null", O_RDWR);
		dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(nul, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	while (have < len - 1) {
		long long left = end - net_now_ms();

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		if ((r = read(pfd[0], out + have, len - 1 - have)) <= 0)
			break;
		have += (size_t)r;
	}
	out[have] = '\0';
	out[strcspn(out, "\n")] = '\0';
	close(pfd[0]);
	if (net_now_ms() >= end)
		kill(pid, SIGKILL);
	while ((r = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	return r != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* is-active and is-enabled of the socket unit, system or user. */
static void
unit_state(int user, char *active, char *enabled, size_t len)
{
	const char *act[] = { "systemctl", "is-active", UNIT, NULL, NULL };
	const char *ena[] = { "systemctl", "is-enabled", UNIT, NULL, NULL };

	if (user)
		act[3] = ena[3] = "--user";
	(void)run_cmd(act, active, len);
	(void)run_cmd(ena, enabled, len);
}

static int
installed(const char *enabled)
{
	return *enabled != '\0' && strcmp(enabled, "not-found") != 0;
}

/* The unit's state in the system manager ([0]) and the user's ([1]): an
 * active one is judged first, the system's before the user's; else an
 * installed one, the user's first. */
static void
report_unit(struct doc *d, char act[2][64], char ena[2][64])
{
	static const char *const scope[] = { "system", "user" };
	static const char *const flag[] = { "", "--user " };
	char fix[160];
	int s;

	for (s = 0; s < 2; s++) {
		if (strcmp(act[s], "active") != 0)
			continue;
		snprintf(fix, sizeof fix, "systemctl %senable " UNIT, flag[s]);
		if (strcmp(ena[s], "enabled") == 0)
			doctor_say(d, DOC_OK, NULL, UNIT " (%s) is listening "
			    "and enabled", scope[s]);
		else
			doctor_say(d, DOC_WARN, fix, UNIT " (%s) is listening "
			    "but %s: it will not listen after a reboot",
			    scope[s], ena[s][0] ? ena[s] : "not enabled");
		return;
	}
	for (s = 1; s >= 0; s--) {
		if (!installed(ena[s]))
			continue;
		snprintf(fix, sizeof fix, "systemctl %senable --now " UNIT,
		    flag[s]);
		if (d->ours)
			doctor_say(d, DOC_OK, NULL, UNIT " (%s) is installed "
			    "but not active; something else of ours serves "
			    "the port", scope[s]);
		else
			doctor_say(d, DOC_FAIL, fix, UNIT " (%s) is installed "
			    "but not listening (%s)", scope[s], act[s][0] ?
			    act[s] : "state unknown");
		return;
	}
	if (d->ours)
		doctor_say(d, DOC_OK, NULL, UNIT " is not installed; --serve "
		    "or inetd serves the port");
	else
		doctor_say(d, DOC_WARN, "make install, then systemctl --user "
		    "enable --now " UNIT " (or run cli-proxy-api --serve)",
		    UNIT " is not installed");
}

void
doctor_systemd(struct doc *d)
{
	const char *probe[] = { "systemctl", "--version", NULL };
	char act[2][64], ena[2][64], line[64];
	int s;

	if (run_cmd(probe, line, sizeof line) == 127) {
		doctor_say(d, DOC_WARN, NULL, "systemctl not found: the "
		    "socket unit is not checked (inetd, xinetd or --serve "
		    "serve as well)");
		return;
	}
	if (access("/run/systemd/system", F_OK) == -1) {
		doctor_say(d, DOC_WARN, NULL, "systemd is not running here "
		    "(a container?): the socket unit is not checked; use "
		    "--serve, inetd or xinetd");
		return;
	}
	for (s = 0; s < 2; s++)
		unit_state(s, act[s], ena[s], sizeof act[s]);
	report_unit(d, act, ena);
}

/* ------------------------------------------------------------ upstreams */

struct target {
	char label[160];        /* the config keys that name it */
	const struct url *u;
	int needed;             /* a provider with an account uses it */
};

static void
add_target(struct target *t, size_t *n, const char *label,
    const struct url *u, int needed)
{
	size_t i;

	if (u == NULL || u->host == NULL)
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(t[i].u->host, u->host) == 0 &&
		    strcmp(t[i].u->port, u->port) == 0) {
			snprintf(t[i].label + strlen(t[i].label),
			    sizeof t[i].label - strlen(t[i].label), ", %s",
			    label);
			t[i].needed |= needed;
			return;
		}
	snprintf(t[*n].label, sizeof t[*n].label, "%s", label);
	t[*n].u = u;
	t[(*n)++].needed = needed;
}

/* DNS, TCP, TLS with the certificate checked; no request. */
static void
probe(struct doc *d, const struct config *cfg, const struct trust *ta,
    struct upstream *up, const struct target *t)
{
	const struct proxy *px = &cfg->proxy;
	enum doc_level bad = t->needed ? DOC_FAIL : DOC_WARN;
	struct addrinfo hints, *res;
	char err[1024], via[300] = "";
	int ms = (cfg->connect_timeout < 5 ? cfg->connect_timeout : 5) * 1000;
	int r;

	if (px->kind != PROXY_NONE)
		snprintf(via, sizeof via, " through proxy %s:%s", px->host,
		    px->port);
	/* Names are the proxy's to resolve, except with socks5://. */
	if (px->kind == PROXY_NONE || px->kind == PROXY_SOCKS5) {
		memset(&hints, 0, sizeof hints);
		hints.ai_socktype = SOCK_STREAM;
		if ((r = getaddrinfo(t->u->host, t->u->port, &hints,
		    &res)) != 0) {
			doctor_say(d, bad, "check the host name, the network "
			    "and /etc/resolv.conf", "%s %s: DNS: %s", t->label,
			    t->u->host, gai_strerror(r));
			return;
		}
		freeaddrinfo(res);
	}
	r = up_connect(up, t->u, px, ta, ms, err, sizeof err);
	up_close(up);
	if (r == UP_OK)
		doctor_say(d, DOC_OK, NULL, "%s %s:%s: DNS, TCP connect and "
		    "TLS handshake (certificate verified)%s", t->label,
		    t->u->host, t->u->port, via);
	else if (r == UP_TLS)
		doctor_say(d, bad, "if a proxy or firewall intercepts TLS, "
		    "add its CA to ca-file; else check the clock and ca-file",
		    "%s %s:%s: TLS: %s%s", t->label, t->u->host, t->u->port,
		    err, via);
	else
		doctor_say(d, bad, px->kind != PROXY_NONE ? "check proxy-url "
		    "and the proxy" : "check the network, a firewall, or set "
		    "proxy-url", "%s %s:%s: TCP connect%s: %s", t->label,
		    t->u->host, t->u->port, r == UP_TIMEOUT ? " timed out" :
		    " failed", err);
}

void
doctor_upstreams(struct doc *d, const struct config *cfg, int claude,
    int codex)
{
	size_t n = 0, i, max = 4 + cfg->n_claude_keys + cfg->n_codex_keys;
	struct target *t = calloc(max, sizeof *t);
	struct upstream *up = malloc(sizeof *up);
	struct trust ta;
	char err[1024], label[48];

	if (t == NULL || up == NULL) {
		doctor_say(d, DOC_FAIL, NULL, "upstreams: out of memory");
		goto out;
	}
	if (trust_load(&ta, cfg->ca_file, err, sizeof err) == -1) {
		doctor_say(d, DOC_FAIL, "set ca-file to a PEM bundle (Debian: "
		    "apt-get install ca-certificates)", "%s", err);
		goto out;
	}
	add_target(t, &n, "claude-base-url", &cfg->claude_base, claude);
	add_target(t, &n, "claude-token-url", &cfg->claude_token_url, claude);
	add_target(t, &n, "codex-base-url", &cfg->codex_base, codex);
	add_target(t, &n, "codex-token-url", &cfg->codex_token_url, codex);
	for (i = 0; i < cfg->n_claude_keys; i++) {
		snprintf(label, sizeof label, "claude-api-key %zu base-url",
		    i + 1);
		add_target(t, &n, label, &cfg->claude_keys[i].base, 1);
	}
	for (i = 0; i < cfg->n_codex_keys; i++) {
		snprintf(label, sizeof label, "codex-api-key %zu base-url",
		    i + 1);
		add_target(t, &n, label, &cfg->codex_keys[i].base, 1);
	}
	up_init(up);
	for (i = 0; i < n; i++)
		probe(d, cfg, &ta, up, &t[i]);
	trust_free(&ta);
out:
	free(t);
	free(up);
}
