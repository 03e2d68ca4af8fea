/* log: one line per message on stderr, or syslog when stderr is the client;
 * optionally also a size-capped file. */
#ifndef LOG_H
#define LOG_H
#include <stddef.h>

/* Call once. use_syslog: stderr is the client's socket (inetd), so logging
 * there would corrupt the HTTP stream. */
void log_init(int debug, int use_syslog);
int log_debug_on(void);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* s into out (n bytes, NUL included) with every control character (C0,
 * DEL, C1 as UTF-8) written \xHH: what a client or an upstream wrote can
 * neither forge a line nor speak to a terminal. Every log line goes
 * through it; printers use it on strings read from files. Returns the
 * length written (cut at n - 1). */
size_t log_clean(char *out, size_t n, const char *s);

/* Where logging-to-file writes: the logs/ directory beside config_path, or
 * auth_dir/logs when there is no config file (config_path NULL). 0, or -1
 * with errno ENAMETOOLONG. */
int log_dir(const char *config_path, const char *auth_dir, char *out,
    size_t outlen);
/* From now on every line also goes, with a UTC time stamp and the pid, to
 * dir/cli-proxy-api.log (dir made 0700 when missing, the file 0600, opened
 * O_APPEND so processes can share it). Before each line the size is
 * checked: past max bytes the file moves to cli-proxy-api.log.1, under an
 * flock on dir/cli-proxy-api.lock so concurrent processes rotate once.
 * 0, or -1 with errno (lines then go on to stderr alone). */
int log_open_file(const char *dir, size_t max);
void log_close_file(void);

/* A request or response head at debug level, one line per header, with
 * the values of every header that can carry a credential (Authorization,
 * Proxy-Authorization, x-api-key, Cookie, Set-Cookie, any name containing
 * "token", "key", "secret", "auth", "cookie" or "password"), and of such
 * parameters in the request line's query, replaced by "[redacted]".
 * label says which head ("client request", "upstream response"). */
void log_head(const char *label, const char *head, size_t len);

#endif
