/* jsonscan: a strict JSON scanner (RFC 8259) that builds no tree. One
 * pass checks a text and finds the bytes of the values asked for, so a
 * caller can splice a body and send every other byte as it came. No I/O,
 * no allocation. */
#ifndef JSONSCAN_H
#define JSONSCAN_H
#include <stddef.h>

/* How deep containers nest, the outermost included: cJSON's
 * CJSON_NESTING_LIMIT. */
#define JSCAN_DEPTH 1000

/* The bytes of one JSON value in a text; p is NULL when there is none. */
struct jscan_tok {
	const unsigned char *p;
	size_t n;
};

/* Check that text (n bytes) is one JSON object, with only whitespace
 * around it and perhaps a UTF-8 BOM before it, and find in the same pass
 * its members named names[i]: vals[i] gets the value of the last such
 * member, p NULL when there is none. obj gets the object's bytes. 0; -1
 * when the text does not start with a valid object; -2 when data follows
 * one. */
int jscan_object(const char *text, size_t n, const char *const *names,
    struct jscan_tok *vals, size_t nnames, struct jscan_tok *obj);

/* The elements of an array, in order: jscan_elements on the array t (from
 * a checked text), then jscan_next until it returns 0. */
struct jscan_iter {
	const unsigned char *p, *e;
	int depth;
};
void jscan_elements(struct jscan_iter *it, const struct jscan_tok *t);
/* 1 with elem the next element and, in the same pass, vals[i] the value
 * of its last member named names[i] when it is an object (p NULL when
 * there is none); 0 at the end, or when what follows is no valid
 * element. */
int jscan_next(struct jscan_iter *it, struct jscan_tok *elem,
    const char *const *names, struct jscan_tok *vals, size_t nnames);

/* Is the object or array t (from a checked text) empty? */
int jscan_empty(const struct jscan_tok *t);

/* Is t (from a checked text) a string that decodes to lit, escapes and
 * NULs included; with prefix set, to something that starts with lit? */
int jscan_str_is(const struct jscan_tok *t, const char *lit, int prefix);

#endif
