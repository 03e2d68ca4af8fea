/*
 * bench-upstream: a fast fake Anthropic upstream for the benchmarks.
 *
 * A BearSSL TLS 1.2 server (EC key, session cache shared by all
 * connections so clients can resume), one thread per connection,
 * keep-alive. Every request is answered after its body is read (and
 * thrown away):
 *   default                 a ~1 KB SSE stream, message_start ... message_stop
 *   x-bench-bytes: N        a chunked body of exactly N bytes (throughput)
 *   x-bench-events: K       K content_block_delta events, each flushed,
 *   x-bench-delay-ms: D     D ms apart (long-lived streams)
 * A request carrying Connection: close is answered, then the connection
 * ends with close_notify. With -a TOKEN, a request without
 * "Authorization: Bearer TOKEN" gets 401.
 *
 * With -g the server picks AES-GCM whatever the client prefers (BearSSL
 * clients list ChaCha20 first; a server that follows the client, like
 * the default here, gives them ChaCha20).
 *
 * usage: bench-upstream -c chain.pem -k key.pem [-a TOKEN] [-g]
 * Prints the port it listens on (127.0.0.1, ephemeral) on stdout.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "tlsend.h"

#define HEAD_MAX (64 * 1024)
#define BLOCK (16 * 1024)

static br_x509_certificate *chain;
static size_t chain_len;
static br_ec_private_key ec_key;
static const char *want_token;
static int prefer_gcm;

/* -g: the server's choice, AES-GCM first, whatever the client prefers. */
static const uint16_t gcm_first[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
};

/*
 * BearSSL's LRU cache is not thread-safe: wrap it in a class of our own
 * that takes a mutex around each call.
 */
struct locked_cache {
	const br_ssl_session_cache_class *vtable;
	br_ssl_session_cache_lru lru;
	pthread_mutex_t mu;
	unsigned char store[256 * 1024];
};

static void
lc_save(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
    const br_ssl_session_parameters *params)
{
	struct locked_cache *c = (struct locked_cache *)(void *)ctx;

	pthread_mutex_lock(&c->mu);
	c->lru.vtable->save(&c->lru.vtable, sc, params);
	pthread_mutex_unlock(&c->mu);
}

static int
lc_load(const br_ssl_session_cache_class **ctx, br_ssl_server_context *sc,
    br_ssl_session_parameters *params)
{
	struct locked_cache *c = (struct locked_cache *)(void *)ctx;
	int r;

	pthread_mutex_lock(&c->mu);
	r = c->lru.vtable->load(&c->lru.vtable, sc, params);
	pthread_mutex_unlock(&c->mu);
	return r;
}

static const br_ssl_session_cache_class lc_class = {
	sizeof(struct locked_cache), lc_save, lc_load
};

static struct locked_cache cache = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct conn {
	int fd;
	br_ssl_server_context sc;
	br_sslio_context io;
	unsigned char iobuf[BR_SSL_BUFSIZE_BIDI];
	char in[HEAD_MAX];
	size_t have;            /* bytes in in[] */
};



/* The value of header name in the head (NUL-terminated), copied to out. */
static int
header(const char *head, const char *name, char *out, size_t outlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p && p[2] != '\r') {
		const char *line = p + 2, *eol = strstr(line, "\r\n");

		if (eol == NULL)
			break;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;
			size_t vl;

			while (*v == ' ' || *v == '\t')
				v++;
			vl = (size_t)(eol - v);
			if (vl >= outlen)
				vl = outlen - 1;
			memcpy(out, v, vl);
			out[vl] = '\0';
			return 1;
		}
		p = eol;
	}
	return 0;
}

/* More bytes into c->in. 0, or -1 at the end of the connection. */
static int
fill(struct conn *c)
{
	int r;

	if (c->have >= sizeof c->in)
		return -1;
	r = br_sslio_read(&c->io, c->in + c->have, sizeof c->in - c->have);
	if (r <= 0)
		return -1;
	c->have += (size_t)r;
	return 0;
}

static void
consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->have - n);
	c->have -= n;
}

/* Read and drop a body of n bytes (-1: chunked). 0, or -1. */
static int
drop_body(struct conn *c, long long n)
{
	if (n >= 0) {
		while (n > 0) {
			size_t take;

			if (c->have == 0 && fill(c) == -1)
				return -1;
			take = (long long)c->have < n ? c->have : (size_t)n;
			consume(c, take);
			n -= (long long)take;
		}
		return 0;
	}
	for (;;) {
		char *eol;
		unsigned long long sz;

		while ((eol = memchr(c->in, '\n', c->have)) == NULL)
			if (fill(c) == -1)
				return -1;
		sz = strtoull(c->in, NULL, 16);
		consume(c, (size_t)(eol - c->in) + 1);
		if (sz == 0) {
			/* Trailers, up to the empty line. */
			for (;;) {
				while ((eol = memchr(c->in, '\n', c->have))
				    == NULL)
					if (fill(c) == -1)
						return -1;
				size_t ll = (size_t)(eol - c->in) + 1;
				consume(c, ll);
				if (ll <= 2)
					return 0;
			}
		}
		if (drop_body(c, (long long)sz + 2) == -1)
			return -1;
	}
}

static int
put(struct conn *c, const void *p, size_t n)
{
	return br_sslio_write_all(&c->io, p, n);
}

static int
putf_chunk(struct conn *c, const char *s)
{
	char sz[32];
	size_t n = strlen(s);

	snprintf(sz, sizeof sz, "%zx\r\n", n);
	return put(c, sz, strlen(sz)) == -1 || put(c, s, n) == -1 ||
	    put(c, "\r\n", 2) == -1 ? -1 : 0;
}

static const char sse_head[] =
    "HTTP/1.1 200 OK\r\n"
    "Date: Tue, 25 Nov 2025 12:00:00 GMT\r\n"
    "Content-Type: text/event-stream; charset=utf-8\r\n"
    "Cache-Control: no-cache\r\n"
    "request-id: req_011CVbenchbenchbenchbench\r\n"
    "anthropic-organization-id: 00000000-0000-0000-0000-000000000000\r\n"
    "Transfer-Encoding: chunked\r\n";

static const char ev_start[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"model\":"
    "\"claude-sonnet-4-5-20250929\",\"id\":\"msg_01Bench\",\"type\":"
    "\"message\",\"role\":\"assistant\",\"content\":[],\"stop_reason\":"
    "null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
    "\"cache_creation\":{\"ephemeral_5m_input_tokens\":0,"
    "\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1,"
    "\"service_tier\":\"standard\"}}}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n\n";

static const char ev_delta[] =
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"Hello! How can I help you "
    "today?\"}}\n\n";

static const char ev_end[] =
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"input_tokens\":12,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,"
    "\"output_tokens\":12}}\n\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n\n";

static unsigned char block[BLOCK];

/* 16 KiB of delta events for the throughput body. */
static void
block_init(void)
{
	size_t n = 0, l = strlen(ev_delta);

	while (n + l <= sizeof block) {
		memcpy(block + n, ev_delta, l);
		n += l;
	}
	memset(block + n, '\n', sizeof block - n);
}

static int
answer(struct conn *c, const char *head, int close)
{
	char v[64], auth[512];
	const char *conn_hdr = close ? "Connection: close\r\n\r\n" : "\r\n";
	long long bytes = -1;
	long events = -1, delay = 0, i;

	if (want_token && (!header(head, "authorization", auth, sizeof auth) ||
	    strncmp(auth, "Bearer ", 7) != 0 ||
	    strcmp(auth + 7, want_token) != 0)) {
		static const char body[] = "{\"type\":\"error\",\"error\":"
		    "{\"type\":\"authentication_error\",\"message\":"
		    "\"invalid x-api-key\"}}";
		char h[256];

		snprintf(h, sizeof h, "HTTP/1.1 401 Unauthorized\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu"
		    "\r\n%s", sizeof body - 1, conn_hdr);
		return put(c, h, strlen(h)) == -1 ||
		    put(c, body, sizeof body - 1) == -1 ? -1 :
		    br_sslio_flush(&c->io);
	}
	if (header(head, "x-bench-bytes", v, sizeof v))
		bytes = strtoll(v, NULL, 10);
	if (header(head, "x-bench-events", v, sizeof v))
		events = strtol(v, NULL, 10);
	if (header(head, "x-bench-delay-ms", v, sizeof v))
		delay = strtol(v, NULL, 10);
	if (put(c, sse_head, sizeof sse_head - 1) == -1 ||
	    put(c, conn_hdr, strlen(conn_hdr)) == -1)
		return -1;
	if (bytes >= 0) {
		char sz[32];

		while (bytes > 0) {
			size_t n = bytes < BLOCK ? (size_t)bytes : BLOCK;

			snprintf(sz, sizeof sz, "%zx\r\n", n);
			if (put(c, sz, strlen(sz)) == -1 ||
			    put(c, block, n) == -1 || put(c, "\r\n", 2) == -1)
				return -1;
			bytes -= (long long)n;
		}
		return put(c, "0\r\n\r\n", 5) == -1 ? -1 :
		    br_sslio_flush(&c->io);
	}
	if (putf_chunk(c, ev_start) == -1)
		return -1;
	if (events < 0) {
		/* ~1 KB in one flush, an event per chunk. */
		for (i = 0; i < 4; i++)
			if (putf_chunk(c, ev_delta) == -1)
				return -1;
	} else {
		for (i = 0; i < events; i++) {
			if (br_sslio_flush(&c->io) == -1)
				return -1;
			if (delay > 0) {
				struct timespec ts = { delay / 1000,
				    (delay % 1000) * 1000000L };
				nanosleep(&ts, NULL);
			}
			if (putf_chunk(c, ev_delta) == -1)
				return -1;
		}
	}
	if (putf_chunk(c, ev_end) == -1 || put(c, "0\r\n\r\n", 5) == -1)
		return -1;
	return br_sslio_flush(&c->io);
}

static void *
serve(void *arg)
{
	struct conn *c = arg;

	br_ssl_server_init_full_ec(&c->sc, chain, chain_len, BR_KEYTYPE_EC,
	    &ec_key);
	br_ssl_engine_set_buffer(&c->sc.eng, c->iobuf, sizeof c->iobuf, 1);
	br_ssl_server_set_cache(&c->sc, &cache.vtable);
	if (prefer_gcm) {
		br_ssl_engine_set_suites(&c->sc.eng, gcm_first,
		    sizeof gcm_first / sizeof gcm_first[0]);
		br_ssl_engine_add_flags(&c->sc.eng,
		    BR_OPT_ENFORCE_SERVER_PREFERENCES);
	}
	if (!br_ssl_server_reset(&c->sc))
		goto out;
	br_sslio_init(&c->io, &c->sc.eng, sslio_read, &c->fd, sslio_write,
	    &c->fd);
	for (;;) {
		char *end, v[64];
		long long len = 0;
		size_t hl;
		int close;

		while ((end = memmem(c->in, c->have, "\r\n\r\n", 4)) == NULL)
			if (fill(c) == -1)
				goto out;
		hl = (size_t)(end - c->in) + 4;
		char *head = malloc(hl + 1);
		if (head == NULL)
			goto out;
		memcpy(head, c->in, hl);
		head[hl] = '\0';
		consume(c, hl);
		if (header(head, "transfer-encoding", v, sizeof v))
			len = -1;
		else if (header(head, "content-length", v, sizeof v))
			len = strtoll(v, NULL, 10);
		close = header(head, "connection", v, sizeof v) &&
		    strcasecmp(v, "close") == 0;
		if (drop_body(c, len) == -1 || answer(c, head, close) == -1) {
			free(head);
			goto out;
		}
		free(head);
		if (close) {
			/* close_notify, and wait for the peer's. */
			br_sslio_close(&c->io);
			goto out;
		}
	}
out:
	/* When the client sent close_notify, answer it before closing. */
	if (br_ssl_engine_current_state(&c->sc.eng) != BR_SSL_CLOSED)
		br_sslio_close(&c->io);
	close(c->fd);
	free(c);
	return NULL;
}

static void
die(const char *what)
{
	fprintf(stderr, "bench-upstream: %s\n", what);
	exit(111);
}

int
main(int argc, char **argv)
{
	struct pem_obj *objs;
	br_skey_decoder_context kd;
	const br_ec_private_key *k;
	struct sockaddr_in sin;
	socklen_t sl = sizeof sin;
	pthread_attr_t attr;
	const char *certf = NULL, *keyf = NULL;
	int n, i, ls, one = 1, opt;

	while ((opt = getopt(argc, argv, "c:k:a:g")) != -1) {
		switch (opt) {
		case 'c': certf = optarg; break;
		case 'k': keyf = optarg; break;
		case 'a': want_token = optarg; break;
		case 'g': prefer_gcm = 1; break;
		default:
			fprintf(stderr, "usage: bench-upstream -c chain.pem "
			    "-k key.pem [-a TOKEN] [-g]\n");
			return 100;
		}
	}
	if (certf == NULL || keyf == NULL)
		die("-c and -k are required");
	if ((n = pem_load(certf, &objs)) <= 0)
		die("no certificate");
	chain = calloc((size_t)n, sizeof *chain);
	for (i = 0; i < n; i++) {
		chain[i].data = objs[i].der;
		chain[i].data_len = objs[i].len;
	}
	chain_len = (size_t)n;
	if ((n = pem_load(keyf, &objs)) <= 0)
		die("no key");
	br_skey_decoder_init(&kd);
	br_skey_decoder_push(&kd, objs[0].der, objs[0].len);
	if (br_skey_decoder_last_error(&kd) != 0 ||
	    (k = br_skey_decoder_get_ec(&kd)) == NULL)
		die("the key is not an EC private key");
	ec_key.curve = k->curve;
	ec_key.xlen = k->xlen;
	ec_key.x = malloc(k->xlen);
	memcpy(ec_key.x, k->x, k->xlen);

	cache.vtable = &lc_class;
	br_ssl_session_cache_lru_init(&cache.lru, cache.store,
	    sizeof cache.store);
	block_init();
	signal(SIGPIPE, SIG_IGN);

	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(ls, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(ls, 4096) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &sl) == -1)
		die("cannot listen on 127.0.0.1");
	printf("%d\n", ntohs(sin.sin_port));
	fflush(stdout);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 128 * 1024);
	for (;;) {
		struct conn *c;
		pthread_t t;
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				usleep(10000);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if ((c = malloc(sizeof *c)) == NULL) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->have = 0;
		if (pthread_create(&t, &attr, serve, c) != 0) {
			close(fd);
			free(c);
		}
	}
}
