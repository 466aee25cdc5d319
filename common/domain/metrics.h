/*
 * The expiry promise in numbers: how many sandboxes are live, how many
 * have outlived their expiry, how long ago the reaper last completed a
 * run and what it did, and how far webhook delivery lags. One snapshot is
 * read from the database with two statements (sandboxes by status; the
 * reaper's last runs and the outbox), then written either as Prometheus
 * text for GET /metrics (sbx-meta) or as CloudWatch Embedded Metric
 * Format members of the reaper's one-line summary, so that both name the
 * same figures.
 */
#ifndef SBX_METRICS_H
#define SBX_METRICS_H

#include <cjson/cJSON.h>

#include "common/core/err.h"
#include "common/domain/sandbox.h"

/* The Prometheus text format's media type (version 0.0.4). */
#define SBX_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct sbx_metrics {
	/* Live sandboxes by status; TERMINATED is history and left at 0. */
	long by_status[SBX_SANDBOX_STATUS__MAX];
	/* Live, with expiry_time more than the grace in the past. */
	long overdue;
	/* Seconds since the oldest overdue sandbox's expiry; 0 when none. */
	long long overdue_oldest_age;
	long stuck;			/* live rows flagged stuck */
	int have_last_run;		/* a run completed (ok) at least once */
	long long last_run_age;		/* seconds since it finished */
	/* Counts of the last finished run (0 before any). */
	long last_run_terminated;	/* sandboxes it saw reach TERMINATED */
	long last_run_failed;		/* row actions that failed (retried later) */
	long outbox_depth;		/* webhook events still pending */
	long long outbox_oldest_age;	/* seconds; 0 when none pending */
};

/*
 * Reads one snapshot into m. grace_seconds is how far past its expiry a
 * live sandbox must be to count as overdue (METRICS_OVERDUE_GRACE_SECONDS:
 * the reaper runs every minute and a stack takes a while to delete). Ages
 * are measured on the database's clock. SBX_EUNAVAILABLE when the
 * database cannot be reached, SBX_EDB on another failure.
 */
enum sbx_err sbx_metrics_collect(long grace_seconds, struct sbx_metrics *m);

/*
 * The Prometheus text exposition of m: every metric with its HELP and
 * TYPE lines. Heap string, caller free()s; NULL on ENOMEM.
 */
char *sbx_metrics_prometheus(const struct sbx_metrics *m);

/*
 * Adds m to obj as CloudWatch Embedded Metric Format: an "_aws" member
 * (Timestamp in ms, one metric directive in namespace ns, no dimensions)
 * and one top-level member per figure, named as in the Prometheus text.
 * sbx_reaper_last_run_age_seconds is left out before any completed run
 * (JSON has no +Inf; a missing point is what the alarm treats as
 * breaching). SBX_ENOMEM on failure (obj may then hold a part).
 */
enum sbx_err sbx_metrics_emf_add(cJSON *obj, const struct sbx_metrics *m,
    const char *ns, long long timestamp_ms);

/*
 * "failed" of a run's counts object (the reaper_runs.counts text): the
 * row actions that failed, i.e. delete_retry + create_retry + errors.
 * Exposed for the unit test; NULL or unreadable text counts 0.
 */
long sbx_metrics_failed_of_counts(const cJSON *counts);

#endif
