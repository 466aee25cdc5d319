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

#endif
