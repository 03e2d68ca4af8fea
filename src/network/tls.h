/* tls: the upstream connection, BearSSL client over a TCP socket. */
#ifndef TLS_H
#define TLS_H
#include <stddef.h>
#include <sys/types.h>
#include <bearssl.h>

#include "network/trust.h"
#include "parsers/proxyurl.h"
#include "support/url.h"

enum up_err {
	UP_OK = 0,
	UP_CONNECT = 1,   /* TCP failed: refused, unreachable, DNS */
	UP_TIMEOUT = 2,   /* the deadline passed */
	UP_TLS = 3,       /* handshake or record failure, certificate refused */
	UP_CLOSED = 4     /* the server closed the connection */
};

struct upstream {
	int fd;                 /* -1 when not connected */
	int timeout_ms;         /* for each wait on the socket */
	int timed_out;
	int eof;                /* the server closed the TCP connection */
	int broken;             /* socket failed: only up_close is left */
	int used;               /* a request went over this connection */
	const char *cache_dir;  /* TLS session cache (auth-dir), or NULL */
	int resumed;            /* the last handshake resumed a session */
	char host[256];         /* what we connected to, for reuse */
	char port[8];
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	br_sslio_context io;
	int keyed;              /* the engine and iobuf may hold secrets */
	size_t roff, rlen;      /* rbuf[roff, rlen) not yet taken */
	int flushed;            /* a request just went out: poll before read */
	/* The buffers last: up_init clears what is above them only, so a
	 * connection touches (and faults in) their pages as it uses them. */
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	unsigned char rbuf[64 * 1024];  /* read-ahead from the socket */
};

void up_init(struct upstream *u);
/* Connect (through px unless it is PROXY_NONE) and handshake (TLS 1.2, SNI,
 * certificate and host name checked against ta). Returns UP_OK or an enum
 * up_err with a message in err. */
int up_connect(struct upstream *u, const struct url *url,
    const struct proxy *px, const struct trust *ta, int timeout_ms,
    char *err, size_t errlen);
/* Is u connected to url and still open (no EOF waiting)? */
int up_usable(struct upstream *u, const struct url *url);
/* Write all of p, and with flush send it all out. Writes without flush
 * coalesce into full TLS records. UP_OK or an error. */
int up_write(struct upstream *u, const void *p, size_t n, int flush);
/* Read what is available, waiting up to u->timeout_ms. >0 bytes, 0 at EOF
 * (close_notify or TCP close), -1 on error (u->timed_out says if a timeout). */
ssize_t up_read(struct upstream *u, void *p, size_t n);
void up_close(struct upstream *u);
/* A short human text for the last TLS error, e.g. "certificate not trusted". */
const char *up_tls_error(struct upstream *u);

#endif
