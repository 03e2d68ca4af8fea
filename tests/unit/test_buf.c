/* buf: growth, and a secret buffer leaving no copy in freed memory.
 * free is interposed to look at each block as it is given back (not
 * under ASan, which owns free). */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/buf.h"
#include "unit.h"

#if !defined(__SANITIZE_ADDRESS__)
#define WATCH_FREE 1
extern void __libc_free(void *);
static const char *watch;	/* the secret to look for */
static int seen;		/* freed blocks that still held it */

void
free(void *p)
{
	if (p && watch) {
		size_t n = malloc_usable_size(p), k = strlen(watch);

		seen += n >= k && memmem(p, n, watch, k) != NULL;
	}
	__libc_free(p);
}
#endif

static void
grow(struct buf *b, const char *secret)
{
	int i;

	(void)buf_adds(b, secret);
	/* Past 256 bytes, then 512, 1024...: the bytes move each time. */
	for (i = 0; i < 200; i++)
		(void)buf_adds(b, "0123456789");
}

/* buf_addf formats in place when the room is there, and grows the buffer
 * (formatting again) when it is not, at every distance from the edge. */
static void
addf_fits_or_grows(void)
{
	char want[700];
	size_t at, i;
	int ok = 1;

	for (at = 200; at < 300 && ok; at++) {
		struct buf b = { 0 };

		for (i = 0; i < at; i++)
			(void)buf_add(&b, "x", 1);
		ok = buf_addf(&b, "%s=%d;%.*s", "key", 42, 50,
		    "0123456789012345678901234567890123456789012345678901")
		    == 0;
		memset(want, 'x', at);
		snprintf(want + at, sizeof want - at, "key=42;%.50s",
		    "0123456789012345678901234567890123456789012345678901");
		ok = ok && b.len == strlen(want) && strcmp(b.p, want) == 0;
		buf_free(&b);
	}
	CHECK("buf_addf at every distance from the buffer's end", ok);
}

int
main(void)
{
	static const char secret[] = "sk-ant-oat01-TESTSECRET-4f1c9a";
	struct buf plain = { 0 }, s = BUF_SECRET;

	grow(&s, secret);
	CHECK("secret buffer keeps its bytes when it grows", s.len ==
	    strlen(secret) + 2000 && memcmp(s.p, secret, strlen(secret)) == 0 &&
	    s.p[s.len] == '\0');
#ifdef WATCH_FREE
	watch = secret;
	seen = 0;
	buf_free(&s);
	grow(&s, secret);
	buf_free(&s);
	CHECK("secret buffer: no freed block holds the secret", seen == 0);
	seen = 0;
	grow(&plain, secret);
	buf_free(&plain);
	CHECK("plain buffer: the check sees what a plain one leaves",
	    seen > 0);
	watch = NULL;
	CHECK("still secret after free", s.secret == 1 && s.p == NULL);
#else
	buf_free(&s);
	buf_free(&plain);
	printf("# under ASan free is not watched\n");
#endif
	addf_fits_or_grows();
	return UNIT_END();
}
