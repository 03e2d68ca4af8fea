/*
 * The upstream side of a request: the connection kept from the last
 * request reused, or a new one made (TCP, proxy-url, TLS with the trust
 * anchors loaded once per process), the request sent, the answer's head
 * read. Whether the failure of one of these may be retried is decided
 * here, where it is known how far the request got.
 */
#include <stdio.h>
#include <string.h>

#include "connection/conn.h"
#include "connection/warm.h"
#include "network/trust.h"
#include "support/exits.h"
#include "support/log.h"

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

/* The status of a complete response head: 100..599, or 0. */
static int
head_status(const unsigned char *p, size_t n)
{
	if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    p[9] < '1' || p[9] > '5' || p[10] < '0' || p[10] > '9' ||
	    p[11] < '0' || p[11] > '9')
		return 0;
	return (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
}

/* Read the upstream's final response head into c->rbuf. Interim answers
 * (100 Continue, 103 Early Hints) come before it and are no answer to
 * relay: they are read and dropped. Returns the bytes in rbuf (head and
 * any body bytes after it), 0 on EOF before any byte, -1 on error, on
 * timeout (c->up says which), or on 101 Switching Protocols (the proxy
 * speaks HTTP, nothing else). */
static ssize_t
upstream_head(struct conn *c, size_t *hl)
{
	size_t have = 0;
	int interim = 0, st;

	for (;;) {
		ssize_t n;

		while (have > 0 && (*hl = http_head_len((char *)c->rbuf,
		    have)) > 0) {
			st = head_status(c->rbuf, *hl);
			if (st < 100 || st >= 200)
				return (ssize_t)have;
			if (st == 101) {
				log_err("upstream %s switched protocols; it must "
				    "answer in HTTP", c->up->host);
				return -1;
			}
			memmove(c->rbuf, c->rbuf + *hl, have - *hl);
			have -= *hl;
			interim = 1;
		}
		if (have >= RESP_HEAD_MAX)
			return -1;
		n = up_read(c->up, c->rbuf + have, RESP_HEAD_MAX - have);
		/* After an interim answer the request is known to have
		 * arrived: an EOF then is no closed kept connection. */
		if (n <= 0)
			return have == 0 && n == 0 && !interim ? 0 : -1;
		have += (size_t)n;
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
