/* convkey: which conversation a request belongs to (see convkey.c). */
#ifndef CONVKEY_H
#define CONVKEY_H
#include <stddef.h>

#include "parsers/http.h"
#include "providers/claude.h"
#include "providers/codex.h"
#include "support/keyhash.h"

/* A Claude request's conversation: X-Claude-Code-Session-Id, else the
 * session_id inside metadata.user_id, else the model, the system prompt
 * and the first message (what a prompt cache shares). r is claude_read's
 * reading of body. out is "" when the body is no JSON object and the
 * head names no session. */
void convkey_claude(const struct http_msg *req, const char *body,
    const struct claude_req *r, char out[KEYHASH_LEN]);

/* The conversation of Claude Code's session sid (its
 * X-Claude-Code-Session-Id, the session_id its status line is given):
 * the key convkey_claude makes of that header. */
void convkey_session(const char *sid, char out[KEYHASH_LEN]);

/* A Codex request's conversation: its prompt_cache_key, else the
 * client's session_id header, else cr->text_key (the model, the
 * instructions and the first input item). */
void convkey_codex(const struct http_msg *req, const struct codex_req *cr,
    char out[KEYHASH_LEN]);

#endif
