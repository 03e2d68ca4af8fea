/*
 * Token files in auth-dir, in CLIProxyAPI's format so existing logins carry
 * over. Secrets are copied out of the cJSON tree and the tree is wiped
 * before it is freed; nothing here quotes a file's content in a message.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "token.h"

#define TOKEN_FILE_MAX (256 * 1024)

static void
wipe_str(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

void
account_free(struct account *a)
{
	wipe_str(&a->access_token);
	wipe_str(&a->refresh_token);
	free(a->file);
	free(a->email);
	memset(a, 0, sizeof *a);
}

/* Wipe every string in a cJSON tree: cJSON_Delete only frees. */
static void
json_wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		json_wipe(j->child);
	}
}

static int
digits(const char **s, int n, int *out)
{
	int v = 0;

	while (n--) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (*(*s)++ - '0');
	}
	*out = v;
	return 0;
}

time_t
token_parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (digits(&s, 4, &y) || *s++ != '-' || digits(&s, 2, &mo) ||
	    *s++ != '-' || digits(&s, 2, &d) || (*s != 'T' && *s != 't' &&
	    *s != ' ') || (s++, digits(&s, 2, &h)) || *s++ != ':' ||
	    digits(&s, 2, &mi) || *s++ != ':' || digits(&s, 2, &sec))
		return -1;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (digits(&s, 2, &oh) || *s++ != ':' || digits(&s, 2, &om))
			return -1;
	} else
		return -1;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == -1)
		return -1;
	/* 2025-01-01T08:00:00+08:00 is 00:00 UTC. */
	return t - sign * (oh * 3600 + om * 60);
}

static char *
dup_field(const cJSON *root, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, key);

	return cJSON_IsString(j) && j->valuestring[0] ?
	    strdup(j->valuestring) : NULL;
}

/* The expiry, under any of the names writers have used. */
static time_t
expiry(const cJSON *root)
{
	static const char *const keys[] = {
		"expired", "expires_at", "expiresAt", "expire", "expiry",
		"expires", NULL
	};
	const char *const *k;

	for (k = keys; *k; k++) {
		const cJSON *j = cJSON_GetObjectItemCaseSensitive(root, *k);

		if (cJSON_IsString(j)) {
			time_t t = token_parse_time(j->valuestring);
			if (t != -1)
				return t;
		} else if (cJSON_IsNumber(j) && j->valuedouble > 0) {
			/* Epoch seconds, or milliseconds from JavaScript. */
			double v = j->valuedouble;
			return (time_t)(v > 1e11 ? v / 1000 : v);
		}
	}
	return 0;
}

int
token_parse(const char *json, size_t len, struct account *a, char *err,
    size_t errlen)
{
	cJSON *root;
	const cJSON *j;
	int rc = -1;

	memset(a, 0, sizeof *a);
	/* Never report cJSON's error position: it points into secrets. */
	if ((root = cJSON_ParseWithLength(json, len)) == NULL ||
	    !cJSON_IsObject(root)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	j = cJSON_GetObjectItemCaseSensitive(root, "disabled");
	a->disabled = cJSON_IsTrue(j);
	a->kind = ACCT_OAUTH;
	a->email = dup_field(root, "email");
	a->access_token = dup_field(root, "access_token");
	a->refresh_token = dup_field(root, "refresh_token");
	a->expires = expiry(root);
	if (a->access_token == NULL) {
		snprintf(err, errlen, "no access_token in it");
		account_free(a);
		goto out;
	}
	rc = 0;
out:
	if (root) {
		json_wipe(root);
		cJSON_Delete(root);
	}
	return rc;
}

/* Read one token file under a shared lock. 0, or -1 with err. */
static int
load_file(const char *path, struct account *a, char *err, size_t errlen)
{
	struct buf b = { 0 };
	struct stat st;
	char why[128];
	int fd, rc = -1;
	ssize_t r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "token file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token file %s: not a regular file",
		    path);
		goto out;
	}
	/* As ssh does with keys: a secret others can read is refused. */
	if (st.st_mode & 077) {
		snprintf(err, errlen, "token file %s is readable by others: "
		    "chmod 600 it", path);
		goto out;
	}
	if (st.st_size > TOKEN_FILE_MAX) {
		snprintf(err, errlen, "token file %s is too large", path);
		goto out;
	}
	if (flock(fd, LOCK_SH) == -1) {
		snprintf(err, errlen, "token file %s: lock: %s", path,
		    strerror(errno));
		goto out;
	}
	for (;;) {
		if (buf_reserve(&b, 4096) == -1)
			goto oom;
		r = read(fd, b.p + b.len, b.cap - b.len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "token file %s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		b.len += (size_t)r;
		if (b.len > TOKEN_FILE_MAX) {
			snprintf(err, errlen, "token file %s is too large",
			    path);
			goto out;
		}
	}
	if (token_parse(b.p, b.len, a, why, sizeof why) == -1) {
		snprintf(err, errlen, "token file %s: %s: log in again or "
		    "fix the file", path, why);
		goto out;
	}
	if ((a->file = strdup(path)) == NULL) {
		account_free(a);
		goto oom;
	}
	rc = 0;
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	buf_wipe(&b);
	close(fd);
	return rc;
}

struct pick_filter {
	const char *pattern;
};

int
token_pick(const char *dir, const char *provider, struct account *a,
    char *err, size_t errlen)
{
	struct dirent **names = NULL;
	char pattern[64], path[4096], first_err[4400] = "";
	int n, i, rc = -1, skipped = 0;

	snprintf(pattern, sizeof pattern, "%s-*.json", provider);
	if ((n = scandir(dir, &names, NULL, alphasort)) == -1) {
		snprintf(err, errlen, "auth-dir %s: %s: run cli-proxy-api "
		    "--%s-login", dir, strerror(errno), provider);
		return -1;
	}
	for (i = 0; i < n && rc == -1; i++) {
		char why[4400];

		if (fnmatch(pattern, names[i]->d_name, 0) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		if (load_file(path, a, why, sizeof why) == -1) {
			if (!first_err[0])
				snprintf(first_err, sizeof first_err, "%s",
				    why);
			continue;
		}
		if (a->disabled) {
			skipped++;
			account_free(a);
			continue;
		}
		rc = 0;
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0)
		return 0;
	if (first_err[0])
		snprintf(err, errlen, "%s", first_err);
	else if (skipped)
		snprintf(err, errlen, "every %s account in %s is disabled",
		    provider, dir);
	else
		snprintf(err, errlen, "no %s account: no %s in %s; run "
		    "cli-proxy-api --%s-login", provider, pattern, dir,
		    provider);
	return -1;
}
