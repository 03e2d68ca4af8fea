/*
 * proxy_parse on a table of URLs, and proxy_connect against scripted fake
 * proxies: a forked child listening on 127.0.0.1 checks every byte the
 * client sends and answers as an HTTP CONNECT or SOCKS5 proxy would.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "network/net.h"
#include "network/tunnel.h"
#include "parsers/proxyurl.h"
#include "unit.h"

/* ---------------------------------------------------------------- parse */

struct pcase {
	const char *name;
	const char *in;
	int ok;
	enum proxy_kind kind;
	const char *host, *port, *user, *pass;
	const char *errsub;	/* error must contain this */
};

static const struct pcase pcases[] = {
	{ "empty is direct", "", 1, PROXY_NONE, NULL, NULL, NULL, NULL, NULL },
	{ "http default port", "http://proxy.example", 1, PROXY_HTTP,
	  "proxy.example", "80", NULL, NULL, NULL },
	{ "http port and slash", "http://10.0.0.1:3128/", 1, PROXY_HTTP,
	  "10.0.0.1", "3128", NULL, NULL, NULL },
	{ "scheme case-insensitive", "HTTP://p:8080", 1, PROXY_HTTP,
	  "p", "8080", NULL, NULL, NULL },
	{ "socks5 default port", "socks5://127.0.0.1", 1, PROXY_SOCKS5,
	  "127.0.0.1", "1080", NULL, NULL, NULL },
	{ "socks5h", "SOCKS5H://gw.local:9050", 1, PROXY_SOCKS5H,
	  "gw.local", "9050", NULL, NULL, NULL },
	{ "userinfo", "http://u:p@h:1", 1, PROXY_HTTP, "h", "1", "u", "p",
	  NULL },
	{ "userinfo %40 decoded", "http://me%40corp:s%2Fx%25@h:3128", 1,
	  PROXY_HTTP, "h", "3128", "me@corp", "s/x%", NULL },
	{ "user without password", "socks5://bob@h", 1, PROXY_SOCKS5, "h",
	  "1080", "bob", "", NULL },
	{ "unescaped @ in password", "http://u:p@ss@h:8", 1, PROXY_HTTP,
	  "h", "8", "u", "p@ss", NULL },
	{ "empty password", "http://u:@h", 1, PROXY_HTTP, "h", "80", "u", "",
	  NULL },
	{ "ipv6", "http://[::1]:3128", 1, PROXY_HTTP, "::1", "3128", NULL,
	  NULL, NULL },
	{ "ipv6 default port", "socks5h://u:pw@[2001:db8::7]", 1,
	  PROXY_SOCKS5H, "2001:db8::7", "1080", "u", "pw", NULL },
	{ "port 65535", "http://h:65535", 1, PROXY_HTTP, "h", "65535", NULL,
	  NULL, NULL },

	{ "https refused", "https://h:443", 0, 0, 0, 0, 0, 0,
	  "https:// proxies are not supported" },
	{ "unknown scheme", "socks4://h:1080", 0, 0, 0, 0, 0, 0,
	  "scheme must be" },
	{ "no scheme", "proxy.example:3128", 0, 0, 0, 0, 0, 0,
	  "must look like" },
	{ "port 0", "http://h:0", 0, 0, 0, 0, 0, 0, "port" },
	{ "port 65536", "http://h:65536", 0, 0, 0, 0, 0, 0, "port" },
	{ "port letters", "http://h:80a", 0, 0, 0, 0, 0, 0, "port" },
	{ "port empty", "http://h:", 0, 0, 0, 0, 0, 0, "port" },
	{ "no host", "http://:3128", 0, 0, 0, 0, 0, 0, "no host" },
	{ "no host at all", "socks5://", 0, 0, 0, 0, 0, 0, "no host" },
	{ "bad host", "http://ho st:1", 0, 0, 0, 0, 0, 0, "host" },
	{ "bad ipv6", "http://[::g]:1", 0, 0, 0, 0, 0, 0, "IPv6" },
	{ "ipv6 unclosed", "http://[::1:1", 0, 0, 0, 0, 0, 0, "IPv6" },
	{ "path", "http://h:1/x", 0, 0, 0, 0, 0, 0, "path" },
	{ "query", "http://h:1?x=1", 0, 0, 0, 0, 0, 0, "query" },
	{ "empty user", "http://:s3cret@h", 0, 0, 0, 0, 0, 0, "user" },
	{ "bad escape in password", "http://u:s3cret%zz@h", 0, 0, 0, 0, 0, 0,
	  "password" },
	{ "truncated escape", "http://u:s3cret%4@h", 0, 0, 0, 0, 0, 0,
	  "password" },
	{ "NUL escape", "http://u:s3cret%00@h", 0, 0, 0, 0, 0, 0,
	  "password" },
	{ "colon in http user", "http://a%3Ab:s3cret@h", 0, 0, 0, 0, 0, 0,
	  "':'" },
	{ "password with bad port", "http://u:s3cret@h:99999", 0, 0, 0, 0, 0,
	  0, "port" },
	{ "password with https", "https://u:s3cret@h", 0, 0, 0, 0, 0, 0,
	  "https" },
};

static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void
test_parse(void)
{
	char name[160], err[256];
	size_t i;

	for (i = 0; i < sizeof pcases / sizeof pcases[0]; i++) {
		const struct pcase *t = &pcases[i];
		struct proxy p;
		int r;

		memset(err, 0, sizeof err);
		r = proxy_parse(t->in, &p, err, sizeof err);
		snprintf(name, sizeof name, "parse %s", t->name);
		if (!t->ok) {
			CHECK(name, r == -1 && strstr(err, t->errsub) != NULL &&
			    strstr(err, "s3cret") == NULL && p.host == NULL &&
			    p.user == NULL && p.pass == NULL);
			if (r == -1 && strstr(err, t->errsub) == NULL)
				printf("# error was: %s\n", err);
			continue;
		}
		CHECK(name, r == 0 && p.kind == t->kind && same(p.host, t->host) &&
		    same(p.port, t->port) && same(p.user, t->user) &&
		    same(p.pass, t->pass));
		if (r == -1)
			printf("# error was: %s\n", err);
		proxy_free(&p);
	}
}

static void
test_socks_long_credentials(void)
{
	char url[700], err[256];
	struct proxy p;
	int r;

	/* 256 bytes of user name cannot go in RFC 1929's length byte. */
	snprintf(url, sizeof url, "socks5://%0256d:s3cret@h", 0);
	r = proxy_parse(url, &p, err, sizeof err);
	CHECK("parse socks5 user over 255 bytes refused", r == -1 &&
	    strstr(err, "255") != NULL && strstr(err, "s3cret") == NULL);
	snprintf(url, sizeof url, "http://%0256d:s3cret@h", 0);
	r = proxy_parse(url, &p, err, sizeof err);
	CHECK("parse http long user accepted", r == 0 && p.user != NULL &&
	    strlen(p.user) == 256);
	proxy_free(&p);
	CHECK("proxy_free clears", p.user == NULL && p.pass == NULL &&
	    p.host == NULL && p.kind == PROXY_NONE);
}

/* ---------------------------------------------------------------- fakes */

/* One step of a fake proxy: read exactly elen bytes and compare them with
 * expect, wait delay_ms, then write reply. */
struct step {
	const char *expect;
	size_t elen;
	const char *reply;
	size_t rlen;
	int delay_ms;
};

#define S(s)	(s), sizeof(s) - 1
#define END	{ NULL, 0, NULL, 0, 0 }
#define HANGUP	{ NULL, 0, NULL, 0, -1 }	/* send FIN */

struct fake {
	pid_t pid;
	char port[8];
};

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
read_exact(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* The child: accept one connection, play the steps, then wait for the
 * client to close. Exit 0 when every byte was as expected, 10 + the step
 * index at the first difference. */
static void
fake_child(int ls, const struct step *steps)
{
	char got[1024];
	int fd, i;

	alarm(10);
	if ((fd = accept(ls, NULL, NULL)) == -1)
		_exit(2);
	for (i = 0; steps[i].expect != NULL || steps[i].reply != NULL ||
	    steps[i].delay_ms < 0; i++) {
		const struct step *s = &steps[i];

		if (s->delay_ms < 0) {
			shutdown(fd, SHUT_WR);
			continue;
		}
		if (s->elen > sizeof got || read_exact(fd, got, s->elen) == -1 ||
		    (s->elen > 0 && memcmp(got, s->expect, s->elen) != 0)) {
			fprintf(stderr, "# fake: step %d: got \"%.*s\"\n", i,
			    (int)s->elen, got);
			_exit(10 + i);
		}
		if (s->delay_ms)
			sleep_ms(s->delay_ms);
		if (s->rlen && write(fd, s->reply, s->rlen) != (ssize_t)s->rlen)
			_exit(3);
	}
	/* Anything more from the client is a protocol error; a reset (it
	 * closed with our answer unread) is not. */
	if (read(fd, got, sizeof got) > 0)
		_exit(4);
	_exit(0);
}

static int
fake_start(struct fake *f, const struct step *steps)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof sin;
	int ls;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(ls, 4) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	snprintf(f->port, sizeof f->port, "%u", ntohs(sin.sin_port));
	fflush(stdout);
	if ((f->pid = fork()) == -1)
		return -1;
	if (f->pid == 0)
		fake_child(ls, steps);
	close(ls);
	return 0;
}

/* The child's exit status: 0 when it saw what it expected. */
static int
fake_end(struct fake *f)
{
	int st;

	if (waitpid(f->pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

/* After a successful handshake: the bytes the fake sent right behind its
 * answer must still be there, the socket blocking with TCP_NODELAY. */
static int
tunnel_ok(int fd)
{
	struct pollfd pfd = { fd, POLLIN, 0 };
	char b[16];
	int one = 0;
	socklen_t len = sizeof one;

	if ((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0)
		return 0;
	if (getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &len) == -1 || !one)
		return 0;
	if (poll(&pfd, 1, 3000) != 1 || read_exact(fd, b, 7) == -1)
		return 0;
	return memcmp(b, "TLSDATA", 7) == 0;
}

struct ccase {
	const char *name;
	const char *url;	/* "PORT" is the fake's port */
	const char *host, *port;
	struct step steps[5];
	int ok;
	const char *errsub;	/* with "PROXY" standing for 127.0.0.1:port */
	const char *errsub2;
};

static const struct ccase ccases[] = {
	{ "http CONNECT 200", "http://127.0.0.1:PORT", "api.example.com", "443",
	  { { S("CONNECT api.example.com:443 HTTP/1.1\r\n"
		"Host: api.example.com:443\r\n\r\n"),
	      S("HTTP/1.1 200 Connection established\r\n"
		"Proxy-Agent: fake\r\n\r\nTLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "http CONNECT with Basic", "http://a%20b:p%3Aw@127.0.0.1:PORT/",
	  "api.example.com", "8443",
	  { { S("CONNECT api.example.com:8443 HTTP/1.1\r\n"
		"Host: api.example.com:8443\r\n"
		"Proxy-Authorization: Basic YSBiOnA6dw==\r\n\r\n"),
	      S("HTTP/1.0 200 OK\r\n\r\nTLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "http CONNECT user only", "http://me%40corp@127.0.0.1:PORT",
	  "h", "443",
	  { { S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n"
		"Proxy-Authorization: Basic bWVAY29ycDo=\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\n\r\nTLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "http CONNECT ipv6 target", "http://127.0.0.1:PORT", "2001:db8::1",
	  "443",
	  { { S("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
		"Host: [2001:db8::1]:443\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\n\r\nTLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "http answer split across reads", "http://127.0.0.1:PORT", "h", "1",
	  { { S("CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\nX: y\r\n\r"), 0 },
	    { NULL, 0, S("\nTLSDATA"), 150 }, END },
	  1, NULL, NULL },
	{ "http bare LF answer", "http://127.0.0.1:PORT", "h", "1",
	  { { S("CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\n\r\n"),
	      S("HTTP/1.1 200 OK\nX: y\n\nTLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "http 407", "http://u:s3cret@127.0.0.1:PORT", "api.example.com",
	  "443",
	  { { S("CONNECT api.example.com:443 HTTP/1.1\r\n"
		"Host: api.example.com:443\r\n"
		"Proxy-Authorization: Basic dTpzM2NyZXQ=\r\n\r\n"),
	      S("HTTP/1.1 407 Proxy Authentication Required\r\n"
		"Proxy-Authenticate: Basic realm=\"x\"\r\n"
		"Content-Length: 0\r\n\r\n"), 0 }, END },
	  0, "proxy PROXY refused CONNECT to api.example.com:443: "
	  "407 Proxy Authentication Required", NULL },
	{ "http 403", "http://127.0.0.1:PORT", "h", "443",
	  { { S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
	      S("HTTP/1.1 403 Forbidden\r\n\r\n"), 0 }, END },
	  0, "proxy PROXY refused CONNECT to h:443: 403 Forbidden", NULL },
	{ "http not HTTP", "http://127.0.0.1:PORT", "h", "443",
	  { { S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
	      S("SSH-2.0-OpenSSH\r\n\r\n"), 0 }, END },
	  0, "proxy PROXY gave no HTTP answer", NULL },
	{ "http closes early", "http://127.0.0.1:PORT", "h", "443",
	  { { S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
	      S("HTTP/1.1 200 OK\r\n"), 0 }, HANGUP, END },
	  0, "proxy PROXY closed the connection", NULL },

	{ "socks5h name", "socks5h://127.0.0.1:PORT", "api.example.com", "443",
	  { { S("\x05\x01\x00"), S("\x05\x00"), 0 },
	    { S("\x05\x01\x00\x03\x0f" "api.example.com\x01\xbb"),
	      S("\x05\x00\x00\x03\x04" "bndx\x12\x34TLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "socks5 ipv4 literal", "socks5://127.0.0.1:PORT", "10.1.2.3", "8443",
	  { { S("\x05\x01\x00"), S("\x05\x00"), 0 },
	    { S("\x05\x01\x00\x01\x0a\x01\x02\x03\x20\xfb"),
	      S("\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x50"), 0 },
	    { NULL, 0, S("TLSDATA"), 50 }, END },
	  1, NULL, NULL },
	{ "socks5h ipv6 literal", "socks5h://127.0.0.1:PORT", "::1", "443",
	  { { S("\x05\x01\x00"), S("\x05\x00"), 0 },
	    { S("\x05\x01\x00\x04" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
		"\x01\xbb"),
	      S("\x05\x00\x00\x04" "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\x01"
		"\x01\xbbTLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "socks5 user/pass", "socks5h://bob:pa%3Ass@127.0.0.1:PORT", "h", "443",
	  { { S("\x05\x02\x00\x02"), S("\x05\x02"), 0 },
	    { S("\x01\x03" "bob" "\x05" "pa:ss"), S("\x01\x00"), 0 },
	    { S("\x05\x01\x00\x03\x01h\x01\xbb"),
	      S("\x05\x00\x00\x01\0\0\0\0\0\0TLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "socks5 creds but no auth chosen", "socks5h://bob:x@127.0.0.1:PORT",
	  "h", "443",
	  { { S("\x05\x02\x00\x02"), S("\x05\x00"), 0 },
	    { S("\x05\x01\x00\x03\x01h\x01\xbb"),
	      S("\x05\x00\x00\x01\0\0\0\0\0\0TLSDATA"), 0 }, END },
	  1, NULL, NULL },
	{ "socks5 wrong password", "socks5h://bob:s3cret@127.0.0.1:PORT", "h",
	  "443",
	  { { S("\x05\x02\x00\x02"), S("\x05\x02"), 0 },
	    { S("\x01\x03" "bob" "\x06" "s3cret"), S("\x01\x01"), 0 }, END },
	  0, "proxy PROXY refused the user name and password", NULL },
	{ "socks5 no acceptable method", "socks5h://127.0.0.1:PORT", "h", "443",
	  { { S("\x05\x01\x00"), S("\x05\xff"), 0 }, END },
	  0, "proxy PROXY accepts none of our authentication methods", NULL },
	{ "socks5 connection refused", "socks5h://127.0.0.1:PORT", "h", "443",
	  { { S("\x05\x01\x00"), S("\x05\x00"), 0 },
	    { S("\x05\x01\x00\x03\x01h\x01\xbb"),
	      S("\x05\x05\x00\x01\0\0\0\0\0\0"), 0 }, END },
	  0, "proxy PROXY refused CONNECT to h:443: connection refused", NULL },
	{ "socks5 ruleset", "socks5h://127.0.0.1:PORT", "h", "443",
	  { { S("\x05\x01\x00"), S("\x05\x00"), 0 },
	    { S("\x05\x01\x00\x03\x01h\x01\xbb"),
	      S("\x05\x02\x00\x01\0\0\0\0\0\0"), 0 }, END },
	  0, "connection not allowed by ruleset", "proxy PROXY" },
	{ "socks5 not socks", "socks5h://127.0.0.1:PORT", "h", "443",
	  { { S("\x05\x01\x00"), S("HT"), 0 }, END },
	  0, "proxy PROXY is not a SOCKS5 proxy", NULL },
};

/* pat with its first word replaced by repl. */
static void
expand(char *out, size_t len, const char *pat, const char *word,
    const char *repl)
{
	const char *p;

	if ((p = strstr(pat, word)) == NULL) {
		snprintf(out, len, "%s", pat);
		return;
	}
	snprintf(out, len, "%.*s%s%s", (int)(p - pat), pat, repl,
	    p + strlen(word));
}

static void
test_connect_cases(void)
{
	char name[160], url[200], err[512], want[300], want2[300], pname[40];
	size_t i;

	for (i = 0; i < sizeof ccases / sizeof ccases[0]; i++) {
		const struct ccase *t = &ccases[i];
		struct fake f;
		struct proxy p;
		int fd, to = -1, ok, st;

		snprintf(name, sizeof name, "connect %s", t->name);
		if (fake_start(&f, t->steps) == -1) {
			CHECK(name, !"fake proxy started");
			continue;
		}
		snprintf(pname, sizeof pname, "127.0.0.1:%s", f.port);
		expand(url, sizeof url, t->url, "PORT", f.port);
		if (proxy_parse(url, &p, err, sizeof err) == -1) {
			printf("# %s: %s\n", url, err);
			kill(f.pid, SIGKILL);
			fake_end(&f);
			CHECK(name, !"url parsed");
			continue;
		}
		err[0] = '\0';
		fd = proxy_connect(&p, t->host, t->port, 5000, &to, err,
		    sizeof err);
		if (t->ok) {
			ok = fd >= 0 && tunnel_ok(fd);
		} else {
			expand(want, sizeof want, t->errsub, "PROXY", pname);
			expand(want2, sizeof want2, t->errsub2 ? t->errsub2 :
			    "", "PROXY", pname);
			ok = fd == -1 && to == 0 && strstr(err, want) != NULL &&
			    strstr(err, want2) != NULL &&
			    strstr(err, "s3cret") == NULL;
		}
		if (fd >= 0)
			close(fd);
		st = fake_end(&f);
		if (!ok || st != 0)
			printf("# fd %d timed_out %d fake status %d err: %s\n",
			    fd, to, st, err);
		CHECK(name, ok && st == 0);
		proxy_free(&p);
	}
}

/* A proxy that accepts and says nothing: the deadline ends it. */
static void
test_connect_timeout(void)
{
	static const struct step steps[] = {
		{ S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), NULL, 0,
		  0 }, END };
	struct fake f;
	struct proxy p;
	char url[64], err[256];
	long long t0;
	int fd, to = 0;

	if (fake_start(&f, steps) == -1) {
		CHECK("connect timeout", !"fake started");
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%s", f.port);
	proxy_parse(url, &p, err, sizeof err);
	t0 = net_now_ms();
	fd = proxy_connect(&p, "h", "443", 300, &to, err, sizeof err);
	CHECK("connect timeout: fails", fd == -1);
	CHECK("connect timeout: timed_out set", to == 1);
	CHECK("connect timeout: within the deadline",
	    net_now_ms() - t0 < 1500);
	CHECK("connect timeout: names the proxy",
	    strstr(err, "proxy 127.0.0.1:") != NULL &&
	    strstr(err, "timed out") != NULL);
	CHECK("connect timeout: fake saw the request", fake_end(&f) == 0);
	proxy_free(&p);
}

/* A port on 127.0.0.1 with nothing listening (bound, then closed). */
static void
closed_port(char *out, size_t len)
{
	struct sockaddr_in sin;
	socklen_t slen = sizeof sin;
	int ls;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	bind(ls, (struct sockaddr *)&sin, sizeof sin);
	getsockname(ls, (struct sockaddr *)&sin, &slen);
	close(ls);
	snprintf(out, len, "%u", ntohs(sin.sin_port));
}

static void
test_connect_closed_port(void)
{
	struct proxy p;
	char port[8], url[64], want[64], err[256];
	int fd, to = -1;

	closed_port(port, sizeof port);
	snprintf(url, sizeof url, "socks5://127.0.0.1:%s", port);
	snprintf(want, sizeof want, "proxy 127.0.0.1:%s", port);
	proxy_parse(url, &p, err, sizeof err);
	fd = proxy_connect(&p, "api.example.com", "443", 2000, &to, err,
	    sizeof err);
	CHECK("connect closed port: fails, not a timeout", fd == -1 && to == 0);
	CHECK("connect closed port: names the proxy", strstr(err, want) != NULL);
	if (strstr(err, want) == NULL)
		printf("# err: %s\n", err);
	proxy_free(&p);
}

/* An answer head that never ends is cut off at 16 KiB. */
static void
test_connect_head_cap(void)
{
	static char big[17000];
	struct step steps[] = {
		{ S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"), big,
		  sizeof big, 0 }, END };
	struct fake f;
	struct proxy p;
	char url[64], err[256];
	int fd, to = 0;

	memset(big, 'x', sizeof big);
	memcpy(big, "HTTP/1.1 200 OK\r\nX: ", 20);
	if (fake_start(&f, steps) == -1) {
		CHECK("connect head cap", !"fake started");
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%s", f.port);
	proxy_parse(url, &p, err, sizeof err);
	fd = proxy_connect(&p, "h", "443", 5000, &to, err, sizeof err);
	CHECK("connect head cap", fd == -1 && to == 0 &&
	    strstr(err, "over 16384 bytes") != NULL);
	/* The fake may die writing to a closed socket; only reap it. */
	fake_end(&f);
	proxy_free(&p);
}

/* PROXY_NONE is plain net_connect: its message, no proxy named. */
static void
test_direct(void)
{
	struct proxy p;
	char port[8], err[256];
	int fd, to = -1;

	closed_port(port, sizeof port);
	proxy_parse("", &p, err, sizeof err);
	fd = proxy_connect(&p, "127.0.0.1", port, 2000, &to, err, sizeof err);
	CHECK("direct: net_connect's error", fd == -1 && to == 0 &&
	    strstr(err, "cannot connect to 127.0.0.1") != NULL &&
	    strstr(err, "proxy") == NULL);
	proxy_free(&p);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_parse();
	test_socks_long_credentials();
	test_connect_cases();
	test_connect_timeout();
	test_connect_closed_port();
	test_connect_head_cap();
	test_direct();
	return UNIT_END();
}
