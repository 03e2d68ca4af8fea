/* Replays the fuzzers' saved inputs under make check: every file in
 * tests/fuzz/regress/TARGET/ (inputs that once crashed a target, kept
 * after the fix) and in tests/fuzz/corpus/TARGET/ (the seeds) goes
 * through the same target function libFuzzer calls, built here with the
 * normal compiler and flags (and ASan+UBSan under SANITIZE=1). A crash or
 * a broken property aborts the program: run.sh counts that as a failure. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

#define FUZZ_ENTRY fuzz_http_request
#include "../fuzz/fuzz_http_request.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_http_response
#include "../fuzz/fuzz_http_response.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_chunked
#include "../fuzz/fuzz_chunked.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_config
#include "../fuzz/fuzz_config.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_token
#include "../fuzz/fuzz_token.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_id_token
#include "../fuzz/fuzz_id_token.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_usage
#include "../fuzz/fuzz_usage.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_claude_body
#include "../fuzz/fuzz_claude_body.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_codex_body
#include "../fuzz/fuzz_codex_body.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_sse_chat
#include "../fuzz/fuzz_sse_chat.c"
#undef FUZZ_ENTRY
#define FUZZ_ENTRY fuzz_catalog
#include "../fuzz/fuzz_catalog.c"
#undef FUZZ_ENTRY

static const struct {
	const char *name;
	int (*fn)(const uint8_t *, size_t);
} targets[] = {
	{ "http_request", fuzz_http_request },
	{ "http_response", fuzz_http_response },
	{ "chunked", fuzz_chunked },
	{ "config", fuzz_config },
	{ "token", fuzz_token },
	{ "id_token", fuzz_id_token },
	{ "usage", fuzz_usage },
	{ "claude_body", fuzz_claude_body },
	{ "codex_body", fuzz_codex_body },
	{ "sse_chat", fuzz_sse_chat },
	{ "catalog", fuzz_catalog },
};

/* Feed every file of dir/name to fn; the count, or -1 on a read error. */
static int
replay(const char *dir, const char *name, int (*fn)(const uint8_t *, size_t))
{
	char path[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof path, "tests/fuzz/%s/%s", dir, name);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char file[1024];
		uint8_t *data;
		size_t len;
		FILE *f;
		long sz;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof file, "%s/%s", path, e->d_name);
		if ((f = fopen(file, "rb")) == NULL ||
		    fseek(f, 0, SEEK_END) == -1 || (sz = ftell(f)) < 0 ||
		    fseek(f, 0, SEEK_SET) == -1) {
			if (f)
				fclose(f);
			n = -1;
			break;
		}
		len = (size_t)sz;
		/* Exactly the file's size, as libFuzzer hands it over. */
		if ((data = malloc(len ? len : 1)) == NULL ||
		    fread(data, 1, len, f) != len) {
			free(data);
			fclose(f);
			n = -1;
			break;
		}
		fclose(f);
		/* Named on stderr first: if it crashes, the log says which. */
		fprintf(stderr, "replay %s\n", file);
		fn(data, len);
		free(data);
		n++;
	}
	closedir(d);
	return n;
}

int
main(void)
{
	char name[128];
	size_t i;
	int n;

	for (i = 0; i < sizeof targets / sizeof targets[0]; i++) {
		n = replay("regress", targets[i].name, targets[i].fn);
		snprintf(name, sizeof name, "fuzz regressions %s (%d files)",
		    targets[i].name, n);
		CHECK(name, n >= 0);
		n = replay("corpus", targets[i].name, targets[i].fn);
		snprintf(name, sizeof name, "fuzz seeds %s (%d files)",
		    targets[i].name, n);
		CHECK(name, n > 0);
	}
	return UNIT_END();
}
