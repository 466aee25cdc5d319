/*
 * The reaper's batches of sandbox rows (common/domain/sandbox_batch.c):
 * the same changes as sandbox.h's, made to many rows by one statement
 * each, so that a batch of rows costs a few round trips to the database
 * instead of a few per row.
 *
 * The rows a batch may take are those whose whole path is the usual one:
 * ACTIVE past expiry and FAILED rows with a stack to delete, and
 * TERMINATING rows whose DeleteStack was accepted (to poll). Every other
 * row, and every row whose call failed, goes the single-row way of
 * sandbox.h.
 *
 * Each change is conditional on the version the caller holds, like the
 * single-row ones: a row someone else changed meanwhile is left out of
 * the result, not changed. A claim sets next_attempt_at to now + the
 * lease, and the lists skip rows whose next_attempt_at lies ahead: so of
 * several reapers, each takes rows the others do not hold.
 */
#ifndef SBX_SANDBOX_BATCH_H
#define SBX_SANDBOX_BATCH_H

#include <stddef.h>

#include "common/core/err.h"
#include "common/domain/sandbox.h"

enum sbx_sandbox_batch_work {
	SBX_BATCH_EXPIRED,	/* ACTIVE, expired, with a stack, not leased */
	SBX_BATCH_FAILED,	/* FAILED, with a stack, due */
	SBX_BATCH_DELETING,	/* TERMINATING, DeleteStack accepted, due */
	SBX_BATCH__MAX
};

/*
 * Up to limit rows of that work at time now, oldest first. Read-only;
 * the rows carry their id and version only (a claim returns them whole).
 */
enum sbx_err sbx_sandbox_batch_list(enum sbx_sandbox_batch_work work,
    long long now, long limit, struct sbx_sandbox_list *out);

/*
 * Claims the n rows (as read) for lease_seconds in one statement, as
 * sbx_sandbox_claim claims one; *out gets the rows claimed (version
 * bumped), in no particular order.
 */
enum sbx_err sbx_sandbox_batch_claim(struct sbx_sandbox *const *rows,
    size_t n, long lease_seconds, struct sbx_sandbox_list *out);

/* A row to change, with the reason it keeps and its event's detail. */
struct sbx_sandbox_batch_change {
	const struct sbx_sandbox *sb;
	const char *reason;
	const char *detail;
};

/*
 * In one transaction: the rows (ACTIVE, PROVISIONING or FAILED) move to
 * TERMINATING with a pending DeleteStack leased for
 * sbx_sandbox_lease_seconds(), each with its "terminating" event, as
 * sbx_sandbox_transition does for one. *out gets the rows moved.
 */
enum sbx_err sbx_sandbox_batch_terminating(
    const struct sbx_sandbox_batch_change *v, size_t n, const char *actor,
    struct sbx_sandbox_list *out);

/*
 * In one transaction: the TERMINATING rows whose stack is gone move to
 * TERMINATED (status_reason kept), their owners' live counts go down and
 * each gets its "terminated" event, as sbx_sandbox_apply_stack does for
 * one. *out gets the rows moved.
 */
enum sbx_err sbx_sandbox_batch_terminated(
    const struct sbx_sandbox_batch_change *v, size_t n, const char *actor,
    struct sbx_sandbox_list *out);

/*
 * Records that DeleteStack was accepted for the TERMINATING rows: no
 * pending action, polled from now on (as sbx_sandbox_delete_stack
 * does), and claimed for lease_seconds for that first poll, which the
 * caller makes at once. *out gets the rows recorded (and claimed).
 */
enum sbx_err sbx_sandbox_batch_deleted(struct sbx_sandbox *const *rows,
    size_t n, long lease_seconds, struct sbx_sandbox_list *out);

#endif
