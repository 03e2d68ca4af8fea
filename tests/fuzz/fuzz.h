/* fuzz: what the libFuzzer targets share. Each fuzz_*.c defines FUZZ_ENTRY,
 * which is LLVMFuzzerTestOneInput unless the includer renames it: the
 * regression replay (tests/unit/test_fuzz_regress.c) includes every target
 * under its own name and feeds it the files in tests/fuzz/regress/ and
 * tests/fuzz/corpus/, so a crash found once stays fixed under make check. */
#ifndef FUZZ_H
#define FUZZ_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A deterministic stream of piece sizes from a seed byte and the input, so
 * that libFuzzer can mutate how a buffer is split as well as its bytes. */
struct fuzz_split {
	uint32_t x;
};

static inline void
fuzz_split_init(struct fuzz_split *s, uint8_t seed, size_t size)
{
	s->x = 2166136261u ^ seed ^ (uint32_t)size * 16777619u;
	if (s->x == 0)
		s->x = 1;
}

/* The next piece: 1 to left bytes, mostly short, sometimes the rest. */
static inline size_t
fuzz_split_next(struct fuzz_split *s, size_t left)
{
	uint32_t r;

	s->x ^= s->x << 13;
	s->x ^= s->x >> 17;
	s->x ^= s->x << 5;
	r = s->x;
	if (left <= 1)
		return left;
	if ((r & 7) == 0)
		return left;
	if ((r & 7) < 4)
		return 1 + (r >> 8) % (left < 8 ? left : 8);
	return 1 + (r >> 8) % left;
}

/* A NUL-terminated copy of the input: the string parsers want one. */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* An exact-size heap copy, so that ASan sees a read one past the end. */
static inline char *
fuzz_copy(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	return s;
}

#endif
