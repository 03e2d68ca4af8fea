/*
 * Forwarding one request: pick an account, make its token fresh, rewrite,
 * send, and look at the status before a byte goes to the client, so a
 * refused token, a rate limit or a dead upstream can be stepped around
 * without the client noticing.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "claude.h"
#include "codex.h"
#include "conn.h"
#include "filter.h"
#include "log.h"
#include "reply.h"
#include "store.h"
#include "token.h"
#include "net.h"
#include "usage.h"

/* Why the upstream could not be asked, for the client and the log. */
struct fail {
	int status;             /* 502 or 504 */
	int exit;               /* non-zero: end the connection with it */
	int no_retry;           /* the request may be in the works upstream */
	char msg[1200];
};

/* Connect to url unless the open connection can be reused. 0, or -1 with f
 * filled. */
static int
upstream_ready(struct conn *c, const struct url *url, struct fail *f)
{
	const struct config *cfg = c->cfg;
	char err[512];
	int e;

	if (up_usable(c->up, url))
		return 0;
	if (!c->ta_loaded) {
		if (!conn_ready_ta(cfg, &c->ta) && ta_load_cached(&c->ta,
		    cfg->ca_file, cfg->auth_dir, err, sizeof err) == -1) {
			snprintf(f->msg, sizeof f->msg, "%s: set ca-file to a "
			    "PEM bundle of trusted CAs", err);
			f->status = 502;
			f->exit = EXIT_TLS;
			return -1;
		}
		c->ta_loaded = 1;
	}
	c->up->cache_dir = cfg->auth_dir;
	e = up_connect(c->up, url, &cfg->proxy, &c->ta,
	    cfg->connect_timeout * 1000, err, sizeof err);
	if (e == UP_OK) {
		c->up->timeout_ms = cfg->upstream_timeout * 1000;
		log_debug("connected to %s port %s%s", url->host, url->port,
		    c->up->resumed ? " (TLS session resumed)" : "");
		return 0;
	}
	if (e == UP_TLS)
		snprintf(f->msg, sizeof f->msg, "upstream %s: %s (ca-file %s)",
		    url->host, err, cfg->ca_file);
	else if (strncmp(err, "proxy ", 6) == 0)
		/* The proxy said no: name it, not the provider. */
		snprintf(f->msg, sizeof f->msg, "%s; check proxy-url", err);
	else
		snprintf(f->msg, sizeof f->msg, "upstream %s unreachable: %s; "
		    "check the network, the host name and the base URL",
		    url->host, err);
	f->status = e == UP_TIMEOUT ? 504 : 502;
	return -1;
}

/* Read the upstream's response head into c->rbuf. Returns the bytes in
 * rbuf (head and any body bytes after it), 0 on EOF before any byte, -1 on
 * error or timeout (c->up says which). */
static ssize_t
upstream_head(struct conn *c, size_t *hl)
{
	size_t have = 0;

	for (;;) {
		ssize_t n;

		if (have >= RESP_HEAD_MAX)
			return -1;
		n = up_read(c->up, c->rbuf + have, RESP_HEAD_MAX - have);
		if (n <= 0)
			return have == 0 && n == 0 ? 0 : -1;
		have += (size_t)n;
		if ((*hl = http_head_len((char *)c->rbuf, have)) > 0)
			return (ssize_t)have;
	}
}

/* Send one request upstream and read the response head, reconnecting once
 * when a reused connection turns out closed. Returns the bytes in rbuf, or
 * -1 with f filled. */
static ssize_t
exchange(struct conn *c, const struct url *url, const struct buf *head,
    const struct pieces *body, size_t *hl, struct fail *f)
{
	const struct config *cfg = c->cfg;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		int reused, i, w;
		ssize_t n;

		if (upstream_ready(c, url, f) == -1)
			return -1;
		reused = c->up->used;
		w = up_write(c->up, head->p, head->len, body->n == 0);
		for (i = 0; i < body->n && w == UP_OK; i++)
			w = up_write(c->up, body->v[i].iov_base,
			    body->v[i].iov_len, i == body->n - 1);
		if (w == UP_OK) {
			n = upstream_head(c, hl);
			if (n > 0)
				return n;
			if (n == -1 || !reused || c->up->timed_out)
				break;
		} else if (!reused || c->up->timed_out)
			break;
		/* The server closed the idle connection as we reused it:
		 * nothing reached it, so sending again is safe. */
		log_debug("upstream closed a kept connection; reconnecting");
		up_close(c->up);
	}
	if (c->up->timed_out) {
		snprintf(f->msg, sizeof f->msg, "upstream %s did not answer "
		    "within upstream-timeout (%d s)", url->host,
		    cfg->upstream_timeout);
		f->status = 504;
	} else {
		snprintf(f->msg, sizeof f->msg, "upstream %s closed the "
		    "connection or sent a malformed response", url->host);
		f->status = 502;
	}
	/* Once the request went out, the upstream may still be generating
	 * (and billing) the answer: sending it again is no retry but a copy.
	 * A silent server is not worth a second wait either. */
	f->no_retry = c->up->used || c->up->timed_out;
	up_close(c->up);
	return -1;
}

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

/* Every account is cooling down: 429 with the soonest reset. */
static void
answer_cooling(struct conn *c, struct req *r, time_t soonest,
    const char *msg)
{
	char extra[64];
	long wait = (long)(soonest - time(NULL));

	snprintf(extra, sizeof extra, "retry-after: %ld\r\n",
	    wait > 0 ? wait : 1);
	conn_error(c, r, 429, msg, 0, extra);
}

/* The request body as this account must get it, made at most once: the
 * Claude Code line for Claude OAuth accounts (spliced in as pieces of the
 * client's body, not a copy of it), the backend's rules (or the Chat
 * Completions translation) for Codex. */
static int
body_for(struct conn *c, struct req *r, enum route route,
    const struct account *a, struct codex_req *cr, struct buf *prefixed,
    struct pieces *spliced, int *have, struct pieces *body)
{
	const char *why = NULL, *p = r->body.p ? r->body.p : "";
	int changed = 1, rc = 0;

	body->n = r->body.len > 0;
	body->v[0].iov_base = (void *)(uintptr_t)p;
	body->v[0].iov_len = body->len = r->body.len;
	if (route == ROUTE_CLAUDE && (!c->cfg->claude_system_prefix ||
	    a->kind != ACCT_OAUTH)) {
		/* The body goes as it is; the model is only for the log. */
		if (!r->model[0])
			(void)claude_model(p, r->body.len, r->model,
			    sizeof r->model);
		return 0;
	}
	if (!*have) {
		if (route == ROUTE_CLAUDE)
			rc = claude_body_pieces(p, r->body.len, spliced,
			    &changed, &why, r->model, sizeof r->model);
		else if (route == ROUTE_RESPONSES)
			rc = codex_body(c->cfg, p, r->body.len, prefixed, cr,
			    &why);
		else
			rc = codex_chat_request(c->cfg, p, r->body.len,
			    prefixed, cr, &why);
		if (rc == -1) {
			r->close = 1;
			conn_error(c, r, 400, why, 0, NULL);
			c->exit = EXIT_BADREQ;
			return -1;
		}
		*have = changed ? 1 : 2;
		if (route != ROUTE_CLAUDE) {
			snprintf(r->model, sizeof r->model, "%s", cr->model);
			spliced->n = prefixed->len > 0;
			spliced->v[0].iov_base = prefixed->p;
			spliced->v[0].iov_len = spliced->len = prefixed->len;
		}
	}
	if (*have == 1)
		*body = *spliced;
	return 0;
}

#define MAX_SKIP 32

/* Accounts this request has given up on. */
struct tried {
	char id[MAX_SKIP][256];
	size_t n;
};

static void
tried_add(struct tried *t, const char *id)
{
	if (t->n < MAX_SKIP)
		snprintf(t->id[t->n++], sizeof t->id[0], "%s", id);
}

/* The next account to try, picked after the shared cursor and made fresh.
 * 0, or STORE_NONE / STORE_COOLING with err and *soonest. An account whose
 * token cannot be made fresh is passed over, its error kept in f. */
static int
next_account(const struct config *cfg, const char *provider, struct tried *t,
    struct account *a, time_t *soonest, char *err, size_t errlen,
    struct fail *f)
{
	for (;;) {
		int pr = store_pick(cfg, provider, t->id, t->n, a, soonest,
		    err, errlen);

		if (pr != 0)
			return pr;
		if (store_fresh(cfg, a, 0, err, errlen) == 0)
			return 0;
		log_err("%s", err);
		tried_add(t, a->id);
		snprintf(f->msg, sizeof f->msg, "%.1100s", err);
		f->status = 401;
		account_free(a);
	}
}

/*
 * One proxied request: pick an account, make its token fresh, send, and
 * look at the status before a byte goes to the client. The body is held,
 * so a 401 gets one refresh and one more try on the same account, and a
 * 429, a 5xx or a failed connection moves on to the next account, up to
 * request-retry times. When no other account can take it, the client gets
 * what the upstream said.
 */
void
forward(struct conn *c, struct req *r, enum route route)
{
	const struct config *cfg = c->cfg;
	char err[4400], extra[64] = "";
	struct tried t;
	struct account a, next;
	struct buf head = { 0 }, prefixed = { 0 };
	struct buf ebody = { 0 };
	struct pieces body, spliced;
	struct http_msg resp;
	struct codex_req cr;
	struct fail f;
	struct usage_scan scan;
	const struct url *url;
	const char *why;
	const char *provider = route == ROUTE_CLAUDE ? "claude" : "codex";
	size_t hl = 0;
	ssize_t n;
	time_t soonest, until = 0;
	int tries = 0, refreshed = 0, have_body = 0, have_prefixed = 0, pr;
	int collected = 0;

	memset(&cr, 0, sizeof cr);
	usage_scan_init(&scan, USAGE_NONE);
	memset(&t, 0, sizeof t);
	memset(&a, 0, sizeof a);
	memset(&next, 0, sizeof next);
	memset(&f, 0, sizeof f);
	if ((pr = next_account(cfg, provider, &t, &a, &soonest, err,
	    sizeof err, &f)) != 0)
		goto none;
	for (;;) {
		snprintf(r->who, sizeof r->who, "%s", a.email ? a.email :
		    a.id);
		if (!have_body) {
			if (r->msg.expect_continue && conn_write(c,
			    "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1) {
				r->close = 1;
				goto out;
			}
			if (conn_read_body(c, r) == -1)
				goto out;
			have_body = 1;
		}
		if (body_for(c, r, route, &a, &cr, &prefixed, &spliced,
		    &have_prefixed, &body) == -1)
			goto out;
		url = a.base ? a.base : route == ROUTE_CLAUDE ?
		    &cfg->claude_base : &cfg->codex_base;
		head.len = 0;
		if ((route == ROUTE_CLAUDE ? claude_head(&head, &r->msg, cfg,
		    url, &a, body.len) : codex_head(&head, &r->msg, url, &a,
		    cr.session_id[0] ? cr.session_id : conn_session(c),
		    body.len)) == -1) {
			conn_error(c, r, 500, "cannot build the upstream request "
			    "(out of memory, or a control character in the "
			    "account's token file)", 0, NULL);
			goto out;
		}
		log_head("upstream request", head.p, head.len);
		tries++;
		memset(&f, 0, sizeof f);
		n = exchange(c, url, &head, &body, &hl, &f);
		if (n > 0 && http_parse_response((char *)c->rbuf, hl, "POST",
		    &resp, &why) == -1) {
			log_err("upstream %s: %s", url->host, why);
			up_close(c->up);
			snprintf(f.msg, sizeof f.msg, "upstream %s sent a "
			    "malformed response head", url->host);
			f.status = 502;
			f.no_retry = 1;
			n = -1;
		}
		if (n > 0)
			log_head("upstream response", (char *)c->rbuf, hl);
		if (n == -1) {
			log_err("%s", f.msg);
			if (f.exit) {
				r->close = 1;
				c->exit = f.exit;
				conn_error(c, r, f.status, f.msg, 0, NULL);
				goto out;
			}
			/* A failed connection goes to the next account, not
			 * to this one again. */
			tried_add(&t, a.id);
			if (tries <= cfg->request_retry && !f.no_retry &&
			    next_account(cfg, provider, &t,
			    &next, &soonest, err, sizeof err, &f) == 0)
				goto swap;
			conn_error(c, r, f.status, f.msg, 0, NULL);
			goto out;
		}
		if (resp.status == 401 && a.kind == ACCT_OAUTH && !refreshed) {
			/* The token was refused: refresh it, try again. */
			refreshed = 1;
			tries--;
			up_close(c->up);
			if (store_fresh(cfg, &a, 1, err, sizeof err) == 0)
				continue;
			log_err("%s", err);
			tried_add(&t, a.id);
			snprintf(f.msg, sizeof f.msg, "%.1100s", err);
			f.status = 401;
			if ((pr = next_account(cfg, provider, &t, &next, &soonest, err,
			    sizeof err, &f)) == 0)
				goto swap;
			goto none;
		}
		if (resp.status == 429) {
			time_t now = time(NULL), when;

			if (route == ROUTE_CLAUDE)
				when = claude_cooldown(&resp, now);
			else {
				/* Codex says when in the body. */
				ebody.len = 0;
				(void)relay_collect(c, &resp, hl,
				    (size_t)n - hl, &ebody);
				collected = 1;
				when = codex_cooldown(&resp, ebody.p ?
				    ebody.p : "", ebody.len, now);
			}
			until = store_cooldown(cfg, &a, when,
			    "429 rate limited");
			tried_add(&t, a.id);
		}
		if ((resp.status == 429 || resp.status >= 500) &&
		    tries <= cfg->request_retry && next_account(cfg, provider, &t,
		    &next, &soonest, err, sizeof err, &f) == 0) {
			log_warn("upstream answered %d for %s; trying the next "
			    "account", resp.status, r->who);
			up_close(c->up);
			collected = 0;
			goto swap;
		}
		break;
swap:
		account_free(&a);
		a = next;
		memset(&next, 0, sizeof next);
		refreshed = 0;
	}
	if (resp.status >= 200 && resp.status < 300)
		store_ok(cfg, &a);
	if (resp.status == 429 && !http_header_get(&resp, "retry-after") &&
	    until > time(NULL))
		snprintf(extra, sizeof extra, "retry-after: %lld\r\n",
		    (long long)(until - time(NULL)));
	r->status = resp.status;
	if (resp.framing == HTTP_BODY_CLOSE)
		r->close = 1;
	if (cfg->usage_stats) {
		const struct http_header *ct = http_header_get(&resp,
		    "content-type");

		usage_scan_init(&scan, usage_kind_for(provider,
		    ct ? ct->value : NULL, ct ? ct->vlen : 0));
		r->scan = &scan;
	}
	if (collected)
		relay_buffered(c, r, &resp, ebody.p, ebody.len, extra);
	else if (route == ROUTE_CLAUDE || (route == ROUTE_RESPONSES &&
	    (cr.stream || resp.status < 200 || resp.status > 299)))
		relay_stream(c, r, &resp, hl, (size_t)n - hl, extra);
	else
		relay_events(c, r, &resp, hl, (size_t)n - hl, route, &cr);
	goto out;
none:
	if (!have_body && r->msg.framing != HTTP_BODY_NONE)
		r->close = 1;
	if (pr == STORE_COOLING) {
		log_warn("%s", err);
		answer_cooling(c, r, soonest, err);
	} else {
		log_err("%s", err);
		conn_error(c, r, f.status == 401 || !f.status ? 401 :
		    f.status, f.status == 401 ? f.msg : err, 0, NULL);
	}
out:
	if (cfg->usage_stats && r->status != 0) {
		struct usage_rec ur = { provider, r->who, r->status,
		    net_now_ms() - r->t0, { "", 0, 0, 0, 0 } };

		usage_scan_done(&scan, &ur.u);
		r->scan = NULL;
		if (ur.u.model[0] == '\0')
			snprintf(ur.u.model, sizeof ur.u.model, "%s", r->model);
		if (usage_record(cfg, &ur) == -1)
			log_warn("usage: cannot append to %s/usage.jsonl: %s",
			    cfg->auth_dir, strerror(errno));
	}
	buf_wipe(&head);
	buf_free(&prefixed);
	buf_free(&ebody);
	account_free(&a);
	account_free(&next);
}

