/*
 * The OAuth logins, as the providers' own CLIs do them: an authorize URL with a
 * PKCE S256 challenge, the redirect caught on 127.0.0.1 (or pasted on the
 * terminal by someone logged in over SSH), the code exchanged for tokens
 * and the token file written atomically. The verifier, the code, the state
 * and the tokens never reach the terminal or the log: only the URL does,
 * and it carries nothing but the challenge.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "file.h"
#include "filter.h"
#include "log.h"
#include "login.h"
#include "login_int.h"
#include "net.h"
#include "pkce.h"
#include "secret.h"
#include "timefmt.h"
#include "token.h"

#define MAX_CLIENTS 8           /* browsers open spare connections */
#define REQ_MAX 8192            /* a callback request head */
#define CLIENT_MS 10000         /* a connection that says nothing */

static const char *const provider_title[] = {
	"Claude (Anthropic)", "ChatGPT (OpenAI Codex)"
};

/* ------------------------------------------------------------ browser */

/* Best effort: the URL is on the terminal anyway. The grandchild is
 * detached (no zombie, no terminal) and its chatter goes to /dev/null. */
static void
open_browser(const char *url)
{
#ifdef __APPLE__
	static const char cmd[] = "open";
#else
	static const char cmd[] = "xdg-open";
#endif
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return;
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);
		setsid();
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(cmd, cmd, url, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
}

/* Over SSH there is no display: xdg-open would start a text browser
 * nobody sees, or nothing. */
static int
have_display(void)
{
#ifdef __APPLE__
	return 1;
#else
	return getenv("DISPLAY") || getenv("WAYLAND_DISPLAY");
#endif
}

/* ------------------------------------------------------------ callback */

struct client {
	int fd;
	long long until;
	size_t len;
	char buf[REQ_MAX];
};

struct wait {
	enum login_provider p;
	const char *state;      /* what the answer must carry */
	int lfd;
	int tty;                /* stdin still read */
	size_t linelen;
	char line[8192];
	struct client c[MAX_CLIENTS];
	int answer_fd;          /* the browser waiting for the result page */
	int pasted;             /* the answer came from the terminal */
	struct login_answer a;
};

enum { W_MORE, W_GOT, W_FAIL };

static void
html_escape(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '<')
			buf_adds(b, "&lt;");
		else if (*s == '>')
			buf_adds(b, "&gt;");
		else if (*s == '&')
			buf_adds(b, "&amp;");
		else if (*s == '"')
			buf_adds(b, "&quot;");
		else
			buf_add(b, s, 1);
	}
}

/* A short page, then the connection closes. */
static void
page(int fd, int status, const char *title, const char *msg)
{
	struct buf body = { 0 }, r = { 0 };
	const char *reason = status == 200 ? "OK" : status == 400 ?
	    "Bad Request" : status == 404 ? "Not Found" : status == 405 ?
	    "Method Not Allowed" : status == 502 ? "Bad Gateway" : "Forbidden";

	if (fd == -1)
		return;
	buf_adds(&body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>cli-proxy-api</title></head>\n<body style=\"font-family:"
	    "sans-serif;max-width:40em;margin:4em auto\">\n<h1>");
	html_escape(&body, title);
	buf_adds(&body, "</h1>\n<p>");
	html_escape(&body, msg);
	buf_adds(&body, "</p>\n</body></html>\n");
	if (body.p && buf_addf(&r, "HTTP/1.1 %d %s\r\nContent-Type: text/html; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n", status, reason, body.len) == 0 &&
	    buf_add(&r, body.p, body.len) == 0)
		(void)file_write_all(fd, r.p, r.len);
	buf_free(&body);
	buf_free(&r);
}

static void
client_close(struct client *c)
{
	if (c->fd != -1) {
		shutdown(c->fd, SHUT_WR);
		close(c->fd);
	}
	explicit_bzero(c->buf, c->len);
	c->fd = -1;
	c->len = 0;
}

/* The provider's error code, printable and short: it comes from the
 * browser, so from anyone who can reach the port. */
static const char *
printable(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	if (strlen(s) > 80)
		s[80] = '\0';
	return s;
}

/* An answer from the browser or the terminal: a code with the right
 * state, a refusal, or a wrong state that ends the login. */
static int
judge(struct wait *w, int fd)
{
	if (w->a.error) {
		log_err("the provider refused the login: %s; run the login "
		    "again", printable(w->a.error));
		page(fd, 403, "Login refused", "The provider refused the "
		    "login. Nothing was saved; run the login again.");
		return W_FAIL;
	}
	if (login_check_state(&w->a, w->state) == -1) {
		log_err("the answer's state does not match this login (an old "
		    "or a forged redirect): nothing saved; run the login "
		    "again and use the newest URL");
		page(fd, 403, "Login failed", "The state does not match this "
		    "login. Nothing was saved; run the login again.");
		return W_FAIL;
	}
	return W_GOT;
}

static int
request(struct wait *w, struct client *c)
{
	char *line = c->buf, *sp, *target, *q;
	size_t pl;
	int rc;

	line[strcspn(line, "\r\n")] = '\0';
	if ((sp = strchr(line, ' ')) == NULL) {
		page(c->fd, 400, "Bad request", "Not an HTTP request.");
		return W_MORE;
	}
	*sp = '\0';
	target = sp + 1;
	target[strcspn(target, " ")] = '\0';
	if (strcmp(line, "GET") != 0) {
		page(c->fd, 405, "Method not allowed", "Only GET is served.");
		return W_MORE;
	}
	q = strchr(target, '?');
	pl = q ? (size_t)(q - target) : strlen(target);
	if (pl != strlen(login_callback_path(w->p)) ||
	    strncmp(target, login_callback_path(w->p), pl) != 0) {
		page(c->fd, 404, "Not found", "This is cli-proxy-api's login "
		    "callback; nothing else is here.");
		return W_MORE;
	}
	login_answer_free(&w->a);
	if (login_parse_query(q ? q + 1 : "", &w->a) == -1 ||
	    (w->a.code == NULL && w->a.error == NULL)) {
		login_answer_free(&w->a);
		page(c->fd, 400, "No code", "This request carries no "
		    "authorization code; the login is still waiting.");
		return W_MORE;
	}
	if ((rc = judge(w, c->fd)) == W_GOT) {
		w->answer_fd = c->fd;   /* answered once the tokens are saved */
		c->fd = -1;
	}
	return rc;
}

static int
client_read(struct wait *w, struct client *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	int rc;

	if (r == -1 && errno == EINTR)
		return W_MORE;
	if (r <= 0) {
		client_close(c);
		return W_MORE;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") == NULL && strstr(c->buf, "\n\n") ==
	    NULL) {
		if (c->len == sizeof c->buf - 1) {
			page(c->fd, 400, "Bad request", "Request too large.");
			client_close(c);
		}
		return W_MORE;
	}
	rc = request(w, c);
	client_close(c);
	return rc;
}

static void
client_accept(struct wait *w)
{
	struct client *c = NULL;
	int fd, i;

	if ((fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	for (i = 0; i < MAX_CLIENTS && c == NULL; i++)
		if (w->c[i].fd == -1)
			c = &w->c[i];
	/* Full of idle spare connections: the oldest one goes. */
	for (i = 0; c == NULL && i < MAX_CLIENTS; i++)
		if (c == NULL || w->c[i].until < c->until)
			c = &w->c[i];
	client_close(c);
	c->fd = fd;
	c->until = net_now_ms() + CLIENT_MS;
}

/* A line from the terminal. Unrecognised input gets a hint and another
 * chance; a wrong state ends the login like a forged redirect would. */
static int
paste(struct wait *w, char *line)
{
	if (line[strspn(line, " \t\r")] == '\0')
		return W_MORE;
	login_answer_free(&w->a);
	if (login_parse_paste(line, &w->a) == -1) {
		printf("That is not a redirect URL or a code. Paste the whole "
		    "address from the browser's address bar:\n");
		fflush(stdout);
		return W_MORE;
	}
	w->pasted = 1;
	return judge(w, -1);
}

static int
tty_read(struct wait *w)
{
	ssize_t r = read(0, w->line + w->linelen,
	    sizeof w->line - 1 - w->linelen);
	char *nl;
	int rc = W_MORE;

	if (r == -1 && errno == EINTR)
		return W_MORE;
	if (r <= 0) {
		w->tty = 0;     /* ^D: the browser may still come back */
		return W_MORE;
	}
	w->linelen += (size_t)r;
	w->line[w->linelen] = '\0';
	while (rc == W_MORE && (nl = strchr(w->line, '\n')) != NULL) {
		size_t used = (size_t)(nl - w->line) + 1;

		*nl = '\0';
		rc = paste(w, w->line);
		explicit_bzero(w->line, used);
		memmove(w->line, w->line + used, w->linelen - used + 1);
		w->linelen -= used;
	}
	if (w->linelen == sizeof w->line - 1) {
		explicit_bzero(w->line, sizeof w->line);
		w->linelen = 0;
	}
	return rc;
}

/* poll() over the listener, the terminal and the browser's connections
 * until an answer comes or the deadline passes (W_MORE then). */
static int
wait_answer(struct wait *w, long long deadline)
{
	struct pollfd pf[MAX_CLIENTS + 2];
	struct client *who[MAX_CLIENTS + 2];
	long long now;
	int i, n, rc = W_MORE, ms;

	while (rc == W_MORE && (now = net_now_ms()) < deadline) {
		n = 0;
		pf[n].fd = w->lfd;
		pf[n].events = POLLIN;
		who[n++] = NULL;
		if (w->tty) {
			pf[n].fd = 0;
			pf[n].events = POLLIN;
			who[n++] = NULL;
		}
		ms = (int)(deadline - now);
		for (i = 0; i < MAX_CLIENTS; i++) {
			struct client *c = &w->c[i];

			if (c->fd != -1 && c->until <= now)
				client_close(c);
			if (c->fd == -1)
				continue;
			if (c->until - now < ms)
				ms = (int)(c->until - now);
			pf[n].fd = c->fd;
			pf[n].events = POLLIN;
			who[n++] = c;
		}
		if (poll(pf, (nfds_t)n, ms) == -1) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return W_FAIL;
		}
		for (i = 0; i < n && rc == W_MORE; i++) {
			/* An accept may have evicted this one for a new fd. */
			if (pf[i].revents == 0 || (who[i] &&
			    who[i]->fd != pf[i].fd))
				continue;
			if (who[i])
				rc = client_read(w, who[i]);
			else if (pf[i].fd == 0)
				rc = tty_read(w);
			else
				client_accept(w);
		}
	}
	return rc;
}

static int
listen_on(int port)
{
	struct sockaddr_in sa;
	int fd, one = 1, e;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    listen(fd, 16) == -1)
		goto fail;
	return fd;
fail:
	e = errno;
	if (fd != -1)
		close(fd);
	if (e == EADDRINUSE)
		log_err("127.0.0.1:%d is in use (another login still "
		    "waiting?): end it, or pick a free port with "
		    "--oauth-callback-port N", port);
	else
		log_err("cannot listen on 127.0.0.1:%d: %s", port,
		    strerror(e));
	return -1;
}

/* ------------------------------------------------------------ saving */

/* Shell words need quotes when they hold anything unusual. */
static void
print_start(const char *config_path)
{
	char real[PATH_MAX];
	const char *p = config_path;

	if (p == NULL) {
		printf("cli-proxy-api\n");
		return;
	}
	if (realpath(p, real))
		p = real;
	if (p[strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789@%+=:,./_-")] == '\0') {
		printf("cli-proxy-api --config %s\n", p);
		return;
	}
	printf("cli-proxy-api --config '");
	for (; *p; p++)
		if (*p == '\'')
			printf("'\\''");
		else
			putchar(*p);
	printf("'\n");
}

/* The code for tokens, the tokens into the file. 0 or -1 (logged). */
static int
finish(const struct config *cfg, const struct trust *ta,
    const struct login_opts *o, const struct pkce *k, const char *ruri,
    const struct login_answer *a, char **pathp, char **emailp)
{
	const char *prov = login_provider_name[o->provider];
	struct oauth_grant g;
	char err[1024], *email = NULL, *acct = NULL, *plan = NULL;
	int rc = -1;

	if (oauth_exchange(cfg, ta, prov, a->code, k->verifier, k->state,
	    ruri, &g, err, sizeof err) != OAUTH_OK) {
		log_err("login failed, nothing saved: %s", err);
		return -1;
	}
	if (o->provider == LOGIN_CODEX) {
		if (login_codex_claims(g.id_token, &email, &acct, &plan, err,
		    sizeof err) == -1) {
			log_err("login failed, nothing saved: token endpoint "
			    "%s: %s", cfg->codex_token_url.host, err);
			goto out;
		}
	} else if (g.email == NULL || (email = strdup(g.email)) == NULL) {
		log_err("login failed, nothing saved: token endpoint %s: "
		    "the answer has no account.email_address",
		    cfg->claude_token_url.host);
		goto out;
	}
	if (!login_email_ok(email)) {
		log_err("login failed, nothing saved: the account's email is "
		    "not usable in a file name (a '/', a leading '.' or "
		    "control characters)");
		goto out;
	}
	if (g.refresh_token == NULL)
		log_warn("the token endpoint sent no refresh token: this "
		    "login lasts until the access token expires");
	if (login_save(cfg, o->provider, &g, email, acct, pathp) == -1)
		goto out;
	*emailp = email;
	email = NULL;
	rc = 0;
out:
	oauth_grant_free(&g);
	free(email);
	free(acct);
	free(plan);
	return rc;
}

/* ------------------------------------------------------------ the flow */

static int
timeout_seconds(void)
{
	const char *s = getenv(LOGIN_TIMEOUT_ENV);
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return LOGIN_TIMEOUT;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 86400) {
		log_warn("%s=%s is not a number of seconds (1 to 86400): "
		    "waiting %d", LOGIN_TIMEOUT_ENV, s, LOGIN_TIMEOUT);
		return LOGIN_TIMEOUT;
	}
	return (int)v;
}

/* stdin is a terminal we may read: in the background, reading our
 * controlling terminal would stop us (SIGTTIN). */
static int
tty_foreground(void)
{
	pid_t pg;

	if (!isatty(0))
		return 0;
	pg = tcgetpgrp(0);
	return pg == -1 || pg == getpgrp();
}

static void
say_timeout(const struct login_opts *o, int secs, int port)
{
	char span[32];

	if (secs % 60 == 0)
		snprintf(span, sizeof span, "%d minute%s", secs / 60,
		    secs == 60 ? "" : "s");
	else
		snprintf(span, sizeof span, "%d second%s", secs,
		    secs == 1 ? "" : "s");
	log_err("no answer from the browser within %s: nothing saved. Run "
	    "cli-proxy-api --%s-login again and finish the login in the "
	    "browser; on a remote machine paste the address the browser "
	    "ends up on, or forward the port first (ssh -L %d:127.0.0.1:%d "
	    "HOST)", span, login_provider_name[o->provider], port, port);
}

static void
say_url(const struct login_opts *o, const char *url, const char *ruri,
    int browser, int secs)
{
	printf("Log in to %s in a browser:\n\n  %s\n\n",
	    provider_title[o->provider], url);
	printf("%saiting up to %d:%02d for the browser to come back to\n"
	    "%s\n", browser ? "Opening your browser. W" : "W", secs / 60,
	    secs % 60, ruri);
	fflush(stdout);
}

static void
say_paste(void)
{
	printf("\nOn a remote machine without an SSH tunnel the browser's last "
	    "page does not load;\nthat is expected: copy the address from "
	    "its address bar.\n...or paste the URL your browser was sent "
	    "to (or the code) here: ");
	fflush(stdout);
}

int
login_run(const struct config *cfg, const struct login_opts *o)
{
	const struct url *auth = o->provider == LOGIN_CODEX ?
	    &cfg->codex_auth_url : &cfg->claude_auth_url;
	struct trust ta = { 0 };
	struct pkce k;
	struct wait w;
	char ruri[128], err[1024], *url = NULL, *path = NULL, *email = NULL;
	int port = o->port ? o->port : login_default_port(o->provider);
	int browser, secs = timeout_seconds(), rc = EXIT_LOGIN, i, got;

	memset(&w, 0, sizeof w);
	w.lfd = w.answer_fd = -1;
	for (i = 0; i < MAX_CLIENTS; i++)
		w.c[i].fd = -1;
	/* A broken ca-file fails now, not after the user logged in. */
	/* No cache here: a login that fails leaves auth-dir as it was. */
	if (trust_load(&ta, cfg->ca_file, err, sizeof err) == -1) {
		log_err("%s", err);
		return EXIT_TLS;
	}
	if (pkce_new(&k) == -1) {
		log_err("getrandom: %s", strerror(errno));
		trust_free(&ta);
		return EXIT_SYS;
	}
	w.p = o->provider;
	w.state = k.state;
	login_redirect_uri(o->provider, port, ruri, sizeof ruri);
	if ((url = login_auth_url(o->provider, auth, ruri, k.challenge,
	    k.state)) == NULL) {
		log_err("out of memory");
		rc = EXIT_SYS;
		goto out;
	}
	if ((w.lfd = listen_on(port)) == -1) {
		rc = EXIT_SYS;
		goto out;
	}
	browser = !o->no_browser && have_display();
	say_url(o, url, ruri, browser, secs);
	if (browser)
		open_browser(url);
	if ((w.tty = tty_foreground()))
		say_paste();
	got = wait_answer(&w, net_now_ms() + secs * 1000LL);
	close(w.lfd);
	w.lfd = -1;
	if (w.tty && !w.pasted)
		printf("\n");      /* the prompt line is still open */
	fflush(stdout);
	if (got == W_MORE)
		say_timeout(o, secs, port);
	if (got != W_GOT)
		goto out;
	if (finish(cfg, &ta, o, &k, ruri, &w.a, &path, &email) == -1) {
		page(w.answer_fd, 502, "Login failed", "The code could not "
		    "be exchanged or saved; the terminal says why. Nothing "
		    "was saved.");
		goto out;
	}
	{
		struct buf m = { 0 };

		if (buf_addf(&m, "Logged in as %s. You can close this tab and "
		    "start the proxy.", email) == 0)
			page(w.answer_fd, 200, "Logged in", m.p);
		buf_free(&m);
	}
	printf("saved %s; start the proxy with: ", path);
	print_start(o->config_path);
	fflush(stdout);
	rc = EXIT_OK;
out:
	if (w.answer_fd != -1) {
		shutdown(w.answer_fd, SHUT_WR);
		close(w.answer_fd);
	}
	for (i = 0; i < MAX_CLIENTS; i++)
		client_close(&w.c[i]);
	if (w.lfd != -1)
		close(w.lfd);
	login_answer_free(&w.a);
	explicit_bzero(w.line, sizeof w.line);
	explicit_bzero(&k, sizeof k);
	free(url);
	free(path);
	free(email);
	trust_free(&ta);
	return rc;
}
