/*
 * The login's HTTP server on 127.0.0.1: where the browser lands after the
 * provider's consent page. It serves one path and GET only, takes the
 * code and state from the query, and answers each request with a short
 * page; the connection that brought a good answer is kept open until the
 * tokens are saved, so the page can say how that went. Anyone on this
 * machine can reach the port: what comes in is checked, and the pages
 * hold fixed text (and the account's email) only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "commands/login_int.h"
#include "network/net.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/log.h"

#define CLIENT_MS 10000         /* a connection that says nothing */

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

void
login_page(int fd, int status, const char *title, const char *msg)
{
	struct buf body = { 0 }, r = { 0 };
	const char *reason = status == 200 ? "OK" : status == 400 ?
	    "Bad Request" : status == 404 ? "Not Found" : status == 405 ?
	    "Method Not Allowed" : status == 502 ? "Bad Gateway" :
	    "Forbidden";

	if (fd == -1)
		return;
	buf_adds(&body, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>cli-proxy-api</title></head>\n<body style=\"font-family:"
	    "sans-serif;max-width:40em;margin:4em auto\">\n<h1>");
	html_escape(&body, title);
	buf_adds(&body, "</h1>\n<p>");
	html_escape(&body, msg);
	buf_adds(&body, "</p>\n</body></html>\n");
	if (body.p && buf_addf(&r, "HTTP/1.1 %d %s\r\nContent-Type: "
	    "text/html; charset=utf-8\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n", status,
	    reason, body.len) == 0 &&
	    buf_add(&r, body.p, body.len) == 0)
		(void)file_write_all(fd, r.p, r.len);
	buf_free(&body);
	buf_free(&r);
}

void
login_client_close(struct login_client *c)
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

int
login_judge(struct login_wait *w, int fd)
{
	/*
	 * Any process here, and any web page open in the browser (an <img>
	 * on the callback URL), can send a callback: one that is not this
	 * login's must not end it. The state is checked before the error.
	 */
	if (login_check_state(&w->a, w->state) == -1) {
		login_answer_free(&w->a);
		login_page(fd, 403, "Not this login", "This answer does not "
		    "carry the state of the login that is waiting (an old tab, "
		    "or a request from another page): it was ignored. Finish "
		    "the login at the newest URL the terminal shows.");
		return LOGIN_MORE;
	}
	if (w->a.error) {
		log_err("the provider refused the login: %s; run the login "
		    "again", printable(w->a.error));
		login_page(fd, 403, "Login refused", "The provider refused "
		    "the login. Nothing was saved; run the login again.");
		return LOGIN_FAIL;
	}
	return LOGIN_GOT;
}

static int
request(struct login_wait *w, struct login_client *c)
{
	char *line = c->buf, *sp, *target, *q;
	size_t pl;
	int rc;

	line[strcspn(line, "\r\n")] = '\0';
	if ((sp = strchr(line, ' ')) == NULL) {
		login_page(c->fd, 400, "Bad request", "Not an HTTP request.");
		return LOGIN_MORE;
	}
	*sp = '\0';
	target = sp + 1;
	target[strcspn(target, " ")] = '\0';
	if (strcmp(line, "GET") != 0) {
		login_page(c->fd, 405, "Method not allowed", "Only GET is "
		    "served.");
		return LOGIN_MORE;
	}
	q = strchr(target, '?');
	pl = q ? (size_t)(q - target) : strlen(target);
	if (pl != strlen(login_callback_path(w->p)) ||
	    strncmp(target, login_callback_path(w->p), pl) != 0) {
		login_page(c->fd, 404, "Not found", "This is cli-proxy-api's "
		    "login callback; nothing else is here.");
		return LOGIN_MORE;
	}
	login_answer_free(&w->a);
	if (login_parse_query(q ? q + 1 : "", &w->a) == -1 ||
	    (w->a.code == NULL && w->a.error == NULL)) {
		login_answer_free(&w->a);
		login_page(c->fd, 400, "No code", "This request carries no "
		    "authorization code; the login is still waiting.");
		return LOGIN_MORE;
	}
	if ((rc = login_judge(w, c->fd)) == LOGIN_GOT) {
		/* Answered once the tokens are saved. */
		w->answer_fd = c->fd;
		c->fd = -1;
	}
	return rc;
}

int
login_client_read(struct login_wait *w, struct login_client *c)
{
	ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len);
	int rc;

	if (r == -1 && errno == EINTR)
		return LOGIN_MORE;
	if (r <= 0) {
		login_client_close(c);
		return LOGIN_MORE;
	}
	c->len += (size_t)r;
	c->buf[c->len] = '\0';
	if (strstr(c->buf, "\r\n\r\n") == NULL && strstr(c->buf, "\n\n") ==
	    NULL) {
		if (c->len == sizeof c->buf - 1) {
			login_page(c->fd, 400, "Bad request", "Request too "
			    "large.");
			login_client_close(c);
		}
		return LOGIN_MORE;
	}
	rc = request(w, c);
	login_client_close(c);
	return rc;
}

void
login_client_accept(struct login_wait *w)
{
	struct login_client *c = NULL;
	int fd, i;

	if ((fd = accept4(w->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1)
		return;
	for (i = 0; i < LOGIN_CLIENTS && c == NULL; i++)
		if (w->c[i].fd == -1)
			c = &w->c[i];
	/* Full of idle spare connections: the one accepted first goes. By
	 * accept order, not by time: a burst comes within a millisecond. */
	if (c == NULL)
		for (c = &w->c[0], i = 1; i < LOGIN_CLIENTS; i++)
			if (w->c[i].seq < c->seq)
				c = &w->c[i];
	login_client_close(c);
	c->fd = fd;
	c->until = net_now_ms() + CLIENT_MS;
	c->seq = w->accepts++;
}

int
login_listen(int port)
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
