/*
 * ChatGPT's Codex backend: which requests go there, what changes on the
 * way (the Responses API, the backend behind the Codex CLI), cooldowns and
 * models. A non-stream answer is collected from the event stream in
 * codex_collect.c; Chat Completions is translated in chat_request.c and
 * chat_events.c.
 *
 * Body rewrites work on a cJSON tree parsed once and printed once.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/json.h"
#include "providers/codex.h"
#include "providers/codex_private.h"
#include "providers/models.h"


static const char oom[] = "out of memory";

static int
eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
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

int
codex_set_effort(cJSON *root, const char *effort)
{
	cJSON *r = json_get(root, "reasoning");

	/* Keep the client's other reasoning fields (summary). */
	if (!cJSON_IsObject(r)) {
		if (json_put(root, "reasoning", cJSON_CreateObject()) == -1)
			return -1;
		r = json_get(root, "reasoning");
	}
	return json_put_str(r, "effort", effort);
}

/* The client's model name into cr, then its alias (oauth-model-alias,
 * model-aliases), then a reasoning effort suffix read against the
 * catalog: the backend knows only its own names. */
static int
set_model(const struct config *cfg, const struct modellist *ml, cJSON *root,
    struct codex_req *cr, const char **why)
{
	static const struct modellist none;
	static const struct config nocfg;
	const cJSON *m = json_get(root, "model");
	char base[128], effort[12];

	if (!cJSON_IsString(m) || m->valuestring[0] == '\0') {
		*why = "the request has no model name";
		return -1;
	}
	if (strlen(m->valuestring) >= sizeof cr->model) {
		*why = "the model name is too long";
		return -1;
	}
	snprintf(cr->model, sizeof cr->model, "%s", m->valuestring);
	if (models_resolve(cfg ? cfg : &nocfg, ml ? ml : &none, cr->model, base,
	    sizeof base, effort, cr->alias_of, sizeof cr->alias_of, cr->why,
	    sizeof cr->why) == -1) {
		*why = cr->why;
		return -1;
	}
	*why = oom;
	if (effort[0] && codex_set_effort(root, effort) == -1)
		return -1;
	return json_put_str(root, "model", base);
}

cJSON *
codex_message(const char *role, cJSON **content)
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
cJSON *
codex_part(const char *type, const char *key, cJSON *v)
{
	cJSON *p = cJSON_CreateObject();

	if (p == NULL || !cJSON_AddStringToObject(p, "type", type)) {
		cJSON_Delete(p);
		cJSON_Delete(v);
		return NULL;
	}
	if (json_add(p, key, v) == -1) {
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
	cJSON *in = json_get(root, "input"), *it, *msg, *content;

	if (cJSON_IsString(in)) {
		in = cJSON_DetachItemViaPointer(root, in);
		if ((msg = codex_message("user", &content)) == NULL) {
			cJSON_Delete(in);
			return -1;
		}
		if (json_append(content,
		    codex_part("input_text", "text", in)) == -1 ||
		    json_put(root, "input", cJSON_CreateArray()) == -1) {
			cJSON_Delete(msg);
			return -1;
		}
		return json_append(json_get(root, "input"), msg);
	}
	cJSON_ArrayForEach(it, (cJSON_IsArray(in) ? in : NULL))
		if (json_str_is(json_get(it, "role"), "system") &&
		    json_put_str(it, "role", "developer") == -1)
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

/* A conversation not named by the client is known by what its prompt
 * cache holds: the model, the instructions and the first input item. */
static int
text_key(const cJSON *root, struct codex_req *cr)
{
	static const char kind[] = "codex text";
	const cJSON *in = json_get(root, "input");
	const char *ins = json_str(root, "instructions");
	char *first = NULL;
	struct keyhash_part p[4];

	if (cJSON_IsArray(in) && in->child &&
	    (first = cJSON_PrintUnformatted(in->child)) == NULL)
		return -1;
	p[0].p = kind;
	p[0].n = sizeof kind;
	p[1].p = cr->model;
	p[1].n = strlen(cr->model);
	p[2].p = ins;
	p[2].n = strlen(ins);
	p[3].p = first ? first : "";
	p[3].n = first ? strlen(first) : 0;
	keyhash(p, 4, cr->text_key);
	cJSON_free(first);
	return 0;
}

/* What the backend insists on, for both request kinds. */
static int
backend_rules(const struct config *cfg, const struct modellist *ml,
    cJSON *root, struct codex_req *cr, const char **why)
{
	/* Each answered 400 {"detail":"Unsupported parameter: ..."}. */
	static const char *const refused[] = {
		"max_output_tokens", "max_completion_tokens", "temperature",
		"top_p", "user", "previous_response_id", "truncation",
		"prompt_cache_retention", "context_management", "metadata",
		"safety_identifier", "presence_penalty", "frequency_penalty",
		"seed", "top_logprobs", NULL
	};
	const char *const *k;
	cJSON *ins, *tier;

	if (set_model(cfg, ml, root, cr, why) == -1)
		return -1;
	ins = json_get(root, "instructions");
	if (ins && !cJSON_IsNull(ins) && !cJSON_IsString(ins)) {
		*why = "instructions is not a string";
		return -1;
	}
	*why = oom;
	if (cJSON_IsString(ins))
		json_drop_after(root, ins);
	else if (json_put_str(root, "instructions", "") == -1)
		return -1;
	for (k = refused; *k; k++)
		json_drop(root, *k);
	tier = json_get(root, "service_tier");
	if (tier && !json_str_is(tier, "priority"))
		json_drop(root, "service_tier");
	if (json_put(root, "stream", cJSON_CreateTrue()) == -1 ||
	    json_put(root, "store", cJSON_CreateFalse()) == -1 ||
	    fix_input(root) == -1)
		return -1;
	session_from(cr, json_get(root, "prompt_cache_key"));
	return text_key(root, cr);
}

static int
emit(const cJSON *root, struct buf *out, const char **why)
{
	if (json_print(root, out, "", "") == -1) {
		*why = oom;
		return -1;
	}
	return 0;
}

/* With store false the backend keeps no reasoning between turns: the
 * client can only send it back when it was given encrypted. */
static int
include_reasoning(cJSON *root)
{
	static const char want[] = "reasoning.encrypted_content";
	cJSON *inc = json_get(root, "include"), *it;

	if (inc == NULL || cJSON_IsNull(inc))
		return json_put(root, "include", cJSON_CreateArray()) == -1 ?
		    -1 : json_append(json_get(root, "include"),
		    cJSON_CreateString(want));
	if (!cJSON_IsArray(inc))
		return 0;	/* not ours to fix: the backend will say */
	cJSON_ArrayForEach(it, inc)
		if (json_str_is(it, want))
			return 0;
	return json_append(inc, cJSON_CreateString(want));
}

int
codex_body(const struct config *cfg, const struct modellist *ml,
    const char *body, size_t len, struct buf *out, struct codex_req *cr,
    const char **why)
{
	cJSON *root;
	int rc = -1;

	memset(cr, 0, sizeof *cr);
	if ((root = parse_object(body, len, why)) == NULL)
		goto out;
	/* OpenAI's default: no stream unless asked for. */
	cr->stream = cJSON_IsTrue(json_get(root, "stream"));
	if (backend_rules(cfg, ml, root, cr, why) == -1)
		goto out;
	if (cfg->codex_encrypted_reasoning && include_reasoning(root) == -1) {
		*why = oom;
		goto out;
	}
	rc = emit(root, out, why);
out:
	cJSON_Delete(root);
	return rc;
}

int
codex_chat_request(const struct config *cfg, const struct modellist *ml,
    const char *body, size_t len, struct buf *out, struct codex_req *cr,
    const char **why)
{
	cJSON *chat, *req = NULL, *r;
	int rc = -1;

	memset(cr, 0, sizeof *cr);
	if ((chat = parse_object(body, len, why)) == NULL)
		goto out;
	cr->stream = cJSON_IsTrue(json_get(chat, "stream"));
	cr->include_usage = cJSON_IsTrue(json_get(json_get(chat,
	    "stream_options"), "include_usage"));
	if ((req = chat_to_responses(chat, why)) == NULL ||
	    backend_rules(cfg, ml, req, cr, why) == -1)
		goto out;
	/* Reasoning asked for, by reasoning_effort or a model suffix: ask
	 * for its summary too, it is what reasoning_content carries. */
	r = json_get(req, "reasoning");
	if (cJSON_IsObject(r) && json_get(r, "summary") == NULL &&
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

int
codex_model_refused(int status, const char *body, size_t len, char *msg,
    size_t msglen)
{
	cJSON *j = (status == 400 || status == 404) ?
	    cJSON_ParseWithLength(body, len) : NULL;
	const char *m = json_str(j, "detail");
	int refused;
	size_t i, k = 0;

	if (!*m)
		m = json_str(json_get(j, "error"), "message");
	refused = (strstr(m, "model") && (strstr(m, "not supported") ||
	    strstr(m, "does not exist"))) ||
	    json_str_is(json_get(json_get(j, "error"), "code"),
	    "model_not_found");
	for (i = 0; refused && m[i] && k + 1 < msglen; i++)
		msg[k++] = (unsigned char)m[i] < 0x20 || m[i] == 0x7f ? ' ' :
		    m[i];
	if (msglen)
		msg[k] = '\0';
	cJSON_Delete(j);
	return refused;
}

/* ---- the upstream head ---- */

/* Headers never copied from the client: credentials, what we set
 * ourselves, and what describes the client's own connection. Codex's own
 * client names itself in originator and keeps it, with its OpenAI-Beta
 * (it sends none since 2026). */
static int
head_dropped(const struct http_msg *req, const struct http_header *h,
    int own)
{
	static const char *const names[] = {
		"host", "content-length", "accept", "accept-encoding",
		"content-type", "expect", "authorization", "x-api-key",
		"openai-organization", "openai-project", "session_id",
		"chatgpt-account-id", "cookie", NULL
	}, *const named[] = { "openai-beta", "originator", NULL };

	return http_name_in(h, names) || (!own && http_name_in(h, named)) ||
	    http_is_hop(req, h);
}

/* The request comes from Codex's own client (codex_exec, codex-tui,
 * codex_cli_rs, ...). */
static int
own_client(const struct http_msg *req)
{
	const struct http_header *h = http_header_get(req, "originator");

	return h && h->vlen >= 5 && strncasecmp(h->value, "codex", 5) == 0;
}

int
codex_head(struct buf *out, const struct http_msg *req,
    const struct url *base, const struct account *a,
    const char *session_id, size_t body_len)
{
	const char *acct = a->kind == ACCT_OAUTH && a->account_id &&
	    a->account_id[0] ? a->account_id : NULL;
	size_t i, start = out->len;
	int own = own_client(req);

	if (a->access_token == NULL || !http_value_safe(a->access_token) ||
	    (acct && !http_value_safe(acct)) ||
	    (session_id && !http_value_safe(session_id))) {
		errno = EINVAL;
		return -1;
	}
	if (buf_addf(out, "POST %s/responses HTTP/1.1\r\nHost: %s\r\n",
	    base->path ? base->path : "", base->hostport) == -1)
		goto fail;
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (!head_dropped(req, h, own) && http_header_add(out, h) == -1)
			goto fail;
	}
	if (buf_addf(out, "Authorization: Bearer %s\r\n",
	    a->access_token) == -1 ||
	    (acct && buf_addf(out, "chatgpt-account-id: %s\r\n", acct) == -1)
	    || (!own && buf_adds(out, "OpenAI-Beta: responses=experimental"
	    "\r\noriginator: codex_cli_rs\r\n") == -1) ||
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
