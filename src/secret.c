#include <stdlib.h>
#include <string.h>

#include "secret.h"

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
