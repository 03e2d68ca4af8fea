/* models: GET /v1/models, answered here in either shape (see models.c). */
#ifndef MODELS_H
#define MODELS_H
#include "buf.h"

/* The Claude models in Anthropic's list shape: {"data":[{"type":"model",
 * "id","display_name","created_at"}],"has_more":false,"first_id",
 * "last_id"}. 0 or -1 (ENOMEM). */
int models_anthropic(struct buf *out);

/* OpenAI's shape, {"object":"list","data":[{"id","object":"model",
 * "created","owned_by"}]}, with the Claude models when claude and the
 * Codex ones when codex (the providers that have an account). 0 or -1. */
int models_openai(int claude, int codex, struct buf *out);

#endif
