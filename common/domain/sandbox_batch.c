/*
 * Batches of sandbox rows for the reaper (see sandbox_batch.h). The rows
 * travel to the database as one JSON parameter (data, not SQL text),
 * read with json_to_recordset; its columns are named r* so that they
 * cannot be taken for the table's own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/sandbox.h"
#include "common/domain/sandbox_batch.h"
#include "common/domain/sandbox_db.h"
#include "common/io/db.h"

#define MODULE "sandbox"

/* A row not yet due: a claim (or a backoff) holds it. */
#define DUE " AND" SBX_SANDBOX_DUE

/* A list only names rows; the claim returns them whole. */
#define LIST_COLS "id::text AS id, version"

static const char *const sql_list[SBX_BATCH__MAX] = {
	[SBX_BATCH_EXPIRED] = "SELECT " LIST_COLS " FROM sandboxes"
	    " WHERE status = 'ACTIVE' AND expiry_time <= to_timestamp($1::bigint)"
	    " AND stack_id IS NOT NULL" DUE
	    " ORDER BY sandboxes.expiry_time, sandboxes.id LIMIT $2::int",
	[SBX_BATCH_FAILED] = "SELECT " LIST_COLS " FROM sandboxes"
	    " WHERE status = 'FAILED' AND stack_id IS NOT NULL" DUE
	    " ORDER BY sandboxes.updated_at, sandboxes.id LIMIT $2::int",
	[SBX_BATCH_DELETING] = "SELECT " LIST_COLS " FROM sandboxes"
	    " WHERE status = 'TERMINATING' AND pending_action = 'none'"
	    " AND stack_id IS NOT NULL" DUE
	    " ORDER BY sandboxes.next_attempt_at, sandboxes.id LIMIT $2::int",
};

static const char *const sql_list_names[SBX_BATCH__MAX] = {
	"sbx_batch_expired", "sbx_batch_failed", "sbx_batch_deleting",
};

/* Every row of res into *out; SBX_ENOMEM leaves *out empty. */
static enum sbx_err
rows_into(const PGresult *res, struct sbx_sandbox_list *out)
{
	return sbx_sandbox_db_rows(res, (size_t)PQntuples(res), out);
}

enum sbx_err
sbx_sandbox_batch_list(enum sbx_sandbox_batch_work work, long long now,
    long limit, struct sbx_sandbox_list *out)
{
	char t[32], l[32];
	const char *p[2] = { t, l };
	PGresult *res = NULL;
	enum sbx_err err;

	out->items = NULL;
	out->n = 0;
	if ((unsigned)work >= SBX_BATCH__MAX)
		return SBX_EINVAL;
	snprintf(t, sizeof(t), "%lld", now);
	snprintf(l, sizeof(l), "%ld", limit > 0 ? limit : 100);
	err = sbx_db_exec(sql_list_names[work], sql_list[work], 2, p, &res);
	if (err == SBX_OK)
		err = rows_into(res, out);
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ parameters */

/*
 * The JSON array of the rows' (rid, rver) and, when given, (rreason,
 * rdetail, rfrom, rowner); NULL on ENOMEM. Caller frees.
 */
static char *
rows_json(struct sbx_sandbox *const *rows,
    const struct sbx_sandbox_batch_change *v, size_t n)
{
	cJSON *a = cJSON_CreateArray(), *o;
	char *s = NULL;
	size_t i;

	if (a == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct sbx_sandbox *sb = v != NULL ? v[i].sb : rows[i];

		if ((o = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(a, o);
		if (cJSON_AddStringToObject(o, "rid", sb->id) == NULL ||
		    cJSON_AddNumberToObject(o, "rver", (double)sb->version) ==
		    NULL)
			goto out;
		if (v == NULL)
			continue;
		sbx_json_add_str_or_null(o, "rreason", v[i].reason);
		sbx_json_add_str_or_null(o, "rdetail", v[i].detail);
		sbx_json_add_str_or_null(o, "rfrom",
		    sbx_sandbox_status_name(sb->status));
		sbx_json_add_str_or_null(o, "rowner", sb->owner_id);
		if (cJSON_GetObjectItemCaseSensitive(o, "rowner") == NULL)
			goto out;
	}
	s = cJSON_PrintUnformatted(a);
out:
	cJSON_Delete(a);
	return s;
}

/* The changes of v whose row is in rows (what an UPDATE returned). */
static struct sbx_sandbox_batch_change *
changes_done(const struct sbx_sandbox_batch_change *v, size_t n,
    const struct sbx_sandbox_list *rows, size_t *m)
{
	struct sbx_sandbox_batch_change *d = calloc(rows->n + 1, sizeof(*d));
	size_t i, j;

	*m = 0;
	if (d == NULL)
		return NULL;
	for (j = 0; j < rows->n; j++)
		for (i = 0; i < n; i++)
			if (strcmp(v[i].sb->id, rows->items[j]->id) == 0) {
				d[(*m)++] = v[i];
				break;
			}
	return d;
}

/* ------------------------------------------------------------ claims */

/*
 * Runs sql, an UPDATE of the rows at their versions ($1, as rows_json
 * writes them) that sets the next attempt lease_seconds ahead ($2), as one
 * statement on its own; out holds the rows it changed.
 */
static enum sbx_err
rows_lease(const char *name, const char *sql, struct sbx_sandbox *const *rows,
    size_t n, long lease_seconds, struct sbx_sandbox_list *out)
{
	char lease[32], *arr;
	const char *p[2];
	PGresult *res = NULL;
	enum sbx_err err;

	out->items = NULL;
	out->n = 0;
	if (n == 0)
		return SBX_OK;
	if ((arr = rows_json(rows, NULL, n)) == NULL)
		return SBX_ENOMEM;
	snprintf(lease, sizeof(lease), "%ld", lease_seconds);
	p[0] = arr;
	p[1] = lease;
	err = sbx_db_exec(name, sql, 2, p, &res);
	if (err == SBX_OK)
		err = rows_into(res, out);
	PQclear(res);
	free(arr);
	return err;
}


static const char sql_claim[] =
    "UPDATE sandboxes"
    " SET next_attempt_at = now() + $2::int * interval '1 second',"
    " updated_at = now(), version = version + 1"
    " FROM json_to_recordset($1::json) AS r(rid uuid, rver bigint)"
    " WHERE sandboxes.id = r.rid AND sandboxes.version = r.rver"
    " RETURNING " SBX_SANDBOX_COLS;

enum sbx_err
sbx_sandbox_batch_claim(struct sbx_sandbox *const *rows, size_t n,
    long lease_seconds, struct sbx_sandbox_list *out)
{
	/* One statement on its own: a claim, like sbx_sandbox_claim's. */
	return rows_lease("sbx_batch_claim", sql_claim, rows, n, lease_seconds,
	    out);
}

/* ------------------------------------------------------------ transitions */

static const char sql_to_terminating[] =
    "UPDATE sandboxes SET status = 'TERMINATING', status_reason = r.rreason,"
    " pending_action = 'delete', attempts = 0, stuck = false,"
    " next_attempt_at = now() + $2::int * interval '1 second',"
    " stack_parameters = NULL, updated_at = now(), version = version + 1"
    " FROM json_to_recordset($1::json) AS r(rid uuid, rver bigint,"
    "  rreason text)"
    " WHERE sandboxes.id = r.rid AND sandboxes.version = r.rver"
    " AND sandboxes.status IN ('ACTIVE', 'PROVISIONING', 'FAILED')"
    " RETURNING " SBX_SANDBOX_COLS;

static const char sql_to_terminated[] =
    "UPDATE sandboxes SET status = 'TERMINATED', pending_action = 'none',"
    " attempts = 0, stuck = false, next_attempt_at = NULL,"
    " terminated_at = now(), stack_parameters = NULL,"
    " last_refresh_at = now(), updated_at = now(), version = version + 1"
    " FROM json_to_recordset($1::json) AS r(rid uuid, rver bigint)"
    " WHERE sandboxes.id = r.rid AND sandboxes.version = r.rver"
    " AND sandboxes.status = 'TERMINATING'"
    " RETURNING " SBX_SANDBOX_COLS;

/* Each owner's live count goes down by the number of their rows. */
static const char sql_users_live_dec[] =
    "UPDATE users SET live_sandboxes = GREATEST(live_sandboxes - c.n, 0),"
    " version = version + 1"
    " FROM (SELECT r.rowner AS o, count(*) AS n"
    "  FROM json_to_recordset($1::json) AS r(rowner uuid)"
    "  GROUP BY r.rowner) AS c"
    " WHERE users.id = c.o";

/* As sandbox.c's single event: the statement's clock, in row order. */
static const char sql_events[] =
    "INSERT INTO sandbox_events (sandbox_id, time, actor, action,"
    " from_status, to_status, detail, next_delivery_at)"
    " SELECT r.rid, clock_timestamp(), $2, $3, r.rfrom, $4, r.rdetail,"
    " clock_timestamp()"
    " FROM json_to_recordset($1::json) AS r(rid uuid, rfrom text,"
    "  rdetail text)";

struct tx_batch {
	const struct sbx_sandbox_batch_change *v;
	size_t n;
	enum sbx_sandbox_status to;
	const char *actor;
	struct sbx_sandbox_list out;
};

static enum sbx_err
tx_batch_fn(PGconn *conn, void *arg)
{
	struct tx_batch *a = arg;
	struct sbx_sandbox_batch_change *done = NULL;
	char lease[32], *arr = NULL, *ev = NULL;
	const char *p[4];
	PGresult *res = NULL;
	size_t m = 0;
	enum sbx_err err;

	/* A second attempt (after a conflict) starts afresh. */
	sbx_sandbox_list_fini(&a->out);
	if ((arr = rows_json(NULL, a->v, a->n)) == NULL)
		return SBX_ENOMEM;
	snprintf(lease, sizeof(lease), "%ld", sbx_sandbox_lease_seconds());
	p[0] = arr;
	p[1] = lease;
	if (a->to == SBX_SANDBOX_TERMINATING)
		err = sbx_db_query(conn, "sbx_batch_terminating",
		    sql_to_terminating, 2, p, &res);
	else
		err = sbx_db_query(conn, "sbx_batch_terminated",
		    sql_to_terminated, 1, p, &res);
	if (err == SBX_OK)
		err = rows_into(res, &a->out);
	if (err != SBX_OK || a->out.n == 0)
		goto out;
	/* The events (and counts) of the rows that did move, only. */
	err = SBX_ENOMEM;
	if ((done = changes_done(a->v, a->n, &a->out, &m)) == NULL ||
	    (ev = rows_json(NULL, done, m)) == NULL)
		goto out;
	if (a->to == SBX_SANDBOX_TERMINATED) {
		p[0] = ev;
		err = sbx_db_run(conn, "sbx_batch_users_live_dec",
		    sql_users_live_dec, 1, p, NULL);
		if (err != SBX_OK)
			goto out;
	}
	p[0] = ev;
	p[1] = a->actor != NULL ? a->actor : "system";
	p[2] = a->to == SBX_SANDBOX_TERMINATING ? "terminating" : "terminated";
	p[3] = sbx_sandbox_status_name(a->to);
	err = sbx_db_run(conn, "sbx_batch_events", sql_events, 4, p, NULL);
out:
	PQclear(res);
	free(ev);
	free(done);
	free(arr);
	return err;
}

static enum sbx_err
batch_transition(const struct sbx_sandbox_batch_change *v, size_t n,
    enum sbx_sandbox_status to, const char *actor,
    struct sbx_sandbox_list *out)
{
	struct tx_batch a;
	size_t i, j;
	enum sbx_err err;

	out->items = NULL;
	out->n = 0;
	if (n == 0)
		return SBX_OK;
	memset(&a, 0, sizeof(a));
	a.v = v;
	a.n = n;
	a.to = to;
	a.actor = actor;
	err = sbx_db_tx(tx_batch_fn, &a);
	if (err != SBX_OK) {
		sbx_sandbox_list_fini(&a.out);
		return err;
	}
	for (j = 0; j < a.out.n; j++) {
		const struct sbx_sandbox *sb = a.out.items[j];
		const char *from = "?";

		for (i = 0; i < n; i++)
			if (strcmp(v[i].sb->id, sb->id) == 0)
				from = sbx_sandbox_status_name(v[i].sb->status);
		sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s (%s): %s -> %s by %s",
		    sb->name, sb->id, from, sbx_sandbox_status_name(to),
		    actor != NULL ? actor : "system");
	}
	*out = a.out;
	return SBX_OK;
}

enum sbx_err
sbx_sandbox_batch_terminating(const struct sbx_sandbox_batch_change *v,
    size_t n, const char *actor, struct sbx_sandbox_list *out)
{
	return batch_transition(v, n, SBX_SANDBOX_TERMINATING, actor, out);
}

enum sbx_err
sbx_sandbox_batch_terminated(const struct sbx_sandbox_batch_change *v,
    size_t n, const char *actor, struct sbx_sandbox_list *out)
{
	return batch_transition(v, n, SBX_SANDBOX_TERMINATED, actor, out);
}

/*
 * As sandbox_cfn.c's sql_deleted, for many rows, and the claim of their
 * first poll (the caller polls them at once).
 */
static const char sql_deleted[] =
    "UPDATE sandboxes SET pending_action = 'none',"
    " next_attempt_at = now() + $2::int * interval '1 second',"
    " updated_at = now(), version = version + 1"
    " FROM json_to_recordset($1::json) AS r(rid uuid, rver bigint)"
    " WHERE sandboxes.id = r.rid AND sandboxes.version = r.rver"
    " AND sandboxes.status = 'TERMINATING'"
    " RETURNING " SBX_SANDBOX_COLS;

enum sbx_err
sbx_sandbox_batch_deleted(struct sbx_sandbox *const *rows, size_t n,
    long lease_seconds, struct sbx_sandbox_list *out)
{
	return rows_lease("sbx_batch_deleted", sql_deleted, rows, n,
	    lease_seconds, out);
}
