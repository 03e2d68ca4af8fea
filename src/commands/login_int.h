/* login_int: what the login's files share; nothing else includes it. */
#ifndef LOGIN_INT_H
#define LOGIN_INT_H
#include <stddef.h>

#include "commands/login_redirect.h"
#include "network/oauth.h"
#include "parsers/config.h"
#include "support/file.h"

#define LOGIN_CLIENTS 8         /* browsers open spare connections */
#define LOGIN_REQ_MAX 8192      /* a callback request head */

/* One of the browser's connections to the callback port. */
struct login_client {
	int fd;
	long long until;
	unsigned long seq;      /* accept order: the oldest goes first */
	size_t len;
	char buf[LOGIN_REQ_MAX];
};

/* Everything the wait for an answer reads from and what it found. */
struct login_wait {
	enum login_provider p;
	const char *state;      /* what the answer must carry */
	int lfd;
	int tty;                /* stdin still read */
	size_t linelen;
	char line[8192];
	struct login_client c[LOGIN_CLIENTS];
	unsigned long accepts;  /* connections accepted so far */
	int answer_fd;          /* the browser waiting for the result page */
	int pasted;             /* the answer came from the terminal */
	struct login_answer a;
};

/* How a wait, or one thing read during it, ended. */
enum { LOGIN_MORE, LOGIN_GOT, LOGIN_FAIL };

/* login_wait.c: the wait over the callback port and the terminal. */

/* Nothing open, nothing read yet. */
void login_wait_init(struct login_wait *w, enum login_provider p);
/* poll() over the listener, the terminal and the browser's connections
 * until an answer comes (LOGIN_GOT, in w->a), the login ends (LOGIN_FAIL,
 * logged) or the deadline passes (LOGIN_MORE). */
int login_wait_answer(struct login_wait *w, long long deadline);
/* Close what is open, wipe what was read. */
void login_wait_free(struct login_wait *w);

/* login_callback.c: the HTTP server on 127.0.0.1 for the redirect. */

/* A listening socket on 127.0.0.1:port, or -1 (logged). */
int login_listen(int port);
/* Accept one connection into a free slot of w, or the slot of the one
 * accepted first. */
void login_client_accept(struct login_wait *w);
/* Read what c has sent; once its request head is complete, answer it and
 * close it. LOGIN_GOT hands the connection over to w->answer_fd. */
int login_client_read(struct login_wait *w, struct login_client *c);
/* Half-close (the page gets out first), close and wipe; c is free. */
void login_client_close(struct login_client *c);
/* Judge the answer in w->a: a code with the right state (LOGIN_GOT), a
 * refusal with the right state that ends the login (LOGIN_FAIL, logged),
 * or an answer with a missing or wrong state, wiped and ignored
 * (LOGIN_MORE). When fd is a browser's, a page tells it which. */
int login_judge(struct login_wait *w, int fd);
/* A short HTML page with status on fd, sent as Connection: close: the
 * caller closes fd next. Nothing when fd is -1 (a paste). */
void login_page(int fd, int status, const char *title, const char *msg);

/* login_save.c: the token file. */

/* Room for the token file in auth-dir (created 0700 when missing), taken
 * before the code is exchanged: the code works once. 0, or -1 (logged,
 * naming auth-dir, the error and the fix: no grant may be asked). */
int login_room(const struct config *cfg, enum login_provider p,
    struct file_room *room);
/* Write the grant's token file, auth-dir/<provider>-<email>.json, through
 * room. 0 with *pathp malloc'd, or -1 (logged: nothing saved). */
int login_save(const struct config *cfg, enum login_provider p,
    const struct oauth_grant *g, const char *email, const char *account_id,
    struct file_room *room, char **pathp);

#endif
