/*
 * Anthropic's Messages API behind an OAuth token or an API key: which
 * requests go there, and what changes on the way (wire-facts.md).
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claude.h"

static int
eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

int
claude_route(const char *method, size_t mlen, const char *path, size_t plen)
{
	return eq(method, mlen, "POST") && (eq(path, plen, "/v1/messages") ||
	    eq(path, plen, "/v1/messages/count_tokens"));
}

/* Headers never copied from the client: credentials, what we set
 * ourselves, and what describes the client's own connection. */
static int
dropped(const struct http_msg *req, const struct http_header *h)
{
	static const char *const names[] = {
		"x-api-key", "authorization", "host", "content-length",
		"accept-encoding", "expect", "anthropic-beta",
		"anthropic-version", "cookie", NULL
	};
	const char *const *n;

	for (n = names; *n; n++)
		if (http_name_is(h, *n))
			return 1;
	return http_is_hop(req, h);
}

/* Append token to the comma list in b unless it is already there. */
static int
beta_add(struct buf *b, const char *t, size_t n)
{
	const char *p = b->p;
	size_t left = b->len;

	while (left > 0) {
		const char *c = memchr(p, ',', left);
		size_t l = c ? (size_t)(c - p) : left;

		if (l == n && strncasecmp(p, t, n) == 0)
			return 0;
		if (!c)
			break;
		left -= l + 1;
		p = c + 1;
	}
	if (b->len && buf_add(b, ",", 1) == -1)
		return -1;
	return buf_add(b, t, n);
}

/* The client's anthropic-beta values, in order and without duplicates,
 * then ours. Merged, never overwritten: the client asked for its betas. */
static int
beta_merge(struct buf *b, const struct http_msg *req, int oauth)
{
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];
		size_t s = 0;

		if (!http_name_is(h, "anthropic-beta"))
			continue;
		while (s < h->vlen) {
			size_t e = s, ts, te;

			while (e < h->vlen && h->value[e] != ',')
				e++;
			for (ts = s; ts < e && (h->value[ts] == ' ' ||
			    h->value[ts] == '\t'); ts++)
				;
			for (te = e; te > ts && (h->value[te - 1] == ' ' ||
			    h->value[te - 1] == '\t'); te--)
				;
			if (te > ts && beta_add(b, h->value + ts, te - ts) == -1)
				return -1;
			s = e + 1;
		}
	}
	if (oauth && beta_add(b, CLAUDE_OAUTH_BETA,
	    sizeof CLAUDE_OAUTH_BETA - 1) == -1)
		return -1;
	return 0;
}

int
claude_head(struct buf *out, const struct http_msg *req,
    const struct config *cfg, const struct url *base,
    const struct account *a, size_t body_len)
{
	const struct http_header *ver;
	struct buf beta = { 0 };
	size_t i;
	int oauth = a->kind == ACCT_OAUTH, rc = -1;

	if (buf_addf(out, "%.*s %s%.*s HTTP/1.1\r\nHost: %s\r\n",
	    (int)req->mlen, req->method, base->path,
	    (int)req->tlen, req->target, base->hostport) == -1)
		return -1;
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (dropped(req, h))
			continue;
		if (buf_addf(out, "%.*s: %.*s\r\n", (int)h->nlen, h->name,
		    (int)h->vlen, h->value) == -1)
			goto out;
	}
	if (oauth) {
		if (buf_addf(out, "Authorization: Bearer %s\r\n",
		    a->access_token) == -1)
			goto out;
	} else if (buf_addf(out, "x-api-key: %s\r\n", a->access_token) == -1)
		goto out;
	if (beta_merge(&beta, req, oauth && cfg->claude_oauth_beta) == -1)
		goto out;
	if (beta.len && buf_addf(out, "anthropic-beta: %s\r\n", beta.p) == -1)
		goto out;
	ver = http_header_get(req, "anthropic-version");
	if (ver && ver->vlen) {
		if (buf_addf(out, "anthropic-version: %.*s\r\n",
		    (int)ver->vlen, ver->value) == -1)
			goto out;
	} else if (buf_adds(out, "anthropic-version: " CLAUDE_VERSION
	    "\r\n") == -1)
		goto out;
	/* identity keeps the stream readable for usage accounting, and the
	 * client never has to undo a coding it did not negotiate with us. */
	if (buf_addf(out, "Accept-Encoding: identity\r\n"
	    "Content-Length: %zu\r\n\r\n", body_len) == -1)
		goto out;
	rc = 0;
out:
	buf_free(&beta);
	return rc;
}

static cJSON *
text_block(const char *text)
{
	cJSON *b = cJSON_CreateObject();

	if (b == NULL || !cJSON_AddStringToObject(b, "type", "text") ||
	    !cJSON_AddStringToObject(b, "text", text)) {
		cJSON_Delete(b);
		return NULL;
	}
	return b;
}

/* Does the system field already start with the line? */
static int
has_line(const cJSON *sys)
{
	const cJSON *first, *type, *text;

	if (cJSON_IsString(sys))
		return strncmp(sys->valuestring, CLAUDE_CODE_LINE,
		    sizeof CLAUDE_CODE_LINE - 1) == 0;
	if (!cJSON_IsArray(sys) || (first = sys->child) == NULL)
		return 0;
	type = cJSON_GetObjectItemCaseSensitive(first, "type");
	text = cJSON_GetObjectItemCaseSensitive(first, "text");
	return cJSON_IsString(type) && strcmp(type->valuestring, "text") == 0
	    && cJSON_IsString(text) &&
	    strcmp(text->valuestring, CLAUDE_CODE_LINE) == 0;
}

/* The new system value: the line first, then what the client had. */
static cJSON *
new_system(cJSON *root, cJSON *sys)
{
	cJSON *arr, *line;

	if ((line = text_block(CLAUDE_CODE_LINE)) == NULL)
		return NULL;
	if (cJSON_IsArray(sys)) {
		/* Detach the client's array and put the line in front. */
		arr = cJSON_DetachItemViaPointer(root, sys);
		if (!cJSON_InsertItemInArray(arr, 0, line)) {
			cJSON_Delete(line);
			cJSON_Delete(arr);
			return NULL;
		}
		return arr;
	}
	if ((arr = cJSON_CreateArray()) == NULL) {
		cJSON_Delete(line);
		return NULL;
	}
	cJSON_AddItemToArray(arr, line);
	/* An empty text block is refused upstream: drop an empty string. */
	if (cJSON_IsString(sys) && sys->valuestring[0]) {
		cJSON *b = text_block(sys->valuestring);
		if (b == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, b);
	}
	if (sys)
		cJSON_DeleteItemFromObjectCaseSensitive(root, "system");
	return arr;
}

int
claude_body(const char *body, size_t len, struct buf *out, int *changed,
    const char **why)
{
	cJSON *root, *sys, *arr;
	const char *end = NULL;
	char *s = NULL;
	int rc = -1;

	*changed = 0;
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL || !cJSON_IsObject(root)) {
		*why = "the request body is not a JSON object";
		goto out;
	}
	for (; end < body + len; end++)
		if (!strchr(" \t\r\n", *end)) {
			*why = "the request body has data after its JSON object";
			goto out;
		}
	sys = cJSON_GetObjectItemCaseSensitive(root, "system");
	if (sys && !cJSON_IsNull(sys) && !cJSON_IsString(sys) &&
	    !cJSON_IsArray(sys)) {
		/* Not ours to fix: the upstream will say what is wrong. */
		rc = 0;
		goto out;
	}
	if (has_line(sys)) {
		rc = 0;
		goto out;
	}
	if ((arr = new_system(root, sys)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	cJSON_AddItemToObject(root, "system", arr);
	if ((s = cJSON_PrintUnformatted(root)) == NULL ||
	    buf_adds(out, s) == -1) {
		*why = "out of memory";
		goto out;
	}
	*changed = 1;
	rc = 0;
out:
	free(s);
	cJSON_Delete(root);
	return rc;
}

int
claude_models(struct buf *out)
{
	static const struct {
		const char *id, *name, *created;
	} models[] = {
		{ "claude-opus-4-5-20251101", "Claude Opus 4.5",
		    "2025-11-01T00:00:00Z" },
		{ "claude-sonnet-4-5-20250929", "Claude Sonnet 4.5",
		    "2025-09-29T00:00:00Z" },
		{ "claude-haiku-4-5-20251001", "Claude Haiku 4.5",
		    "2025-10-01T00:00:00Z" },
		{ "claude-opus-4-1-20250805", "Claude Opus 4.1",
		    "2025-08-05T00:00:00Z" },
		{ "claude-opus-4-20250514", "Claude Opus 4",
		    "2025-05-22T00:00:00Z" },
		{ "claude-sonnet-4-20250514", "Claude Sonnet 4",
		    "2025-05-22T00:00:00Z" },
		{ "claude-3-7-sonnet-20250219", "Claude Sonnet 3.7",
		    "2025-02-24T00:00:00Z" },
		{ "claude-3-5-haiku-20241022", "Claude Haiku 3.5",
		    "2024-10-22T00:00:00Z" },
	};
	size_t i, n = sizeof models / sizeof models[0];

	if (buf_adds(out, "{\"data\":[") == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_addf(out, "%s{\"type\":\"model\",\"id\":\"%s\","
		    "\"display_name\":\"%s\",\"created_at\":\"%s\"}",
		    i ? "," : "", models[i].id, models[i].name,
		    models[i].created) == -1)
			return -1;
	return buf_addf(out, "],\"has_more\":false,\"first_id\":\"%s\","
	    "\"last_id\":\"%s\"}", models[0].id, models[n - 1].id);
}

/* A reset header's value: epoch seconds or RFC 3339. */
static time_t
reset_time(const struct http_header *h)
{
	char v[64];
	char *end;
	long long t;

	if (h->vlen == 0 || h->vlen >= sizeof v)
		return 0;
	memcpy(v, h->value, h->vlen);
	v[h->vlen] = '\0';
	t = strtoll(v, &end, 10);
	if (*end == '\0')
		return (time_t)t;
	t = token_parse_time(v);
	return t == -1 ? 0 : (time_t)t;
}

time_t
claude_cooldown(const struct http_msg *resp, time_t now)
{
	const struct http_header *h;
	time_t t, best = 0;
	size_t i;

	if ((h = http_header_get(resp, "retry-after")) != NULL &&
	    (t = http_retry_after(h->value, h->vlen, now)) > now)
		best = t;
	else if ((h = http_header_get(resp,
	    "anthropic-ratelimit-unified-reset")) != NULL &&
	    (t = reset_time(h)) > now)
		best = t;
	else
		for (i = 0; i < resp->nheaders; i++) {
			h = &resp->headers[i];
			if (h->nlen < 26 || strncasecmp(h->name,
			    "anthropic-ratelimit-", 20) != 0 ||
			    strncasecmp(h->name + h->nlen - 6, "-reset", 6) != 0)
				continue;
			if ((t = reset_time(h)) > now && (best == 0 || t < best))
				best = t;
		}
	/* A reset a week away is a broken header, not a plan. */
	if (best > now + 7 * 86400)
		best = now + 7 * 86400;
	return best;
}
