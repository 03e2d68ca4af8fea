/* timefmt: RFC 3339 times, and relative ones for people. */
#ifndef TIMEFMT_H
#define TIMEFMT_H
#include <stddef.h>
#include <time.h>

/* RFC 3339 ("2026-01-02T03:04:05Z", fractions and offsets too) to
 * time_t; -1 when malformed. */
time_t timefmt_parse(const char *s);
/* time_t to RFC 3339 UTC ("2026-01-02T03:04:05Z") in out[21+]. */
void timefmt_format(time_t t, char *out, size_t outlen);
/* t seen from now, the one way users see it: "in 3h12m", "12m05s ago",
 * "in 2d3h". */
void timefmt_rel(time_t t, time_t now, char *out, size_t outlen);

#endif
