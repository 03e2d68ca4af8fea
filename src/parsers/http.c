/*
 * HTTP/1.1 message heads (RFC 9112), strict where a lax reading could let
 * two parties disagree on where a message ends: CRLF only, no obsolete
 * folding, no NUL or bare CR, Content-Length and Transfer-Encoding never
 * together, one Content-Length value, chunked as the only transfer coding.
 * Bodies are httpbody.c's; header lines once parsed, httphdr.c's.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "parsers/http.h"
#include "support/buf.h"

/* What each byte is in a head, looked up once per byte: every request's
 * and answer's head goes through here a byte at a time. */
#define C_TCHAR 1               /* RFC 9110 5.6.2 tchar */
#define C_STOP 2                /* ends or spoils a line: CR, LF, NUL, a
                                 * control character but HTAB, DEL */

static unsigned char ctab[256];

static void
ctab_init(void)
{
	const unsigned char *p;
	int c;

	if (ctab['A'])
		return;
	for (c = 0; c < 256; c++)
		ctab[c] = (unsigned char)(((c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ?
		    C_TCHAR : 0) | ((c < 0x20 && c != '\t') || c == 0x7f ?
		    C_STOP : 0));
	for (p = (const unsigned char *)"!#$%&'*+-.^_`|~"; *p; p++)
		ctab[*p] |= C_TCHAR;
}

static int
is_tchar(unsigned char c)
{
	return ctab[c] & C_TCHAR;
}

void
http_msg_reset(struct http_msg *m)
{
	/* All but the header array: 8 KiB that a parse writes only as far
	 * as it fills it (nheaders), and whose zeroing was the largest cost
	 * of a kept request under callgrind. */
	memset(m, 0, offsetof(struct http_msg, headers));
	memset(&m->framing, 0, sizeof *m - offsetof(struct http_msg, framing));
}

size_t
http_head_len(const char *buf, size_t len)
{
	size_t i;

	/* A blank line ends the head. Bare LF endings are found here too, so
	 * the parser can refuse them with a clear message instead of waiting
	 * for a CRLFCRLF that never comes. */
	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* Split off the next CRLF-terminated line. The line holds no CR, LF or NUL
 * and no control character other than HTAB. */
static int
next_line(const char **p, const char *end, const char **line, size_t *llen,
    const char **why)
{
	const char *s = *p, *q;

	for (q = s; q < end; q++) {
		unsigned char c = (unsigned char)*q;

		if (!(ctab[c] & C_STOP))
			continue;
		if (c == '\r') {
			if (q + 1 >= end || q[1] != '\n') {
				*why = "bare CR in the request head";
				return -1;
			}
			*line = s;
			*llen = (size_t)(q - s);
			*p = q + 2;
			return 0;
		}
		if (c == '\n') {
			*why = "line ends must be CRLF, not a bare LF";
			return -1;
		}
		if (c == '\0') {
			*why = "NUL byte in the request head";
			return -1;
		}
		*why = "control character in the request head";
		return -1;
	}
	*why = "incomplete head";
	return -1;
}

static int
parse_version(const char *s, size_t n, int *minor)
{
	if (n != 8 || memcmp(s, "HTTP/1.", 7) != 0 ||
	    (s[7] != '0' && s[7] != '1'))
		return -1;
	*minor = s[7] - '0';
	return 0;
}

static int
parse_headers(const char **p, const char *end, size_t max_headers,
    struct http_msg *m, const char **why)
{
	const char *line;
	size_t llen, i;

	for (;;) {
		if (next_line(p, end, &line, &llen, why) == -1)
			return -1;
		if (llen == 0)
			return 0;
		if (line[0] == ' ' || line[0] == '\t') {
			*why = "obsolete line folding is not allowed";
			return -1;
		}
		if (m->nheaders >= max_headers ||
		    m->nheaders >= HTTP_MAX_HEADERS) {
			*why = "too many header fields";
			return -1;
		}
		for (i = 0; i < llen && line[i] != ':'; i++)
			if (!is_tchar((unsigned char)line[i])) {
				*why = "invalid character in a header name";
				return -1;
			}
		if (i == 0 || i == llen) {
			*why = "malformed header line";
			return -1;
		}
		struct http_header *h = &m->headers[m->nheaders++];
		h->name = line;
		h->nlen = i;
		size_t vs = i + 1, ve = llen;
		while (vs < ve && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		while (ve > vs && (line[ve - 1] == ' ' || line[ve - 1] == '\t'))
			ve--;
		h->value = line + vs;
		h->vlen = ve - vs;
	}
}

struct cl_state {
	uint64_t value;
	int seen;
	int bad;
};

static int
cl_elem(const char *t, size_t n, void *arg)
{
	struct cl_state *st = arg;
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 18) {
		st->bad = 1;
		return 1;
	}
	for (i = 0; i < n; i++) {
		if (t[i] < '0' || t[i] > '9') {
			st->bad = 1;
			return 1;
		}
		v = v * 10 + (uint64_t)(t[i] - '0');
	}
	if (st->seen && v != st->value) {
		st->bad = 1;
		return 1;
	}
	st->seen = 1;
	st->value = v;
	return 0;
}

/* Content-Length and Transfer-Encoding into m->framing. is_request selects
 * the request rules (no body unless framed) over the response rules. */
static int
framing(struct http_msg *m, int is_request, const char **why)
{
	struct cl_state cl = { 0, 0, 0 };
	const struct http_header *te = NULL;
	size_t i, nte = 0;

	for (i = 0; i < m->nheaders; i++) {
		const struct http_header *h = &m->headers[i];

		if (http_name_is(h, "content-length")) {
			if (h->vlen == 0 || http_list_each(h->value, h->vlen,
			    cl_elem, &cl) || cl.bad) {
				*why = "invalid or conflicting Content-Length";
				return -1;
			}
		} else if (http_name_is(h, "transfer-encoding")) {
			te = h;
			nte++;
		}
	}
	if (te && cl.seen) {
		*why = "Content-Length together with Transfer-Encoding";
		return -1;
	}
	if (te) {
		/* Requests: chunked alone. Responses: chunked must be last,
		 * anything else is delimited by the close. */
		int chunked = nte == 1 && te->vlen == 7 &&
		    strncasecmp(te->value, "chunked", 7) == 0;

		if (is_request && (!chunked || m->minor == 0)) {
			*why = "Transfer-Encoding other than chunked";
			return -1;
		}
		if (!is_request && !chunked) {
			size_t n = te->vlen;
			chunked = nte == 1 && n >= 7 &&
			    strncasecmp(te->value + n - 7, "chunked", 7) == 0 &&
			    (n == 7 || te->value[n - 8] == ',' ||
			    te->value[n - 8] == ' ');
		}
		m->framing = chunked ? HTTP_BODY_CHUNKED : HTTP_BODY_CLOSE;
	} else if (cl.seen) {
		m->framing = HTTP_BODY_LENGTH;
		m->length = cl.value;
	} else {
		m->framing = is_request ? HTTP_BODY_NONE : HTTP_BODY_CLOSE;
	}
	return 0;
}

/* One Connection token: close, keep-alive, or a header's name. */
static int
conn_token(const char *t, size_t n, void *arg)
{
	struct http_msg *m = arg;

	if (n == 5 && strncasecmp(t, "close", 5) == 0)
		m->conn_close = 1;
	else if (n == 10 && strncasecmp(t, "keep-alive", 10) == 0)
		m->conn_keep = 1;
	else
		m->conn_names = 1;
	return 0;
}

static void
keep_alive(struct http_msg *m)
{
	size_t i;

	for (i = 0; i < m->nheaders; i++)
		if (http_name_is(&m->headers[i], "connection"))
			(void)http_list_each(m->headers[i].value,
			    m->headers[i].vlen, conn_token, m);
	m->keep_alive = !m->conn_close && (m->minor > 0 || m->conn_keep);
}

/* RFC 9112 3.2: a request with more than one Host is refused, as two
 * parties could each believe a different one. */
static int
one_host(const struct http_msg *m, const char **why)
{
	size_t i;
	int n = 0;

	for (i = 0; i < m->nheaders; i++)
		n += http_name_is(&m->headers[i], "host");
	if (n > 1) {
		*why = "more than one Host header";
		return -1;
	}
	return 0;
}

int
http_parse_request(const char *buf, size_t len,
    const struct http_limits *lim, struct http_msg *m, const char **why)
{
	const char *p = buf, *end = buf + len, *line, *sp1, *sp2;
	size_t llen, i;

	ctab_init();
	http_msg_reset(m);
	if (len > lim->max_head) {
		*why = "request head too large";
		return -1;
	}
	/* RFC 9112 2.2: ignore at least one empty line before a request. */
	if (len >= 2 && buf[0] == '\r' && buf[1] == '\n')
		p += 2;
	if (next_line(&p, end, &line, &llen, why) == -1)
		return -1;
	sp1 = memchr(line, ' ', llen);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', llen - (size_t)(sp1 + 1 - line))
	    : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == line || sp2 == sp1 + 1 ||
	    parse_version(sp2 + 1, llen - (size_t)(sp2 + 1 - line),
	    &m->minor) == -1) {
		*why = "malformed request line";
		return -1;
	}
	for (i = 0; line + i < sp1; i++)
		if (!is_tchar((unsigned char)line[i])) {
			*why = "malformed request method";
			return -1;
		}
	for (const char *t = sp1 + 1; t < sp2; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f) {
			*why = "malformed request target";
			return -1;
		}
	m->method = line;
	m->mlen = (size_t)(sp1 - line);
	m->target = sp1 + 1;
	m->tlen = (size_t)(sp2 - sp1 - 1);
	if (parse_headers(&p, end, lim->max_headers, m, why) == -1)
		return -1;
	if (p != end) {
		*why = "malformed request head";
		return -1;
	}
	if (framing(m, 1, why) == -1 || one_host(m, why) == -1)
		return -1;
	keep_alive(m);
	m->expect_continue = http_has_token(m, "expect", "100-continue");
	m->head_len = len;
	return 0;
}

int
http_parse_response(const char *buf, size_t len, const char *req_method,
    struct http_msg *m, const char **why)
{
	const char *p = buf, *end = buf + len, *line;
	size_t llen;

	ctab_init();
	http_msg_reset(m);
	if (next_line(&p, end, &line, &llen, why) == -1)
		return -1;
	/* "HTTP/1.1 200" then an optional " reason" */
	if (llen < 12 || parse_version(line, 8, &m->minor) == -1 ||
	    line[8] != ' ' || line[9] < '1' || line[9] > '5' ||
	    line[10] < '0' || line[10] > '9' || line[11] < '0' ||
	    line[11] > '9' || (llen > 12 && line[12] != ' ')) {
		*why = "malformed status line";
		return -1;
	}
	m->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 +
	    (line[11] - '0');
	if (parse_headers(&p, end, HTTP_MAX_HEADERS, m, why) == -1)
		return -1;
	if (p != end) {
		*why = "malformed response head";
		return -1;
	}
	if (framing(m, 0, why) == -1)
		return -1;
	if (m->status < 200 || m->status == 204 || m->status == 304 ||
	    strcmp(req_method, "HEAD") == 0)
		m->framing = HTTP_BODY_NONE;
	keep_alive(m);
	if (m->framing == HTTP_BODY_CLOSE)
		m->keep_alive = 0;
	m->head_len = len;
	return 0;
}
