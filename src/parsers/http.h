/* http: HTTP/1.1 head parsing, body framing and header helpers. No I/O:
 * everything here takes buffers and returns results, so it can be unit
 * tested and fuzzed. */
#ifndef HTTP_H
#define HTTP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define HTTP_MAX_HEADERS 256    /* hard cap on the configurable limit */

struct http_header {
	const char *name;
	size_t nlen;
	const char *value;      /* leading and trailing blanks trimmed */
	size_t vlen;
};

enum http_framing {
	HTTP_BODY_NONE,         /* no body */
	HTTP_BODY_LENGTH,       /* Content-Length bytes */
	HTTP_BODY_CHUNKED,      /* Transfer-Encoding: chunked */
	HTTP_BODY_CLOSE         /* responses only: until the connection closes */
};

struct http_msg {
	/* request line */
	const char *method;
	size_t mlen;
	const char *target;
	size_t tlen;
	/* status line */
	int status;
	/* both */
	int minor;              /* HTTP/1.x */
	size_t nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];
	enum http_framing framing;
	uint64_t length;        /* with HTTP_BODY_LENGTH */
	int keep_alive;         /* the peer wants the connection kept */
	int conn_close, conn_keep; /* Connection: close, keep-alive */
	int conn_names;         /* Connection names other headers */
	int expect_continue;    /* requests: Expect: 100-continue */
	size_t head_len;        /* bytes of the head, final CRLFCRLF included */
};

struct http_limits {
	size_t max_head;
	size_t max_headers;
};

/* Make m an empty message: every field zero but the header array, which
 * only its first nheaders entries (none) count in. */
void http_msg_reset(struct http_msg *m);

/* Length of the head at the start of buf (through the empty line), or 0 if
 * no complete head is there yet. */
size_t http_head_len(const char *buf, size_t len);

/* Parse a complete request head (buf[0..len), len from http_head_len).
 * The message keeps pointers into buf. 0, or -1 with *why set to a static
 * message meant for the client. */
int http_parse_request(const char *buf, size_t len,
    const struct http_limits *lim, struct http_msg *m, const char **why);

/* Parse a complete response head to a request with method req_method.
 * Sets framing: NONE for 1xx, 204, 304 and HEAD; else as the headers say,
 * CLOSE when neither length nor chunked. 0 or -1 with *why. */
int http_parse_response(const char *buf, size_t len, const char *req_method,
    struct http_msg *m, const char **why);

/* httphdr.c: header lines. */
/* Call fn for each comma-separated, blank-trimmed, non-empty element of a
 * list-valued header (RFC 9110 5.6.1). Stops early when fn returns
 * non-zero and returns that value. */
int http_list_each(const char *v, size_t vlen,
    int (*fn)(const char *, size_t, void *), void *arg);
/* Does any header called name list token (both case-insensitive)? */
int http_has_token(const struct http_msg *m, const char *name,
    const char *token);
/* First header called name (case-insensitive), or NULL. */
const struct http_header *http_header_get(const struct http_msg *m,
    const char *name);
/* Case-insensitive comparison of a header name against name. */
int http_name_is(const struct http_header *h, const char *name);
/* Is the header's name one of names (a NULL-terminated list)? */
int http_name_in(const struct http_header *h, const char *const *names);
/* Is name hop-by-hop (RFC 9110 7.6.1, plus Proxy-Connection, Keep-Alive)
 * or named in the message's own Connection header? */
int http_is_hop(const struct http_msg *m, const struct http_header *h);
/* May s go into a header value: no control character that could end
 * the line early or split the head? */
int http_value_safe(const char *s);
struct buf;
/* Append h as "Name: value\r\n" to out. 0 or -1. */
int http_header_add(struct buf *out, const struct http_header *h);

/* When a Retry-After value (delay-seconds or an IMF-fixdate) says to try
 * again, as a time; 0 when the value is neither. */
time_t http_retry_after(const char *v, size_t n, time_t now);

#endif
