/*
 * The usage scanner reads token counts from a response body as the relay
 * passes it along: it only looks at copies of the bytes, so it never
 * holds one back. Streams are cut into events by sse_feed and only the
 * few events that carry usage are parsed; JSON bodies are kept (up to a
 * bound) and parsed once at the end. Either way the result does not
 * depend on how the bytes were split.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/usage_scan.h"

#define JSON_MAX (4 * 1024 * 1024)

enum usage_kind
usage_kind_for(const char *provider, const char *ctype, size_t ctlen)
{
	static const char sse[] = "text/event-stream";
	int stream = ctype != NULL && ctlen >= sizeof sse - 1 &&
	    strncasecmp(ctype, sse, sizeof sse - 1) == 0;

	if (strcmp(provider, "claude") == 0)
		return stream ? USAGE_ANTHROPIC_SSE : USAGE_ANTHROPIC_JSON;
	if (strcmp(provider, "codex") == 0)
		return stream ? USAGE_RESPONSES_SSE : USAGE_RESPONSES_JSON;
	return USAGE_NONE;
}

void
usage_scan_init(struct usage_scan *s, enum usage_kind kind)
{
	memset(s, 0, sizeof *s);
	s->kind = kind;
}

/* A count, when the object has it as a non-negative number. */
static int
count(const cJSON *o, const char *key, unsigned long long *v)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(j) || j->valuedouble < 0 ||
	    j->valuedouble > 1e15)
		return 0;
	*v = (unsigned long long)j->valuedouble;
	return 1;
}

/* Whatever counts a usage object holds, in any provider's names. Absent
 * keys leave the count as it was: message_delta brings output alone. */
static void
take_usage(struct usage *u, const cJSON *us)
{
	const cJSON *d;

	if (!cJSON_IsObject(us))
		return;
	(void)(count(us, "input_tokens", &u->input) ||
	    count(us, "prompt_tokens", &u->input));
	(void)(count(us, "output_tokens", &u->output) ||
	    count(us, "completion_tokens", &u->output));
	(void)count(us, "cache_read_input_tokens", &u->cache_read);
	(void)count(us, "cache_creation_input_tokens", &u->cache_write);
	d = cJSON_GetObjectItemCaseSensitive(us, "input_tokens_details");
	if (!cJSON_IsObject(d))
		d = cJSON_GetObjectItemCaseSensitive(us,
		    "prompt_tokens_details");
	if (cJSON_IsObject(d))
		(void)count(d, "cached_tokens", &u->cache_read);
}

static void
take_model(struct usage *u, const cJSON *o)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model");

	if (cJSON_IsString(m) && m->valuestring[0] != '\0')
		snprintf(u->model, sizeof u->model, "%s", m->valuestring);
}

/* The event's type: its JSON "type", else its SSE event name. */
static const char *
event_type(const cJSON *root, const char *event)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");

	return cJSON_IsString(t) ? t->valuestring : event;
}

/* Only these events can carry usage; the deltas in between are many and
 * are never parsed. */
static int
may_carry(enum usage_kind kind, const char *event)
{
	if (event[0] == '\0')
		return 1;
	if (kind == USAGE_ANTHROPIC_SSE)
		return strcmp(event, "message_start") == 0 ||
		    strcmp(event, "message_delta") == 0;
	return strcmp(event, "response.created") == 0 ||
	    strcmp(event, "response.completed") == 0 ||
	    strcmp(event, "response.incomplete") == 0 ||
	    strcmp(event, "response.failed") == 0 ||
	    strcmp(event, "response.done") == 0;
}

static int
on_event(void *arg, const char *event, const char *data, size_t dlen)
{
	struct usage_scan *s = arg;
	const cJSON *o;
	const char *type;
	cJSON *root;

	if (!may_carry(s->kind, event) ||
	    memmem(data, dlen, "\"usage\"", 7) == NULL)
		return 0;
	if ((root = cJSON_ParseWithLength(data, dlen)) == NULL)
		return 0;
	type = event_type(root, event);
	if (s->kind == USAGE_ANTHROPIC_SSE) {
		if (strcmp(type, "message_start") == 0) {
			o = cJSON_GetObjectItemCaseSensitive(root, "message");
			take_model(&s->u, o);
			take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(o,
			    "usage"));
		} else if (strcmp(type, "message_delta") == 0)
			take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(
			    root, "usage"));
	} else if (strncmp(type, "response.", 9) == 0) {
		o = cJSON_GetObjectItemCaseSensitive(root, "response");
		take_model(&s->u, o);
		take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(o,
		    "usage"));
	}
	cJSON_Delete(root);
	return 0;
}

void
usage_scan_feed(struct usage_scan *s, const char *p, size_t n)
{
	if (s->kind == USAGE_NONE || s->gave_up || n == 0)
		return;
	if (s->kind == USAGE_ANTHROPIC_SSE || s->kind == USAGE_RESPONSES_SSE) {
		if (sse_feed(&s->sse, p, n, on_event, s) == -1) {
			s->gave_up = 1;
			sse_free(&s->sse);
		}
		return;
	}
	if (s->json.len + n > JSON_MAX || buf_add(&s->json, p, n) == -1) {
		s->gave_up = 1;
		buf_free(&s->json);
	}
}

/* A whole JSON body: the top-level usage and model, or those of the
 * response object a Responses event wraps. */
static void
scan_json(struct usage_scan *s)
{
	const cJSON *o;
	cJSON *root;

	if (s->json.len == 0 ||
	    (root = cJSON_ParseWithLength(s->json.p, s->json.len)) == NULL)
		return;
	o = root;
	if (!cJSON_GetObjectItemCaseSensitive(o, "usage") &&
	    cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(o, "response")))
		o = cJSON_GetObjectItemCaseSensitive(o, "response");
	take_model(&s->u, o);
	take_usage(&s->u, cJSON_GetObjectItemCaseSensitive(o, "usage"));
	cJSON_Delete(root);
}

void
usage_scan_done(struct usage_scan *s, struct usage *u)
{
	if (!s->gave_up) {
		if (s->kind == USAGE_ANTHROPIC_SSE ||
		    s->kind == USAGE_RESPONSES_SSE)
			/* A stream cut off without its blank line still
			 * dispatches its last event. */
			(void)sse_feed(&s->sse, "\n\n", 2, on_event, s);
		else if (s->kind != USAGE_NONE)
			scan_json(s);
	}
	if (s->gave_up)
		memset(&s->u, 0, sizeof s->u);
	*u = s->u;
	sse_free(&s->sse);
	buf_free(&s->json);
	s->kind = USAGE_NONE;
}
