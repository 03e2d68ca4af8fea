/*
 * What a login saves: the account the grant belongs to (the Codex
 * id_token's claims; Claude's answer names it), an email fit for a file
 * name, and the token file in CLIProxyAPI's format, written atomically
 * under the lock the token store takes.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts/token.h"
#include "commands/login.h"
#include "commands/login_int.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/log.h"
#include "support/pkce.h"
#include "support/secret.h"
#include "support/timefmt.h"

#define EMAIL_MAX 254

/* The payload of a JWT (three base64url parts separated by dots), decoded
 * and NUL-terminated into out. 0, or -1 with err. */
static int
jwt_payload(const char *jwt, struct buf *out, char *err, size_t errlen)
{
	const char *p1, *p2;
	size_t n;
	ssize_t got;

	if (jwt == NULL || (p1 = strchr(jwt, '.')) == NULL ||
	    (p2 = strchr(p1 + 1, '.')) == NULL || strchr(p2 + 1, '.') ||
	    p2 == p1 + 1) {
		snprintf(err, errlen, "the id_token is not a JWT (three parts "
		    "separated by dots)");
		return -1;
	}
	n = (size_t)(p2 - p1 - 1);
	if (buf_reserve(out, n + 1) == -1) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((got = b64url_decode(p1 + 1, n, out->p, n)) == -1) {
		snprintf(err, errlen, "the id_token's payload is not "
		    "base64url");
		return -1;
	}
	out->p[got] = '\0';
	out->len = (size_t)got;
	return 0;
}

int
login_codex_claims(const char *id_token, char **email, char **account_id,
    char **plan, char *err, size_t errlen)
{
	struct buf json = BUF_SECRET;
	const cJSON *auth;
	cJSON *root = NULL;
	int rc = -1;

	*email = *account_id = *plan = NULL;
	if (jwt_payload(id_token, &json, err, errlen) == -1)
		goto out;
	if ((root = cJSON_ParseWithLength(json.p, json.len)) == NULL ||
	    !cJSON_IsObject(root)) {
		snprintf(err, errlen, "the id_token's payload is not a JSON "
		    "object");
		goto out;
	}
	auth = cJSON_GetObjectItemCaseSensitive(root,
	    "https://api.openai.com/auth");
	if ((*email = secret_json_str(root, "email")) == NULL) {
		snprintf(err, errlen, "the id_token has no email claim");
		goto out;
	}
	if (!cJSON_IsObject(auth) || (*account_id = secret_json_str(auth,
	    "chatgpt_account_id")) == NULL) {
		snprintf(err, errlen, "the id_token has no chatgpt_account_id "
		    "claim (https://api.openai.com/auth): the Codex backend "
		    "needs it");
		goto out;
	}
	*plan = secret_json_str(auth, "chatgpt_plan_type");
	rc = 0;
out:
	if (rc == -1) {
		free(*email);
		free(*account_id);
		*email = *account_id = NULL;
	}
	secret_json_delete(root);
	buf_free(&json);
	return rc;
}

int
login_email_ok(const char *email)
{
	const unsigned char *p = (const unsigned char *)email;

	if (email == NULL || *p == '\0' || *p == '.' ||
	    strlen(email) > EMAIL_MAX)
		return 0;
	for (; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

/* A string member; a missing one is written empty, as CLIProxyAPI does. */
static int
str(cJSON *o, const char *k, const char *v)
{
	return cJSON_AddStringToObject(o, k, v ? v : "") != NULL;
}

char *
login_token_json(enum login_provider p, const struct oauth_grant *g,
    const char *email, const char *account_id, time_t now)
{
	char when[32], now_s[32];
	cJSON *o;
	char *s = NULL;
	int ok;

	timefmt_format(now + (g->expires_in > 0 ? g->expires_in : 3600),
	    when, sizeof when);
	timefmt_format(now, now_s, sizeof now_s);
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (p == LOGIN_CLAUDE)
		ok = str(o, "type", "claude") &&
		    str(o, "access_token", g->access_token) &&
		    str(o, "refresh_token", g->refresh_token) &&
		    str(o, "email", email) && str(o, "expired", when) &&
		    str(o, "last_refresh", now_s) && str(o, "id_token", "");
	else
		ok = str(o, "type", "codex") &&
		    str(o, "id_token", g->id_token) &&
		    str(o, "access_token", g->access_token) &&
		    str(o, "refresh_token", g->refresh_token) &&
		    str(o, "account_id", account_id) &&
		    str(o, "email", email) && str(o, "expired", when) &&
		    str(o, "last_refresh", now_s);
	if (ok)
		s = cJSON_Print(o);
	secret_json_delete(o);
	return s;
}

/* mkdir -p, each missing directory 0700: the tokens go in the last. */
static int
mkdirs(const char *dir)
{
	char p[PATH_MAX], *s;

	if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (s = p + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			return -1;
		if ((*s = c) == '\0')
			return 0;
	}
}

/* Room for a token file: far more than one holds (a Codex id_token is
 * a few KiB). */
#define LOGIN_ROOM (64 * 1024)

/* The rooms in dir named prefix and a pid whose process is gone (a
 * login killed between taking its room and saving), removed: a dead
 * login is told by its pid alone. A process of another user (EPERM)
 * counts as alive. */
static void
sweep_rooms(const char *dir, const char *prefix)
{
	size_t plen = strlen(prefix);
	struct dirent *d;
	char path[4200], *end;
	DIR *dp;
	long pid;

	if ((dp = opendir(dir)) == NULL)
		return;
	while ((d = readdir(dp)) != NULL) {
		if (strncmp(d->d_name, prefix, plen) != 0)
			continue;
		errno = 0;
		pid = strtol(d->d_name + plen, &end, 10);
		if (errno || *end != '\0' || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, d->d_name) <
		    (int)sizeof path && unlink(path) == 0)
			log_info("removed %s, left by a login that did not "
			    "finish", path);
	}
	closedir(dp);
}

int
login_room(const struct config *cfg, enum login_provider p,
    struct file_room *room)
{
	char tmp[4200];
	int e;

	if (mkdirs(cfg->auth_dir) == -1) {
		log_err("login failed, nothing asked: cannot create auth-dir "
		    "%s: %s", cfg->auth_dir, strerror(errno));
		return -1;
	}
	/* A dot name: no listing of accounts takes it for one. */
	snprintf(tmp, sizeof tmp, ".%s-login.tmp.", login_provider_name[p]);
	sweep_rooms(cfg->auth_dir, tmp);
	snprintf(tmp, sizeof tmp, "%s/.%s-login.tmp.%ld", cfg->auth_dir,
	    login_provider_name[p], (long)getpid());
	if (file_reserve(room, tmp, LOGIN_ROOM) == 0)
		return 0;
	e = errno;
	log_err("login failed, nothing asked of the token endpoint: auth-dir "
	    "%s has no room for the token file (%s): %s, then log in again",
	    cfg->auth_dir, strerror(e), e == EROFS ? "make it writable" :
	    e == EDQUOT ? "free space or raise the quota" : "free space");
	return -1;
}

/* Put the room in place of path under the lock the token store takes,
 * so a proxy refreshing the same account does not write its older grant
 * over ours. */
static int
save(const char *path, const char *json, struct file_room *room, char *err,
    size_t errlen)
{
	int fd = token_lock(path, LOCK_EX), rc;

	if (fd == -1 && errno != ENOENT) {
		snprintf(err, errlen, "cannot lock %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = file_fill(room, path, json, strlen(json), err, errlen);
	if (fd != -1)
		close(fd);
	return rc;
}

int
login_save(const struct config *cfg, enum login_provider p,
    const struct oauth_grant *g, const char *email, const char *account_id,
    struct file_room *room, char **pathp)
{
	char err[1024], *json = NULL, *path = NULL;
	int rc = -1;

	if ((json = login_token_json(p, g, email, account_id,
	    time(NULL))) == NULL || asprintf(&path, "%s/%s-%s.json",
	    cfg->auth_dir, login_provider_name[p], email) == -1) {
		path = NULL;
		log_err("login failed, nothing saved: out of memory");
		goto out;
	}
	if (save(path, json, room, err, sizeof err) == -1) {
		log_err("login failed, nothing saved: %s", err);
		goto out;
	}
	*pathp = path;
	path = NULL;
	rc = 0;
out:
	if (json) {
		explicit_bzero(json, strlen(json));
		free(json);
	}
	free(path);
	return rc;
}
