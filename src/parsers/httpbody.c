/*
 * Message bodies as framed on the wire (RFC 9112 6): Content-Length bytes,
 * chunks, or everything until the connection closes. The request reader,
 * the relay and the token client all count and decode bodies here, and
 * nowhere else.
 */
#include <stdint.h>
#include <string.h>

#include "parsers/httpbody.h"
#include "support/url.h"

#define CHUNK_LINE_MAX 4096	/* a chunk size or trailer line */

enum {
	CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF,
	CH_TRAILER, CH_TRAILER_LINE, CH_TRAILER_LF, CH_END_LF
};

ssize_t
http_chunked_feed(struct http_chunked *c, const char *in, size_t n,
    char *out, size_t *outn, const char **why)
{
	size_t i = 0;

	while (i < n && !c->done) {
		unsigned char ch = (unsigned char)in[i];
		int h;

		switch (c->state) {
		case CH_SIZE:
			if ((h = url_hexval(ch)) >= 0) {
				/* 15 hex digits is 2^60: no overflow, and
				 * far beyond any body limit. */
				if (++c->ndigits > 15) {
					*why = "chunk size too large";
					return -1;
				}
				c->left = c->left * 16 + (uint64_t)h;
				break;
			}
			if (c->ndigits == 0) {
				*why = "chunk size is not hexadecimal";
				return -1;
			}
			if (ch == ';')
				c->state = CH_EXT;
			else if (ch == '\r')
				c->state = CH_SIZE_LF;
			else {
				*why = "chunk size is not hexadecimal";
				return -1;
			}
			break;
		case CH_EXT:
			if (ch == '\r')
				c->state = CH_SIZE_LF;
			else if (ch == '\n' || ch == '\0' ||
			    ++c->linelen > CHUNK_LINE_MAX) {
				*why = "malformed chunk extension";
				return -1;
			}
			break;
		case CH_SIZE_LF:
			if (ch != '\n') {
				*why = "chunk size line must end in CRLF";
				return -1;
			}
			c->ndigits = 0;
			c->linelen = 0;
			c->state = c->left ? CH_DATA : CH_TRAILER;
			break;
		case CH_DATA: {
			size_t take = n - i;

			if (take > c->left)
				take = (size_t)c->left;
			if (out)
				memmove(out + *outn, in + i, take);
			*outn += take;
			c->left -= take;
			i += take;
			if (c->left == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		case CH_DATA_CR:
		case CH_DATA_LF:
			if (ch != (c->state == CH_DATA_CR ? '\r' : '\n')) {
				*why = "chunk data must end in CRLF";
				return -1;
			}
			c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE;
			break;
		case CH_TRAILER:
			if (ch == '\r') {
				c->state = CH_END_LF;
				break;
			}
			c->state = CH_TRAILER_LINE;
			c->linelen = 0;
			/* FALLTHROUGH */
		case CH_TRAILER_LINE:
			if (ch == '\r')
				c->state = CH_TRAILER_LF;
			else if (ch == '\n' || ch == '\0' ||
			    ++c->linelen > CHUNK_LINE_MAX) {
				*why = "malformed chunked trailer";
				return -1;
			}
			break;
		case CH_TRAILER_LF:
		case CH_END_LF:
			if (ch != '\n') {
				*why = "chunked trailer must end in CRLF";
				return -1;
			}
			if (c->state == CH_END_LF)
				c->done = 1;
			c->state = CH_TRAILER;
			break;
		}
		i++;
	}
	return (ssize_t)i;
}

void
http_body_init(struct http_body *b, const struct http_msg *m)
{
	memset(b, 0, sizeof *b);
	b->framing = m->framing;
	b->left = m->framing == HTTP_BODY_LENGTH ? m->length : 0;
	b->done = m->framing == HTTP_BODY_NONE ||
	    (m->framing == HTTP_BODY_LENGTH && m->length == 0);
}

ssize_t
http_body_feed(struct http_body *b, const char *in, size_t n, char *out,
    size_t *outn, const char **why)
{
	ssize_t used;

	if (b->done)
		return 0;
	switch (b->framing) {
	case HTTP_BODY_CHUNKED:
		if ((used = http_chunked_feed(&b->ch, in, n, out, outn,
		    why)) >= 0)
			b->done = b->ch.done;
		return used;
	case HTTP_BODY_LENGTH:
		if (n > b->left)
			n = (size_t)b->left;
		b->left -= n;
		b->done = b->left == 0;
		break;
	case HTTP_BODY_CLOSE:
		break;
	default:
		return 0;
	}
	if (out)
		memmove(out + *outn, in, n);
	*outn += n;
	return (ssize_t)n;
}

int
http_body_eof(struct http_body *b)
{
	if (b->framing == HTTP_BODY_CLOSE)
		b->done = 1;
	return b->done;
}
