/*
 * Times as people and files write them: RFC 3339 in token files, state and
 * logs, and "in 3h12m" / "12m05s ago" wherever a user reads a time.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "support/timefmt.h"

static int
digits(const char **s, int n, int *out)
{
	int v = 0;

	while (n--) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (*(*s)++ - '0');
	}
	*out = v;
	return 0;
}

time_t
timefmt_parse(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d) || (*s != 'T' && *s != 't' &&
	    *s != ' ') || (s++, digits(&s, 2, &h)) || *s++ != ':' ||
	    digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec))
		return -1;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om))
			return -1;
	} else
		return -1;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == -1)
		return -1;
	/* 2025-01-01T08:00:00+08:00 is 00:00 UTC. */
	return t - sign * (oh * 3600 + om * 60);
}

void
timefmt_format(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, outlen, "?");
}

void
timefmt_rel(time_t t, time_t now, char *out, size_t outlen)
{
	long d = (long)(t > now ? t - now : now - t);
	const char *pre = t > now ? "in " : "", *post = t > now ? "" : " ago";

	if (d >= 86400)
		snprintf(out, outlen, "%s%ldd%ldh%s", pre, d / 86400,
		    d % 86400 / 3600, post);
	else if (d >= 3600)
		snprintf(out, outlen, "%s%ldh%02ldm%s", pre, d / 3600,
		    d % 3600 / 60, post);
	else
		snprintf(out, outlen, "%s%ldm%02lds%s", pre, d / 60, d % 60,
		    post);
}
