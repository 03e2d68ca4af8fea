/*
 * claudecode: --setup-claude, Claude Code pointed at this proxy through
 * its own ~/.claude/settings.json: the "env" entries the README's set-up
 * names (ANTHROPIC_BASE_URL, a dummy ANTHROPIC_API_KEY) and the status
 * line (this binary's --statusline). Everything else in the file is the
 * user's and stays; a credential already there is kept (with api-keys
 * set it must be one of them, which this command cannot know).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands/claudecode.h"
#include "commands/settings.h"
#include "support/secret.h"

#define DUMMY_KEY "dummy"

/* The address Claude Code reaches this proxy at: the configured host
 * when it is one address, else 127.0.0.1 (Node tries ::1 first for
 * "localhost", and a proxy on 127.0.0.1 only would not answer there). */
static void
base_url(const struct config *cfg, char *out, size_t n)
{
	const char *h = cfg->host;

	if (h == NULL || !*h || strcmp(h, "0.0.0.0") == 0 ||
	    strcmp(h, "::") == 0)
		h = "127.0.0.1";
	snprintf(out, n, strchr(h, ':') ? "http://[%s]:%d" : "http://%s:%d",
	    h, cfg->port);
}

/* s in single quotes for the shell Claude Code runs the command with. */
static void
quoted(const char *s, char *out, size_t n)
{
	size_t k = 0;

	if (n < 3)
		return;
	out[k++] = '\'';
	for (; *s && k + 5 < n; s++) {
		if (*s == '\'') {
			memcpy(out + k, "'\\''", 4);
			k += 4;
		} else
			out[k++] = *s;
	}
	out[k++] = '\'';
	out[k] = '\0';
}

/* "/path/to/cli-proxy-api --statusline" (with --config when one was
 * named: the line must read the same auth-dir). */
static void
statusline_command(const struct config *cfg, char *out, size_t n)
{
	char exe[PATH_MAX], q[2 * PATH_MAX + 8], qc[2 * PATH_MAX + 8];
	ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);

	if (len <= 0)
		snprintf(exe, sizeof exe, "cli-proxy-api");
	else
		exe[len] = '\0';
	quoted(exe, q, sizeof q);
	if (cfg->path) {
		char *abs = realpath(cfg->path, NULL);

		quoted(abs ? abs : cfg->path, qc, sizeof qc);
		free(abs);
		snprintf(out, n, "%s --config %s --statusline", q, qc);
	} else
		snprintf(out, n, "%s --statusline", q);
}

/* o.k set to s; "set", "kept" or "unchanged" says what happened. */
static const char *
put(cJSON *o, const char *k, const char *s, int keep)
{
	cJSON *cur = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(cur) && strcmp(cur->valuestring, s) == 0)
		return "unchanged";
	if (keep && cJSON_IsString(cur) && *cur->valuestring)
		return "kept";
	if (cur)
		cJSON_ReplaceItemInObjectCaseSensitive(o, k,
		    cJSON_CreateString(s));
	else
		cJSON_AddStringToObject(o, k, s);
	return "set";
}

/* The status line Claude Code runs, ours: command, padding and a
 * refresh interval, the rest of a statusLine the user had replaced. */
static int
put_statusline(cJSON *root, const char *command)
{
	cJSON *sl = cJSON_GetObjectItemCaseSensitive(root, "statusLine");
	const char *cmd = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(sl, "command"));
	cJSON *n;

	if (cJSON_IsObject(sl) && cmd && strcmp(cmd, command) == 0)
		return 0;
	if ((n = cJSON_CreateObject()) == NULL ||
	    !cJSON_AddStringToObject(n, "type", "command") ||
	    !cJSON_AddStringToObject(n, "command", command) ||
	    !cJSON_AddNumberToObject(n, "padding", 0) ||
	    !cJSON_AddNumberToObject(n, "refreshInterval", 10)) {
		cJSON_Delete(n);
		return -1;
	}
	if (sl)
		cJSON_ReplaceItemInObjectCaseSensitive(root, "statusLine", n);
	else
		cJSON_AddItemToObject(root, "statusLine", n);
	return 1;
}

/* Merge our entries into s->root, saying each on out. 1 when something
 * changed, 0 when not, -1 (said) when env is no object or out of
 * memory. */
static int
merge(const struct config *cfg, struct settings *s, FILE *out)
{
	cJSON *env = cJSON_GetObjectItemCaseSensitive(s->root, "env");
	char url[300], cmd[5 * PATH_MAX];
	const char *a, *b, *key;
	int c;

	if (env != NULL && !cJSON_IsObject(env)) {
		fprintf(stderr, "cli-proxy-api: %s: \"env\" is not an object; "
		    "fix it or move the file away; nothing was changed\n",
		    s->path);
		return -1;
	}
	if (env == NULL && (env = cJSON_AddObjectToObject(s->root, "env")) ==
	    NULL)
		goto nomem;
	base_url(cfg, url, sizeof url);
	statusline_command(cfg, cmd, sizeof cmd);
	a = put(env, "ANTHROPIC_BASE_URL", url, 0);
	/* Either credential variable, when there, is the user's. */
	key = cJSON_GetObjectItemCaseSensitive(env, "ANTHROPIC_AUTH_TOKEN") ?
	    "ANTHROPIC_AUTH_TOKEN" : "ANTHROPIC_API_KEY";
	b = put(env, key, DUMMY_KEY, 1);
	if ((c = put_statusline(s->root, cmd)) == -1)
		goto nomem;
	fprintf(out, "%-9s env.ANTHROPIC_BASE_URL %s\n", a, url);
	fprintf(out, "%-9s env.%s%s\n", b, key, strcmp(b, "kept") == 0 ?
	    " (the one there)" : " " DUMMY_KEY);
	fprintf(out, "%-9s statusLine %s\n", c ? "set" : "unchanged", cmd);
	if (cfg->n_api_keys > 0 && strcmp(b, "kept") != 0)
		fprintf(out, "note      api-keys is set: put one of them in "
		    "env.%s\n", key);
	return strcmp(a, "unchanged") || strcmp(b, "set") == 0 || c;
nomem:
	fprintf(stderr, "cli-proxy-api: out of memory\n");
	return -1;
}

int
claudecode_setup(const struct config *cfg, int dry_run, FILE *out)
{
	struct settings s;
	char err[PATH_MAX + 256], *json = NULL;
	int rc, changed;

	if ((rc = settings_load(&s, "~/.claude/settings.json", err,
	    sizeof err)) != 0) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		settings_free(&s);
		return rc == 1 ? EXIT_DROID : EXIT_SYS;
	}
	rc = EXIT_DROID;
	if ((changed = merge(cfg, &s, dry_run ? stderr : out)) == -1)
		goto out;
	rc = EXIT_SYS;
	if ((json = settings_print(&s)) == NULL) {
		fprintf(stderr, "cli-proxy-api: out of memory\n");
		goto out;
	}
	rc = EXIT_OK;
	if (dry_run)
		printf("%s", json);
	else if (!changed && s.existed)
		fprintf(out, "%s: nothing to change\n", s.path);
	else if (settings_write(&s, json, err, sizeof err) == -1) {
		fprintf(stderr, "cli-proxy-api: %s\n", err);
		rc = EXIT_SYS;
	} else
		fprintf(out, "wrote %s%s%s%s\n", s.path, s.existed ? " (the "
		    "old one is in " : "", s.existed ? s.path : "",
		    s.existed ? ".bak)" : "");
out:
	if (json)
		explicit_bzero(json, strlen(json));
	free(json);
	settings_free(&s);
	return rc;
}
