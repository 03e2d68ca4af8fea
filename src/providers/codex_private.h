/* codex_private: what the Codex modules (codex.c, codex_collect.c,
 * chat_request.c, chat_events.c) share and no one else calls. */
#ifndef CODEX_PRIVATE_H
#define CODEX_PRIVATE_H
#include <cjson/cJSON.h>

/* The Responses items and settings both request kinds build. A message
 * item {"type":"message","role":role,"content":[]} with *content its
 * array; a content part {"type":type,key:v}, taking v; reasoning.effort
 * set. NULL or -1 on ENOMEM. */
cJSON *codex_message(const char *role, cJSON **content);
cJSON *codex_part(const char *type, const char *key, cJSON *v);
int codex_set_effort(cJSON *root, const char *effort);

/* An upstream event's name: the SSE event field, else the data's
 * "type". */
const char *codex_event_type(const char *event, const cJSON *j);

/* A Chat Completions request tree (taken apart) as a Responses request
 * tree, before the backend's rules. NULL with *why. */
cJSON *chat_to_responses(cJSON *chat, const char **why);

#endif
