/*
 * Schema migrations: the numbered files DIR/NNN_name.sql, applied in
 * order, each version recorded in schema_migrations once its last
 * statement succeeded; on DSQL, then the application role's grants.
 * schema/sbx-migrate.c is the command around
 * sbx_migrate_run; the statement splitter, the DSQL rewrite and the
 * file-name rule are exported for their unit test.
 */
#ifndef SBX_MIGRATE_H
#define SBX_MIGRATE_H

#include <stddef.h>

#include "common/core/err.h"

enum sbx_migrate_dialect { SBX_MIGRATE_POSTGRES, SBX_MIGRATE_DSQL };

/* One statement of a file: its text (comments removed) and first line. */
struct sbx_migrate_stmt {
	char *sql;
	int line;
};

struct sbx_migrate_stmts {
	struct sbx_migrate_stmt *v;
	size_t n;
	size_t cap;
};

/*
 * Splits a migration's text into statements on the semicolons outside
 * quotes, dollar quotes and comments. SBX_EPARSE (with *err_line the line
 * where the unterminated piece starts) or SBX_ENOMEM leave out empty.
 * The caller frees out with sbx_migrate_stmts_fini.
 */
enum sbx_err sbx_migrate_split(const char *text,
    struct sbx_migrate_stmts *out, int *err_line);
void sbx_migrate_stmts_fini(struct sbx_migrate_stmts *s);

/*
 * The statement as it runs on the dialect (heap, caller frees; NULL on
 * ENOMEM). For DSQL, CREATE [UNIQUE] INDEX gains ASYNC right after INDEX.
 */
char *sbx_migrate_rewrite(const char *sql, enum sbx_migrate_dialect dialect);

/*
 * 1 when file is a migration's name, NNN_name.sql; fills version and,
 * when name is non-NULL, the name without ".sql" (heap, caller frees).
 */
int sbx_migrate_file_parse(const char *file, char version[4], char **name);

/*
 * The value a statement's $1 is bound to: the service's OIDC issuer
 * (OIDC_ISSUER; Google's when unset or spelled "accounts.google.com").
 * Static storage or the environment's; not to be freed.
 */
const char *sbx_migrate_issuer(void);

/* True when sql refers to $1 (and not $10...). */
int sbx_migrate_uses_param(const char *sql);

/*
 * Applies (dry: prints) the files of dir that schema_migrations does not
 * list yet (and, on DSQL, makes sure of the application role's grants),
 * over the connection of common/io/db.h (settings loaded by the caller).
 * Says what it did on stdout and what failed on stderr. 0 when done or
 * nothing was pending, -1 on a failure.
 */
int sbx_migrate_run(const char *dir, enum sbx_migrate_dialect dialect,
    int dry);

#endif
