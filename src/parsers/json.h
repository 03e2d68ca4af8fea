/* json: helpers over cJSON trees (see json.c). */
#ifndef JSON_H
#define JSON_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "support/buf.h"

/* o.k, or NULL (o may be NULL). */
cJSON *json_get(const cJSON *o, const char *k);
/* o.k when it is a string, else "". */
const char *json_str(const cJSON *o, const char *k);
/* o.k when it is a number in lo..hi, else def. */
double json_num(const cJSON *o, const char *k, double lo, double hi,
    double def);
/* Is j the string s? */
int json_str_is(const cJSON *j, const char *s);
/* Add v to o as k / to array a, taking v: on failure v is freed. 0 or
 * -1. */
int json_add(cJSON *o, const char *k, cJSON *v);
int json_append(cJSON *a, cJSON *v);
/* Remove every member called k, duplicates too. */
void json_drop(cJSON *o, const char *k);
/* Delete the members of o after first that have its name. */
void json_drop_after(cJSON *o, cJSON *first);
/* Set o.k to v, taking v, in the old member's place when there is one
 * (the client's key order kept; later duplicates dropped). 0 or -1. */
int json_put(cJSON *o, const char *k, cJSON *v);
int json_put_str(cJSON *o, const char *k, const char *s);
/* Move from.fk to to.tk, if there. 0 or -1 (ENOMEM). */
int json_move(cJSON *from, const char *fk, cJSON *to, const char *tk);
/* Print j compactly onto out between pre and post. 0 or -1. */
int json_print(const cJSON *j, struct buf *out, const char *pre,
    const char *post);
/* dst gets msg when it is a non-empty string, else fallback. */
void json_copy_msg(char *dst, size_t n, const cJSON *msg,
    const char *fallback);

#endif
