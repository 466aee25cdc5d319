/*
 * Layer io (common/io/): the outside world - the database (this module,
 * the migrations, the readiness check), the outgoing HTTP client, AWS
 * (SigV4, credentials, one signed call in awsapi, and the clients of
 * CloudFormation, EC2 and the Price List) and OpenID Connect with its
 * cache of verified ID tokens. It uses core only; it knows no sandbox,
 * template or user, and no incoming request.
 * libpq, libcurl, libxml2 and libjwt are called here and nowhere above
 * (libpq and SQL text also in domain).
 *
 * The database: one libpq connection per process, opened on first use,
 * reused across requests, reopened after a failure and recycled once it is
 * older than DB_MAX_CONN_AGE_SECONDS (Aurora DSQL drops connections at 60
 * minutes). Statements are parameterised only; hot ones are prepared once
 * per connection. Transactions run at REPEATABLE READ (DSQL's snapshot
 * isolation) and are re-run whole on SQLSTATE 40001 with backoff and
 * jitter, a bounded number of times.
 *
 * Only common/ includes this header: responders reach the database through
 * the domain modules.
 */
#ifndef SBX_DB_H
#define SBX_DB_H

#include <libpq-fe.h>

#include "common/core/err.h"

/*
 * A transaction body. It runs its statements on conn with sbx_db_query and
 * returns SBX_OK to commit; any other code rolls back. It may run more
 * than once (after a serialization conflict), so it must not keep effects
 * outside the database from an earlier attempt.
 */
typedef enum sbx_err (*sbx_db_tx_fn)(PGconn *conn, void *arg);

/*
 * Runs fn in a REPEATABLE READ transaction, retrying on 40001 up to
 * DB_TX_MAX_ATTEMPTS times. Returns fn's code, SBX_EUNAVAILABLE when the
 * database cannot be reached, or SBX_ESERIALIZE when every attempt
 * conflicted.
 */
enum sbx_err sbx_db_tx(sbx_db_tx_fn fn, void *arg);

/*
 * Runs one parameterised statement. With name non-NULL the statement is
 * prepared once per connection under that name and executed by it. On
 * SBX_OK *out holds a result of status PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK that the caller PQclear()s; on failure *out is NULL and
 * the code says why: SBX_ECONFLICT (23505 unique violation), SBX_ESERIALIZE
 * (40001), SBX_EUNAVAILABLE (connection lost), SBX_EDB (anything else).
 */
enum sbx_err sbx_db_query(PGconn *conn, const char *name, const char *sql,
    int nparams, const char *const *params, PGresult **out);

/* sbx_db_query outside a transaction (autocommit), on the process's connection. */
enum sbx_err sbx_db_exec(const char *name, const char *sql, int nparams,
    const char *const *params, PGresult **out);

/*
 * A column of a row by name; NULL when the value is SQL NULL or the column
 * does not exist. The string belongs to res.
 */
const char *sbx_db_get(const PGresult *res, int row, const char *column);

/* Column col of row `row` as an integer; 0 for SQL NULL. */
long long sbx_db_ll(const PGresult *res, int row, const char *col);
/* A numeric column as a double; def when NULL. */
double sbx_db_num(const PGresult *res, int row, const char *col, double def);

/* A text column, and the char * member of a struct that gets a copy. */
struct sbx_db_text {
	const char *col;
	size_t off;			/* offsetof the member */
};

/*
 * Copies the n text columns of row `row` into the members of the struct
 * at base (NULL for SQL NULL; the caller frees them, also on failure).
 * 0 when a copy could not be made.
 */
int sbx_db_take(void *base, const struct sbx_db_text *cols, size_t n,
    const PGresult *res, int row);

/*
 * One statement on conn inside the caller's transaction, or on its own
 * (autocommit, sbx_db_exec) when conn is NULL; *out as sbx_db_query's.
 */
enum sbx_err sbx_db_stmt(PGconn *conn, const char *name, const char *sql,
    int nparams, const char *const *params, PGresult **out);

/*
 * One statement whose rows are not read, run as sbx_db_stmt runs it.
 * *rows (may be NULL) gets how many rows it changed or returned.
 */
enum sbx_err sbx_db_run(PGconn *conn, const char *name, const char *sql,
    int nparams, const char *const *params, long *rows);

/* SELECT 1 on the connection: SBX_OK or SBX_EUNAVAILABLE. */
enum sbx_err sbx_db_ping(void);

/* Closes the process's connection (tests, shutdown). */
void sbx_db_close(void);

/*
 * The connection opened for the caller's own use (sbx-migrate runs DDL
 * outside sbx_db_tx). SBX_EUNAVAILABLE when it cannot connect.
 */
enum sbx_err sbx_db_conn(PGconn **out);

/*
 * The pure rules of the module, exported for tests/unit/test_db_sql.c.
 * sbx_db_sqlstate_err maps a SQLSTATE to a code (08xxx and 57P0x
 * unavailable, 40001/40P01 serialize, 23505 conflict, else SBX_EDB);
 * sbx_db_backoff_ms is the full-jitter sleep before attempt + 1, given a
 * random number; sbx_db_sql_is_select says whether a statement is a plain
 * SELECT (safe to send again); sbx_db_msg copies a libpq message onto one
 * line of buf, blanks squeezed.
 */
enum sbx_err sbx_db_sqlstate_err(const char *sqlstate);
long sbx_db_backoff_ms(long base, int attempt, unsigned long rnd);
int sbx_db_sql_is_select(const char *sql);
void sbx_db_msg(char *buf, size_t len, const char *msg);

#endif
