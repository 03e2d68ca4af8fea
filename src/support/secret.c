#include <stdlib.h>
#include <string.h>

#include "support/secret.h"

void
secret_free(char **s)
{
	if (*s) {
		explicit_bzero(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

static void
wipe(cJSON *j)
{
	for (; j; j = j->next) {
		if (j->valuestring)
			explicit_bzero(j->valuestring, strlen(j->valuestring));
		wipe(j->child);
	}
}

void
secret_json_delete(cJSON *j)
{
	if (j) {
		wipe(j);
		cJSON_Delete(j);
	}
}

char *
secret_json_str(const cJSON *o, const char *key)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(j) && j->valuestring[0] ?
	    strdup(j->valuestring) : NULL;
}

int
secret_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char d = alen != blen;

	/* Every byte of a is looked at whatever matches, so the time says
	 * nothing about how much of a key was right. */
	for (i = 0; i < alen; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)(blen ?
		    b[i % blen] : 0);
	return d == 0;
}
