/*
 * Chat Completions over the Codex backend, the way in: a Chat Completions
 * request translated into a Responses request (chat_events.c translates
 * the answer back).
 *
 * The translation moves items out of the client's tree into the new one
 * rather than copying them: a request can carry megabytes of base64
 * images.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/json.h"
#include "providers/codex_private.h"

static const char oom[] = "out of memory";

/* The text of a content (a string, or an array of text parts) onto b. */
static int
text_of(struct buf *b, const cJSON *c)
{
	const cJSON *p, *t;

	if (cJSON_IsString(c))
		return buf_adds(b, c->valuestring);
	cJSON_ArrayForEach(p, (cJSON_IsArray(c) ? c : NULL))
		if (cJSON_IsString(t = json_get(p, "text")) &&
		    buf_adds(b, t->valuestring) == -1)
			return -1;
	return 0;
}

/* System and developer messages: the backend takes them as instructions,
 * one paragraph each. */
static int
system_msg(struct buf *sys, const cJSON *m, const char **why)
{
	struct buf t = { 0 };
	int rc = -1;

	*why = oom;
	if (text_of(&t, json_get(m, "content")) == -1)
		goto out;
	if (t.len && ((sys->len && buf_adds(sys, "\n\n") == -1) ||
	    buf_add(sys, t.p, t.len) == -1))
		goto out;
	rc = 0;
out:
	buf_free(&t);
	return rc;
}

static cJSON *
image_part(cJSON *p, const char **why)
{
	cJSON *iu = json_get(p, "image_url"), *url, *np;

	url = cJSON_IsObject(iu) ? json_get(iu, "url") : iu;
	if (!cJSON_IsString(url)) {
		*why = "an image_url content part has no url";
		return NULL;
	}
	*why = oom;
	url = cJSON_DetachItemViaPointer(cJSON_IsObject(iu) ? iu : p, url);
	if ((np = codex_part("input_image", "image_url", url)) == NULL)
		return NULL;
	if (cJSON_IsString(json_get(iu, "detail")) &&
	    json_move(iu, "detail", np, "detail") == -1) {
		cJSON_Delete(np);
		return NULL;
	}
	return np;
}

/* One chat content part as a Responses part; text parts take ttype. */
static cJSON *
content_part(cJSON *p, const char *ttype, int images, const char **why)
{
	cJSON *t, *type = json_get(p, "type");

	if (json_str_is(type, "text")) {
		if (!cJSON_IsString(t = json_get(p, "text"))) {
			*why = "a text content part has no text";
			return NULL;
		}
		*why = oom;
		return codex_part(ttype, "text",
		    cJSON_DetachItemViaPointer(p, t));
	}
	if (!images && json_str_is(type, "refusal") &&
	    cJSON_IsString(t = json_get(p, "refusal"))) {
		*why = oom;
		return codex_part("refusal", "refusal",
		    cJSON_DetachItemViaPointer(p, t));
	}
	if (images && json_str_is(type, "image_url"))
		return image_part(p, why);
	*why = "a message has a content part of a type not supported here";
	return NULL;
}

/* A user or assistant message's content as a message item on input;
 * nothing when it has none. */
static int
content_msg(cJSON *input, cJSON *m, const char *role, const char **why)
{
	int user = strcmp(role, "user") == 0;
	const char *ttype = user ? "input_text" : "output_text";
	cJSON *c = json_get(m, "content"), *msg, *parts, *p;

	if (c && !cJSON_IsNull(c) && !cJSON_IsString(c) && !cJSON_IsArray(c)) {
		*why = "a message content is neither a string nor an array";
		return -1;
	}
	*why = oom;
	if ((msg = codex_message(role, &parts)) == NULL)
		return -1;
	if (cJSON_IsString(c)) {
		if (c->valuestring[0] && json_append(parts, codex_part(ttype,
		    "text", cJSON_DetachItemViaPointer(m, c))) == -1)
			goto fail;
	} else
		cJSON_ArrayForEach(p, c)
			if (json_append(parts, content_part(p, ttype, user,
			    why)) == -1)
				goto fail;
	if (parts->child == NULL) {
		cJSON_Delete(msg);
		return 0;
	}
	*why = oom;
	return json_append(input, msg);
fail:
	cJSON_Delete(msg);
	return -1;
}

/* An assistant tool call as a function_call item. */
static cJSON *
call_item(cJSON *tc, const char **why)
{
	cJSON *fn = json_get(tc, "function"), *args, *it;
	char *s;

	if (!cJSON_IsString(json_get(tc, "id")) ||
	    !cJSON_IsString(json_get(fn, "name"))) {
		*why = "a tool call has no id or function name";
		return NULL;
	}
	*why = oom;
	if ((it = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddStringToObject(it, "type", "function_call") ||
	    json_move(tc, "id", it, "call_id") == -1 ||
	    json_move(fn, "name", it, "name") == -1)
		goto fail;
	args = json_get(fn, "arguments");
	if (cJSON_IsString(args)) {
		if (json_move(fn, "arguments", it, "arguments") == -1)
			goto fail;
	} else {
		/* The backend wants a JSON text; some clients send the
		 * object itself. */
		s = args && !cJSON_IsNull(args) ?
		    cJSON_PrintUnformatted(args) : NULL;
		if (json_add(it, "arguments", cJSON_CreateString(s ? s : "{}"))
		    == -1) {
			free(s);
			goto fail;
		}
		free(s);
	}
	return it;
fail:
	cJSON_Delete(it);
	return NULL;
}

static int
assistant_msg(cJSON *input, cJSON *m, const char **why)
{
	cJSON *tcs = json_get(m, "tool_calls"), *tc;

	if (content_msg(input, m, "assistant", why) == -1)
		return -1;
	cJSON_ArrayForEach(tc, (cJSON_IsArray(tcs) ? tcs : NULL))
		if (json_append(input, call_item(tc, why)) == -1)
			return -1;
	return 0;
}

/* A tool result: the output is a string to the backend. */
static int
tool_msg(cJSON *input, cJSON *m, const char **why)
{
	cJSON *c = json_get(m, "content"), *it;
	struct buf b = { 0 };
	char *s = NULL;
	int rc = -1;

	if (!cJSON_IsString(json_get(m, "tool_call_id"))) {
		*why = "a tool message has no tool_call_id";
		return -1;
	}
	*why = oom;
	if (c && !cJSON_IsNull(c) && !cJSON_IsString(c) && !cJSON_IsArray(c)) {
		if ((s = cJSON_PrintUnformatted(c)) == NULL)
			goto out;
	} else if (text_of(&b, c) == -1)
		goto out;
	if ((it = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddStringToObject(it, "type", "function_call_output") ||
	    json_move(m, "tool_call_id", it, "call_id") == -1 ||
	    !cJSON_AddStringToObject(it, "output", s ? s :
	    b.p ? b.p : "")) {
		cJSON_Delete(it);
		goto out;
	}
	rc = json_append(input, it);
out:
	free(s);
	buf_free(&b);
	return rc;
}

static int
chat_messages(cJSON *chat, cJSON *req, const char **why)
{
	cJSON *msgs = json_get(chat, "messages"), *m, *role, *input;
	struct buf sys = { 0 };
	int rc = -1, r;

	if (!cJSON_IsArray(msgs) || msgs->child == NULL) {
		*why = "the request has no messages";
		return -1;
	}
	if ((input = cJSON_AddArrayToObject(req, "input")) == NULL) {
		*why = oom;
		return -1;
	}
	cJSON_ArrayForEach(m, msgs) {
		role = json_get(m, "role");
		if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
			*why = "a message has no role";
			goto out;
		}
		if (json_str_is(role, "system") ||
		    json_str_is(role, "developer"))
			r = system_msg(&sys, m, why);
		else if (json_str_is(role, "user"))
			r = content_msg(input, m, "user", why);
		else if (json_str_is(role, "assistant"))
			r = assistant_msg(input, m, why);
		else if (json_str_is(role, "tool"))
			r = tool_msg(input, m, why);
		else {
			*why = "a message has a role not supported here";
			r = -1;
		}
		if (r == -1)
			goto out;
	}
	*why = oom;
	if (sys.len && json_put_str(req, "instructions", sys.p) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&sys);
	return rc;
}

/* {"type":"function","function":{name,...}} -> {"type":"function",name,
 * ...}; other tool kinds go as they are. */
static cJSON *
tool_def(cJSON *t, const char **why)
{
	static const char *const keys[] = {
		"name", "description", "parameters", "strict", NULL
	};
	const char *const *k;
	cJSON *fn = json_get(t, "function"), *nt;

	if (!json_str_is(json_get(t, "type"), "function") ||
	    !cJSON_IsObject(fn)) {
		*why = oom;
		return cJSON_Duplicate(t, 1);
	}
	if (!cJSON_IsString(json_get(fn, "name"))) {
		*why = "a tool has no function name";
		return NULL;
	}
	*why = oom;
	if ((nt = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddStringToObject(nt, "type", "function"))
		goto fail;
	for (k = keys; *k; k++)
		if (json_move(fn, *k, nt, *k) == -1)
			goto fail;
	return nt;
fail:
	cJSON_Delete(nt);
	return NULL;
}

static int
chat_tools(cJSON *chat, cJSON *req, const char **why)
{
	cJSON *tools = json_get(chat, "tools"), *t, *arr, *tc, *name, *nc;

	if (cJSON_IsArray(tools) && tools->child) {
		if ((arr = cJSON_AddArrayToObject(req, "tools")) == NULL) {
			*why = oom;
			return -1;
		}
		cJSON_ArrayForEach(t, tools)
			if (json_append(arr, tool_def(t, why)) == -1)
				return -1;
	}
	*why = oom;
	tc = json_get(chat, "tool_choice");
	name = json_get(json_get(tc, "function"), "name");
	if (json_str_is(json_get(tc, "type"), "function") &&
	    cJSON_IsString(name)) {
		if ((nc = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddStringToObject(nc, "type", "function") ||
		    !cJSON_AddStringToObject(nc, "name", name->valuestring)) {
			cJSON_Delete(nc);
			return -1;
		}
		return json_put(req, "tool_choice", nc);
	}
	return json_move(chat, "tool_choice", req, "tool_choice");
}

/* response_format and verbosity live under "text" in the Responses API. */
static int
chat_text(cJSON *chat, cJSON *req)
{
	static const char *const keys[] = {
		"name", "description", "schema", "strict", NULL
	};
	const char *const *k;
	cJSON *rf = json_get(chat, "response_format"), *js, *fmt = NULL, *text;

	if (json_str_is(json_get(rf, "type"), "json_schema") ||
	    json_str_is(json_get(rf, "type"), "json_object")) {
		js = json_get(rf, "json_schema");
		if ((fmt = cJSON_CreateObject()) == NULL ||
		    json_move(rf, "type", fmt, "type") == -1)
			goto fail;
		for (k = keys; *k && cJSON_IsObject(js); k++)
			if (json_move(js, *k, fmt, *k) == -1)
				goto fail;
	}
	if (fmt == NULL && json_get(chat, "verbosity") == NULL)
		return 0;
	if ((text = cJSON_CreateObject()) == NULL ||
	    json_put(req, "text", text) == -1)
		goto fail;
	if (fmt && json_add(text, "format", fmt) == -1)
		return -1;
	return json_move(chat, "verbosity", text, "verbosity");
fail:
	cJSON_Delete(fmt);
	return -1;
}

cJSON *
chat_to_responses(cJSON *chat, const char **why)
{
	static const char *const same[] = {
		"model", "parallel_tool_calls", "prompt_cache_key",
		"service_tier", NULL
	};
	const char *const *k;
	cJSON *req, *effort;

	*why = oom;
	if ((req = cJSON_CreateObject()) == NULL)
		return NULL;
	for (k = same; *k; k++)
		if (json_move(chat, *k, req, *k) == -1)
			goto fail;
	if (chat_messages(chat, req, why) == -1 ||
	    chat_tools(chat, req, why) == -1)
		goto fail;
	*why = oom;
	if (chat_text(chat, req) == -1)
		goto fail;
	effort = json_get(chat, "reasoning_effort");
	if (cJSON_IsString(effort) &&
	    codex_set_effort(req, effort->valuestring) == -1)
		goto fail;
	return req;
fail:
	cJSON_Delete(req);
	return NULL;
}
