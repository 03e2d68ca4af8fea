/*
 * Token files in auth-dir, in CLIProxyAPI's format so existing logins carry
 * over. Secrets are copied out of the cJSON tree and the tree is wiped
 * before it is freed; nothing here quotes a file's content in a message.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts/token.h"
#include "parsers/http.h"
#include "support/buf.h"
#include "support/file.h"
#include "support/secret.h"
#include "support/timefmt.h"

#define TOKEN_FILE_MAX (256 * 1024)

void
account_free(struct account *a)
{
	secret_free(&a->access_token);
	secret_free(&a->refresh_token);
	free(a->account_id);
	free(a->file);
	free(a->email);
	memset(a, 0, sizeof *a);
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
			time_t t = timefmt_parse(j->valuestring);
			if (t != -1)
				return t;
		} else if (cJSON_IsNumber(j) && j->valuedouble > 0 &&
		    j->valuedouble < 1e15) {
			/* Epoch seconds, or milliseconds from JavaScript.
			 * Past 1e15 (year 33658 in ms) it is neither, and
			 * casting a huge double or inf to time_t is UB. */
			double v = j->valuedouble;
			return (time_t)(v > 1e11 ? v / 1000 : v);
		}
	}
	return 0;
}

/* Every value that goes into a header line, without a control character
 * that could end the line early. */
static int
printable(const struct account *a)
{
	const char *v[4] = { a->access_token, a->refresh_token,
	    a->account_id, a->email };
	size_t i;

	for (i = 0; i < 4; i++)
		if (v[i] && !http_value_safe(v[i]))
			return 0;
	return 1;
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
	a->email = secret_json_str(root, "email");
	a->access_token = secret_json_str(root, "access_token");
	a->refresh_token = secret_json_str(root, "refresh_token");
	a->account_id = secret_json_str(root, "account_id");
	a->expires = expiry(root);
	if (a->access_token == NULL) {
		snprintf(err, errlen, "no access_token in it");
		account_free(a);
		goto out;
	}
	if (!printable(a)) {
		snprintf(err, errlen, "a control character in one of its "
		    "tokens or ids (it would split a request's head)");
		account_free(a);
		goto out;
	}
	rc = 0;
out:
	secret_json_delete(root);
	return rc;
}

int
token_lock(const char *path, int op)
{
	struct stat a, b;
	int fd, tries;

	for (tries = 0; tries < 20; tries++) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
			return -1;
		while (flock(fd, op) == -1) {
			if (errno != EINTR) {
				close(fd);
				return -1;
			}
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
			return fd;
		/* Replaced while we waited: lock the new file. */
		close(fd);
	}
	errno = EAGAIN;
	return -1;
}

int
token_read(int fd, const char *path, struct buf *b, char *err, size_t errlen)
{
	struct stat st;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "token file %s: not a regular file",
		    path);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "token file %s is readable by others: "
		    "chmod 600 it", path);
		return -1;
	}
	b->len = 0;
	if (lseek(fd, 0, SEEK_SET) == -1 ||
	    file_read_fd(fd, TOKEN_FILE_MAX, b) == -1) {
		if (errno == EFBIG) {
			snprintf(err, errlen, "token file %s is too large",
			    path);
			return -1;
		}
		goto fail;
	}
	return 0;
fail:
	snprintf(err, errlen, "token file %s: %s", path, strerror(errno));
	return -1;
}

/* token_parse of a file's bytes, with a->file, a->id and a->provider set
 * from path; err names path. 0 or -1. */
static int
token_account(const char *path, const char *provider, const char *json,
    size_t len, struct account *a, char *err, size_t errlen)
{
	const char *base;
	char why[128];

	if (token_parse(json, len, a, why, sizeof why) == -1) {
		snprintf(err, errlen, "token file %s: %s: log in again or "
		    "fix the file", path, why);
		return -1;
	}
	if ((a->file = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		account_free(a);
		return -1;
	}
	base = strrchr(path, '/');
	snprintf(a->id, sizeof a->id, "%s", base ? base + 1 : path);
	snprintf(a->provider, sizeof a->provider, "%s", provider);
	return 0;
}

/* A token file's account from its open fd. */
static int
load_fd(int fd, const char *path, const char *provider, struct account *a,
    struct stat *st, char *err, size_t errlen)
{
	struct buf b = BUF_SECRET;
	int rc = -1;

	/* The identity before the bytes: see stamp_take. */
	if (st && fstat(fd, st) == -1) {
		snprintf(err, errlen, "token file %s: %s", path,
		    strerror(errno));
		goto out;
	}
	if (token_read(fd, path, &b, err, errlen) == -1)
		goto out;
	rc = token_account(path, provider, b.p, b.len, a, err, errlen);
out:
	buf_free(&b);
	return rc;
}

int
token_load_stat(const char *path, const char *provider, struct account *a,
    struct stat *st, char *err, size_t errlen)
{
	int fd, rc;

	memset(a, 0, sizeof *a);
	if ((fd = token_lock(path, LOCK_SH)) == -1) {
		snprintf(err, errlen, "token file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = load_fd(fd, path, provider, a, st, err, errlen);
	close(fd);
	return rc;
}

int
token_peek(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen)
{
	int fd, rc;

	memset(a, 0, sizeof *a);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		snprintf(err, errlen, "token file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	rc = load_fd(fd, path, provider, a, NULL, err, errlen);
	close(fd);
	return rc;
}

int
token_load(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen)
{
	return token_load_stat(path, provider, a, NULL, err, errlen);
}

void
token_key(const struct account *a, char out[KEYHASH_LEN])
{
	struct keyhash_part p = { a->refresh_token ? a->refresh_token : "",
	    a->refresh_token ? strlen(a->refresh_token) : 0 };

	keyhash(&p, 1, out);
}

int
account_copy(struct account *dst, const struct account *src)
{
	*dst = *src;
	dst->file = dst->email = dst->access_token = dst->refresh_token =
	    dst->account_id = NULL;
	if ((src->file && (dst->file = strdup(src->file)) == NULL) ||
	    (src->email && (dst->email = strdup(src->email)) == NULL) ||
	    (src->access_token && (dst->access_token =
	    strdup(src->access_token)) == NULL) ||
	    (src->refresh_token && (dst->refresh_token =
	    strdup(src->refresh_token)) == NULL) ||
	    (src->account_id && (dst->account_id = strdup(src->account_id))
	    == NULL)) {
		account_free(dst);
		return -1;
	}
	return 0;
}
