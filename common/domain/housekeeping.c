/*
 * Housekeeping's SQL (see housekeeping.h): one DELETE and one count per
 * kind of row, both with the same condition, so that a dry run counts
 * exactly what a run would delete.
 */
#include <stdio.h>

#include <libpq-fe.h>

#include "common/io/db.h"
#include "common/domain/housekeeping.h"

#define SESSIONS_OLD \
	" (expires_at < now() - " SBX_HOUSEKEEPING_SESSION_KEEP \
	" OR revoked_at < now() - " SBX_HOUSEKEEPING_SESSION_KEEP ")"

#define IDEM_OLD " created_at < now() - " SBX_HOUSEKEEPING_IDEM_KEEP

#define API_TOKENS_OLD \
	" (expires_at < now() - " SBX_HOUSEKEEPING_API_TOKEN_KEEP \
	" OR revoked_at < now() - " SBX_HOUSEKEEPING_API_TOKEN_KEEP ")"

/*
 * DELETE has no LIMIT in PostgreSQL: the batch is the primary keys a
 * subquery picks, which PostgreSQL and DSQL both take.
 */
static const struct {
	const char *name;
	const char *delete_name, *delete_sql;
	const char *count_name, *count_sql;
} kinds[SBX_HK__MAX] = {
	[SBX_HK_SESSIONS] = { "sessions",
	    "hk_sessions_delete",
	    "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions"
	    " WHERE" SESSIONS_OLD " LIMIT $1::int)",
	    "hk_sessions_count",
	    "SELECT count(*) AS n FROM sessions WHERE" SESSIONS_OLD },
	[SBX_HK_IDEMPOTENCY_KEYS] = { "idempotency keys",
	    "hk_idem_delete",
	    "DELETE FROM idempotency_keys WHERE (user_id, key) IN"
	    " (SELECT user_id, key FROM idempotency_keys WHERE" IDEM_OLD
	    " LIMIT $1::int)",
	    "hk_idem_count",
	    "SELECT count(*) AS n FROM idempotency_keys WHERE" IDEM_OLD },
	[SBX_HK_API_TOKENS] = { "API tokens",
	    "hk_api_tokens_delete",
	    "DELETE FROM api_tokens WHERE id IN (SELECT id FROM api_tokens"
	    " WHERE" API_TOKENS_OLD " LIMIT $1::int)",
	    "hk_api_tokens_count",
	    "SELECT count(*) AS n FROM api_tokens WHERE" API_TOKENS_OLD },
};

const char *
sbx_housekeeping_name(enum sbx_housekeeping_kind kind)
{
	if ((unsigned)kind >= SBX_HK__MAX)
		return "unknown";
	return kinds[kind].name;
}

struct hk_delete {
	enum sbx_housekeeping_kind kind;
	const char *limit;
	long n;
};

static enum sbx_err
tx_delete_fn(PGconn *conn, void *arg)
{
	struct hk_delete *a = arg;
	const char *p[1] = { a->limit };

	a->n = 0;
	return sbx_db_run(conn, kinds[a->kind].delete_name,
	    kinds[a->kind].delete_sql, 1, p, &a->n);
}

enum sbx_err
sbx_housekeeping_delete(enum sbx_housekeeping_kind kind, long limit,
    long *n)
{
	struct hk_delete a = { kind, NULL, 0 };
	char l[32];
	enum sbx_err err;

	*n = 0;
	if ((unsigned)kind >= SBX_HK__MAX)
		return SBX_EINVAL;
	if (limit < 1)
		limit = 1;
	if (limit > SBX_HOUSEKEEPING_BATCH_MAX)
		limit = SBX_HOUSEKEEPING_BATCH_MAX;
	snprintf(l, sizeof(l), "%ld", limit);
	a.limit = l;
	err = sbx_db_tx(tx_delete_fn, &a);
	if (err == SBX_OK)
		*n = a.n;
	return err;
}

enum sbx_err
sbx_housekeeping_count(enum sbx_housekeeping_kind kind, long *n)
{
	PGresult *res = NULL;
	enum sbx_err err;

	*n = 0;
	if ((unsigned)kind >= SBX_HK__MAX)
		return SBX_EINVAL;
	err = sbx_db_exec(kinds[kind].count_name, kinds[kind].count_sql, 0,
	    NULL, &res);
	if (err == SBX_OK)
		*n = (long)sbx_db_ll(res, 0, "n");
	PQclear(res);
	return err;
}
