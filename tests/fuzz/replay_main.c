/*
 * The plain driver of every fuzz target, linked in when libFuzzer is not
 * (an ordinary build; `make fuzz-replay`): it replays each file named
 * on the command line (a corpus, a crash) through LLVMFuzzerTestOneInput,
 * so a corpus is checked with the sanitizers of an ordinary build. An
 * input longer than 1 MiB is cut there, as libFuzzer's -max_len would.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

int
main(int argc, char **argv)
{
	const char *name = strrchr(argv[0], '/');
	unsigned char *buf;
	size_t len, cap = 1 << 20;
	FILE *f;
	int i;

	name = name != NULL ? name + 1 : argv[0];
	buf = malloc(cap);
	if (buf == NULL)
		return 1;
	for (i = 1; i < argc; i++) {
		if ((f = fopen(argv[i], "rb")) == NULL) {
			perror(argv[i]);
			free(buf);
			return 1;
		}
		len = fread(buf, 1, cap, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
	}
	free(buf);
	printf("%s: replayed %d input(s)\n", name, argc - 1);
	return 0;
}
