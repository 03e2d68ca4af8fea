/* exits: the program's exit codes, stable and documented (README, --help,
 * the man page), in the djb/skarnet tradition: 0 done, 100 usage, 111 a
 * system call failed, and a few of our own. */
#ifndef EXITS_H
#define EXITS_H

enum {
	EXIT_OK = 0,
	EXIT_USAGE = 100,       /* bad command line */
	EXIT_BADREQ = 101,      /* the client sent a malformed request */
	EXIT_CLIENT_TIMEOUT = 102, /* the client stalled mid-request */
	EXIT_SYS = 111,         /* a system call failed */
	EXIT_CONFIG = 112,      /* config file unreadable or invalid */
	EXIT_TLS = 113,         /* ca-file unusable */
	EXIT_ACCOUNTS = 114,    /* --refresh: an account could not be refreshed */
	EXIT_LOGIN = 115,       /* a login was refused, failed or timed out;
	                         * nothing was written */
	EXIT_DOCTOR = 116,      /* --doctor: at least one check FAILed */
	EXIT_DROID = 117,       /* --setup-droid: settings.json is not JSON, or
	                         * no account to offer */
	EXIT_SANDBOX = 118      /* --sandbox-check: the sandbox let something
	                         * through it must forbid, blocked something a
	                         * filter needs, or could not be applied */
};

#endif
