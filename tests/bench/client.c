/*
 * bench-client: the one client every benchmark variant is measured with,
 * so its own cost is the same on each side of a comparison. Plain TCP
 * (to the proxy, to nginx) or TLS 1.2 with BearSSL (straight to the fake
 * upstream), certificate verified against the test CA.
 *
 * usage: bench-client MODE [options] VARIANT...
 *   VARIANT   name=tcp:PORT or name=tls:PORT on 127.0.0.1, with optional
 *             ",resume" (TLS: resume the previous session) and
 *             ",unlink=PATH" (delete PATH before each connection)
 *   ka        keep-alive latency: one connection per variant, -n requests
 *             each, variants taken in turn (shuffled each round), µs from
 *             the first byte written to the last byte of the response
 *   conn      new-connection latency: -n connections per variant, in turn;
 *             µs from connect() to the first response byte, and to the last
 *   get       throughput: -n rounds per variant, in turn, each a new
 *             connection fetching a -B byte body; MB/s
 *   conc      -n concurrent connections to one variant, all at once; counts
 *             complete responses
 * options: -C ca.pem (TLS), -n N, -w warmup, -b body file, -B bytes,
 *   -H "Name: value" (repeatable), -s ms between connections, -t timeout s
 * Output: one line per variant and measure: "measure name v1 v2 ...".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "tlsend.h"

#define MAXV 8

struct variant {
	char name[64];
	int tls, port, resume;
	char unlink_path[1024];
	br_ssl_session_parameters sp;
	int have_sp;
	double *a, *b;          /* measures */
	int na, nb;
};

struct cx {
	int fd, tls;
	br_ssl_client_context cc;
	br_x509_minimal_context xc;
	br_sslio_context io;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Incremental response reader. */
enum { R_HEAD, R_CL, R_CSIZE, R_CDATA, R_CCRLF, R_TRAILER, R_EOF };
struct resp {
	int st, status, done, close;
	char head[16384];
	size_t hlen;
	long long left, body;
	char line[64];
	size_t llen;
	char tail[128];         /* the last decoded body bytes */
	size_t tlen;
};

static br_x509_trust_anchor ta;
static const char *extra_headers[16];
static int n_extra;

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void
die(const char *msg)
{
	fprintf(stderr, "bench-client: %s\n", msg);
	exit(111);
}

/* ---------------------------------------------------------- trust anchor */

static void
dn_append(void *ctx, const void *buf, size_t len)
{
	br_x509_trust_anchor *t = ctx;
	unsigned char *p = realloc(t->dn.data, t->dn.len + len);

	if (p == NULL)
		die("out of memory");
	memcpy(p + t->dn.len, buf, len);
	t->dn.data = p;
	t->dn.len += len;
}

static void
load_ca(const char *path)
{
	struct pem_obj *objs;
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	int n = pem_load(path, &objs);

	if (n <= 0)
		die("no CA certificate");
	memset(&ta, 0, sizeof ta);
	br_x509_decoder_init(&dc, dn_append, &ta);
	br_x509_decoder_push(&dc, objs[0].der, objs[0].len);
	if ((pk = br_x509_decoder_get_pkey(&dc)) == NULL ||
	    pk->key_type != BR_KEYTYPE_EC)
		die("the CA certificate has no EC key");
	ta.flags = BR_X509_TA_CA;
	ta.pkey.key_type = BR_KEYTYPE_EC;
	ta.pkey.key.ec.curve = pk->key.ec.curve;
	ta.pkey.key.ec.qlen = pk->key.ec.qlen;
	ta.pkey.key.ec.q = malloc(pk->key.ec.qlen);
	memcpy(ta.pkey.key.ec.q, pk->key.ec.q, pk->key.ec.qlen);
}

/* ---------------------------------------------------------- connections */



static int
tcp_connect(int port, int nonblock)
{
	struct sockaddr_in sin;
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC |
	    (nonblock ? SOCK_NONBLOCK : 0), 0);

	if (fd == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons((unsigned short)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == -1 &&
	    !(nonblock && errno == EINPROGRESS)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
cx_open(struct cx *c, struct variant *v)
{
	if (v->unlink_path[0])
		unlink(v->unlink_path);
	c->tls = v->tls;
	if ((c->fd = tcp_connect(v->port, 0)) == -1)
		return -1;
	if (!c->tls)
		return 0;
	br_ssl_client_init_full(&c->cc, &c->xc, &ta, 1);
	br_ssl_engine_set_versions(&c->cc.eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_buffer(&c->cc.eng, c->iobuf, sizeof c->iobuf, 1);
	if (v->resume && v->have_sp)
		br_ssl_engine_set_session_parameters(&c->cc.eng, &v->sp);
	if (!br_ssl_client_reset(&c->cc, "localhost", v->resume && v->have_sp))
		return -1;
	br_sslio_init(&c->io, &c->cc.eng, sslio_read, &c->fd, sslio_write,
	    &c->fd);
	return 0;
}

static int
cx_write(struct cx *c, const void *p, size_t n)
{
	const char *s = p;

	if (c->tls)
		return br_sslio_write_all(&c->io, p, n) == -1 ||
		    br_sslio_flush(&c->io) == -1 ? -1 : 0;
	while (n > 0) {
		ssize_t w = send(c->fd, s, n, MSG_NOSIGNAL);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static ssize_t
cx_read(struct cx *c, void *p, size_t n)
{
	if (c->tls) {
		int r = br_sslio_read(&c->io, p, n);

		return r < 0 ? (br_ssl_engine_last_error(&c->cc.eng) ==
		    BR_ERR_OK ? 0 : -1) : r;
	}
	for (;;) {
		ssize_t r = read(c->fd, p, n);

		if (r == -1 && errno == EINTR)
			continue;
		return r;
	}
}

static void
cx_close(struct cx *c, struct variant *v)
{
	if (c->tls) {
		if (getenv("BENCH_DEBUG")) {
			br_ssl_session_parameters sp;

			br_ssl_engine_get_session_parameters(&c->cc.eng, &sp);
			fprintf(stderr, "suite %04x version %04x\n",
			    sp.cipher_suite, sp.version);
		}
		if (v->resume) {
			br_ssl_engine_get_session_parameters(&c->cc.eng,
			    &v->sp);
			v->have_sp = 1;
		}
		if (br_ssl_engine_current_state(&c->cc.eng) != BR_SSL_CLOSED)
			br_sslio_close(&c->io);
	}
	close(c->fd);
}

/* ---------------------------------------------------------- responses */

static int
parse_head(struct resp *r)
{
	char *p = r->head, *eol;

	if (strncmp(p, "HTTP/1.", 7) != 0 || strlen(p) < 12)
		return -1;
	r->status = atoi(p + 9);
	r->st = R_EOF;
	while ((eol = strstr(p, "\r\n")) != NULL && eol != p) {
		p = eol + 2;
		if (strncasecmp(p, "transfer-encoding:", 18) == 0 &&
		    strcasestr(p, "chunked") && strcasestr(p, "chunked") <
		    strstr(p, "\r\n"))
			r->st = R_CSIZE;
		else if (strncasecmp(p, "content-length:", 15) == 0 &&
		    r->st != R_CSIZE) {
			r->left = strtoll(p + 15, NULL, 10);
			r->st = R_CL;
		} else if (strncasecmp(p, "connection:", 11) == 0 &&
		    strcasestr(p, "close") && strcasestr(p, "close") <
		    strstr(p, "\r\n"))
			r->close = 1;
	}
	if (r->status == 204 || r->status == 304 || r->status < 200 ||
	    (r->st == R_CL && r->left == 0))
		r->done = 1;
	return 0;
}

static void
tail_add(struct resp *r, const unsigned char *p, size_t n)
{
	if (n >= sizeof r->tail) {
		memcpy(r->tail, p + n - sizeof r->tail, sizeof r->tail);
		r->tlen = sizeof r->tail;
		return;
	}
	if (r->tlen + n > sizeof r->tail) {
		size_t drop = r->tlen + n - sizeof r->tail;

		memmove(r->tail, r->tail + drop, r->tlen - drop);
		r->tlen -= drop;
	}
	memcpy(r->tail + r->tlen, p, n);
	r->tlen += n;
}

/* Feed bytes; -1 on a malformed response, else bytes used. */
static long
resp_feed(struct resp *r, const unsigned char *p, size_t n)
{
	size_t i = 0, take;

	while (i < n && !r->done) {
		switch (r->st) {
		case R_HEAD: {
			size_t from = r->hlen > 3 ? r->hlen - 3 : 0;
			char *e;

			take = n - i;
			if (take > sizeof r->head - 1 - r->hlen)
				take = sizeof r->head - 1 - r->hlen;
			if (take == 0)
				return -1;
			memcpy(r->head + r->hlen, p + i, take);
			r->head[r->hlen + take] = '\0';
			e = memmem(r->head + from, r->hlen + take - from,
			    "\r\n\r\n", 4);
			if (e == NULL) {
				r->hlen += take;
				i += take;
				break;
			}
			take = (size_t)(e + 4 - r->head) - r->hlen;
			r->hlen += take;
			i += take;
			r->head[r->hlen] = '\0';
			if (parse_head(r) == -1)
				return -1;
			break;
		}
		case R_CL:
			take = n - i < (size_t)r->left ? n - i : (size_t)r->left;
			tail_add(r, p + i, take);
			r->body += (long long)take;
			r->left -= (long long)take;
			i += take;
			if (r->left == 0)
				r->done = 1;
			break;
		case R_CSIZE:
			if (p[i] == '\n') {
				r->line[r->llen] = '\0';
				r->left = strtoll(r->line, NULL, 16);
				r->llen = 0;
				r->st = r->left == 0 ? R_TRAILER : R_CDATA;
			} else if (r->llen < sizeof r->line - 1)
				r->line[r->llen++] = (char)p[i];
			i++;
			break;
		case R_CDATA:
			take = n - i < (size_t)r->left ? n - i : (size_t)r->left;
			tail_add(r, p + i, take);
			r->body += (long long)take;
			r->left -= (long long)take;
			i += take;
			if (r->left == 0) {
				r->st = R_CCRLF;
				r->left = 2;
			}
			break;
		case R_CCRLF:
			i++;
			if (--r->left == 0)
				r->st = R_CSIZE;
			break;
		case R_TRAILER:
			if (p[i] == '\n') {
				if (r->llen == 0)
					r->done = 1;
				r->llen = 0;
			} else if (p[i] != '\r')
				r->llen++;
			i++;
			break;
		case R_EOF:
			tail_add(r, p + i, n - i);
			r->body += (long long)(n - i);
			i = n;
			break;
		}
	}
	return (long)i;
}

/* Read one response on c. 0 when complete; *first set to the time of the
 * first byte when first is not NULL. */
static int
read_resp(struct cx *c, struct resp *r, double *first)
{
	static unsigned char buf[65536];

	memset(r, 0, sizeof *r);
	while (!r->done) {
		ssize_t n = cx_read(c, buf, sizeof buf);

		if (first && *first == 0 && n > 0)
			*first = now_us();
		if (n == 0 && r->st == R_EOF) {
			r->done = 1;
			break;
		}
		if (n <= 0)
			return -1;
		if (resp_feed(r, buf, (size_t)n) != n)
			return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- requests */

static char *body;
static size_t body_len;

static const char default_body[] =
    "{\"model\":\"claude-sonnet-4-5-20250929\",\"max_tokens\":1024,"
    "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"say hi\"}]}],\"system\":[{\"type\":\"text\",\"text\":"
    "\"You are Droid, an AI software engineering agent built by "
    "Factory.\"},{\"type\":\"text\",\"text\":\"Cwd: /home/u/project\"}],"
    "\"stream\":true}";

static char *
make_request(const char *more, size_t *len)
{
	size_t cap = body_len + 4096;
	char *q = malloc(cap);
	int k, i;

	if (q == NULL)
		die("out of memory");
	k = snprintf(q, cap, "POST /v1/messages HTTP/1.1\r\n"
	    "Host: 127.0.0.1:8317\r\n"
	    "Accept: application/json\r\n"
	    "Content-Type: application/json\r\n"
	    "User-Agent: factory-cli/0.225.2\r\n"
	    "X-Stainless-Arch: x64\r\nX-Stainless-Lang: js\r\n"
	    "X-Stainless-OS: Linux\r\n"
	    "X-Stainless-Package-Version: 0.70.1\r\n"
	    "X-Stainless-Retry-Count: 0\r\nX-Stainless-Runtime: node\r\n"
	    "X-Stainless-Runtime-Version: v26.3.0\r\n"
	    "X-Stainless-Timeout: 600\r\n"
	    "anthropic-beta: interleaved-thinking-2025-05-14\r\n"
	    "anthropic-version: 2023-06-01\r\n"
	    "x-api-key: dummy-not-used\r\n"
	    "Accept-Encoding: gzip, deflate, br, zstd\r\n%s", more);
	for (i = 0; i < n_extra; i++)
		k += snprintf(q + k, cap - (size_t)k, "%s\r\n",
		    extra_headers[i]);
	k += snprintf(q + k, cap - (size_t)k, "Content-Length: %zu\r\n\r\n",
	    body_len);
	memcpy(q + k, body, body_len);
	*len = (size_t)k + body_len;
	return q;
}

static void
record(double **arr, int *n, double v)
{
	*arr = realloc(*arr, (size_t)(*n + 1) * sizeof **arr);
	if (*arr == NULL)
		die("out of memory");
	(*arr)[(*n)++] = v;
}

static void
print(const char *measure, struct variant *v, int nv, int second)
{
	int i, j;

	for (i = 0; i < nv; i++) {
		double *x = second ? v[i].b : v[i].a;
		int n = second ? v[i].nb : v[i].na;

		printf("%s %s", measure, v[i].name);
		for (j = 0; j < n; j++)
			printf(" %.1f", x[j]);
		printf("\n");
	}
	fflush(stdout);
}

static int
check_sse(struct resp *r)
{
	return r->status == 200 && memmem(r->tail, r->tlen, "message_stop",
	    12) != NULL;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	if (ms > 0)
		nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------- modes */

/* The order of the variants in one round: shuffled (the same sequence on
 * every run), so that no variant always follows the same one. A fixed
 * rotation is not enough: each variant would still come right after the
 * same neighbour, and the one after the direct TLS client (the busiest
 * for the CPUs) would pay for it in every round. */
static void
shuffle(int *ord, int nv)
{
	static unsigned long long st = 0x9e3779b97f4a7c15ULL;
	int k, j, t;

	for (k = 0; k < nv; k++)
		ord[k] = k;
	for (k = nv - 1; k > 0; k--) {
		st ^= st << 13;
		st ^= st >> 7;
		st ^= st << 17;
		j = (int)(st % (unsigned long long)(k + 1));
		t = ord[k];
		ord[k] = ord[j];
		ord[j] = t;
	}
}

static int
mode_ka(struct variant *v, int nv, int n, int warm)
{
	static struct cx c[MAXV];
	struct resp r;
	size_t qlen;
	char *q = make_request("Connection: keep-alive\r\n", &qlen);
	int i, k, ord[MAXV];

	for (k = 0; k < nv; k++)
		if (cx_open(&c[k], &v[k]) == -1)
			die("cannot connect");
	for (i = -warm; i < n; i++) {
		shuffle(ord, nv);
		for (k = 0; k < nv; k++) {
			struct variant *x = &v[ord[k]];
			struct cx *cc = &c[x - v];
			double t0 = now_us();

			if (cx_write(cc, q, qlen) == -1 ||
			    read_resp(cc, &r, NULL) == -1) {
				fprintf(stderr, "bench-client: %s: request %d "
				    "failed\n", x->name, i);
				return 1;
			}
			if (!check_sse(&r)) {
				fprintf(stderr, "bench-client: %s: status %d, "
				    "no message_stop: %.200s\n", x->name,
				    r.status, r.head);
				return 1;
			}
			if (i >= 0)
				record(&x->a, &x->na, now_us() - t0);
		}
	}
	for (k = 0; k < nv; k++)
		cx_close(&c[k], &v[k]);
	print("ka", v, nv, 0);
	return 0;
}

static int
mode_conn(struct variant *v, int nv, int n, int warm, int gap)
{
	static struct cx c;
	struct resp r;
	size_t qlen;
	char *q = make_request("Connection: close\r\n", &qlen);
	int i, k, ord[MAXV];

	for (i = -warm; i < n; i++) {
		shuffle(ord, nv);
		for (k = 0; k < nv; k++) {
			struct variant *x = &v[ord[k]];
			double t0, first = 0;

			sleep_ms(gap);
			t0 = now_us();
			if (cx_open(&c, x) == -1 ||
			    cx_write(&c, q, qlen) == -1 ||
			    read_resp(&c, &r, &first) == -1 || !check_sse(&r)) {
				fprintf(stderr, "bench-client: %s: connection "
				    "%d failed (status %d)\n", x->name, i,
				    r.status);
				return 1;
			}
			if (i >= 0) {
				record(&x->a, &x->na, first - t0);
				record(&x->b, &x->nb, now_us() - t0);
			}
			cx_close(&c, x);
		}
	}
	print("ttfb", v, nv, 0);
	print("total", v, nv, 1);
	return 0;
}

static int
mode_get(struct variant *v, int nv, int n, long long bytes)
{
	static struct cx c;
	struct resp r;
	char more[128];
	size_t qlen;
	char *q;
	int i, k, ord[MAXV];

	snprintf(more, sizeof more, "Connection: close\r\n"
	    "x-bench-bytes: %lld\r\n", bytes);
	q = make_request(more, &qlen);
	for (i = 0; i < n; i++) {
		shuffle(ord, nv);
		for (k = 0; k < nv; k++) {
			struct variant *x = &v[ord[k]];
			double t0 = now_us();

			if (cx_open(&c, x) == -1 ||
			    cx_write(&c, q, qlen) == -1 ||
			    read_resp(&c, &r, NULL) == -1 || r.status != 200 ||
			    r.body != bytes) {
				fprintf(stderr, "bench-client: %s: round %d: "
				    "got %lld of %lld bytes\n", x->name, i,
				    r.body, bytes);
				return 1;
			}
			record(&x->a, &x->na, (double)bytes / (now_us() - t0));
			cx_close(&c, x);
		}
	}
	print("mbps", v, nv, 0);
	return 0;
}

/* All n at once on plain TCP: connect, send, read every response whole. */
static int
mode_conc(struct variant *v, int n, int timeout_s)
{
	struct pollfd *pfd = calloc((size_t)n, sizeof *pfd);
	struct resp *r = calloc((size_t)n, sizeof *r);
	size_t *sent = calloc((size_t)n, sizeof *sent);
	unsigned char buf[65536];
	size_t qlen;
	char *q = make_request("Connection: close\r\n", &qlen);
	int i, left = n, ok = 0, st200 = 0, connfail = 0, failed = 0;
	int statuses[600] = { 0 };
	double t0 = now_us(), deadline = t0 + timeout_s * 1e6, tmax = 0;
	struct rlimit rl;

	if (pfd == NULL || r == NULL || sent == NULL)
		die("out of memory");
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < (rlim_t)n + 64) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (i = 0; i < n; i++) {
		pfd[i].fd = tcp_connect(v->port, 1);
		pfd[i].events = POLLOUT;
		if (pfd[i].fd == -1) {
			connfail++;
			left--;
			pfd[i].fd = -1;
		}
	}
	while (left > 0 && now_us() < deadline) {
		int p = poll(pfd, (nfds_t)n, 1000);

		if (p == -1 && errno != EINTR)
			die("poll");
		for (i = 0; p > 0 && i < n; i++) {
			int bad = 0;

			if (pfd[i].fd == -1 || pfd[i].revents == 0)
				continue;
			if (pfd[i].events == POLLOUT) {
				ssize_t w = send(pfd[i].fd, q + sent[i],
				    qlen - sent[i], MSG_NOSIGNAL);

				if (w > 0 && (sent[i] += (size_t)w) == qlen)
					pfd[i].events = POLLIN;
				else if (w <= 0 && errno != EAGAIN) {
					if (sent[i] == 0)
						connfail++;
					else
						bad = 1;
					if (sent[i] == 0) {
						close(pfd[i].fd);
						pfd[i].fd = -1;
						left--;
						continue;
					}
				}
			} else {
				ssize_t k = read(pfd[i].fd, buf, sizeof buf);

				if (k > 0) {
					if (resp_feed(&r[i], buf, (size_t)k)
					    != k)
						bad = 1;
				} else if (k == 0 && r[i].st == R_EOF &&
				    r[i].hlen)
					r[i].done = 1;
				else if (k == 0 || errno != EAGAIN)
					bad = 1;
			}
			if (r[i].done || bad) {
				if (r[i].done && r[i].status > 0 &&
				    r[i].status < 600)
					statuses[r[i].status]++;
				if (r[i].done && r[i].status == 200)
					st200++;
				if (r[i].done && check_sse(&r[i]))
					ok++;
				else
					failed++;
				close(pfd[i].fd);
				pfd[i].fd = -1;
				left--;
				if (now_us() - t0 > tmax)
					tmax = now_us() - t0;
			}
		}
	}
	printf("conc %s n=%d complete=%d status200=%d failed=%d "
	    "connect_failed=%d unfinished=%d seconds=%.2f", v->name, n, ok,
	    st200, failed, connfail, left, tmax / 1e6);
	for (i = 0; i < 600; i++)
		if (statuses[i])
			printf(" s%d=%d", i, statuses[i]);
	printf("\n");
	return 0;
}

static void
parse_variant(struct variant *v, const char *arg)
{
	char tmp[1200], *eq, *opt, *save = NULL;

	memset(v, 0, sizeof *v);
	snprintf(tmp, sizeof tmp, "%s", arg);
	if ((eq = strchr(tmp, '=')) == NULL)
		die("variant: name=tcp:PORT or name=tls:PORT");
	*eq = '\0';
	snprintf(v->name, sizeof v->name, "%.63s", tmp);
	for (opt = strtok_r(eq + 1, ",", &save); opt;
	    opt = strtok_r(NULL, ",", &save)) {
		if (strncmp(opt, "tcp:", 4) == 0)
			v->port = atoi(opt + 4);
		else if (strncmp(opt, "tls:", 4) == 0) {
			v->tls = 1;
			v->port = atoi(opt + 4);
		} else if (strcmp(opt, "resume") == 0)
			v->resume = 1;
		else if (strncmp(opt, "unlink=", 7) == 0)
			snprintf(v->unlink_path, sizeof v->unlink_path, "%s",
			    opt + 7);
		else
			die("unknown variant option");
	}
	if (v->port <= 0)
		die("variant without a port");
}

int
main(int argc, char **argv)
{
	static struct variant v[MAXV];
	const char *mode, *ca = NULL, *bodyf = NULL;
	long long bytes = 1 << 20;
	int n = 100, warm = 5, gap = 5, timeout = 60, nv = 0, opt;

	if (argc < 2)
		die("usage: bench-client ka|conn|get|conc [options] VARIANT...");
	mode = argv[1];
	optind = 2;
	while ((opt = getopt(argc, argv, "C:n:w:b:B:H:s:t:")) != -1) {
		switch (opt) {
		case 'C': ca = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'w': warm = atoi(optarg); break;
		case 'b': bodyf = optarg; break;
		case 'B': bytes = atoll(optarg); break;
		case 'H':
			if (n_extra < 16)
				extra_headers[n_extra++] = optarg;
			break;
		case 's': gap = atoi(optarg); break;
		case 't': timeout = atoi(optarg); break;
		default: die("bad option");
		}
	}
	for (; optind < argc && nv < MAXV; optind++)
		parse_variant(&v[nv++], argv[optind]);
	if (nv == 0)
		die("no variant");
	if (ca)
		load_ca(ca);
	if (bodyf) {
		FILE *f = fopen(bodyf, "rb");
		long sz;

		if (f == NULL || fseek(f, 0, SEEK_END) == -1 ||
		    (sz = ftell(f)) < 0)
			die("cannot read the body file");
		rewind(f);
		body = malloc((size_t)sz + 1);
		body_len = fread(body, 1, (size_t)sz, f);
		fclose(f);
	} else {
		body = (char *)(uintptr_t)default_body;
		body_len = sizeof default_body - 1;
	}
	if (strcmp(mode, "ka") == 0)
		return mode_ka(v, nv, n, warm);
	if (strcmp(mode, "conn") == 0)
		return mode_conn(v, nv, n, warm, gap);
	if (strcmp(mode, "get") == 0)
		return mode_get(v, nv, n, bytes);
	if (strcmp(mode, "conc") == 0)
		return mode_conc(&v[0], n, timeout);
	die("unknown mode");
	return 100;
}
