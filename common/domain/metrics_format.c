/*
 * The metrics snapshot written out (metrics.h): Prometheus text for
 * GET /metrics and CloudWatch EMF for the reaper's summary, from one table
 * of names, so that both say the same. Pure: no database, for unit tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/domain/metrics.h"

long
sbx_metrics_failed_of_counts(const cJSON *counts)
{
	static const char *const names[] = {
		"delete_retry", "create_retry", "errors"
	};
	long n = 0;
	size_t i;

	if (!cJSON_IsObject(counts))
		return 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(counts,
		    names[i]);

		if (cJSON_IsNumber(v) && v->valuedouble > 0)
			n += (long)v->valuedouble;
	}
	return n;
}

/* One figure, named once for both outputs. */
struct figure {
	const char *name;
	const char *help;
	const char *unit;	/* CloudWatch's */
};

enum {
	F_OVERDUE, F_OVERDUE_AGE, F_STUCK, F_LAST_RUN_AGE, F_LAST_TERMINATED,
	F_LAST_FAILED, F_OUTBOX, F_OUTBOX_AGE, F__MAX
};

static const struct figure figures[F__MAX] = {
	[F_OVERDUE] = { "sbx_sandboxes_overdue",
	    "Live sandboxes whose expiry_time is more than "
	    "METRICS_OVERDUE_GRACE_SECONDS in the past.", "Count" },
	[F_OVERDUE_AGE] = { "sbx_sandboxes_overdue_oldest_age_seconds",
	    "Seconds since the expiry of the oldest overdue sandbox; 0 when "
	    "none is overdue.", "Seconds" },
	[F_STUCK] = { "sbx_sandboxes_stuck",
	    "Live sandboxes flagged stuck after REAPER_MAX_ATTEMPTS failed "
	    "attempts; an operator must look.", "Count" },
	[F_LAST_RUN_AGE] = { "sbx_reaper_last_run_age_seconds",
	    "Seconds since the reaper last completed a run; +Inf before the "
	    "first.", "Seconds" },
	[F_LAST_TERMINATED] = { "sbx_reaper_last_run_terminated",
	    "Sandboxes the last recorded reaper run saw reach TERMINATED.",
	    "Count" },
	[F_LAST_FAILED] = { "sbx_reaper_last_run_failed",
	    "Row actions of the last recorded reaper run that failed and wait "
	    "for a retry (delete_retry + create_retry + errors).", "Count" },
	[F_OUTBOX] = { "sbx_webhook_outbox_depth",
	    "Sandbox events waiting for webhook delivery.", "Count" },
	[F_OUTBOX_AGE] = { "sbx_webhook_oldest_pending_age_seconds",
	    "Seconds since the oldest pending webhook event was written; 0 "
	    "when none is pending.", "Seconds" },
};

static void
values_of(const struct sbx_metrics *m, long long v[F__MAX])
{
	v[F_OVERDUE] = m->overdue;
	v[F_OVERDUE_AGE] = m->overdue_oldest_age;
	v[F_STUCK] = m->stuck;
	v[F_LAST_RUN_AGE] = m->last_run_age;
	v[F_LAST_TERMINATED] = m->last_run_terminated;
	v[F_LAST_FAILED] = m->last_run_failed;
	v[F_OUTBOX] = m->outbox_depth;
	v[F_OUTBOX_AGE] = m->outbox_oldest_age;
}

char *
sbx_metrics_prometheus(const struct sbx_metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	long long v[F__MAX];
	FILE *f;
	int i;

	f = open_memstream(&text, &len);
	if (f == NULL)
		return NULL;
	values_of(m, v);
	fputs("# HELP sbx_sandboxes Live sandboxes by status (TERMINATED ones "
	    "are history and not counted).\n"
	    "# TYPE sbx_sandboxes gauge\n", f);
	for (i = 0; i < SBX_SANDBOX_STATUS__MAX; i++)
		if (i != SBX_SANDBOX_TERMINATED)
			fprintf(f, "sbx_sandboxes{status=\"%s\"} %ld\n",
			    sbx_sandbox_status_name((enum sbx_sandbox_status)i),
			    m->by_status[i]);
	for (i = 0; i < F__MAX; i++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", figures[i].name,
		    figures[i].help, figures[i].name);
		if (i == F_LAST_RUN_AGE && !m->have_last_run)
			fprintf(f, "%s +Inf\n", figures[i].name);
		else
			fprintf(f, "%s %lld\n", figures[i].name, v[i]);
	}
	if (ferror(f)) {
		fclose(f);
		free(text);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

enum sbx_err
sbx_metrics_emf_add(cJSON *obj, const struct sbx_metrics *m, const char *ns,
    long long timestamp_ms)
{
	cJSON *aws, *directives, *directive, *dims, *none, *list;
	long long v[F__MAX];
	int i;

	values_of(m, v);
	/*
	 * One directive with one empty dimension set: the figures are per
	 * deployment, and the namespace (a setting) tells deployments apart.
	 */
	if ((aws = cJSON_AddObjectToObject(obj, "_aws")) == NULL ||
	    cJSON_AddNumberToObject(aws, "Timestamp",
	    (double)timestamp_ms) == NULL ||
	    (directives = cJSON_AddArrayToObject(aws,
	    "CloudWatchMetrics")) == NULL ||
	    (directive = cJSON_CreateObject()) == NULL)
		return SBX_ENOMEM;
	cJSON_AddItemToArray(directives, directive);
	if (cJSON_AddStringToObject(directive, "Namespace", ns) == NULL ||
	    (dims = cJSON_AddArrayToObject(directive, "Dimensions")) == NULL ||
	    (none = cJSON_CreateArray()) == NULL)
		return SBX_ENOMEM;
	cJSON_AddItemToArray(dims, none);
	if ((list = cJSON_AddArrayToObject(directive, "Metrics")) == NULL)
		return SBX_ENOMEM;
	for (i = 0; i < F__MAX; i++) {
		cJSON *def;

		if (i == F_LAST_RUN_AGE && !m->have_last_run)
			continue;
		if ((def = cJSON_CreateObject()) == NULL)
			return SBX_ENOMEM;
		cJSON_AddItemToArray(list, def);
		if (cJSON_AddStringToObject(def, "Name",
		    figures[i].name) == NULL ||
		    cJSON_AddStringToObject(def, "Unit",
		    figures[i].unit) == NULL ||
		    cJSON_AddNumberToObject(obj, figures[i].name,
		    (double)v[i]) == NULL)
			return SBX_ENOMEM;
	}
	return SBX_OK;
}
