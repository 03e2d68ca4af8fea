/* prefork: --serve's child for the next connection, made ahead of time. */
#ifndef PREFORK_H
#define PREFORK_H
#include <sys/types.h>

#include "parsers/config.h"

/* Start watching the files the sandbox holds by inode and make the first
 * spare. fds are the listening sockets (a spare closes them). */
void prefork_init(const struct config *cfg, const int *fds, int nfds);
/* The watch's fd for the parent's poll set, -1 when there is none. */
int prefork_watch_fd(void);
/* The watch's fd is readable: retire the spare if a file its sandbox
 * holds was replaced. */
void prefork_watch_event(const struct config *cfg);
/* Hand connection c to the spare. Returns the spare's pid, or -1 when
 * there is none to take it (none made, it died, or its sandbox holds a
 * replaced file): then fork a child for it. Either way prefork_next
 * afterwards. */
pid_t prefork_give(const struct config *cfg, int c);
/* After a connection was taken: make the next spare now, unless one is
 * due later (the one just handed a connection is at its start). */
void prefork_next(const struct config *cfg);
/* The spare that is due: made when its time came or (hung_up) the last
 * spare's connection ended. Returns the ms left until it is due, -1
 * when none is due (made now, or not waited for). */
int prefork_due(const struct config *cfg, int hung_up);
/* The last spare's end to poll for its hang-up, -1 when none is due. */
int prefork_handed_fd(void);
/* Make the next spare, unless there is one. */
void prefork_new(const struct config *cfg);

#endif
