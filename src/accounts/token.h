/* token: accounts in auth-dir (CLIProxyAPI's token files). */
#ifndef TOKEN_H
#define TOKEN_H
#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "support/buf.h"
#include "support/keyhash.h"
#include "support/url.h"

enum acct_kind { ACCT_OAUTH, ACCT_APIKEY };

struct account {
	enum acct_kind kind;
	char provider[8];       /* "claude", "codex" */
	char id[256];           /* file name or "claude-api-key-N": state key */
	char *file;             /* full path; NULL for API keys */
	char *email;            /* safe to log */
	char *access_token;     /* secret (the API key for ACCT_APIKEY) */
	char *refresh_token;    /* secret */
	char *account_id;       /* codex: chatgpt account id */
	time_t expires;         /* 0 when unknown */
	int disabled;
	int trouble;            /* state.json has a backoff or error for it */
	const struct url *base; /* API key's own base-url, or NULL */
};

/* Parse a token file's JSON. Pure; never quotes the input in err (it holds
 * secrets). 0 or -1. */
int token_parse(const char *json, size_t len, struct account *a,
    char *err, size_t errlen);
/* Open path and flock it with op (LOCK_SH or LOCK_EX), making sure the
 * locked file is still the one at path: a rename may replace it while we
 * wait. Returns the fd, or -1 with errno. */
int token_lock(const char *path, int op);
/* Read a token file from a locked fd: refuses files group or others can
 * read (as ssh refuses keys). 0, or -1 with err naming the file and the
 * fix. The caller wipes b. */
int token_read(int fd, const char *path, struct buf *b, char *err,
    size_t errlen);
/* token_lock(LOCK_SH) + token_read + token_parse, with a->file, a->id and
 * a->provider set. 0 or -1 with err. */
int token_load(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen);
/* token_load that also gives, in st, the file's stat taken before its
 * bytes were read. */
int token_load_stat(const char *path, const char *provider, struct account *a,
    struct stat *st, char *err, size_t errlen);
/* token_load without the lock: a whole old or new file (writers replace
 * token files by rename), never waiting behind a refresh. For those who
 * only show accounts. */
int token_peek(const char *path, const char *provider, struct account *a,
    char *err, size_t errlen);
/* A name for a's refresh token (none: a name of its own) that state.json
 * may keep: the first 128 bits of its SHA-256 in hex, nothing to log in
 * with. */
void token_key(const struct account *a, char out[KEYHASH_LEN]);
/* dst gets a copy of src with its own strings (src untouched). 0, or -1
 * (ENOMEM) with dst empty. */
int account_copy(struct account *dst, const struct account *src);
void account_free(struct account *a);

#endif
