/* secret: freeing memory that held a credential. */
#ifndef SECRET_H
#define SECRET_H
#include <cjson/cJSON.h>
#include <stddef.h>

/* Wipe and free *s, then set it to NULL. */
void secret_free(char **s);
/* Wipe every string in a cJSON tree, then delete it (cJSON only frees). */
void secret_json_delete(cJSON *j);
/* strdup of a non-empty string member of o, or NULL. */
char *secret_json_str(const cJSON *o, const char *key);

/* Does a[0..alen) equal the string b? Constant time in alen. */
int secret_eq(const char *a, size_t alen, const char *b);

#endif
