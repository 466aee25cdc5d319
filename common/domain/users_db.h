/*
 * What the SQL of users (users.c) shares with other modules of common/
 * that read user columns in their own queries (tokens.c): reading a user
 * out of a result row. Only common/ includes it (it needs libpq-fe.h).
 */
#ifndef SBX_USERS_DB_H
#define SBX_USERS_DB_H

#include <libpq-fe.h>

#include "common/core/err.h"
#include "common/domain/users.h"

/*
 * The SELECT list that sbx_users_from_row reads, for users aliased u:
 * id, email, name, picture, disabled.
 */
#define SBX_USERS_DB_COLUMNS \
	"u.id, u.email, u.name, u.picture, " \
	"u.disabled_at IS NOT NULL AS disabled"

/*
 * Copies row `row` of res (columns id, email, name, picture, disabled,
 * found by name) into out (sbx_users_user_fini). SBX_EINTERNAL when id or email
 * is missing.
 */
enum sbx_err sbx_users_from_row(const PGresult *res, int row,
    struct sbx_user *out);

#endif
