/*
 * The reaper: one run over the database's schedule (DESIGN.md section
 * 4), and the operator actions built on the same steps. cron/
 * sbx-reaper is a thin main over sbx_reaper_run; the sbx-jobs and
 * sbx-sandboxes responders use the job view, the run history and the
 * operator actions.
 *
 * One run, in batches of REAPER_BATCH_SIZE rows (each change is its own
 * small transaction, far under DSQL's 3,000-row limit):
 *   1. expired ACTIVE and PROVISIONING sandboxes, and FAILED ones at
 *      once, move to TERMINATING (FAILED keep their reason) and DeleteStack
 *      is called;
 *   2. PROVISIONING rows whose CreateStack never reached AWS get it again
 *      with the same ClientRequestToken (an expired one is terminated
 *      instead, without a stack being made);
 *   3. TERMINATING rows whose DeleteStack failed or ended DELETE_FAILED
 *      get it again when their backoff is due; after REAPER_MAX_ATTEMPTS
 *      a row is flagged stuck and retried hourly (sandbox.h);
 *   4. PROVISIONING and TERMINATING rows are polled with DescribeStacks
 *      and the stack status applied;
 *   5. expiry warnings (EXPIRY_WARNING_MINUTES ahead, once per sandbox
 *      and expiry time), then webhook delivery from the outbox;
 *   6. orphan stacks (our STACK_NAME_PREFIX, tagged sbx:sandbox-id, with
 *      no live row) are reported, and deleted with delete_orphans;
 *   7. housekeeping: sessions that ended (expired or were revoked) over a
 *      day ago, idempotency keys over 24 hours old and API tokens that
 *      ended over 30 days ago are deleted, a batch per transaction
 *      (housekeeping.h); --limit does not bound it;
 *   8. the run is recorded in reaper_runs with its counts and duration.
 *
 * Concurrency: a row is acted on only after a conditional UPDATE on its
 * version succeeded (a transition, or a claim that leases it for
 * REAPER_LEASE_SECONDS), so of several reapers exactly one sends each
 * CloudFormation call; a lost claim or a transaction that keeps
 * conflicting is counted as skipped. A reaper killed at any point leaves
 * rows that say what is still to do, due again when the lease passes.
 *
 * A dry run reads the same lists, prints what it would do, and changes
 * nothing: no claim, no transition, no mutating AWS call, no run record,
 * no webhook, no row deleted (housekeeping only counts).
 */
#ifndef SBX_REAPER_H
#define SBX_REAPER_H

#include <signal.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"
#include "common/domain/sandbox.h"

/* The actor events name when the reaper acts. */
#define SBX_REAPER_ACTOR "reaper"

/* What a run counts (the counts object of the summary and the record). */
enum sbx_reaper_count {
	SBX_RC_EXPIRED,		/* expired rows moved to TERMINATING */
	SBX_RC_FAILED,		/* FAILED rows moved to TERMINATING */
	SBX_RC_DELETE_SENT,	/* DeleteStack accepted */
	SBX_RC_DELETE_RETRY,	/* DeleteStack failed or DELETE_FAILED: retry later */
	SBX_RC_CREATE_SENT,	/* a pending CreateStack accepted */
	SBX_RC_CREATE_RETRY,	/* a pending CreateStack failed again */
	SBX_RC_POLLED,		/* DescribeStacks applied */
	SBX_RC_ACTIVE,		/* became ACTIVE */
	SBX_RC_STACK_FAILED,	/* became FAILED (create failed or refused) */
	SBX_RC_TERMINATED,	/* became TERMINATED */
	SBX_RC_STUCK,		/* live rows flagged stuck, after the run */
	SBX_RC_WARNED,		/* expiry warnings */
	SBX_RC_WEBHOOKS_DELIVERED,
	SBX_RC_WEBHOOKS_FAILED,	/* rescheduled */
	SBX_RC_WEBHOOKS_PENDING,	/* dry run: due, not sent */
	SBX_RC_ORPHANS,		/* orphan stacks found */
	SBX_RC_ORPHANS_DELETED,
	SBX_RC_SESSIONS_DELETED,	/* housekeeping (dry run: would be) */
	SBX_RC_IDEM_KEYS_DELETED,	/* housekeeping (dry run: would be) */
	SBX_RC_API_TOKENS_DELETED,	/* housekeeping (dry run: would be) */
	SBX_RC_SKIPPED,		/* claim lost, or the row kept conflicting */
	SBX_RC_ERRORS,		/* a row failed for another reason (logged) */
	SBX_RC_COST_REFRESHED,	/* cost estimates made (cost.h) */
	SBX_RC_COST_FAILED,	/* estimates AWS could not give: last kept */
	SBX_RC_BUDGET_TERMINATED,	/* over max_cost_usd or the budget */
	SBX_RC_BUDGET_WARNINGS,	/* user.budget_warning sent */
	SBX_RC__MAX
};

/* "expired", ...; "unknown" out of range. */
const char *sbx_reaper_count_name(enum sbx_reaper_count c);

/* The command line of sbx-reaper. */
struct sbx_reaper_args {
	int help;
	long loop_seconds;	/* 0: --once */
	int dry_run;
	long limit;		/* 0: no limit */
	int delete_orphans;
	int verbose;
};

/*
 * Parses argv[1..argc) into a (zeroed first): --once, --loop SECONDS,
 * --dry-run, --limit N, --delete-orphans, --verbose (-v), --help (-h);
 * "--opt=value" works too. SBX_EINVAL with a sentence in err otherwise.
 */
enum sbx_err sbx_reaper_parse_args(int argc, char *const *argv,
    struct sbx_reaper_args *a, char *err, size_t err_len);

/* The --help text. */
void sbx_reaper_usage(FILE *f);

/* How one run is to go. */
struct sbx_reaper_opts {
	int dry_run;
	long limit;		/* sandboxes acted on at most; 0: no limit */
	int delete_orphans;
	int verbose;
	FILE *out;		/* dry-run and verbose lines; NULL: none */
};

/* What one run did. */
struct sbx_reaper_result {
	char run_id[40];	/* "" for a dry run or when unrecorded */
	long long started_at;	/* seconds since the epoch */
	long duration_ms;
	long counts[SBX_RC__MAX];
	cJSON *orphans;		/* [{stack_name, stack_id, sandbox_id, status, deleted}] */
	int completed;		/* every step ran (perhaps leaving retries) */
	int interrupted;	/* stopped early by a signal */
	int operator_error;	/* exit 1: an operator must look */
	char error[512];	/* why, when operator_error */
};

void sbx_reaper_result_fini(struct sbx_reaper_result *r);

/*
 * One run (above). The settings must be loaded. *stop (may be NULL)
 * ends the run between two rows when it becomes non-zero. Returns SBX_OK
 * when the run completed without an operator error; otherwise the code
 * and r->error say why (SBX_EUNAVAILABLE: the database; SBX_EAUTH: AWS
 * refused the credentials). r is filled either way and released with
 * sbx_reaper_result_fini.
 */
enum sbx_err sbx_reaper_run(const struct sbx_reaper_opts *o,
    volatile sig_atomic_t *stop, struct sbx_reaper_result *r);

/*
 * The one-line JSON summary of a run: {run_id, started_at, duration_ms,
 * ok, dry_run, interrupted, counts{}, orphans[stack names], error}.
 * Caller cJSON_Delete()s; NULL on ENOMEM.
 */
cJSON *sbx_reaper_summary(const struct sbx_reaper_result *r, int dry_run);

/* The counts object alone (for the record). NULL on ENOMEM. */
cJSON *sbx_reaper_counts_json(const long counts[SBX_RC__MAX]);

/* ------------------------------------------------------------ jobs */

/*
 * The scheduled job a live sandbox stands for, as GET /api/jobs shows it:
 * "terminate" (ACTIVE, or expired, or FAILED: the reaper deletes it at
 * next_run_time), "retry-create", "retry-delete", "refresh" (polling
 * CloudFormation). *next_run gets when the reaper will act.
 */
const char *sbx_reaper_job_action(const struct sbx_sandbox *sb, long long now,
    long long *next_run);

/*
 * {"id": "terminate-<name>", "next_run_time", "sandbox", "action",
 * "attempts", "stuck", "status", "expiry_time", "owner"}. Caller frees.
 */
cJSON *sbx_reaper_job_json(const struct sbx_sandbox *sb, long long now);

/*
 * The last runs, newest first, as a JSON array of {id, started_at,
 * finished_at, duration_ms, ok, dry_run, counts, orphans, error}.
 */
enum sbx_err sbx_reaper_runs_recent(long limit, cJSON **out);

/* ------------------------------------------------------------ operators */

/*
 * "Retry now" (POST /api/sandboxes/{name}/retry): resets attempts and
 * stuck, then does the row's pending work at once: DeleteStack for a
 * TERMINATING or FAILED row, CreateStack (or, if it expired, the
 * termination) for a PROVISIONING one whose create is pending, a
 * DescribeStacks otherwise. A CloudFormation failure is recorded on the
 * row, not returned. SBX_EINVAL when there is nothing to retry (ACTIVE),
 * SBX_ECONFLICT when the row is TERMINATED or changed meanwhile. *out
 * gets the row afterwards (caller frees).
 */
enum sbx_err sbx_reaper_retry(const struct sbx_sandbox *sb, const char *actor,
    struct sbx_sandbox **out);

/*
 * "Forget" (POST /api/sandboxes/{name}/forget): marks a live sandbox
 * TERMINATED without calling CloudFormation, after its stack was cleaned
 * up by hand; reason is kept in status_reason and in the event.
 * SBX_ECONFLICT when already TERMINATED or changed meanwhile.
 */
enum sbx_err sbx_reaper_forget(const struct sbx_sandbox *sb, const char *actor,
    const char *reason, struct sbx_sandbox **out);

#endif
