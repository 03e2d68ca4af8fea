/* Unit tests for usage.c (the scanner at every split point, the record
 * file and its rotation, the report) and log.c (the file, head
 * redaction). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accounts/usage.h"
#include "support/log.h"
#include "unit.h"

static char tmpdir[256];

/* A realistic Messages stream, as api.anthropic.com sends it. */
static const char anthropic_sse[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":"
    "\"claude-sonnet-4-5-20250929\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":1234,"
    "\"cache_creation_input_tokens\":56,\"cache_read_input_tokens\":7890,"
    "\"output_tokens\":1,\"service_tier\":\"standard\"}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":"
    "{\"type\":\"text\",\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"the \\\"usage\\\" was \"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":"
    "{\"type\":\"text_delta\",\"text\":\"fine\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":"
    "321}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

/* Codex: response.created without usage, deltas, response.completed. */
static const char responses_sse[] =
    "event: response.created\r\n"
    "data: {\"type\":\"response.created\",\"sequence_number\":0,"
    "\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":"
    "\"in_progress\",\"model\":\"gpt-5-codex\",\"output\":[],\"usage\":"
    "null}}\r\n"
    "\r\n"
    "event: response.in_progress\r\n"
    "data: {\"type\":\"response.in_progress\",\"response\":{\"id\":"
    "\"resp_1\",\"usage\":null}}\r\n"
    "\r\n"
    "event: response.output_text.delta\r\n"
    "data: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\r\n"
    "\r\n"
    ": keep-alive comment\r\n"
    "\r\n"
    "event: response.completed\r\n"
    "data: {\"type\":\"response.completed\",\"sequence_number\":9,"
    "\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":"
    "\"completed\",\"model\":\"gpt-5-codex-2025\",\"output\":[{\"type\":"
    "\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"hi\"}]}"
    "],\"usage\":{\"input_tokens\":2000,\"input_tokens_details\":"
    "{\"cached_tokens\":1500},\"output_tokens\":42,"
    "\"output_tokens_details\":{\"reasoning_tokens\":30},"
    "\"total_tokens\":2042}}}\r\n"
    "\r\n";

static const char anthropic_json[] =
    "{\"id\":\"msg_02\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"claude-opus-4-1\",\"content\":[{\"type\":\"text\","
    "\"text\":\"hi\"}],\"stop_reason\":\"end_turn\",\"usage\":"
    "{\"input_tokens\":10,\"cache_creation_input_tokens\":20,"
    "\"cache_read_input_tokens\":30,\"output_tokens\":40}}";

static const char responses_json[] =
    "{\"id\":\"resp_2\",\"object\":\"response\",\"model\":\"gpt-5\","
    "\"output\":[],\"usage\":{\"input_tokens\":11,"
    "\"input_tokens_details\":{\"cached_tokens\":3},\"output_tokens\":"
    "22}}";

static const char chat_json[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":"
    "\"gpt-5-codex\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
    "\"assistant\",\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":7,"
    "\"total_tokens\":107,\"prompt_tokens_details\":{\"cached_tokens\":"
    "64}}}";

static int
same(const struct usage *a, const struct usage *b)
{
	return strcmp(a->model, b->model) == 0 && a->input == b->input &&
	    a->output == b->output && a->cache_read == b->cache_read &&
	    a->cache_write == b->cache_write;
}

static void
scan_pieces(enum usage_kind kind, const char *p, size_t n, size_t cut1,
    size_t cut2, struct usage *u)
{
	struct usage_scan s;

	usage_scan_init(&s, kind);
	usage_scan_feed(&s, p, cut1);
	usage_scan_feed(&s, p + cut1, cut2 - cut1);
	usage_scan_feed(&s, p + cut2, n - cut2);
	usage_scan_done(&s, u);
}

/* The whole body at once must give want; so must every split into two
 * pieces, every split into three around a stride of second cuts, and one
 * byte at a time. */
static void
every_split(const char *name, enum usage_kind kind, const char *p,
    const struct usage *want)
{
	struct usage_scan s;
	struct usage u;
	size_t n = strlen(p), i, j, bad = 0;
	char msg[128];

	scan_pieces(kind, p, n, n, n, &u);
	snprintf(msg, sizeof msg, "%s: whole body", name);
	CHECK(msg, same(&u, want));
	if (!same(&u, want))
		printf("# got model=%s in=%llu out=%llu cr=%llu cw=%llu\n",
		    u.model, u.input, u.output, u.cache_read, u.cache_write);
	for (i = 0; i <= n; i++) {
		scan_pieces(kind, p, n, i, i, &u);
		bad += !same(&u, want);
		for (j = i; j <= n; j += 37) {
			scan_pieces(kind, p, n, i, j, &u);
			bad += !same(&u, want);
		}
	}
	snprintf(msg, sizeof msg, "%s: every split point", name);
	CHECK(msg, bad == 0);
	usage_scan_init(&s, kind);
	for (i = 0; i < n; i++)
		usage_scan_feed(&s, p + i, 1);
	usage_scan_done(&s, &u);
	snprintf(msg, sizeof msg, "%s: byte by byte", name);
	CHECK(msg, same(&u, want));
}

static void
test_scanner(void)
{
	struct usage a = { "claude-sonnet-4-5-20250929", 1234, 321, 7890, 56 };
	struct usage r = { "gpt-5-codex-2025", 2000, 42, 1500, 0 };
	struct usage aj = { "claude-opus-4-1", 10, 40, 30, 20 };
	struct usage rj = { "gpt-5", 11, 22, 3, 0 };
	struct usage cj = { "gpt-5-codex", 100, 7, 64, 0 };

	every_split("anthropic stream", USAGE_ANTHROPIC_SSE, anthropic_sse,
	    &a);
	every_split("responses stream (CRLF)", USAGE_RESPONSES_SSE,
	    responses_sse, &r);
	every_split("anthropic json", USAGE_ANTHROPIC_JSON, anthropic_json,
	    &aj);
	every_split("responses json", USAGE_RESPONSES_JSON, responses_json,
	    &rj);
	every_split("chat json", USAGE_CHAT_JSON, chat_json, &cj);
}

static void
test_scanner_edges(void)
{
	struct usage_scan s;
	struct usage u, zero;
	char *big;
	size_t i, len;
	/* Cut off before its blank line: the last event still counts. */
	static const char cut[] = "event: message_start\ndata: {\"type\":"
	    "\"message_start\",\"message\":{\"model\":\"m\",\"usage\":"
	    "{\"input_tokens\":5}}}\n\nevent: message_delta\ndata: "
	    "{\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}";
	/* Events without names, typed by their JSON only. */
	static const char unnamed[] = "data: {\"type\":\"response.completed\","
	    "\"response\":{\"model\":\"x\",\"usage\":{\"input_tokens\":1,"
	    "\"output_tokens\":2}}}\n\ndata: [DONE]\n\n";
	static const char *const garbage[] = {
		"", "{", "}}}}", "null", "[1,2,3]", "\"usage\"",
		"{\"usage\":\"lots\"}", "{\"usage\":{\"input_tokens\":-5,"
		"\"output_tokens\":\"7\"}}", "data: {\"usage\":\n\n\n",
		"event: message_start\ndata: {\"usage\": {\n\n",
		"event: message_delta\ndata: {\"type\":\"message_delta\","
		"\"usage\":{\"output_tokens\":1e300}}\n\n",
		"\xff\xfe\x00garbage\r\r\n\n::::\n",
	};
	static const enum usage_kind kinds[] = { USAGE_ANTHROPIC_SSE,
	    USAGE_ANTHROPIC_JSON, USAGE_RESPONSES_SSE, USAGE_RESPONSES_JSON,
	    USAGE_CHAT_JSON };
	int ok = 1;
	size_t k;

	memset(&zero, 0, sizeof zero);
	usage_scan_init(&s, USAGE_ANTHROPIC_SSE);
	usage_scan_feed(&s, cut, strlen(cut));
	usage_scan_done(&s, &u);
	CHECK("stream cut before the blank line", u.input == 5 &&
	    u.output == 9 && strcmp(u.model, "m") == 0);

	usage_scan_init(&s, USAGE_RESPONSES_SSE);
	usage_scan_feed(&s, unnamed, strlen(unnamed));
	usage_scan_done(&s, &u);
	CHECK("unnamed events", u.input == 1 && u.output == 2 &&
	    strcmp(u.model, "x") == 0);

	for (i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
		for (k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
			usage_scan_init(&s, kinds[k]);
			/* The last one holds a NUL: feed past it. */
			usage_scan_feed(&s, garbage[i], strlen(garbage[i]) +
			    (i == 11 ? 4 : 0));
			usage_scan_done(&s, &u);
			if (u.input || u.output || u.cache_read ||
			    u.cache_write) {
				printf("# garbage %zu kind %d gave counts\n",
				    i, (int)kinds[k]);
				ok = 0;
			}
		}
	CHECK("garbage gives zeros", ok);

	/* Past 4 MiB the JSON scanner gives up rather than grow. */
	len = 5 * 1024 * 1024;
	big = malloc(len);
	CHECK("big alloc", big != NULL);
	if (big != NULL) {
		memset(big, ' ', len);
		memcpy(big, anthropic_json, strlen(anthropic_json));
		usage_scan_init(&s, USAGE_ANTHROPIC_JSON);
		for (i = 0; i < len; i += 65536)
			usage_scan_feed(&s, big + i, len - i < 65536 ?
			    len - i : 65536);
		CHECK("json over 4 MiB: gave up, buffer freed", s.gave_up &&
		    s.json.p == NULL);
		usage_scan_done(&s, &u);
		CHECK("json over 4 MiB: zeros", same(&u, &zero));
		free(big);
	}

	usage_scan_init(&s, USAGE_NONE);
	usage_scan_feed(&s, anthropic_json, strlen(anthropic_json));
	usage_scan_done(&s, &u);
	CHECK("USAGE_NONE reads nothing", same(&u, &zero));
	usage_scan_done(&s, &u);
	CHECK("done twice", same(&u, &zero));

	CHECK("kind: claude sse", usage_kind_for("claude",
	    "text/event-stream; charset=utf-8", 32) == USAGE_ANTHROPIC_SSE);
	CHECK("kind: claude json", usage_kind_for("claude",
	    "application/json", 16) == USAGE_ANTHROPIC_JSON);
	CHECK("kind: claude none", usage_kind_for("claude", NULL, 0) ==
	    USAGE_ANTHROPIC_JSON);
	CHECK("kind: codex sse", usage_kind_for("codex", "Text/Event-Stream",
	    17) == USAGE_RESPONSES_SSE);
	CHECK("kind: codex json", usage_kind_for("codex", "application/json",
	    16) == USAGE_RESPONSES_JSON);
	CHECK("kind: other", usage_kind_for("gemini", "application/json",
	    16) == USAGE_NONE);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *s = NULL;
	size_t cap = 0;
	ssize_t n;

	*len = 0;
	if (fp == NULL)
		return NULL;
	n = getdelim(&s, &cap, '\0', fp);
	fclose(fp);
	if (n < 0) {
		free(s);
		return strdup("");
	}
	*len = (size_t)n;
	return s;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; s && *s; s++)
		n += *s == '\n';
	return n;
}

static void
test_record(void)
{
	struct config cfg;
	struct usage_rec r;
	struct stat st;
	char path[512], old[512];
	char *s, *nl;
	cJSON *j;
	size_t len;
	int i;

	memset(&cfg, 0, sizeof cfg);
	cfg.auth_dir = tmpdir;
	cfg.usage_max = 10485760;
	memset(&r, 0, sizeof r);
	r.provider = "claude";
	r.account = "user@example.com";
	r.status = 200;
	r.ms = 1234;
	r.u = (struct usage){ "claude-sonnet-4-5", 1234, 321, 7890, 56 };
	snprintf(path, sizeof path, "%s/usage.jsonl", tmpdir);
	snprintf(old, sizeof old, "%s/usage.jsonl.1", tmpdir);

	CHECK("record: off by default", usage_record(&cfg, &r) == 0 &&
	    access(path, F_OK) == -1);
	cfg.usage_stats = 1;
	CHECK("record: on", usage_record(&cfg, &r) == 0);
	CHECK("record: file 0600", stat(path, &st) == 0 &&
	    (st.st_mode & 0777) == 0600);
	s = slurp(path, &len);
	CHECK("record: one line", s && count_lines(s) == 1);
	j = s ? cJSON_Parse(s) : NULL;
	CHECK("record: line is JSON", j != NULL);
	if (j != NULL) {
		const cJSON *t = cJSON_GetObjectItem(j, "time");

		CHECK("record: time RFC 3339", cJSON_IsString(t) &&
		    strlen(t->valuestring) == 20 && t->valuestring[10] == 'T'
		    && t->valuestring[19] == 'Z');
		CHECK_STR("record: provider", cJSON_GetStringValue(
		    cJSON_GetObjectItem(j, "provider")), "claude");
		CHECK_STR("record: account", cJSON_GetStringValue(
		    cJSON_GetObjectItem(j, "account")), "user@example.com");
		CHECK_STR("record: model", cJSON_GetStringValue(
		    cJSON_GetObjectItem(j, "model")), "claude-sonnet-4-5");
		CHECK("record: numbers",
		    cJSON_GetNumberValue(cJSON_GetObjectItem(j, "status")) ==
		    200 && cJSON_GetNumberValue(cJSON_GetObjectItem(j,
		    "input")) == 1234 && cJSON_GetNumberValue(
		    cJSON_GetObjectItem(j, "output")) == 321 &&
		    cJSON_GetNumberValue(cJSON_GetObjectItem(j,
		    "cache_read")) == 7890 && cJSON_GetNumberValue(
		    cJSON_GetObjectItem(j, "cache_write")) == 56 &&
		    cJSON_GetNumberValue(cJSON_GetObjectItem(j, "ms")) ==
		    1234);
		CHECK("record: key order", strstr(s, "{\"time\":") == s &&
		    strstr(s, "\"provider\"") < strstr(s, "\"account\"") &&
		    strstr(s, "\"cache_write\"") < strstr(s, "\"ms\""));
		cJSON_Delete(j);
	}
	free(s);

	/* A model with quotes and control bytes stays one JSON line. */
	snprintf(r.u.model, sizeof r.u.model, "evil\"\n{\"x\":1}");
	CHECK("record: escaped", usage_record(&cfg, &r) == 0);
	s = slurp(path, &len);
	nl = s ? strchr(s, '\n') : NULL;
	j = nl ? cJSON_Parse(nl + 1) : NULL;
	CHECK("record: escaped model is one line", s && count_lines(s) == 2
	    && j && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j,
	    "model")), r.u.model) == 0);
	cJSON_Delete(j);
	free(s);

	/* Rotation: a small cap moves the file to .1 and starts anew. */
	cfg.usage_max = 4096;
	for (i = 0; i < 40; i++)
		(void)usage_record(&cfg, &r);
	CHECK("rotate: .1 exists", stat(old, &st) == 0 &&
	    st.st_size <= 4096 && st.st_size > 2048);
	CHECK("rotate: current under the cap", stat(path, &st) == 0 &&
	    st.st_size <= 4096);
	unlink(path);
	unlink(old);
}

static const char report_lines[] =
    "{\"time\":\"2026-01-02T03:04:05Z\",\"provider\":\"claude\","
    "\"account\":\"a@example.com\",\"model\":\"claude-sonnet-4-5\","
    "\"status\":200,\"input\":100,\"output\":10,\"cache_read\":1000,"
    "\"cache_write\":5,\"ms\":900}\n"
    "not json at all\n"
    "{\"time\":\"2026-01-02T23:59:59Z\",\"provider\":\"claude\","
    "\"account\":\"a@example.com\",\"model\":\"claude-sonnet-4-5\","
    "\"status\":529,\"input\":0,\"output\":0,\"cache_read\":0,"
    "\"cache_write\":0,\"ms\":50}\n"
    "\n"
    "{\"truncated\n";
static const char report_lines2[] =
    "{\"time\":\"2026-01-03T00:00:01Z\",\"provider\":\"codex\","
    "\"account\":\"b@example.com\",\"model\":\"gpt-5-codex\","
    "\"status\":200,\"input\":2000,\"output\":42,\"cache_read\":1500,"
    "\"cache_write\":0,\"ms\":3000}\n"
    "{\"time\":7}\n";

static int
write_file(const char *path, const char *s)
{
	FILE *fp = fopen(path, "w");

	if (fp == NULL)
		return -1;
	fputs(s, fp);
	return fclose(fp);
}

/* A row of the report: name then the six numbers, spacing aside. */
static int
has_row(const char *out, const char *key, const char *nums)
{
	const char *p = out;
	char want[256], line[512];

	snprintf(want, sizeof want, "%s %s", key, nums);
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p), i, k = 0;
		int sp = 0;

		/* Collapse runs of spaces. */
		for (i = 0; i < n && k + 1 < sizeof line; i++) {
			if (p[i] == ' ' && sp)
				continue;
			sp = p[i] == ' ';
			line[k++] = p[i];
		}
		line[k] = '\0';
		if (strcmp(line, want) == 0)
			return 1;
		p = nl ? nl + 1 : NULL;
	}
	return 0;
}

static void
test_report(void)
{
	struct config cfg;
	char path[512], old[512], *out = NULL;
	size_t len = 0;
	FILE *fp;

	memset(&cfg, 0, sizeof cfg);
	cfg.auth_dir = tmpdir;
	cfg.usage_stats = 1;
	snprintf(path, sizeof path, "%s/usage.jsonl", tmpdir);
	snprintf(old, sizeof old, "%s/usage.jsonl.1", tmpdir);

	fp = open_memstream(&out, &len);
	CHECK("report: empty ok", usage_report(&cfg, fp) == 0);
	fclose(fp);
	CHECK("report: empty says so", out && strstr(out, "no usage "
	    "recorded") != NULL);
	free(out);

	CHECK("report: files", write_file(old, report_lines) == 0 &&
	    write_file(path, report_lines2) == 0);
	fp = open_memstream(&out, &len);
	CHECK("report: ok", usage_report(&cfg, fp) == 0);
	fclose(fp);
	printf("# report:\n");
	for (char *p = out, *nl; p && *p; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		printf("#  %.*s\n", (int)(nl - p), p);
	}
	CHECK("report: day 1", has_row(out, "2026-01-02", "2 1 100 10 1000 5 90.5%"));
	CHECK("report: day 2", has_row(out, "2026-01-03", "1 0 2000 42 1500 0 75.0%"));
	CHECK("report: account a", has_row(out, "a@example.com",
	    "2 1 100 10 1000 5 90.5%"));
	CHECK("report: account b", has_row(out, "b@example.com",
	    "1 0 2000 42 1500 0 75.0%"));
	CHECK("report: model", has_row(out, "claude-sonnet-4-5",
	    "2 1 100 10 1000 5 90.5%"));
	CHECK("report: model codex", has_row(out, "gpt-5-codex",
	    "1 0 2000 42 1500 0 75.0%"));
	CHECK("report: total", has_row(out, "TOTAL", "3 1 2100 52 2500 5 80.5%"));
	CHECK("report: days in order", out && strstr(out, "2026-01-02") <
	    strstr(out, "2026-01-03"));
	CHECK("report: bad lines counted", out && strstr(out, "3 lines") !=
	    NULL);
	free(out);
	unlink(path);
	unlink(old);
}

/* Run fn with fd 2 going to a file; return what was written. */
static char *
capture_stderr(void (*fn)(void))
{
	char path[512];
	size_t len;
	int fd, saved;

	snprintf(path, sizeof path, "%s/stderr.txt", tmpdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	fn();
	dup2(saved, 2);
	close(saved);
	return slurp(path, &len);
}

#define TOKEN "sk-ant-oat01-SECRETSECRETabcdefgh12345678"
#define RTOKEN "sk-ant-ort01-REFRESHREFRESH87654321"
#define APIKEY "sk-proj-APIKEYAPIKEY1234"

static const char req_head[] =
    "POST /v1/messages?beta=true&api_key=" APIKEY "&x=1 HTTP/1.1\r\n"
    "Host: api.anthropic.com\r\n"
    "Authorization: Bearer " TOKEN "\r\n"
    "x-api-key: " APIKEY "\r\n"
    "Proxy-Authorization: Basic " RTOKEN "\r\n"
    "Cookie: session=" RTOKEN "\r\n"
    "X-Refresh-Token: " RTOKEN "\r\n"
    "X-Goog-Api-Key: " APIKEY "\r\n"
    "X-Client-Secret: " APIKEY "\r\n"
    "anthropic-beta: oauth-2025-04-20\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"body\":\"" TOKEN "\"}";

static const char resp_head[] =
    "HTTP/1.1 200 OK\r\n"
    "Set-Cookie: __cf_bm=" RTOKEN "; path=/\r\n"
    "request-id: req_011\r\n"
    "\r\n";

static void
heads(void)
{
	log_init(1, 0);
	log_head("upstream request", req_head, sizeof req_head - 1);
	log_head("upstream response", resp_head, sizeof resp_head - 1);
	log_init(0, 0);
	log_head("not in debug", req_head, sizeof req_head - 1);
}

/* Does s contain any 8-byte piece of secret? */
static int
has_piece(const char *s, const char *secret)
{
	char piece[9];
	size_t i;

	for (i = 0; i + 8 <= strlen(secret); i++) {
		memcpy(piece, secret + i, 8);
		piece[8] = '\0';
		if (strstr(s, piece) != NULL)
			return 1;
	}
	return 0;
}

static void
test_log_head(void)
{
	char *s = capture_stderr(heads);

	printf("# log_head wrote:\n");
	for (char *p = s, *nl; p && *p; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		printf("#  %.*s\n", (int)(nl - p), p);
	}
	CHECK("head: written", s && strstr(s, "debug: upstream request: POST "
	    "/v1/messages?beta=true&api_key=[redacted]&x=1 HTTP/1.1\n"));
	CHECK("head: no token piece", s && !has_piece(s, TOKEN) &&
	    !has_piece(s, RTOKEN) && !has_piece(s, APIKEY));
	CHECK("head: authorization", s && strstr(s, "Authorization: "
	    "[redacted]\n"));
	CHECK("head: x-api-key", s && strstr(s, "x-api-key: [redacted]\n"));
	CHECK("head: proxy-authorization", s && strstr(s,
	    "Proxy-Authorization: [redacted]\n"));
	CHECK("head: cookie", s && strstr(s, "Cookie: [redacted]\n"));
	CHECK("head: set-cookie", s && strstr(s, "Set-Cookie: [redacted]\n"));
	CHECK("head: name with token", s && strstr(s, "X-Refresh-Token: "
	    "[redacted]\n"));
	CHECK("head: name with key", s && strstr(s, "X-Goog-Api-Key: "
	    "[redacted]\n"));
	CHECK("head: name with secret", s && strstr(s, "X-Client-Secret: "
	    "[redacted]\n"));
	CHECK("head: others kept", s && strstr(s, "anthropic-beta: "
	    "oauth-2025-04-20\n") && strstr(s, "request-id: req_011\n") &&
	    strstr(s, "upstream response: HTTP/1.1 200 OK\n"));
	CHECK("head: body not logged", s && !strstr(s, "body"));
	CHECK("head: nothing when not debug", s && !strstr(s, "not in debug"));
	free(s);
}

static void
lines(void)
{
	int i;

	for (i = 0; i < 100; i++)
		log_info("line %d of the test, padded to some length ......"
		    "..............................", i);
}

static void
after_close(void)
{
	log_info("after close: stderr only");
}

static void
test_log_file(void)
{
	char dir[400], path[512], old[512], dpath[512];
	struct stat st;
	char *s, *e;
	size_t len;

	snprintf(dir, sizeof dir, "%s/logs", tmpdir);
	snprintf(path, sizeof path, "%s/cli-proxy-api.log", dir);
	snprintf(old, sizeof old, "%s/cli-proxy-api.log.1", dir);

	CHECK("log_dir: beside config", log_dir("/etc/cpa/config.yaml",
	    "/a", dpath, sizeof dpath) == 0 && !strcmp(dpath, "/etc/cpa/logs"));
	CHECK("log_dir: auth-dir without config", log_dir(NULL, "/a/auth",
	    dpath, sizeof dpath) == 0 && !strcmp(dpath, "/a/auth/logs"));
	CHECK("log_dir: relative config", log_dir("config.yaml", "/a",
	    dpath, sizeof dpath) == 0 && !strcmp(dpath, "logs"));
	CHECK("log_dir: too long", log_dir(NULL, "/a", dpath, 4) == -1 &&
	    errno == ENAMETOOLONG);

	log_init(0, 0);
	CHECK("log file: open", log_open_file(dir, 4096) == 0);
	CHECK("log file: dir 0700", stat(dir, &st) == 0 &&
	    (st.st_mode & 0777) == 0700);
	CHECK("log file: file 0600", stat(path, &st) == 0 &&
	    (st.st_mode & 0777) == 0600);
	e = capture_stderr(lines);
	log_close_file();
	CHECK("log file: stderr too", e && count_lines(e) == 100);
	free(e);
	CHECK("log file: rotated", stat(old, &st) == 0 && st.st_size <= 4096 &&
	    st.st_size > 3000);
	CHECK("log file: current under the cap", stat(path, &st) == 0 &&
	    st.st_size <= 4096);
	s = slurp(path, &len);
	CHECK("log file: time stamp and pid", s && s[4] == '-' &&
	    s[10] == 'T' && s[19] == 'Z' && strstr(s, " cli-proxy-api[") ==
	    s + 20);
	CHECK("log file: last line there", s && strstr(s, "line 99 of the "
	    "test"));
	free(s);
	free(capture_stderr(after_close));
	CHECK("log file: closed", stat(path, &st) == 0 && (s = slurp(path,
	    &len)) && !strstr(s, "after close"));
	free(s);
}

int
main(void)
{
	char cmd[300];
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof tmpdir, "%s/test_usage.XXXXXX", t && *t ? t :
	    "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_scanner();
	test_scanner_edges();
	test_record();
	test_report();
	test_log_head();
	test_log_file();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", tmpdir);
	return UNIT_END();
}
