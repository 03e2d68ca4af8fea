/*
 * Anthropic's Messages API behind an OAuth token or an API key: which
 * requests go there, and what changes on the way.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parsers/jsonscan.h"
#include "providers/claude.h"

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

/* Does any of the client's anthropic-beta lines list token t? */
static int
beta_has(const struct http_msg *req, const char *t)
{
	size_t i, n = strlen(t);

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
			if (te - ts == n && strncasecmp(h->value + ts, t, n) == 0)
				return 1;
			s = e + 1;
		}
	}
	return 0;
}

/* "Name: value" with the client's spelling of the name. */
static int
line(struct buf *out, const struct http_header *h, const char *v)
{
	struct http_header l = { h->name, h->nlen, v, strlen(v) };

	return http_header_add(out, &l);
}

/* The account's credential line. */
static int
credential(struct buf *out, const struct account *a)
{
	return buf_addf(out, a->kind == ACCT_OAUTH ?
	    "Authorization: Bearer %s\r\n" : "x-api-key: %s\r\n",
	    a->access_token);
}

/* The lines the upstream request must have and the client may not have
 * sent, in the order they are added at the end of the head. */
struct seen {
	int host, cred, length, conn, enc, ver, beta;
};

/* One client header line as it goes upstream: kept, replaced in place by
 * the proxy's, or dropped. */
static int
client_line(struct buf *out, const struct http_msg *req,
    const struct http_header *h, const struct url *base,
    const struct account *a, const char *len, struct seen *s)
{
	static const char *const cred[] = { "x-api-key", "authorization",
	    NULL };
	static const char *const framing[] = { "content-length",
	    "transfer-encoding", NULL };
	static const char *const gone[] = { "cookie", "expect", NULL };

	if (http_name_is(h, "host"))
		return s->host++ ? 0 : line(out, h, base->hostport);
	if (http_name_in(h, cred))
		return s->cred++ ? 0 : credential(out, a);
	if (http_name_in(h, framing))
		return s->length++ ? 0 : http_name_is(h, "content-length") ?
		    line(out, h, len) : buf_addf(out, "Content-Length: %s\r\n",
		    len);
	if (http_name_is(h, "connection"))
		return s->conn++ ? 0 : line(out, h, "keep-alive");
	if (http_name_is(h, "accept-encoding"))
		return s->enc++ ? 0 : line(out, h, "identity");
	if (http_name_in(h, gone) || http_is_hop(req, h))
		return 0;
	if (http_name_is(h, "anthropic-beta") && s->beta == 0) {
		s->beta = 1;
		return buf_addf(out, "%.*s: %.*s%s" CLAUDE_OAUTH_BETA "\r\n",
		    (int)h->nlen, h->name, (int)h->vlen, h->value,
		    h->vlen ? "," : "");
	}
	s->ver |= http_name_is(h, "anthropic-version");
	return http_header_add(out, h);
}

int
claude_head(struct buf *out, const struct http_msg *req,
    const struct config *cfg, const struct url *base,
    const struct account *a, size_t body_len)
{
	struct seen s = { 0, 0, 0, 0, 0, 0, 0 };
	char len[32];
	size_t i;

	if (a->access_token == NULL || !http_value_safe(a->access_token)) {
		errno = EINVAL;
		return -1;
	}
	/* Added only when the account needs it and the client lacks it;
	 * -1: nothing to add. */
	if (a->kind != ACCT_OAUTH || !cfg->claude_oauth_beta ||
	    beta_has(req, CLAUDE_OAUTH_BETA))
		s.beta = -1;
	snprintf(len, sizeof len, "%zu", body_len);
	if (buf_addf(out, "%.*s %s%.*s HTTP/1.1\r\n", (int)req->mlen,
	    req->method, base->path, (int)req->tlen, req->target) == -1 ||
	    (!http_header_get(req, "host") && buf_addf(out, "Host: %s\r\n",
	    base->hostport) == -1))
		return -1;
	for (i = 0; i < req->nheaders; i++)
		if (client_line(out, req, &req->headers[i], base, a, len,
		    &s) == -1)
			return -1;
	if ((!s.cred && credential(out, a) == -1) ||
	    (s.beta == 0 && buf_adds(out, "anthropic-beta: "
	    CLAUDE_OAUTH_BETA "\r\n") == -1) ||
	    (!s.ver && buf_adds(out, "anthropic-version: " CLAUDE_VERSION
	    "\r\n") == -1) ||
	    (!s.enc && buf_adds(out, "Accept-Encoding: identity\r\n") == -1) ||
	    (!s.length && buf_addf(out, "Content-Length: %s\r\n", len) == -1))
		return -1;
	return buf_adds(out, "\r\n");
}

/*
 * The system prefix without a tree: jsonscan.c checks the body in one pass
 * and finds the top-level "system" value, and the new body is the old one
 * with a few bytes spliced in. Duplicate keys: the LAST "system" counts
 * (and the last "text" of a block), where cJSON looked at the first. The
 * upstream's parser keeps the last one, and that is the one that must
 * start with the line (tests/fuzz/fuzz_claude_body.c checks just that).
 */
#define LINE_BLOCK "{\"type\":\"text\",\"text\":\"" CLAUDE_CODE_LINE "\"}"

/* Claude Code's own marks at the start of a system text: its billing
 * block and its identity lines (interactive, SDK). */
static const char *const cc_marks[] = {
	"x-anthropic-billing-header:",
	"You are Claude Code, Anthropic's official CLI for Claude",
	"You are a Claude agent, built on Anthropic's Claude Agent SDK",
	NULL
};

static int
marked(const struct jscan_tok *t)
{
	size_t i;

	for (i = 0; cc_marks[i]; i++)
		if (jscan_str_is(t, cc_marks[i], 1))
			return 1;
	return 0;
}

/* Does a text of any block of the (checked) system array start with one
 * of Claude Code's marks? */
static int
array_marked(const struct jscan_tok *sys)
{
	static const char *const names[] = { "text" };
	struct jscan_iter it;
	struct jscan_tok el, text;

	jscan_elements(&it, sys);
	while (jscan_next(&it, &el, names, &text, 1))
		if (marked(&text))
			return 1;
	return 0;
}

/* out gets body with the cut bytes at at kept between pre and post (mid:
 * the cut bytes stay) or dropped for pre and post alone. */
static void
splice(struct pieces *out, const char *body, size_t len, size_t at,
    size_t cut, const char *pre, int mid, const char *post)
{
	const char *part[5];
	size_t plen[5];
	int i;

	part[0] = body;
	plen[0] = at;
	part[1] = pre;
	plen[1] = strlen(pre);
	part[2] = body + at;
	plen[2] = mid ? cut : 0;
	part[3] = post;
	plen[3] = strlen(post);
	part[4] = body + at + cut;
	plen[4] = len - at - cut;
	out->n = 0;
	out->len = 0;
	for (i = 0; i < 5; i++) {
		if (plen[i] == 0)
			continue;
		out->v[out->n].iov_base = (void *)(uintptr_t)part[i];
		out->v[out->n++].iov_len = plen[i];
		out->len += plen[i];
	}
}

/* The model's name for the log: a plain string token only (no escapes,
 * printable), else "". */
static void
model_name(const struct jscan_tok *t, char *out, size_t outlen)
{
	size_t i, n;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (t->p == NULL || *t->p != '"' || t->n < 2)
		return;
	n = t->n - 2;
	for (i = 0; i < n; i++)
		if (t->p[1 + i] == '\\' || t->p[1 + i] < 0x20 ||
		    t->p[1 + i] > 0x7e)
			return;
	snprintf(out, outlen, "%.*s", (int)n, (const char *)t->p + 1);
}

int
claude_read(const char *body, size_t len, struct claude_req *r,
    const char **why)
{
	static const char *const name[] = { "system", "model", "metadata",
	    "messages" };
	const unsigned char *b = (const unsigned char *)body;
	struct jscan_tok v[4], obj;
	int rc;

	memset(r, 0, sizeof *r);
	/* A BOM stays in the body, as before when unchanged. */
	if ((rc = jscan_object(body, len, name, v, 4, &obj)) != 0) {
		*why = rc == -2 ? "the request body has data after its JSON "
		    "object" : "the request body is not a JSON object";
		return -1;
	}
	r->json = 1;
	model_name(&v[1], r->model, sizeof r->model);
	if (r->model[0]) {
		r->model_at = (size_t)(v[1].p - b);
		r->model_len = v[1].n;
	}
	r->open = (size_t)(obj.p - b);
	if (v[0].p) {
		r->sys_at = (size_t)(v[0].p - b);
		r->sys_len = v[0].n;
		r->marked = *v[0].p == '"' ? marked(&v[0]) :
		    *v[0].p == '[' && array_marked(&v[0]);
	}
	if (v[2].p) {
		r->meta_at = (size_t)(v[2].p - b);
		r->meta_len = v[2].n;
	}
	if (v[3].p) {
		r->msgs_at = (size_t)(v[3].p - b);
		r->msgs_len = v[3].n;
	}
	return 0;
}

int
claude_alias(struct buf *body, struct claude_req *r, const char *to,
    const char **why)
{
	struct buf nb = { 0 };

	*why = "out of memory";
	if (r->model_len == 0)
		return -1;
	nb.secret = body->secret;
	if (buf_reserve(&nb, body->len + strlen(to) + 3) == -1 ||
	    buf_add(&nb, body->p, r->model_at) == -1 ||
	    buf_addf(&nb, "\"%s\"", to) == -1 ||
	    buf_add(&nb, body->p + r->model_at + r->model_len, body->len -
	    r->model_at - r->model_len) == -1 || claude_read(nb.p, nb.len, r,
	    why) == -1) {
		buf_free(&nb);
		(void)claude_read(body->p, body->len, r, why);
		return -1;
	}
	explicit_bzero(body->p, body->len);
	buf_free(body);
	*body = nb;
	return 0;
}

int
claude_first_party(const struct http_msg *req, const struct claude_req *r)
{
	const struct http_header *ua = http_header_get(req, "user-agent");

	return r->marked || (ua && ua->vlen >= 11 &&
	    strncasecmp(ua->value, "claude-cli/", 11) == 0);
}

void
claude_prefix(const char *body, size_t len, const struct claude_req *r,
    struct pieces *out, int *changed)
{
	const unsigned char *b = (const unsigned char *)body;
	struct jscan_tok sys = { b + r->sys_at, r->sys_len };
	struct jscan_tok obj = { b + r->open, len - r->open };

	*changed = 0;
	out->n = 0;
	out->len = 0;
	/* Claude Code's own words are never added to: the request is its. */
	if (!r->json || r->marked)
		return;
	if (sys.n == 0) {
		/* First in the object, with a comma when members follow. */
		splice(out, body, len, r->open + 1, 0, jscan_empty(&obj) ?
		    "\"system\":[" LINE_BLOCK "]" :
		    "\"system\":[" LINE_BLOCK "],", 0, "");
	} else if (*sys.p == 'n' || (*sys.p == '"' && sys.n == 2))
		/* An empty text block is refused upstream: drop "". */
		splice(out, body, len, r->sys_at, sys.n,
		    "[" LINE_BLOCK "]", 0, "");
	else if (*sys.p == '"')
		/* The client's string token as it is: no re-escaping. */
		splice(out, body, len, r->sys_at, sys.n, "[" LINE_BLOCK
		    ",{\"type\":\"text\",\"text\":", 1, "}]");
	else if (*sys.p == '[')
		splice(out, body, len, r->sys_at + 1, 0,
		    jscan_empty(&sys) ? LINE_BLOCK : LINE_BLOCK ",", 0, "");
	else
		/* Not ours to fix: the upstream will say what is wrong. */
		return;
	*changed = 1;
}

int
claude_body(const char *body, size_t len, struct buf *out, int *changed,
    const char **why)
{
	struct claude_req r;
	struct pieces pc;
	int i;

	*changed = 0;
	if (claude_read(body, len, &r, why) == -1)
		return -1;
	claude_prefix(body, len, &r, &pc, changed);
	if (!*changed)
		return 0;
	if (buf_reserve(out, pc.len + 1) == -1) {
		*why = "out of memory";
		return -1;
	}
	for (i = 0; i < pc.n; i++)
		(void)buf_add(out, pc.v[i].iov_base, pc.v[i].iov_len);
	return 0;
}

/* An error answer's error.message, or NULL; *j holds the parsed body
 * (NULL when it is no JSON) for the caller to delete. */
static const char *
error_message(const char *body, size_t len, cJSON **j)
{
	if ((*j = cJSON_ParseWithLength(body, len)) == NULL)
		return NULL;
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(*j, "error"), "message"));
}

/* Anthropic's words of an error answer, printable only (they go to logs
 * and to state.json), into msg; "" when there are none. */
static void
words(const char *m, char *msg, size_t msglen)
{
	size_t i, k = 0;

	for (i = 0; m && m[i] && k + 1 < msglen; i++)
		msg[k++] = (unsigned char)m[i] < 0x20 || m[i] == 0x7f ? ' ' :
		    m[i];
	if (msglen)
		msg[k] = '\0';
}

int
claude_model_refused(int status, const char *body, size_t len, char *msg,
    size_t msglen)
{
	cJSON *j, *j2 = NULL;
	const char *m;
	int refused;

	if (status != 404)
		return 0;
	m = error_message(body, len, &j);
	refused = m && strncmp(m, "model:", 6) == 0 && (m = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    j, "error"), "type"))) != NULL && strcmp(m, "not_found_error") ==
	    0;
	m = refused ? error_message(body, len, &j2) : NULL;
	words(m, msg, msglen);
	cJSON_Delete(j);
	if (refused)
		cJSON_Delete(j2);
	return refused;
}

enum claude_refusal
claude_refusal(int status, const char *body, size_t len, char *msg,
    size_t msglen)
{
	cJSON *j;
	const char *m;
	enum claude_refusal why = CLAUDE_SERVED;

	if ((status != 400 && status != 403) || msglen == 0)
		return CLAUDE_SERVED;
	m = error_message(body, len, &j);
	if (m && (strstr(m, "Third-party apps") || strstr(m, "extra usage")))
		why = CLAUDE_EXTRA_USAGE;
	else if (m && strstr(m, "only authorized for use with Claude Code"))
		why = CLAUDE_CODE_ONLY;
	words(why ? m : NULL, msg, msglen);
	cJSON_Delete(j);
	return why;
}

int
claude_extra_usage_gate(int status, const char *body, size_t len)
{
	cJSON *j;
	const char *m;
	int gated;

	if (status != 429)
		return 0;
	m = error_message(body, len, &j);
	gated = m && strstr(m, "xtra usage") != NULL;
	cJSON_Delete(j);
	return gated;
}

const char *
claude_refusal_reason(enum claude_refusal why)
{
	return why == CLAUDE_EXTRA_USAGE ? "extra usage off" :
	    why == CLAUDE_CODE_ONLY ? "Claude Code only" : "";
}

void
claude_refusal_explain(char *out, size_t outlen, const char *said,
    int first_party)
{
	if (said == NULL) {
		snprintf(out, outlen, "cli-proxy-api is set to refuse requests "
		    "from clients other than Claude Code (claude-third-party: "
		    "refuse), as Anthropic serves a Claude subscription to "
		    "Claude Code and bills other clients to the account's extra "
		    "usage; set claude-third-party to subscription once extra "
		    "usage is on for the account at claude.ai, or to api-key "
		    "with an API key account (claude-api-key in config.yaml), "
		    "or use Claude Code itself.");
		return;
	}
	snprintf(out, outlen, "%s%s(cli-proxy-api: %s, and no account here "
	    "could take it; turn on extra usage for the Claude account at "
	    "claude.ai, add an API key account (claude-api-key in "
	    "config.yaml), or %s.)", said, *said ? " " : "", first_party ?
	    "Anthropic took this Claude Code request, sent through the proxy, "
	    "for another client's (the proxy's TLS handshake is not Claude "
	    "Code's)" : "Anthropic serves a Claude subscription to Claude "
	    "Code and bills other clients to the account's extra usage",
	    first_party ? "run Claude Code without the proxy" :
	    "use Claude Code itself");
}
