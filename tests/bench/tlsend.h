/* pem: PEM files into DER objects, for the benchmark's own TLS ends. */
#ifndef BENCH_PEM_H
#define BENCH_PEM_H
#include <stddef.h>

struct pem_obj {
	char *name;             /* "CERTIFICATE", "PRIVATE KEY", ... */
	unsigned char *der;
	size_t len;
};

/* Every object in the PEM file path. The count, or -1 with a message on
 * stderr. */
int pem_load(const char *path, struct pem_obj **out);

#endif
