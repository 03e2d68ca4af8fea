/*
 * The wait for the answer: the browser coming back to the callback port,
 * or someone logged in over SSH pasting the address the browser ended up
 * on. Both are read in one poll() loop, so whichever comes first wins;
 * the terminal is read a line at a time and every line is wiped once
 * read, for it may hold the code.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands/login_int.h"
#include "network/net.h"
#include "support/log.h"

void
login_wait_init(struct login_wait *w, enum login_provider p)
{
	int i;

	memset(w, 0, sizeof *w);
	w->p = p;
	w->lfd = w->answer_fd = -1;
	for (i = 0; i < LOGIN_CLIENTS; i++)
		w->c[i].fd = -1;
}

/* A line from the terminal. Unrecognised input, or an answer with
 * another login's state (the user's own slip: only they type here), gets
 * a hint and another chance. */
static int
paste(struct login_wait *w, char *line)
{
	int rc;

	if (line[strspn(line, " \t\r")] == '\0')
		return LOGIN_MORE;
	login_answer_free(&w->a);
	if (login_parse_paste(line, &w->a) == -1) {
		printf("That is not a redirect URL or a code. Paste the whole "
		    "address from the browser's address bar:\n");
		fflush(stdout);
		return LOGIN_MORE;
	}
	if ((rc = login_judge(w, -1)) == LOGIN_MORE) {
		printf("That answer does not carry this login's state (from "
		    "an older URL?): ignored. Paste the address the newest "
		    "URL above ends up on:\n");
		fflush(stdout);
	} else
		w->pasted = 1;
	return rc;
}

static int
tty_read(struct login_wait *w)
{
	ssize_t r = read(0, w->line + w->linelen,
	    sizeof w->line - 1 - w->linelen);
	char *nl;
	int rc = LOGIN_MORE;

	if (r == -1 && errno == EINTR)
		return LOGIN_MORE;
	if (r <= 0) {
		w->tty = 0;     /* ^D: the browser may still come back */
		return LOGIN_MORE;
	}
	w->linelen += (size_t)r;
	w->line[w->linelen] = '\0';
	while (rc == LOGIN_MORE && (nl = strchr(w->line, '\n')) != NULL) {
		size_t used = (size_t)(nl - w->line) + 1;

		*nl = '\0';
		rc = paste(w, w->line);
		explicit_bzero(w->line, used);
		memmove(w->line, w->line + used, w->linelen - used + 1);
		w->linelen -= used;
	}
	/* A line that fills the buffer is no redirect URL: dropped. */
	if (w->linelen == sizeof w->line - 1) {
		explicit_bzero(w->line, sizeof w->line);
		w->linelen = 0;
	}
	return rc;
}


/* What to poll: the listener, the terminal while it is read and each
 * connection; the idle ones are closed, and *ms shrinks to the nearest
 * connection's deadline. Returns the count. */
static int
poll_set(struct login_wait *w, struct pollfd *pf, struct login_client **who,
    long long now, int *ms)
{
	int i, n = 0;

	pf[n].fd = w->lfd;
	pf[n].events = POLLIN;
	who[n++] = NULL;
	if (w->tty) {
		pf[n].fd = 0;
		pf[n].events = POLLIN;
		who[n++] = NULL;
	}
	for (i = 0; i < LOGIN_CLIENTS; i++) {
		struct login_client *c = &w->c[i];

		if (c->fd != -1 && c->until <= now)
			login_client_close(c);
		if (c->fd == -1)
			continue;
		if (c->until - now < *ms)
			*ms = (int)(c->until - now);
		pf[n].fd = c->fd;
		pf[n].events = POLLIN;
		who[n++] = c;
	}
	return n;
}

/* What poll() found ready, in order, until one of them ends the wait. */
static int
dispatch(struct login_wait *w, const struct pollfd *pf,
    struct login_client *const *who, int n)
{
	int i, rc = LOGIN_MORE;

	for (i = 0; i < n && rc == LOGIN_MORE; i++) {
		/* An accept may have evicted this one for a new fd. */
		if (pf[i].revents == 0 || (who[i] && who[i]->fd != pf[i].fd))
			continue;
		/* The listener by its fd: with fd 0 closed at start it is
		 * fd 0, and the terminal is polled only when w->tty says so. */
		if (who[i])
			rc = login_client_read(w, who[i]);
		else if (pf[i].fd == w->lfd)
			login_client_accept(w);
		else
			rc = tty_read(w);
	}
	return rc;
}

int
login_wait_answer(struct login_wait *w, long long deadline)
{
	struct pollfd pf[LOGIN_CLIENTS + 2];
	struct login_client *who[LOGIN_CLIENTS + 2];
	long long now;
	int n, ms, rc = LOGIN_MORE;

	while (rc == LOGIN_MORE && (now = net_now_ms()) < deadline) {
		ms = (int)(deadline - now);
		n = poll_set(w, pf, who, now, &ms);
		if (poll(pf, (nfds_t)n, ms) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			rc = LOGIN_FAIL;
		} else
			rc = dispatch(w, pf, who, n);
	}
	return rc;
}

void
login_wait_free(struct login_wait *w)
{
	int i;

	if (w->answer_fd != -1) {
		shutdown(w->answer_fd, SHUT_WR);
		close(w->answer_fd);
		w->answer_fd = -1;
	}
	for (i = 0; i < LOGIN_CLIENTS; i++)
		login_client_close(&w->c[i]);
	if (w->lfd != -1) {
		close(w->lfd);
		w->lfd = -1;
	}
	login_answer_free(&w->a);
	explicit_bzero(w->line, sizeof w->line);
	w->linelen = 0;
}
