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
#include <unistd.h>

#include "filter.h"
#include "log.h"
#include "sandbox.h"
#include "prefork.h"
#include "serve.h"

#define MAX_LISTEN 8

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

static void
child(const struct config *cfg, int *fds, int nfds, int c)
{
	int i;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	for (i = 0; i < nfds; i++)
		close(fds[i]);
	if (prefork_watch_fd() != -1)
		close(prefork_watch_fd());
	if (dup2(c, 0) == -1 || dup2(c, 1) == -1)
		_exit(EXIT_SYS);
	if (c > 1)
		close(c);
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

int
serve_run(const struct config *cfg)
{
	struct pollfd pfd[MAX_LISTEN + 1];
	int fds[MAX_LISTEN], nfds, i, n;
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
	/* Children are reaped by the kernel. */
	signal(SIGCHLD, SIG_IGN);
	log_info("listening on %s (config %s, auth-dir %s)", desc,
	    cfg->path ? cfg->path : "built-in defaults", cfg->auth_dir);
	for (i = 0; i < nfds; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	prefork_init(cfg, fds, nfds);
	for (;;) {
		/* The spare's watch, when there is one, last in the set. */
		pfd[nfds].fd = prefork_watch_fd();
		pfd[nfds].events = POLLIN;
		if ((n = poll(pfd, (nfds_t)nfds + 1, -1)) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return EXIT_SYS;
		}
		if (pfd[nfds].revents & POLLIN)
			prefork_watch_event(cfg);
		for (i = 0; i < nfds; i++) {
			int c;
			pid_t pid;

			if (!(pfd[i].revents & POLLIN))
				continue;
			if ((c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC))
			    == -1) {
				/* Out of fds or a reset before accept: keep
				 * serving the others. */
				if (errno != EINTR && errno != EAGAIN &&
				    errno != ECONNABORTED)
					log_warn("accept: %s", strerror(errno));
				if (errno == EMFILE || errno == ENFILE)
					usleep(100000);
				continue;
			}
			if (prefork_give(cfg, c) == 0) {
				close(c);
				prefork_new(cfg);
				continue;
			}
			if ((pid = fork()) == -1) {
				log_warn("fork: %s", strerror(errno));
				close(c);
				continue;
			}
			if (pid == 0)
				child(cfg, fds, nfds, c);
			close(c);
			prefork_new(cfg);
		}
	}
}
