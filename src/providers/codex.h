/* codex: ChatGPT's Codex backend (what the Codex CLI talks to). Its
 * routes, the header and body rewrites, and the translation of Chat
 * Completions to and from the Responses API. Pure: buffers in, buffers out,
 * no I/O, so everything here can be unit tested and fuzzed. */
#ifndef CODEX_H
#define CODEX_H
#include <stddef.h>
#include <time.h>

#include "accounts/token.h"
#include "parsers/config.h"
#include "parsers/http.h"
#include "parsers/modellist.h"
#include "support/buf.h"
#include "support/keyhash.h"

enum codex_route {
	CODEX_NONE = 0,
	CODEX_RESPONSES,        /* POST /responses, POST /v1/responses */
	CODEX_CHAT              /* POST /v1/chat/completions, /chat/completions */
};

/* Which Codex route, if any, is method + path (path without the query). */
enum codex_route codex_route(const char *method, size_t mlen,
    const char *path, size_t plen);

/* What the client asked for, learnt while rewriting its body. */
struct codex_req {
	int stream;             /* the client wants SSE (else one JSON body) */
	int include_usage;      /* chat: stream_options.include_usage */
	char model[128];        /* the model name the client used */
	char alias_of[128];     /* the model its alias serves, or "" */
	char why[512];          /* room for a refusal's words */
	char session_id[128];   /* prompt_cache_key, else empty */
	char text_key[KEYHASH_LEN]; /* the model, instructions and first
	                         * input item, hashed */
};

/* Rewrite a Responses API request body for the backend, with one cJSON
 * parse: model aliases (oauth-model-alias, model-aliases), then an
 * effort suffix read against ml, the Codex models served now
 * (gpt-5.6-sol-xhigh -> gpt-5.6-sol with reasoning.effort xhigh; an
 * effort the model does not take is refused, naming those it does; NULL:
 * any known effort word is taken), stream true,
 * store false, instructions a string ("" when absent), the parameters the
 * backend refuses dropped (max_output_tokens, max_completion_tokens,
 * temperature, top_p, user, previous_response_id, truncation,
 * prompt_cache_retention, service_tier unless "priority"), and input items
 * with role "system" turned into "developer". 0, or -1 with *why. */
int codex_body(const struct config *cfg, const struct modellist *ml,
    const char *body, size_t len, struct buf *out, struct codex_req *cr,
    const char **why);

/* Translate a Chat Completions request (messages with text and image
 * parts, tools and tool results, tool_choice, response_format,
 * reasoning_effort, stream, stream_options) into a backend-ready Responses
 * request (as codex_body would leave it). 0, or -1 with *why. */
int codex_chat_request(const struct config *cfg,
    const struct modellist *ml, const char *body, size_t len,
    struct buf *out, struct codex_req *cr, const char **why);

/* Is the answer the backend's refusal of the request's model (400
 * {"detail":"The 'gpt-5-codex' model is not supported when using Codex
 * with a ChatGPT account."}, or OpenAI's model_not_found)? msg gets its
 * words (printable, cut to msglen). */
int codex_model_refused(int status, const char *body, size_t len, char *msg,
    size_t msglen);

/* The upstream request head: POST <base path>/responses, Host, the
 * account's Authorization: Bearer, chatgpt-account-id (OAuth accounts with
 * an account id), OpenAI-Beta: responses=experimental and originator:
 * codex_cli_rs (unless the client's originator is Codex's own: then its
 * originator and OpenAI-Beta stay as sent), session_id, Accept:
 * text/event-stream, Content-Type: application/json, Accept-Encoding:
 * identity, Content-Length; the client's other end-to-end headers except
 * credentials (authorization, x-api-key, openai-organization,
 * openai-project, cookie). 0 or -1 (ENOMEM). */
int codex_head(struct buf *out, const struct http_msg *req,
    const struct url *base, const struct account *a,
    const char *session_id, size_t body_len);

/* The Responses stream turned into Chat Completions. */
struct chat_xlate {
	int stream;             /* 1: chat.completion.chunk SSE; 0: one JSON */
	int include_usage;
	char model[128];
	char id[96];
	long created;
	int role_sent;
	int tool_calls;         /* function calls seen, for indexes */
	int done;               /* response.completed or .incomplete seen */
	int failed;             /* response.failed or error seen */
	struct buf content;     /* non-stream: the assistant text so far */
	struct buf reasoning;   /* non-stream: reasoning summary text */
	void *calls;            /* non-stream: cJSON array of tool_calls */
	void *usage;            /* cJSON usage object, when known */
	char finish[32];
	char error[512];        /* failure message for the client */
};
int chat_xlate_init(struct chat_xlate *x, const struct codex_req *cr,
    time_t now);
/* One upstream event. Streaming: appends "data: {chunk}\n\n" frames to out
 * (possibly none). 0 or -1. */
int chat_xlate_event(struct chat_xlate *x, const char *event,
    const char *data, size_t dlen, struct buf *out);
/* The upstream stream ended. Streaming: the final chunk with
 * finish_reason, the usage chunk when asked, and "data: [DONE]\n\n";
 * non-stream: the whole chat.completion JSON. -1 with x->error set when the
 * stream ended without a completion. */
int chat_xlate_finish(struct chat_xlate *x, struct buf *out);
void chat_xlate_free(struct chat_xlate *x);

/* Non-stream Responses requests: collect the stream, keep the response
 * object of response.completed (or of response.incomplete/failed). */
struct resp_collect {
	struct buf json;        /* the response object, once seen */
	int done;
	char error[512];
};
int resp_collect_event(struct resp_collect *rc, const char *event,
    const char *data, size_t dlen);
void resp_collect_free(struct resp_collect *rc);

#endif
