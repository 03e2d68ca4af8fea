/*
 * doctor_int: what doctor.c (the run, the report, the config, auth-dir
 * and accounts), doctor_net.c (our port, the socket unit, the upstreams)
 * and doctor_droid.c (droid's files) share. Only those three include it.
 */
#ifndef DOCTOR_INT_H
#define DOCTOR_INT_H
#include <stdio.h>

#include "parsers/config.h"

enum doc_level { DOC_OK, DOC_WARN, DOC_FAIL };

/* One run's report. */
struct doc {
	FILE *out;
	int fails;              /* DOC_FAIL lines so far */
	int ours;               /* our proxy answers on the port */
};

/* One line: "ok   what", "warn what -> fix", "FAIL what -> fix" (no
 * " -> " when fix is NULL or empty), flushed at once. */
void doctor_say(struct doc *d, enum doc_level l, const char *fix,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* doctor_net.c */

/* Who holds the port and whether it answers GET /health like us; sets
 * d->ours. */
void doctor_port(struct doc *d, const struct config *cfg);
/* The socket unit, system or user, through systemctl. */
void doctor_systemd(struct doc *d);
/* DNS, TCP and a TLS handshake (no request) to each upstream and token
 * endpoint once; a failure is a DOC_FAIL where a provider with a usable
 * account (claude, codex) needs it, else a DOC_WARN. */
void doctor_upstreams(struct doc *d, const struct config *cfg, int claude,
    int codex);

/* doctor_droid.c */

/* droid's settings.json and config.json: their entries for this proxy,
 * and a usable account behind each. */
void doctor_droid(struct doc *d, const struct config *cfg, int claude,
    int codex);

#endif
