/* The conversation table: found, moved, bounded by age and by count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "accounts/convo.h"
#include "parsers/config.h"
#include "unit.h"

static char dir[64], path[128];

static void
key(int i, char out[KEYHASH_LEN])
{
	snprintf(out, KEYHASH_LEN, "%032x", i);
}

static int
lines(void)
{
	FILE *f = fopen(path, "r");
	int n = 0, c;

	while (f && (c = fgetc(f)) != EOF)
		n += c == '\n';
	if (f)
		fclose(f);
	return n;
}

int
main(void)
{
	struct config cfg;
	char k[KEYHASH_LEN], id[256];
	time_t seen, now = time(NULL);
	FILE *f;
	int i;

	snprintf(dir, sizeof dir, "/tmp/test_convo.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof path, "%s/conversations", dir);
	memset(&cfg, 0, sizeof cfg);
	cfg.auth_dir = dir;

	key(1, k);
	CHECK("unknown at first", !convo_find(&cfg, k, id, sizeof id, &seen));
	convo_put(&cfg, k, "claude-a@example.com.json");
	CHECK("found", convo_find(&cfg, k, id, sizeof id, &seen) &&
	    strcmp(id, "claude-a@example.com.json") == 0 && seen >= now);
	convo_put(&cfg, k, "claude-b@example.com.json");
	CHECK("moved, once", convo_find(&cfg, k, id, sizeof id, &seen) &&
	    strcmp(id, "claude-b@example.com.json") == 0 && lines() == 1);
	CHECK("an id with a space is not kept", (convo_put(&cfg, k,
	    "a b"), convo_find(&cfg, k, id, sizeof id, &seen) &&
	    strcmp(id, "claude-b@example.com.json") == 0));

	/* A full table of old and idle conversations. */
	f = fopen(path, "w");
	for (i = 0; f && i < CONVO_MAX + 50; i++) {
		key(100 + i, k);
		fprintf(f, "%s %lld acct-%d\n", k, (long long)(i < 10 ?
		    now - 7200 : now - 3000 + i / 10), i);
	}
	if (f)
		fclose(f);
	sleep(1);       /* a new mtime: the kept copy is stale */
	key(105, k);
	CHECK("idle for two hours: gone", !convo_find(&cfg, k, id, sizeof id,
	    &seen));
	key(100 + CONVO_MAX, k);
	CHECK("recent: found", convo_find(&cfg, k, id, sizeof id, &seen));
	key(2, k);
	convo_put(&cfg, k, "claude-c@example.com.json");
	CHECK("bounded", lines() == CONVO_MAX);
	CHECK("the new one kept", convo_find(&cfg, k, id, sizeof id, &seen) &&
	    strcmp(id, "claude-c@example.com.json") == 0);
	key(100 + 10, k);
	CHECK("the least recently seen dropped", !convo_find(&cfg, k, id,
	    sizeof id, &seen));
	key(100 + CONVO_MAX + 49, k);
	CHECK("the most recently seen kept", convo_find(&cfg, k, id,
	    sizeof id, &seen));

	CHECK("due when new", convo_due(0, "", "a", 0, now));
	CHECK("due when moved", convo_due(1, "a", "b", now, now));
	CHECK("not due in steady use", !convo_due(1, "a", "a", now - 60, now));
	CHECK("due to stay alive", convo_due(1, "a", "a", now - CONVO_TOUCH,
	    now));
	unlink(path);
	snprintf(path, sizeof path, "%s/conversations.lock", dir);
	unlink(path);
	rmdir(dir);
	return UNIT_END();
}
