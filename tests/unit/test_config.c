/* Unit tests for config.c and url.c: temp YAML files under /tmp. */
#include <sys/stat.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parsers/config.h"
#include "support/url.h"
#include "unit.h"

static char dir[64];
static char home[128];

/* The CLIProxyAPI guide's example, verbatim. */
static const char guide[] =
    "port: 8317\n"
    "remote-management:\n"
    "  allow-remote: false\n"
    "  secret-key: \"\"\n"
    "auth-dir: \"~/.cli-proxy-api\"\n"
    "debug: false\n"
    "logging-to-file: false\n"
    "usage-statistics-enabled: true\n"
    "proxy-url: \"\"\n"
    "request-retry: 3\n"
    "quota-exceeded:\n"
    "  switch-project: true\n"
    "  switch-preview-model: true\n"
    "auth:\n"
    "  providers: []\n"
    "generative-language-api-key: []\n"
    "api-keys:\n"
    "  - \"sk-dummy\"\n";

static const char *
tmppath(const char *name)
{
	static char p[256];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

/* stderr into a file while config_load runs, to count warning lines. */
static int saved_stderr = -1;

static void
capture_begin(void)
{
	int fd;

	fflush(stderr);
	saved_stderr = dup(2);
	fd = open(tmppath("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
}

static const char *
capture_end(void)
{
	static char text[8192];
	FILE *fp;
	size_t n = 0;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	if ((fp = fopen(tmppath("stderr"), "r")) != NULL) {
		n = fread(text, 1, sizeof text - 1, fp);
		fclose(fp);
	}
	text[n] = '\0';
	return text;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* Load text as config.yaml; warnings (stderr) are captured into *warn. */
static int
load_text(const char *text, struct config *cfg, char *err, size_t errlen,
    const char **warn)
{
	char path[256];
	const char *w;
	int rc;

	snprintf(path, sizeof path, "%s", tmppath("config.yaml"));
	write_file(path, text);
	capture_begin();
	rc = config_load(path, cfg, err, errlen);
	w = capture_end();
	if (warn != NULL)
		*warn = w;
	return rc;
}

/* A field of struct config as text, so that one table checks them all. */
static const char *
show(const struct config *c, const char *field)
{
	static char s[512];

	if (strcmp(field, "port") == 0)
		snprintf(s, sizeof s, "%d", c->port);
	else if (strcmp(field, "host") == 0)
		snprintf(s, sizeof s, "%s", c->host ? c->host : "(null)");
	else if (strcmp(field, "auth_dir") == 0)
		snprintf(s, sizeof s, "%s", c->auth_dir);
	else if (strcmp(field, "debug") == 0)
		snprintf(s, sizeof s, "%d", c->debug);
	else if (strcmp(field, "api_keys") == 0) {
		size_t i;

		snprintf(s, sizeof s, "%zu", c->n_api_keys);
		for (i = 0; i < c->n_api_keys; i++)
			snprintf(s + strlen(s), sizeof s - strlen(s), ",%s",
			    c->api_keys[i]);
	} else if (strcmp(field, "claude_base") == 0)
		snprintf(s, sizeof s, "%s|%s|%s|%s", c->claude_base.host,
		    c->claude_base.port, c->claude_base.path,
		    c->claude_base.hostport);
	else if (strcmp(field, "ca_file") == 0)
		snprintf(s, sizeof s, "%s", c->ca_file);
	else if (strcmp(field, "claude_system_prefix") == 0)
		snprintf(s, sizeof s, "%d", c->claude_system_prefix);
	else if (strcmp(field, "claude_oauth_beta") == 0)
		snprintf(s, sizeof s, "%d", c->claude_oauth_beta);
	else if (strcmp(field, "max_head") == 0)
		snprintf(s, sizeof s, "%zu", c->max_head);
	else if (strcmp(field, "max_headers") == 0)
		snprintf(s, sizeof s, "%zu", c->max_headers);
	else if (strcmp(field, "max_body") == 0)
		snprintf(s, sizeof s, "%zu", c->max_body);
	else if (strcmp(field, "head_timeout") == 0)
		snprintf(s, sizeof s, "%d", c->head_timeout);
	else if (strcmp(field, "idle_timeout") == 0)
		snprintf(s, sizeof s, "%d", c->idle_timeout);
	else if (strcmp(field, "connect_timeout") == 0)
		snprintf(s, sizeof s, "%d", c->connect_timeout);
	else if (strcmp(field, "upstream_timeout") == 0)
		snprintf(s, sizeof s, "%d", c->upstream_timeout);
	else if (strcmp(field, "choices") == 0)
		snprintf(s, sizeof s, "%d,%d,%d,%d", c->claude_third_party,
		    c->routing, c->status_page, c->sandbox);
	else if (strcmp(field, "limits") == 0)
		snprintf(s, sizeof s, "%d,%d,%d,%d", c->max_connections,
		    c->first_byte_timeout, c->body_timeout,
		    c->claude_refusal_cooldown);
	else if (strcmp(field, "codex_encrypted_reasoning") == 0)
		snprintf(s, sizeof s, "%d", c->codex_encrypted_reasoning);
	else if (strcmp(field, "models") == 0)
		snprintf(s, sizeof s, "%s,%d", c->codex_client_version,
		    c->models_refresh);
	else if (strcmp(field, "oauth_alias") == 0) {
		size_t i;

		snprintf(s, sizeof s, "%zu", c->n_model_alias);
		for (i = 0; i < c->n_model_alias; i++)
			snprintf(s + strlen(s), sizeof s - strlen(s),
			    ",%s:%s=>%s%s", c->model_alias[i].provider,
			    c->model_alias[i].alias, c->model_alias[i].name,
			    c->model_alias[i].fork ? "+fork" : "");
	} else
		snprintf(s, sizeof s, "(no field %s)", field);
	return s;
}

/* "$HOME" at the start of a wanted value stands for the test's HOME. */
static const char *
want(const char *w)
{
	static char s[512];

	if (strncmp(w, "$HOME", 5) != 0)
		return w;
	snprintf(s, sizeof s, "%s%s", home, w + 5);
	return s;
}

static const struct {
	const char *field, *value;
} defaults[] = {
	{ "port", "8317" },
	{ "host", "(null)" },
	{ "auth_dir", "$HOME/.cli-proxy-api" },
	{ "debug", "0" },
	{ "api_keys", "0" },
	{ "claude_base", "api.anthropic.com|443||api.anthropic.com" },
	{ "ca_file", "/etc/ssl/certs/ca-certificates.crt" },
	{ "claude_system_prefix", "1" },
	{ "claude_oauth_beta", "1" },
	{ "max_head", "65536" },
	{ "max_headers", "100" },
	{ "max_body", "33554432" },
	{ "head_timeout", "30" },
	{ "idle_timeout", "600" },
	{ "connect_timeout", "10" },
	{ "upstream_timeout", "600" },
	{ "models", "0.171.0,86400" },
	{ "oauth_alias", "0" },
};

static void
check_defaults(const char *name, const struct config *c)
{
	char t[128];
	size_t i;

	for (i = 0; i < sizeof defaults / sizeof defaults[0]; i++) {
		snprintf(t, sizeof t, "%s: %s", name, defaults[i].field);
		CHECK_STR(t, show(c, defaults[i].field),
		    want(defaults[i].value));
	}
}

static void
test_defaults(void)
{
	struct config c;
	char err[256] = "";
	int rc;

	CHECK("config_defaults", config_defaults(&c) == 0);
	check_defaults("config_defaults", &c);
	CHECK("config_defaults: no path", c.path == NULL);
	config_free(&c);

	/* No file anywhere: XDG points at an empty directory. */
	setenv("XDG_CONFIG_HOME", dir, 1);
	if (access("/etc/cli-proxy-api/config.yaml", F_OK) == 0) {
		printf("ok - no file: skipped, /etc/cli-proxy-api exists\n");
		return;
	}
	rc = config_load(NULL, &c, err, sizeof err);
	CHECK("no file: loads", rc == 0);
	CHECK("no file: path NULL", c.path == NULL);
	check_defaults("no file", &c);
	config_free(&c);

	rc = load_text("", &c, err, sizeof err, NULL);
	CHECK("empty file: loads", rc == 0);
	check_defaults("empty file", &c);
	CHECK_STR("empty file: path", c.path, tmppath("config.yaml"));
	config_free(&c);

	rc = load_text("# only a comment\n", &c, err, sizeof err, NULL);
	CHECK("comment-only file: loads", rc == 0);
	config_free(&c);
}

/* A config in $XDG_CONFIG_HOME, else in ~/.config, is found and read. */
static void
test_search(void)
{
	char p[256], err[256] = "";
	struct config c;
	int rc;

	snprintf(p, sizeof p, "%s/xdg", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/xdg/cli-proxy-api", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/xdg/cli-proxy-api/config.yaml", dir);
	write_file(p, "port: 1111\n");
	snprintf(err, sizeof err, "%s/xdg", dir);
	setenv("XDG_CONFIG_HOME", err, 1);
	rc = config_load(NULL, &c, err, sizeof err);
	CHECK("search: XDG_CONFIG_HOME file read", rc == 0 && c.port == 1111);
	CHECK_STR("search: XDG path", c.path, p);
	config_free(&c);
	unlink(p);

	snprintf(p, sizeof p, "%s/.config", home);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/.config/cli-proxy-api", home);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/.config/cli-proxy-api/config.yaml", home);
	write_file(p, "port: 2222\n");
	unsetenv("XDG_CONFIG_HOME");
	rc = config_load(NULL, &c, err, sizeof err);
	CHECK("search: ~/.config file read", rc == 0 && c.port == 2222);
	CHECK_STR("search: ~/.config path", c.path, p);
	config_free(&c);
	unlink(p);
	snprintf(p, sizeof p, "%s/.config/cli-proxy-api", home);
	rmdir(p);
	snprintf(p, sizeof p, "%s/.config", home);
	rmdir(p);
	snprintf(p, sizeof p, "%s/xdg/cli-proxy-api", dir);
	rmdir(p);
	snprintf(p, sizeof p, "%s/xdg", dir);
	rmdir(p);
	setenv("XDG_CONFIG_HOME", dir, 1);

	rc = config_load(tmppath("nonexistent.yaml"), &c, err, sizeof err);
	CHECK("explicit missing file: error", rc == -1);
	CHECK("explicit missing file: message",
	    strstr(err, "nonexistent.yaml: No such file or directory") != NULL);
	rc = config_load(dir, &c, err, sizeof err);
	CHECK("directory as config: error", rc == -1 &&
	    strstr(err, "Is a directory") != NULL);
}

static void
test_guide(void)
{
	struct config c;
	char err[256] = "";
	const char *warn;
	int rc;

	rc = load_text(guide, &c, err, sizeof err, &warn);
	CHECK("guide: loads", rc == 0);
	if (rc != 0)
		printf("# %s\n", err);
	CHECK("guide: port", c.port == 8317);
	CHECK("guide: one api key", c.n_api_keys == 1);
	CHECK_STR("guide: api key", c.n_api_keys ? c.api_keys[0] : NULL,
	    "sk-dummy");
	CHECK_STR("guide: auth-dir", c.auth_dir, want("$HOME/.cli-proxy-api"));
	CHECK("guide: debug", c.debug == 0);
	/* remote-management, logging-to-file, usage-statistics-enabled,
	 * proxy-url, request-retry, quota-exceeded, auth,
	 * generative-language-api-key: one line each, nested keys none. */
	CHECK("guide: 4 warnings", count_lines(warn) == 4);
	CHECK("guide: warning text", strstr(warn, "config.yaml:2: key "
	    "'remote-management' is not used by this program; ignored\n")
	    != NULL);
	CHECK("guide: nested key not warned",
	    strstr(warn, "allow-remote") == NULL);
	config_free(&c);
}

/* Each key, set in a file, shows up in its field. */
static const struct {
	const char *yaml, *field, *value;
} good[] = {
	{ "port: 1\n", "port", "1" },
	{ "codex-client-version: 0.172.1-beta.2\nmodels-refresh: 3600\n",
	    "models", "0.172.1-beta.2,3600" },
	{ "oauth-model-alias:\n  codex:\n    - name: gpt-5.5\n      alias: "
	    "gpt-5-codex\n      fork: true\n    - name: gpt-5.4\n  claude:\n"
	    "    - {name: claude-opus-4-8, alias: claude-opus-4-1}\n"
	    "  gemini-cli:\n    - {name: g, alias: h}\n", "oauth_alias",
	    "2,codex:gpt-5-codex=>gpt-5.5+fork,claude:claude-opus-4-1=>"
	    "claude-opus-4-8" },
	{ "oauth-model-alias:\n", "oauth_alias", "0" },
	{ "port: 65535\n", "port", "65535" },
	{ "port: \"9000\"\n", "port", "9000" },
	{ "host: 0.0.0.0\n", "host", "0.0.0.0" },
	{ "host: \"::\"\n", "host", "::" },
	{ "host: \"\"\n", "host", "(null)" },
	{ "host:\n", "host", "(null)" },
	{ "auth-dir: /var/lib/cpa\n", "auth_dir", "/var/lib/cpa" },
	{ "auth-dir: ~/tokens\n", "auth_dir", "$HOME/tokens" },
	{ "auth-dir: \"~\"\n", "auth_dir", "$HOME" },
	{ "auth-dir: ~other/x\n", "auth_dir", "~other/x" },
	{ "debug: true\n", "debug", "1" },
	{ "debug: TRUE\n", "debug", "1" },
	{ "debug: yes\n", "debug", "1" },
	{ "debug: On\n", "debug", "1" },
	{ "debug: false\n", "debug", "0" },
	{ "debug: No\n", "debug", "0" },
	{ "debug: off\n", "debug", "0" },
	{ "api-keys:\n  - a\n  - \"b c\"\n", "api_keys", "2,a,b c" },
	{ "api-keys: [x, y, z]\n", "api_keys", "3,x,y,z" },
	{ "api-keys: []\n", "api_keys", "0" },
	{ "api-keys:\n", "api_keys", "0" },
	{ "api-keys: ~\n", "api_keys", "0" },
	{ "claude-base-url: https://example.com:8443/api/\n", "claude_base",
	    "example.com|8443|/api|example.com:8443" },
	{ "claude-base-url: \"https://[::1]:9443\"\n", "claude_base",
	    "::1|9443||[::1]:9443" },
	{ "ca-file: ~/ca.pem\n", "ca_file", "$HOME/ca.pem" },
	{ "ca-file: /etc/ssl/cert.pem\n", "ca_file", "/etc/ssl/cert.pem" },
	{ "claude-system-prefix: false\n", "claude_system_prefix", "0" },
	{ "claude-oauth-beta: off\n", "claude_oauth_beta", "0" },
	{ "max-head-bytes: 1024\n", "max_head", "1024" },
	{ "max-head-bytes: 16777216\n", "max_head", "16777216" },
	{ "max-headers: 256\n", "max_headers", "256" },
	{ "max-headers: 1\n", "max_headers", "1" },
	{ "max-body-bytes: 4294967295\n", "max_body", "4294967295" },
	{ "max-body-bytes: 1\n", "max_body", "1" },
	{ "head-timeout: 5\n", "head_timeout", "5" },
	{ "idle-timeout: 86400\n", "idle_timeout", "86400" },
	{ "connect-timeout: 1\n", "connect_timeout", "1" },
	{ "upstream-timeout: 1200\n", "upstream_timeout", "1200" },
	{ "foo: bar\nport: 1234\n", "port", "1234" },
	{ "codex-api-key:\n  - api-key: x\nport: 4321\n", "port", "4321" },
	{ "---\nport: 777\n...\n", "port", "777" },
	{ "port: 1\n", "choices", "0,0,0,0" },
	{ "claude-third-party: api-key\nrouting: round-robin\nstatus: off\n"
	    "sandbox: required\n", "choices", "1,1,1,1" },
	{ "claude-third-party: REFUSE\nstatus: api-key\n", "choices",
	    "2,0,2,0" },
	{ "port: 1\n", "limits", "256,10,120,3600" },
	{ "max-connections: 1\nfirst-byte-timeout: 2\nbody-timeout: 3\n"
	    "claude-refusal-cooldown: 0\n", "limits", "1,2,3,0" },
	{ "codex-encrypted-reasoning: false\n", "codex_encrypted_reasoning",
	    "0" },
};

static void
test_good(void)
{
	struct config c;
	char err[256], t[160];
	size_t i;
	int rc;

	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		err[0] = '\0';
		rc = load_text(good[i].yaml, &c, err, sizeof err, NULL);
		snprintf(t, sizeof t, "good %zu (%s): loads", i, good[i].field);
		CHECK(t, rc == 0);
		if (rc != 0) {
			printf("# %s\n", err);
			continue;
		}
		snprintf(t, sizeof t, "good %zu (%s): value", i, good[i].field);
		CHECK_STR(t, show(&c, good[i].field), want(good[i].value));
		config_free(&c);
	}
}

/* Bad files: each error names the place and, in words, the problem. */
static const struct {
	const char *name, *yaml, *at, *what;
} bad[] = {
	{ "port 99999", "debug: true\nport: 99999\n", ":2:7: ",
	    "port must be a number from 1 to 65535" },
	{ "port 0", "port: 0\n", ":1:7: ", "port must be a number" },
	{ "port abc", "port: abc\n", ":1:7: ", "port must be a number" },
	{ "port 8317abc", "port: 8317abc\n", ":1:7: ", "port" },
	{ "port float", "port: 8317.0\n", ":1:7: ", "port" },
	{ "port negative", "port: -1\n", ":1:7: ", "port" },
	{ "port overflow", "port: 99999999999999999999999\n", ":1:7: ",
	    "port" },
	{ "port list", "port: [1]\n", ":1:7: ", "port" },
	{ "port empty", "port:\n", ":1:", "port" },
	{ "max-body-bytes overflow", "max-body-bytes: 4294967296\n", ":1:",
	    "max-body-bytes must be a number from 1 to 4294967295" },
	{ "max-head-bytes small", "max-head-bytes: 1023\n", ":1:",
	    "max-head-bytes must be a number from 1024 to 16777216" },
	{ "max-headers 257", "max-headers: 257\n", ":1:", "max-headers" },
	{ "head-timeout 0", "head-timeout: 0\n", ":1:", "head-timeout" },
	{ "idle-timeout big", "idle-timeout: 86401\n", ":1:",
	    "idle-timeout must be a number from 1 to 86400" },
	{ "connect-timeout text", "connect-timeout: 10s\n", ":1:",
	    "connect-timeout" },
	{ "upstream-timeout float", "upstream-timeout: 1.5\n", ":1:",
	    "upstream-timeout" },
	{ "routing unknown", "routing: random\n", ":1:10: ",
	    "routing must be headroom or round-robin, not 'random'" },
	{ "third party unknown", "claude-third-party: yes\n", ":1:",
	    "claude-third-party must be subscription, api-key or refuse" },
	{ "max-connections 0", "max-connections: 0\n", ":1:",
	    "max-connections must be a number from 1" },
	{ "api key with a line break", "claude-api-key:\n  - api-key: "
	    "\"k\\r\\nX: y\"\n", ":2:", "control character" },
	{ "debug maybe", "debug: maybe\n", ":1:8: ",
	    "debug must be true or false" },
	{ "debug 1", "debug: 1\n", ":1:", "debug must be true or false" },
	{ "oauth-beta list", "claude-oauth-beta: []\n", ":1:",
	    "claude-oauth-beta must be true or false" },
	{ "api-keys string", "api-keys: sk-secret-1\n", ":1:11: ",
	    "api-keys must be a list of strings" },
	{ "api-keys mapping item", "api-keys:\n  - sk-secret-2\n  - a: b\n",
	    ":3:5: ", "api-keys must be a list of strings" },
	{ "api-keys empty item", "api-keys:\n  - \"\"\n", ":2:5: ",
	    "api-keys" },
	{ "api-keys null item", "api-keys:\n  -\n", ":2:", "api-keys" },
	{ "http base url", "claude-base-url: http://api.anthropic.com\n",
	    ":1:18: ", "claude-base-url: must start with https://" },
	{ "base url query", "claude-base-url: https://a.b/?x=1\n", ":1:",
	    "claude-base-url" },
	{ "host list", "host: [a]\n", ":1:", "host must be a string" },
	{ "auth-dir empty", "auth-dir: \"\"\n", ":1:", "auth-dir" },
	{ "ca-file map", "ca-file: {a: b}\n", ":1:", "ca-file" },
	{ "duplicate key", "port: 1\ndebug: true\nport: 2\n", ":3:1: ",
	    "duplicate key 'port'" },
	{ "duplicate unknown key", "foo: 1\nfoo: 2\n", ":2:1: ",
	    "duplicate key 'foo'" },
	{ "root list", "- a\n- b\n", ":1:1: ", "mapping" },
	{ "root scalar", "hello\n", ":1:1: ", "mapping" },
	{ "malformed", "port: 1\n  debug: true\n", ":2:8: ", "not allowed" },
	{ "unclosed quote", "port: 1\nhost: \"abc\n", ":", "quoted scalar" },
	{ "bad indentation", "api-keys:\n  - a\n - b\n", ":3:", "expected" },
	{ "tab indentation", "remote-management:\n\tallow-remote: x\n", ":2:1: ",
	    "cannot start any token" },
	{ "unknown alias", "port: *nope\n", ":1:7: ", "undefined alias" },
	{ "two documents", "port: 1\n---\nport: 2\n", ":3:1: ",
	    "only one YAML document" },
	{ "error in second document", "port: 1\n---\n\"x\n", ":4:1: ",
	    "quoted scalar" },
	{ "complex key", "? [a]\n: b\n", ":1:3: ", "keys must be strings" },
	{ "client version with a space", "codex-client-version: 0.1 x\n",
	    ":1:23: ", "codex-client-version must be a version" },
	{ "models-refresh too short", "models-refresh: 5\n", ":1:17: ",
	    "models-refresh must be a number from 60" },
	{ "alias not a list", "oauth-model-alias:\n  codex: gpt-5\n", ":2:10: ",
	    "oauth-model-alias: codex must be a list" },
	{ "alias with a quote", "oauth-model-alias:\n  codex:\n    - {name: "
	    "'a\"b', alias: c}\n", ":3:7: ", "name and alias are model ids" },
};

static void
test_bad(void)
{
	struct config c;
	char err[256], t[160];
	size_t i;
	int rc;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		memset(&c, 0x5a, sizeof c);
		rc = load_text(bad[i].yaml, &c, err, sizeof err, NULL);
		snprintf(t, sizeof t, "bad %s: fails", bad[i].name);
		CHECK(t, rc == -1);
		if (rc == 0)
			config_free(&c);
		snprintf(t, sizeof t, "bad %s: cfg left empty", bad[i].name);
		CHECK(t, c.path == NULL && c.port == 0 && c.api_keys == NULL &&
		    c.claude_base.host == NULL && c.ca_file == NULL);
		snprintf(t, sizeof t, "bad %s: message has path and place",
		    bad[i].name);
		CHECK(t, strncmp(err, tmppath("config.yaml"),
		    strlen(tmppath("config.yaml"))) == 0 &&
		    strstr(err, bad[i].at) != NULL);
		snprintf(t, sizeof t, "bad %s: message says what", bad[i].name);
		CHECK(t, strstr(err, bad[i].what) != NULL);
		snprintf(t, sizeof t, "bad %s: no secret in message",
		    bad[i].name);
		CHECK(t, strstr(err, "sk-secret") == NULL);
		if (rc != -1 || strstr(err, bad[i].what) == NULL ||
		    strstr(err, bad[i].at) == NULL)
			printf("# %s\n", err);
	}
}

static void
test_warnings(void)
{
	struct config c;
	char err[256] = "";
	const char *warn;
	int rc;

	rc = load_text("port: 1\nfoo: bar\nquota-exceeded: true\n", &c, err,
	    sizeof err, &warn);
	CHECK("unknown key: loads", rc == 0 && c.port == 1);
	CHECK("unknown key: two warnings", count_lines(warn) == 2);
	CHECK("unknown key: text",
	    strstr(warn, ":2: unknown key 'foo'; ignored\n") != NULL);
	CHECK("unused key: text", strstr(warn, ":3: key 'quota-exceeded' is not "
	    "used by this program; ignored\n") != NULL);
	config_free(&c);

	rc = load_text("port: 1\n", &c, err, sizeof err, &warn);
	CHECK("known keys: no warning", rc == 0 && *warn == '\0');
	config_free(&c);

	/* A value in an unused key is never echoed: it may be a secret. */
	rc = load_text("claude-api-key:\n  - api-key: sk-secret-3\n", &c,
	    err, sizeof err, &warn);
	CHECK("unused key: secret not echoed", rc == 0 &&
	    strstr(warn, "sk-secret") == NULL);
	config_free(&c);
}

/* HOME unset: only a ~ that is actually used is an error. */
static void
test_no_home(void)
{
	struct config c;
	char err[256] = "", *s;
	struct passwd *pw = getpwuid(getuid());
	char want_home[512];
	int rc;

	/* Without HOME, the password file's home stands in (inetd). */
	snprintf(want_home, sizeof want_home, "%s/x", pw ? pw->pw_dir : "?");
	unsetenv("HOME");
	s = config_expand_home("~/x");
	CHECK_STR("expand_home: passwd home without HOME", s, want_home);
	free(s);
	s = config_expand_home("/abs");
	CHECK_STR("expand_home: absolute copied", s, "/abs");
	free(s);
	rc = load_text("auth-dir: /srv/auth\n", &c, err, sizeof err, NULL);
	CHECK("no HOME: absolute auth-dir loads", rc == 0);
	config_free(&c);
	rc = load_text("port: 1\n", &c, err, sizeof err, NULL);
	CHECK("no HOME: default auth-dir from passwd", rc == 0 &&
	    c.auth_dir && strncmp(c.auth_dir, want_home,
	    strlen(want_home) - 1) == 0);
	config_free(&c);
	setenv("HOME", home, 1);

	s = config_expand_home("~");
	CHECK_STR("expand_home: ~", s, home);
	free(s);
	s = config_expand_home("~/a/b");
	CHECK_STR("expand_home: ~/a/b", s, want("$HOME/a/b"));
	free(s);
	s = config_expand_home("a/~");
	CHECK_STR("expand_home: relative copied", s, "a/~");
	free(s);
}

static const struct {
	const char *in, *host, *port, *path, *hostport;
} urls[] = {
	{ "https://api.anthropic.com", "api.anthropic.com", "443", "",
	    "api.anthropic.com" },
	{ "https://api.anthropic.com/", "api.anthropic.com", "443", "",
	    "api.anthropic.com" },
	{ "HTTPS://Example.COM", "Example.COM", "443", "", "Example.COM" },
	{ "https://h:8443", "h", "8443", "", "h:8443" },
	{ "https://h:443/", "h", "443", "", "h:443" },
	{ "https://h/api/v2/", "h", "443", "/api/v2", "h" },
	{ "https://h/api//", "h", "443", "/api", "h" },
	{ "https://127.0.0.1:1/p", "127.0.0.1", "1", "/p", "127.0.0.1:1" },
	{ "https://[::1]", "::1", "443", "", "[::1]" },
	{ "https://[2001:db8::1]:65535/x/", "2001:db8::1", "65535", "/x",
	    "[2001:db8::1]:65535" },
};

static const struct {
	const char *in, *why;
} badurls[] = {
	{ "http://h", "must start with https://" },
	{ "h", "must start with https://" },
	{ "", "must start with https://" },
	{ "https://", "no host" },
	{ "https:///p", "no host" },
	{ "https://h:0", "port" },
	{ "https://h:65536", "port" },
	{ "https://h:", "port" },
	{ "https://h:12a", "port" },
	{ "https://h:-1", "port" },
	{ "https://h:100000", "port" },
	{ "https://h?x=1", "query" },
	{ "https://h/p#f", "fragment" },
	{ "https://u:p@h", "user" },
	{ "https://[::1", "IPv6" },
	{ "https://[zz]", "IPv6" },
	{ "https://[::1]x", "host" },
	{ "https://h h", "host" },
	{ "https://h/a b", "path" },
};

static void
test_url(void)
{
	struct url u;
	char err[128], t[160];
	size_t i;
	int rc;

	for (i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		rc = url_parse(urls[i].in, &u, err, sizeof err);
		snprintf(t, sizeof t, "url %s: parses", urls[i].in);
		CHECK(t, rc == 0);
		if (rc != 0)
			continue;
		snprintf(t, sizeof t, "url %s: host", urls[i].in);
		CHECK_STR(t, u.host, urls[i].host);
		snprintf(t, sizeof t, "url %s: port", urls[i].in);
		CHECK_STR(t, u.port, urls[i].port);
		snprintf(t, sizeof t, "url %s: path", urls[i].in);
		CHECK_STR(t, u.path, urls[i].path);
		snprintf(t, sizeof t, "url %s: hostport", urls[i].in);
		CHECK_STR(t, u.hostport, urls[i].hostport);
		url_free(&u);
		snprintf(t, sizeof t, "url %s: url_free NULLs", urls[i].in);
		CHECK(t, u.host == NULL && u.port == NULL && u.path == NULL &&
		    u.hostport == NULL);
	}
	for (i = 0; i < sizeof badurls / sizeof badurls[0]; i++) {
		err[0] = '\0';
		rc = url_parse(badurls[i].in, &u, err, sizeof err);
		snprintf(t, sizeof t, "url '%s': rejected", badurls[i].in);
		CHECK(t, rc == -1 && u.host == NULL && u.hostport == NULL);
		snprintf(t, sizeof t, "url '%s': reason", badurls[i].in);
		CHECK(t, strstr(err, badurls[i].why) != NULL);
		if (rc == 0)
			url_free(&u);
		else if (strstr(err, badurls[i].why) == NULL)
			if (rc != -1 || strstr(err, bad[i].what) == NULL ||
		    strstr(err, bad[i].at) == NULL)
			printf("# %s\n", err);
	}
}

int
main(void)
{
	snprintf(dir, sizeof dir, "/tmp/test_config.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(home, sizeof home, "%s/home", dir);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	setenv("XDG_CONFIG_HOME", dir, 1);

	test_url();
	test_defaults();
	test_search();
	test_guide();
	test_good();
	test_bad();
	test_warnings();
	test_no_home();

	unlink(tmppath("config.yaml"));
	unlink(tmppath("stderr"));
	rmdir(home);
	rmdir(dir);
	return UNIT_END();
}
