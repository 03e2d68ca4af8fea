/*
 * status_int: what status_page.c (the document) and status_chart.c (the
 * usage tables and their SVG bar charts) share; nothing else includes it.
 */
#ifndef STATUS_INT_H
#define STATUS_INT_H
#include <cjson/cJSON.h>

#include "support/buf.h"

/* The HTML written so far. Out of memory sets oom: the writes after it
 * still happen, but status_render looks at oom at the end and throws the
 * page away. */
struct page {
	struct buf b;
	int oom;
};

/* Append s as it is. */
void page_put(struct page *p, const char *s);
/* Append a formatted string (under 512 bytes, else oom is set). Numbers
 * and literals only: strings from files go through page_esc(). */
void page_putf(struct page *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append s as text or an attribute value (always double-quoted). Control
 * characters other than tab and newline become '?'. */
void page_esc(struct page *p, const char *s);

/* status_chart.c: root's group name ("by_account", "by_model") as a table
 * under the heading title, what naming its first column: per key, its
 * requests and tokens per day as bars (one scale per metric for the whole
 * table) and their sums. */
void page_usage(struct page *p, const cJSON *root, const char *name,
    const char *title, const char *what);

/* status_chart.c: an account's limits as a table cell: per window a bar
 * of its used share and the reset; the status when it is a warning. */
void page_limits(struct page *p, const cJSON *a);

#endif
