/* url: the https:// base URLs of upstreams and token endpoints. */
#ifndef URL_H
#define URL_H
#include <stddef.h>

struct url {
	char *host;   /* as written, without [] for IPv6 literals */
	char *port;   /* "443" when absent */
	char *path;   /* prefix without trailing '/', may be "" */
	char *hostport; /* what goes into the Host header */
};

/* Parse "https://host[:port][/path]". 0, or -1 with a reason in err. */
int url_parse(const char *s, struct url *u, char *err, unsigned errlen);
void url_free(struct url *u);

/* Letters, digits, '-', '.' and '_': a DNS name or an IPv4 address. */
int url_valid_name(const char *s, size_t n);
/* What inet_pton accepts for IPv6, so no zone ids ("%eth0"). */
int url_valid_v6(const char *s, size_t n);
/* 1 to 5 digits with a value from 1 to 65535: the value, else 0. */
unsigned url_port_value(const char *s, size_t n);
/* The value of a hex digit, or -1. */
int url_hexval(int c);
/* Percent-decode n bytes of s (form: '+' is a space). A malloc'd string,
 * or NULL: *bad set for a bad escape or %00, else out of memory. */
char *url_pct_decode(const char *s, size_t n, int form, int *bad);
/* Append v percent-encoded (unreserved characters kept; form: space as
 * '+'). 0 or -1. */
struct buf;
int url_pct_encode(struct buf *b, const char *v, int form);

#endif
