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
 * The input after its first byte (data[0] picks the parser), as a C
 * string cut at the first NUL: the parsers take C strings, as CGI hands
 * them over. NULL for an empty input or when out of memory; the caller
 * frees the string.
 */
static inline char *
fuzz_text(const unsigned char *data, size_t size)
{
	char *text;

	if (size < 1)
		return NULL;
	text = malloc(size);
	if (text == NULL)
		return NULL;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	return text;
}

#endif
