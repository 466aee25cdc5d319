/*
 * Internal to the sandbox modules of common/domain (sandbox.c,
 * sandbox_cfn.c, sandbox_create.c, sandbox_batch.c): the column list every statement about
 * a sandbox row returns, the helpers that read such rows, and the one that
 * writes events inside a transaction. The generic statement helpers are
 * common/io/db.h's. Nothing outside those files includes this header (it
 * brings in libpq).
 */
#ifndef SBX_SANDBOX_DB_H
#define SBX_SANDBOX_DB_H

#include <stddef.h>

#include <libpq-fe.h>

#include "common/core/err.h"
#include "common/domain/sandbox.h"

/*
 * The columns of a sandbox row as struct sbx_sandbox reads them: times as
 * whole seconds since the epoch, stuck as 0/1. Usable after SELECT and
 * after RETURNING.
 */
#define SBX_SANDBOX_COLS \
	"id::text AS id, name, owner_id::text AS owner_id, owner_email," \
	" template_name, template_version, status, status_reason," \
	" stack_name, stack_id, parameters, stack_parameters, outputs," \
	" floor(extract(epoch FROM created_at))::bigint AS created_at," \
	" floor(extract(epoch FROM expiry_time))::bigint AS expiry_time," \
	" floor(extract(epoch FROM max_expiry_time))::bigint AS max_expiry_time," \
	" floor(extract(epoch FROM terminated_at))::bigint AS terminated_at," \
	" floor(extract(epoch FROM updated_at))::bigint AS updated_at," \
	" floor(extract(epoch FROM last_refresh_at))::bigint AS refreshed_at," \
	" version, pending_action, attempts," \
	" floor(extract(epoch FROM next_attempt_at))::bigint AS next_attempt_at," \
	" CASE WHEN stuck THEN 1 ELSE 0 END AS stuck, " SBX_SANDBOX_COST_COL

/* The cost column of SBX_SANDBOX_COLS (cost.h's sbx_cost_view reads it). */
#define SBX_SANDBOX_COST_COL \
	"(SELECT json_build_array(c.hourly_usd, c.accrued_usd," \
	"  floor(extract(epoch FROM c.accrued_at)), c.accruing," \
	"  c.unpriced::json, floor(extract(epoch FROM c.estimated_at)))::text" \
	"  FROM sandbox_costs c WHERE c.sandbox_id = sandboxes.id) AS cost"

/*
 * One statement that returns sandbox rows (SBX_SANDBOX_COLS), run as
 * sbx_db_stmt does; its first row goes to *out (caller frees; out
 * may be NULL to only test). A row already in *out is freed first, so a
 * transaction body that runs again can pass the same one. No row gives
 * `none`: SBX_ENOTFOUND for a read, SBX_ECONFLICT for a conditional
 * UPDATE (the row changed since it was read).
 */
enum sbx_err sbx_sandbox_db_row_query(PGconn *conn, const char *name,
    const char *sql, int nparams, const char *const *params,
    enum sbx_err none, struct sbx_sandbox **out);

/*
 * An UPDATE of sb's row that holds only while the row is at the version
 * sb was read at ($1 its id, $2 its version), on a connection of its own:
 * `none` when the row has moved on; the updated row to *out as
 * sbx_sandbox_db_row_query does.
 */
enum sbx_err sbx_sandbox_db_row_at(const char *name, const char *sql,
    const struct sbx_sandbox *sb, enum sbx_err none,
    struct sbx_sandbox **out);

/*
 * The first max rows of res into *out (released with
 * sbx_sandbox_list_fini); SBX_ENOMEM leaves it empty.
 */
enum sbx_err sbx_sandbox_db_rows(const PGresult *res, size_t max,
    struct sbx_sandbox_list *out);

/*
 * The reaper lists' condition for a row that is due at $1 (seconds since
 * the epoch): a NULL next_attempt_at is due; one ahead (a claim's lease,
 * a backoff) is not.
 */
#define SBX_SANDBOX_DUE " (next_attempt_at IS NULL" \
	" OR next_attempt_at <= to_timestamp($1::bigint))"

/* Row `row` of res as a new struct (caller frees); NULL on ENOMEM. */
struct sbx_sandbox *sbx_sandbox_db_row(const PGresult *res, int row);

/*
 * The first row of res into *out (caller frees; out may be NULL to only
 * test): SBX_ENOTFOUND when res has no row.
 */
enum sbx_err sbx_sandbox_db_one(const PGresult *res, struct sbx_sandbox **out);

/* Appends one event inside the caller's transaction. */
enum sbx_err sbx_sandbox_db_event(PGconn *conn, const char *sandbox_id,
    const char *actor, const char *action, const char *from_status,
    const char *to_status, const char *detail);

/* Outputs as JSON object text (caller frees). */
enum sbx_err sbx_sandbox_db_outputs_json(const char *const *keys,
    const char *const *values, size_t n, char **out);

#endif
