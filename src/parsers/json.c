/*
 * Small cJSON helpers for building and rewriting request and response
 * trees (the Codex rules and the Chat Completions translation): members
 * added, replaced in place, moved and dropped, each taking ownership of
 * what it is given.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/json.h"

const char *
json_str(const cJSON *o, const char *k)
{
	const char *s = cJSON_GetStringValue(json_get(o, k));

	return s ? s : "";
}

cJSON *
json_get(const cJSON *o, const char *k)
{
	return o ? cJSON_GetObjectItemCaseSensitive(o, k) : NULL;
}

double
json_num(const cJSON *o, const char *k, double lo, double hi, double def)
{
	const cJSON *j = json_get(o, k);

	return cJSON_IsNumber(j) && j->valuedouble >= lo &&
	    j->valuedouble <= hi ? j->valuedouble : def;
}

int
json_str_is(const cJSON *j, const char *s)
{
	return cJSON_IsString(j) && strcmp(j->valuestring, s) == 0;
}

/* Add v to o as k, taking v: on failure v is freed. 0 or -1. */
int
json_add(cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL)
		return -1;
	if (o == NULL || !cJSON_AddItemToObject(o, k, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return 0;
}

int
json_append(cJSON *a, cJSON *v)
{
	if (v == NULL)
		return -1;
	if (a == NULL || !cJSON_AddItemToArray(a, v)) {
		cJSON_Delete(v);
		return -1;
	}
	return 0;
}

/* Remove every member called k, duplicates too. */
void
json_drop(cJSON *o, const char *k)
{
	while (json_get(o, k))
		cJSON_DeleteItemFromObjectCaseSensitive(o, k);
}

/* Delete the members of o after first that have its name: a duplicate
 * left behind would be the value a last-wins parser upstream keeps. */
void
json_drop_after(cJSON *o, cJSON *first)
{
	cJSON *it, *next;

	for (it = first->next; it; it = next) {
		next = it->next;
		if (it->string && strcmp(it->string, first->string) == 0)
			cJSON_Delete(cJSON_DetachItemViaPointer(o, it));
	}
}

/* Set o.k to v, taking v: in the old member's place when there is one,
 * to keep the client's key order. */
int
json_put(cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL)
		return -1;
	if (json_get(o, k) == NULL)
		return json_add(o, k, v);
	if (!cJSON_ReplaceItemInObjectCaseSensitive(o, k, v)) {
		cJSON_Delete(v);
		return -1;
	}
	json_drop_after(o, v);
	return 0;
}

int
json_put_str(cJSON *o, const char *k, const char *s)
{
	return json_put(o, k, cJSON_CreateString(s));
}

/* Move from.fk to to.tk, if there. 0 or -1 (ENOMEM). */
int
json_move(cJSON *from, const char *fk, cJSON *to, const char *tk)
{
	cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(from, fk);

	return v ? json_put(to, tk, v) : 0;
}

/* Print j onto out. */
int
json_print(const cJSON *j, struct buf *out, const char *pre, const char *post)
{
	char *s = cJSON_PrintUnformatted(j);
	int rc;

	if (s == NULL)
		return -1;
	rc = buf_adds(out, pre) == -1 || buf_adds(out, s) == -1 ||
	    buf_adds(out, post) == -1 ? -1 : 0;
	free(s);
	return rc;
}

void
json_copy_msg(char *dst, size_t n, const cJSON *msg, const char *fallback)
{
	snprintf(dst, n, "%s", cJSON_IsString(msg) && msg->valuestring[0] ?
	    msg->valuestring : fallback);
}
