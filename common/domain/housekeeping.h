/*
 * Housekeeping: deleting rows that are only kept for a while. A session
 * row (users.h) is kept a day past its end, whether it expired or was
 * revoked; an idempotency key (sandbox.h) answers replays for 24 hours;
 * an API token (tokens.h) is kept 30 days past its end.
 * After that nothing reads them, so the reaper deletes them in batches,
 * each one short statement in its own transaction, far under DSQL's
 * 3,000-row limit. Nothing here knows HTTP or CloudFormation.
 */
#ifndef SBX_HOUSEKEEPING_H
#define SBX_HOUSEKEEPING_H

#include "common/core/err.h"

/*
 * How long an idempotency key is kept, as SQL: the reaper's sweep and the
 * per-user sweep at each create (sandbox_create.c) use this one value.
 */
#define SBX_HOUSEKEEPING_IDEM_KEEP "interval '24 hours'"

/* How long a session row outlives its expiry or revocation, as SQL. */
#define SBX_HOUSEKEEPING_SESSION_KEEP "interval '1 day'"

/*
 * How long an API token row (tokens.h) outlives its expiry or
 * revocation, as SQL: its owner still sees it listed, as ended, so long.
 */
#define SBX_HOUSEKEEPING_API_TOKEN_KEEP "interval '30 days'"

/* What housekeeping deletes. */
enum sbx_housekeeping_kind {
	SBX_HK_SESSIONS,		/* expired or revoked over a day ago */
	SBX_HK_IDEMPOTENCY_KEYS,	/* created over 24 hours ago */
	SBX_HK_API_TOKENS,		/* expired or revoked over 30 days ago */
	SBX_HK__MAX
};

/* "sessions", "idempotency keys", "API tokens"; "unknown" out of range. */
const char *sbx_housekeeping_name(enum sbx_housekeeping_kind kind);

/*
 * Deletes at most limit rows of kind that are past keeping (limit is
 * taken within 1..SBX_HOUSEKEEPING_BATCH_MAX), in one transaction
 * (retried on a serialization conflict, as sbx_db_tx does). *n gets how
 * many went; fewer than limit means none is left.
 */
#define SBX_HOUSEKEEPING_BATCH_MAX 1000
enum sbx_err sbx_housekeeping_delete(enum sbx_housekeeping_kind kind,
    long limit, long *n);

/* How many rows of kind are past keeping (a dry run's count); deletes none. */
enum sbx_err sbx_housekeeping_count(enum sbx_housekeeping_kind kind, long *n);

#endif
