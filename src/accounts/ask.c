/* ask: the proxy's own GETs with an account's credential (see ask.h). */
#include <stdio.h>
#include <string.h>

#include "accounts/ask.h"
#include "network/net.h"
#include "support/buf.h"

/* The credential lines for a's request. 0 or -1. */
static int
auth_lines(const struct account *a, struct buf *h)
{
	if (strcmp(a->provider, "codex") == 0)
		return buf_addf(h, "Authorization: Bearer %s\r\n",
		    a->access_token) == -1 || (a->account_id &&
		    a->account_id[0] && buf_addf(h, "chatgpt-account-id: "
		    "%s\r\n", a->account_id) == -1) ? -1 : 0;
	if (a->kind == ACCT_APIKEY)
		return buf_addf(h, "x-api-key: %s\r\n", a->access_token);
	return buf_addf(h, "Authorization: Bearer %s\r\nanthropic-beta: "
	    "oauth-2025-04-20\r\n", a->access_token);
}

int
ask_get(const struct config *cfg, const struct trust *ta,
    const struct account *a, const char *target, const char *extra,
    size_t max, long long deadline, struct httpc_resp *rs, char *err,
    size_t errlen)
{
	const struct url *base = a->base ? a->base :
	    strcmp(a->provider, "codex") == 0 ? &cfg->codex_base :
	    &cfg->claude_base;
	struct buf h = BUF_SECRET;
	struct httpc_req rq = { "GET", base, target, NULL, NULL, NULL, 0, 0,
	    max };
	int status = 0;

	memset(rs, 0, sizeof *rs);
	if (auth_lines(a, &h) == -1 || (extra && buf_adds(&h, extra) == -1)) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	rq.headers = h.p;
	if ((rq.timeout_ms = (int)(deadline - net_now_ms())) < 1)
		snprintf(err, errlen, "no time left");
	else if (httpc_do(&rq, &cfg->proxy, ta, rs, err, errlen) == 0)
		status = rs->status;
out:
	buf_free(&h);
	return status;
}
