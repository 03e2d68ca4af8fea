/*
 * --serve: for machines without inetd or socket units. The parent only
 * accepts; each connection runs in its own child exactly as under inetd,
 * one made ahead of time when it can be (prefork.c), else forked for it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "accounts/store.h"
#include "commands/prefork.h"
#include "commands/sandbox.h"
#include "commands/serve.h"
#include "connection/filter.h"
#include "parsers/reply.h"
#include "support/buf.h"
#include "support/log.h"

#define MAX_LISTEN 8

/*
 * The children serving a connection, held to max-connections as a socket
 * unit's MaxConnections holds its own. The spare is not one of them until
 * it is given a connection: waiting, it serves none. A retired spare or
 * one that died is reaped without having been counted.
 */
static struct {
	pid_t *pid;             /* max-connections of them */
	int n;
	int full;               /* the limit was met, and said so */
	struct buf busy;        /* the answer past it */
} kids;

/* Sockets handed over by systemd (Accept=no): LISTEN_FDS from fd 3. */
static int
inherited(int *fds)
{
	const char *pid = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
	int i, count;

	if (pid == NULL || n == NULL || atol(pid) != (long)getpid())
		return 0;
	count = atoi(n);
	if (count > MAX_LISTEN)
		count = MAX_LISTEN;
	for (i = 0; i < count; i++)
		fds[i] = 3 + i;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return count < 0 ? 0 : count;
}

static int
listen_on(const char *host, int port, int *fds, int nfds, char *desc,
    size_t desclen)
{
	struct addrinfo hints, *res, *ai;
	char ps[8], name[NI_MAXHOST];
	int one = 1, r;

	snprintf(ps, sizeof ps, "%d", port);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((r = getaddrinfo(host, ps, &hints, &res)) != 0) {
		log_err("cannot resolve listen host %s: %s", host,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai && nfds < MAX_LISTEN; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);

		if (fd == -1)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			    sizeof one);
		getnameinfo(ai->ai_addr, ai->ai_addrlen, name, sizeof name,
		    NULL, 0, NI_NUMERICHOST);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, 128) == -1) {
			log_err("cannot listen on %s port %d: %s%s", name, port,
			    strerror(errno), errno == EADDRINUSE ? ": another "
			    "process holds the port (a socket unit or a "
			    "running --serve?); stop it or change port" : "");
			close(fd);
			continue;
		}
		fds[nfds++] = fd;
		snprintf(desc + strlen(desc), desclen - strlen(desc), "%s%s%s%s:%d",
		    desc[0] ? " and " : "", ai->ai_family == AF_INET6 ? "[" : "",
		    name, ai->ai_family == AF_INET6 ? "]" : "", port);
	}
	freeaddrinfo(res);
	return nfds;
}

/* SIGCHLD only ends the wait in ppoll: the loop reaps after it. */
static void
on_child(int sig)
{
	(void)sig;
}

/* Forget the children that ended. */
static void
reap(void)
{
	pid_t pid;
	int i;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (i = 0; i < kids.n; i++) {
			if (kids.pid[i] == pid) {
				kids.pid[i] = kids.pid[--kids.n];
				break;
			}
		}
	}
}

/*
 * Past max-connections: a 503 from the parent, without a fork. What the
 * client sent already is read first, so that closing does not reset the
 * connection before the answer is read; nothing here may block, and a new
 * socket's empty send buffer takes the answer whole.
 */
static void
busy(const struct config *cfg, int c)
{
	char junk[4096];
	int i;

	if (!kids.full)
		log_warn("max-connections (%d) reached: new connections get "
		    "503 until one ends", cfg->max_connections);
	kids.full = 1;
	for (i = 0; i < 16 && recv(c, junk, sizeof junk, MSG_DONTWAIT) > 0;
	    i++)
		;
	(void)send(c, kids.busy.p, kids.busy.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	shutdown(c, SHUT_WR);
	close(c);
}

static void
child(const struct config *cfg, int *fds, int nfds, int c)
{
	sigset_t chld;
	int i;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (prefork_watch_fd() != -1)
		close(prefork_watch_fd());
	if (prefork_handed_fd() != -1)
		close(prefork_handed_fd());
	if (dup2(c, 0) == -1 || dup2(c, 1) == -1)
		_exit(EXIT_SYS);
	if (c > 1)
		close(c);
	(void)store_watch(cfg);
	_exit(sandbox_apply(cfg) == -1 ? EXIT_SYS : filter_run(cfg, 0, 1));
}

/* Is host a loopback name or address? */
static int
loopback(const char *host)
{
	struct addrinfo hints, *res, *ai;
	int all = 1;

	if (strcmp(host, "localhost") == 0)
		return 1;
	memset(&hints, 0, sizeof hints);
	hints.ai_flags = AI_NUMERICHOST;
	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return 0;
	for (ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET)
			all &= (ntohl(((struct sockaddr_in *)(void *)
			    ai->ai_addr)->sin_addr.s_addr) >> 24) == 127;
		else if (ai->ai_family == AF_INET6)
			all &= IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)
			    (void *)ai->ai_addr)->sin6_addr);
		else
			all = 0;
	}
	freeaddrinfo(res);
	return all;
}

/* A connection waits on lfd: hand it to the spare or a child forked for
 * it, or answer 503 past max-connections. */
static void
take(const struct config *cfg, int *fds, int nfds, int lfd)
{
	int c;
	pid_t pid;

	if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		/* Out of fds or a reset before accept: keep serving the
		 * others. */
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			log_warn("accept: %s", strerror(errno));
		if (errno == EMFILE || errno == ENFILE)
			usleep(100000);
		return;
	}
	if (kids.n >= cfg->max_connections)
		reap();
	if (kids.n >= cfg->max_connections) {
		busy(cfg, c);
		return;
	}
	kids.full = 0;
	if ((pid = prefork_give(cfg, c)) == -1) {
		if ((pid = fork()) == 0)
			child(cfg, fds, nfds, c);
		if (pid == -1)
			log_warn("fork: %s", strerror(errno));
	}
	if (pid > 0)
		kids.pid[kids.n++] = pid;
	close(c);
	prefork_next(cfg);
}

/* Count the children from now on. SIGCHLD stays blocked but in ppoll,
 * whose mask goes into polling: a child that ends between a reap and the
 * wait still ends the wait. */
static int
count_children(const struct config *cfg, sigset_t *polling)
{
	struct sigaction sa;
	sigset_t chld;

	if ((kids.pid = calloc((size_t)cfg->max_connections,
	    sizeof *kids.pid)) == NULL || reply_error_ex(&kids.busy, 503,
	    "too many connections at once (max-connections): try again in a "
	    "moment", REPLY_CLOSE, "Retry-After: 1\r\n") == -1) {
		log_err("out of memory");
		return -1;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigaction(SIGCHLD, &sa, NULL) == -1 ||
	    sigprocmask(SIG_BLOCK, &chld, polling) == -1) {
		log_err("SIGCHLD: %s", strerror(errno));
		return -1;
	}
	sigdelset(polling, SIGCHLD);
	return 0;
}

int
serve_run(const struct config *cfg)
{
	struct pollfd pfd[MAX_LISTEN + 2];
	struct timespec ts;
	sigset_t polling;
	int fds[MAX_LISTEN], nfds, i, n, wait;
	char desc[512] = "systemd sockets";

	if ((nfds = inherited(fds)) == 0) {
		/* The accounts must never be open to the network by a typo
		 * or a container default. */
		if (cfg->host && !loopback(cfg->host) && cfg->n_api_keys == 0 &&
		    !cfg->allow_remote) {
			log_err("host %s is not a loopback address: anyone who "
			    "can reach it could use your accounts; set api-keys "
			    "in the config, or allow-remote: true if that is "
			    "what you want", cfg->host);
			return EXIT_CONFIG;
		}
		desc[0] = '\0';
		if (cfg->host)
			nfds = listen_on(cfg->host, cfg->port, fds, 0, desc,
			    sizeof desc);
		else if ((nfds = listen_on("127.0.0.1", cfg->port, fds, 0,
		    desc, sizeof desc)) > 0) {
			/* ::1 too (Node and Bun try it first for
			 * "localhost"), but IPv6 may be off. */
			int m = listen_on("::1", cfg->port, fds, nfds, desc,
			    sizeof desc);
			if (m > nfds)
				nfds = m;
		}
		if (nfds <= 0)
			return EXIT_SYS;
	}
	if (count_children(cfg, &polling) == -1)
		return EXIT_SYS;
	log_info("listening on %s (config %s, auth-dir %s)", desc,
	    cfg->path ? cfg->path : "built-in defaults", cfg->auth_dir);
	for (i = 0; i < nfds; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	prefork_init(cfg, fds, nfds);
	for (;;) {
		/* The spare's watch and the end of the spare last handed a
		 * connection, when there are, last in the set; the wait ends
		 * when the next spare is due. */
		pfd[nfds].fd = prefork_watch_fd();
		pfd[nfds].events = POLLIN;
		pfd[nfds + 1].fd = prefork_handed_fd();
		pfd[nfds + 1].events = 0;
		wait = prefork_due(cfg, 0);
		ts.tv_sec = wait / 1000;
		ts.tv_nsec = wait % 1000 * 1000000L;
		if ((n = ppoll(pfd, (nfds_t)nfds + 2, wait >= 0 ? &ts : NULL,
		    &polling)) == -1 && errno != EINTR) {
			log_err("poll: %s", strerror(errno));
			return EXIT_SYS;
		}
		reap();
		if (n == -1)
			continue;
		if (pfd[nfds + 1].revents & (POLLHUP | POLLERR))
			(void)prefork_due(cfg, 1);
		if (pfd[nfds].revents & POLLIN)
			prefork_watch_event(cfg);
		for (i = 0; i < nfds; i++)
			if (pfd[i].revents & POLLIN)
				take(cfg, fds, nfds, fds[i]);
	}
}
