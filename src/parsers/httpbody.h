/* httpbody: a message body's framing (Content-Length, chunked, or until
 * the connection closes), decoded from bytes as they arrive. No I/O: the
 * one body reader of the request path, the relay and the token client. */
#ifndef HTTPBODY_H
#define HTTPBODY_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "parsers/http.h"

/* Chunked body decoder. Zero it to start. */
struct http_chunked {
	int state;
	uint64_t left;          /* data bytes left in the current chunk */
	unsigned ndigits;
	size_t linelen;         /* bytes of the current size or trailer line */
	int done;
};

/* Feed in[0..n). Data bytes are appended to out (if out is not NULL; it needs
 * room for n bytes; out + *outn may be in itself, to decode in place) and
 * *outn is increased by their count. Returns the bytes
 * of in consumed: fewer than n only when the body ended (c->done) inside
 * in; or -1 with *why on malformed input. */
ssize_t http_chunked_feed(struct http_chunked *c, const char *in, size_t n,
    char *out, size_t *outn, const char **why);

/* One message body being read. */
struct http_body {
	enum http_framing framing;
	uint64_t left;          /* HTTP_BODY_LENGTH: bytes still to come */
	struct http_chunked ch; /* HTTP_BODY_CHUNKED */
	int done;               /* the body is whole */
};

/* Start reading the body of m (its framing and length). */
void http_body_init(struct http_body *b, const struct http_msg *m);

/* Feed in[0..n), the message's bytes as they come. Returns how many of
 * them belong to the body (the rest is whatever follows it on the
 * connection); its data bytes, the chunk framing taken off, are appended
 * to out as http_chunked_feed does (out NULL: not wanted; out + *outn may
 * be in itself). -1 with *why on a malformed chunked body. b->done once
 * the body is whole. */
ssize_t http_body_feed(struct http_body *b, const char *in, size_t n,
    char *out, size_t *outn, const char **why);

/* The peer closed the connection: 1 when that ends the body (it was
 * framed by the close, or already whole), 0 when it came short. */
int http_body_eof(struct http_body *b);

#endif
