/* owner: root acting for the owner of auth-dir (see owner.h). */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "support/owner.h"

/* Root's groups, given back by owner_restore. */
static gid_t groups[256];
static int ngroups = -1;
static gid_t egid;

int
owner_become(const char *dir, int keep, char *who, size_t wholen)
{
	struct passwd *pw;
	struct stat st;
	gid_t gid;

	if (geteuid() != 0 || stat(dir, &st) == -1 || st.st_uid == 0)
		return 0;
	pw = getpwuid(st.st_uid);
	gid = pw ? pw->pw_gid : st.st_gid;
	if (pw)
		snprintf(who, wholen, "%s", pw->pw_name);
	else
		snprintf(who, wholen, "uid %lu", (unsigned long)st.st_uid);
	egid = getegid();
	if (keep && (ngroups = getgroups(256, groups)) == -1)
		return -1;
	/* Groups first: they cannot be changed once the uid is not root. */
	if ((pw ? initgroups(pw->pw_name, gid) : setgroups(1, &gid)) == -1)
		return -1;
	if (keep)
		return setegid(gid) == -1 || seteuid(st.st_uid) == -1 ? -1 : 1;
	return setgid(gid) == -1 || setuid(st.st_uid) == -1 ? -1 : 1;
}

int
owner_restore(void)
{
	if (ngroups == -1) {
		errno = EINVAL;
		return -1;
	}
	return seteuid(0) == -1 || setegid(egid) == -1 ||
	    setgroups((size_t)ngroups, groups) == -1 ? -1 : 0;
}
