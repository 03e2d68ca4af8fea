/* owner: root acting for the owner of auth-dir. A system service runs
 * as its own user and owns auth-dir; root running a command on it
 * (sudo cli-proxy-api --claude-login --config /etc/...) would leave
 * token files, state.json and locks owned by root, which the service
 * cannot read or replace. So root takes on the owner's identity first:
 * every file the command writes is the service's. */
#ifndef OWNER_H
#define OWNER_H
#include <stddef.h>

/* When running as root and dir (existing) belongs to another user:
 * take on that user's ids, groups included, for good (keep == 0) or
 * until owner_restore (keep == 1: effective ids only). 1 with the
 * user's name in who (or the uid), 0 when there is nothing to do
 * (not root, dir missing or root's), -1 with errno. */
int owner_become(const char *dir, int keep, char *who, size_t wholen);
/* Back to root after owner_become(..., 1, ...). 0, or -1 with errno. */
int owner_restore(void);

#endif
