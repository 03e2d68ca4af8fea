/*
 * Forwarding one request: the body made ready once for every kind of
 * account, an account picked and its token made fresh, the upstream
 * request sent, and the status looked at before a byte goes to the
 * client, so a refused token, a rate limit or a dead upstream can be
 * stepped around without the client noticing (failover.c decides how).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "accounts/catalog.h"
#include "accounts/convo.h"
#include "accounts/figures.h"
#include "accounts/usage.h"
#include "connection/filter.h"
#include "connection/forward_int.h"
#include "network/net.h"
#include "providers/convkey.h"
#include "providers/models.h"
#include "providers/ratelimit.h"
#include "support/log.h"

/* What placing a new conversation may wait for an account's figures. */
#define PLACE_MS 1500

/* A random UUID for the Codex session_id header, one per connection, for
 * clients that send no prompt_cache_key. */
static const char *
conn_session(struct conn *c)
{
	unsigned char r[16];
	size_t i;
	int k = 0;

	if (c->session_id[0])
		return c->session_id;
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	for (i = 0; i < sizeof r; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			c->session_id[k++] = '-';
		k += snprintf(c->session_id + k, sizeof c->session_id -
		    (size_t)k, "%02x", r[i]);
	}
	return c->session_id;
}

/* A third-party Claude request for an alias gets its model; Claude
 * Code's requests go as they came. 0, or -1 once the client has its
 * answer. */
static int
aliased(struct fwd *w)
{
	const char *to = models_alias(w->cfg, "claude", w->cq.model), *why;
	char asked[sizeof w->cq.model];

	if (to == NULL)
		return 0;
	snprintf(asked, sizeof asked, "%s", w->cq.model);
	if (claude_alias(&w->r->body, &w->cq, to, &why) == -1) {
		w->r->close = 1;
		conn_error(w->c, w->r, 500, why, 0, NULL);
		return -1;
	}
	snprintf(w->r->model, sizeof w->r->model, "%.100s=>%.96s", asked, to);
	return 0;
}

/* The body read, checked and made ready for every kind of account, once:
 * the Claude Code line for third-party requests on Claude OAuth accounts
 * (spliced in as pieces of the client's body, not a copy of it), the
 * backend's rules (or the Chat Completions translation) for Codex. 0, or
 * -1 once the client has its answer. */
static int
prepare(struct fwd *w)
{
	struct conn *c = w->c;
	struct req *r = w->r;
	const char *why = NULL, *p;
	int changed, rc = 0;

	if (r->msg.expect_continue && conn_write(c,
	    "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1) {
		r->close = 1;
		return -1;
	}
	if (conn_read_body(c, r) == -1)
		return -1;
	p = r->body.p ? r->body.p : "";
	if (w->route == ROUTE_CLAUDE) {
		if (claude_read(p, r->body.len, &w->cq, &w->bad_json) == 0)
			snprintf(r->model, sizeof r->model, "%s", w->cq.model);
		w->want.kind = claude_first_party(&r->msg, &w->cq) ?
		    CLIENT_FIRST_PARTY : CLIENT_THIRD_PARTY;
		r->client = w->want.kind == CLIENT_FIRST_PARTY ? "claude-code" :
		    "third-party";
		if (w->want.kind == CLIENT_THIRD_PARTY) {
			w->want.keys_only = w->cfg->claude_third_party ==
			    THIRD_PARTY_API_KEY;
			w->want.needs_extra = w->cfg->claude_third_party ==
			    THIRD_PARTY_SUBSCRIPTION;
			if (aliased(w) == -1)
				return -1;
			p = r->body.p ? r->body.p : "";
			if (w->cfg->claude_system_prefix)
				claude_prefix(p, r->body.len, &w->cq,
				    &w->prefixed, &changed);
		}
		return 0;
	}
	if (w->route == ROUTE_RESPONSES)
		rc = codex_body(w->cfg, catalog_models(w->cfg, "codex"), p,
		    r->body.len, &w->made, &w->cr, &why);
	else
		rc = codex_chat_request(w->cfg, catalog_models(w->cfg,
		    "codex"), p, r->body.len, &w->made, &w->cr, &why);
	if (rc == -1) {
		r->close = 1;
		conn_error(c, r, 400, why, 0, NULL);
		c->exit = EXIT_BADREQ;
		return -1;
	}
	snprintf(r->model, sizeof r->model, "%.100s%s%.96s", w->cr.model,
	    w->cr.alias_of[0] ? "=>" : "", w->cr.alias_of);
	return 0;
}

/* Where the request's conversation is: its account goes first. Named
 * only when there is a choice of account to make. */
static void
find_conversation(struct fwd *w)
{
	if (w->cfg->routing != ROUTING_HEADROOM ||
	    store_count(w->cfg, w->want.provider) < 2)
		return;
	if (w->route == ROUTE_CLAUDE)
		convkey_claude(&w->r->msg, w->r->body.p ? w->r->body.p : "",
		    &w->cq, w->conv);
	else
		convkey_codex(&w->r->msg, &w->cr, w->conv);
	if (!w->conv[0])
		return;
	if ((w->known = convo_find(w->cfg, w->conv, w->was, sizeof w->was,
	    &w->seen)) != 0)
		w->want.sticky = w->was;
	else
		/* A new conversation is placed by headroom: an account that
		 * never reported its figures is asked for them, once. */
		(void)figures_fetch(w->cfg, w->want.provider, FIGURES_NONE,
		    PLACE_MS);
}

/* The conversation is on the account that served it now. */
static void
keep_conversation(struct fwd *w)
{
	if (w->cfg->routing == ROUTING_HEADROOM && w->conv[0] &&
	    w->r->status >= 200 && w->r->status < 300 && convo_due(w->known,
	    w->was, w->a.id, w->seen, time(NULL)))
		convo_put(w->cfg, w->conv, w->a.id);
}

/* Keep what the answer says of the account's limits. */
void
fwd_note(struct fwd *w)
{
	struct quota q;

	const struct http_header *tag;
	char etag[160];

	if (w->route == ROUTE_CLAUDE)
		ratelimit_claude_quota(&w->resp, &q);
	else
		ratelimit_codex_quota(&w->resp, time(NULL), &q);
	figures_record(w->cfg, w->a.id, &q);
	/* The catalog's version: another one means models came or went. */
	if (w->route != ROUTE_CLAUDE && (tag = http_header_get(&w->resp,
	    "x-models-etag")) != NULL && tag->vlen < sizeof etag) {
		snprintf(etag, sizeof etag, "%.*s", (int)tag->vlen, tag->value);
		catalog_seen_tag(w->cfg, "codex", etag);
	}
}

/* The body as the account in hand gets it. 0, or -1 once the client has
 * its answer. */
static int
body_for(struct fwd *w, struct pieces *body)
{
	struct req *r = w->r;

	if (w->route != ROUTE_CLAUDE) {
		body->n = w->made.len > 0;
		body->v[0].iov_base = w->made.p;
		body->v[0].iov_len = body->len = w->made.len;
		return 0;
	}
	if (w->a.kind == ACCT_OAUTH && w->want.kind == CLIENT_THIRD_PARTY &&
	    w->cfg->claude_system_prefix) {
		if (w->bad_json) {
			/* The line cannot go into what is not JSON. */
			r->close = 1;
			conn_error(w->c, r, 400, w->bad_json, 0, NULL);
			w->c->exit = EXIT_BADREQ;
			return -1;
		}
		if (w->prefixed.n > 0) {
			*body = w->prefixed;
			return 0;
		}
	}
	body->n = r->body.len > 0;
	body->v[0].iov_base = r->body.p;
	body->v[0].iov_len = body->len = r->body.len;
	return 0;
}

/* The upstream head could not be made: out of memory, or a credential
 * that would split it (token files and the config refuse those when they
 * are read; this is the last guard). Named, never quoted. */
static void
head_failed(struct fwd *w)
{
	char msg[1400];

	if (errno != EINVAL)
		snprintf(msg, sizeof msg, "cannot build the upstream request: "
		    "out of memory");
	else
		snprintf(msg, sizeof msg, "the credential of account %.300s "
		    "(%.700s) holds a control character and would split the "
		    "request's head: log in again, or fix the %s", w->a.email ?
		    w->a.email : w->a.id, w->a.file ? w->a.file : "config",
		    w->a.file ? "file" : "key in the config");
	log_err("%s", msg);
	conn_error(w->c, w->r, 500, msg, 0, NULL);
}

/* Send the request to the account in hand and read the answer's head
 * into w->resp. 0, 1 when the client already has its answer, or -1 with
 * w->f filled. */
int
fwd_send(struct fwd *w)
{
	struct conn *c = w->c;
	struct req *r = w->r;
	const struct url *url = w->a.base ? w->a.base :
	    w->route == ROUTE_CLAUDE ? &w->cfg->claude_base :
	    &w->cfg->codex_base;
	struct pieces body;
	const char *why;

	snprintf(r->who, sizeof r->who, "%s", w->a.email ? w->a.email :
	    w->a.id);
	r->via = w->a.kind == ACCT_OAUTH ? "subscription" : "api-key";
	if (body_for(w, &body) == -1)
		return 1;
	w->head.len = 0;
	if ((w->route == ROUTE_CLAUDE ? claude_head(&w->head, &r->msg,
	    w->cfg, url, &w->a, body.len) : codex_head(&w->head, &r->msg, url,
	    &w->a, w->cr.session_id[0] ? w->cr.session_id : conn_session(c),
	    body.len)) == -1) {
		head_failed(w);
		return 1;
	}
	log_head("upstream request", w->head.p, w->head.len);
	w->tries++;
	memset(&w->f, 0, sizeof w->f);
	if ((w->n = upstream_exchange(c, url, &w->head, &body, &w->hl, &w->f)) == -1)
		return -1;
	if (http_parse_response((char *)c->rbuf, w->hl, "POST", &w->resp,
	    &why) == -1) {
		log_err("upstream %s: %s", url->host, why);
		up_close(c->up);
		snprintf(w->f.msg, sizeof w->f.msg, "upstream %s sent a "
		    "malformed response head", url->host);
		w->f.status = 502;
		w->f.no_retry = 1;
		return -1;
	}
	log_head("upstream response", (char *)c->rbuf, w->hl);
	return 0;
}

/* Relay the answer of the account that served. */
static void
answer(struct fwd *w)
{
	struct conn *c = w->c;
	struct req *r = w->r;
	const struct http_msg *resp = &w->resp;
	char extra[64] = "";

	if (resp->status >= 200 && resp->status < 300)
		store_ok(w->cfg, &w->a);
	if (resp->status == 429 && !http_header_get(resp, "retry-after") &&
	    w->until > time(NULL))
		snprintf(extra, sizeof extra, "retry-after: %lld\r\n",
		    (long long)(w->until - time(NULL)));
	r->status = resp->status;
	if (resp->framing == HTTP_BODY_CLOSE)
		r->close = 1;
	if (r->scan) {
		const struct http_header *ct = http_header_get(resp,
		    "content-type");

		usage_scan_init(r->scan, usage_kind_for(w->want.provider,
		    ct ? ct->value : NULL, ct ? ct->vlen : 0));
	}
	if (w->collected)
		relay_buffered(c, r, resp, w->ebody.p, w->ebody.len, extra);
	else if (w->route == ROUTE_CLAUDE || (w->route == ROUTE_RESPONSES &&
	    (w->cr.stream || resp->status < 200 || resp->status > 299)))
		relay_stream(c, r, resp, w->hl, (size_t)w->n - w->hl, extra);
	else
		relay_events(c, r, resp, w->hl, (size_t)w->n - w->hl,
		    w->route, &w->cr);
}

/* The usage line, once the client has its answer. */
static void
record(struct fwd *w, struct usage_scan *scan)
{
	struct req *r = w->r;
	struct usage_rec ur = { w->want.provider, r->who, r->status,
	    net_now_ms() - r->t0, { "", 0, 0, 0, 0 } };

	usage_scan_done(scan, &ur.u);
	r->scan = NULL;
	/* The model that served: an alias's target. */
	if (ur.u.model[0] == '\0')
		snprintf(ur.u.model, sizeof ur.u.model, "%.127s",
		    strstr(r->model, "=>") ? strstr(r->model, "=>") + 2 :
		    r->model);
	if (usage_record(w->cfg, &ur) == -1)
		log_warn("usage: cannot append to %s/usage.jsonl: %s",
		    w->cfg->auth_dir, strerror(errno));
}

/*
 * One proxied request: pick an account, make its token fresh, send, and
 * look at the status before a byte goes to the client. The body is held,
 * so a 401 gets one refresh and one more try on the same account; a 429, a
 * 5xx or a failed connection moves on to the next account, up to
 * request-retry times; Anthropic's refusal of a subscription for this
 * kind of client moves on to an account that may serve it. When no other
 * account can take it, the client gets what the upstream said.
 */
void
forward(struct conn *c, struct req *r, enum route route)
{
	struct fwd *w;
	struct usage_scan scan;
	enum step s;
	int pr;

	if ((w = calloc(1, sizeof *w)) == NULL) {
		r->close = 1;
		conn_error(c, r, 500, "out of memory", 0, NULL);
		return;
	}
	w->c = c;
	w->r = r;
	w->head.secret = 1;     /* it carries the account's credential */
	w->cfg = c->cfg;
	w->route = route;
	w->want.provider = route == ROUTE_CLAUDE ? "claude" : "codex";
	usage_scan_init(&scan, USAGE_NONE);
	if (c->cfg->usage_stats)
		r->scan = &scan;
	if (prepare(w) == -1)
		goto out;
	find_conversation(w);
	if (w->want.kind == CLIENT_THIRD_PARTY &&
	    w->cfg->claude_third_party == THIRD_PARTY_REFUSE) {
		fwd_answer_refused(w, NULL);
		goto out;
	}
	if ((pr = fwd_pick(w, &w->a)) != 0) {
		fwd_answer_none(w, pr);
		goto out;
	}
	while ((s = fwd_try(w)) != STEP_ANSWER) {
		if (s == STEP_DONE)
			goto out;
		if (s == STEP_NEXT) {
			account_free(&w->a);
			w->a = w->next;
			memset(&w->next, 0, sizeof w->next);
			w->refreshed = 0;
		}
	}
	answer(w);
	keep_conversation(w);
out:
	if (r->scan && r->status != 0)
		record(w, &scan);
	r->scan = NULL;
	buf_free(&w->head);
	buf_free(&w->made);
	buf_free(&w->ebody);
	account_free(&w->a);
	account_free(&w->next);
	free(w);
}
