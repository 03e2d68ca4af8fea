/*
 * The providers' model catalogs, kept in auth-dir/models.json: Codex's
 * GET <codex-base-url>/models?client_version=V (with a ChatGPT login's
 * token) and Anthropic's GET <claude-base-url>/v1/models, every page (with
 * an API key when there is one, else a subscription's token). A list in
 * the binary is a season late; these are what the providers serve today.
 *
 * The file is replaced whole by rename, like every file in auth-dir, and
 * read without a lock. A fetch takes auth-dir/models.lock (a file never
 * replaced), so that processes asking at once make one request; the one
 * that waited takes the list the other kept. A failed fetch is recorded
 * (when, why) and not tried again for CATALOG_RETRY: a provider that
 * refuses the list must not cost every /v1/models its budget.
 *
 * Fetched only by /v1/models (when due, within its budget), --refresh and
 * --setup-droid, --doctor: never on the way of a request to a model.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "accounts/ask.h"
#include "accounts/authdir.h"
#include "accounts/catalog.h"
#include "accounts/refresh.h"
#include "accounts/state.h"
#include "network/httpc.h"
#include "network/net.h"
#include "network/trust.h"
#include "support/file.h"
#include "support/log.h"
#include "support/stamp.h"
#include "support/url.h"

#define FILE_MAX (4 << 20)
#define LIST_MAX (8 << 20)      /* one answer: Codex's is ~100 KB */
#define PAGES_MAX 20            /* Anthropic's pages, 1000 models each */

static struct {
	char *path;
	struct stamp id;        /* taken when have */
	int have;               /* the file was read into l */
	struct modellist l[2];  /* claude, codex */
} kept;

static int
slot(const char *provider)
{
	return strcmp(provider, "codex") == 0;
}

static void
forget(void)
{
	modellist_free(&kept.l[0]);
	modellist_free(&kept.l[1]);
	memset(&kept.id, 0, sizeof kept.id);
	kept.have = 0;
}

static void
file_path(const struct config *cfg, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", cfg->auth_dir, name);
}

/* The file's bytes into b (empty when there is none). */
static void
read_file(const char *path, struct buf *b, struct stat *st)
{
	memset(st, 0, sizeof *st);
	if (file_read(path, FILE_MAX, b, st) == -1)
		b->len = 0;
}

const struct modellist *
catalog_kept(const struct config *cfg, const char *provider)
{
	char path[4200];
	struct buf b = { 0 };
	struct stat st;

	file_path(cfg, "models.json", path, sizeof path);
	if (kept.have && strcmp(kept.path, path) == 0 &&
	    stamp_check(&kept.id, path, 0))
		return &kept.l[slot(provider)];
	forget();
	free(kept.path);
	kept.path = strdup(path);
	read_file(path, &b, &st);
	if (b.len > 0 && (modellist_from_file(b.p, b.len, "claude",
	    &kept.l[0]) == -1 || modellist_from_file(b.p, b.len, "codex",
	    &kept.l[1]) == -1)) {
		log_warn("%s is not a model catalog file; it is fetched again",
		    path);
		forget();
	} else if (b.len > 0 && kept.path) {
		stamp_take(&kept.id, &st);
		kept.have = 1;
	}
	buf_free(&b);
	return &kept.l[slot(provider)];
}

const struct modellist *
catalog_models(const struct config *cfg, const char *provider)
{
	const struct modellist *l = catalog_kept(cfg, provider);

	return l->fetched && l->n > 0 ? l : modellist_builtin(provider);
}

void
catalog_all(const struct config *cfg, const struct modellist **claude,
    const struct modellist **codex)
{
	/* One look at the file for both: a second could read it again and
	 * let the first list go. */
	(void)catalog_kept(cfg, "claude");
	*claude = kept.l[0].fetched && kept.l[0].n ? &kept.l[0] :
	    modellist_builtin("claude");
	*codex = kept.l[1].fetched && kept.l[1].n ? &kept.l[1] :
	    modellist_builtin("codex");
}

int
catalog_due(const struct config *cfg, const struct modellist *l, time_t now)
{
	if (l->tried && now - l->tried < CATALOG_RETRY && now >= l->tried)
		return 0;
	return l->fetched == 0 || l->stale ||
	    now - l->fetched >= cfg->models_refresh || now < l->fetched;
}

/* -------------------------------------------------------------- the file */

/* provider's list replaced by l in models.json. 0, or -1 (said). */
static int
keep(const struct config *cfg, const char *provider,
    const struct modellist *l)
{
	char path[4200], err[512];
	struct buf old = { 0 }, out = { 0 };
	struct stat st;
	int rc = -1;

	file_path(cfg, "models.json", path, sizeof path);
	read_file(path, &old, &st);
	if (modellist_to_file(old.len ? old.p : NULL, old.len, provider, l,
	    &out) == -1)
		log_warn("%s: out of memory", path);
	else if ((rc = authdir_replace(path, out.p, out.len, 0, err,
	    sizeof err)) == -1)
		log_warn("%s; the model list is used without being kept", err);
	buf_free(&old);
	buf_free(&out);
	forget();
	return rc;
}

/* models.lock, exclusively, waiting until deadline at most. The fd, or
 * -1 with errno (EWOULDBLOCK: another process held it all along). */
static int
lock(const struct config *cfg, long long deadline)
{
	char path[4200];
	int fd;

	file_path(cfg, "models.lock", path, sizeof path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600)) == -1)
		return -1;
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if ((errno != EWOULDBLOCK && errno != EINTR) ||
		    net_now_ms() >= deadline) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		usleep(20000);
	}
	return fd;
}

/* -------------------------------------------------------------- accounts */

/* The ids to try, best first: Claude's API keys before its logins (an
 * API key may list models; whether a subscription may is not certain),
 * Codex's logins only (an API key is no ChatGPT account). */
static size_t
candidates(const struct acct_ref *c, size_t n, const char *provider,
    size_t *order)
{
	size_t i, k = 0, pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < n; i++) {
			int key = c[i].key != NULL;

			if (slot(provider) ? (pass == 0 && !key) :
			    (pass == 0) == key)
				order[k++] = i;
		}
	return k;
}

/* Usable: readable, not disabled, no login needed. */
static int
usable(const struct config *cfg, const char *provider,
    const struct acct_ref *c, struct account *a)
{
	char err[1100];
	const cJSON *st = state_account(authdir_state(cfg), c->id, 0);

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "needs_login")))
		return 0;
	if (authdir_load(cfg, provider, c, a, err, sizeof err) == -1)
		return 0;
	if (a->disabled) {
		account_free(a);
		return 0;
	}
	return 1;
}

/* ------------------------------------------------------------- the asking */

/* A fetch under way: its bounds, and what came back (status: the last
 * HTTP status, 0 when none came). */
struct ask {
	const struct config *cfg;
	const struct trust *ta;
	long long deadline;
	struct modellist *out;
	int status;
	char *err;
	size_t errlen;
};

/* One page. 0 with the page's models in k->out, or -1. */
static int
ask_page(struct ask *k, const struct account *a, const char *after,
    int *more, char *last, size_t lastlen)
{
	int codex = slot(a->provider);
	const struct url *base = a->base ? a->base : codex ?
	    &k->cfg->codex_base : &k->cfg->claude_base;
	struct buf target = { 0 };
	struct httpc_resp rs;
	const char *why;
	int rc = -1;

	*more = 0;
	if (buf_addf(&target, "%s%s", base->path, codex ?
	    "/models?client_version=" : "/v1/models?limit=1000") == -1 ||
	    (codex && url_pct_encode(&target,
	    k->cfg->codex_client_version, 0) == -1) ||
	    (after && (buf_adds(&target, "&after_id=") == -1 ||
	    url_pct_encode(&target, after, 0) == -1))) {
		snprintf(k->err, k->errlen, "out of memory");
		goto out;
	}
	/* The catalogs take the headers of their APIs' other requests. */
	if ((k->status = ask_get(k->cfg, k->ta, a, target.p, codex ?
	    "originator: codex_cli_rs\r\n" : "anthropic-version: "
	    "2023-06-01\r\n", LIST_MAX, k->deadline, &rs, k->err,
	    k->errlen)) == 0)
		goto out;
	if (k->status != 200)
		snprintf(k->err, k->errlen, "%s answered %d", base->host,
		    rs.status);
	else if ((codex ? modellist_parse_codex(rs.body.p, rs.body.len,
	    k->out, &why) : modellist_parse_anthropic(rs.body.p, rs.body.len,
	    k->out, more, last, lastlen, &why)) == -1)
		snprintf(k->err, k->errlen, "%s: %s", base->host, why);
	else {
		snprintf(k->out->etag, sizeof k->out->etag, "%s", rs.etag);
		rc = 0;
	}
	httpc_resp_free(&rs);
out:
	buf_free(&target);
	return rc;
}

/* The whole list with a, every page. 0, or -1. */
static int
ask_all(struct ask *k, const struct account *a)
{
	char last[128] = "", after[128];
	int more = 0, pages = 0;

	modellist_free(k->out);
	do {
		snprintf(after, sizeof after, "%s", last);
		if (ask_page(k, a, pages ? after : NULL, &more, last,
		    sizeof last) == -1) {
			modellist_free(k->out);
			return -1;
		}
	} while (more && ++pages < PAGES_MAX);
	return 0;
}

/* The list with a, its token refreshed first when it has expired, and
 * once after a 401 (a stale token is refused until refreshed). 0, or
 * -1. */
static int
ask_with(struct ask *k, struct account *a)
{
	/* A token that still works is used as it is: its refresh is the
	 * requests' and --refresh's business, by refresh-lead. */
	if (a->kind == ACCT_OAUTH && a->expires && a->expires < time(NULL) +
	    60 && refresh_account(k->cfg, a, 1, k->err, k->errlen) != 0)
		return -1;
	if (ask_all(k, a) == 0)
		return 0;
	if (k->status != 401 || a->kind != ACCT_OAUTH ||
	    refresh_account(k->cfg, a, 1, k->err, k->errlen) != 0)
		return -1;
	return ask_all(k, a);
}

/* The live list from the first account that gives one. 0, or -1 with
 * k->err. */
static int
fetch_live(const struct config *cfg, const char *provider, struct ask *k)
{
	struct acct_ref *c = NULL;
	struct account a;
	struct trust ta;
	size_t n, i, *order = NULL, m;
	int rc = -1, tried = 0;

	if (authdir_accounts(cfg, provider, &c, &n) == -1 ||
	    (order = calloc(n + 1, sizeof *order)) == NULL) {
		snprintf(k->err, k->errlen, "cannot read auth-dir %s: %s",
		    cfg->auth_dir, strerror(errno));
		goto out;
	}
	if (trust_load_cached(&ta, cfg->ca_file, cfg->auth_dir, k->err,
	    k->errlen) == -1)
		goto out;
	k->ta = &ta;
	m = candidates(c, n, provider, order);
	for (i = 0; i < m && rc == -1; i++) {
		if (!usable(cfg, provider, &c[order[i]], &a))
			continue;
		tried = 1;
		k->status = 0;
		rc = ask_with(k, &a);
		account_free(&a);
		/* A refusal may be this account's; a dead upstream is
		 * everyone's. */
		if (rc == -1 && k->status != 401 && k->status != 403)
			break;
	}
	trust_free(&ta);
	if (!tried)
		snprintf(k->err, k->errlen, "no usable %s account to ask for "
		    "the model list", provider);
out:
	free(c);
	free(order);
	return rc;
}

int
catalog_fetch(const struct config *cfg, const char *provider, int budget_ms,
    int force, char *err, size_t errlen)
{
	long long deadline = net_now_ms() + budget_ms;
	time_t now = time(NULL);
	struct modellist live, was;
	struct ask k = { cfg, NULL, deadline, &live, 0, err, errlen };
	const struct modellist *l;
	int fd, rc;

	memset(&live, 0, sizeof live);
	if ((fd = lock(cfg, deadline)) == -1) {
		snprintf(err, errlen, errno == EWOULDBLOCK ? "another process "
		    "is fetching the %s model list" : "%s/models.lock: %s",
		    errno == EWOULDBLOCK ? provider : cfg->auth_dir,
		    strerror(errno));
		return -1;
	}
	forget();
	l = catalog_kept(cfg, provider);
	/* Fetched while this process waited for the lock, or not due. */
	if ((l->fetched && l->fetched >= now && !l->stale) ||
	    (!force && !catalog_due(cfg, l, now))) {
		rc = l->fetched ? 0 : -1;
		if (rc == -1)
			snprintf(err, errlen, "%s", l->error[0] ? l->error :
			    "no live list");
		close(fd);
		return rc;
	}
	if ((rc = fetch_live(cfg, provider, &k)) == 0) {
		live.fetched = time(NULL);
		if (slot(provider))
			snprintf(live.client_version,
			    sizeof live.client_version, "%s",
			    cfg->codex_client_version);
		(void)keep(cfg, provider, &live);
	} else {
		/* The last live list stays; the failure is noted. was
		 * shares the kept list's models: keep writes them before
		 * it lets the kept ones go. */
		was = *catalog_kept(cfg, provider);
		was.tried = time(NULL);
		snprintf(was.error, sizeof was.error, "%s", err);
		(void)keep(cfg, provider, &was);
	}
	modellist_free(&live);
	close(fd);
	return rc;
}

void
catalog_seen_tag(const struct config *cfg, const char *provider,
    const char *etag)
{
	const struct modellist *l = catalog_kept(cfg, provider);
	struct modellist m;
	int fd;

	if (etag[0] == '\0' || l->fetched == 0 || l->stale ||
	    strcmp(l->etag, etag) == 0)
		return;
	/* No wait: another process holding the lock is fetching anyway. */
	if ((fd = lock(cfg, 0)) == -1)
		return;
	forget();
	l = catalog_kept(cfg, provider);
	if (l->fetched && !l->stale && strcmp(l->etag, etag) != 0) {
		m = *l;
		m.stale = 1;
		log_info("the %s model catalog changed (version %s); it is "
		    "fetched again by the next /v1/models or --refresh",
		    provider, etag);
		(void)keep(cfg, provider, &m);
	}
	close(fd);
}
