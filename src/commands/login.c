/*
 * The OAuth logins, as the providers' own CLIs do them: an authorize URL
 * with a PKCE S256 challenge, the redirect caught on 127.0.0.1 (or pasted
 * on the terminal by someone logged in over SSH), the code exchanged for
 * tokens and the token file written atomically. The verifier, the code,
 * the state and the tokens never reach the terminal or the log: only the
 * URL does, and it carries nothing but the challenge.
 *
 * This file is the flow; login_redirect.c builds the URL and parses what
 * comes back, login_wait.c and login_callback.c wait for it (terminal and
 * browser), login_save.c writes the token file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands/login.h"
#include "commands/login_int.h"
#include "network/net.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/log.h"
#include "support/pkce.h"

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

/* ------------------------------------------------------------ tokens */

/* The account the grant is for: Codex names it in the id_token, Claude in
 * the answer. 0 with *email and *acct (Codex only) malloc'd, or -1
 * (logged). */
static int
account(const struct config *cfg, const struct login_opts *o,
    const struct oauth_grant *g, char **email, char **acct)
{
	char err[1024], *plan = NULL;
	int rc = -1;

	if (o->provider == LOGIN_CODEX) {
		if (login_codex_claims(g->id_token, email, acct, &plan, err,
		    sizeof err) == -1) {
			log_err("login failed, nothing saved: token endpoint "
			    "%s: %s", cfg->codex_token_url.host, err);
			goto out;
		}
	} else if (g->email == NULL || (*email = strdup(g->email)) == NULL) {
		log_err("login failed, nothing saved: token endpoint %s: "
		    "the answer has no account.email_address",
		    cfg->claude_token_url.host);
		goto out;
	}
	rc = 0;
out:
	free(plan);
	return rc;
}

/* The code for tokens, the tokens into the file. The code works once:
 * the file's room in auth-dir is taken before it is exchanged. 0 or -1
 * (logged). */
static int
finish(const struct config *cfg, const struct trust *ta,
    const struct login_opts *o, const struct pkce *k, const char *ruri,
    const struct login_answer *a, char **pathp, char **emailp)
{
	struct oauth_grant g;
	struct file_room room = { -1, "" };
	char err[1024], *email = NULL, *acct = NULL;
	int rc = -1;

	memset(&g, 0, sizeof g);
	if (login_room(cfg, o->provider, &room) == -1)
		goto out;
	/* g is cleared first, whatever the outcome. */
	if (oauth_exchange(cfg, ta, login_provider_name[o->provider], a->code,
	    k->verifier, k->state, ruri, &g, err, sizeof err) != OAUTH_OK) {
		log_err("login failed, nothing saved: %s", err);
		goto out;
	}
	if (account(cfg, o, &g, &email, &acct) == -1)
		goto out;
	if (!login_email_ok(email)) {
		log_err("login failed, nothing saved: the account's email is "
		    "not usable in a file name (a '/', a leading '.' or "
		    "control characters)");
		goto out;
	}
	if (g.refresh_token == NULL)
		log_warn("the token endpoint sent no refresh token: this "
		    "login lasts until the access token expires");
	if (login_save(cfg, o->provider, &g, email, acct, &room, pathp) == -1)
		goto out;
	*emailp = email;
	email = NULL;
	rc = 0;
out:
	file_unreserve(&room);
	oauth_grant_free(&g);
	free(email);
	free(acct);
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
	printf("\nOn a remote machine without an SSH tunnel the browser's "
	    "last page does not load;\nthat is expected: copy the address "
	    "from its address bar.\n...or paste the URL your browser was "
	    "sent to (or the code) here: ");
	fflush(stdout);
}

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

/* The URL on the terminal, in the browser when there is a display, and
 * the prompt for a paste when the terminal is ours to read. */
static void
announce(const struct login_opts *o, const char *url, const char *ruri,
    int secs, struct login_wait *w)
{
	int browser = !o->no_browser && have_display();

	say_url(o, url, ruri, browser, secs);
	if (browser)
		open_browser(url);
	if ((w->tty = tty_foreground()))
		say_paste();
}

/* The wait, then the callback port closes: a late browser finds nothing
 * there. LOGIN_GOT, or the wait's failure (the timeout said). */
static int
await_answer(struct login_wait *w, const struct login_opts *o, int secs,
    int port)
{
	int got = login_wait_answer(w, net_now_ms() + secs * 1000LL);

	close(w->lfd);
	w->lfd = -1;
	if (w->tty && !w->pasted)
		printf("\n");      /* the prompt line is still open */
	fflush(stdout);
	if (got == LOGIN_MORE)
		say_timeout(o, secs, port);
	return got;
}

/* The answer turned into the token file; the browser, when it brought
 * the answer, is told how that went. 0 or -1 (logged). */
static int
conclude(const struct config *cfg, const struct trust *ta,
    const struct login_opts *o, const struct pkce *k, const char *ruri,
    struct login_wait *w)
{
	struct buf m = { 0 };
	char *path = NULL, *email = NULL;
	int rc = -1;

	if (finish(cfg, ta, o, k, ruri, &w->a, &path, &email) == -1) {
		login_page(w->answer_fd, 502, "Login failed", "The code could "
		    "not be exchanged or saved; the terminal says why. "
		    "Nothing was saved.");
		goto out;
	}
	if (buf_addf(&m, "Logged in as %s. You can close this tab and start "
	    "the proxy.", email) == 0)
		login_page(w->answer_fd, 200, "Logged in", m.p);
	printf("saved %s; start the proxy with: ", path);
	print_start(o->config_path);
	fflush(stdout);
	rc = 0;
out:
	buf_free(&m);
	free(path);
	free(email);
	return rc;
}

int
login_run(const struct config *cfg, const struct login_opts *o)
{
	const struct url *auth = o->provider == LOGIN_CODEX ?
	    &cfg->codex_auth_url : &cfg->claude_auth_url;
	struct trust ta = { 0 };
	struct pkce k;
	struct login_wait w;
	char ruri[128], err[1024], *url = NULL;
	int port = o->port ? o->port : login_default_port(o->provider);
	int secs = timeout_seconds(), rc = EXIT_SYS;

	login_wait_init(&w, o->provider);
	/* A broken ca-file fails now, not after the user logged in. */
	/* No cache here: a login that fails leaves auth-dir as it was. */
	if (trust_load(&ta, cfg->ca_file, err, sizeof err) == -1) {
		log_err("%s", err);
		rc = EXIT_TLS;
		goto out;
	}
	if (pkce_new(&k) == -1) {
		log_err("getrandom: %s", strerror(errno));
		goto out;
	}
	w.state = k.state;
	login_redirect_uri(o->provider, port, ruri, sizeof ruri);
	if ((url = login_auth_url(o->provider, auth, ruri, k.challenge,
	    k.state)) == NULL) {
		log_err("out of memory");
		goto out;
	}
	if ((w.lfd = login_listen(port)) == -1)
		goto out;
	announce(o, url, ruri, secs, &w);
	rc = EXIT_LOGIN;
	if (await_answer(&w, o, secs, port) == LOGIN_GOT &&
	    conclude(cfg, &ta, o, &k, ruri, &w) == 0)
		rc = EXIT_OK;
out:
	login_wait_free(&w);
	explicit_bzero(&k, sizeof k);
	free(url);
	trust_free(&ta);
	return rc;
}
