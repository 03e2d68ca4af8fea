#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "network/net.h"

long long
net_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
net_nodelay(int fd)
{
	int one = 1;

	/* Fails harmlessly with ENOTSOCK or EOPNOTSUPP on pipes and Unix
	 * sockets. Without it a head and a body in two writes wait on
	 * Nagle and delayed ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* One non-blocking connect, waited on until deadline. 0, or -1 with errno
 * (ETIMEDOUT at the deadline). */
static int
connect_one(int fd, const struct addrinfo *ai, long long deadline)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };
	socklen_t len = sizeof(int);
	int err = 0, r;

	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return -1;
	do {
		long long left = deadline - net_now_ms();

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
	} while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if (r == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

int
net_connect(const char *host, const char *port, int timeout_ms,
    int *timed_out, char *err, unsigned errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	long long deadline = net_now_ms() + timeout_ms;
	int fd = -1, r, saved = 0;

	*timed_out = 0;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "cannot resolve %s: %s", host,
		    r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
		return -1;
	}
	/* Try each address in turn: "localhost" gives ::1 first on many
	 * systems while a server may listen on 127.0.0.1 only. */
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			saved = errno;
			continue;
		}
		if (connect_one(fd, ai, deadline) == 0)
			break;
		saved = errno;
		close(fd);
		fd = -1;
		if (saved == ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		*timed_out = saved == ETIMEDOUT;
		snprintf(err, errlen, "cannot connect to %s port %s: %s", host,
		    port, saved == ETIMEDOUT ? "timed out" : strerror(saved));
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(fd);
		return -1;
	}
	net_nodelay(fd);
	return fd;
}
