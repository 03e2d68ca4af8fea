/*
 * state.json, the accounts' shared state: a cursor per provider, and per
 * account its cooldown, backoff, needs-login, refresh-after, last error and
 * refusal marks. It is read by everyone without a lock (every writer
 * replaces it by rename) and changed only here, read-modify-write under
 * the sidecar lock state.lock (never replaced). Lock order: a token file's
 * lock may be held while taking the state lock, never the other way round.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "accounts/authdir.h"
#include "accounts/state.h"
#include "support/log.h"

#define BACKOFF_MAX (30 * 60)

int
state_run(const struct config *cfg, int excl, int durable,
    int (*fn)(cJSON *, void *), void *arg)
{
	char lockp[4200], path[4200], err[512];
	cJSON *root = NULL;
	int fd, rc = -1;

	snprintf(lockp, sizeof lockp, "%s/state.lock", cfg->auth_dir);
	snprintf(path, sizeof path, "%s/state.json", cfg->auth_dir);
	fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd != -1) {
		int corrupt;

		while (flock(fd, excl ? LOCK_EX : LOCK_SH) == -1 &&
		    errno == EINTR)
			;
		if ((root = authdir_state_read(path, NULL, &corrupt)) == NULL &&
		    corrupt)
			log_warn("%s is corrupt; starting a new one", path);
	}
	if (root == NULL)
		root = cJSON_CreateObject();
	if (root && fn(root, arg) == 1 && fd != -1) {
		char *s = cJSON_Print(root);

		if (s == NULL || authdir_replace(path, s, strlen(s), durable,
		    err, sizeof err) == -1)
			log_warn("%s", s ? err : "out of memory");
		free(s);
	}
	rc = fd == -1 ? -1 : 0;
	cJSON_Delete(root);
	if (fd != -1)
		close(fd);
	return rc;
}

cJSON *
state_obj(cJSON *parent, const char *key, int create)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(parent, key);

	if (cJSON_IsObject(o) || !create)
		return cJSON_IsObject(o) ? o : NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(parent, key);
	return cJSON_AddObjectToObject(parent, key);
}

double
state_num(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	/* state.json is a file like any other: a number that does not fit a
	 * time_t (1e300, inf) reads as absent, never as a wild cast. */
	return cJSON_IsNumber(j) && j->valuedouble > -1e15 &&
	    j->valuedouble < 1e15 ? j->valuedouble : 0;
}

void
state_set_num(cJSON *o, const char *key, double v)
{
	cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsNumber(j))
		cJSON_SetNumberValue(j, v);
	else {
		cJSON_DeleteItemFromObjectCaseSensitive(o, key);
		cJSON_AddNumberToObject(o, key, v);
	}
}

void
state_set_str(cJSON *o, const char *key, const char *v)
{
	cJSON_DeleteItemFromObjectCaseSensitive(o, key);
	cJSON_AddStringToObject(o, key, v);
}

cJSON *
state_account(cJSON *root, const char *id, int create)
{
	cJSON *accts = state_obj(root, "accounts", create);

	return accts ? state_obj(accts, id, create) : NULL;
}

const char *
state_kind_key(enum client_kind k)
{
	return k == CLIENT_FIRST_PARTY ? "first_party" : "third_party";
}

const cJSON *
state_refusal(const cJSON *st, enum client_kind kind, long hold, time_t now)
{
	const cJSON *m;
	time_t at;

	if (kind == CLIENT_ANY)
		return NULL;
	m = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
	    st, "refused"), state_kind_key(kind));
	at = (time_t)state_num(m, "at");
	return at > 0 && at <= now && now - at < hold ? m : NULL;
}

int
state_needs_login(const cJSON *st, const char *key)
{
	const char *k = cJSON_GetStringValue(
	    cJSON_GetObjectItemCaseSensitive(st, "refused_key"));

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "needs_login")))
		return 0;
	return k == NULL || key == NULL || strcmp(k, key) == 0;
}

static int
mark_fn(cJSON *root, void *arg)
{
	struct state_mark *m = arg;
	cJSON *st = state_account(root, m->id, !m->clear);
	time_t now = time(NULL);

	if (st == NULL)
		return 0;
	if (m->clear) {
		if (state_num(st, "backoff") == 0 && !cJSON_GetObjectItemCaseSensitive(
		    st, "last_error") && !cJSON_GetObjectItemCaseSensitive(st,
		    "needs_login"))
			return 0;
		cJSON_DeleteItemFromObjectCaseSensitive(st, "backoff");
		cJSON_DeleteItemFromObjectCaseSensitive(st, "last_error");
		cJSON_DeleteItemFromObjectCaseSensitive(st, "needs_login");
		cJSON_DeleteItemFromObjectCaseSensitive(st, "refused_key");
		return 1;
	}
	if (m->cooldown_until == 0) {
		/* No reset time given: 1 s, doubling, capped. */
		double b = state_num(st, "backoff");

		b = b < 1 ? 1 : b * 2 > BACKOFF_MAX ? BACKOFF_MAX : b * 2;
		state_set_num(st, "backoff", b);
		m->until = now + (time_t)b;
		state_set_num(st, "cooldown_until", (double)m->until);
	} else if (m->cooldown_until > 0) {
		m->until = m->cooldown_until;
		state_set_num(st, "cooldown_until", (double)m->cooldown_until);
	}
	if (m->needs_login >= 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(st, "needs_login");
		cJSON_DeleteItemFromObjectCaseSensitive(st, "refused_key");
		if (m->needs_login)
			cJSON_AddBoolToObject(st, "needs_login", 1);
		if (m->needs_login && m->refused_key)
			cJSON_AddStringToObject(st, "refused_key",
			    m->refused_key);
	}
	if (m->refresh_after >= 0)
		state_set_num(st, "refresh_after", (double)m->refresh_after);
	if (m->error && m->error[0]) {
		state_set_str(st, "last_error", m->error);
		state_set_num(st, "last_error_at", (double)now);
	} else if (m->error)
		cJSON_DeleteItemFromObjectCaseSensitive(st, "last_error");
	return 1;
}

void
state_mark(const struct config *cfg, struct state_mark *m, int durable)
{
	(void)state_run(cfg, 1, durable, mark_fn, m);
}

/* A refusal mark on one account. */
struct refusal_mark {
	const char *id;
	enum client_kind kind;
	const char *reason, *message;
};

static int
refused_fn(cJSON *root, void *arg)
{
	struct refusal_mark *m = arg;
	cJSON *st = state_account(root, m->id, 1), *all, *one;

	if (st == NULL || (all = state_obj(st, "refused", 1)) == NULL)
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(all, state_kind_key(m->kind));
	if ((one = cJSON_AddObjectToObject(all, state_kind_key(m->kind))) == NULL)
		return 0;
	cJSON_AddNumberToObject(one, "at", (double)time(NULL));
	cJSON_AddStringToObject(one, "reason", m->reason);
	cJSON_AddStringToObject(one, "message", m->message);
	return 1;
}

void
state_refuse(const struct config *cfg, const char *id, enum client_kind kind,
    const char *reason, const char *message)
{
	struct refusal_mark m = { id, kind, reason, message };

	if (kind != CLIENT_ANY)
		(void)state_run(cfg, 1, 0, refused_fn, &m);
}
