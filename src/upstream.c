/*
 * The upstream side of a request: the connection kept from the last
 * request reused, or a new one made (TCP, proxy-url, TLS with the trust
 * anchors loaded once per process), the request sent, the answer's head
 * read. Whether the failure of one of these may be retried is decided
 * here, where it is known how far the request got.
 */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "exits.h"
#include "log.h"
#include "trust.h"
#include "warm.h"

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
		if (!warm_trust(cfg, &c->ta) && trust_load_cached(&c->ta,
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

ssize_t
upstream_exchange(struct conn *c, const struct url *url, const struct buf *head,
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
