/* httpc: one HTTPS exchange of the proxy's own (a token grant, a model
 * catalog, a usage figure), on the same TLS code as the upstream path. */
#ifndef HTTPC_H
#define HTTPC_H
#include <stddef.h>
#include <time.h>

#include "network/trust.h"
#include "parsers/proxyurl.h"
#include "support/buf.h"
#include "support/url.h"

/* What to ask. */
struct httpc_req {
	const char *method;     /* "GET", "POST" */
	const struct url *url;  /* where: host, port (its path unused) */
	const char *target;     /* the request target: path and query */
	const char *headers;    /* more header lines, each ending in CRLF, or
	                         * NULL; they may carry a credential */
	const char *ctype;      /* the body's Content-Type (POST) */
	const char *body;
	size_t blen;
	int timeout_ms;         /* the whole exchange, connect to last byte */
	size_t max_body;        /* a longer answer is an error */
};

/* What came back. The body is held as a secret (a token grant's answer
 * is one): wiped when freed. */
struct httpc_resp {
	int status;
	struct buf body;        /* NUL-terminated */
	time_t retry_at;        /* from Retry-After, 0 when absent */
	char etag[160];         /* X-Models-Etag, else ETag; "" when none
	                         * (visible ASCII only) */
};

/* Send rq through px (PROXY_NONE: direct) with the User-Agent
 * cli-proxy-api/VERSION and Connection: close, and read the whole answer
 * into rs. 0 with rs filled (any status), or -1 with err when no whole
 * HTTP answer came back within rq->timeout_ms; rs is then empty. */
int httpc_do(const struct httpc_req *rq, const struct proxy *px,
    const struct trust *ta, struct httpc_resp *rs, char *err,
    size_t errlen);
void httpc_resp_free(struct httpc_resp *rs);

#endif
