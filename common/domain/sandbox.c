/*
 * The sandbox rows and their events in the database (see sandbox.h): reads,
 * the conditional transitions of the state machine, claims and retry
 * bookkeeping, what CloudFormation's answers mean for a row, the reaper's
 * work lists, the API's pages, and the event outbox. Every statement is a
 * constant here; every change is conditional on the row's version or state.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/core/config.h"
#include "common/io/db.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/domain/sandbox.h"
#include "common/domain/sandbox_db.h"

#define MODULE "sandbox"

/* ------------------------------------------------------------ rows */

#define NCOLS(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The columns of a sandbox row (SBX_SANDBOX_COLS), by number. A list
 * finds their numbers once per result rather than by name for every
 * field of every row: PQfnumber compares the name with each field's, and
 * over a page of fifty rows that was the worker's largest cost after its
 * system calls.
 */
enum sandbox_col {
	COL_ID, COL_NAME, COL_OWNER_ID, COL_OWNER_EMAIL, COL_TEMPLATE_NAME,
	COL_STATUS_REASON, COL_STACK_NAME, COL_STACK_ID, COL_PARAMETERS,
	COL_STACK_PARAMETERS, COL_OUTPUTS, COL_COST,
	COL_TEMPLATE_VERSION, COL_STATUS, COL_CREATED_AT, COL_EXPIRY_TIME,
	COL_MAX_EXPIRY_TIME, COL_TERMINATED_AT, COL_UPDATED_AT,
	COL_REFRESHED_AT, COL_VERSION, COL_PENDING_ACTION, COL_ATTEMPTS,
	COL_NEXT_ATTEMPT_AT, COL_STUCK,
	COL__MAX
};

static const char *const sandbox_col_names[COL__MAX] = {
	"id", "name", "owner_id", "owner_email", "template_name",
	"status_reason", "stack_name", "stack_id", "parameters",
	"stack_parameters", "outputs", "cost",
	"template_version", "status", "created_at", "expiry_time",
	"max_expiry_time", "terminated_at", "updated_at",
	"refreshed_at", "version", "pending_action", "attempts",
	"next_attempt_at", "stuck",
};

/* The text columns (COL_ID .. COL_COST) and the members they fill. */
static const size_t sandbox_text_off[COL_COST + 1] = {
	offsetof(struct sbx_sandbox, id),
	offsetof(struct sbx_sandbox, name),
	offsetof(struct sbx_sandbox, owner_id),
	offsetof(struct sbx_sandbox, owner_email),
	offsetof(struct sbx_sandbox, template_name),
	offsetof(struct sbx_sandbox, status_reason),
	offsetof(struct sbx_sandbox, stack_name),
	offsetof(struct sbx_sandbox, stack_id),
	offsetof(struct sbx_sandbox, parameters),
	offsetof(struct sbx_sandbox, stack_parameters),
	offsetof(struct sbx_sandbox, outputs),
	offsetof(struct sbx_sandbox, cost),
};

static void
cols_find(const PGresult *res, int *cols)
{
	int i;

	for (i = 0; i < COL__MAX; i++)
		cols[i] = PQfnumber(res, sandbox_col_names[i]);
}

/* Field c of row `row`, as sbx_db_get gives it (NULL for SQL NULL). */
static const char *
col_get(const PGresult *res, int row, const int *cols, enum sandbox_col c)
{
	if (res == NULL || row < 0 || row >= PQntuples(res) || cols[c] < 0 ||
	    PQgetisnull(res, row, cols[c]))
		return NULL;
	return PQgetvalue(res, row, cols[c]);
}

static long long
col_ll(const PGresult *res, int row, const int *cols, enum sandbox_col c)
{
	const char *v = col_get(res, row, cols, c);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/*
 * Row `row` into *sb without a copy: its strings point into res and live
 * as long as it does (a page of a list is written out from these views).
 */
static void
row_view(const PGresult *res, int row, const int *cols, struct sbx_sandbox *sb)
{
	const char *v;
	int i;

	memset(sb, 0, sizeof(*sb));
	for (i = 0; i <= COL_COST; i++)
		*(const char **)(void *)((char *)sb + sandbox_text_off[i]) =
		    col_get(res, row, cols, (enum sandbox_col)i);
	sb->template_version = (long)col_ll(res, row, cols,
	    COL_TEMPLATE_VERSION);
	if (sbx_sandbox_status_parse(col_get(res, row, cols, COL_STATUS),
	    &sb->status) != SBX_OK)
		sb->status = SBX_SANDBOX_STATUS__MAX;
	sb->created_at = col_ll(res, row, cols, COL_CREATED_AT);
	sb->expiry_time = col_ll(res, row, cols, COL_EXPIRY_TIME);
	sb->max_expiry_time = col_ll(res, row, cols, COL_MAX_EXPIRY_TIME);
	sb->terminated_at = col_ll(res, row, cols, COL_TERMINATED_AT);
	sb->updated_at = col_ll(res, row, cols, COL_UPDATED_AT);
	sb->refreshed_at = col_ll(res, row, cols, COL_REFRESHED_AT);
	sb->version = (long)col_ll(res, row, cols, COL_VERSION);
	v = col_get(res, row, cols, COL_PENDING_ACTION);
	if (v != NULL && strcmp(v, "create") == 0)
		sb->pending_action = SBX_SANDBOX_ACTION_CREATE;
	else if (v != NULL && strcmp(v, "delete") == 0)
		sb->pending_action = SBX_SANDBOX_ACTION_DELETE;
	else
		sb->pending_action = SBX_SANDBOX_ACTION_NONE;
	sb->attempts = (long)col_ll(res, row, cols, COL_ATTEMPTS);
	sb->next_attempt_at = col_ll(res, row, cols, COL_NEXT_ATTEMPT_AT);
	sb->stuck = col_ll(res, row, cols, COL_STUCK) != 0;
}

/* The same row as a struct of its own (caller frees); NULL on ENOMEM. */
static struct sbx_sandbox *
row_read(const PGresult *res, int row, const int *cols)
{
	struct sbx_sandbox *sb;
	int i;

	sb = calloc(1, sizeof(*sb));
	if (sb == NULL)
		return NULL;
	row_view(res, row, cols, sb);
	for (i = 0; i <= COL_COST; i++) {
		char **dst = (char **)(void *)((char *)sb +
		    sandbox_text_off[i]);

		if (*dst != NULL && (*dst = strdup(*dst)) == NULL) {
			/* The views not copied yet must not be freed. */
			for (i++; i <= COL_COST; i++)
				*(char **)(void *)((char *)sb +
				    sandbox_text_off[i]) = NULL;
			sbx_sandbox_free(sb);
			return NULL;
		}
	}
	return sb;
}

struct sbx_sandbox *
sbx_sandbox_db_row(const PGresult *res, int row)
{
	int cols[COL__MAX];

	cols_find(res, cols);
	return row_read(res, row, cols);
}

enum sbx_err
sbx_sandbox_db_one(const PGresult *res, struct sbx_sandbox **out)
{
	if (PQntuples(res) < 1)
		return SBX_ENOTFOUND;
	if (out == NULL)
		return SBX_OK;
	*out = sbx_sandbox_db_row(res, 0);
	return *out != NULL ? SBX_OK : SBX_ENOMEM;
}

enum sbx_err
sbx_sandbox_db_row_query(PGconn *conn, const char *name, const char *sql,
    int nparams, const char *const *params, enum sbx_err none,
    struct sbx_sandbox **out)
{
	PGresult *res = NULL;
	enum sbx_err err;

	if (out != NULL) {
		sbx_sandbox_free(*out);
		*out = NULL;
	}
	err = sbx_db_stmt(conn, name, sql, nparams, params, &res);
	if (err == SBX_OK) {
		err = sbx_sandbox_db_one(res, out);
		if (err == SBX_ENOTFOUND)
			err = none;
	}
	PQclear(res);
	return err;
}

enum sbx_err
sbx_sandbox_db_row_at(const char *name, const char *sql,
    const struct sbx_sandbox *sb, enum sbx_err none, struct sbx_sandbox **out)
{
	char ver[32];
	const char *p[2] = { sb->id, ver };

	snprintf(ver, sizeof(ver), "%ld", sb->version);
	return sbx_sandbox_db_row_query(NULL, name, sql, 2, p, none, out);
}

/*
 * Runs a transaction body that leaves its row in *held; on success the
 * row goes to *out (may be NULL), otherwise it is freed.
 */
static enum sbx_err
tx_row(sbx_db_tx_fn fn, void *arg, struct sbx_sandbox **held,
    struct sbx_sandbox **out)
{
	enum sbx_err err = sbx_db_tx(fn, arg);

	if (err == SBX_OK && out != NULL) {
		*out = *held;
		*held = NULL;
	}
	sbx_sandbox_free(*held);
	*held = NULL;
	return err;
}

enum sbx_err
sbx_sandbox_db_rows(const PGresult *res, size_t max,
    struct sbx_sandbox_list *out)
{
	size_t i, n = (size_t)PQntuples(res);
	int cols[COL__MAX];

	out->items = NULL;
	out->n = 0;
	if (n > max)
		n = max;
	if (n == 0)
		return SBX_OK;
	out->items = calloc(n, sizeof(*out->items));
	if (out->items == NULL)
		return SBX_ENOMEM;
	cols_find(res, cols);
	for (i = 0; i < n; i++) {
		out->items[i] = row_read(res, (int)i, cols);
		if (out->items[i] == NULL) {
			sbx_sandbox_list_fini(out);
			return SBX_ENOMEM;
		}
		out->n = i + 1;
	}
	return SBX_OK;
}

static void
fmt_long(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld", v);
}

long
sbx_sandbox_lease_seconds(void)
{
	const struct sbx_config *cfg = sbx_config();

	return cfg != NULL && cfg->reaper_lease_seconds > 0 ?
	    cfg->reaper_lease_seconds : SBX_SANDBOX_LEASE_SECONDS;
}

/* ------------------------------------------------------------ reads */

static const char sql_get[] =
    "SELECT " SBX_SANDBOX_COLS " FROM sandboxes WHERE id = $1::uuid";

enum sbx_err
sbx_sandbox_get(const char *id, struct sbx_sandbox **out)
{
	const char *p[1] = { id };

	*out = NULL;
	if (!sbx_sandbox_uuid_valid(id))
		return SBX_ENOTFOUND;
	return sbx_sandbox_db_row_query(NULL, "sbx_get", sql_get, 1, p,
	    SBX_ENOTFOUND, out);
}

/*
 * The live row of that name sorts first (there is at most one), then the
 * terminated ones, newest first. ORDER BY names the table's columns: the
 * bare names would be SBX_SANDBOX_COLS's whole-second aliases.
 */
static const char sql_find[] =
    "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
    " WHERE name = $1 AND ($2::uuid IS NULL OR owner_id = $2::uuid)"
    " ORDER BY CASE WHEN status = 'TERMINATED' THEN 1 ELSE 0 END,"
    " sandboxes.created_at DESC, sandboxes.id DESC LIMIT 1";

enum sbx_err
sbx_sandbox_find(const char *name, const char *owner_id,
    struct sbx_sandbox **out)
{
	const char *p[2] = { name, owner_id };

	*out = NULL;
	if (!sbx_sandbox_name_valid(name))
		return SBX_ENOTFOUND;
	if (owner_id != NULL && !sbx_sandbox_uuid_valid(owner_id))
		return SBX_ENOTFOUND;
	return sbx_sandbox_db_row_query(NULL, "sbx_find", sql_find, 2, p,
	    SBX_ENOTFOUND, out);
}

/* ------------------------------------------------------------ events */

/*
 * The event's time is the statement's clock, not the transaction's, so
 * that events written one after another sort in the order they happened.
 */
static const char sql_event_insert[] =
    "INSERT INTO sandbox_events (sandbox_id, time, actor, action,"
    " from_status, to_status, detail, next_delivery_at)"
    " VALUES ($1::uuid, clock_timestamp(), $2, $3, $4, $5, $6,"
    " clock_timestamp())";

enum sbx_err
sbx_sandbox_db_event(PGconn *conn, const char *sandbox_id, const char *actor,
    const char *action, const char *from_status, const char *to_status,
    const char *detail)
{
	const char *p[6] = { sandbox_id, actor != NULL ? actor : "system",
	    action, from_status, to_status, detail };

	return sbx_db_run(conn, "sbx_event_insert", sql_event_insert,
	    6, p, NULL);
}

struct tx_event {
	const char *sandbox_id, *actor, *action, *from, *to, *detail;
};

static enum sbx_err
tx_event_fn(PGconn *conn, void *arg)
{
	struct tx_event *a = arg;

	return sbx_sandbox_db_event(conn, a->sandbox_id, a->actor, a->action,
	    a->from, a->to, a->detail);
}

enum sbx_err
sbx_sandbox_event_append(const char *sandbox_id, const char *actor,
    const char *action, const char *from_status, const char *to_status,
    const char *detail)
{
	struct tx_event a = { sandbox_id, actor, action, from_status,
	    to_status, detail };

	if (!sbx_sandbox_uuid_valid(sandbox_id) || action == NULL)
		return SBX_EINVAL;
	return sbx_db_tx(tx_event_fn, &a);
}

#define EVENT_COLS \
	"id::text AS id, sandbox_id::text AS sandbox_id," \
	" floor(extract(epoch FROM time))::bigint AS time, actor, action," \
	" from_status, to_status, detail, delivery_attempts"

/* The text columns of an event row (EVENT_COLS). */
static const struct sbx_db_text event_text[] = {
	{ "id", offsetof(struct sbx_sandbox_event, id) },
	{ "sandbox_id", offsetof(struct sbx_sandbox_event, sandbox_id) },
	{ "actor", offsetof(struct sbx_sandbox_event, actor) },
	{ "action", offsetof(struct sbx_sandbox_event, action) },
	{ "from_status", offsetof(struct sbx_sandbox_event, from_status) },
	{ "to_status", offsetof(struct sbx_sandbox_event, to_status) },
	{ "detail", offsetof(struct sbx_sandbox_event, detail) },
};

static enum sbx_err
events_all(const PGresult *res, struct sbx_sandbox_event_list *out)
{
	size_t i, n = (size_t)PQntuples(res);

	out->items = NULL;
	out->n = 0;
	if (n == 0)
		return SBX_OK;
	out->items = calloc(n, sizeof(*out->items));
	if (out->items == NULL)
		return SBX_ENOMEM;
	for (i = 0; i < n; i++) {
		struct sbx_sandbox_event *ev = &out->items[i];
		int r = (int)i;

		out->n = i + 1;
		if (!sbx_db_take(ev, event_text, NCOLS(event_text), res,
		    r)) {
			sbx_sandbox_event_list_fini(out);
			return SBX_ENOMEM;
		}
		ev->time = sbx_db_ll(res, r, "time");
		ev->delivery_attempts = (long)sbx_db_ll(res, r,
		    "delivery_attempts");
	}
	return SBX_OK;
}

static const char sql_events[] =
    "SELECT " EVENT_COLS " FROM sandbox_events WHERE sandbox_id = $1::uuid"
    " ORDER BY sandbox_events.time, sandbox_events.id";

/* Runs a statement that reads events (EVENT_COLS) into out. */
static enum sbx_err
events_query(const char *name, const char *sql, int nparams,
    const char *const *params, struct sbx_sandbox_event_list *out)
{
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_exec(name, sql, nparams, params, &res);
	if (err == SBX_OK)
		err = events_all(res, out);
	PQclear(res);
	return err;
}

enum sbx_err
sbx_sandbox_events(const char *sandbox_id, struct sbx_sandbox_event_list *out)
{
	const char *p[1] = { sandbox_id };

	out->items = NULL;
	out->n = 0;
	if (!sbx_sandbox_uuid_valid(sandbox_id))
		return SBX_ENOTFOUND;
	return events_query("sbx_events", sql_events, 1, p, out);
}

static const char sql_outbox_pending[] =
    "SELECT " EVENT_COLS " FROM sandbox_events"
    " WHERE delivery_state = 'pending'"
    " AND (next_delivery_at IS NULL"
    "   OR next_delivery_at <= to_timestamp($1::bigint))"
    " ORDER BY sandbox_events.time, sandbox_events.id LIMIT $2::int";

enum sbx_err
sbx_sandbox_outbox_pending(long long now, long limit,
    struct sbx_sandbox_event_list *out)
{
	char t[32], l[32];
	const char *p[2] = { t, l };

	out->items = NULL;
	out->n = 0;
	fmt_long(t, sizeof(t), now);
	fmt_long(l, sizeof(l), limit > 0 ? limit : 100);
	return events_query("sbx_outbox_pending", sql_outbox_pending, 2, p,
	    out);
}

static const char sql_outbox_delivered[] =
    "UPDATE sandbox_events SET delivery_state = 'delivered',"
    " delivered_at = now(), delivery_attempts = delivery_attempts + 1"
    " WHERE id = $1::uuid AND delivery_state = 'pending'";

static const char sql_outbox_failed[] =
    "UPDATE sandbox_events SET delivery_attempts = delivery_attempts + 1,"
    " next_delivery_at = to_timestamp($2::bigint)"
    " WHERE id = $1::uuid AND delivery_state = 'pending'";

/*
 * Runs sql on the event event_id ($1) and, unless NULL, arg ($2); rows
 * (may be NULL) gets how many it changed. SBX_EINVAL for a malformed id.
 */
static enum sbx_err
outbox_update(const char *name, const char *sql, const char *event_id,
    const char *arg, long *rows)
{
	const char *p[2] = { event_id, arg };

	if (!sbx_sandbox_uuid_valid(event_id))
		return SBX_EINVAL;
	return sbx_db_run(NULL, name, sql, arg != NULL ? 2 : 1, p, rows);
}

enum sbx_err
sbx_sandbox_outbox_delivered(const char *event_id)
{
	return outbox_update("sbx_outbox_delivered", sql_outbox_delivered,
	    event_id, NULL, NULL);
}

enum sbx_err
sbx_sandbox_outbox_failed(const char *event_id, long long next_attempt_at)
{
	char t[32];

	fmt_long(t, sizeof(t), next_attempt_at);
	return outbox_update("sbx_outbox_failed", sql_outbox_failed, event_id,
	    t, NULL);
}

static const char sql_outbox_claim[] =
    "UPDATE sandbox_events SET next_delivery_at = now() + $2::int * interval '1 second'"
    " WHERE id = $1::uuid AND delivery_state = 'pending'"
    " AND (next_delivery_at IS NULL OR next_delivery_at <= now())"
    " RETURNING id";

enum sbx_err
sbx_sandbox_outbox_claim(const char *event_id, long lease_seconds)
{
	char l[32];
	long rows = 0;
	enum sbx_err err;

	fmt_long(l, sizeof(l), lease_seconds);
	err = outbox_update("sbx_outbox_claim", sql_outbox_claim, event_id, l,
	    &rows);
	return err == SBX_OK && rows < 1 ? SBX_ECONFLICT : err;
}

static const char sql_outbox_skipped[] =
    "UPDATE sandbox_events SET delivery_state = 'skipped'"
    " WHERE id = $1::uuid AND delivery_state = 'pending'";

enum sbx_err
sbx_sandbox_outbox_skipped(const char *event_id)
{
	return outbox_update("sbx_outbox_skipped", sql_outbox_skipped,
	    event_id, NULL, NULL);
}

/* At most $2 rows per statement: DSQL's 3,000-row limit. */
static const char sql_outbox_skip_older[] =
    "UPDATE sandbox_events SET delivery_state = 'skipped'"
    " WHERE id IN (SELECT id FROM sandbox_events"
    "   WHERE delivery_state = 'pending'"
    "   AND time < to_timestamp($1::bigint) LIMIT $2::int)"
    " AND delivery_state = 'pending'";

enum sbx_err
sbx_sandbox_outbox_skip_older(long long before, long limit, long *n)
{
	char t[32], l[32];
	const char *p[2] = { t, l };

	*n = 0;
	fmt_long(t, sizeof(t), before);
	fmt_long(l, sizeof(l), limit > 0 ? limit : 100);
	return sbx_db_run(NULL, "sbx_outbox_skip_older",
	    sql_outbox_skip_older, 2, p, n);
}

/* ------------------------------------------------------------ transitions */

/*
 * $1 id, $2 version, $3 status, $4 reason, $5 pending action, $6 seconds
 * until next_attempt_at (NULL: none), $7 outputs (NULL: keep), $8 whether
 * this came from reading CloudFormation (stamps last_refresh_at).
 * stack_parameters (NoEcho values in clear) only outlive the create while
 * it is still pending.
 */
static const char sql_transition[] =
    "UPDATE sandboxes SET status = $3, status_reason = $4,"
    " pending_action = $5, attempts = 0, stuck = false,"
    " next_attempt_at = now() + $6::int * interval '1 second',"
    " outputs = COALESCE($7, outputs),"
    " terminated_at = CASE WHEN $3 = 'TERMINATED' THEN now()"
    "   ELSE terminated_at END,"
    " stack_parameters = CASE WHEN $5 = 'create' THEN stack_parameters"
    "   ELSE NULL END,"
    " last_refresh_at = CASE WHEN $8::boolean THEN now()"
    "   ELSE last_refresh_at END,"
    " updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid AND version = $2::bigint"
    " RETURNING " SBX_SANDBOX_COLS;

static const char sql_user_live_dec[] =
    "UPDATE users SET live_sandboxes = GREATEST(live_sandboxes - 1, 0),"
    " version = version + 1 WHERE id = $1::uuid";

struct tx_transition {
	const struct sbx_sandbox *sb;
	enum sbx_sandbox_status to;
	enum sbx_sandbox_action pending;
	const char *reason;
	const char *outputs;
	int from_cfn;
	const char *actor, *action, *detail;
	struct sbx_sandbox *out;
};

static enum sbx_err
tx_transition_fn(PGconn *conn, void *arg)
{
	struct tx_transition *a = arg;
	const struct sbx_sandbox *sb = a->sb;
	char ver[32], lease[32];
	const char *lease_p = NULL;
	const char *p[8];
	enum sbx_err err;

	fmt_long(ver, sizeof(ver), sb->version);
	if (a->pending != SBX_SANDBOX_ACTION_NONE) {
		fmt_long(lease, sizeof(lease), sbx_sandbox_lease_seconds());
		lease_p = lease;
	} else if (a->to == SBX_SANDBOX_PROVISIONING ||
	    a->to == SBX_SANDBOX_TERMINATING) {
		lease_p = "0";		/* poll it */
	}
	p[0] = sb->id;
	p[1] = ver;
	p[2] = sbx_sandbox_status_name(a->to);
	p[3] = a->reason;
	p[4] = sbx_sandbox_action_name(a->pending);
	p[5] = lease_p;
	p[6] = a->outputs;
	p[7] = a->from_cfn ? "true" : "false";
	err = sbx_sandbox_db_row_query(conn, "sbx_transition", sql_transition,
	    8, p, SBX_ECONFLICT, &a->out);
	if (err != SBX_OK)
		return err;
	if (a->to == SBX_SANDBOX_TERMINATED &&
	    sbx_sandbox_status_live(sb->status)) {
		const char *u[1] = { sb->owner_id };

		err = sbx_db_run(conn, "sbx_user_live_dec",
		    sql_user_live_dec, 1, u, NULL);
		if (err != SBX_OK)
			return err;
	}
	return sbx_sandbox_db_event(conn, sb->id, a->actor, a->action,
	    sbx_sandbox_status_name(sb->status),
	    sbx_sandbox_status_name(a->to), a->detail);
}

static enum sbx_err
transition(const struct sbx_sandbox *sb, enum sbx_sandbox_status to,
    enum sbx_sandbox_action pending, const char *reason, const char *outputs,
    int from_cfn, const char *actor, const char *action, const char *detail,
    struct sbx_sandbox **out)
{
	struct tx_transition a;
	enum sbx_err err;

	if (out != NULL)
		*out = NULL;
	if (!sbx_sandbox_transition_valid(sb->status, to))
		return SBX_EINVAL;
	memset(&a, 0, sizeof(a));
	a.sb = sb;
	a.to = to;
	a.pending = pending;
	a.reason = reason;
	a.outputs = outputs;
	a.from_cfn = from_cfn;
	a.actor = actor;
	a.action = action;
	a.detail = detail;
	err = tx_row(tx_transition_fn, &a, &a.out, out);
	if (err == SBX_OK)
		sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s (%s): %s -> %s by %s",
		    sb->name, sb->id, sbx_sandbox_status_name(sb->status),
		    sbx_sandbox_status_name(to), actor != NULL ? actor : "system");
	return err;
}

/* The event action for entering a status: "sandbox.<action>" webhooks. */
static const char *
action_for(enum sbx_sandbox_status to)
{
	switch (to) {
	case SBX_SANDBOX_PROVISIONING:
		return "created";
	case SBX_SANDBOX_ACTIVE:
		return "active";
	case SBX_SANDBOX_FAILED:
		return "failed";
	case SBX_SANDBOX_TERMINATING:
		return "terminating";
	case SBX_SANDBOX_TERMINATED:
		return "terminated";
	case SBX_SANDBOX_STATUS__MAX:
		break;
	}
	return "changed";
}

enum sbx_err
sbx_sandbox_transition(const struct sbx_sandbox *sb,
    enum sbx_sandbox_status to, enum sbx_sandbox_action pending,
    const char *reason, const char *actor, const char *action,
    const char *detail, struct sbx_sandbox **out)
{
	return transition(sb, to, pending, reason, NULL, 0, actor,
	    action != NULL ? action : action_for(to), detail, out);
}

static const char sql_claim[] =
    "UPDATE sandboxes"
    " SET next_attempt_at = now() + $3::int * interval '1 second',"
    " updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid AND version = $2::bigint"
    " RETURNING " SBX_SANDBOX_COLS;

enum sbx_err
sbx_sandbox_claim(const struct sbx_sandbox *sb, long lease_seconds,
    struct sbx_sandbox **out)
{
	char ver[32], lease[32];
	const char *p[3] = { sb->id, ver, lease };

	if (out != NULL)
		*out = NULL;
	fmt_long(ver, sizeof(ver), sb->version);
	fmt_long(lease, sizeof(lease), lease_seconds);
	return sbx_sandbox_db_row_query(NULL, "sbx_claim", sql_claim, 3, p,
	    SBX_ECONFLICT, out);
}

static const char sql_note_failure[] =
    "UPDATE sandboxes SET attempts = attempts + 1,"
    " next_attempt_at = to_timestamp($3::bigint), stuck = $4::boolean,"
    " status_reason = $5, updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid AND version = $2::bigint"
    " RETURNING " SBX_SANDBOX_COLS;

struct tx_failure {
	const struct sbx_sandbox *sb;
	const char *reason;
	long long next;
	int stuck;
	const char *actor;
	struct sbx_sandbox *out;
};

static enum sbx_err
tx_failure_fn(PGconn *conn, void *arg)
{
	struct tx_failure *a = arg;
	char ver[32], next[32];
	const char *p[5] = { a->sb->id, ver, next, a->stuck ? "true" : "false",
	    a->reason };
	enum sbx_err err;

	fmt_long(ver, sizeof(ver), a->sb->version);
	fmt_long(next, sizeof(next), a->next);
	err = sbx_sandbox_db_row_query(conn, "sbx_note_failure",
	    sql_note_failure, 5, p, SBX_ECONFLICT, &a->out);
	if (err == SBX_OK && a->stuck && !a->sb->stuck)
		err = sbx_sandbox_db_event(conn, a->sb->id, a->actor, "stuck",
		    NULL, NULL, a->reason);
	return err;
}

enum sbx_err
sbx_sandbox_note_failure(const struct sbx_sandbox *sb, const char *reason,
    long long next_attempt_at, int stuck, const char *actor,
    struct sbx_sandbox **out)
{
	struct tx_failure a = { sb, reason, next_attempt_at, stuck, actor,
	    NULL };
	char why[1600];
	long long cap = (long long)time(NULL) + SBX_SANDBOX_BACKOFF_CAP_SECONDS;

	if (out != NULL)
		*out = NULL;
	/*
	 * A stuck row is retried at the cap, and its reason says
	 * that it is stuck as well as why the last attempt failed.
	 */
	if (stuck) {
		if (a.next < cap)
			a.next = cap;
		snprintf(why, sizeof(why), "stuck after %ld attempts (retried "
		    "every %d minutes; an operator must look): %s",
		    sb->attempts + 1, SBX_SANDBOX_BACKOFF_CAP_SECONDS / 60,
		    reason != NULL ? reason : "unknown failure");
		a.reason = why;
	}
	return tx_row(tx_failure_fn, &a, &a.out, out);
}

/* ------------------------------------------------------------ stack state */

/*
 * A read of CloudFormation that changes nothing only stamps the row; the
 * version stays, so a reader never makes a writer's claim fail.
 */
static const char sql_stamp[] =
    "UPDATE sandboxes SET last_refresh_at = now()"
    " WHERE id = $1::uuid AND version = $2::bigint"
    " RETURNING " SBX_SANDBOX_COLS;

static enum sbx_err
stamp(const struct sbx_sandbox *sb, struct sbx_sandbox **out)
{
	return sbx_sandbox_db_row_at("sbx_stamp", sql_stamp, sb, SBX_ECONFLICT,
	    out);
}

/*
 * DELETE_FAILED: the row stays TERMINATING with AWS's reason and a
 * DeleteStack to send again after a backoff; after REAPER_MAX_ATTEMPTS
 * it is flagged stuck (and retried at the cap).
 */
static enum sbx_err
delete_failed(const struct sbx_sandbox *sb, const char *reason,
    const char *actor, struct sbx_sandbox **out)
{
	static const char sql[] =
	    "UPDATE sandboxes SET pending_action = 'delete',"
	    " status_reason = $3, last_refresh_at = now(),"
	    " updated_at = now(), version = version + 1"
	    " WHERE id = $1::uuid AND version = $2::bigint"
	    " RETURNING " SBX_SANDBOX_COLS;
	const struct sbx_config *cfg = sbx_config();
	char ver[32], why[512];
	const char *p[3] = { sb->id, ver, why };
	struct sbx_sandbox *mid = NULL;
	long base = cfg != NULL ? cfg->reaper_backoff_seconds : 30;
	long max = cfg != NULL ? cfg->reaper_max_attempts : 8;
	enum sbx_err err;

	snprintf(why, sizeof(why), "DeleteStack failed: %s",
	    reason != NULL ? reason : "DELETE_FAILED");
	fmt_long(ver, sizeof(ver), sb->version);
	err = sbx_sandbox_db_row_query(NULL, "sbx_delete_failed", sql, 3, p,
	    SBX_ECONFLICT, &mid);
	if (err != SBX_OK)
		return err;
	err = sbx_sandbox_note_failure(mid, why, (long long)time(NULL) +
	    sbx_sandbox_backoff_seconds(base, mid->attempts + 1),
	    max > 0 && mid->attempts + 1 >= max, actor, out);
	sbx_sandbox_free(mid);
	return err;
}

/* Outputs as a JSON object text, from DescribeStacks' key/value pairs. */
enum sbx_err
sbx_sandbox_db_outputs_json(const char *const *keys,
    const char *const *values, size_t n, char **out)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;

	*out = NULL;
	if (o == NULL)
		return SBX_ENOMEM;
	for (i = 0; i < n; i++) {
		if (keys[i] == NULL)
			continue;
		if (cJSON_AddStringToObject(o, keys[i],
		    values[i] != NULL ? values[i] : "") == NULL) {
			cJSON_Delete(o);
			return SBX_ENOMEM;
		}
	}
	*out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return *out != NULL ? SBX_OK : SBX_ENOMEM;
}

enum sbx_err
sbx_sandbox_apply_stack(const struct sbx_sandbox *sb,
    const char *stack_status, const char *stack_reason,
    const char *outputs_json, const char *actor, struct sbx_sandbox **out)
{
	enum sbx_sandbox_status to;
	int retry_delete = 0;
	char detail[600];
	enum sbx_err err;

	if (out != NULL)
		*out = NULL;
	if (sbx_sandbox_status_from_cfn(stack_status, &to, &retry_delete) !=
	    SBX_OK) {
		/* UPDATE_* and friends: not ours to interpret. */
		sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s: stack status %s "
		    "is not one a sandbox goes through", sb->name,
		    stack_status);
		return stamp(sb, out);
	}
	snprintf(detail, sizeof(detail), "CloudFormation: %s%s%s",
	    stack_status != NULL ? stack_status : "stack does not exist",
	    stack_reason != NULL ? ": " : "",
	    stack_reason != NULL ? stack_reason : "");

	switch (sb->status) {
	case SBX_SANDBOX_PROVISIONING:
		if (to == SBX_SANDBOX_TERMINATED &&
		    sb->pending_action == SBX_SANDBOX_ACTION_CREATE)
			return stamp(sb, out);	/* not created yet */
		if (to == SBX_SANDBOX_PROVISIONING)
			return stamp(sb, out);
		if (to == SBX_SANDBOX_ACTIVE)
			return transition(sb, to, SBX_SANDBOX_ACTION_NONE,
			    NULL, outputs_json != NULL ? outputs_json : "{}",
			    1, actor, "active", detail, out);
		if (to == SBX_SANDBOX_FAILED)
			return transition(sb, to, SBX_SANDBOX_ACTION_NONE,
			    stack_reason != NULL ? stack_reason :
			    "the stack could not be created", NULL, 1, actor,
			    "failed", detail, out);
		if (to == SBX_SANDBOX_TERMINATED)
			return transition(sb, to, SBX_SANDBOX_ACTION_NONE,
			    "the stack no longer exists", NULL, 1, actor,
			    "terminated", detail, out);
		/* Deleted behind our back: follow it down. */
		return transition(sb, to, retry_delete ?
		    SBX_SANDBOX_ACTION_DELETE : SBX_SANDBOX_ACTION_NONE,
		    stack_reason, NULL, 1, actor, "terminating", detail, out);

	case SBX_SANDBOX_TERMINATING:
		if (to == SBX_SANDBOX_TERMINATED)
			return transition(sb, to, SBX_SANDBOX_ACTION_NONE,
			    sb->status_reason, NULL, 1, actor, "terminated",
			    detail, out);
		if (retry_delete) {
			err = delete_failed(sb, stack_reason, actor, out);
			return err;
		}
		/* Still deleting, or the delete not yet visible. */
		return stamp(sb, out);

	case SBX_SANDBOX_ACTIVE:
	case SBX_SANDBOX_FAILED:
		if (to == SBX_SANDBOX_TERMINATED)
			return transition(sb, to, SBX_SANDBOX_ACTION_NONE,
			    "the stack no longer exists", NULL, 1, actor,
			    "terminated", detail, out);
		if (to == SBX_SANDBOX_TERMINATING)
			return transition(sb, to, retry_delete ?
			    SBX_SANDBOX_ACTION_DELETE :
			    SBX_SANDBOX_ACTION_NONE, sb->status_reason, NULL,
			    1, actor, "terminating", detail, out);
		return stamp(sb, out);

	case SBX_SANDBOX_TERMINATED:
	case SBX_SANDBOX_STATUS__MAX:
		break;
	}
	if (out != NULL && sb != NULL)
		return sbx_sandbox_get(sb->id, out);
	return SBX_OK;
}

/* ------------------------------------------------------------ expiry */

static const char sql_set_expiry[] =
    "UPDATE sandboxes SET expiry_time = to_timestamp($3::bigint),"
    " updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid AND version = $2::bigint"
    " AND status IN ('ACTIVE', 'PROVISIONING')"
    " AND to_timestamp($3::bigint) <= max_expiry_time"
    " RETURNING " SBX_SANDBOX_COLS;

struct tx_expiry {
	const struct sbx_sandbox *sb;
	long long expiry;
	const char *actor;
	struct sbx_sandbox *out;
};

static enum sbx_err
tx_expiry_fn(PGconn *conn, void *arg)
{
	struct tx_expiry *a = arg;
	char ver[32], exp[32], was[40], now_is[40], detail[120];
	const char *p[3] = { a->sb->id, ver, exp };
	enum sbx_err err;

	fmt_long(ver, sizeof(ver), a->sb->version);
	fmt_long(exp, sizeof(exp), a->expiry);
	err = sbx_sandbox_db_row_query(conn, "sbx_set_expiry", sql_set_expiry,
	    3, p, SBX_ECONFLICT, &a->out);
	if (err != SBX_OK)
		return err;
	sbx_time_format(a->sb->expiry_time, was, sizeof(was));
	sbx_time_format(a->expiry, now_is, sizeof(now_is));
	snprintf(detail, sizeof(detail), "expiry_time %s -> %s", was, now_is);
	return sbx_sandbox_db_event(conn, a->sb->id, a->actor, "extended", NULL,
	    NULL, detail);
}

enum sbx_err
sbx_sandbox_set_expiry(const struct sbx_sandbox *sb, long long new_expiry,
    const char *actor, struct sbx_sandbox **out)
{
	struct tx_expiry a = { sb, new_expiry, actor, NULL };

	if (out != NULL)
		*out = NULL;
	return tx_row(tx_expiry_fn, &a, &a.out, out);
}

/* ------------------------------------------------------------ lists */

/*
 * The reaper's lists. A NULL next_attempt_at is due. $1 now, $2 limit,
 * $3 owner (NULL: all).
 */
#define DUE SBX_SANDBOX_DUE
#define OWNER " AND ($3::uuid IS NULL OR owner_id = $3::uuid)"

static const char *const sql_work[SBX_WORK__MAX] = {
	[SBX_WORK_EXPIRED] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status IN ('ACTIVE', 'PROVISIONING')"
	    " AND expiry_time <= to_timestamp($1::bigint)" OWNER
	    " ORDER BY sandboxes.expiry_time, sandboxes.id LIMIT $2::int",
	[SBX_WORK_FAILED] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status = 'FAILED' AND" DUE OWNER
	    " ORDER BY sandboxes.updated_at, sandboxes.id LIMIT $2::int",
	[SBX_WORK_CREATE] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status = 'PROVISIONING' AND pending_action = 'create' AND"
	    DUE OWNER " ORDER BY sandboxes.next_attempt_at, sandboxes.id"
	    " LIMIT $2::int",
	[SBX_WORK_DELETE] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status = 'TERMINATING' AND pending_action = 'delete' AND"
	    DUE OWNER " ORDER BY sandboxes.next_attempt_at, sandboxes.id"
	    " LIMIT $2::int",
	[SBX_WORK_POLL] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status IN ('PROVISIONING', 'TERMINATING')"
	    " AND pending_action = 'none' AND" DUE OWNER
	    " ORDER BY sandboxes.next_attempt_at, sandboxes.id LIMIT $2::int",
	[SBX_WORK_STUCK] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE stuck AND status <> 'TERMINATED'"
	    " AND to_timestamp($1::bigint) IS NOT NULL" OWNER
	    " ORDER BY sandboxes.updated_at, sandboxes.id LIMIT $2::int",
	[SBX_WORK_LIVE] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status <> 'TERMINATED'"
	    " AND to_timestamp($1::bigint) IS NOT NULL" OWNER
	    " ORDER BY sandboxes.expiry_time, sandboxes.id LIMIT $2::int",
	[SBX_WORK_EXPIRING] = "SELECT " SBX_SANDBOX_COLS " FROM sandboxes"
	    " WHERE status = 'ACTIVE' AND expiry_time > now()"
	    " AND expiry_time <= to_timestamp($1::bigint)"
	    " AND (warned_expiry IS NULL OR warned_expiry <> expiry_time)" OWNER
	    " ORDER BY sandboxes.expiry_time, sandboxes.id LIMIT $2::int",
};

static const char *const sql_work_names[SBX_WORK__MAX] = {
	"sbx_work_expired", "sbx_work_failed", "sbx_work_create",
	"sbx_work_delete", "sbx_work_poll", "sbx_work_stuck", "sbx_work_live",
	"sbx_work_expiring",
};

enum sbx_err
sbx_sandbox_list_work(enum sbx_sandbox_work work, long long now,
    const char *owner_id, long limit, struct sbx_sandbox_list *out)
{
	char t[32], l[32];
	const char *p[3] = { t, l, owner_id };
	PGresult *res = NULL;
	enum sbx_err err;

	out->items = NULL;
	out->n = 0;
	if ((unsigned)work >= SBX_WORK__MAX)
		return SBX_EINVAL;
	if (owner_id != NULL && !sbx_sandbox_uuid_valid(owner_id))
		return SBX_OK;		/* nobody's: nothing */
	fmt_long(t, sizeof(t), now);
	fmt_long(l, sizeof(l), limit > 0 ? limit : 100);
	err = sbx_db_exec(sql_work_names[work], sql_work[work], 3, p, &res);
	if (err == SBX_OK)
		err = sbx_sandbox_db_rows(res, (size_t)PQntuples(res), out);
	PQclear(res);
	return err;
}

/*
 * The columns a page shows (sbx_sandbox_json_write), named as
 * SBX_SANDBOX_COLS names them: the page is read with row_view, which
 * leaves the others NULL or 0. The bookkeeping columns (pending work,
 * retries, versions, the stack's parameters) are never sent, and they
 * were half of what PostgreSQL formatted for a page.
 */
#define LIST_COLS \
	"id::text AS id, name, owner_email, template_name, template_version," \
	" status, status_reason, stack_id, parameters, outputs," \
	" floor(extract(epoch FROM created_at))::bigint AS created_at," \
	" floor(extract(epoch FROM expiry_time))::bigint AS expiry_time," \
	" floor(extract(epoch FROM max_expiry_time))::bigint AS max_expiry_time," \
	" floor(extract(epoch FROM terminated_at))::bigint AS terminated_at, " \
	SBX_SANDBOX_COST_COL

/*
 * A page, newest first. The cursor is the id of the last row of the
 * previous page; rows sort by (created_at, id), so a page boundary is
 * stable while rows are added.
 */
static const char sql_list[] =
    "SELECT " LIST_COLS " FROM sandboxes"
    " WHERE ($1::uuid IS NULL OR owner_id = $1::uuid)"
    " AND ($2::text IS NULL OR lower(owner_email) = lower($2::text))"
    " AND ($3::text IS NULL OR status = $3::text)"
    " AND ($4::uuid IS NULL OR (created_at, id) <"
    "   (SELECT c.created_at, c.id FROM sandboxes c WHERE c.id = $4::uuid))"
    " ORDER BY sandboxes.created_at DESC, sandboxes.id DESC LIMIT $5::int";

/*
 * The same page for the common case, one owner's sandboxes with no other
 * filter: the first page, then a page after a cursor. Each "$n IS NULL
 * OR" above leaves a generic plan the planner costs above a custom one
 * (a scan of the whole table, or a cursor look-up it cannot skip), so
 * PostgreSQL plans that statement afresh on every run; planning was a
 * quarter of the database's time on a list. Even without them, a custom
 * plan still won whenever the statistics gave the owner few rows (a
 * custom plan sees the owner's id, and costs the cost column's subquery
 * per row it expects): the list was planned on every run, a quarter of
 * its backend's time again (perf, issue 14). "(SELECT $1::uuid)" hides
 * the id from the planner in both plans, so they cost the same, the
 * generic plan (a backward scan of sandboxes_owner_page_idx, no sort) is
 * kept, and the owner is still an index condition.
 * $1 owner_id, then $2 limit, or $2 cursor and $3 limit.
 */
static const char sql_list_owner[] =
    "SELECT " LIST_COLS " FROM sandboxes"
    " WHERE owner_id = (SELECT $1::uuid)"
    " ORDER BY sandboxes.created_at DESC, sandboxes.id DESC LIMIT $2::int";

static const char sql_list_owner_after[] =
    "SELECT " LIST_COLS " FROM sandboxes"
    " WHERE owner_id = (SELECT $1::uuid) AND (created_at, id) <"
    "   (SELECT c.created_at, c.id FROM sandboxes c WHERE c.id = $2::uuid)"
    " ORDER BY sandboxes.created_at DESC, sandboxes.id DESC LIMIT $3::int";

int
sbx_sandbox_cursor_valid(const char *cursor)
{
	return sbx_sandbox_uuid_valid(cursor);
}

/* The page's rows, limit + 1 of them at most (one more tells a next). */
static enum sbx_err
list_query(const char *owner_id, const char *owner_email, const char *status,
    const char *cursor, long limit, PGresult **res)
{
	char l[32];
	const char *p[5] = { owner_id, owner_email, status, cursor, l };

	if ((owner_id != NULL && !sbx_sandbox_uuid_valid(owner_id)) ||
	    (cursor != NULL && !sbx_sandbox_cursor_valid(cursor)))
		return SBX_EINVAL;
	fmt_long(l, sizeof(l), limit + 1);
	if (owner_id != NULL && owner_email == NULL && status == NULL &&
	    cursor == NULL) {
		const char *po[2] = { owner_id, l };

		return sbx_db_exec("sbx_list_owner", sql_list_owner, 2, po,
		    res);
	}
	if (owner_id != NULL && owner_email == NULL && status == NULL) {
		const char *po[3] = { owner_id, cursor, l };

		return sbx_db_exec("sbx_list_owner_after",
		    sql_list_owner_after, 3, po, res);
	}
	return sbx_db_exec("sbx_list", sql_list, 5, p, res);
}

/*
 * The rows are written out straight from the result (row_view): no copy
 * of a row, no tree of the page. The buffer is sized for the page at
 * once; a row with its stack id and outputs is about 550 bytes.
 */
enum sbx_err
sbx_sandbox_list_json(const char *owner_id, const char *owner_email,
    const char *status, const char *cursor, long limit, long long now,
    struct sbx_util_buf *out, char **next_cursor)
{
	PGresult *res = NULL;
	struct sbx_sandbox view;
	int cols[COL__MAX];
	long i, n;
	enum sbx_err err;

	*next_cursor = NULL;
	if (limit < 1)
		limit = 1;
	err = list_query(owner_id, owner_email, status, cursor, limit, &res);
	if (err != SBX_OK)
		goto out;
	n = (long)PQntuples(res);
	if (n > limit)
		n = limit;
	cols_find(res, cols);
	sbx_util_buf_reserve(out, (size_t)n * 640 + 2);
	sbx_util_buf_addn(out, "[", 1);
	for (i = 0; i < n; i++) {
		if (i > 0)
			sbx_util_buf_addn(out, ",", 1);
		row_view(res, (int)i, cols, &view);
		sbx_sandbox_json_write(out, &view, now, 0);
	}
	sbx_util_buf_addn(out, "]", 1);
	if (out->err != SBX_OK) {
		err = out->err;
		goto out;
	}
	if ((long)PQntuples(res) > limit && n > 0) {
		row_view(res, (int)n - 1, cols, &view);
		if ((*next_cursor = strdup(view.id != NULL ? view.id : "")) ==
		    NULL)
			err = SBX_ENOMEM;
	}
out:
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ reaper extras */

static const char sql_warn_expiry[] =
    "UPDATE sandboxes SET warned_expiry = expiry_time"
    " WHERE id = $1::uuid AND status = 'ACTIVE'"
    " AND floor(extract(epoch FROM expiry_time))::bigint = $2::bigint"
    " AND (warned_expiry IS NULL OR warned_expiry <> expiry_time)"
    " RETURNING id";

struct tx_warn {
	const struct sbx_sandbox *sb;
	const char *actor;
};

static enum sbx_err
tx_warn_fn(PGconn *conn, void *arg)
{
	struct tx_warn *a = arg;
	char exp[32], when[40], detail[80];
	const char *p[2] = { a->sb->id, exp };
	long rows = 0;
	enum sbx_err err;

	fmt_long(exp, sizeof(exp), a->sb->expiry_time);
	err = sbx_db_run(conn, "sbx_warn_expiry", sql_warn_expiry, 2,
	    p, &rows);
	if (err == SBX_OK && rows < 1)
		err = SBX_ECONFLICT;
	if (err != SBX_OK)
		return err;
	sbx_time_format(a->sb->expiry_time, when, sizeof(when));
	snprintf(detail, sizeof(detail), "expires at %s", when);
	return sbx_sandbox_db_event(conn, a->sb->id, a->actor, "expiring", NULL,
	    NULL, detail);
}

enum sbx_err
sbx_sandbox_warn_expiry(const struct sbx_sandbox *sb, const char *actor)
{
	struct tx_warn a = { sb, actor };

	return sbx_db_tx(tx_warn_fn, &a);
}

static const char sql_retry_reset[] =
    "UPDATE sandboxes SET attempts = 0, stuck = false,"
    " next_attempt_at = now() + $3::int * interval '1 second',"
    " updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid AND version = $2::bigint AND status <> 'TERMINATED'"
    " RETURNING " SBX_SANDBOX_COLS;

struct tx_retry {
	const struct sbx_sandbox *sb;
	long lease;
	const char *actor, *detail;
	struct sbx_sandbox *out;
};

static enum sbx_err
tx_retry_fn(PGconn *conn, void *arg)
{
	struct tx_retry *a = arg;
	char ver[32], lease[32];
	const char *p[3] = { a->sb->id, ver, lease };
	enum sbx_err err;

	fmt_long(ver, sizeof(ver), a->sb->version);
	fmt_long(lease, sizeof(lease), a->lease);
	err = sbx_sandbox_db_row_query(conn, "sbx_retry_reset",
	    sql_retry_reset, 3, p, SBX_ECONFLICT, &a->out);
	if (err != SBX_OK)
		return err;
	return sbx_sandbox_db_event(conn, a->sb->id, a->actor, "retry", NULL,
	    NULL, a->detail);
}

enum sbx_err
sbx_sandbox_retry_reset(const struct sbx_sandbox *sb, long lease_seconds,
    const char *actor, const char *detail, struct sbx_sandbox **out)
{
	struct tx_retry a = { sb, lease_seconds, actor, detail, NULL };

	if (out != NULL)
		*out = NULL;
	return tx_row(tx_retry_fn, &a, &a.out, out);
}

/*
 * The ids travel as one array parameter ("{a,b,...}"), which is data,
 * not SQL text; only well-formed UUIDs are put in it.
 */
static const char sql_live_among[] =
    "SELECT id::text AS id FROM sandboxes"
    " WHERE id = ANY($1::uuid[]) AND status <> 'TERMINATED'";

enum sbx_err
sbx_sandbox_live_among(const char *const *ids, size_t n, unsigned char *live)
{
	const char *p[1];
	char *arr = NULL;
	size_t i, j, len = 3, pos = 0, rows;
	PGresult *res = NULL;
	enum sbx_err err = SBX_OK;

	for (i = 0; i < n; i++) {
		live[i] = 0;
		if (sbx_sandbox_uuid_valid(ids[i]))
			len += 37;
	}
	if (len == 3)
		return SBX_OK;
	arr = malloc(len);
	if (arr == NULL)
		return SBX_ENOMEM;
	arr[pos++] = '{';
	for (i = 0; i < n; i++) {
		if (!sbx_sandbox_uuid_valid(ids[i]))
			continue;
		if (pos > 1)
			arr[pos++] = ',';
		memcpy(arr + pos, ids[i], 36);
		pos += 36;
	}
	arr[pos++] = '}';
	arr[pos] = '\0';
	p[0] = arr;
	err = sbx_db_exec("sbx_live_among", sql_live_among, 1, p, &res);
	if (err != SBX_OK)
		goto out;
	rows = (size_t)PQntuples(res);
	for (j = 0; j < rows; j++) {
		const char *id = sbx_db_get(res, (int)j, "id");

		for (i = 0; id != NULL && i < n; i++)
			if (strcmp(ids[i], id) == 0)
				live[i] = 1;
	}
out:
	PQclear(res);
	free(arr);
	return err;
}
