/*
 * The status page's usage tables: per account and per model, a row of two
 * inline SVG bar charts (requests and tokens per day) and the sums of the
 * last 7 and of all the days charted. The keys (accounts, models) come
 * from files and go through page_esc().
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "connection/status.h"
#include "connection/status_int.h"
#include "support/timefmt.h"

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

	page_putf(p, "<svg class=\"chart\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\" data-group=\"%s\" "
	    "data-metric=\"%s\" data-key=\"", CHART_W, CHART_H, CHART_W,
	    CHART_H, group, metric);
	page_esc(p, key);
	page_putf(p, "\"><line class=\"axis\" x1=\"0\" y1=\"%d.5\" x2=\"%d\" "
	    "y2=\"%d.5\"/>", CHART_BASE, CHART_W, CHART_BASE);
	shortnum(max, s, sizeof s);
	page_putf(p, "<text x=\"%d\" y=\"9\" text-anchor=\"end\">max %s"
	    "</text>", CHART_W, s);
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
		page_putf(p, "<rect class=\"%s\" x=\"%d\" y=\"%d\" "
		    "width=\"%d\" height=\"%d\" data-day=\"", cls,
		    d * BAR_STEP + 3, CHART_BASE - h, BAR_W, h);
		page_esc(p, day ? day : "");
		page_putf(p, "\" data-count=\"%.0f\"><title>", v);
		page_esc(p, day ? day : "");
		page_putf(p, ": %s %s</title></rect>", num, metric);
		page_putf(p, "<text x=\"%d\" y=\"%d\" "
		    "text-anchor=\"middle\">%.2s</text>",
		    d * BAR_STEP + 3 + BAR_W / 2, CHART_H - 3,
		    day && strlen(day) == 10 ? day + 8 : "");
	}
	page_put(p, "</svg>");
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

/* One row of a group: its key, its two charts, its sums. */
static void
usage_row(struct page *p, const char *group, const cJSON *s,
    const cJSON *days, double rmax, double tmax)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "requests");
	const cJSON *tok = cJSON_GetObjectItemCaseSensitive(s, "tokens");
	char a[40], b[40], c[40], d[40];

	page_put(p, "<tr><td>");
	page_esc(p, s->string);
	page_put(p, "</td><td>");
	chart(p, group, s->string, "requests", req, days, rmax);
	page_put(p, "</td><td>");
	chart(p, group, s->string, "tokens", tok, days, tmax);
	group3(sum(req, STATUS_DAYS - 7), a, sizeof a);
	group3(sum(req, 0), b, sizeof b);
	group3(sum(tok, STATUS_DAYS - 7), c, sizeof c);
	group3(sum(tok, 0), d, sizeof d);
	page_putf(p, "</td><td class=\"n\">%s / %s</td><td class=\"n\">%s / "
	    "%s</td></tr>\n", a, b, c, d);
}

void
page_usage(struct page *p, const cJSON *root, const char *name,
    const char *title, const char *what)
{
	const cJSON *grp = cJSON_GetObjectItemCaseSensitive(root, name), *s;
	const cJSON *days = cJSON_GetObjectItemCaseSensitive(root, "days");
	double rmax = group_max(grp, "requests"), tmax = group_max(grp,
	    "tokens");

	page_putf(p, "<h2 id=\"%s\">%s, last %d days (UTC)</h2>\n", name,
	    title, STATUS_DAYS);
	if (cJSON_GetArraySize(grp) == 0) {
		page_put(p, "<p class=\"mut\">No requests recorded in these "
		    "days.");
		if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(root,
		    "usage_statistics")))
			page_put(p, " Usage statistics are off: set "
			    "<code>usage-statistics-enabled: true</code> in "
			    "the config.");
		page_put(p, "</p>\n");
		return;
	}
	page_putf(p, "<table><tr><th>%s</th><th>Requests per day</th>"
	    "<th>Tokens per day</th><th>Requests<br>7 d / %d d</th>"
	    "<th>Tokens<br>7 d / %d d</th></tr>\n", what, STATUS_DAYS,
	    STATUS_DAYS);
	/* data-group: the name without its "by_" ("account", "model"). */
	cJSON_ArrayForEach(s, grp)
		usage_row(p, name + 3, s, days, rmax, tmax);
	page_put(p, "</table>\n");
}

/* One window: a bar of its used share, then "5h 71%", and when it
 * resets. */
static void
limit_window(struct page *p, const cJSON *w)
{
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(w, "used");
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(w, "resets_in");
	char r[32];
	double used = cJSON_IsNumber(u) ? u->valuedouble : 0;
	long s;
	int px = (int)(used > 1 ? 60 : used < 0 ? 0 : used * 60 + 0.5);

	page_putf(p, "<div><svg class=\"chart\" width=\"60\" height=\"8\" "
	    "role=\"img\"><rect class=\"room\" width=\"60\" height=\"8\"/>"
	    "<rect class=\"%s\" width=\"%d\" height=\"8\"/></svg><span>",
	    used >= 1 ? "full" : used >= 0.9 ? "hot" : "used", px);
	page_esc(p, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w,
	    "name")));
	if (cJSON_IsNumber(u))
		page_putf(p, " %.0f%%", used * 100);
	else
		page_put(p, " ?");
	if (cJSON_IsNumber(in) && (s = (long)in->valuedouble) > 0) {
		if (s >= 86400)
			snprintf(r, sizeof r, "%ldd%ldh", s / 86400,
			    s % 86400 / 3600);
		else if (s >= 3600)
			snprintf(r, sizeof r, "%ldh%02ldm", s / 3600,
			    s % 3600 / 60);
		else
			snprintf(r, sizeof r, "%ldm", (s + 59) / 60);
		page_putf(p, " <span class=\"mut\">resets in %s</span>", r);
	}
	page_put(p, "</span></div>");
}

/* Figures older than usage-refresh: how old. */
static void
limit_age(struct page *p, const cJSON *q)
{
	const cJSON *age = cJSON_GetObjectItemCaseSensitive(q, "age");
	char r[48];

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "stale")) ||
	    !cJSON_IsNumber(age))
		return;
	timefmt_rel(time(NULL) - (time_t)age->valuedouble, time(NULL), r,
	    sizeof r);
	page_put(p, "<div class=\"mut\">figures from ");
	page_esc(p, r);
	page_put(p, "</div>");
}

/* The plan and extra usage: "Max 20x · extra usage off". */
static void
limit_plan(struct page *p, const cJSON *a)
{
	const cJSON *pl = cJSON_GetObjectItemCaseSensitive(a, "plan");
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(pl, "extra_usage");
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(e, "enabled");
	const cJSON *used = cJSON_GetObjectItemCaseSensitive(e, "used");
	const cJSON *lim = cJSON_GetObjectItemCaseSensitive(e, "limit");
	const char *name = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(pl, "name"));

	if (!cJSON_IsObject(pl))
		return;
	page_put(p, "<div class=\"mut\">");
	if (name)
		page_esc(p, name);
	if (cJSON_IsBool(en)) {
		page_put(p, name ? " &middot; extra usage " : "extra usage ");
		page_put(p, cJSON_IsTrue(en) ? "on" : "off");
	}
	if (cJSON_IsTrue(en) && cJSON_IsNumber(used) && cJSON_IsNumber(lim))
		page_putf(p, " ($%.2f of $%.2f)", used->valuedouble,
		    lim->valuedouble);
	page_put(p, "</div>");
}

void
page_limits(struct page *p, const cJSON *a)
{
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(a, "quota"), *w;
	const char *st = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(q, "status"));

	if (!cJSON_IsObject(q)) {
		page_put(p, "<td class=\"mut\">&mdash;</td>");
		return;
	}
	page_put(p, "<td class=\"lim\">");
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(q, "windows"))
		limit_window(p, w);
	limit_age(p, q);
	limit_plan(p, a);
	/* allowed_warning: Anthropic's word for "close to the limit". */
	if (st && strcmp(st, "allowed") != 0) {
		page_put(p, strcmp(st, "rejected") == 0 ?
		    "<div class=\"bad\">" : "<div class=\"warn\">");
		page_esc(p, st);
		page_put(p, "</div>");
	}
	page_put(p, "</td>");
}
