/*
 * The status page's HTML, rendered from the model status.c gathers (the
 * same tree /status.json prints): one page, no script, inline SVG bars.
 * Every string that comes from a file goes through esc().
 */
#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "status.h"
#include "timefmt.h"
#include "token.h"

struct page {
	struct buf b;
	int oom;
};

static void
put(struct page *p, const char *s)
{
	if (buf_adds(&p->b, s) == -1)
		p->oom = 1;
}

static void putf(struct page *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Numbers and literals only: strings from files go through esc(). */
static void
putf(struct page *p, const char *fmt, ...)
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
		put(p, tmp);
}

/* Text or an attribute value (always double-quoted). Control characters
 * other than tab and newline become '?'. */
static void
esc(struct page *p, const char *s)
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
		put(p, rep);
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

/* 12345678 -> "12,345,678" */
static void
group3(double v, char *out, size_t outlen)
{
	char t[32];
	size_t n, i, o = 0;

	snprintf(t, sizeof t, "%.0f", v < 0 ? 0 : v);
	n = strlen(t);
	for (i = 0; i < n && o + 2 < outlen; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			out[o++] = ',';
		out[o++] = t[i];
	}
	out[o] = '\0';
}

/* 12345 -> "12.3k" */
static void
shortnum(double v, char *out, size_t outlen)
{
	if (v >= 1e9)
		snprintf(out, outlen, "%.1fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(out, outlen, "%.1fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(out, outlen, "%.1fk", v / 1e3);
	else
		snprintf(out, outlen, "%.0f", v);
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
    "p.summary{font-size:15px;margin:12px 0 0}";

static void
page_head(struct page *p, const cJSON *root)
{
	put(p, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	    "<meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width,"
	    "initial-scale=1\"><title>cli-proxy-api status</title><style>");
	put(p, css);
	put(p, "</style></head>\n<body>\n<h1>cli-proxy-api status</h1>"
	    "<div class=\"mut\">as of ");
	esc(p, json_str(root, "generated"));
	put(p, " (UTC) &middot; version ");
	esc(p, json_str(root, "version"));
	put(p, " &middot; <a href=\"/status.json\">JSON</a></div>\n");
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
	putf(p, "<p class=\"summary\">%d account%s: <span class=\"%s\">%d "
	    "ready</span>", n, n == 1 ? "" : "s", ready ? "ok" : "bad", ready);
	if (cooling)
		putf(p, ", <span class=\"warn\">%d cooling down</span>",
		    cooling);
	if (login)
		putf(p, ", <span class=\"bad\">%d need%s a new login</span>",
		    login, login == 1 ? "s" : "");
	if (off)
		putf(p, ", %d disabled", off);
	if (broken)
		putf(p, ", <span class=\"bad\">%d unreadable</span>", broken);
	put(p, "</p>\n");
}

static void
expiry_cell(struct page *p, const cJSON *a)
{
	char r[48];
	double in = jnum(a, "expires_in");

	if (strcmp(json_str(a, "kind"), "api-key") == 0) {
		put(p, "<td class=\"mut\">api key</td>");
		return;
	}
	if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(a,
	    "expires_in"))) {
		put(p, "<td class=\"mut\">unknown</td>");
		return;
	}
	timefmt_rel((time_t)in, 0, r, sizeof r);
	put(p, in > 0 ? "<td title=\"" : "<td class=\"warn\" title=\"");
	esc(p, json_str(a, "expires"));
	putf(p, "\">%s%s</td>", in > 0 ? "" : "expired ", r);
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
		put(p, n++ ? "<br>" : "<td class=\"warn\" title=\"");
		if (n == 1) {
			esc(p, json_str(m, "message"));
			put(p, "\">");
		}
		timefmt_rel((time_t)-(long)jnum(m, "ago"), 0, r, sizeof r);
		putf(p, "%s use refused %s: ", i ? "Claude Code" : "third-party",
		    r);
		esc(p, json_str(m, "reason"));
	}
	if (n)
		put(p, "</td>");
	return n;
}

static void
state_cell(struct page *p, const cJSON *a)
{
	if (!cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(a, "problem"))) {
		put(p, "<td class=\"bad msg\">");
		esc(p, json_str(a, "problem"));
		put(p, "</td>");
	} else if (jtrue(a, "needs_login")) {
		put(p, "<td class=\"bad\">needs login: run cli-proxy-api --");
		esc(p, json_str(a, "provider"));
		put(p, "-login</td>");
	} else if (jtrue(a, "disabled"))
		put(p, "<td class=\"mut\">disabled</td>");
	else if (jnum(a, "cooldown_remaining") > 0)
		put(p, "<td class=\"warn\">cooling down</td>");
	else if (!refusals(p, a))
		put(p, "<td class=\"ok\">ready</td>");
}

static void
account_row(struct page *p, const cJSON *a, time_t now)
{
	char r[48];
	double cd = jnum(a, "cooldown_remaining");
	const cJSON *at;

	put(p, "<tr><td>");
	esc(p, json_str(a, "provider"));
	put(p, "</td><td title=\"");
	esc(p, json_str(a, "id"));
	put(p, "\">");
	esc(p, json_str(a, "email"));
	put(p, "</td>");
	expiry_cell(p, a);
	if (cd > 0) {
		dur((long)cd, r, sizeof r);
		put(p, "<td class=\"warn\" title=\"until ");
		esc(p, json_str(a, "cooldown_until"));
		putf(p, "\">%s left</td>", r);
	} else
		put(p, "<td class=\"mut\">&mdash;</td>");
	state_cell(p, a);
	put(p, "<td class=\"msg\">");
	if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(a,
	    "last_error"))) {
		esc(p, json_str(a, "last_error"));
		at = cJSON_GetObjectItemCaseSensitive(a, "last_error_at");
		if (cJSON_IsString(at)) {
			timefmt_rel(timefmt_parse(at->valuestring), now, r,
			    sizeof r);
			putf(p, " <span class=\"mut\">(%s)</span>", r);
		}
	} else
		put(p, "<span class=\"mut\">&mdash;</span>");
	put(p, "</td></tr>\n");
}

static void
accounts_html(struct page *p, const cJSON *root, const struct config *cfg,
    time_t now)
{
	const cJSON *accts = cJSON_GetObjectItemCaseSensitive(root,
	    "accounts"), *a;

	summary(p, accts);
	put(p, "<h2 id=\"accounts\">Accounts</h2>\n");
	if (cJSON_GetArraySize(accts) == 0) {
		put(p, "<p>No token files in ");
		esc(p, cfg->auth_dir);
		put(p, " and no API keys in the config: run "
		    "<code>cli-proxy-api --claude-login</code> or "
		    "<code>--codex-login</code>.</p>\n");
		return;
	}
	put(p, "<table><tr><th>Provider</th><th>Account</th><th>Expires</th>"
	    "<th>Cooldown</th><th>State</th><th>Last error</th></tr>\n");
	cJSON_ArrayForEach(a, accts)
		account_row(p, a, now);
	put(p, "</table>\n");
}

/* Chart geometry: 14 bars of BAR_W in steps of BAR_STEP, BAR_H tall at
 * most, a 12 px band above for the scale and 16 below for the days. */
#define BAR_W 18
#define BAR_STEP 24
#define BAR_H 60
#define CHART_W (STATUS_DAYS * BAR_STEP)
#define CHART_BASE (12 + BAR_H)
#define CHART_H (CHART_BASE + 16)

/* One series' bars. max is the largest day of the metric across the
 * group, so bars of different rows compare. */
static void
chart(struct page *p, const char *group, const char *key,
    const char *metric, const cJSON *vals, const cJSON *days, double max)
{
	const char *cls = strcmp(metric, "requests") == 0 ? "req" : "tok";
	char num[40], s[16];
	int d, h;

	putf(p, "<svg class=\"chart\" width=\"%d\" height=\"%d\" viewBox=\"0 "
	    "0 %d %d\" role=\"img\" data-group=\"%s\" data-metric=\"%s\" "
	    "data-key=\"", CHART_W, CHART_H, CHART_W, CHART_H, group, metric);
	esc(p, key);
	putf(p, "\"><line class=\"axis\" x1=\"0\" y1=\"%d.5\" x2=\"%d\" "
	    "y2=\"%d.5\"/>", CHART_BASE, CHART_W, CHART_BASE);
	shortnum(max, s, sizeof s);
	putf(p, "<text x=\"%d\" y=\"9\" text-anchor=\"end\">max %s</text>",
	    CHART_W, s);
	for (d = 0; d < STATUS_DAYS; d++) {
		double v = cJSON_GetNumberValue(cJSON_GetArrayItem(vals, d));
		const char *day = cJSON_GetStringValue(cJSON_GetArrayItem(days,
		    d));

		if (v != v || v < 0)
			v = 0;
		h = max > 0 ? (int)(v * BAR_H / max) : 0;
		if (v > 0 && h < 1)
			h = 1;
		group3(v, num, sizeof num);
		putf(p, "<rect class=\"%s\" x=\"%d\" y=\"%d\" width=\"%d\" "
		    "height=\"%d\" data-day=\"", cls, d * BAR_STEP + 3,
		    CHART_BASE - h, BAR_W, h);
		esc(p, day ? day : "");
		putf(p, "\" data-count=\"%.0f\"><title>", v);
		esc(p, day ? day : "");
		putf(p, ": %s %s</title></rect>", num, metric);
		putf(p, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.2s"
		    "</text>", d * BAR_STEP + 3 + BAR_W / 2, CHART_H - 3,
		    day && strlen(day) == 10 ? day + 8 : "");
	}
	put(p, "</svg>");
}

static double
sum(const cJSON *vals, int from)
{
	double t = 0;
	int d;

	for (d = from; d < STATUS_DAYS; d++)
		t += cJSON_GetNumberValue(cJSON_GetArrayItem(vals, d));
	return t;
}

static double
group_max(const cJSON *grp, const char *metric)
{
	const cJSON *s, *v;
	double max = 0;

	cJSON_ArrayForEach(s, grp)
		cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(s,
		    metric))
			if (cJSON_IsNumber(v) && v->valuedouble > max)
				max = v->valuedouble;
	return max;
}

static void
usage_html(struct page *p, const cJSON *root, const char *name,
    const char *title, const char *what)
{
	const cJSON *grp = cJSON_GetObjectItemCaseSensitive(root, name), *s;
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(root, "days");
	double rmax = group_max(grp, "requests"), tmax = group_max(grp,
	    "tokens");
	char a[40], b[40], c[40], d[40];

	putf(p, "<h2 id=\"%s\">%s, last %d days (UTC)</h2>\n", name, title,
	    STATUS_DAYS);
	if (cJSON_GetArraySize(grp) == 0) {
		put(p, "<p class=\"mut\">No requests recorded in these days.");
		if (!jtrue(root, "usage_statistics"))
			put(p, " Usage statistics are off: set "
			    "<code>usage-statistics-enabled: true</code> in "
			    "the config.");
		put(p, "</p>\n");
		return;
	}
	putf(p, "<table><tr><th>%s</th><th>Requests per day</th>"
	    "<th>Tokens per day</th><th>Requests<br>7 d / %d d</th>"
	    "<th>Tokens<br>7 d / %d d</th></tr>\n", what, STATUS_DAYS,
	    STATUS_DAYS);
	cJSON_ArrayForEach(s, grp) {
		const cJSON *req = cJSON_GetObjectItemCaseSensitive(s,
		    "requests");
		const cJSON *tok = cJSON_GetObjectItemCaseSensitive(s,
		    "tokens");

		put(p, "<tr><td>");
		esc(p, s->string);
		put(p, "</td><td>");
		chart(p, name + 3, s->string, "requests", req, days, rmax);
		put(p, "</td><td>");
		chart(p, name + 3, s->string, "tokens", tok, days, tmax);
		group3(sum(req, STATUS_DAYS - 7), a, sizeof a);
		group3(sum(req, 0), b, sizeof b);
		group3(sum(tok, STATUS_DAYS - 7), c, sizeof c);
		group3(sum(tok, 0), d, sizeof d);
		putf(p, "</td><td class=\"n\">%s / %s</td><td class=\"n\">%s "
		    "/ %s</td></tr>\n", a, b, c, d);
	}
	put(p, "</table>\n");
}

static void
errors_html(struct page *p, const cJSON *root, time_t now)
{
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	const cJSON *e;
	char r[48];

	putf(p, "<h2 id=\"errors\">Last errors</h2>\n");
	if (cJSON_GetArraySize(errs) == 0) {
		put(p, "<p class=\"mut\">None on record.</p>\n");
		return;
	}
	put(p, "<table><tr><th>When</th><th>Provider</th><th>Account</th>"
	    "<th>Model</th><th>Status</th><th>Message</th></tr>\n");
	cJSON_ArrayForEach(e, errs) {
		time_t t = timefmt_parse(json_str(e, "time"));

		put(p, "<tr><td title=\"");
		esc(p, json_str(e, "time"));
		put(p, "\">");
		if (t > 0) {
			timefmt_rel(t - now, 0, r, sizeof r);
			put(p, r);
		} else
			put(p, "?");
		put(p, "</td><td>");
		esc(p, json_str(e, "provider"));
		put(p, "</td><td>");
		esc(p, json_str(e, "account"));
		put(p, "</td><td>");
		esc(p, json_str(e, "model"));
		if (jnum(e, "status") > 0)
			putf(p, "</td><td class=\"n bad\">%.0f",
			    jnum(e, "status"));
		else
			put(p, "</td><td class=\"mut\">account");
		put(p, "</td><td class=\"msg\">");
		if (json_str(e, "message")[0])
			esc(p, json_str(e, "message"));
		else
			put(p, "<span class=\"mut\">&mdash;</span>");
		put(p, "</td></tr>\n");
	}
	put(p, "</table>\n");
}

int
status_render(const cJSON *root, const struct config *cfg, time_t now,
    struct buf *out)
{
	struct page pg = { { 0 }, 0 }, *p = &pg;

	page_head(p, root);
	accounts_html(p, root, cfg, now);
	usage_html(p, root, "by_account", "Usage by account", "Account");
	usage_html(p, root, "by_model", "Usage by model", "Model");
	errors_html(p, root, now);
	if (jnum(root, "unreadable_lines") > 0)
		putf(p, "<p class=\"warn\">%.0f line(s) of usage.jsonl could "
		    "not be read and were skipped.</p>\n",
		    jnum(root, "unreadable_lines"));
	if (json_str(root, "usage_error")[0]) {
		put(p, "<p class=\"bad\">");
		esc(p, json_str(root, "usage_error"));
		put(p, "</p>\n");
	}
	put(p, "<p class=\"mut\">Days are UTC days. Tokens count input, "
	    "output and cache tokens, each once. Bars of a table share one "
	    "scale.</p>\n</body></html>\n");
	if (pg.oom) {
		buf_free(&pg.b);
		return -1;
	}
	*out = pg.b;
	return 0;
}
