/*
 * Chat Completions over the Codex backend, the way back: the Responses
 * event stream translated into chat.completion chunks, or into one
 * chat.completion when the client did not ask for a stream.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "parsers/json.h"
#include "providers/codex.h"
#include "providers/codex_private.h"

int
chat_xlate_init(struct chat_xlate *x, const struct codex_req *cr,
    time_t now)
{
	memset(x, 0, sizeof *x);
	x->stream = cr->stream;
	x->include_usage = cr->include_usage;
	snprintf(x->model, sizeof x->model, "%s", cr->model);
	/* Replaced by the response's own id once response.created comes. */
	snprintf(x->id, sizeof x->id, "chatcmpl-codex");
	x->created = (long)now;
	if (!x->stream && (x->calls = cJSON_CreateArray()) == NULL)
		return -1;
	return 0;
}

/* The fields every chunk and completion starts with. */
static cJSON *
envelope(const struct chat_xlate *x, const char *object)
{
	cJSON *c = cJSON_CreateObject();

	if (c == NULL || !cJSON_AddStringToObject(c, "id", x->id) ||
	    !cJSON_AddStringToObject(c, "object", object) ||
	    !cJSON_AddNumberToObject(c, "created", (double)x->created) ||
	    !cJSON_AddStringToObject(c, "model", x->model)) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

/* A new delta; the first one of the stream names the role. */
static cJSON *
delta_new(struct chat_xlate *x)
{
	cJSON *d = cJSON_CreateObject();

	if (d && !x->role_sent) {
		if (!cJSON_AddStringToObject(d, "role", "assistant")) {
			cJSON_Delete(d);
			return NULL;
		}
		x->role_sent = 1;
	}
	return d;
}

/* "data: {chunk}\n\n" with delta (taken) and finish_reason. */
static int
chunk(const struct chat_xlate *x, cJSON *delta, const char *finish,
    struct buf *out)
{
	cJSON *c = envelope(x, "chat.completion.chunk");
	cJSON *choices = cJSON_AddArrayToObject(c, "choices");
	cJSON *ch = cJSON_CreateObject();
	int rc = -1;

	if (json_append(choices, ch) == -1 || delta == NULL ||
	    !cJSON_AddNumberToObject(ch, "index", 0)) {
		cJSON_Delete(delta);
		goto out;
	}
	if (json_add(ch, "delta", delta) == -1 || (finish ?
	    !cJSON_AddStringToObject(ch, "finish_reason", finish) :
	    !cJSON_AddNullToObject(ch, "finish_reason")))
		goto out;
	rc = json_print(c, out, "data: ", "\n\n");
out:
	cJSON_Delete(c);
	return rc;
}

/* A text delta: streamed as delta.key, else kept in b. */
static int
text_delta(struct chat_xlate *x, const cJSON *j, const char *key,
    struct buf *b, struct buf *out)
{
	const cJSON *d = json_get(j, "delta");
	cJSON *delta;

	if (!cJSON_IsString(d) || d->valuestring[0] == '\0')
		return 0;
	if (!x->stream)
		return buf_adds(b, d->valuestring);
	if ((delta = delta_new(x)) == NULL ||
	    !cJSON_AddStringToObject(delta, key, d->valuestring)) {
		cJSON_Delete(delta);
		return -1;
	}
	return chunk(x, delta, NULL, out);
}

static int
on_created(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *id = json_get(json_get(j, "response"), "id");

	if (cJSON_IsString(id) && id->valuestring[0])
		snprintf(x->id, sizeof x->id, "chatcmpl-%s", id->valuestring);
	return 0;
}

static int
on_text(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	return text_delta(x, j, "content", &x->content, out);
}

static int
on_reasoning(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	return text_delta(x, j, "reasoning_content", &x->reasoning, out);
}

/* A chat tool call: {"index"?,"id","type":"function","function":{name,
 * arguments}}; index < 0 leaves the index out (non-stream). */
static cJSON *
tool_call(int index, const cJSON *id, const cJSON *name, const char *args)
{
	cJSON *tc = cJSON_CreateObject(), *fn;

	if (tc == NULL || (index >= 0 &&
	    !cJSON_AddNumberToObject(tc, "index", index)) ||
	    (id && !cJSON_AddStringToObject(tc, "id", id->valuestring)) ||
	    (id && !cJSON_AddStringToObject(tc, "type", "function")) ||
	    (fn = cJSON_AddObjectToObject(tc, "function")) == NULL ||
	    (name && !cJSON_AddStringToObject(fn, "name",
	    name->valuestring)) ||
	    !cJSON_AddStringToObject(fn, "arguments", args)) {
		cJSON_Delete(tc);
		return NULL;
	}
	return tc;
}

static int
stream_call(struct chat_xlate *x, cJSON *tc, struct buf *out)
{
	cJSON *arr = cJSON_CreateArray(), *delta;

	if (json_append(arr, tc) == -1 || (delta = delta_new(x)) == NULL) {
		cJSON_Delete(arr);
		return -1;
	}
	if (json_add(delta, "tool_calls", arr) == -1) {
		cJSON_Delete(delta);
		return -1;
	}
	return chunk(x, delta, NULL, out);
}

static int
on_item_added(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *it = json_get(j, "item");
	const cJSON *id = json_get(it, "call_id");
	const cJSON *name = json_get(it, "name");

	if (!json_str_is(json_get(it, "type"), "function_call"))
		return 0;
	if (!cJSON_IsString(id) || !cJSON_IsString(name))
		return 0;
	if (x->stream)
		return stream_call(x, tool_call(x->tool_calls++, id, name, ""),
		    out);
	x->tool_calls++;
	return json_append(x->calls, tool_call(-1, id, name, ""));
}

static int
on_args_delta(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *d = json_get(j, "delta");

	/* Non-stream: the whole arguments come with output_item.done. */
	if (!x->stream || x->tool_calls == 0 || !cJSON_IsString(d) ||
	    d->valuestring[0] == '\0')
		return 0;
	return stream_call(x, tool_call(x->tool_calls - 1, NULL, NULL,
	    d->valuestring), out);
}

/* Non-stream: a finished function call's whole arguments. */
static int
on_item_done(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *it = json_get(j, "item"), *id = json_get(it, "call_id");
	const cJSON *args = json_get(it, "arguments");
	cJSON *tc, *last = NULL;

	if (x->stream || !json_str_is(json_get(it, "type"), "function_call") ||
	    !cJSON_IsString(id) || !cJSON_IsString(args))
		return 0;
	cJSON_ArrayForEach(tc, (cJSON *)x->calls)
		if (json_str_is(json_get(tc, "id"), id->valuestring))
			last = tc;
	if (last == NULL) {
		/* Never announced: add it now. */
		if (!cJSON_IsString(json_get(it, "name")))
			return 0;
		x->tool_calls++;
		return json_append(x->calls, tool_call(-1, id,
		    json_get(it, "name"), args->valuestring));
	}
	return json_put_str(json_get(last, "function"), "arguments",
	    args->valuestring);
}

static double
num(const cJSON *n)
{
	return cJSON_IsNumber(n) ? n->valuedouble : 0;
}

/* Responses usage in Chat Completions' shape. */
static cJSON *
chat_usage(const cJSON *u)
{
	double in = num(json_get(u, "input_tokens")), o = num(json_get(u,
	    "output_tokens"));
	const cJSON *total = json_get(u, "total_tokens");
	cJSON *c = cJSON_CreateObject(), *pd, *cd;

	if (c == NULL || !cJSON_AddNumberToObject(c, "prompt_tokens", in) ||
	    !cJSON_AddNumberToObject(c, "completion_tokens", o) ||
	    !cJSON_AddNumberToObject(c, "total_tokens",
	    cJSON_IsNumber(total) ? total->valuedouble : in + o) ||
	    (pd = cJSON_AddObjectToObject(c, "prompt_tokens_details")) == NULL
	    || !cJSON_AddNumberToObject(pd, "cached_tokens",
	    num(json_get(json_get(u, "input_tokens_details"),
	    "cached_tokens"))) ||
	    (cd = cJSON_AddObjectToObject(c, "completion_tokens_details")) ==
	    NULL || !cJSON_AddNumberToObject(cd, "reasoning_tokens",
	    num(json_get(json_get(u, "output_tokens_details"),
	    "reasoning_tokens")))) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

static int
on_done(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *r = json_get(j, "response"), *u = json_get(r, "usage");
	const cJSON *reason = json_get(json_get(r, "incomplete_details"),
	    "reason");
	const char *finish;

	if (json_str_is(json_get(r, "status"), "incomplete") ||
	    json_str_is(json_get(j, "type"), "response.incomplete") || reason)
		finish = json_str_is(reason, "content_filter") ?
		    "content_filter" : "length";
	else
		finish = x->tool_calls ? "tool_calls" : "stop";
	snprintf(x->finish, sizeof x->finish, "%s", finish);
	x->done = 1;
	if (cJSON_IsObject(u)) {
		cJSON_Delete(x->usage);
		if ((x->usage = chat_usage(u)) == NULL)
			return -1;
	}
	return 0;
}

static int
on_failed(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *m = json_get(json_get(json_get(j, "response"), "error"),
	    "message");

	if (!cJSON_IsString(m))
		m = json_get(j, "message");
	if (!cJSON_IsString(m))
		m = json_get(json_get(j, "error"), "message");
	x->failed = 1;
	json_copy_msg(x->error, sizeof x->error, m,
	    "the upstream response failed");
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct chat_xlate *, const cJSON *, struct buf *);
} handlers[] = {
	{ "response.created", on_created },
	{ "response.output_text.delta", on_text },
	{ "response.reasoning_summary_text.delta", on_reasoning },
	{ "response.output_item.added", on_item_added },
	{ "response.function_call_arguments.delta", on_args_delta },
	{ "response.output_item.done", on_item_done },
	{ "response.completed", on_done },
	{ "response.incomplete", on_done },
	{ "response.failed", on_failed },
	{ "error", on_failed },
};

int
chat_xlate_event(struct chat_xlate *x, const char *event, const char *data,
    size_t dlen, struct buf *out)
{
	cJSON *j = cJSON_ParseWithLength(data, dlen);
	const char *type = codex_event_type(event, j);
	size_t i;
	int rc = 0;

	if (j == NULL && strcmp(type, "error") == 0) {
		x->failed = 1;
		json_copy_msg(x->error, sizeof x->error, NULL,
		    "the upstream reported an error");
	}
	for (i = 0; j && i < sizeof handlers / sizeof handlers[0]; i++)
		if (strcmp(type, handlers[i].name) == 0) {
			rc = handlers[i].fn(x, j, out);
			break;
		}
	cJSON_Delete(j);
	return rc;
}

static int
stream_finish(struct chat_xlate *x, struct buf *out)
{
	cJSON *c = NULL;
	int rc = -1;

	if (chunk(x, delta_new(x), x->finish, out) == -1)
		return -1;
	if (x->include_usage) {
		/* The usage chunk has no choices, as OpenAI sends it. */
		if ((c = envelope(x, "chat.completion.chunk")) == NULL ||
		    !cJSON_AddArrayToObject(c, "choices") ||
		    json_add(c, "usage", x->usage ?
		    cJSON_Duplicate(x->usage, 1) : cJSON_CreateNull()) == -1 ||
		    json_print(c, out, "data: ", "\n\n") == -1)
			goto out;
	}
	rc = buf_adds(out, "data: [DONE]\n\n");
out:
	cJSON_Delete(c);
	return rc;
}

static int
whole_finish(struct chat_xlate *x, struct buf *out)
{
	cJSON *c = envelope(x, "chat.completion"), *ch = cJSON_CreateObject();
	cJSON *choices = cJSON_AddArrayToObject(c, "choices"), *m;
	int rc = -1;

	if (json_append(choices, ch) == -1 ||
	    !cJSON_AddNumberToObject(ch, "index", 0) ||
	    (m = cJSON_AddObjectToObject(ch, "message")) == NULL ||
	    !cJSON_AddStringToObject(m, "role", "assistant") ||
	    json_add(m, "content", x->content.len ?
	    cJSON_CreateString(x->content.p) : cJSON_CreateNull()) == -1 ||
	    (x->reasoning.len && !cJSON_AddStringToObject(m,
	    "reasoning_content", x->reasoning.p)))
		goto out;
	if (cJSON_GetArraySize(x->calls) > 0) {
		if (json_add(m, "tool_calls", x->calls) == -1) {
			x->calls = NULL;
			goto out;
		}
		x->calls = NULL;
	}
	if (!cJSON_AddStringToObject(ch, "finish_reason", x->finish))
		goto out;
	if (x->usage) {
		rc = json_add(c, "usage", x->usage);
		x->usage = NULL;
		if (rc == -1)
			goto out;
	}
	rc = json_print(c, out, "", "");
out:
	cJSON_Delete(c);
	return rc;
}

int
chat_xlate_finish(struct chat_xlate *x, struct buf *out)
{
	if (!x->done) {
		if (!x->failed)
			json_copy_msg(x->error, sizeof x->error, NULL,
			    "the upstream stream ended before the response "
			    "completed");
		return -1;
	}
	return x->stream ? stream_finish(x, out) : whole_finish(x, out);
}

void
chat_xlate_free(struct chat_xlate *x)
{
	buf_free(&x->content);
	buf_free(&x->reasoning);
	cJSON_Delete(x->calls);
	cJSON_Delete(x->usage);
	x->calls = x->usage = NULL;
}
