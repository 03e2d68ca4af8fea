/* Unit tests for status.c: which peers, Host values and query keys get the
 * status page, and the page's data from an auth-dir made here. */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "connection/status.h"
#include "unit.h"

static const struct {
	const char *addr;
	int local;
} addrs[] = {
	{ "127.0.0.1", 1 },
	{ "127.255.0.9", 1 },
	{ "128.0.0.1", 0 },
	{ "10.0.0.1", 0 },
	{ "192.0.2.2", 0 },
	{ "0.0.0.0", 0 },
	{ "::1", 1 },
	{ "::ffff:127.0.0.1", 1 },
	{ "::ffff:127.1.2.3", 1 },
	{ "::ffff:10.0.0.1", 0 },
	{ "::", 0 },
	{ "fe80::1", 0 },
	{ "2001:db8::1", 0 },
	{ "::127.0.0.1", 0 },           /* IPv4-compatible, not mapped */
};

static void
test_addrs(void)
{
	struct sockaddr_in in4;
	struct sockaddr_in6 in6;
	struct sockaddr_un un;
	char name[80];
	size_t i;

	for (i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
		snprintf(name, sizeof name, "peer %s %s", addrs[i].addr,
		    addrs[i].local ? "is local" : "is refused");
		memset(&in4, 0, sizeof in4);
		memset(&in6, 0, sizeof in6);
		if (inet_pton(AF_INET, addrs[i].addr, &in4.sin_addr) == 1) {
			in4.sin_family = AF_INET;
			CHECK(name, status_addr_local((struct sockaddr *)&in4,
			    sizeof in4) == addrs[i].local);
		} else {
			CHECK(name, inet_pton(AF_INET6, addrs[i].addr,
			    &in6.sin6_addr) == 1);
			in6.sin6_family = AF_INET6;
			CHECK(name, status_addr_local((struct sockaddr *)&in6,
			    sizeof in6) == addrs[i].local);
		}
	}
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	CHECK("peer on a Unix socket is local", status_addr_local(
	    (struct sockaddr *)&un, sizeof(sa_family_t)) == 1);
	in4.sin_family = AF_INET;
	in4.sin_addr.s_addr = htonl(0x7f000001);
	CHECK("a short address is refused", status_addr_local(
	    (struct sockaddr *)&in4, 4) == 0);
}

static void
test_peer_fds(void)
{
	int p[2], s[2];

	CHECK("pipe", pipe(p) == 0);
	CHECK("a pipe counts as local", status_peer_local(p[0]) == 1);
	CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0);
	CHECK("a Unix socketpair counts as local", status_peer_local(s[0]));
	close(p[0]);
	close(p[1]);
	close(s[0]);
	close(s[1]);
	CHECK("a closed fd is refused", status_peer_local(p[0]) == 0);
	/* An unconnected TCP socket has no peer to vouch for. */
	s[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK("an unconnected TCP socket is refused",
	    s[0] != -1 && status_peer_local(s[0]) == 0);
	close(s[0]);
}

static const struct {
	const char *host;
	int ok;
} hosts[] = {
	{ "localhost", 1 },
	{ "LocalHost:8317", 1 },
	{ "127.0.0.1", 1 },
	{ "127.0.0.1:8317", 1 },
	{ "127.3.4.5:1", 1 },
	{ "[::1]", 1 },
	{ "[::1]:8317", 1 },
	{ "[0:0:0:0:0:0:0:1]:80", 1 },
	{ "", 0 },
	{ "evil.example", 0 },
	{ "evil.example:8317", 0 },
	{ "localhost.evil.example", 0 },
	{ "127.0.0.1.nip.io", 0 },
	{ "127.0.0.1:", 0 },
	{ "127.0.0.1:80x", 0 },
	{ "127.0.0.1:80:80", 0 },
	{ "[::1", 0 },
	{ "[::2]:80", 0 },
	{ "::1", 0 },
	{ "10.0.0.1:8317", 0 },
	{ "0177.0.0.1", 0 },
	{ "2130706433", 0 },
};

static void
test_hosts(void)
{
	char name[80];
	size_t i;

	for (i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
		snprintf(name, sizeof name, "Host \"%s\" %s", hosts[i].host,
		    hosts[i].ok ? "is local" : "is refused");
		CHECK(name, status_host_local(hosts[i].host,
		    strlen(hosts[i].host)) == hosts[i].ok);
	}
}

static const struct {
	const char *query;
	int ok;
} queries[] = {
	{ "key=k3y+/=", 1 },
	{ "key=k3y%2B%2f%3D", 1 },
	{ "a=1&key=second&b=2", 1 },
	{ "key=wrong&key=second", 1 },
	{ "key=", 0 },
	{ "key", 0 },
	{ "", 0 },
	{ "key=k3y", 0 },
	{ "key=k3y+/=x", 0 },
	{ "key=k3y%20/=", 0 },
	{ "key=k3y%2", 0 },
	{ "key=k3y%zz/=", 0 },
	{ "xkey=second", 0 },
	{ "KEY=second", 0 },
	{ "key=secon", 0 },
	{ "key=secondsecond", 0 },
};

static void
test_query_keys(void)
{
	struct config cfg;
	char *keys[] = { (char *)(uintptr_t)"k3y+/=",
		(char *)(uintptr_t)"second" };
	char name[80];
	size_t i;

	memset(&cfg, 0, sizeof cfg);
	cfg.api_keys = keys;
	cfg.n_api_keys = 2;
	for (i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		snprintf(name, sizeof name, "query \"%s\" %s",
		    queries[i].query, queries[i].ok ? "has a key" :
		    "has no key");
		CHECK(name, status_query_key(&cfg, queries[i].query,
		    strlen(queries[i].query)) == queries[i].ok);
	}
	/* The length is the caller's: a key right after the end is not
	 * read. */
	CHECK("query length is honoured", status_query_key(&cfg,
	    "key=second", 9) == 0);
	cfg.n_api_keys = 0;
	CHECK("no api-keys: no query key matches",
	    status_query_key(&cfg, "key=second", 10) == 0);
}

static void
test_routes(void)
{
	CHECK("route /", status_route("/"));
	CHECK("route /status", status_route("/status"));
	CHECK("route /status.json", status_route("/status.json"));
	CHECK("no route /status/", !status_route("/status/"));
	CHECK("no route /statusx", !status_route("/statusx"));
	CHECK("no route /v1/status", !status_route("/v1/status"));
}

static void
put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	if (fd != -1)
		close(fd);
}

static void
rm_file(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	unlink(path);
}

/* An auth-dir with one account, a broken token file and two usage lines,
 * as of a fixed time. */
static void
test_model(void)
{
	char dir[] = "/tmp/cpa-status-XXXXXX";
	struct config cfg;
	struct buf b = { 0 };
	const time_t now = 1767225600 + 12 * 3600;   /* 2026-01-01T12:00Z */
	cJSON *j = NULL, *days, *acct, *req;
	int ok;

	memset(&cfg, 0, sizeof cfg);
	if (mkdtemp(dir) == NULL) {
		CHECK("mkdtemp", 0);
		return;
	}
	cfg.auth_dir = dir;
	put_file(dir, "claude-a@example.com.json", "{\"access_token\":"
	    "\"sk-ant-oat01-UNITSECRETUNITSECRET\",\"refresh_token\":"
	    "\"sk-ant-ort01-UNITREFRESHUNITREFRESH\",\"email\":"
	    "\"a@example.com\",\"expired\":\"2026-01-01T15:12:00Z\"}");
	put_file(dir, "codex-broken.json", "{not json");
	put_file(dir, "usage.jsonl", "{\"time\":\"2026-01-01T01:00:00Z\","
	    "\"provider\":\"claude\",\"account\":\"a@example.com\",\"model\":"
	    "\"m<1>\",\"status\":200,\"input\":1,\"output\":2,\"cache_read\":"
	    "4,\"cache_write\":8}\n{\"time\":\"2025-12-19T01:00:00Z\","
	    "\"provider\":\"codex\",\"account\":\"a@example.com\",\"model\":"
	    "\"m\",\"status\":503,\"input\":16,\"output\":0,\"cache_read\":4,"
	    "\"cache_write\":0}\n{\"time\":\"2025-12-18T23:59:59Z\","
	    "\"status\":200}\n");
	CHECK("status_json", status_json(&cfg, now, &b) == 0);
	CHECK("status_json is JSON", b.p && (j = cJSON_ParseWithLength(b.p,
	    b.len)) != NULL);
	days = cJSON_GetObjectItem(j, "days");
	CHECK("14 days", cJSON_GetArraySize(days) == STATUS_DAYS);
	CHECK_STR("first day", cJSON_GetStringValue(cJSON_GetArrayItem(days,
	    0)), "2025-12-19");
	CHECK_STR("last day", cJSON_GetStringValue(cJSON_GetArrayItem(days,
	    STATUS_DAYS - 1)), "2026-01-01");
	acct = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "by_account"),
	    "a@example.com");
	req = cJSON_GetObjectItem(acct, "requests");
	CHECK("requests on the first and last day",
	    cJSON_GetArrayItem(req, 0)->valuedouble == 1 &&
	    cJSON_GetArrayItem(req, STATUS_DAYS - 1)->valuedouble == 1);
	CHECK("claude tokens count cache reads",
	    cJSON_GetArrayItem(cJSON_GetObjectItem(acct, "tokens"),
	    STATUS_DAYS - 1)->valuedouble == 15);
	CHECK("codex tokens do not count cache reads twice",
	    cJSON_GetArrayItem(cJSON_GetObjectItem(acct, "tokens"),
	    0)->valuedouble == 16);
	CHECK("a line before the first day is not charted",
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "by_account"), "-") ==
	    NULL);
	CHECK("two accounts, one broken", cJSON_GetArraySize(
	    cJSON_GetObjectItem(j, "accounts")) == 2 && cJSON_IsString(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "accounts"), 1), "problem")));
	CHECK("expires_in", cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(j, "accounts"), 0), "expires_in")->valuedouble
	    == 3 * 3600 + 12 * 60);
	CHECK("one error listed", cJSON_GetArraySize(cJSON_GetObjectItem(j,
	    "errors")) == 1);
	CHECK("no token in the JSON", memmem(b.p, b.len, "UNIT", 4) == NULL);
	cJSON_Delete(j);
	buf_free(&b);

	CHECK("status_html", status_html(&cfg, now, &b) == 0);
	ok = b.p != NULL && memmem(b.p, b.len, "a@example.com", 13) != NULL;
	CHECK("the page names the account", ok);
	CHECK("the page counts down the expiry", b.p &&
	    memmem(b.p, b.len, "in 3h12m", 8) != NULL);
	CHECK("the model name is escaped", b.p &&
	    memmem(b.p, b.len, "m&lt;1&gt;", 10) != NULL &&
	    memmem(b.p, b.len, "m<1>", 4) == NULL);
	CHECK("no token on the page", b.p && memmem(b.p, b.len, "UNIT", 4) ==
	    NULL);
	buf_free(&b);

	rm_file(dir, "state.json");
	rm_file(dir, "usage.jsonl");
	rm_file(dir, "claude-a@example.com.json");
	rm_file(dir, "codex-broken.json");
	rmdir(dir);
}

int
main(void)
{
	test_addrs();
	test_peer_fds();
	test_hosts();
	test_query_keys();
	test_routes();
	test_model();
	return UNIT_END();
}
