/*
 * Making a token fresh: refreshed before it expires (refresh-lead), or at
 * once when the upstream refused it, under an exclusive lock on its token
 * file so that any number of connection processes make one refresh.
 *
 * A grant rotates the refresh token: once the endpoint has answered, the
 * old one is dead, and an answer that cannot be stored loses the account.
 * So the grant is asked only once its answer has a place to land: the
 * token file's temporary copy, written beside it at more than its full
 * size (the new file is the old one with new tokens in it). When auth-dir
 * has no room for that (full, over quota, read-only, failing), no grant is
 * asked: the refresh token stays good in the old file, a token still
 * valid keeps serving with a warning, an expired one cannot serve
 * (REFRESH_NO_ROOM) until space is freed. The new tokens are stored
 * before they are used. The outcome (needs-login, the endpoint's wait,
 * the last error) goes to state.json after the token file's lock is gone.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accounts/authdir.h"
#include "accounts/refresh.h"
#include "accounts/state.h"
#include "network/oauth.h"
#include "network/trust.h"
#include "support/buf.h"
#include "support/log.h"
#include "support/secret.h"
#include "support/timefmt.h"

/* The room taken for a refreshed token file: the old file twice over
 * (the new one is printed with indentation, the old may be compact) and
 * 16 KiB for the new tokens (a Codex id_token is a few KiB). */
#define ROOM_SLACK (16 * 1024)
/* A grant not asked: auth-dir has no room for its answer. */
#define GRANT_NO_ROOM (-100)

static long
lead_of(const struct config *cfg, const char *provider)
{
	if (cfg->refresh_lead >= 0)
		return cfg->refresh_lead;
	return strcmp(provider, "codex") == 0 ? 5 * 86400L : 4 * 3600L;
}

/* Read refresh_after of an account. */
struct peek {
	const char *id;
	time_t refresh_after;
	cJSON *copy;            /* with want_copy: the account's state */
	int want_copy;
};

static int
peek_fn(cJSON *root, void *arg)
{
	struct peek *p = arg;
	cJSON *st = state_account(root, p->id, 0);

	p->refresh_after = (time_t)state_num(st, "refresh_after");
	if (p->want_copy && st)
		p->copy = cJSON_Duplicate(st, 1);
	return 0;
}

static int
stale(const struct account *a, long lead, time_t now)
{
	return a->expires != 0 && a->expires - now < lead;
}

/* Take over the tokens of b into a. */
static void
adopt(struct account *a, struct account *b)
{
	secret_free(&a->access_token);
	secret_free(&a->refresh_token);
	a->access_token = b->access_token;
	a->refresh_token = b->refresh_token;
	b->access_token = b->refresh_token = NULL;
	a->expires = b->expires;
	if (b->account_id) {
		free(a->account_id);
		a->account_id = b->account_id;
		b->account_id = NULL;
	}
}

/* Write the grant into the token file's JSON, keeping every field we do
 * not know, and put it in place through the room taken for it. Called
 * with the file locked. */
static int
save_grant(const struct account *a, cJSON *root, const struct oauth_grant *g,
    struct file_room *room, char *err, size_t errlen)
{
	char when[32], now_s[32];
	time_t now = time(NULL);
	char *s;
	int rc;

	timefmt_format(now + (g->expires_in > 0 ? g->expires_in : 3600),
	    when, sizeof when);
	timefmt_format(now, now_s, sizeof now_s);
	state_set_str(root, "access_token", g->access_token);
	if (g->refresh_token)
		state_set_str(root, "refresh_token", g->refresh_token);
	if (g->id_token)
		state_set_str(root, "id_token", g->id_token);
	state_set_str(root, "expired", when);
	state_set_str(root, "last_refresh", now_s);
	if ((s = cJSON_Print(root)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = authdir_fill(room, a->file, s, strlen(s), err, errlen);
	explicit_bzero(s, strlen(s));
	free(s);
	return rc;
}

/* Read the locked file into a tree and an account. */
static int
reread(int fd, const struct account *a, cJSON **root, struct account *now,
    char *err, size_t errlen)
{
	struct buf b = BUF_SECRET;
	char why[128];
	int rc = -1;

	*root = NULL;
	if (token_read(fd, a->file, &b, err, errlen) == -1)
		goto out;
	if (token_parse(b.p, b.len, now, why, sizeof why) == -1 ||
	    (*root = cJSON_ParseWithLength(b.p, b.len)) == NULL) {
		snprintf(err, errlen, "token file %s: %s", a->file, why);
		goto out;
	}
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* One refresh grant on the locked file, its answer stored in room.
 * Returns an enum oauth_rc. */
static int
refresh_locked(const struct config *cfg, struct account *a, cJSON *root,
    struct account *cur, struct file_room *room, time_t *retry_at,
    char *err, size_t errlen)
{
	struct oauth_grant g;
	struct trust ta;
	char why[1024];
	int rc;

	if (trust_load_cached(&ta, cfg->ca_file, cfg->auth_dir, why,
	    sizeof why) == -1) {
		snprintf(err, errlen, "%s", why);
		return OAUTH_FAIL;
	}
	rc = oauth_refresh(cfg, &ta, a->provider, cur->refresh_token, &g, err,
	    errlen);
	trust_free(&ta);
	*retry_at = g.retry_at;
	if (rc != OAUTH_OK)
		return rc;
	/* The old refresh token may be dead now: store before anything. */
	if (save_grant(a, root, &g, room, why, sizeof why) == -1)
		log_err("%s: the refreshed token is used for this request "
		    "only; the next refresh may need a new login", why);
	secret_free(&cur->access_token);
	cur->access_token = g.access_token;
	g.access_token = NULL;
	if (g.refresh_token) {
		secret_free(&cur->refresh_token);
		cur->refresh_token = g.refresh_token;
		g.refresh_token = NULL;
	}
	cur->expires = time(NULL) + (g.expires_in > 0 ? g.expires_in : 3600);
	oauth_grant_free(&g);
	adopt(a, cur);
	log_info("refreshed the %s token of %s", a->provider,
	    a->email ? a->email : a->id);
	return OAUTH_OK;
}

/* One refresh under the token file's exclusive lock. */
struct job {
	const struct config *cfg;
	struct account *a;      /* the caller's: gets the fresh tokens */
	struct account cur;     /* the file as read under the lock */
	cJSON *root;            /* its JSON, written back with the grant */
	int fd;                 /* the lock, or -1 */
	struct file_room room;  /* where the grant's answer will go */
	char refused[KEYHASH_LEN]; /* token_key of a refresh token refused */
	long lead;
	time_t now, retry_at;
	char *err;
	size_t errlen;
};

/* Take the lock and read the file again. 0, or -1 with err. */
static int
job_lock(struct job *j)
{
	secret_json_delete(j->root);
	j->root = NULL;
	account_free(&j->cur);
	if (j->fd != -1)
		close(j->fd);
	if ((j->fd = token_lock(j->a->file, LOCK_EX)) == -1) {
		snprintf(j->err, j->errlen, "token file %s: %s", j->a->file,
		    strerror(errno));
		return -1;
	}
	return reread(j->fd, j->a, &j->root, &j->cur, j->err, j->errlen);
}

/* The grant, and once more when it was refused because someone else
 * rotated the refresh token meanwhile (read again under the lock).
 * Returns an enum oauth_rc. */
static int
job_grant(struct job *j)
{
	char *used = NULL;
	int r = OAUTH_FAIL, tries;

	for (tries = 0; tries < 2; tries++) {
		secret_free(&used);
		used = strdup(j->cur.refresh_token);
		r = refresh_locked(j->cfg, j->a, j->root, &j->cur, &j->room,
		    &j->retry_at, j->err, j->errlen);
		if (r != OAUTH_INVALID || tries > 0 || used == NULL)
			break;
		if (job_lock(j) == -1 || j->cur.refresh_token == NULL ||
		    strcmp(j->cur.refresh_token, used) == 0)
			break;
		if (!stale(&j->cur, j->lead, j->now) &&
		    strcmp(j->cur.access_token, j->a->access_token) != 0) {
			adopt(j->a, &j->cur);
			r = OAUTH_OK;
			break;
		}
	}
	if (used)
		secret_free(&used);
	return r;
}

/* Room for the grant's answer beside the token file, before the grant.
 * 0, or -1 with err naming auth-dir, the error and the fix. */
static int
job_reserve(struct job *j)
{
	const struct account *a = j->a;
	struct stat st;
	int e;

	if (fstat(j->fd, &st) == 0 && authdir_reserve(&j->room, a->file,
	    2 * (size_t)st.st_size + ROOM_SLACK) == 0)
		return 0;
	e = errno;
	snprintf(j->err, j->errlen, "cannot refresh the %s token of %s: "
	    "auth-dir %s has no room for the refreshed token file (%s): %s; "
	    "the account's refresh token is kept", a->provider, a->email ?
	    a->email : a->id, j->cfg->auth_dir, strerror(e), e == EROFS ?
	    "make it writable" : e == EDQUOT ? "free space or raise the "
	    "quota" : "free space");
	return -1;
}

/* What the state should say after grant result r (m), and whether the
 * account can serve: 0, -1 or REFRESH_NO_ROOM. strict: any failed
 * refresh is a failure, even with a token left. */
static int
job_outcome(struct job *j, int r, int force, int strict,
    time_t refresh_after, struct state_mark *m)
{
	struct account *a = j->a;
	int fail = r == GRANT_NO_ROOM ? REFRESH_NO_ROOM : -1;

	if (r == OAUTH_OK) {
		m->needs_login = 0;
		m->error = "";
		return 0;
	}
	/* No room: nothing asked, nothing to mark (and no room to write it
	 * in either). */
	if (r != GRANT_NO_ROOM)
		m->error = j->err;
	if (r == OAUTH_INVALID) {
		m->needs_login = 1;
		token_key(&j->cur, j->refused);
		m->refused_key = j->refused;
		log_err("%s account %s needs a new login: %s", a->provider,
		    a->email ? a->email : a->id, j->err);
		return -1;
	}
	if (r == OAUTH_LIMITED && refresh_after <= j->now)
		m->refresh_after = j->retry_at > j->now ? j->retry_at :
		    j->now + 60;
	/* Not expired yet: better a working token than none. */
	if (!force && !strict && (a->expires == 0 || a->expires > j->now)) {
		log_warn("%s; using the current %s token of %s until it "
		    "expires", j->err, a->provider, a->email ? a->email :
		    a->id);
		return 0;
	}
	return fail;
}

static int
fresh(const struct config *cfg, struct account *a, int force, int strict,
    char *err, size_t errlen)
{
	struct job j = { cfg, a, { 0 }, NULL, -1, { -1, "" }, "",
	    lead_of(cfg, a->provider), time(NULL), 0, err, errlen };
	struct peek pk = { a->id, 0, NULL, 0 };
	struct state_mark m = { a->id, -1, 0, -1, -1, NULL, 0, 0, NULL };
	int rc = -1, r;

	if (a->kind == ACCT_APIKEY || a->file == NULL)
		return force ? -1 : 0;
	if (!force && !stale(a, j.lead, j.now))
		return 0;
	if (job_lock(&j) == -1)
		goto out;
	/* Someone refreshed (or logged in) while we waited for the lock,
	 * or it is no longer due. */
	if ((strcmp(j.cur.access_token, a->access_token) != 0 || !force) &&
	    !stale(&j.cur, j.lead, j.now)) {
		adopt(a, &j.cur);
		rc = 0;
		goto out;
	}
	(void)state_run(cfg, 0, 0, peek_fn, &pk);
	if (pk.refresh_after > j.now) {
		snprintf(err, errlen, "the %s token endpoint asked to wait",
		    a->provider);
		r = OAUTH_LIMITED;
	} else if (j.cur.refresh_token == NULL) {
		snprintf(err, errlen, "token file %s has no refresh_token: log "
		    "in again with cli-proxy-api --%s-login", a->file,
		    a->provider);
		r = OAUTH_INVALID;
	} else if (job_reserve(&j) == -1)
		r = GRANT_NO_ROOM;
	else
		r = job_grant(&j);
	rc = job_outcome(&j, r, force, strict, pk.refresh_after, &m);
out:
	file_unreserve(&j.room);
	if (j.fd != -1)
		close(j.fd);
	secret_json_delete(j.root);
	account_free(&j.cur);
	/* The state is touched after the token file's lock is gone. */
	if (m.needs_login >= 0 || m.error || m.refresh_after >= 0)
		state_mark(cfg, &m, m.needs_login == 1);
	return rc;
}

int
refresh_account(const struct config *cfg, struct account *a, int force,
    char *err, size_t errlen)
{
	return fresh(cfg, a, force, 0, err, errlen);
}

int
refresh_all(const struct config *cfg, FILE *out)
{
	static const char *const providers[] = { "claude", "codex" };
	struct acct_ref *c;
	size_t n, i, p;
	int bad = 0;

	for (p = 0; p < 2; p++) {
		if (authdir_accounts(cfg, providers[p], &c, &n) == -1) {
			fprintf(out, "cannot read auth-dir %s: %s\n",
			    cfg->auth_dir, strerror(errno));
			return -1;
		}
		for (i = 0; i < n; i++) {
			struct account a;
			char err[1024], when[32];
			time_t before;

			if (c[i].key != NULL)
				continue;
			if (authdir_load(cfg, providers[p], &c[i], &a, err,
			    sizeof err) == -1) {
				fprintf(out, "%s %s: %s\n", providers[p],
				    c[i].id, err);
				bad = 1;
				continue;
			}
			if (a.disabled) {
				account_free(&a);
				continue;
			}
			before = a.expires;
			if (fresh(cfg, &a, 0, 1, err, sizeof err) != 0) {
				fprintf(out, "%s %s: %s\n", providers[p],
				    a.email ? a.email : a.id, err);
				bad = 1;
			} else {
				timefmt_format(a.expires, when, sizeof when);
				fprintf(out, "%s %s: %s, expires %s\n",
				    providers[p], a.email ? a.email : a.id,
				    a.expires != before ? "refreshed" : "fresh",
				    a.expires ? when : "unknown");
			}
			account_free(&a);
		}
		free(c);
	}
	return bad ? -1 : 0;
}

