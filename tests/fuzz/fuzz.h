/*
 * What the fuzz targets share: the entry point that libFuzzer, or the
 * plain driver in replay_main.c, calls with each input; a CHECK that
 * aborts, so that the fuzzer keeps the input that broke a contract; and
 * the split of an input into the byte that picks a parser and the text
 * that parser reads.
 */
#ifndef SBX_TESTS_FUZZ_H
#define SBX_TESTS_FUZZ_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, \
	    #cond); \
	abort(); } } while (0)

/*
 * n bytes at p in a buffer of their own, followed by a NUL when nul is
 * set; without it the buffer holds exactly the n bytes (one byte for
 * none), so the sanitizers see a parser that reads past a text it was
 * given with its length. NULL when out of memory; the caller frees it.
 */
static inline char *
fuzz_copy(const unsigned char *p, size_t n, int nul)
{
	char *text = malloc(n + (nul || n == 0 ? 1 : 0));

	if (text == NULL)
		return NULL;
	memcpy(text, p, n);
	if (nul)
		text[n] = '\0';
	return text;
}

/*
 * The input after its first byte (data[0] picks the parser), exactly its
 * *len bytes with no NUL after them, for the parsers that take a length.
 * NULL for an empty input or when out of memory; the caller frees it.
 */
static inline char *
fuzz_body(const unsigned char *data, size_t size, size_t *len)
{
	*len = size > 0 ? size - 1 : 0;
	return size < 1 ? NULL : fuzz_copy(data + 1, *len, 0);
}

/*
 * The input after its first byte (data[0] picks the parser), as a C
 * string cut at the first NUL: the parsers take C strings, as CGI hands
 * them over. NULL for an empty input or when out of memory; the caller
 * frees the string.
 */
static inline char *
fuzz_text(const unsigned char *data, size_t size)
{
	return size < 1 ? NULL : fuzz_copy(data + 1, size - 1, 1);
}

typedef void (*fuzz_text_fn)(const char *text);

/*
 * Hands the input's text (fuzz_text) to the one of the n parsers that
 * data[0] picks (its value modulo n), for the targets that hold several.
 */
static inline int
fuzz_pick(const unsigned char *data, size_t size, const fuzz_text_fn *fns,
    size_t n)
{
	char *text = fuzz_text(data, size);

	if (text == NULL)
		return 0;
	fns[data[0] % n](text);
	free(text);
	return 0;
}

/* "<name>=<value>" in a new string (a CGI variable); NULL on ENOMEM. */
static inline char *
fuzz_pair(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *kv = malloc(n);

	if (kv != NULL)
		snprintf(kv, n, "%s=%s", name, value);
	return kv;
}

/*
 * Writes s at w with every byte as %XX, the strictest spelling a
 * percent-decoder must take (3 * strlen(s) bytes, no NUL); returns the end.
 */
static inline char *
fuzz_pct(char *w, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		*w++ = '%';
		*w++ = hex[(unsigned char)*s >> 4];
		*w++ = hex[(unsigned char)*s & 15];
	}
	return w;
}

#endif
