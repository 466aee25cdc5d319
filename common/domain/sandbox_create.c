/*
 * Creating a sandbox (see sbx_sandbox_create_run in sandbox.h): the checks
 * against its template and the rules, then one transaction that records
 * the Idempotency-Key, counts the owner's live sandboxes, claims the name
 * and inserts the PROVISIONING row with its event; only after that commits
 * is CreateStack called, so that no stack ever exists without a row.
 *
 * Concurrency, on PostgreSQL at REPEATABLE READ as on DSQL:
 * - two requests with one Idempotency-Key both insert the key row first;
 *   the loser waits for the winner's commit and fails on the primary key
 *   (or, on DSQL, at COMMIT with 40001); it is re-run and finds the key,
 *   so it replays the first answer and creates nothing;
 * - two creates of one owner both update the owner's users row (the
 *   counter); the loser fails with 40001 and is re-run, and then counts
 *   the winner's row, so the quota holds;
 * - two creates of one name collide on the unique live_name index; the
 *   loser is refused (NAME_TAKEN).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/core/config.h"
#include "common/domain/cost.h"
#include "common/io/db.h"
#include "common/domain/housekeeping.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/domain/sandbox.h"
#include "common/domain/sandbox_db.h"
#include "common/domain/template.h"

#define MODULE "sandbox"

void
sbx_sandbox_create_result_fini(struct sbx_sandbox_create_result *r)
{
	if (r == NULL)
		return;
	free(r->replay_body);
	sbx_sandbox_free(r->sandbox);
	r->replay_body = NULL;
	r->sandbox = NULL;
}

/* A refusal: SBX_EINVAL for invalid input, else SBX_ECONFLICT. */
static enum sbx_err
refuse(struct sbx_sandbox_create_result *res, enum sbx_sandbox_refusal why,
    const char *field, const char *msg)
{
	res->refusal = why;
	res->field = field;
	snprintf(res->detail, sizeof(res->detail), "%s", msg);
	return why == SBX_SANDBOX_REFUSED_INVALID ? SBX_EINVAL : SBX_ECONFLICT;
}

struct create_tx {
	const struct sbx_sandbox_create *req;
	const struct sbx_template *tmpl;
	const char *id;
	const char *stack_name;
	const char *params_masked;
	const char *params_real;
	char ttl[32];
	char lifetime[32];
	char max_per_user[32];
	/* outcome of the last attempt */
	enum sbx_sandbox_refusal refusal;	/* NONE: created or replayed */
	const char *field;
	char detail[256];
	int replay_status;
	char *replay_body;		/* non-NULL: replayed */
	struct sbx_sandbox *row;
};

/*
 * Keys older than a day are dead. The owner's are swept as we go, so that
 * a key reused after a day starts afresh whenever the reaper last ran.
 */
static const char sql_idem_sweep[] =
    "DELETE FROM idempotency_keys WHERE user_id = $1::uuid"
    " AND created_at < now() - " SBX_HOUSEKEEPING_IDEM_KEEP;

static const char sql_idem_get[] =
    "SELECT request_hash, status_code, response_body FROM idempotency_keys"
    " WHERE user_id = $1::uuid AND key = $2";

static const char sql_idem_insert[] =
    "INSERT INTO idempotency_keys (user_id, key, request_hash, sandbox_id)"
    " VALUES ($1::uuid, $2, $3, $4::uuid)";

static const char sql_idem_answer[] =
    "UPDATE idempotency_keys SET status_code = $3::int, response_body = $4"
    " WHERE user_id = $1::uuid AND key = $2";

static const char sql_live_count[] =
    "SELECT count(*) AS n FROM sandboxes"
    " WHERE owner_id = $1::uuid AND status <> 'TERMINATED'";

/*
 * The counter is set from the count, not incremented: the write is what
 * serialises concurrent creates of one owner, and setting it from the
 * rows heals any drift.
 */
static const char sql_user_live_set[] =
    "UPDATE users SET live_sandboxes = $2::int, version = version + 1"
    " WHERE id = $1::uuid";

static const char sql_name_taken[] =
    "SELECT 1 FROM sandboxes WHERE live_name = $1";

static const char sql_insert[] =
    "INSERT INTO sandboxes (id, name, owner_id, owner_email, template_name,"
    " template_version, status, stack_name, parameters, stack_parameters,"
    " expiry_time, max_expiry_time, pending_action, next_attempt_at)"
    " VALUES ($1::uuid, $2, $3::uuid, $4, $5, $6::int, 'PROVISIONING', $7,"
    " $8, $9, now() + $10::int * interval '1 minute',"
    " now() + $11::int * interval '1 minute', 'create',"
    " now() + $12::int * interval '1 second')"
    " RETURNING " SBX_SANDBOX_COLS;

static void
decide(struct create_tx *a, enum sbx_sandbox_refusal why, const char *field,
    const char *msg)
{
	a->refusal = why;
	a->field = field;
	snprintf(a->detail, sizeof(a->detail), "%s", msg);
}

static enum sbx_err
idem_check(PGconn *conn, struct create_tx *a)
{
	const struct sbx_sandbox_create *r = a->req;
	const char *p[4] = { r->owner_id, r->idem_key, r->request_hash, a->id };
	PGresult *res = NULL;
	enum sbx_err err;
	const char *hash, *code, *body;

	err = sbx_db_run(conn, "sbx_idem_sweep", sql_idem_sweep, 1, p,
	    NULL);
	if (err != SBX_OK)
		return err;
	err = sbx_db_query(conn, "sbx_idem_get", sql_idem_get, 2, p, &res);
	if (err != SBX_OK)
		goto out;
	if (PQntuples(res) > 0) {
		hash = sbx_db_get(res, 0, "request_hash");
		code = sbx_db_get(res, 0, "status_code");
		body = sbx_db_get(res, 0, "response_body");
		if (hash == NULL || strcmp(hash, r->request_hash) != 0) {
			decide(a, SBX_SANDBOX_REFUSED_KEY_REUSED, NULL, "");
		} else if (code == NULL) {
			decide(a, SBX_SANDBOX_REFUSED_KEY_BUSY, NULL, "");
		} else {
			a->replay_status = (int)strtol(code, NULL, 10);
			a->replay_body = strdup(body != NULL ? body : "");
			if (a->replay_body == NULL)
				err = SBX_ENOMEM;
		}
		goto out;
	}
	err = sbx_db_run(conn, "sbx_idem_insert", sql_idem_insert, 4,
	    p, NULL);
	/* Another request with this key committed first: run again, replay. */
	if (err == SBX_ECONFLICT)
		err = SBX_ESERIALIZE;
out:
	PQclear(res);
	return err;
}

/*
 * Stores sb as the answer (the caller's answer_status) to the request's
 * idempotency key: inside the create's transaction (conn), and again on
 * its own (conn NULL) once CreateStack has answered, so that a replay
 * shows what it became.
 */
static enum sbx_err
idem_answer(PGconn *conn, const struct sbx_sandbox_create *r,
    const struct sbx_sandbox *sb)
{
	cJSON *j = sbx_sandbox_to_json(sb);
	char *body = j != NULL ? sbx_json_print(j) : NULL;
	char status[16];
	const char *p[4] = { r->owner_id, r->idem_key, status, body };
	enum sbx_err err;

	cJSON_Delete(j);
	snprintf(status, sizeof(status), "%d", r->answer_status);
	if (body == NULL)
		return SBX_ENOMEM;
	err = sbx_db_run(conn, "sbx_idem_answer", sql_idem_answer, 4,
	    p, NULL);
	free(body);
	return err;
}

/* How many live sandboxes the owner has, as the rows say. */
static enum sbx_err
live_count(PGconn *conn, const char *owner_id, long *n)
{
	const char *p[1] = { owner_id };
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_query(conn, "sbx_live_count", sql_live_count, 1, p, &res);
	if (err == SBX_OK)
		*n = (long)sbx_db_ll(res, 0, "n");
	PQclear(res);
	return err;
}

static enum sbx_err
tx_create_fn(PGconn *conn, void *arg)
{
	struct create_tx *a = arg;
	const struct sbx_sandbox_create *r = a->req;
	char count[32], version[32], lease[32], detail[200];
	long n = 0, rows = 0;
	enum sbx_err err;

	a->refusal = SBX_SANDBOX_REFUSED_NONE;
	a->field = NULL;
	a->detail[0] = '\0';
	a->replay_status = 0;
	free(a->replay_body);
	a->replay_body = NULL;
	sbx_sandbox_free(a->row);
	a->row = NULL;

	if (r->idem_key != NULL) {
		err = idem_check(conn, a);
		if (err != SBX_OK)
			return err;
		if (a->refusal != SBX_SANDBOX_REFUSED_NONE ||
		    a->replay_body != NULL)
			return SBX_ECONFLICT;	/* decided; roll back */
	}

	err = live_count(conn, r->owner_id, &n);
	if (err != SBX_OK)
		return err;
	if (n >= strtol(a->max_per_user, NULL, 10)) {
		char msg[160];

		snprintf(msg, sizeof(msg), "you have %ld live sandboxes, the "
		    "most allowed (SANDBOX_MAX_PER_USER); delete one first", n);
		decide(a, SBX_SANDBOX_REFUSED_QUOTA, NULL, msg);
		return SBX_ECONFLICT;
	}
	snprintf(count, sizeof(count), "%ld", n + 1);
	{
		const char *p[2] = { r->owner_id, count };

		err = sbx_db_run(conn, "sbx_user_live_set",
		    sql_user_live_set, 2, p, &rows);
	}
	if (err != SBX_OK)
		return err;
	if (rows != 1) {
		sbx_log(SBX_LOG_ERROR, MODULE, "no users row for the caller");
		return SBX_EINTERNAL;
	}

	{
		const char *p[1] = { r->name };

		err = sbx_db_run(conn, "sbx_name_taken", sql_name_taken,
		    1, p, &rows);
	}
	if (err != SBX_OK)
		return err;
	if (rows > 0) {
		decide(a, SBX_SANDBOX_REFUSED_NAME_TAKEN, "name",
		    "a live sandbox already has this name");
		return SBX_ECONFLICT;
	}

	snprintf(version, sizeof(version), "%ld", a->tmpl->version);
	snprintf(lease, sizeof(lease), "%ld", sbx_sandbox_lease_seconds());
	{
		const char *p[12] = { a->id, r->name, r->owner_id,
		    r->owner_email, a->tmpl->name, version, a->stack_name,
		    a->params_masked, a->params_real, a->ttl, a->lifetime,
		    lease };

		err = sbx_sandbox_db_row_query(conn, "sbx_insert", sql_insert,
		    12, p, SBX_ENOTFOUND, &a->row);
	}
	if (err == SBX_ECONFLICT) {
		/* The same name, committed by someone in the meantime. */
		decide(a, SBX_SANDBOX_REFUSED_NAME_TAKEN, "name",
		    "a live sandbox already has this name");
		return err;
	}
	if (err != SBX_OK)
		return err;

	snprintf(detail, sizeof(detail), "template %s version %ld, ttl %s "
	    "minutes", a->tmpl->name, a->tmpl->version, a->ttl);
	err = sbx_sandbox_db_event(conn, a->id, r->actor, "created", NULL,
	    "PROVISIONING", detail);
	if (err == SBX_OK && r->idem_key != NULL)
		err = idem_answer(conn, r, a->row);
	return err;
}

enum sbx_err
sbx_sandbox_create_run(const struct sbx_sandbox_create *req,
    struct sbx_sandbox_create_result *res)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_template *t = NULL;
	struct sbx_ttl_bounds b;
	struct sbx_sandbox *after = NULL;
	struct create_tx a;
	cJSON *eff = NULL, *masked = NULL;
	char *eff_text = NULL, *masked_text = NULL;
	char id[40], stack_name[160], bad[160], detail[256];
	long ttl = 0;
	enum sbx_err err;

	memset(res, 0, sizeof(*res));
	memset(&a, 0, sizeof(a));
	if (!sbx_sandbox_name_valid(req->name))
		return refuse(res, SBX_SANDBOX_REFUSED_INVALID, "name",
		    "name must match ^[a-z][a-z0-9-]{2,62}$");
	/* sbx_template_get finds no template of an invalid name either. */
	err = sbx_template_get(req->template_name, &t);
	if (err == SBX_ENOTFOUND)
		return refuse(res, SBX_SANDBOX_REFUSED_INVALID, "template",
		    req->template_name != NULL ? "no enabled template has "
		    "this name" : "no default template is set up; name one");
	if (err != SBX_OK)
		return err;

	sbx_template_ttl_bounds(t->default_ttl_minutes, t->max_ttl_minutes,
	    cfg->sandbox_default_ttl_minutes, cfg->sandbox_max_ttl_minutes,
	    cfg->sandbox_max_lifetime_minutes, &b);
	if (sbx_sandbox_ttl_check(&b, req->ttl_minutes, req->ttl_given, &ttl,
	    detail, sizeof(detail)) != SBX_OK) {
		err = refuse(res, SBX_SANDBOX_REFUSED_INVALID, "ttl_minutes",
		    detail);
		goto out;
	}
	err = sbx_template_params_check(t->parameters, req->parameters, &eff,
	    bad, sizeof(bad), detail, sizeof(detail));
	if (err == SBX_EINVAL) {
		/* bad is a stack buffer: keep the name in the result. */
		sbx_json_fmt(res->field_buf, sizeof(res->field_buf), "%s", bad);
		err = refuse(res, SBX_SANDBOX_REFUSED_INVALID, res->field_buf,
		    "");
		snprintf(res->detail, sizeof(res->detail), "%.*s: %.*s",
		    (int)sbx_json_utf8_cut(bad, 100), bad,
		    (int)sbx_json_utf8_cut(detail, 150), detail);
		goto out;
	}
	if (err != SBX_OK)
		goto out;
	masked = sbx_template_params_masked(t->parameters, eff);
	eff_text = sbx_json_print(eff);
	masked_text = masked != NULL ? sbx_json_print(masked) : NULL;
	if (eff_text == NULL || masked_text == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = sbx_sandbox_uuid_new(id, sizeof(id));
	if (err != SBX_OK)
		goto out;
	snprintf(stack_name, sizeof(stack_name), "%s%s",
	    cfg->stack_name_prefix != NULL ? cfg->stack_name_prefix : "",
	    req->name);

	a = (struct create_tx){ .req = req, .tmpl = t, .id = id,
	    .stack_name = stack_name, .params_masked = masked_text,
	    .params_real = eff_text };
	/*
	 * The budget: what this sandbox would add, from the parameters chosen
	 * and the cached prices (never the Price List itself), for its TTL.
	 */
	{
		double hourly = 0;
		int known = 0, refused = 0;

		err = sbx_cost_template_hourly(t->body, eff, 1, &hourly,
		    &known);
		if (err == SBX_OK)
			err = sbx_cost_budget_check(req->owner_id, known ?
			    hourly * (double)ttl / 60.0 : -1, &refused,
			    res->detail, sizeof(res->detail));
		if (err != SBX_OK)
			goto out;
		if (refused) {
			res->refusal = SBX_SANDBOX_REFUSED_BUDGET;
			err = SBX_ECONFLICT;
			goto out;
		}
	}
	snprintf(a.ttl, sizeof(a.ttl), "%ld", ttl);
	snprintf(a.lifetime, sizeof(a.lifetime), "%ld",
	    cfg->sandbox_max_lifetime_minutes);
	snprintf(a.max_per_user, sizeof(a.max_per_user), "%ld",
	    cfg->sandbox_max_per_user);
	err = sbx_db_tx(tx_create_fn, &a);
	if (a.replay_body != NULL) {
		/* The key was seen before: its stored answer, again. */
		res->replay_status = a.replay_status;
		res->replay_body = a.replay_body;
		a.replay_body = NULL;
		err = SBX_OK;
		goto out;
	}
	if (a.refusal != SBX_SANDBOX_REFUSED_NONE) {
		/* A refusal decided inside the transaction. */
		err = refuse(res, a.refusal, a.field, a.detail);
		goto out;
	}
	if (err != SBX_OK)
		goto out;

	sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s (%s) created by %s, "
	    "template %s v%ld, ttl %ld min", req->name, id,
	    req->actor != NULL ? req->actor : "?", t->name, t->version, ttl);
	/*
	 * The row is committed: now the stack. Any failure is recorded on
	 * the row (pending create, or FAILED), and the sandbox is created
	 * still.
	 */
	(void)sbx_sandbox_create_stack(a.row, req->actor, 0, &after);
	if (after == NULL && sbx_sandbox_get(id, &after) != SBX_OK)
		after = NULL;
	if (after != NULL) {
		res->sandbox = after;
		after = NULL;
	} else {
		res->sandbox = a.row;
		a.row = NULL;
	}
	if (req->idem_key != NULL && idem_answer(NULL, req, res->sandbox) !=
	    SBX_OK)
		sbx_log(SBX_LOG_WARN, MODULE, "could not store the final "
		    "answer of an Idempotency-Key; the first one stands");
	err = SBX_OK;
out:
	free(a.replay_body);
	sbx_sandbox_free(a.row);
	sbx_sandbox_free(after);
	sbx_util_wipe_free(eff_text);
	free(masked_text);
	sbx_template_params_free(eff);
	cJSON_Delete(masked);
	sbx_template_free(t);
	return err;
}
