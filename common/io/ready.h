/*
 * Readiness: whether this process can serve requests that need the
 * database, for GET /readyz. It exists so that a responder can ask without
 * including db.h (and libpq-fe.h), which only common/ may include.
 */
#ifndef SBX_READY_H
#define SBX_READY_H

#include "common/core/err.h"

/*
 * Runs one trivial query on the process's connection (opening it when
 * needed): SBX_OK, or SBX_EUNAVAILABLE when the database cannot be reached.
 */
enum sbx_err sbx_ready_check(void);

#endif
