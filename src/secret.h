/* secret: freeing memory that held a credential. */
#ifndef SECRET_H
#define SECRET_H
#include <cjson/cJSON.h>

/* Wipe and free *s, then set it to NULL. */
void secret_free(char **s);
/* Wipe every string in a cJSON tree, then delete it (cJSON only frees). */
void secret_json_delete(cJSON *j);
/* strdup of a non-empty string member of o, or NULL. */
char *secret_json_str(const cJSON *o, const char *key);

#endif
