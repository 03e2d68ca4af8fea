/*
 * --doctor: walk the chain a request takes, from droid's settings to the
 * provider's certificate, and say which link is broken and how to mend
 * it. Every check only looks: it reads files, connects to our own port
 * (GET /health, answered locally) and handshakes with each upstream, but
 * sends the providers nothing and writes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "doctor.h"
#include "droid.h"
#include "filter.h"
#include "net.h"
#include "secret.h"
#include "timefmt.h"
#include "tls.h"
#include "view.h"

#define UNIT "cli-proxy-api.socket"

enum level { OK, WARN, FAIL };

struct doc {
	FILE *out;
	int fails;
	int ours;               /* our proxy answers on the port */
};

static void say(struct doc *d, enum level l, const char *fix,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* "ok   what", "warn what -> fix", "FAIL what -> fix". */
static void
say(struct doc *d, enum level l, const char *fix, const char *fmt, ...)
{
	static const char *const tag[] = { "ok   ", "warn ", "FAIL " };
	va_list ap;

	fputs(tag[l], d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	if (fix != NULL && *fix != '\0')
		fprintf(d->out, " -> %s", fix);
	fputc('\n', d->out);
	/* A line as soon as its check is done: some wait on the network. */
	fflush(d->out);
	d->fails += l == FAIL;
}

/* ------------------------------------------------------------- accounts */

/* A refusal of a kind of client: what the user can do about it. */
static void
report_refusals(struct doc *d, const struct view *v, time_t now, int *bad)
{
	char r[32];
	int i;

	for (i = 0; i < 2; i++) {
		if (v->refused[i].at == 0)
			continue;
		++*bad;
		timefmt_rel(v->refused[i].at, now, r, sizeof r);
		say(d, WARN, i ? "add an API key account (claude-api-key), turn "
		    "on extra usage at claude.ai, or run Claude Code without the "
		    "proxy" : "turn on extra usage for the account at claude.ai, "
		    "add an API key account (claude-api-key), or use Claude Code "
		    "itself", "account %s %s: %s use refused %s%s%s",
		    v->provider, v->name, i ? "Claude Code" : "third-party", r,
		    v->refused[i].reason[0] ? ": " : "", v->refused[i].reason);
	}
}

/* Its expiry and refresh token: can it go on being refreshed? */
static void
report_expiry(struct doc *d, const struct view *v, time_t now,
    const char *fix, int *bad)
{
	char r[32];

	if (v->expires != 0 && v->expires <= now) {
		++*bad;
		timefmt_rel(v->expires, now, r, sizeof r);
		if (v->has_refresh)
			say(d, WARN, "nothing to do (cli-proxy-api --refresh "
			    "refreshes it now)",
			    "account %s %s expired %s; it will refresh on the "
			    "next request", v->provider, v->name, r);
		else
			say(d, FAIL, fix, "account %s %s expired %s and has no "
			    "refresh token", v->provider, v->name, r);
	} else if (!v->has_refresh) {
		++*bad;
		timefmt_rel(v->expires, now, r, sizeof r);
		say(d, WARN, fix, "account %s %s has no refresh token: it "
		    "stops working when it expires%s%s", v->provider, v->name,
		    v->expires ? " " : "", v->expires ? r : "");
	}
}

/* One token file's account: each thing wrong on its own line, else one
 * ok line. */
static void
report_account(struct doc *d, const struct view *v, time_t now)
{
	char r[32], fix[96];
	int bad = 0;

	snprintf(fix, sizeof fix, "run cli-proxy-api --%s-login", v->provider);
	if (!v->loaded) {
		say(d, FAIL, fix, "account %s %s: %s", v->provider, v->name,
		    v->problem);
		return;
	}
	if (v->disabled && ++bad)
		say(d, WARN, "remove \"disabled\" from its file to use it",
		    "account %s %s is disabled", v->provider, v->name);
	if (v->needs_login && ++bad)
		say(d, FAIL, fix, "account %s %s needs a new login (its "
		    "refresh token was refused)", v->provider, v->name);
	report_expiry(d, v, now, fix, &bad);
	report_refusals(d, v, now, &bad);
	if (v->cooldown_until && ++bad) {
		timefmt_rel(v->cooldown_until, now, r, sizeof r);
		say(d, WARN, "wait, or add another account", "account %s %s is "
		    "cooling down after a rate limit; ready again %s",
		    v->provider, v->name, r);
	}
	if (bad)
		return;
	if (v->expires) {
		timefmt_rel(v->expires, now, r, sizeof r);
		say(d, OK, NULL, "account %s %s: expires %s, refresh token "
		    "present", v->provider, v->name, r);
	} else
		say(d, OK, NULL, "account %s %s: expiry unknown, refresh token "
		    "present", v->provider, v->name);
}

/* Every account as the view has it; at least one must be usable. */
static void
check_accounts(struct doc *d, const struct config *cfg)
{
	struct view *v;
	char fix[4400];
	time_t now = time(NULL);
	size_t n, i;
	int usable = 0;

	if (view_accounts(cfg, now, &v, &n) == -1) {
		say(d, FAIL, "fix its owner or mode (chmod 700)", "cannot read "
		    "auth-dir %s: %s", cfg->auth_dir, strerror(errno));
		return;
	}
	for (i = 0; i < n; i++) {
		if (v[i].kind == ACCT_APIKEY)
			say(d, OK, NULL, "account %s: an API key from the "
			    "config", v[i].id);
		else if (v[i].mode & 077) {
			snprintf(fix, sizeof fix, "chmod 600 %s/%s",
			    cfg->auth_dir, v[i].id);
			say(d, FAIL, fix, "token file %s/%s is mode %04o: the "
			    "proxy refuses token files others can read",
			    cfg->auth_dir, v[i].id, v[i].mode);
			continue;
		} else
			report_account(d, &v[i], now);
		usable += view_usable(&v[i], now);
	}
	free(v);
	if (usable == 0)
		say(d, FAIL, "run cli-proxy-api --claude-login or --codex-login",
		    "no usable account in %s and no API key in the config",
		    cfg->auth_dir);
}

/* ------------------------------------------------------- config, files */

/* The config, or the defaults when it is broken: the other links are
 * worth checking either way. */
static int
check_config(struct doc *d, const char *path, struct config *cfg)
{
	char err[1024];

	if (config_load(path, cfg, err, sizeof err) == 0) {
		if (cfg->path != NULL)
			say(d, OK, NULL, "config %s", cfg->path);
		else
			say(d, OK, NULL, "config: no config file found; the "
			    "built-in defaults are used");
		return 0;
	}
	say(d, FAIL, "fix the file at that place, or point --config at the "
	    "right one", "config: %s", err);
	if (config_defaults(cfg) == -1)
		return -1;
	say(d, WARN, NULL, "the checks below use the built-in defaults");
	return 0;
}

static void
check_auth_dir(struct doc *d, const struct config *cfg)
{
	struct stat st;
	char fix[4200];

	int missing = stat(cfg->auth_dir, &st) == -1;

	if (missing || !S_ISDIR(st.st_mode)) {
		snprintf(fix, sizeof fix, "run cli-proxy-api --claude-login "
		    "(it makes it), or mkdir -m 700 %s", cfg->auth_dir);
		say(d, FAIL, fix, "auth-dir %s: %s", cfg->auth_dir,
		    missing ? strerror(errno) : "not a directory");
		return;
	}
	if (st.st_mode & 077) {
		snprintf(fix, sizeof fix, "chmod 700 %s", cfg->auth_dir);
		say(d, WARN, fix, "auth-dir %s is mode %04o: others can list "
		    "the accounts", cfg->auth_dir,
		    (unsigned)(st.st_mode & 07777));
	} else
		say(d, OK, NULL, "auth-dir %s (0700)", cfg->auth_dir);
}

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

/* "python3 (pid 42)" for the process holding the listening socket, when
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

static void
check_port(struct doc *d, const struct config *cfg)
{
	const char *host = client_host(cfg);
	char port[8], err[512], who[128], fix[256];
	int fd, to, known;

	snprintf(port, sizeof port, "%d", cfg->port);
	known = port_holder(cfg->port, who, sizeof who) == 0;
	if ((fd = net_connect(host, port, 2000, &to, err,
	    sizeof err)) == -1) {
		say(d, WARN, "start it: systemctl --user enable --now "
		    UNIT ", or cli-proxy-api --serve", "port %s:%s is free: "
		    "nothing serves droid's requests yet", host, port);
		return;
	}
	d->ours = answers_health(fd);
	close(fd);
	if (d->ours) {
		say(d, OK, NULL, "port %s:%s: cli-proxy-api answers /health "
		    "(%s%s)", host, port, known ? "held by " : "socket unit, "
		    "inetd or --serve", known ? who : "");
		return;
	}
	snprintf(fix, sizeof fix, "stop it, or give the proxy another port: "
	    "in the config (then cli-proxy-api --setup-droid)");
	say(d, FAIL, fix, "port %s:%s is held by %s%s", host, port,
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

static void
check_systemd(struct doc *d)
{
	const char *probe[] = { "systemctl", "--version", NULL };
	char act[2][64], ena[2][64], line[64], fix[160];
	const char *scope[] = { "system", "user" }, *flag[] = { "", "--user " };
	int s;

	if (run_cmd(probe, line, sizeof line) == 127) {
		say(d, WARN, NULL, "systemctl not found: the socket unit is not "
		    "checked (inetd, xinetd or --serve serve as well)");
		return;
	}
	if (access("/run/systemd/system", F_OK) == -1) {
		say(d, WARN, NULL, "systemd is not running here (a container?): "
		    "the socket unit is not checked; use --serve, inetd or "
		    "xinetd");
		return;
	}
	for (s = 0; s < 2; s++)
		unit_state(s, act[s], ena[s], sizeof act[s]);
	for (s = 0; s < 2; s++) {
		if (strcmp(act[s], "active") != 0)
			continue;
		snprintf(fix, sizeof fix, "systemctl %senable " UNIT, flag[s]);
		if (strcmp(ena[s], "enabled") == 0)
			say(d, OK, NULL, UNIT " (%s) is listening and enabled",
			    scope[s]);
		else
			say(d, WARN, fix, UNIT " (%s) is listening but %s: it "
			    "will not listen after a reboot", scope[s],
			    ena[s][0] ? ena[s] : "not enabled");
		return;
	}
	for (s = 1; s >= 0; s--) {
		if (!installed(ena[s]))
			continue;
		snprintf(fix, sizeof fix, "systemctl %senable --now " UNIT,
		    flag[s]);
		if (d->ours)
			say(d, OK, NULL, UNIT " (%s) is installed but not "
			    "active; something else of ours serves the port",
			    scope[s]);
		else
			say(d, FAIL, fix, UNIT " (%s) is installed but not "
			    "listening (%s)", scope[s], act[s][0] ? act[s] :
			    "state unknown");
		return;
	}
	if (d->ours)
		say(d, OK, NULL, UNIT " is not installed; --serve or inetd "
		    "serves the port");
	else
		say(d, WARN, "make install, then systemctl --user enable --now "
		    UNIT " (or run cli-proxy-api --serve)", UNIT " is not "
		    "installed");
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
	enum level bad = t->needed ? FAIL : WARN;
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
			say(d, bad, "check the host name, the network and "
			    "/etc/resolv.conf", "%s %s: DNS: %s", t->label,
			    t->u->host, gai_strerror(r));
			return;
		}
		freeaddrinfo(res);
	}
	r = up_connect(up, t->u, px, ta, ms, err, sizeof err);
	up_close(up);
	if (r == UP_OK)
		say(d, OK, NULL, "%s %s:%s: DNS, TCP connect and TLS handshake "
		    "(certificate verified)%s", t->label, t->u->host,
		    t->u->port, via);
	else if (r == UP_TLS)
		say(d, bad, "if a proxy or firewall intercepts TLS, add its CA "
		    "to ca-file; else check the clock and ca-file",
		    "%s %s:%s: TLS: %s%s", t->label, t->u->host, t->u->port,
		    err, via);
	else
		say(d, bad, px->kind != PROXY_NONE ? "check proxy-url and the "
		    "proxy" : "check the network, a firewall, or set "
		    "proxy-url", "%s %s:%s: TCP connect%s: %s", t->label,
		    t->u->host, t->u->port, r == UP_TIMEOUT ? " timed out" :
		    " failed", err);
}

static void
check_upstreams(struct doc *d, const struct config *cfg, int claude,
    int codex)
{
	size_t n = 0, i, max = 4 + cfg->n_claude_keys + cfg->n_codex_keys;
	struct target *t = calloc(max, sizeof *t);
	struct upstream *up = malloc(sizeof *up);
	struct trust ta;
	char err[1024], label[48];

	if (t == NULL || up == NULL) {
		say(d, FAIL, NULL, "upstreams: out of memory");
		goto out;
	}
	if (trust_load(&ta, cfg->ca_file, err, sizeof err) == -1) {
		say(d, FAIL, "set ca-file to a PEM bundle (Debian: apt-get "
		    "install ca-certificates)", "%s", err);
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

/* ---------------------------------------------------------------- droid */

/* One of droid's files. Returns how many entries point at this proxy. */
static int
check_droid_file(struct doc *d, const struct config *cfg, const char *path,
    const char *list_key, const char *url_key, int claude, int codex)
{
	struct buf b = BUF_SECRET;
	const cJSON *list, *e;
	cJSON *root;
	char why[512], fix[160], fix2[200];
	ssize_t r;
	int fd, ours, n = 0, bad = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (buf_reserve(&b, 4096) == 0 &&
	    (r = read(fd, b.p + b.len, b.cap - b.len)) > 0)
		b.len += (size_t)r;
	close(fd);
	root = cJSON_ParseWithLength(b.p ? b.p : "", b.len);
	buf_free(&b);
	if (root == NULL) {
		say(d, FAIL, "fix its syntax (droid ignores a broken file)",
		    "droid: %s is not valid JSON", path);
		return 0;
	}
	list = cJSON_GetObjectItemCaseSensitive(root, list_key);
	if (!cJSON_IsArray(list))
		list = NULL;
	cJSON_ArrayForEach(e, list) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "model");
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, url_key);
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(e,
		    "provider");
		const char *ms = cJSON_IsString(m) ? m->valuestring : "?";
		const char *ps = cJSON_IsString(p) ? p->valuestring : NULL;

		if (droid_check(ms, cJSON_IsString(u) ? u->valuestring : NULL,
		    ps, cfg->port, &ours, why, sizeof why, fix,
		    sizeof fix) == -1) {
			snprintf(fix2, sizeof fix2, "%s (or run cli-proxy-api "
			    "--setup-droid)", fix);
			say(d, FAIL, fix2, "droid: %s: model %s (%s): %s", path,
			    ms, cJSON_IsString(u) ? u->valuestring : "?", why);
			bad++;
		} else if (ours && ps != NULL && !(strcmp(ps, "openai") == 0 ?
		    codex : claude))
			say(d, WARN, strcmp(ps, "openai") == 0 ? "run "
			    "cli-proxy-api --codex-login" : "run cli-proxy-api "
			    "--claude-login", "droid: %s: model %s: no usable "
			    "%s account to serve it", path, ms,
			    strcmp(ps, "openai") == 0 ? "codex" : "claude");
		n += ours;
	}
	if (n > 0 && bad == 0)
		say(d, OK, NULL, "droid: %s: %d model%s for this proxy, port, "
		    "provider and base URL right", path, n, n == 1 ? "" : "s");
	secret_json_delete(root);
	return n;
}

static void
check_droid(struct doc *d, const struct config *cfg, int claude, int codex)
{
	char *s = config_expand_home("~/.factory/settings.json");
	char *c = config_expand_home("~/.factory/config.json");
	int a = -1, b = -1;

	if (s != NULL)
		a = check_droid_file(d, cfg, s, "customModels", "baseUrl",
		    claude, codex);
	if (c != NULL)
		b = check_droid_file(d, cfg, c, "custom_models", "base_url",
		    claude, codex);
	if (a == -1 && b == -1)
		say(d, WARN, "run cli-proxy-api --setup-droid", "droid: %s "
		    "does not exist", s ? s : "~/.factory/settings.json");
	else if (a <= 0 && b <= 0)
		say(d, WARN, "run cli-proxy-api --setup-droid", "droid: no "
		    "custom model in %s%s points at this proxy",
		    s ? s : "~/.factory/settings.json", b >= 0 ?
		    " or config.json" : "");
	free(s);
	free(c);
}

/* ------------------------------------------------------------------ run */

int
doctor_run(const char *config_path, FILE *out)
{
	struct doc d = { out, 0, 0 };
	struct config cfg;
	int claude, codex;

	if (check_config(&d, config_path, &cfg) == -1) {
		say(&d, FAIL, NULL, "out of memory");
		return EXIT_DOCTOR;
	}
	check_auth_dir(&d, &cfg);
	check_accounts(&d, &cfg);
	claude = view_has_usable(&cfg, "claude");
	codex = view_has_usable(&cfg, "codex");
	check_port(&d, &cfg);
	check_systemd(&d);
	check_upstreams(&d, &cfg, claude, codex);
	check_droid(&d, &cfg, claude, codex);
	config_free(&cfg);
	fflush(out);
	return d.fails ? EXIT_DOCTOR : EXIT_OK;
}
