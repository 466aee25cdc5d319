/* Names for enum sbx_err. */
#include <stddef.h>

#include "common/core/err.h"

static const char *const names[SBX_ERR__MAX] = {
	[SBX_OK] = "ok",
	[SBX_ENOMEM] = "out of memory",
	[SBX_EINVAL] = "invalid argument",
	[SBX_ENOTFOUND] = "not found",
	[SBX_ECONFLICT] = "conflict",
	[SBX_ETOOBIG] = "too big",
	[SBX_EPARSE] = "parse error",
	[SBX_EUNAVAILABLE] = "dependency unavailable",
	[SBX_ESERIALIZE] = "serialization conflict",
	[SBX_EDB] = "database error",
	[SBX_EAUTH] = "not authenticated",
	[SBX_EFORBIDDEN] = "forbidden",
	[SBX_EREMOTE] = "remote error",
	[SBX_ETHROTTLED] = "throttled",
	[SBX_EIO] = "i/o error",
	[SBX_ECONFIG] = "configuration error",
	[SBX_EINTERNAL] = "internal error",
};

const char *
sbx_strerror(enum sbx_err err)
{
	if ((unsigned)err >= SBX_ERR__MAX || names[err] == NULL)
		return "unknown error";
	return names[err];
}
