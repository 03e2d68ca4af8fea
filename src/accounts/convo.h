/* convo: the conversation table, which account each conversation is on
 * (see convo.c). */
#ifndef CONVO_H
#define CONVO_H
#include <stddef.h>
#include <time.h>

#include "parsers/config.h"
#include "support/keyhash.h"

#define CONVO_MAX 4096          /* conversations kept at most */
#define CONVO_TOUCH (15 * 60)   /* a conversation in use is recorded again
                                 * this often, so it is not dropped idle */

/* The account conversation key (a keyhash) was last recorded on, when
 * that was within the last hour: its id into id, the time into *seen.
 * 1 when known, else 0. */
int convo_find(const struct config *cfg, const char *key, char *id,
    size_t idlen, time_t *seen);

/* Record that conversation key is on account id as of now. */
void convo_put(const struct config *cfg, const char *key, const char *id);

/* Should a conversation just served on account now_on be recorded: it was
 * not known, it was on was, or it was recorded at seen, CONVO_TOUCH ago
 * or more? */
int convo_due(int known, const char *was, const char *now_on, time_t seen,
    time_t now);

#endif
