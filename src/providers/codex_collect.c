/*
 * A non-stream Responses request: the backend only streams, so its events
 * are collected here into the one response object the client asked for.
 */
#include <cjson/cJSON.h>
#include <string.h>

#include "parsers/json.h"
#include "providers/codex.h"
#include "providers/codex_private.h"

const char *
codex_event_type(const char *event, const cJSON *j)
{
	const cJSON *t = json_get(j, "type");

	if (event && event[0])
		return event;
	return cJSON_IsString(t) ? t->valuestring : "";
}

int
resp_collect_event(struct resp_collect *rc, const char *event,
    const char *data, size_t dlen)
{
	cJSON *j = cJSON_ParseWithLength(data, dlen);
	const char *type = codex_event_type(event, j);
	const cJSON *r = json_get(j, "response"), *m;
	int ret = 0;

	if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.incomplete") == 0 ||
	    strcmp(type, "response.failed") == 0) {
		if (cJSON_IsObject(r)) {
			rc->json.len = 0;
			if ((ret = json_print(r, &rc->json, "", "")) == 0)
				rc->done = 1;
		}
		if (strcmp(type, "response.failed") == 0) {
			m = json_get(json_get(r, "error"), "message");
			json_copy_msg(rc->error, sizeof rc->error, m,
			    "the upstream response failed");
		}
	} else if (strcmp(type, "error") == 0) {
		m = json_get(j, "message");
		if (!cJSON_IsString(m))
			m = json_get(json_get(j, "error"), "message");
		json_copy_msg(rc->error, sizeof rc->error, m,
		    "the upstream reported an error");
	}
	cJSON_Delete(j);
	return ret;
}

void
resp_collect_free(struct resp_collect *rc)
{
	buf_free(&rc->json);
	memset(rc, 0, sizeof *rc);
}
