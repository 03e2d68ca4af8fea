/* A tiny table-friendly test harness: each check prints "ok - NAME" or
 * "not ok - NAME: detail"; tests/run.sh counts the lines. */
#ifndef UNIT_H
#define UNIT_H
#include <stdio.h>
#include <string.h>
#include <time.h>

static int unit_fails;

#define CHECK(name, cond)                                               \
	do {                                                            \
		if (cond) {                                             \
			printf("ok - %s\n", (name));                    \
		} else {                                                \
			printf("not ok - %s: %s (%s:%d)\n", (name),     \
			    #cond, __FILE__, __LINE__);                 \
			unit_fails++;                                   \
		}                                                       \
	} while (0)

#define CHECK_STR(name, got, want)                                      \
	do {                                                            \
		const char *g_ = (got), *w_ = (want);                   \
		if (g_ && w_ && strcmp(g_, w_) == 0) {                  \
			printf("ok - %s\n", (name));                    \
		} else {                                                \
			printf("not ok - %s: got \"%s\" want \"%s\" "   \
			    "(%s:%d)\n", (name), g_ ? g_ : "(null)",    \
			    w_ ? w_ : "(null)", __FILE__, __LINE__);    \
			unit_fails++;                                   \
		}                                                       \
	} while (0)

/* Milliseconds on the monotonic clock, for the checks that time a case. */
static inline double
unit_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define UNIT_END() (fflush(stdout), unit_fails ? 1 : 0)

#endif
