/*
 * The expiry promise in numbers (metrics.h): one snapshot read from the
 * database with two statements. metrics_format.c writes it out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io/db.h"
#include "common/core/log.h"
#include "common/domain/metrics.h"

#define MODULE "metrics"

/*
 * Live rows only, through the (status, next_attempt_at) index: the
 * TERMINATED history grows without end and would make every scrape a
 * full scan. The ages are whole seconds on the database's clock.
 */
static const char sql_sandboxes[] =
    "SELECT status, count(*) AS n,"
    " count(CASE WHEN stuck THEN 1 END) AS stuck,"
    " count(CASE WHEN expiry_time < now() - $1::bigint * interval '1 second'"
    "   THEN 1 END) AS overdue,"
    " floor(extract(epoch FROM now() - min(CASE WHEN expiry_time < now()"
    "   - $1::bigint * interval '1 second' THEN expiry_time END)))::bigint"
    "   AS overdue_oldest_age"
    " FROM sandboxes"
    " WHERE status IN ('PROVISIONING', 'ACTIVE', 'FAILED', 'TERMINATING')"
    " GROUP BY status";

/*
 * The reaper's last completed run (ok: every step ran without an error
 * an operator must see) gives the age; the last recorded run, ok or not,
 * gives the counts. Dry runs are never recorded.
 */
static const char sql_reaper_outbox[] =
    "SELECT"
    " (SELECT floor(extract(epoch FROM now() - finished_at))::bigint"
    "   FROM reaper_runs WHERE ok AND finished_at IS NOT NULL"
    "   ORDER BY started_at DESC LIMIT 1) AS last_run_age,"
    " (SELECT counts FROM reaper_runs WHERE finished_at IS NOT NULL"
    "   ORDER BY started_at DESC LIMIT 1) AS last_run_counts,"
    " (SELECT count(*) FROM sandbox_events"
    "   WHERE delivery_state = 'pending') AS outbox_depth,"
    " (SELECT floor(extract(epoch FROM now() - min(time)))::bigint"
    "   FROM sandbox_events WHERE delivery_state = 'pending')"
    "   AS outbox_oldest_age";

static long long
num(const PGresult *res, int row, const char *col)
{
	const char *v = sbx_db_get(res, row, col);
	long long n = v != NULL ? strtoll(v, NULL, 10) : 0;

	return n > 0 ? n : 0;	/* a clock step must not show a negative age */
}

static void
read_last_counts(const char *text, struct sbx_metrics *m)
{
	cJSON *c = text != NULL ? cJSON_Parse(text) : NULL;
	const cJSON *t;

	if (c == NULL)
		return;
	t = cJSON_GetObjectItemCaseSensitive(c, "terminated");
	if (cJSON_IsNumber(t) && t->valuedouble > 0)
		m->last_run_terminated = (long)t->valuedouble;
	m->last_run_failed = sbx_metrics_failed_of_counts(c);
	cJSON_Delete(c);
}

enum sbx_err
sbx_metrics_collect(long grace_seconds, struct sbx_metrics *m)
{
	char g[32];
	const char *p[1] = { g };
	PGresult *res = NULL;
	enum sbx_err err;
	int i, n;

	memset(m, 0, sizeof(*m));
	snprintf(g, sizeof(g), "%ld", grace_seconds > 0 ? grace_seconds : 0);
	err = sbx_db_exec("metrics_sandboxes", sql_sandboxes, 1, p, &res);
	if (err != SBX_OK)
		goto out;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		enum sbx_sandbox_status st;
		long long age = num(res, i, "overdue_oldest_age");

		if (sbx_sandbox_status_parse(sbx_db_get(res, i, "status"),
		    &st) == SBX_OK)
			m->by_status[st] = (long)num(res, i, "n");
		m->stuck += (long)num(res, i, "stuck");
		m->overdue += (long)num(res, i, "overdue");
		if (age > m->overdue_oldest_age)
			m->overdue_oldest_age = age;
	}
	PQclear(res);
	res = NULL;

	err = sbx_db_exec("metrics_reaper_outbox", sql_reaper_outbox, 0, NULL,
	    &res);
	if (err != SBX_OK)
		goto out;
	if (PQntuples(res) != 1) {
		err = SBX_EDB;
		goto out;
	}
	m->have_last_run = sbx_db_get(res, 0, "last_run_age") != NULL;
	m->last_run_age = num(res, 0, "last_run_age");
	read_last_counts(sbx_db_get(res, 0, "last_run_counts"), m);
	m->outbox_depth = (long)num(res, 0, "outbox_depth");
	m->outbox_oldest_age = num(res, 0, "outbox_oldest_age");
out:
	if (err != SBX_OK)
		sbx_log(SBX_LOG_ERROR, MODULE, "reading the metrics: %s",
		    sbx_strerror(err));
	PQclear(res);
	return err;
}
