/* hop: the socket to a proxy during its handshake, each read and write
 * bounded by what is left of one deadline. */
#ifndef HOP_H
#define HOP_H
#include <stddef.h>
#include <sys/types.h>

/* One handshake in progress: the socket, the deadline and how to name the
 * proxy in messages. */
struct hop {
	int fd;
	long long deadline;     /* net_now_ms() time */
	int timed_out;
	char name[300];         /* "host:port" or "[v6]:port" */
	char *err;
	unsigned errlen;
};

/* Send all n bytes of p; what names the step in messages ("the SOCKS5
 * greeting"). 0, or -1 with the message in c->err (c->timed_out set when
 * the deadline ended it). */
int hop_send(struct hop *c, const void *p, size_t n, const char *what);

/* Up to n bytes (flags may hold MSG_PEEK). The count, or -1 with the
 * message set; an early close is an error here. */
ssize_t hop_recv(struct hop *c, void *p, size_t n, int flags,
    const char *what);

/* Exactly n bytes. 0, or -1 with the message set. */
int hop_recv_exact(struct hop *c, void *p, size_t n, const char *what);

#endif
