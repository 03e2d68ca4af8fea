/* ask: the proxy's own GETs with an account's credential (a model
 * catalog, a usage endpoint), under the proxy's User-Agent (httpc). */
#ifndef ASK_H
#define ASK_H
#include <stddef.h>

#include "accounts/token.h"
#include "network/httpc.h"
#include "network/trust.h"
#include "parsers/config.h"

/* GET target (path and query) of a's provider (a->base, else the
 * config's base URL) with a's credential lines (Codex's Authorization
 * and chatgpt-account-id; Anthropic's x-api-key for API keys, else
 * Authorization with the oauth beta), then the lines in extra (each
 * ending in CRLF; NULL for none). At most max bytes of answer, by
 * deadline (net_now_ms). The answer's status with rs filled, or 0 with
 * err and rs empty (no whole answer). */
int ask_get(const struct config *cfg, const struct trust *ta,
    const struct account *a, const char *target, const char *extra,
    size_t max, long long deadline, struct httpc_resp *rs, char *err,
    size_t errlen);

#endif
