/*
 * The spare: the child for --serve's next connection, forked, sandboxed
 * and prepared (warm_prepare) before the connection comes, waiting on a
 * socketpair for the accepted socket (SCM_RIGHTS). Neither fork nor the
 * sandbox's set-up is then on the way of a new connection. The parent
 * builds the Landlock ruleset once for all spares; each only enforces it.
 *
 * Landlock rules hold inodes: a file replaced after a spare was sandboxed
 * (a renewed ca-file, a rewritten resolv.conf) is outside its sandbox.
 * The directories of those files are watched with inotify; a name of
 * theirs created, moved or removed retires the spare and the ruleset.
 * Without inotify, their inodes are compared at each hand-over instead.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "accounts/store.h"
#include "commands/prefork.h"
#include "commands/sandbox.h"
#include "connection/filter.h"
#include "connection/warm.h"
#include "network/net.h"

#define MAX_WATCH (2 * SANDBOX_RULE_FILES)

static const int *listen_fds;
static int n_listen;

/* The parent's end of the spare's socketpair, -1 when there is none;
 * and the spare's pid. */
static int spare = -1;
static pid_t spare_pid;
/* The next spare is made once the last one handed a connection is done
 * with it or SPARE_DELAY_MS have passed, whichever is first: a fork and
 * a sandbox made at once would take a CPU from that connection's start
 * (its TLS handshake, its first answer). handed: the parent's end of
 * that spare's socketpair (hung up when it exits), -1 when no spare is
 * due; due: when it is, in net_now_ms. */
#define SPARE_DELAY_MS 20
static int handed = -1;
static long long due;
/* Whether a prepared ruleset is there, and (without a watch) the inodes
 * it and the spare were made on. */
static int rules;
static unsigned long long inodes;

static struct {
	int fd;                 /* inotify, -1 when not watching */
	int n;
	struct {
		int wd;
		char name[NAME_MAX + 1];
	} w[MAX_WATCH];
} watch = { -1, 0, { { 0, "" } } };

/* Watch path's directory for path's name. -1 when it cannot be. */
static int
watch_add(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t dl;
	int wd;

	if (slash == NULL || strlen(slash + 1) > NAME_MAX ||
	    watch.n == MAX_WATCH || (dl = (size_t)(slash - path)) >= sizeof dir)
		return -1;
	memcpy(dir, path, dl);
	dir[dl] = '\0';
	if ((wd = inotify_add_watch(watch.fd, dl ? dir : "/", IN_CREATE |
	    IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF |
	    IN_MOVE_SELF | IN_ONLYDIR)) == -1)
		return -1;
	watch.w[watch.n].wd = wd;
	strcpy(watch.w[watch.n++].name, slash + 1);
	return 0;
}

static void
watch_stop(void)
{
	if (watch.fd != -1)
		close(watch.fd);
	watch.fd = -1;
	watch.n = 0;
}

/* Watch each file by its name and, through symlinks, by its target's. */
static void
watch_start(const struct config *cfg)
{
	const char *paths[SANDBOX_RULE_FILES];
	char logs[PATH_MAX], real[PATH_MAX];
	size_t i, n;

	watch_stop();
	n = sandbox_rule_files(cfg, paths, SANDBOX_RULE_FILES, logs,
	    sizeof logs);
	if (n == 0 || (watch.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC))
	    == -1)
		return;
	for (i = 0; i < n; i++) {
		if (watch_add(paths[i]) == -1 ||
		    (realpath(paths[i], real) && strcmp(real, paths[i]) != 0 &&
		    watch_add(real) == -1)) {
			/* Half a watch is none: compare inodes instead. */
			watch_stop();
			return;
		}
	}
}

/* Drain the watch. 1 when one of the files may have been replaced. */
static int
watch_hit(void)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t r;
	int hit = 0, k;

	while ((r = read(watch.fd, buf, sizeof buf)) > 0) {
		char *p = buf;

		while (p < buf + r) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;

			if (ev->mask & (IN_Q_OVERFLOW | IN_DELETE_SELF |
			    IN_MOVE_SELF | IN_IGNORED))
				hit = 1;
			for (k = 0; k < watch.n && ev->len; k++)
				hit |= watch.w[k].wd == ev->wd &&
				    strcmp(watch.w[k].name, ev->name) == 0;
			p += sizeof *ev + ev->len;
		}
	}
	return hit;
}

/* Is the spare's sandbox still made on the files as they are? */
static int
current(const struct config *cfg)
{
	if (watch.fd != -1)
		return !watch_hit();
	return sandbox_inodes(cfg) == inodes;
}

/* The spare and the ruleset go; a new watch follows moved symlinks. */
static void
retire(const struct config *cfg)
{
	if (spare != -1)
		close(spare);
	spare = -1;
	sandbox_unprepare();
	rules = 0;
	if (watch.fd != -1)
		watch_start(cfg);
}

/* One byte and one fd over the socketpair. The control buffer goes
 * last: glibc's cmsghdr ends in a flexible array. */
struct fdmsg {
	char byte;
	struct iovec iov;
	struct msghdr m;
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} u;
};

static void
fdmsg_init(struct fdmsg *f)
{
	memset(f, 0, sizeof *f);
	f->iov.iov_base = &f->byte;
	f->iov.iov_len = 1;
	f->m.msg_iov = &f->iov;
	f->m.msg_iovlen = 1;
	f->m.msg_control = f->u.space;
	f->m.msg_controllen = sizeof f->u.space;
}

/* In the spare: wait for the connection, then serve it. */
static void
run(const struct config *cfg, int sock)
{
	struct fdmsg f;
	struct cmsghdr *cm;
	ssize_t r;
	sigset_t chld;
	int i, c = -1, sb;

	signal(SIGCHLD, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	/* The parent blocks it between its polls. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_UNBLOCK, &chld, NULL);
	for (i = 0; i < n_listen; i++)
		close(listen_fds[i]);
	if (handed != -1)
		close(handed);
	watch_stop();
	tzset();
	/* auth-dir watched before the sandbox and before warm_prepare reads
	 * it: what changes while the spare waits is seen at its connection's
	 * first request. */
	(void)store_watch(cfg);
	/* A sandbox that cannot be had still takes its connection, and
	 * closes it as a plain child would: one refusal per connection. */
	sb = sandbox_apply(cfg);
	if (sb == 0)
		warm_prepare(cfg);
	fdmsg_init(&f);
	do
		r = recvmsg(sock, &f.m, MSG_CMSG_CLOEXEC);
	while (r == -1 && errno == EINTR);
	/* EOF: the parent is gone or retired this spare. */
	if (r <= 0)
		_exit(EXIT_OK);
	cm = CMSG_FIRSTHDR(&f.m);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&c, CMSG_DATA(cm), sizeof c);
	/* sock stays open until the exit: its hang-up tells the parent
	 * this connection is done (prefork_due). */
	if (c == -1 || sb == -1)
		_exit(EXIT_SYS);
	_exit(filter_run(cfg, c, c));
}

void
prefork_new(const struct config *cfg)
{
	int sv[2];
	pid_t pid;

	if (spare != -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return;
	/* Without a watch, the inodes before the fork: a file replaced
	 * after this shows as a change, whether the spare's rules caught
	 * the old inode or the new. */
	if (watch.fd == -1) {
		unsigned long long now = sandbox_inodes(cfg);

		if (now != inodes)
			rules = 0;
		inodes = now;
	}
	if (!rules)
		rules = sandbox_prepare(cfg) == 0;
	if ((pid = fork()) == 0) {
		close(sv[0]);
		run(cfg, sv[1]);
	}
	close(sv[1]);
	if (pid == -1) {
		close(sv[0]);
		return;
	}
	spare = sv[0];
	spare_pid = pid;
}

void
prefork_init(const struct config *cfg, const int *fds, int nfds)
{
	listen_fds = fds;
	n_listen = nfds;
	watch_start(cfg);
	prefork_new(cfg);
}

int
prefork_watch_fd(void)
{
	return watch.fd;
}

void
prefork_watch_event(const struct config *cfg)
{
	if (watch_hit()) {
		retire(cfg);
		prefork_new(cfg);
	}
}

pid_t
prefork_give(const struct config *cfg, int c)
{
	struct fdmsg f;
	struct cmsghdr *cm;
	ssize_t r;

	if (spare == -1)
		return -1;
	if (!current(cfg)) {
		/* The child forked instead builds its own rules. */
		retire(cfg);
		return -1;
	}
	fdmsg_init(&f);
	cm = CMSG_FIRSTHDR(&f.m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &c, sizeof c);
	do
		r = sendmsg(spare, &f.m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r == -1 && errno == EINTR);
	if (r != 1) {
		close(spare);
		spare = -1;
		return -1;
	}
	if (handed != -1)
		close(handed);
	handed = spare;
	due = net_now_ms() + SPARE_DELAY_MS;
	spare = -1;
	return spare_pid;
}

void
prefork_next(const struct config *cfg)
{
	if (handed == -1)
		prefork_new(cfg);
}

int
prefork_due(const struct config *cfg, int hung_up)
{
	long long left;

	if (handed == -1)
		return -1;
	if (!hung_up && (left = due - net_now_ms()) > 0)
		return (int)left;
	close(handed);
	handed = -1;
	prefork_new(cfg);
	return -1;
}

int
prefork_handed_fd(void)
{
	return handed;
}
