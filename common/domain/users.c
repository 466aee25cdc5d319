/*
 * The SQL of sign-in: users, sessions, disabling. See users.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io/db.h"
#include "common/core/log.h"
#include "common/domain/users.h"
#include "common/domain/users_db.h"

#define MODULE "users"

/* Sessions revoked per transaction when a user is disabled (DSQL: <= 3000). */
#define REVOKE_BATCH 1000

/*
 * A user row is bound to the account it was made for: the IdP's (issuer,
 * subject), the issuer in its one spelling (sbx_oidc_issuer_canonical).
 * The upsert refreshes email, name and picture of the row of this subject
 * only while it is bound to the same issuer; otherwise it returns no row
 * and the account is refused. The UNIQUE index on email (030) refuses a
 * second account with an existing account's address (23505, so
 * SBX_ECONFLICT): an address alone never opens someone else's row.
 *
 * A disabled user's row is refreshed too, but the statement's RETURNING
 * says so and a login's transaction is rolled back, so a disabled user's
 * login writes nothing.
 */
static const char sql_upsert_user[] =
    "INSERT INTO users (oidc_iss, oidc_sub, email, name, picture, "
    "last_login_at) VALUES ($1, $2, $3, $4, $5, now()) "
    "ON CONFLICT (oidc_sub) DO UPDATE SET email = EXCLUDED.email, "
    "name = EXCLUDED.name, picture = EXCLUDED.picture, "
    "last_login_at = now() "
    "WHERE users.oidc_iss = EXCLUDED.oidc_iss "
    "RETURNING id, email, name, picture, disabled_at IS NOT NULL AS disabled";

static const char sql_insert_session[] =
    "INSERT INTO sessions (id, user_id, expires_at) "
    "VALUES ($1, $2, to_timestamp($3))";

/* An ID token's user, and whether its profile is already up to date. */
static const char sql_user_by_sub[] =
    "SELECT id, email, name, picture, disabled_at IS NOT NULL AS disabled, "
    "oidc_iss IS NOT DISTINCT FROM $2 AND email = $3 "
    "AND name IS NOT DISTINCT FROM $4 AND picture IS NOT DISTINCT FROM $5 "
    "AS current "
    "FROM users WHERE oidc_sub = $1";

/* The hot one: every request authenticated by a session token runs it. */
static const char sql_session_check[] =
    "SELECT s.user_id, s.revoked_at IS NOT NULL AS revoked, "
    "s.expires_at <= now() AS expired, u.id, u.email, u.name, u.picture, "
    "u.disabled_at IS NOT NULL AS disabled "
    "FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1";

static const char sql_session_revoke[] =
    "UPDATE sessions SET revoked_at = now() "
    "WHERE id = $1 AND revoked_at IS NULL";

static const char sql_user_disable[] =
    "UPDATE users SET disabled_at = COALESCE(disabled_at, now()) "
    "WHERE email = $1 RETURNING id";

static const char sql_user_enable[] =
    "UPDATE users SET disabled_at = NULL WHERE email = $1 RETURNING id";

static const char sql_sessions_revoke_user[] =
    "UPDATE sessions SET revoked_at = now() WHERE id IN "
    "(SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL "
    "LIMIT 1000)";

void
sbx_users_user_fini(struct sbx_user *u)
{
	if (u == NULL)
		return;
	free(u->id);
	free(u->email);
	free(u->name);
	free(u->picture);
	memset(u, 0, sizeof(*u));
}

static int
is_true(const char *v)
{
	return v != NULL && strcmp(v, "t") == 0;
}

enum sbx_err
sbx_users_from_row(const PGresult *res, int row, struct sbx_user *out)
{
	const char *id = sbx_db_get(res, row, "id"),
	    *email = sbx_db_get(res, row, "email"),
	    *name = sbx_db_get(res, row, "name"),
	    *picture = sbx_db_get(res, row, "picture");

	memset(out, 0, sizeof(*out));
	if (id == NULL || email == NULL)
		return SBX_EINTERNAL;
	if ((out->id = strdup(id)) == NULL ||
	    (out->email = strdup(email)) == NULL ||
	    (name != NULL && (out->name = strdup(name)) == NULL) ||
	    (picture != NULL && (out->picture = strdup(picture)) == NULL)) {
		sbx_users_user_fini(out);
		return SBX_ENOMEM;
	}
	out->disabled = is_true(sbx_db_get(res, row, "disabled"));
	return SBX_OK;
}

/*
 * Reads row 0 as the caller's user: SBX_EFORBIDDEN (out left empty) when
 * the account is disabled, whichever statement found it.
 */
static enum sbx_err
active_from_row(const PGresult *res, struct sbx_user *out)
{
	enum sbx_err err;

	if ((err = sbx_users_from_row(res, 0, out)) != SBX_OK)
		return err;
	if (out->disabled) {
		sbx_users_user_fini(out);
		return SBX_EFORBIDDEN;
	}
	return SBX_OK;
}

/* Logs why an account was refused; the caller refuses the sign-in. */
static void
log_refused(const struct sbx_oidc_identity *id, const char *why)
{
	sbx_log(SBX_LOG_WARN, MODULE, "refused the account %s of %s (%s): %s",
	    id->sub, id->iss, id->email, why);
}

/*
 * Runs the upsert on conn: SBX_EFORBIDDEN when the user is disabled,
 * SBX_ECONFLICT (logged) when the subject is bound to another issuer or
 * the email to another account.
 */
static enum sbx_err
upsert(PGconn *conn, const struct sbx_oidc_identity *id, struct sbx_user *out)
{
	const char *params[5] = { id->iss, id->sub, id->email, id->name,
	    id->picture };
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_query(conn, "users_upsert", sql_upsert_user, 5, params,
	    &res);
	if (err == SBX_ECONFLICT) {
		log_refused(id, "its email belongs to another account");
		goto out;
	}
	if (err != SBX_OK)
		goto out;
	if (PQntuples(res) == 0) {
		log_refused(id, "its subject is bound to another issuer");
		err = SBX_ECONFLICT;
		goto out;
	}
	if (PQntuples(res) != 1) {
		err = SBX_EINTERNAL;
		goto out;
	}
	err = active_from_row(res, out);
out:
	PQclear(res);
	return err;
}

struct sign_in_args {
	const struct sbx_oidc_identity *id;
	const char *jti;
	long long exp;
	struct sbx_user *out;
};

static enum sbx_err
sign_in_tx(PGconn *conn, void *arg)
{
	struct sign_in_args *a = arg;
	char exp[24];
	const char *params[3];
	PGresult *res = NULL;
	enum sbx_err err;

	/* A re-run starts clean: drop what an earlier attempt filled in. */
	sbx_users_user_fini(a->out);
	if ((err = upsert(conn, a->id, a->out)) != SBX_OK)
		return err;
	snprintf(exp, sizeof(exp), "%lld", a->exp);
	params[0] = a->jti;
	params[1] = a->out->id;
	params[2] = exp;
	err = sbx_db_query(conn, "sessions_insert", sql_insert_session, 3,
	    params, &res);
	PQclear(res);
	return err;
}

enum sbx_err
sbx_users_sign_in(const struct sbx_oidc_identity *id, const char *jti,
    long long exp, struct sbx_user *out)
{
	struct sign_in_args a = { id, jti, exp, out };
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	err = sbx_db_tx(sign_in_tx, &a);
	/* A racing first sign-in: see sbx_users_for_identity. */
	if (err == SBX_ECONFLICT)
		err = sbx_db_tx(sign_in_tx, &a);
	if (err != SBX_OK)
		sbx_users_user_fini(out);
	return err;
}

enum sbx_err
sbx_users_for_identity(const struct sbx_oidc_identity *id,
    struct sbx_user *out)
{
	const char *params[5] = { id->sub, id->iss, id->email, id->name,
	    id->picture };
	PGresult *res = NULL;
	enum sbx_err err;
	PGconn *conn;
	int current;

	memset(out, 0, sizeof(*out));
	if ((err = sbx_db_exec("users_by_sub", sql_user_by_sub, 5, params,
	    &res)) != SBX_OK)
		return err;
	/*
	 * The hot path reads only: a token whose account is bound here and
	 * whose profile has not changed. Anything else (first use, a new
	 * name or picture, another issuer, another email) goes through the
	 * upsert, which refreshes the row or refuses the account.
	 */
	current = PQntuples(res) == 1 &&
	    strcmp(sbx_db_get(res, 0, "current") != NULL ?
	    sbx_db_get(res, 0, "current") : "", "t") == 0;
	if (current) {
		err = active_from_row(res, out);
		PQclear(res);
		return err;
	}
	PQclear(res);
	/*
	 * One autocommit upsert. Two first uses of one account racing (a CI
	 * job's parallel requests) both insert: the loser waits for the
	 * winner and then trips the UNIQUE index on email, not the subject's
	 * ON CONFLICT. Run once more: the winner's row is committed by then,
	 * so the subject's conflict clause takes it; a real second account
	 * with that email is refused again.
	 */
	if ((err = sbx_db_conn(&conn)) != SBX_OK)
		return err;
	err = upsert(conn, id, out);
	if (err == SBX_ECONFLICT)
		err = upsert(conn, id, out);
	return err;
}

enum sbx_err
sbx_users_session_check(const char *jti, const char *user_id,
    struct sbx_user *out)
{
	const char *params[1] = { jti };
	const char *owner;
	PGresult *res = NULL;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if ((err = sbx_db_exec("sessions_check", sql_session_check, 1, params,
	    &res)) != SBX_OK)
		return err;
	err = SBX_EAUTH;
	if (PQntuples(res) != 1)
		goto out;
	owner = sbx_db_get(res, 0, "user_id");
	if (owner == NULL || strcmp(owner, user_id) != 0 ||
	    is_true(sbx_db_get(res, 0, "revoked")) ||
	    is_true(sbx_db_get(res, 0, "expired")))
		goto out;
	err = active_from_row(res, out);
out:
	PQclear(res);
	return err;
}

enum sbx_err
sbx_users_session_revoke(const char *jti)
{
	const char *params[1] = { jti };
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_exec("sessions_revoke", sql_session_revoke, 1, params,
	    &res);
	PQclear(res);
	return err;
}

/* Revokes up to REVOKE_BATCH live sessions of one user; *n gets how many. */
static enum sbx_err
revoke_batch(const char *user_id, long *n)
{
	const char *params[1] = { user_id };
	PGresult *res = NULL;
	enum sbx_err err;

	*n = 0;
	if ((err = sbx_db_exec(NULL, sql_sessions_revoke_user, 1, params,
	    &res)) != SBX_OK)
		return err;
	*n = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return SBX_OK;
}

enum sbx_err
sbx_users_set_disabled(const char *email, int disabled, long *revoked)
{
	const char *params[1] = { email };
	PGresult *res = NULL;
	char **ids = NULL;
	long n, total = 0;
	int i, rows = 0;
	enum sbx_err err;

	if (revoked != NULL)
		*revoked = 0;
	/*
	 * The flag first, in its own statement: from this commit on every
	 * request of the user is refused, whatever happens to the sessions.
	 */
	if ((err = sbx_db_exec(NULL, disabled ? sql_user_disable :
	    sql_user_enable, 1, params, &res)) != SBX_OK)
		return err;
	if ((rows = PQntuples(res)) == 0) {
		err = SBX_ENOTFOUND;
		goto out;
	}
	if (!disabled)
		goto out;
	if ((ids = calloc((size_t)rows, sizeof(*ids))) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	for (i = 0; i < rows; i++) {
		if ((ids[i] = strdup(PQgetvalue(res, i, 0))) == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
	}
	/* Batches keep each transaction under DSQL's row limit. */
	for (i = 0; i < rows; i++) {
		do {
			if ((err = revoke_batch(ids[i], &n)) != SBX_OK)
				goto out;
			total += n;
		} while (n >= REVOKE_BATCH);
	}
	sbx_log(SBX_LOG_INFO, MODULE, "disabled %d user(s), revoked %ld "
	    "session(s)", rows, total);
out:
	if (ids != NULL) {
		for (i = 0; i < rows; i++)
			free(ids[i]);
		free(ids);
	}
	PQclear(res);
	if (revoked != NULL)
		*revoked = total;
	return err;
}

/* ------------------------------------------------------------ the list */

static const char sql_users_list[] =
    "SELECT email, name, disabled_at IS NOT NULL AS disabled, "
    "floor(extract(epoch FROM last_login_at))::bigint AS last_login_at, "
    "live_sandboxes FROM users ORDER BY email, created_at LIMIT $1";

void
sbx_users_list_fini(struct sbx_user_info_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++) {
		free(l->items[i].email);
		free(l->items[i].name);
	}
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

enum sbx_err
sbx_users_list(size_t limit, struct sbx_user_info_list *out)
{
	char lim[24];
	const char *params[1] = { lim };
	PGresult *res = NULL;
	enum sbx_err err;
	size_t i, n;

	out->items = NULL;
	out->n = 0;
	if (limit < 1 || limit > SBX_USERS_LIST_MAX)
		limit = SBX_USERS_LIST_MAX;
	snprintf(lim, sizeof(lim), "%zu", limit);
	if ((err = sbx_db_exec("users_list", sql_users_list, 1, params,
	    &res)) != SBX_OK)
		return err;
	n = (size_t)PQntuples(res);
	if (n > 0 && (out->items = calloc(n, sizeof(*out->items))) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct sbx_user_info *u = &out->items[i];
		const char *email = sbx_db_get(res, (int)i, "email"),
		    *name = sbx_db_get(res, (int)i, "name"),
		    *login = sbx_db_get(res, (int)i, "last_login_at"),
		    *live = sbx_db_get(res, (int)i, "live_sandboxes");

		out->n = i + 1;
		if (email == NULL) {
			err = SBX_EINTERNAL;
			goto out;
		}
		if ((u->email = strdup(email)) == NULL ||
		    (name != NULL && (u->name = strdup(name)) == NULL)) {
			err = SBX_ENOMEM;
			goto out;
		}
		u->disabled = is_true(sbx_db_get(res, (int)i, "disabled"));
		u->last_login_at = login != NULL ? strtoll(login, NULL, 10) : 0;
		u->live_sandboxes = live != NULL ? strtol(live, NULL, 10) : 0;
	}
out:
	PQclear(res);
	if (err != SBX_OK)
		sbx_users_list_fini(out);
	return err;
}
