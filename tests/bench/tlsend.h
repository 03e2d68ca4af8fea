/* tlsend: what the benchmark's own TLS ends (bench-client and
 * bench-upstream) share: PEM files into DER objects, and the socket
 * callbacks of BearSSL's simplified I/O. */
#ifndef BENCH_TLSEND_H
#define BENCH_TLSEND_H
#include <stddef.h>

struct pem_obj {
	char *name;             /* "CERTIFICATE", "PRIVATE KEY", ... */
	unsigned char *der;
	size_t len;
};

/* Every object in the PEM file path. The count, or -1 with a message on
 * stderr. */
int pem_load(const char *path, struct pem_obj **out);

/* br_sslio_init's low-level read and write on the int fd at ctx: bytes
 * moved, or -1 on error or EOF. */
int sslio_read(void *ctx, unsigned char *buf, size_t len);
int sslio_write(void *ctx, const unsigned char *buf, size_t len);

#endif
