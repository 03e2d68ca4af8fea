/*
 * Logging. Lines go to stderr (journald adds the time there) or, under
 * inetd when stderr is the client, to syslog; with logging-to-file they go
 * to a file as well. Each line is one write(2), so the lines of concurrent
 * processes never interleave.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "support/log.h"

#define LOG_NAME "cli-proxy-api.log"
#define LOG_OLD "cli-proxy-api.log.1"
#define LOG_LOCK "cli-proxy-api.lock"

static int debug_on;
static int to_syslog;

/* The log file, when logging-to-file. */
static int file_fd = -1;
static size_t file_max;
static char file_path[4096], file_old[4096], file_lock[4096];

void
log_init(int debug, int use_syslog)
{
	debug_on = debug;
	/* Connected now: the filter's sandbox leaves it no Unix socket to
	 * make later (a /dev/log that goes away takes the lines after with
	 * it). */
	if (use_syslog && !to_syslog)
		openlog("cli-proxy-api", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = use_syslog;
}

int
log_debug_on(void)
{
	return debug_on;
}

int
log_dir(const char *config_path, const char *auth_dir, char *out,
    size_t outlen)
{
	const char *slash = config_path ? strrchr(config_path, '/') : NULL;
	int n;

	if (config_path == NULL)
		n = snprintf(out, outlen, "%s/logs", auth_dir);
	else if (slash == NULL)
		n = snprintf(out, outlen, "logs");
	else
		n = snprintf(out, outlen, "%.*s/logs",
		    (int)(slash - config_path), config_path);
	if (n < 0 || (size_t)n >= outlen) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
file_open(void)
{
	return open(file_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);
}

int
log_open_file(const char *dir, size_t max)
{
	int a, b, c, fd;

	a = snprintf(file_path, sizeof file_path, "%s/%s", dir, LOG_NAME);
	b = snprintf(file_old, sizeof file_old, "%s/%s", dir, LOG_OLD);
	c = snprintf(file_lock, sizeof file_lock, "%s/%s", dir, LOG_LOCK);
	if (a < 0 || b < 0 || c < 0 || (size_t)b >= sizeof file_old ||
	    (size_t)c >= sizeof file_lock) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return -1;
	if ((fd = file_open()) == -1)
		return -1;
	log_close_file();
	file_fd = fd;
	file_max = max;
	return 0;
}

void
log_close_file(void)
{
	if (file_fd != -1)
		close(file_fd);
	file_fd = -1;
}

/*
 * Our file is full. Under the lock, look whether the file at the path is
 * still ours: if another process already moved it away, only reopen;
 * otherwise move it to .1 and start a new one.
 */
static void
file_rotate(size_t n)
{
	struct stat mine, cur;
	int lfd, fd;

	lfd = open(file_lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lfd == -1)
		return;
	while (flock(lfd, LOCK_EX) == -1)
		if (errno != EINTR)
			goto out;
	if (fstat(file_fd, &mine) == 0 && stat(file_path, &cur) == 0 &&
	    mine.st_dev == cur.st_dev && mine.st_ino == cur.st_ino &&
	    (size_t)cur.st_size + n > file_max &&
	    rename(file_path, file_old) == -1)
		goto out;
	if ((fd = file_open()) != -1) {
		close(file_fd);
		file_fd = fd;
	}
out:
	close(lfd);
}

static void
file_write(const char *tag, const char *msg)
{
	char out[2300], when[32];
	struct stat st;
	struct tm tm;
	time_t now = time(NULL);
	int n, m;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(when, sizeof when, "-");
	n = snprintf(out, sizeof out, "%s cli-proxy-api[%ld]: %s%s\n", when,
	    (long)getpid(), tag, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {
		n = sizeof out - 1;
		out[n - 1] = '\n';
	}
	if (fstat(file_fd, &st) == 0 && st.st_size > 0 &&
	    (size_t)st.st_size + (size_t)n > file_max)
		file_rotate((size_t)n);
	m = (int)write(file_fd, out, (size_t)n);
	(void)m;
}

static void
vlog(int prio, const char *tag, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

size_t
log_clean(char *out, size_t n, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k = 0;

	if (n == 0)
		return 0;
	for (; *p && k + 1 < n; p++) {
		/* C0 controls and DEL, and the C1 ones as UTF-8 (U+0080 to
		 * U+009F, whose CSI U+009B a terminal may obey). */
		int c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;

		if (*p >= 0x20 && *p != 0x7f && !c1) {
			out[k++] = (char)*p;
			continue;
		}
		if (k + 4 + 4 * c1 >= n)
			break;
		k += (size_t)snprintf(out + k, n - k, "\\x%02X", *p);
		if (c1)
			k += (size_t)snprintf(out + k, n - k, "\\x%02X", *++p);
	}
	out[k] = '\0';
	return k;
}

static void
vlog(int prio, const char *tag, const char *fmt, va_list ap)
{
	char raw[2048], line[2048], out[2200];
	int n, m;

	/* A model name, an upstream's message, a path: whatever a client or
	 * an upstream wrote may reach a line; none may forge another line
	 * or speak to the terminal. */
	vsnprintf(raw, sizeof raw, fmt, ap);
	log_clean(line, sizeof line, raw);
	if (file_fd != -1)
		file_write(tag, line);
	if (to_syslog) {
		syslog(prio, "%s%s", tag, line);
		return;
	}
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

/* ---- heads, redacted ---- */

static int
has_word(const char *s, size_t n, const char *w)
{
	size_t wl = strlen(w), i;

	for (i = 0; i + wl <= n; i++)
		if (strncasecmp(s + i, w, wl) == 0)
			return 1;
	return 0;
}

/* Can a header or parameter of this name carry a credential? Wider than
 * the known ones: a value too many redacted costs a debugging session a
 * little, one too few leaks an account. */
static int
secret_name(const char *s, size_t n)
{
	static const char *const words[] = { "token", "key", "secret",
	    "auth", "cookie", "password" };
	size_t i;

	for (i = 0; i < sizeof words / sizeof words[0]; i++)
		if (has_word(s, n, words[i]))
			return 1;
	return 0;
}

/* Append s[0..n) to out, control bytes as '?' so a head cannot forge log
 * lines. */
static size_t
put(char *out, size_t at, size_t cap, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && at + 1 < cap; i++)
		out[at++] = isprint((unsigned char)s[i]) ? s[i] : '?';
	out[at] = '\0';
	return at;
}

/* The request line with the values of secret query parameters hidden. */
static void
head_first(const char *label, const char *l, size_t n)
{
	char out[1600];
	const char *q = memchr(l, '?', n), *end = l + n, *p, *amp, *eq, *sp;
	size_t at;

	if (q == NULL) {
		at = put(out, 0, sizeof out, l, n);
		log_debug("%s: %s", label, out);
		return;
	}
	/* The query ends at the space before the version. */
	for (sp = q; sp < end && *sp != ' '; sp++)
		;
	at = put(out, 0, sizeof out, l, (size_t)(q - l) + 1);
	for (p = q + 1; p < sp; p = amp + 1) {
		if ((amp = memchr(p, '&', (size_t)(sp - p))) == NULL)
			amp = sp;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq != NULL && secret_name(p, (size_t)(eq - p))) {
			at = put(out, at, sizeof out, p, (size_t)(eq - p) + 1);
			at = put(out, at, sizeof out, "[redacted]", 10);
		} else
			at = put(out, at, sizeof out, p, (size_t)(amp - p));
		if (amp < sp)
			at = put(out, at, sizeof out, "&", 1);
	}
	put(out, at, sizeof out, sp, (size_t)(end - sp));
	log_debug("%s: %s", label, out);
}

/* A header line. A line without a colon, or a folded continuation, may be
 * the rest of any value: it is hidden whole. */
static void
head_line(const char *label, const char *l, size_t n)
{
	char out[1600];
	const char *colon = memchr(l, ':', n);
	size_t at;

	if (colon == NULL || l[0] == ' ' || l[0] == '\t')
		put(out, 0, sizeof out, "[redacted]", 10);
	else if (secret_name(l, (size_t)(colon - l))) {
		at = put(out, 0, sizeof out, l, (size_t)(colon - l) + 1);
		put(out, at, sizeof out, " [redacted]", 11);
	} else
		put(out, 0, sizeof out, l, n);
	log_debug("%s: %s", label, out);
}

void
log_head(const char *label, const char *head, size_t len)
{
	const char *p = head, *end = head + len, *nl;
	size_t n;
	int first = 1;

	if (!debug_on)
		return;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;  /* the blank line: the head is over */
		if (first)
			head_first(label, p, n);
		else
			head_line(label, p, n);
		first = 0;
		p = nl + 1;
	}
}
