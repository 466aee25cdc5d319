/* Wiping secrets, a growable string, percent-encoding (see util.h). */
#include <stdlib.h>
#include <string.h>

#include "common/core/util.h"

void
sbx_util_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
sbx_util_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}
