/*
 * The answers made here, without an upstream: health, the model lists and
 * the status page.
 *
 * The model lists come from the providers' catalogs as kept in auth-dir.
 * A catalog that is due is fetched first, within MODELS_BUDGET_MS for
 * both: Claude Code's model discovery gives up after 3 s, so past the
 * budget the answer comes from what is kept (or built in).
 */

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "accounts/catalog.h"
#include "accounts/store.h"
#include "connection/conn.h"
#include "connection/status.h"
#include "network/net.h"
#include "parsers/reply.h"
#include "providers/models.h"
#include "support/buf.h"
#include "support/log.h"

#define MODELS_BUDGET_MS 2500

/* The catalogs of the providers that have an account, fetched when due
 * (never on a HEAD: it wants no list). Each due one gets its share of
 * what is left of the budget, so that one dead upstream cannot leave the
 * other untried (and asked again by every listing). */
static void
fresh_catalogs(struct conn *c, struct req *r, int head_only, int claude,
    int codex)
{
	static const char *const prov[] = { "claude", "codex" };
	int due[2] = { claude, codex }, i, n;
	long long deadline = r->t0 + MODELS_BUDGET_MS;
	char err[1200];

	for (i = 0; i < 2; i++)
		due[i] = due[i] && !head_only && catalog_due(c->cfg,
		    catalog_kept(c->cfg, prov[i]), time(NULL));
	for (i = 0, n = due[0] + due[1]; i < 2; i++) {
		long long share = (deadline - net_now_ms()) / (n > 0 ? n : 1);

		if (!due[i])
			continue;
		n--;
		if (catalog_fetch(c->cfg, prov[i], share < 1 ? 1 : (int)share, 0,
		    err, sizeof err) == -1)
			log_warn("the %s model list could not be fetched (%s); "
			    "listing the %s one", prov[i], err, catalog_kept(
			    c->cfg, prov[i])->fetched ? "kept" : "built-in");
	}
}

/* GET /v1/models in the shape the client speaks. */
static int
models_answer(struct conn *c, struct req *r, int head_only, int anthropic,
    struct buf *json)
{
	const struct config *cfg = c->cfg;
	int claude = store_count(cfg, "claude") > 0;
	int codex = !anthropic && store_count(cfg, "codex") > 0;
	const struct modellist *cl, *cx;
	const char *q = memchr(r->msg.target, '?', r->msg.tlen);

	fresh_catalogs(c, r, head_only, claude, codex);
	catalog_all(cfg, &cl, &cx);
	if (anthropic) {
		static const struct modellist none;

		return models_anthropic(cfg, claude ? cl : &none, q ? q + 1 :
		    NULL, q ? r->msg.tlen - (size_t)(q + 1 - r->msg.target) :
		    0, json);
	}
	return models_openai(cfg, claude ? cl : NULL, codex ? cx : NULL,
	    json);
}

void
local_answer(struct conn *c, struct req *r, int head_only, enum local what)
{
	struct buf b = { 0 }, json = { 0 };
	int flags = (head_only ? REPLY_HEAD : 0) | (r->close ? REPLY_CLOSE : 0);

	if ((what == LOCAL_HEALTH ? buf_adds(&json, "{\"status\":\"ok\"}") :
	    models_answer(c, r, head_only, what == LOCAL_MODELS_ANTHROPIC,
	    &json)) == -1)
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
