/* claude: Anthropic's routes and the rewrite rules for them. Pure: takes
 * parsed requests and buffers, returns buffers. */
#ifndef CLAUDE_H
#define CLAUDE_H
#include <stddef.h>
#include <sys/uio.h>

#include "buf.h"
#include "config.h"
#include "http.h"
#include "token.h"

#define CLAUDE_CODE_LINE \
	"You are Claude Code, Anthropic's official CLI for Claude."
#define CLAUDE_OAUTH_BETA "oauth-2025-04-20"
#define CLAUDE_VERSION "2023-06-01"

/* Is path (without the query) one of the routes forwarded to Anthropic? */
int claude_route(const char *method, size_t mlen, const char *path,
    size_t plen);

/* The upstream request head for req into out: request line with base's path
 * prefix and the client's target, Host, the account's credential,
 * merged anthropic-beta, anthropic-version, Accept-Encoding: identity,
 * Content-Length body_len, and every other client header that is neither a
 * credential nor hop-by-hop. 0 or -1 (ENOMEM). */
int claude_head(struct buf *out, const struct http_msg *req,
    const struct config *cfg, const struct url *base,
    const struct account *a, size_t body_len);

/* When a 429 says the account may be used again: retry-after, else
 * anthropic-ratelimit-unified-reset, else the soonest other
 * anthropic-ratelimit-*-reset (epoch seconds or RFC 3339). 0 when the
 * response does not say: the caller backs off. */
time_t claude_cooldown(const struct http_msg *resp, time_t now);

/* With claude-system-prefix, make the Claude Code line the first system
 * block. Sets *changed to 0 when the body can go as it is (out untouched),
 * else fills out with the new body. 0, or -1 with *why when the body is not
 * a JSON object. */
int claude_body(const char *body, size_t len, struct buf *out, int *changed,
    const char **why);

/* claude_body that also copies the top-level "model" (a plain string) into
 * model, for the log; "" when there is none. */
int claude_body_model(const char *body, size_t len, struct buf *out,
    int *changed, const char **why, char *model, size_t modellen);

/* A request body as pieces sent in order: slices of the client's body and
 * constant text. */
struct pieces {
	struct iovec v[5];
	int n;
	size_t len;             /* of all pieces */
};
/* claude_body_model without a copy of the body: out gets the new body as
 * pieces pointing into body (which must outlive them). */
int claude_body_pieces(const char *body, size_t len, struct pieces *out,
    int *changed, const char **why, char *model, size_t modellen);
/* Just the model, for bodies that go as they are. 0, or -1 when the body
 * is not a JSON object (model is then ""). */
int claude_model(const char *body, size_t len, char *model,
    size_t modellen);

/* GET /v1/models answered locally, in Anthropic's list shape. */
int claude_models(struct buf *out);

#endif
