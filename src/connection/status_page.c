/*
 * The status page's HTML, rendered from the model status.c gathers (the
 * same tree /status.json prints): one page, no script, inline SVG bars
 * (status_chart.c). Every string that comes from a file goes through
 * page_esc().
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connection/status.h"
#include "connection/status_int.h"
#include "parsers/json.h"
#include "support/timefmt.h"

void
page_put(struct page *p, const char *s)
{
	if (buf_adds(&p->b, s) == -1)
		p->oom = 1;
}

void
page_putf(struct page *p, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		p->oom = 1;
	else
		page_put(p, tmp);
}

void
page_esc(struct page *p, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default:
			rep = c < 0x20 && c != '\t' && c != '\n' ? "?" : NULL;
		}
		if (rep == NULL)
			continue;
		if (buf_add(&p->b, run, (size_t)(s - run)) == -1)
			p->oom = 1;
		page_put(p, rep);
		run = s + 1;
	}
	if (buf_add(&p->b, run, (size_t)(s - run)) == -1)
		p->oom = 1;
}

/* "3h12m", "2d4h", "4m10s" */
static void
dur(long d, char *out, size_t outlen)
{
	if (d < 0)
		d = -d;
	if (d >= 86400)
		snprintf(out, outlen, "%ldd%ldh", d / 86400, d % 86400 / 3600);
	else if (d >= 3600)
		snprintf(out, outlen, "%ldh%02ldm", d / 3600, d % 3600 / 60);
	else
		snprintf(out, outlen, "%ldm%02lds", d / 60, d % 60);
}

static double
jnum(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(j) ? j->valuedouble : 0;
}

static int
jtrue(const cJSON *o, const char *key)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static const char css[] =
    ":root{color-scheme:light dark;--fg:#1d2330;--mut:#687082;--bg:#f6f7f9;"
    "--card:#fff;--line:#dde1e8;--req:#3b6fd8;--tok:#1f9d6b;--bad:#c0262d;"
    "--warn:#a86100;--ok:#1c7f43}"
    "@media(prefers-color-scheme:dark){:root{--fg:#e4e7ee;--mut:#9aa2b2;"
    "--bg:#14171d;--card:#1c2028;--line:#323845;--req:#6d9bff;"
    "--tok:#4cc592;--bad:#ff6b6b;--warn:#f0a43a;--ok:#58c98a}}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;"
    "margin:0;padding:24px 32px;color:var(--fg);background:var(--bg)}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}"
    ".mut{color:var(--mut)}.bad{color:var(--bad);font-weight:600}"
    ".warn{color:var(--warn);font-weight:600}.ok{color:var(--ok)}"
    "table{border-collapse:collapse;background:var(--card);"
    "border:1px solid var(--line);border-radius:6px}"
    "th,td{padding:6px 12px;border-bottom:1px solid var(--line);"
    "text-align:left;vertical-align:middle;white-space:nowrap}"
    "th{font-size:12px;text-transform:uppercase;letter-spacing:.04em;"
    "color:var(--mut);font-weight:600}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".msg{max-width:520px;overflow-wrap:anywhere;white-space:normal}"
    "svg.chart{display:block}svg .req{fill:var(--req)}"
    "svg .tok{fill:var(--tok)}svg .axis{stroke:var(--line)}"
    "svg text{fill:var(--mut);font-size:9px}"
    "svg .used{fill:var(--tok)}svg .hot{fill:var(--warn)}"
    "svg .full{fill:var(--bad)}svg .room{fill:var(--line)}"
    "td.lim div{display:flex;gap:6px;align-items:center}"
    "p.summary{font-size:15px;margin:12px 0 0}";

static void
page_head(struct page *p, const cJSON *root)
{
	page_put(p, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width,"
	    "initial-scale=1\"><title>cli-proxy-api status</title><style>");
	page_put(p, css);
	page_put(p, "</style></head>\n<body>\n<h1>cli-proxy-api status</h1>"
	    "<div class=\"mut\">as of ");
	page_esc(p, json_str(root, "generated"));
	page_put(p, " (UTC) &middot; version ");
	page_esc(p, json_str(root, "version"));
	page_put(p, " &middot; <a href=\"/status.json\">JSON</a></div>\n");
}

static void
summary(struct page *p, const cJSON *accts)
{
	const cJSON *a;
	int n = 0, ready = 0, cooling = 0, login = 0, off = 0, broken = 0;

	cJSON_ArrayForEach(a, accts) {
		n++;
		if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a,
		    "problem")))
			broken++;
		else if (jtrue(a, "disabled"))
			off++;
		else if (jtrue(a, "needs_login"))
			login++;
		else if (jnum(a, "cooldown_remaining") > 0)
			cooling++;
		else
			ready++;
	}
	page_putf(p, "<p class=\"summary\">%d account%s: <span "
	    "class=\"%s\">%d ready</span>", n, n == 1 ? "" : "s",
	    ready ? "ok" : "bad", ready);
	if (cooling)
		page_putf(p, ", <span class=\"warn\">%d cooling down</span>",
		    cooling);
	if (login)
		page_putf(p, ", <span class=\"bad\">%d need%s a new "
		    "login</span>", login, login == 1 ? "s" : "");
	if (off)
		page_putf(p, ", %d disabled", off);
	if (broken)
		page_putf(p, ", <span class=\"bad\">%d unreadable</span>",
		    broken);
	page_put(p, "</p>\n");
}

static void
expiry_cell(struct page *p, const cJSON *a)
{
	char r[48];
	double in = jnum(a, "expires_in");

	if (strcmp(json_str(a, "kind"), "api-key") == 0) {
		page_put(p, "<td class=\"mut\">api key</td>");
		return;
	}
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a,
	    "expires_in"))) {
		page_put(p, "<td class=\"mut\">unknown</td>");
		return;
	}
	timefmt_rel((time_t)in, 0, r, sizeof r);
	page_put(p, in > 0 ? "<td title=\"" : "<td class=\"warn\" title=\"");
	page_esc(p, json_str(a, "expires"));
	page_putf(p, "\">%s%s</td>", in > 0 ? "" : "expired ", r);
}

/* "third-party use refused 12m ago: extra usage off", per mark; 0 when
 * there is none. */
static int
refusals(struct page *p, const cJSON *a)
{
	static const char *const kinds[] = { "third_party", "first_party" };
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(a, "refused"), *m;
	char r[48];
	int n = 0;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (!cJSON_IsObject(m = cJSON_GetObjectItemCaseSensitive(all,
		    kinds[i])))
			continue;
		page_put(p, n++ ? "<br>" : "<td class=\"warn\" title=\"");
		if (n == 1) {
			page_esc(p, json_str(m, "message"));
			page_put(p, "\">");
		}
		timefmt_rel((time_t)-(long)jnum(m, "ago"), 0, r, sizeof r);
		page_putf(p, "%s use refused %s: ",
		    i ? "Claude Code" : "third-party", r);
		page_esc(p, json_str(m, "reason"));
	}
	if (n)
		page_put(p, "</td>");
	return n;
}

static void
state_cell(struct page *p, const cJSON *a)
{
	if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "problem"))) {
		page_put(p, "<td class=\"bad msg\">");
		page_esc(p, json_str(a, "problem"));
		page_put(p, "</td>");
	} else if (jtrue(a, "needs_login")) {
		page_put(p, "<td class=\"bad\">needs login: run "
		    "cli-proxy-api --");
		page_esc(p, json_str(a, "provider"));
		page_put(p, "-login</td>");
	} else if (jtrue(a, "disabled"))
		page_put(p, "<td class=\"mut\">disabled</td>");
	else if (jnum(a, "cooldown_remaining") > 0)
		page_put(p, "<td class=\"warn\">cooling down</td>");
	else if (!refusals(p, a))
		page_put(p, "<td class=\"ok\">ready</td>");
}

static void
account_row(struct page *p, const cJSON *a, time_t now)
{
	char r[48];
	double cd = jnum(a, "cooldown_remaining");
	const cJSON *at;

	page_put(p, "<tr><td>");
	page_esc(p, json_str(a, "provider"));
	page_put(p, "</td><td title=\"");
	page_esc(p, json_str(a, "id"));
	page_put(p, "\">");
	page_esc(p, json_str(a, "email"));
	page_put(p, "</td>");
	expiry_cell(p, a);
	if (cd > 0) {
		dur((long)cd, r, sizeof r);
		page_put(p, "<td class=\"warn\" title=\"until ");
		page_esc(p, json_str(a, "cooldown_until"));
		page_putf(p, "\">%s left</td>", r);
	} else
		page_put(p, "<td class=\"mut\">&mdash;</td>");
	state_cell(p, a);
	page_limits(p, a);
	page_put(p, "<td class=\"msg\">");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a,
	    "last_error"))) {
		page_esc(p, json_str(a, "last_error"));
		at = cJSON_GetObjectItemCaseSensitive(a, "last_error_at");
		if (cJSON_IsString(at)) {
			timefmt_rel(timefmt_parse(at->valuestring), now, r,
			    sizeof r);
			page_putf(p, " <span class=\"mut\">(%s)</span>", r);
		}
	} else
		page_put(p, "<span class=\"mut\">&mdash;</span>");
	page_put(p, "</td></tr>\n");
}

static void
accounts_html(struct page *p, const cJSON *root, const struct config *cfg,
    time_t now)
{
	const cJSON *accts = cJSON_GetObjectItemCaseSensitive(root,
	    "accounts"), *a;

	summary(p, accts);
	page_put(p, "<h2 id=\"accounts\">Accounts</h2>\n");
	if (cJSON_GetArraySize(accts) == 0) {
		page_put(p, "<p>No token files in ");
		page_esc(p, cfg->auth_dir);
		page_put(p, " and no API keys in the config: run "
		    "<code>cli-proxy-api --claude-login</code> or "
		    "<code>--codex-login</code>.</p>\n");
		return;
	}
	page_put(p, "<table><tr><th>Provider</th><th>Account</th>"
	    "<th>Expires</th><th>Cooldown</th><th>State</th>"
	    "<th>Limits</th><th>Last error</th></tr>\n");
	cJSON_ArrayForEach(a, accts)
		account_row(p, a, now);
	page_put(p, "</table>\n");
}

static void
error_row(struct page *p, const cJSON *e, time_t now)
{
	time_t t = timefmt_parse(json_str(e, "time"));
	char r[48];

	page_put(p, "<tr><td title=\"");
	page_esc(p, json_str(e, "time"));
	page_put(p, "\">");
	if (t > 0) {
		timefmt_rel(t - now, 0, r, sizeof r);
		page_put(p, r);
	} else
		page_put(p, "?");
	page_put(p, "</td><td>");
	page_esc(p, json_str(e, "provider"));
	page_put(p, "</td><td>");
	page_esc(p, json_str(e, "account"));
	page_put(p, "</td><td>");
	page_esc(p, json_str(e, "model"));
	if (jnum(e, "status") > 0)
		page_putf(p, "</td><td class=\"n bad\">%.0f",
		    jnum(e, "status"));
	else
		page_put(p, "</td><td class=\"mut\">account");
	page_put(p, "</td><td class=\"msg\">");
	if (json_str(e, "message")[0])
		page_esc(p, json_str(e, "message"));
	else
		page_put(p, "<span class=\"mut\">&mdash;</span>");
	page_put(p, "</td></tr>\n");
}

static void
errors_html(struct page *p, const cJSON *root, time_t now)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *e;

	page_putf(p, "<h2 id=\"errors\">Last errors</h2>\n");
	if (cJSON_GetArraySize(errs) == 0) {
		page_put(p, "<p class=\"mut\">None on record.</p>\n");
		return;
	}
	page_put(p, "<table><tr><th>When</th><th>Provider</th><th>Account</th>"
	    "<th>Model</th><th>Status</th><th>Message</th></tr>\n");
	cJSON_ArrayForEach(e, errs)
		error_row(p, e, now);
	page_put(p, "</table>\n");
}

int
status_render(const cJSON *root, const struct config *cfg, time_t now,
    struct buf *out)
{
	struct page pg = { { 0 }, 0 }, *p = &pg;

	page_head(p, root);
	accounts_html(p, root, cfg, now);
	page_usage(p, root, "by_account", "Usage by account", "Account");
	page_usage(p, root, "by_model", "Usage by model", "Model");
	errors_html(p, root, now);
	if (jnum(root, "unreadable_lines") > 0)
		page_putf(p, "<p class=\"warn\">%.0f line(s) of usage.jsonl "
		    "could not be read and were skipped.</p>\n",
		    jnum(root, "unreadable_lines"));
	if (json_str(root, "usage_error")[0]) {
		page_put(p, "<p class=\"bad\">");
		page_esc(p, json_str(root, "usage_error"));
		page_put(p, "</p>\n");
	}
	page_put(p, "<p class=\"mut\">Days are UTC days. Tokens count input, "
	    "output and cache tokens, each once. Bars of a table share one "
	    "scale.</p>\n</body></html>\n");
	if (pg.oom) {
		buf_free(&pg.b);
		return -1;
	}
	*out = pg.b;
	return 0;
}
