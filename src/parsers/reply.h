/* reply: responses the proxy makes itself (errors, health, model lists). */
#ifndef REPLY_H
#define REPLY_H
#include "support/buf.h"

enum reply_flags {
	REPLY_CLOSE = 1,      /* add Connection: close */
	REPLY_NO_RETRY = 2,   /* add x-should-retry: false */
	REPLY_HEAD = 4        /* HEAD request: head only */
};

/* A complete response with a JSON body into out. 0 or -1 (ENOMEM). */
int reply_json(struct buf *out, int status, const char *json, int flags);
/* Anthropic's error shape {"type":"error","error":{"type","message"}}. The
 * error type follows from the status. 0 or -1. */
int reply_error(struct buf *out, int status, const char *message, int flags);
/* The same with extra header lines ("retry-after: 5\r\n"). */
int reply_error_ex(struct buf *out, int status, const char *message,
    int flags, const char *extra);

/* OpenAI's shape {"error":{"message","type","param","code"}}, for the
 * OpenAI routes. 0 or -1. */
int reply_openai_error(struct buf *out, int status, const char *message,
    int flags, const char *extra);

#endif
