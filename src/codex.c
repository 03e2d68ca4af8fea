/*
 * ChatGPT's Codex backend: which requests go there, what changes on the
 * way, and Chat Completions translated to and from the Responses API
 * (the backend behind the Codex CLI).
 *
 * Body rewrites work on a cJSON tree parsed once and printed once. The
 * Chat Completions translation moves items out of the client's tree into
 * the new one rather than copying them: a request can carry megabytes of
 * base64 images.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codex.h"

#define SSE_MAX (16UL << 20)    /* longest SSE line, and longest event data */
#define WEEK (7L * 86400)

static const char oom[] = "out of memory";

static int
eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static cJSON *
get(const cJSON *o, const char *k)
{
	return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

static int
str_is(const cJSON *j, const char *s)
{
	return cJSON_IsString(j) && strcmp(j->valuestring, s) == 0;
}

/* Add v to o as k, taking v: on failure v is freed. 0 or -1. */
static int
add(cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL)
		return -1;
	if (o == NULL || !cJSON_AddItemToObject(o, k, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return 0;
}

static int
append(cJSON *a, cJSON *v)
{
	if (v == NULL)
		return -1;
	if (a == NULL || !cJSON_AddItemToArray(a, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return 0;
}

/* Remove every member called k, duplicates too. */
static void
drop(cJSON *o, const char *k)
{
	while (get(o, k))
		cJSON_DeleteItemFromObjectCaseSensitive(o, k);
}

/* Delete the members of o after first that have its name: a duplicate
 * left behind would be the value a last-wins parser upstream keeps. */
static void
drop_after(cJSON *o, cJSON *first)
{
	cJSON *it, *next;

	for (it = first->next; it; it = next) {
		next = it->next;
		if (it->string && strcmp(it->string, first->string) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
	}
}

/* Set o.k to v, taking v: in the old member's place when there is one,
 * to keep the client's key order. */
static int
put(cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL)
		return -1;
	if (get(o, k) == NULL)
		return add(o, k, v);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(o, k, v)) {
		cJSON_Delete(v);
		return -1;
	}
	drop_after(o, v);
	return 0;
}

static int
put_str(cJSON *o, const char *k, const char *s)
{
	return put(o, k, cJSON_CreateString(s));
}

/* Move from.fk to to.tk, if there. 0 or -1 (ENOMEM). */
static int
move(cJSON *from, const char *fk, cJSON *to, const char *tk)
{
	cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(from, fk);

	return v ? put(to, tk, v) : 0;
}

/* Print j onto out. */
static int
print(const cJSON *j, struct buf *out, const char *pre, const char *post)
{
	char *s = cJSON_PrintUnformatted(j);
	int rc;

	if (s == NULL)
		return -1;
	rc = buf_adds(out, pre) == -1 || buf_adds(out, s) == -1 ||
	    buf_adds(out, post) == -1 ? -1 : 0;
	free(s);
	return rc;
}

static void
copy_msg(char *dst, size_t n, const cJSON *msg, const char *fallback)
{
	snprintf(dst, n, "%s", cJSON_IsString(msg) && msg->valuestring[0] ?
	    msg->valuestring : fallback);
}

enum codex_route
codex_route(const char *method, size_t mlen, const char *path, size_t plen)
{
	if (!eq(method, mlen, "POST"))
		return CODEX_NONE;
	if (eq(path, plen, "/responses") || eq(path, plen, "/v1/responses"))
		return CODEX_RESPONSES;
	if (eq(path, plen, "/v1/chat/completions") ||
	    eq(path, plen, "/chat/completions"))
		return CODEX_CHAT;
	return CODEX_NONE;
}

/* ---- request bodies ---- */

static cJSON *
parse_object(const char *body, size_t len, const char **why)
{
	const char *end = NULL;
	cJSON *root;

	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL || !cJSON_IsObject(root)) {
		*why = "the request body is not a JSON object";
		goto fail;
	}
	for (; end < body + len; end++)
		if (!strchr(" \t\r\n", *end)) {
			*why = "the request body has data after its JSON "
			    "object";
			goto fail;
		}
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

/* "gpt-5-codex-high": the effort its suffix names, with *base the length
 * of the name without it; NULL when there is no such suffix. */
static const char *
effort_suffix(const char *m, size_t *base)
{
	static const char *const efforts[] = {
		"minimal", "low", "medium", "high", NULL
	};
	const char *dash = strrchr(m, '-');
	const char *const *e;

	if (dash == NULL || dash == m)
		return NULL;
	for (e = efforts; *e; e++)
		if (strcmp(dash + 1, *e) == 0) {
			*base = (size_t)(dash - m);
			return *e;
		}
	return NULL;
}

static int
set_effort(cJSON *root, const char *effort)
{
	cJSON *r = get(root, "reasoning");

	/* Keep the client's other reasoning fields (summary). */
	if (!cJSON_IsObject(r)) {
		if (put(root, "reasoning", cJSON_CreateObject()) == -1)
			return -1;
		r = get(root, "reasoning");
	}
	return put_str(r, "effort", effort);
}

/* The client's model name into cr, then model-aliases, then a reasoning
 * suffix: the backend knows only the base names. */
static int
set_model(const struct config *cfg, cJSON *root, struct codex_req *cr,
    const char **why)
{
	const cJSON *m = get(root, "model");
	const char *to, *effort;
	char name[128];
	size_t i, base;

	if (!cJSON_IsString(m) || m->valuestring[0] == '\0') {
		*why = "the request has no model name";
		return -1;
	}
	if (strlen(m->valuestring) >= sizeof cr->model) {
		*why = "the model name is too long";
		return -1;
	}
	snprintf(cr->model, sizeof cr->model, "%s", m->valuestring);
	to = cr->model;
	for (i = 0; cfg && i < cfg->n_aliases; i++)
		if (strcmp(cfg->aliases[i].from, cr->model) == 0) {
			to = cfg->aliases[i].to;
			break;
		}
	if (strlen(to) >= sizeof name) {
		*why = "the model alias is too long";
		return -1;
	}
	snprintf(name, sizeof name, "%s", to);
	*why = oom;
	if ((effort = effort_suffix(name, &base)) != NULL) {
		name[base] = '\0';
		if (set_effort(root, effort) == -1)
			return -1;
	}
	return put_str(root, "model", name);
}

static cJSON *
message(const char *role, cJSON **content)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL || !cJSON_AddStringToObject(m, "type", "message") ||
	    !cJSON_AddStringToObject(m, "role", role) ||
	    (*content = cJSON_AddArrayToObject(m, "content")) == NULL) {
		cJSON_Delete(m);
		return NULL;
	}
	return m;
}

/* A content part {"type":type,key:v}, taking v. */
static cJSON *
part(const char *type, const char *key, cJSON *v)
{
	cJSON *p = cJSON_CreateObject();

	if (p == NULL || !cJSON_AddStringToObject(p, "type", type)) {
		cJSON_Delete(p);
		cJSON_Delete(v);
		return NULL;
	}
	if (add(p, key, v) == -1) {
		cJSON_Delete(p);
		return NULL;
	}
	return p;
}

/* A string input is one user message; system items are "developer" to
 * the backend, which refuses the system role. */
static int
fix_input(cJSON *root)
{
	cJSON *in = get(root, "input"), *it, *msg, *content;

	if (cJSON_IsString(in)) {
		in = cJSON_DetachItemViaPointer(root, in);
		if ((msg = message("user", &content)) == NULL) {
			cJSON_Delete(in);
			return -1;
		}
		if (append(content, part("input_text", "text", in)) == -1 ||
		    put(root, "input", cJSON_CreateArray()) == -1) {
			cJSON_Delete(msg);
			return -1;
		}
		return append(get(root, "input"), msg);
	}
	cJSON_ArrayForEach(it, (cJSON_IsArray(in) ? in : NULL))
		if (str_is(get(it, "role"), "system") &&
		    put_str(it, "role", "developer") == -1)
			return -1;
	return 0;
}

/* prompt_cache_key becomes the session_id header: only visible ASCII
 * gets there, so a key can never smuggle a line break into the head. */
static void
session_from(struct codex_req *cr, const cJSON *k)
{
	const unsigned char *s;
	size_t i;

	cr->session_id[0] = '\0';
	if (!cJSON_IsString(k))
		return;
	s = (const unsigned char *)k->valuestring;
	for (i = 0; s[i] && i < sizeof cr->session_id - 1; i++) {
		if (s[i] <= 0x20 || s[i] >= 0x7f) {
			cr->session_id[0] = '\0';
			return;
		}
		cr->session_id[i] = (char)s[i];
	}
	cr->session_id[i] = '\0';
}

/* What the backend insists on, for both request kinds. */
static int
backend_rules(const struct config *cfg, cJSON *root, struct codex_req *cr,
    const char **why)
{
	static const char *const refused[] = {
		"max_output_tokens", "max_completion_tokens", "temperature",
		"top_p", "user", "previous_response_id", "truncation",
		"prompt_cache_retention", "context_management", NULL
	};
	const char *const *k;
	cJSON *ins, *tier;

	if (set_model(cfg, root, cr, why) == -1)
		return -1;
	ins = get(root, "instructions");
	if (ins && !cJSON_IsNull(ins) && !cJSON_IsString(ins)) {
		*why = "instructions is not a string";
		return -1;
	}
	*why = oom;
	if (cJSON_IsString(ins))
		drop_after(root, ins);
	else if (put_str(root, "instructions", "") == -1)
		return -1;
	for (k = refused; *k; k++)
		drop(root, *k);
	tier = get(root, "service_tier");
	if (tier && !str_is(tier, "priority"))
		drop(root, "service_tier");
	if (put(root, "stream", cJSON_CreateTrue()) == -1 ||
	    put(root, "store", cJSON_CreateFalse()) == -1 ||
	    fix_input(root) == -1)
		return -1;
	session_from(cr, get(root, "prompt_cache_key"));
	return 0;
}

static int
emit(const cJSON *root, struct buf *out, const char **why)
{
	if (print(root, out, "", "") == -1) {
		*why = oom;
		return -1;
	}
	return 0;
}

int
codex_body(const struct config *cfg, const char *body, size_t len,
    struct buf *out, struct codex_req *cr, const char **why)
{
	cJSON *root;
	int rc = -1;

	memset(cr, 0, sizeof *cr);
	if ((root = parse_object(body, len, why)) == NULL)
		goto out;
	/* OpenAI's default: no stream unless asked for. */
	cr->stream = cJSON_IsTrue(get(root, "stream"));
	if (backend_rules(cfg, root, cr, why) == -1)
		goto out;
	rc = emit(root, out, why);
out:
	cJSON_Delete(root);
	return rc;
}

/* ---- Chat Completions to Responses ---- */

/* The text of a content (a string, or an array of text parts) onto b. */
static int
text_of(struct buf *b, const cJSON *c)
{
	const cJSON *p, *t;

	if (cJSON_IsString(c))
		return buf_adds(b, c->valuestring);
	cJSON_ArrayForEach(p, (cJSON_IsArray(c) ? c : NULL))
		if (cJSON_IsString(t = get(p, "text")) &&
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
	if (text_of(&t, get(m, "content")) == -1)
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
	cJSON *iu = get(p, "image_url"), *url, *np;

	url = cJSON_IsObject(iu) ? get(iu, "url") : iu;
	if (!cJSON_IsString(url)) {
		*why = "an image_url content part has no url";
		return NULL;
	}
	*why = oom;
	url = cJSON_DetachItemViaPointer(cJSON_IsObject(iu) ? iu : p, url);
	if ((np = part("input_image", "image_url", url)) == NULL)
		return NULL;
	if (cJSON_IsString(get(iu, "detail")) &&
	    move(iu, "detail", np, "detail") == -1) {
		cJSON_Delete(np);
		return NULL;
	}
	return np;
}

/* One chat content part as a Responses part; text parts take ttype. */
static cJSON *
content_part(cJSON *p, const char *ttype, int images, const char **why)
{
	cJSON *t, *type = get(p, "type");

	if (str_is(type, "text")) {
		if (!cJSON_IsString(t = get(p, "text"))) {
			*why = "a text content part has no text";
			return NULL;
		}
		*why = oom;
		return part(ttype, "text", cJSON_DetachItemViaPointer(p, t));
	}
	if (!images && str_is(type, "refusal") &&
	    cJSON_IsString(t = get(p, "refusal"))) {
		*why = oom;
		return part("refusal", "refusal",
		    cJSON_DetachItemViaPointer(p, t));
	}
	if (images && str_is(type, "image_url"))
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
	cJSON *c = get(m, "content"), *msg, *parts, *p;

	if (c && !cJSON_IsNull(c) && !cJSON_IsString(c) && !cJSON_IsArray(c)) {
		*why = "a message content is neither a string nor an array";
		return -1;
	}
	*why = oom;
	if ((msg = message(role, &parts)) == NULL)
		return -1;
	if (cJSON_IsString(c)) {
		if (c->valuestring[0] && append(parts, part(ttype, "text",
		    cJSON_DetachItemViaPointer(m, c))) == -1)
			goto fail;
	} else
		cJSON_ArrayForEach(p, c)
			if (append(parts, content_part(p, ttype, user, why))
			    == -1)
				goto fail;
	if (parts->child == NULL) {
		cJSON_Delete(msg);
		return 0;
	}
	*why = oom;
	return append(input, msg);
fail:
	cJSON_Delete(msg);
	return -1;
}

/* An assistant tool call as a function_call item. */
static cJSON *
call_item(cJSON *tc, const char **why)
{
	cJSON *fn = get(tc, "function"), *args, *it;
	char *s;

	if (!cJSON_IsString(get(tc, "id")) ||
	    !cJSON_IsString(get(fn, "name"))) {
		*why = "a tool call has no id or function name";
		return NULL;
	}
	*why = oom;
	if ((it = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddStringToObject(it, "type", "function_call") ||
	    move(tc, "id", it, "call_id") == -1 ||
	    move(fn, "name", it, "name") == -1)
		goto fail;
	args = get(fn, "arguments");
	if (cJSON_IsString(args)) {
		if (move(fn, "arguments", it, "arguments") == -1)
			goto fail;
	} else {
		/* The backend wants a JSON text; some clients send the
		 * object itself. */
		s = args && !cJSON_IsNull(args) ?
		    cJSON_PrintUnformatted(args) : NULL;
		if (add(it, "arguments", cJSON_CreateString(s ? s : "{}"))
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
	cJSON *tcs = get(m, "tool_calls"), *tc;

	if (content_msg(input, m, "assistant", why) == -1)
		return -1;
	cJSON_ArrayForEach(tc, (cJSON_IsArray(tcs) ? tcs : NULL))
		if (append(input, call_item(tc, why)) == -1)
			return -1;
	return 0;
}

/* A tool result: the output is a string to the backend. */
static int
tool_msg(cJSON *input, cJSON *m, const char **why)
{
	cJSON *c = get(m, "content"), *it;
	struct buf b = { 0 };
	char *s = NULL;
	int rc = -1;

	if (!cJSON_IsString(get(m, "tool_call_id"))) {
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
	    move(m, "tool_call_id", it, "call_id") == -1 ||
	    !cJSON_AddStringToObject(it, "output", s ? s :
	    b.p ? b.p : "")) {
		cJSON_Delete(it);
		goto out;
	}
	rc = append(input, it);
out:
	free(s);
	buf_free(&b);
	return rc;
}

static int
chat_messages(cJSON *chat, cJSON *req, const char **why)
{
	cJSON *msgs = get(chat, "messages"), *m, *role, *input;
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
		role = get(m, "role");
		if (!cJSON_IsObject(m) || !cJSON_IsString(role)) {
			*why = "a message has no role";
			goto out;
		}
		if (str_is(role, "system") || str_is(role, "developer"))
			r = system_msg(&sys, m, why);
		else if (str_is(role, "user"))
			r = content_msg(input, m, "user", why);
		else if (str_is(role, "assistant"))
			r = assistant_msg(input, m, why);
		else if (str_is(role, "tool"))
			r = tool_msg(input, m, why);
		else {
			*why = "a message has a role not supported here";
			r = -1;
		}
		if (r == -1)
			goto out;
	}
	*why = oom;
	if (sys.len && put_str(req, "instructions", sys.p) == -1)
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
	cJSON *fn = get(t, "function"), *nt;

	if (!str_is(get(t, "type"), "function") || !cJSON_IsObject(fn)) {
		*why = oom;
		return cJSON_Duplicate(t, 1);
	}
	if (!cJSON_IsString(get(fn, "name"))) {
		*why = "a tool has no function name";
		return NULL;
	}
	*why = oom;
	if ((nt = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddStringToObject(nt, "type", "function"))
		goto fail;
	for (k = keys; *k; k++)
		if (move(fn, *k, nt, *k) == -1)
			goto fail;
	return nt;
fail:
	cJSON_Delete(nt);
	return NULL;
}

static int
chat_tools(cJSON *chat, cJSON *req, const char **why)
{
	cJSON *tools = get(chat, "tools"), *t, *arr, *tc, *name, *nc;

	if (cJSON_IsArray(tools) && tools->child) {
		if ((arr = cJSON_AddArrayToObject(req, "tools")) == NULL) {
			*why = oom;
			return -1;
		}
		cJSON_ArrayForEach(t, tools)
			if (append(arr, tool_def(t, why)) == -1)
				return -1;
	}
	*why = oom;
	tc = get(chat, "tool_choice");
	name = get(get(tc, "function"), "name");
	if (str_is(get(tc, "type"), "function") && cJSON_IsString(name)) {
		if ((nc = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddStringToObject(nc, "type", "function") ||
		    !cJSON_AddStringToObject(nc, "name", name->valuestring)) {
			cJSON_Delete(nc);
			return -1;
		}
		return put(req, "tool_choice", nc);
	}
	return move(chat, "tool_choice", req, "tool_choice");
}

/* response_format and verbosity live under "text" in the Responses API. */
static int
chat_text(cJSON *chat, cJSON *req)
{
	static const char *const keys[] = {
		"name", "description", "schema", "strict", NULL
	};
	const char *const *k;
	cJSON *rf = get(chat, "response_format"), *js, *fmt = NULL, *text;

	if (str_is(get(rf, "type"), "json_schema") ||
	    str_is(get(rf, "type"), "json_object")) {
		js = get(rf, "json_schema");
		if ((fmt = cJSON_CreateObject()) == NULL ||
		    move(rf, "type", fmt, "type") == -1)
			goto fail;
		for (k = keys; *k && cJSON_IsObject(js); k++)
			if (move(js, *k, fmt, *k) == -1)
				goto fail;
	}
	if (fmt == NULL && get(chat, "verbosity") == NULL)
		return 0;
	if ((text = cJSON_CreateObject()) == NULL ||
	    put(req, "text", text) == -1)
		goto fail;
	if (fmt && add(text, "format", fmt) == -1)
		return -1;
	return move(chat, "verbosity", text, "verbosity");
fail:
	cJSON_Delete(fmt);
	return -1;
}

static cJSON *
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
		if (move(chat, *k, req, *k) == -1)
			goto fail;
	if (chat_messages(chat, req, why) == -1 ||
	    chat_tools(chat, req, why) == -1)
		goto fail;
	*why = oom;
	if (chat_text(chat, req) == -1)
		goto fail;
	effort = get(chat, "reasoning_effort");
	if (cJSON_IsString(effort) && set_effort(req, effort->valuestring)
	    == -1)
		goto fail;
	return req;
fail:
	cJSON_Delete(req);
	return NULL;
}

int
codex_chat_request(const struct config *cfg, const char *body, size_t len,
    struct buf *out, struct codex_req *cr, const char **why)
{
	cJSON *chat, *req = NULL, *r;
	int rc = -1;

	memset(cr, 0, sizeof *cr);
	if ((chat = parse_object(body, len, why)) == NULL)
		goto out;
	cr->stream = cJSON_IsTrue(get(chat, "stream"));
	cr->include_usage = cJSON_IsTrue(get(get(chat, "stream_options"),
	    "include_usage"));
	if ((req = chat_to_responses(chat, why)) == NULL ||
	    backend_rules(cfg, req, cr, why) == -1)
		goto out;
	/* Reasoning asked for, by reasoning_effort or a model suffix: ask
	 * for its summary too, it is what reasoning_content carries. */
	r = get(req, "reasoning");
	if (cJSON_IsObject(r) && get(r, "summary") == NULL &&
	    !cJSON_AddStringToObject(r, "summary", "auto")) {
		*why = oom;
		goto out;
	}
	rc = emit(req, out, why);
out:
	cJSON_Delete(req);
	cJSON_Delete(chat);
	return rc;
}

/* ---- the upstream head ---- */

/* Headers never copied from the client: credentials, what we set
 * ourselves, and what describes the client's own connection. */
static int
head_dropped(const struct http_msg *req, const struct http_header *h)
{
	static const char *const names[] = {
		"host", "content-length", "accept", "accept-encoding",
		"content-type", "expect", "authorization", "x-api-key",
		"openai-organization", "openai-project", "openai-beta",
		"originator", "session_id", "chatgpt-account-id", "cookie",
		NULL
	};
	return http_name_in(h, names) || http_is_hop(req, h);
}

/* A value we put into a header must not end the line early. */
static int
header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
codex_head(struct buf *out, const struct http_msg *req,
    const struct url *base, const struct account *a,
    const char *session_id, size_t body_len)
{
	const char *acct = a->kind == ACCT_OAUTH && a->account_id &&
	    a->account_id[0] ? a->account_id : NULL;
	size_t i, start = out->len;

	if (a->access_token == NULL || !header_safe(a->access_token) ||
	    (acct && !header_safe(acct)) ||
	    (session_id && !header_safe(session_id))) {
		errno = EINVAL;
		return -1;
	}
	if (buf_addf(out, "POST %s/responses HTTP/1.1\r\nHost: %s\r\n",
	    base->path ? base->path : "", base->hostport) == -1)
		goto fail;
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (!head_dropped(req, h) && http_header_add(out, h) == -1)
			goto fail;
	}
	if (buf_addf(out, "Authorization: Bearer %s\r\n",
	    a->access_token) == -1 ||
	    (acct && buf_addf(out, "chatgpt-account-id: %s\r\n", acct) == -1)
	    || buf_adds(out, "OpenAI-Beta: responses=experimental\r\n"
	    "originator: codex_cli_rs\r\n") == -1 ||
	    (session_id && session_id[0] && buf_addf(out,
	    "session_id: %s\r\n", session_id) == -1))
		goto fail;
	/* identity: the stream is read here, event by event. */
	if (buf_addf(out, "Accept: text/event-stream\r\n"
	    "Content-Type: application/json\r\nAccept-Encoding: identity\r\n"
	    "Content-Length: %zu\r\n\r\n", body_len) == -1)
		goto fail;
	return 0;
fail:
	/* Leave out as it was; what was written may hold the token. */
	if (out->p) {
		explicit_bzero(out->p + start, out->len - start);
		out->len = start;
	}
	return -1;
}

/* ---- server-sent events ---- */

static int
sse_dispatch(struct sse *s, sse_fn fn, void *arg)
{
	int r = 0;

	if (s->has_data || s->event[0])
		r = fn(arg, s->event, s->data.p ? s->data.p : "", s->data.len);
	s->data.len = 0;
	if (s->data.p)
		s->data.p[0] = '\0';
	s->has_data = 0;
	s->event[0] = '\0';
	return r;
}

/* One complete line, without its end. */
static int
sse_line(struct sse *s, const char *l, size_t n, sse_fn fn, void *arg)
{
	const char *colon, *v;
	size_t fl, vl;

	if (n == 0)
		return sse_dispatch(s, fn, arg);
	if (l[0] == ':')
		return 0;
	colon = memchr(l, ':', n);
	fl = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vl = n - (size_t)(v - l);
	if (vl && *v == ' ') {
		v++;
		vl--;
	}
	if (eq(l, fl, "event")) {
		if (vl >= sizeof s->event)
			vl = sizeof s->event - 1;
		memcpy(s->event, v, vl);
		s->event[vl] = '\0';
	} else if (eq(l, fl, "data")) {
		if (s->data.len + vl + 1 > SSE_MAX ||
		    (s->has_data && buf_add(&s->data, "\n", 1) == -1) ||
		    buf_add(&s->data, v, vl) == -1)
			return -1;
		s->has_data = 1;
	}
	return 0;
}

int
sse_feed(struct sse *s, const char *p, size_t n, sse_fn fn, void *arg)
{
	size_t i = 0, k;
	int r;

	while (i < n) {
		/* The last line ended in CR (kept in line, where no CR can
		 * otherwise be): an LF right after it is part of that end. */
		if (s->line.len == 1 && s->line.p[0] == '\r') {
			s->line.len = 0;
			if (p[i] == '\n') {
				i++;
				continue;
			}
		}
		for (k = i; k < n && p[k] != '\n' && p[k] != '\r'; k++)
			;
		if (s->line.len + (k - i) > SSE_MAX)
			return -1;
		if (k == n)
			return buf_add(&s->line, p + i, k - i);
		if (s->line.len) {
			if (buf_add(&s->line, p + i, k - i) == -1)
				return -1;
			r = sse_line(s, s->line.p, s->line.len, fn, arg);
		} else
			r = sse_line(s, p + i, k - i, fn, arg);
		s->line.len = 0;
		if (p[k] == '\r' && buf_add(&s->line, "\r", 1) == -1)
			return -1;
		i = k + 1;
		if (r != 0)
			return r;
	}
	return 0;
}

void
sse_free(struct sse *s)
{
	buf_free(&s->line);
	buf_free(&s->data);
	memset(s, 0, sizeof *s);
}

/* ---- Responses events to Chat Completions ---- */

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

	if (append(choices, ch) == -1 || delta == NULL ||
	    !cJSON_AddNumberToObject(ch, "index", 0)) {
		cJSON_Delete(delta);
		goto out;
	}
	if (add(ch, "delta", delta) == -1 || (finish ?
	    !cJSON_AddStringToObject(ch, "finish_reason", finish) :
	    !cJSON_AddNullToObject(ch, "finish_reason")))
		goto out;
	rc = print(c, out, "data: ", "\n\n");
out:
	cJSON_Delete(c);
	return rc;
}

/* A text delta: streamed as delta.key, else kept in b. */
static int
text_delta(struct chat_xlate *x, const cJSON *j, const char *key,
    struct buf *b, struct buf *out)
{
	const cJSON *d = get(j, "delta");
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
	const cJSON *id = get(get(j, "response"), "id");

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

	if (append(arr, tc) == -1 || (delta = delta_new(x)) == NULL) {
		cJSON_Delete(arr);
		return -1;
	}
	if (add(delta, "tool_calls", arr) == -1) {
		cJSON_Delete(delta);
		return -1;
	}
	return chunk(x, delta, NULL, out);
}

static int
on_item_added(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *it = get(j, "item");
	const cJSON *id = get(it, "call_id"), *name = get(it, "name");

	if (!str_is(get(it, "type"), "function_call"))
		return 0;
	if (!cJSON_IsString(id) || !cJSON_IsString(name))
		return 0;
	if (x->stream)
		return stream_call(x, tool_call(x->tool_calls++, id, name, ""),
		    out);
	x->tool_calls++;
	return append(x->calls, tool_call(-1, id, name, ""));
}

static int
on_args_delta(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *d = get(j, "delta");

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
	const cJSON *it = get(j, "item"), *id = get(it, "call_id");
	const cJSON *args = get(it, "arguments");
	cJSON *tc, *last = NULL;

	if (x->stream || !str_is(get(it, "type"), "function_call") ||
	    !cJSON_IsString(id) || !cJSON_IsString(args))
		return 0;
	cJSON_ArrayForEach(tc, (cJSON *)x->calls)
		if (str_is(get(tc, "id"), id->valuestring))
			last = tc;
	if (last == NULL) {
		/* Never announced: add it now. */
		if (!cJSON_IsString(get(it, "name")))
			return 0;
		x->tool_calls++;
		return append(x->calls, tool_call(-1, id, get(it, "name"),
		    args->valuestring));
	}
	return put_str(get(last, "function"), "arguments", args->valuestring);
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
	double in = num(get(u, "input_tokens")), o = num(get(u,
	    "output_tokens"));
	const cJSON *total = get(u, "total_tokens");
	cJSON *c = cJSON_CreateObject(), *pd, *cd;

	if (c == NULL || !cJSON_AddNumberToObject(c, "prompt_tokens", in) ||
	    !cJSON_AddNumberToObject(c, "completion_tokens", o) ||
	    !cJSON_AddNumberToObject(c, "total_tokens",
	    cJSON_IsNumber(total) ? total->valuedouble : in + o) ||
	    (pd = cJSON_AddObjectToObject(c, "prompt_tokens_details")) == NULL
	    || !cJSON_AddNumberToObject(pd, "cached_tokens",
	    num(get(get(u, "input_tokens_details"), "cached_tokens"))) ||
	    (cd = cJSON_AddObjectToObject(c, "completion_tokens_details")) ==
	    NULL || !cJSON_AddNumberToObject(cd, "reasoning_tokens",
	    num(get(get(u, "output_tokens_details"), "reasoning_tokens")))) {
		cJSON_Delete(c);
		return NULL;
	}
	return c;
}

static int
on_done(struct chat_xlate *x, const cJSON *j, struct buf *out)
{
	const cJSON *r = get(j, "response"), *u = get(r, "usage");
	const cJSON *reason = get(get(r, "incomplete_details"), "reason");
	const char *finish;

	if (str_is(get(r, "status"), "incomplete") ||
	    str_is(get(j, "type"), "response.incomplete") || reason)
		finish = str_is(reason, "content_filter") ? "content_filter" :
		    "length";
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
	const cJSON *m = get(get(get(j, "response"), "error"), "message");

	if (!cJSON_IsString(m))
		m = get(j, "message");
	if (!cJSON_IsString(m))
		m = get(get(j, "error"), "message");
	x->failed = 1;
	copy_msg(x->error, sizeof x->error, m, "the upstream response failed");
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

/* The event's name: the SSE event field, else the data's "type". */
static const char *
event_type(const char *event, const cJSON *j)
{
	const cJSON *t = get(j, "type");

	if (event && event[0])
		return event;
	return cJSON_IsString(t) ? t->valuestring : "";
}

int
chat_xlate_event(struct chat_xlate *x, const char *event, const char *data,
    size_t dlen, struct buf *out)
{
	cJSON *j = cJSON_ParseWithLength(data, dlen);
	const char *type = event_type(event, j);
	size_t i;
	int rc = 0;

	if (j == NULL && strcmp(type, "error") == 0) {
		x->failed = 1;
		copy_msg(x->error, sizeof x->error, NULL,
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
		    add(c, "usage", x->usage ? cJSON_Duplicate(x->usage, 1) :
		    cJSON_CreateNull()) == -1 ||
		    print(c, out, "data: ", "\n\n") == -1)
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

	if (append(choices, ch) == -1 ||
	    !cJSON_AddNumberToObject(ch, "index", 0) ||
	    (m = cJSON_AddObjectToObject(ch, "message")) == NULL ||
	    !cJSON_AddStringToObject(m, "role", "assistant") ||
	    add(m, "content", x->content.len ?
	    cJSON_CreateString(x->content.p) : cJSON_CreateNull()) == -1 ||
	    (x->reasoning.len && !cJSON_AddStringToObject(m,
	    "reasoning_content", x->reasoning.p)))
		goto out;
	if (cJSON_GetArraySize(x->calls) > 0) {
		if (add(m, "tool_calls", x->calls) == -1) {
			x->calls = NULL;
			goto out;
		}
		x->calls = NULL;
	}
	if (!cJSON_AddStringToObject(ch, "finish_reason", x->finish))
		goto out;
	if (x->usage) {
		rc = add(c, "usage", x->usage);
		x->usage = NULL;
		if (rc == -1)
			goto out;
	}
	rc = print(c, out, "", "");
out:
	cJSON_Delete(c);
	return rc;
}

int
chat_xlate_finish(struct chat_xlate *x, struct buf *out)
{
	if (!x->done) {
		if (!x->failed)
			copy_msg(x->error, sizeof x->error, NULL,
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

/* ---- non-stream Responses ---- */

int
resp_collect_event(struct resp_collect *rc, const char *event,
    const char *data, size_t dlen)
{
	cJSON *j = cJSON_ParseWithLength(data, dlen);
	const char *type = event_type(event, j);
	const cJSON *r = get(j, "response"), *m;
	int ret = 0;

	if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0) {
		if (cJSON_IsObject(r)) {
			rc->json.len = 0;
			if ((ret = print(r, &rc->json, "", "")) == 0)
				rc->done = 1;
		}
		if (strcmp(type, "response.failed") == 0) {
			m = get(get(r, "error"), "message");
			copy_msg(rc->error, sizeof rc->error, m,
			    "the upstream response failed");
		}
	} else if (strcmp(type, "error") == 0) {
		m = get(j, "message");
		if (!cJSON_IsString(m))
			m = get(get(j, "error"), "message");
		copy_msg(rc->error, sizeof rc->error, m,
		    "the upstream reported an error");
	}
	cJSON_Delete(j);
	return ret;
}

void
resp_collect_free(struct resp_collect *rc)
{
	buf_free(&rc->json);
	memset(rc, 0, sizeof *rc);
}

/* ---- cooldown and models ---- */

/* Seconds as a time, rounded up, without overflowing time_t. */
static time_t
after(time_t now, double secs)
{
	if (!(secs > 0))
		return 0;
	if (secs > WEEK)
		return now + WEEK + 1;
	return now + (time_t)secs + (secs > (double)(time_t)secs);
}

/* usage_limit_reached's error.resets_in_seconds or error.resets_at. */
static time_t
body_reset(const char *body, size_t blen, time_t now)
{
	cJSON *j = body && blen ? cJSON_ParseWithLength(body, blen) : NULL;
	const cJSON *e = get(j, "error");
	const cJSON *in = get(e, "resets_in_seconds"), *at = get(e,
	    "resets_at");
	double d = 0;
	char *end;
	time_t t = 0;

	if (cJSON_IsNumber(in) && in->valuedouble > 0)
		t = after(now, in->valuedouble);
	else {
		if (cJSON_IsNumber(at))
			d = at->valuedouble;
		else if (cJSON_IsString(at)) {
			d = strtod(at->valuestring, &end);
			if (end == at->valuestring || *end)
				d = 0;
		}
		if (d > (double)now)
			t = after(now, d - (double)now);
	}
	cJSON_Delete(j);
	return t;
}

time_t
codex_cooldown(const struct http_msg *resp, const char *body, size_t blen,
    time_t now)
{
	const struct http_header *h;
	time_t t = 0;

	h = resp ? http_header_get(resp, "retry-after") : NULL;
	if (h)
		t = http_retry_after(h->value, h->vlen, now);
	if (t <= now)
		t = body_reset(body, blen, now);
	if (t <= now)
		return 0;
	/* A reset a week away is a broken answer, not a plan. */
	return t > now + WEEK ? now + WEEK : t;
}

int
codex_models(struct buf *out)
{
	/* The base models, and the suffixed names of the guide's droid
	 * config with their siblings (-minimal is gpt-5's only: the codex
	 * models have no minimal effort). */
	static const char *const models[] = {
		"gpt-5", "gpt-5-minimal", "gpt-5-low", "gpt-5-medium",
		"gpt-5-high", "gpt-5-codex", "gpt-5-codex-low",
		"gpt-5-codex-medium", "gpt-5-codex-high", "gpt-5.1",
		"gpt-5.1-codex", "gpt-5.1-codex-mini", "gpt-5.1-codex-max",
		NULL
	};
	const char *const *m;

	if (buf_adds(out, "{\"object\":\"list\",\"data\":[") == -1)
		return -1;
	for (m = models; *m; m++)
		/* 2025-08-07, GPT-5's release: a fixed date keeps the list
		 * stable between calls. */
		if (buf_addf(out, "%s{\"id\":\"%s\",\"object\":\"model\","
		    "\"created\":1754524800,\"owned_by\":\"openai\"}",
		    m == models ? "" : ",", *m) == -1)
			return -1;
	return buf_adds(out, "]}");
}
