#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"

static int debug_on;
static int to_syslog;

void
log_init(int debug, int use_syslog)
{
	debug_on = debug;
	if (use_syslog && !to_syslog)
		openlog("cli-proxy-api", LOG_PID, LOG_DAEMON);
	to_syslog = use_syslog;
}

int
log_debug_on(void)
{
	return debug_on;
}

static void
vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	vsnprintf(line, sizeof line, fmt, ap);
	if (to_syslog) {
		syslog(prio, "%s%s", tag, line);
		return;
	}
	/* One write per line so concurrent processes do not interleave. */
	char out[2200];
	n = snprintf(out, sizeof out, "cli-proxy-api: %s%s\n", tag, line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {
		n = sizeof out - 1;
		out[n - 1] = '\n';
	}
	m = (int)write(2, out, (size_t)n);
	(void)m;
}

#define LOGFN(name, prio, tag, cond)                       \
	void name(const char *fmt, ...)                    \
	{                                                  \
		va_list ap;                                \
		if (!(cond))                               \
			return;                            \
		va_start(ap, fmt);                         \
		vlog(prio, tag, fmt, ap);                  \
		va_end(ap);                                \
	}

LOGFN(log_err, LOG_ERR, "error: ", 1)
LOGFN(log_warn, LOG_WARNING, "warning: ", 1)
LOGFN(log_info, LOG_INFO, "", 1)
LOGFN(log_debug, LOG_DEBUG, "debug: ", debug_on)
