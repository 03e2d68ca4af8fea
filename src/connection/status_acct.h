/* status_acct: one account in the status model (see status_acct.c). */
#ifndef STATUS_ACCT_H
#define STATUS_ACCT_H
#include <cjson/cJSON.h>
#include <time.h>

#include "accounts/view.h"

/* v's account as members of o; its last error, when it has one, also
 * joins errs (the page's list of recent errors). */
void status_account(cJSON *o, const struct view *v, time_t now,
    cJSON *errs);

#endif
