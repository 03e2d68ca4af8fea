/*
 * The answers made here, without an upstream: health, the model lists and
 * the status page.
 */

#include <stdio.h>

#include "buf.h"
#include "conn.h"
#include "models.h"
#include "reply.h"
#include "status.h"
#include "store.h"

void
local_answer(struct conn *c, struct req *r, int head_only, enum local what)
{
	struct buf b = { 0 }, json = { 0 };
	int flags = (head_only ? REPLY_HEAD : 0) | (r->close ? REPLY_CLOSE : 0);

	if ((what == LOCAL_MODELS_ANTHROPIC ? models_anthropic(&json) :
	    what == LOCAL_MODELS_OPENAI ? models_openai(store_count(c->cfg,
	    "claude") > 0, store_count(c->cfg, "codex") > 0, &json) :
	    buf_adds(&json, "{\"status\":\"ok\"}")) == -1)
		goto out;
	if (reply_json(&b, 200, json.p, flags) == 0) {
		r->status = 200;
		r->bytes = b.len;
		if (conn_write(c, b.p, b.len) == -1)
			r->close = 1;
	}
out:
	buf_free(&b);
	buf_free(&json);
}

void
local_status(struct conn *c, struct req *r, int head_only, int authorized)
{
	struct buf b = { 0 };
	int flags = (head_only ? REPLY_HEAD : 0) | (r->close ? REPLY_CLOSE : 0);
	int st = status_reply(c->cfg, c->in, &r->msg, authorized, flags, &b);

	if (st == -1) {
		conn_error(c, r, 500, "out of memory", 0, NULL);
	} else {
		r->status = st;
		r->bytes = b.len;
		if (conn_write(c, b.p, b.len) == -1)
			r->close = 1;
	}
	buf_free(&b);
}
