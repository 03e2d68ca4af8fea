/* claude: Anthropic's routes and the rewrite rules for them. Pure: takes
 * parsed requests and buffers, returns buffers. */
#ifndef CLAUDE_H
#define CLAUDE_H
#include <stddef.h>
#include <sys/uio.h>

#include "accounts/token.h"
#include "parsers/config.h"
#include "parsers/http.h"
#include "support/buf.h"

#define CLAUDE_CODE_LINE \
	"You are Claude Code, Anthropic's official CLI for Claude."
#define CLAUDE_OAUTH_BETA "oauth-2025-04-20"
#define CLAUDE_VERSION "2023-06-01"

/* Is path (without the query) one of the routes forwarded to Anthropic? */
int claude_route(const char *method, size_t mlen, const char *path,
    size_t plen);

/* The upstream request head for req into out. The client's header lines
 * keep their order, spelling and values, but for what the proxy owns,
 * each replaced in place: the credential line (x-api-key or
 * Authorization) by the account's, Host by the upstream's,
 * Content-Length by body_len, Connection by keep-alive, Accept-Encoding
 * by identity; oauth-2025-04-20 is appended to the first anthropic-beta
 * line for an OAuth account (claude-oauth-beta) that lacks it. Cookie,
 * Expect and hop-by-hop lines are dropped; what is missing is added at
 * the end. The request line gets base's path prefix before the client's
 * target, query kept. 0, or -1 (ENOMEM, or EINVAL when the token holds a
 * control character). */
int claude_head(struct buf *out, const struct http_msg *req,
    const struct config *cfg, const struct url *base,
    const struct account *a, size_t body_len);

/* What the proxy reads of a Messages request body in one pass. */
struct claude_req {
	int json;               /* the body is one JSON object */
	int marked;             /* a system text starts with Claude Code's
	                         * billing block or identity line */
	char model[128];        /* a plain string "model", for logs; or "" */
	size_t model_at, model_len; /* its token, quotes included; 0: none */
	size_t open;            /* where the object's '{' is */
	size_t sys_at, sys_len; /* the system value; sys_len 0: none */
	size_t meta_at, meta_len; /* the metadata value; 0: none */
	size_t msgs_at, msgs_len; /* the messages value; 0: none */
};
/* Check that body is one JSON object and read it into r. 0, or -1 with
 * *why (r zeroed). */
int claude_read(const char *body, size_t len, struct claude_req *r,
    const char **why);

/* A third-party request for a model alias: body's model (r from
 * claude_read, a plain string) replaced by to, every other byte kept,
 * and r read again from the new body. 0, or -1 with *why (body and r as
 * they were). */
int claude_alias(struct buf *body, struct claude_req *r, const char *to,
    const char **why);

/* Is the request Claude Code's own: its User-Agent starts claude-cli/, or
 * its body (r from claude_read) is marked? A first-party request goes
 * upstream as it came but for the head's credential, Host and framing. */
int claude_first_party(const struct http_msg *req,
    const struct claude_req *r);

/* claude-system-prefix for a third-party body (r from claude_read on the
 * same bytes): the Claude Code line as the first system block, the
 * client's bytes around it untouched. *changed is 0, and out empty, when
 * the body goes as it is (marked, or a system that is not ours to fix). */
void claude_prefix(const char *body, size_t len, const struct claude_req *r,
    struct pieces *out, int *changed);
/* claude_read and claude_prefix into one buffer (tests, fuzzing). 0, or
 * -1 with *why. */
int claude_body(const char *body, size_t len, struct buf *out, int *changed,
    const char **why);

/* Is the answer Anthropic's 404 not_found_error for the request's model
 * ("model: claude-opus-4-1")? msg gets Anthropic's message (printable,
 * cut to msglen). */
int claude_model_refused(int status, const char *body, size_t len,
    char *msg, size_t msglen);

/* Anthropic's refusals of a subscription token for a client it does
 * not take for Claude Code (since 2025-09 and 2026-04). */
enum claude_refusal {
	CLAUDE_SERVED = 0,      /* not a refusal */
	CLAUDE_EXTRA_USAGE,     /* "Third-party apps now draw from your extra
	                         * usage...": no extra usage to draw from */
	CLAUDE_CODE_ONLY        /* "only authorized for use with Claude Code" */
};
/* Is the answer (status, whole body) such a refusal? msg gets Anthropic's
 * message (printable, cut to msglen). */
enum claude_refusal claude_refusal(int status, const char *body, size_t len,
    char *msg, size_t msglen);
/* A few words for --status: "extra usage off", "Claude Code only". */
const char *claude_refusal_reason(enum claude_refusal why);
/* What the client is told when no account could take a request of its
 * kind: Anthropic's words (said; "" when none) and, in one sentence, the
 * cause and the fixes. said NULL: claude-third-party is refuse. */
void claude_refusal_explain(char *out, size_t outlen, const char *said,
    int first_party);
/* Is the answer a 429 that asks for extra usage the account lacks:
 * "Extra usage is required for long context requests." (the 1M context
 * beta), "You're out of extra usage."? That gates this request on this
 * account; it is no rate limit. */
int claude_extra_usage_gate(int status, const char *body, size_t len);

#endif
