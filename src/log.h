/* log: one line per message on stderr, or syslog when stderr is the client. */
#ifndef LOG_H
#define LOG_H

/* Call once. use_syslog: stderr is the client's socket (inetd), so logging
 * there would corrupt the HTTP stream. */
void log_init(int debug, int use_syslog);
int log_debug_on(void);
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
