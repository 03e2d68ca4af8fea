/*
 * Conversations, as the prompt cache sees them. The cache lives with the
 * account, so a conversation that moves between accounts re-sends its
 * whole prefix uncached; the router keeps each conversation on its
 * account, and for that it needs to tell conversations apart. Clients
 * that name their conversation (Claude Code's session id, Codex's
 * prompt_cache_key) are taken at their word; the others are known by
 * what their cache entry is made of: the model, the system prompt and
 * the first message, which stay the same for the whole conversation.
 * Only a hash is kept: the table holds no prompt and no session id.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "parsers/jsonscan.h"
#include "providers/convkey.h"
#include "support/keyhash.h"

/* metadata.user_id's session: a JSON string holding JSON with a
 * session_id (Claude Code 2), or user_..._session_<id> (before). 0 when
 * there is none. */
static int
user_session(const char *meta, size_t n, char *sid, size_t sidlen)
{
	cJSON *m = cJSON_ParseWithLength(meta, n), *u = NULL;
	const char *uid, *s;
	int rc = 0;

	uid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m,
	    "user_id"));
	if (uid && (u = cJSON_Parse(uid)) != NULL &&
	    (s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(u,
	    "session_id"))) != NULL && *s)
		rc = snprintf(sid, sidlen, "%s", s) > 0;
	else if (uid && (s = strstr(uid, "_session_")) != NULL && s[9])
		rc = snprintf(sid, sidlen, "%s", s + 9) > 0;
	cJSON_Delete(u);
	cJSON_Delete(m);
	return rc;
}

static const char kind_head[] = "claude session";

void
convkey_session(const char *sid, char out[KEYHASH_LEN])
{
	struct keyhash_part p[2] = { { kind_head, sizeof kind_head },
	    { sid, strlen(sid) } };

	keyhash(p, 2, out);
}

void
convkey_claude(const struct http_msg *req, const char *body,
    const struct claude_req *r, char out[KEYHASH_LEN])
{
	static const char kind_meta[] = "claude user session",
	    kind_text[] = "claude text";
	const struct http_header *h = http_header_get(req,
	    "x-claude-code-session-id");
	struct keyhash_part p[4];
	struct jscan_iter it;
	struct jscan_tok msgs, first = { NULL, 0 };
	char sid[256];

	out[0] = '\0';
	p[0].p = kind_head;
	p[0].n = sizeof kind_head;
	if (h && h->vlen) {
		p[1].p = h->value;
		p[1].n = h->vlen;
		keyhash(p, 2, out);
		return;
	}
	if (!r->json)
		return;
	if (r->meta_len && user_session(body + r->meta_at, r->meta_len, sid,
	    sizeof sid)) {
		p[0].p = kind_meta;
		p[0].n = sizeof kind_meta;
		p[1].p = sid;
		p[1].n = strlen(sid);
		keyhash(p, 2, out);
		return;
	}
	if (r->msgs_len) {
		msgs.p = (const unsigned char *)body + r->msgs_at;
		msgs.n = r->msgs_len;
		if (*msgs.p == '[') {
			jscan_elements(&it, &msgs);
			(void)jscan_next(&it, &first, NULL, NULL, 0);
		}
	}
	p[0].p = kind_text;
	p[0].n = sizeof kind_text;
	p[1].p = r->model;
	p[1].n = strlen(r->model);
	p[2].p = body + r->sys_at;
	p[2].n = r->sys_len;
	p[3].p = first.p ? (const void *)first.p : "";
	p[3].n = first.p ? first.n : 0;
	keyhash(p, 4, out);
}

void
convkey_codex(const struct http_msg *req, const struct codex_req *cr,
    char out[KEYHASH_LEN])
{
	static const char kind[] = "codex session";
	const struct http_header *h = http_header_get(req, "session_id");
	struct keyhash_part p[2] = { { kind, sizeof kind }, { "", 0 } };

	if (cr->session_id[0]) {
		p[1].p = cr->session_id;
		p[1].n = strlen(cr->session_id);
	} else if (h && h->vlen) {
		p[1].p = h->value;
		p[1].n = h->vlen;
	} else {
		snprintf(out, KEYHASH_LEN, "%s", cr->text_key);
		return;
	}
	keyhash(p, 2, out);
}
