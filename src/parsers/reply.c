#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "parsers/reply.h"

static const char *
reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}

/* Anthropic's error type for a status. */
static const char *
error_type(int status)
{
	switch (status) {
	case 400: case 405: case 408: return "invalid_request_error";
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 404: return "not_found_error";
	case 413: return "request_too_large";
	case 429: return "rate_limit_error";
	case 504: return "timeout_error";
	case 529: return "overloaded_error";
	default: return "api_error";
	}
}

static int
json_ex(struct buf *out, int status, const char *json, int flags,
    const char *extra)
{
	size_t n = strlen(json);

	if (buf_addf(out, "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s%s%s\r\n", status, reason(status),
	    n + 1, flags & REPLY_NO_RETRY ? "x-should-retry: false\r\n" : "",
	    flags & REPLY_CLOSE ? "Connection: close\r\n" : "",
	    extra ? extra : "") == -1)
		return -1;
	if (flags & REPLY_HEAD)
		return 0;
	if (buf_add(out, json, n) == -1 || buf_adds(out, "\n") == -1)
		return -1;
	return 0;
}

int
reply_json(struct buf *out, int status, const char *json, int flags)
{
	return json_ex(out, status, json, flags, NULL);
}

int
reply_error(struct buf *out, int status, const char *message, int flags)
{
	return reply_error_ex(out, status, message, flags, NULL);
}

/* The answer with root as its body, printed; root is deleted. ok 0 when
 * filling root failed. */
static int
json_tree(struct buf *out, int status, cJSON *root, int ok, int flags,
    const char *extra)
{
	char *s;
	int rc = -1;

	if (ok && (s = cJSON_PrintUnformatted(root)) != NULL) {
		rc = json_ex(out, status, s, flags, extra);
		free(s);
	}
	cJSON_Delete(root);
	return rc;
}

int
reply_error_ex(struct buf *out, int status, const char *message, int flags,
    const char *extra)
{
	cJSON *root, *err;

	if ((root = cJSON_CreateObject()) == NULL)
		return -1;
	return json_tree(out, status, root,
	    cJSON_AddStringToObject(root, "type", "error") &&
	    (err = cJSON_AddObjectToObject(root, "error")) != NULL &&
	    cJSON_AddStringToObject(err, "type", error_type(status)) &&
	    cJSON_AddStringToObject(err, "message", message), flags, extra);
}

/* OpenAI's error type for a status. */
static const char *
openai_type(int status)
{
	switch (status) {
	case 401: return "authentication_error";
	case 403: return "permission_error";
	case 429: return "rate_limit_error";
	default: return status >= 500 ? "server_error" :
	    "invalid_request_error";
	}
}

int
reply_openai_error(struct buf *out, int status, const char *message,
    int flags, const char *extra)
{
	cJSON *root, *err;

	if ((root = cJSON_CreateObject()) == NULL)
		return -1;
	return json_tree(out, status, root,
	    (err = cJSON_AddObjectToObject(root, "error")) != NULL &&
	    cJSON_AddStringToObject(err, "message", message) &&
	    cJSON_AddStringToObject(err, "type", openai_type(status)) &&
	    cJSON_AddNullToObject(err, "param") &&
	    cJSON_AddNullToObject(err, "code"), flags, extra);
}
