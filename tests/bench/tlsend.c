/*
 * PEM to DER with BearSSL's streaming decoder, as BearSSL's tools do it
 * (tools/files.c), cut down to what the benchmark needs; and the socket
 * callbacks both ends give br_sslio.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bearssl.h>

#include "tlsend.h"

struct sink {
	unsigned char *p;
	size_t len, cap;
};

static void
append(void *ctx, const void *data, size_t len)
{
	struct sink *s = ctx;

	if (s->len + len > s->cap) {
		size_t cap = (s->cap ? s->cap * 2 : 4096) + len;
		unsigned char *p = realloc(s->p, cap);

		if (p == NULL) {
			perror("realloc");
			exit(111);
		}
		s->p = p;
		s->cap = cap;
	}
	memcpy(s->p + s->len, data, len);
	s->len += len;
}

int
pem_load(const char *path, struct pem_obj **out)
{
	br_pem_decoder_context pc;
	struct sink der = { 0 };
	struct pem_obj *objs = NULL;
	unsigned char buf[4096];
	char *name = NULL;
	int n = 0, inobj = 0;
	size_t r;
	FILE *f = fopen(path, "rb");

	if (f == NULL) {
		perror(path);
		return -1;
	}
	br_pem_decoder_init(&pc);
	while ((r = fread(buf, 1, sizeof buf, f)) > 0) {
		unsigned char *p = buf;

		while (r > 0) {
			size_t k = br_pem_decoder_push(&pc, p, r);

			p += k;
			r -= k;
			switch (br_pem_decoder_event(&pc)) {
			case BR_PEM_BEGIN_OBJ:
				name = strdup(br_pem_decoder_name(&pc));
				der.len = 0;
				br_pem_decoder_setdest(&pc, append, &der);
				inobj = 1;
				break;
			case BR_PEM_END_OBJ:
				if (!inobj)
					break;
				objs = realloc(objs, (size_t)(n + 1) *
				    sizeof *objs);
				if (objs == NULL) {
					perror("realloc");
					exit(111);
				}
				objs[n].name = name;
				objs[n].der = malloc(der.len);
				memcpy(objs[n].der, der.p, der.len);
				objs[n].len = der.len;
				n++;
				name = NULL;
				inobj = 0;
				break;
			case BR_PEM_ERROR:
				fprintf(stderr, "%s: invalid PEM\n", path);
				fclose(f);
				return -1;
			}
		}
	}
	fclose(f);
	free(der.p);
	free(name);
	*out = objs;
	return n;
}

int
sslio_read(void *ctx, unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t r = read(fd, buf, len);

		if (r > 0)
			return (int)r;
		if (r == -1 && errno == EINTR)
			continue;
		return -1;
	}
}

int
sslio_write(void *ctx, const unsigned char *buf, size_t len)
{
	int fd = *(int *)ctx;

	for (;;) {
		ssize_t r = send(fd, buf, len, MSG_NOSIGNAL);

		if (r > 0)
			return (int)r;
		if (r == -1 && errno == EINTR)
			continue;
		return -1;
	}
}
