/* token: accounts in auth-dir (CLIProxyAPI's token files). */
#ifndef TOKEN_H
#define TOKEN_H
#include <stddef.h>
#include <time.h>

enum acct_kind { ACCT_OAUTH, ACCT_APIKEY };

struct account {
	enum acct_kind kind;
	char *file;             /* full path */
	char *email;            /* safe to log */
	char *access_token;     /* secret: wiped by account_free */
	char *refresh_token;    /* secret */
	time_t expires;         /* 0 when unknown */
	int disabled;
};

/* Parse a token file's JSON. Pure; never quotes the input in err (it holds
 * secrets). 0 or -1. */
int token_parse(const char *json, size_t len, struct account *a,
    char *err, size_t errlen);
/* First usable claude-*.json in dir, in name order, read under a shared
 * flock. Files readable by group or others are refused. 0, or -1 with err
 * saying why nothing is usable and what to do. */
int token_pick(const char *dir, const char *provider, struct account *a,
    char *err, size_t errlen);
void account_free(struct account *a);
/* RFC 3339 to time_t; -1 when malformed. */
time_t token_parse_time(const char *s);

#endif
