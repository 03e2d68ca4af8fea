/*
 * hop: the socket to a proxy while its handshake runs. The socket is the
 * blocking one net_connect gives, but every read and write is preceded by
 * a poll() on what is left of one overall deadline and done with
 * MSG_DONTWAIT, so a proxy that stalls mid-way turns into a timeout rather
 * than a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "network/hop.h"
#include "network/net.h"

/* Wait for events on c->fd until the deadline. 0 ready, -1 with the
 * message set (timed out or failed). */
static int
await(struct hop *c, short events, const char *what)
{
	struct pollfd pfd = { c->fd, events, 0 };
	int r;

	for (;;) {
		long long left = c->deadline - net_now_ms();

		if (left <= 0)
			break;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 0;
		if (r == -1 && errno != EINTR) {
			snprintf(c->err, c->errlen, "proxy %s: poll: %s",
			    c->name, strerror(errno));
			return -1;
		}
	}
	c->timed_out = 1;
	snprintf(c->err, c->errlen, "proxy %s timed out during %s", c->name,
	    what);
	return -1;
}

int
hop_send(struct hop *c, const void *p, size_t n, const char *what)
{
	const unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		if (await(c, POLLOUT, what) == -1)
			return -1;
		r = send(c->fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			snprintf(c->err, c->errlen, "proxy %s: send during "
			    "%s: %s", c->name, what, strerror(errno));
			return -1;
		}
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

ssize_t
hop_recv(struct hop *c, void *p, size_t n, int flags, const char *what)
{
	ssize_t r;

	for (;;) {
		if (await(c, POLLIN, what) == -1)
			return -1;
		r = recv(c->fd, p, n, flags | MSG_DONTWAIT);
		if (r > 0)
			return r;
		if (r == 0) {
			snprintf(c->err, c->errlen, "proxy %s closed the "
			    "connection during %s", c->name, what);
			return -1;
		}
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			snprintf(c->err, c->errlen, "proxy %s: recv during "
			    "%s: %s", c->name, what, strerror(errno));
			return -1;
		}
	}
}

int
hop_recv_exact(struct hop *c, void *p, size_t n, const char *what)
{
	unsigned char *b = p;
	ssize_t r;

	while (n > 0) {
		if ((r = hop_recv(c, b, n, 0, what)) == -1)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}
