/* usage: one JSON line per request in auth-dir/usage.jsonl, read back for
 * --usage and the status page. */
#ifndef USAGE_H
#define USAGE_H
#include <stddef.h>
#include <stdio.h>

#include "parsers/config.h"
#include "parsers/usage_scan.h"

/* One request as recorded. account is the email or the account id, never
 * a credential. */
struct usage_rec {
	const char *provider;   /* "claude", "codex" */
	const char *account;
	int status;             /* HTTP status the client got */
	long long ms;           /* from the request head to the last byte */
	struct usage u;
};

/* Append r as one line to auth-dir/usage.jsonl (O_APPEND, under an flock
 * on auth-dir/usage.lock), first moving the file to usage.jsonl.1 when the
 * line would take it past usage-max-bytes. Does nothing (returns 0) unless
 * usage-statistics-enabled. 0, or -1 with errno. */
int usage_record(const struct config *cfg, const struct usage_rec *r);

/* One line of usage.jsonl as read back; strings are "-" when absent. */
struct usage_line {
	const char *time;       /* RFC 3339, at least the date */
	const char *provider, *account, *model;
	int status;             /* 0 when absent */
	unsigned long long input, output, cache_read, cache_write;
};

/* Call fn with each line of usage.jsonl.1 then usage.jsonl, oldest
 * first; lines that do not parse are counted in *bad and skipped. path
 * gets usage.jsonl's path, or the path of a file that could not be read.
 * fn returns -1 to stop. 0, or -1 with errno (a file that exists cannot
 * be read, or ENOMEM when fn stopped). */
int usage_each(const struct config *cfg,
    int (*fn)(const struct usage_line *, void *), void *arg,
    unsigned long long *bad, char *path, size_t pathlen);

/* --usage: requests, errors (status >= 400) and token totals by day, by
 * account and by model, from usage.jsonl.1 and usage.jsonl; lines that do
 * not parse are counted and skipped. 0, or -1 with errno when a file exists
 * but cannot be read. */
int usage_report(const struct config *cfg, FILE *out);

#endif
