/* https: one request to a token endpoint, the whole answer in memory. */
#ifndef HTTPS_H
#define HTTPS_H
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "proxyurl.h"
#include "trust.h"
#include "url.h"

struct https_resp {
	int status;
	struct buf body;        /* secret: wiped when freed */
	time_t retry_at;        /* from Retry-After, 0 when absent */
};

/* POST body to url (its path, not a prefix) with the given Content-Type,
 * through px, every wait bounded by timeout_ms. 0 with r filled (any
 * status), or -1 with err when no HTTP answer came back. */
int https_post(const struct url *url, const struct proxy *px,
    const struct trust *ta, int timeout_ms, const char *ctype,
    const char *body, size_t blen, struct https_resp *r,
    char *err, size_t errlen);

#endif
