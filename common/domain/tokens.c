/*
 * Personal API tokens: their form, hash and SQL. See tokens.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/crypto.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/io/db.h"
#include "common/domain/tokens.h"
#include "common/domain/users_db.h"

#define MODULE "tokens"

#define STR_(x) #x
#define STR(x) STR_(x)

#define TOUCH_DUE \
	"(t.last_used_at IS NULL OR t.last_used_at < now() - interval '" \
	STR(SBX_TOKEN_TOUCH_SECONDS) " seconds')"

/*
 * The hot one: every request with an API token runs it. The token is
 * found by its hash (a unique index); the flags say whether it is still
 * good, so that one round trip answers every case.
 */
static const char sql_check[] =
    "SELECT t.id AS token_id, t.token_hash, "
    "t.revoked_at IS NOT NULL AS revoked, t.expires_at <= now() AS expired, "
    TOUCH_DUE " AS touch, " SBX_USERS_DB_COLUMNS " "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id "
    "WHERE t.token_hash = $1";

/* Conditional, so that of several requests at once one writes. */
static const char sql_touch[] =
    "UPDATE api_tokens t SET last_used_at = now() "
    "WHERE t.id = $1::uuid AND " TOUCH_DUE;

/*
 * Every create updates its user's row first: two creates of one user at
 * once then conflict (one waits, then fails with 40001 and is re-run,
 * seeing the other's token), so the count below cannot be raced past the
 * limit under snapshot isolation.
 */
static const char sql_claim_user[] =
    "UPDATE users SET version = version + 1 "
    "WHERE id = $1::uuid AND disabled_at IS NULL RETURNING id";

static const char sql_count_live[] =
    "SELECT count(*) AS n FROM api_tokens "
    "WHERE user_id = $1::uuid AND revoked_at IS NULL AND expires_at > now()";

#define TOKEN_COLUMNS \
	"t.id, t.name, " \
	"floor(extract(epoch FROM t.created_at))::bigint AS created_at, " \
	"floor(extract(epoch FROM t.expires_at))::bigint AS expires_at, " \
	"floor(extract(epoch FROM t.last_used_at))::bigint AS last_used_at, " \
	"floor(extract(epoch FROM t.revoked_at))::bigint AS revoked_at"

static const char sql_insert[] =
    "INSERT INTO api_tokens AS t (user_id, name, token_hash, expires_at) "
    "VALUES ($1::uuid, $2, $3, now() + $4::int * interval '1 day') "
    "RETURNING " TOKEN_COLUMNS;

static const char sql_list_user[] =
    "SELECT " TOKEN_COLUMNS " FROM api_tokens t WHERE t.user_id = $1::uuid "
    "ORDER BY t.created_at DESC, t.id DESC LIMIT $2::int";

static const char sql_list_email[] =
    "SELECT " TOKEN_COLUMNS " FROM api_tokens t "
    "JOIN users u ON u.id = t.user_id WHERE u.email = $1 "
    "ORDER BY t.created_at DESC, t.id DESC LIMIT $2::int";

/* COALESCE: revoking twice keeps the first time. */
static const char sql_revoke_own[] =
    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) "
    "WHERE id = $1::uuid AND user_id = $2::uuid RETURNING id";

static const char sql_revoke_any[] =
    "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) "
    "WHERE id = $1::uuid RETURNING id";

/*
 * A token id as PostgreSQL would take it for $1::uuid: anything else
 * would make the statement fail (22P02) instead of finding no row.
 */
static int
id_form_ok(const char *id)
{
	static const char hexd[] = "0123456789abcdefABCDEF";
	static const size_t groups[] = { 8, 4, 4, 4, 12 };
	size_t i, n;

	for (i = 0; i < sizeof(groups) / sizeof(*groups); i++) {
		n = strspn(id, hexd);
		if (n != groups[i])
			return 0;
		id += n;
		if (i < 4 && *id++ != '-')
			return 0;
	}
	return *id == '\0';
}

/* ------------------------------------------------------------ rows */

void
sbx_token_fini(struct sbx_token *t)
{
	if (t == NULL)
		return;
	free(t->name);
	memset(t, 0, sizeof(*t));
}

void
sbx_token_list_fini(struct sbx_token_list *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		sbx_token_fini(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

static long long
col_ll(const PGresult *res, int row, const char *col)
{
	const char *v = sbx_db_get(res, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

/* Row `row` of TOKEN_COLUMNS into out. */
static enum sbx_err
token_from_row(const PGresult *res, int row, struct sbx_token *out)
{
	const char *id = sbx_db_get(res, row, "id"),
	    *name = sbx_db_get(res, row, "name");

	memset(out, 0, sizeof(*out));
	if (id == NULL || name == NULL || strlen(id) >= sizeof(out->id))
		return SBX_EINTERNAL;
	if ((out->name = strdup(name)) == NULL)
		return SBX_ENOMEM;
	memcpy(out->id, id, strlen(id) + 1);
	out->created_at = col_ll(res, row, "created_at");
	out->expires_at = col_ll(res, row, "expires_at");
	out->last_used_at = col_ll(res, row, "last_used_at");
	out->revoked_at = col_ll(res, row, "revoked_at");
	return SBX_OK;
}

/* ------------------------------------------------------------ create */

struct create_args {
	const char *user_id;
	const char *name;
	const char *hash;
	const char *days;
	struct sbx_token *out;
};

static enum sbx_err
create_tx(PGconn *conn, void *arg)
{
	struct create_args *a = arg;
	const char *p1[1] = { a->user_id };
	const char *p4[4] = { a->user_id, a->name, a->hash, a->days };
	PGresult *res = NULL;
	enum sbx_err err;

	sbx_token_fini(a->out);
	if ((err = sbx_db_query(conn, "tokens_claim_user", sql_claim_user, 1,
	    p1, &res)) != SBX_OK)
		goto out;
	if (PQntuples(res) != 1) {
		err = SBX_EFORBIDDEN;
		goto out;
	}
	PQclear(res);
	if ((err = sbx_db_query(conn, "tokens_count_live", sql_count_live, 1,
	    p1, &res)) != SBX_OK)
		goto out;
	if (PQntuples(res) != 1) {
		err = SBX_EINTERNAL;
		goto out;
	}
	if (col_ll(res, 0, "n") >= SBX_TOKENS_MAX_LIVE) {
		err = SBX_ECONFLICT;
		goto out;
	}
	PQclear(res);
	if ((err = sbx_db_query(conn, "tokens_insert", sql_insert, 4, p4,
	    &res)) != SBX_OK)
		goto out;
	err = PQntuples(res) == 1 ? token_from_row(res, 0, a->out) :
	    SBX_EINTERNAL;
out:
	PQclear(res);
	return err;
}

enum sbx_err
sbx_tokens_create(const char *user_id, const char *name, int days,
    char secret[SBX_TOKEN_BUF], struct sbx_token *out)
{
	char hash[SBX_TOKEN_HASH_BUF], d[16];
	struct create_args a = { user_id, name, hash, d, out };
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (days < SBX_TOKEN_DAYS_MIN || days > SBX_TOKEN_DAYS_MAX ||
	    !sbx_tokens_name_valid(name))
		return SBX_EINVAL;
	if ((err = sbx_tokens_generate(secret)) != SBX_OK)
		return err;
	if ((err = sbx_tokens_hash(secret, hash)) != SBX_OK)
		goto out;
	snprintf(d, sizeof(d), "%d", days);
	/*
	 * A hash collision with a stored token (23505) would mean the
	 * random source repeated itself; it is reported, never retried.
	 */
	err = sbx_db_tx(create_tx, &a);
out:
	if (err != SBX_OK) {
		sbx_util_wipe(secret, SBX_TOKEN_BUF);
		sbx_token_fini(out);
	}
	return err;
}

/* ------------------------------------------------------------ list */

enum sbx_err
sbx_tokens_list(const char *user_id, const char *owner_email, size_t limit,
    struct sbx_token_list *out)
{
	const char *params[2];
	char lim[24];
	PGresult *res = NULL;
	enum sbx_err err;
	int i, n;

	out->items = NULL;
	out->n = 0;
	snprintf(lim, sizeof(lim), "%lu", (unsigned long)limit);
	params[0] = owner_email != NULL ? owner_email : user_id;
	params[1] = lim;
	if ((err = sbx_db_exec(owner_email != NULL ? "tokens_list_email" :
	    "tokens_list_user", owner_email != NULL ? sql_list_email :
	    sql_list_user, 2, params, &res)) != SBX_OK)
		return err;
	if ((n = PQntuples(res)) > 0 &&
	    (out->items = calloc((size_t)n, sizeof(*out->items))) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((err = token_from_row(res, i, &out->items[i])) != SBX_OK)
			goto out;
		out->n++;
	}
out:
	PQclear(res);
	if (err != SBX_OK)
		sbx_token_list_fini(out);
	return err;
}

/* ------------------------------------------------------------ revoke */

enum sbx_err
sbx_tokens_revoke(const char *id, const char *user_id)
{
	const char *params[2] = { id, user_id };
	PGresult *res = NULL;
	enum sbx_err err;

	if (id == NULL || !id_form_ok(id))
		return SBX_ENOTFOUND;
	if (user_id != NULL)
		err = sbx_db_exec("tokens_revoke_own", sql_revoke_own, 2,
		    params, &res);
	else
		err = sbx_db_exec("tokens_revoke_any", sql_revoke_any, 1,
		    params, &res);
	if (err == SBX_OK && PQntuples(res) != 1)
		err = SBX_ENOTFOUND;
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ check */

static int
is_true(const char *v)
{
	return v != NULL && strcmp(v, "t") == 0;
}

/* Records a use; losing the race to another request is fine. */
static void
touch(const char *token_id)
{
	const char *params[1] = { token_id };
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_exec("tokens_touch", sql_touch, 1, params, &res);
	PQclear(res);
	if (err != SBX_OK && err != SBX_ESERIALIZE)
		sbx_log(SBX_LOG_WARN, MODULE, "recording a token's use failed: "
		    "%s", sbx_strerror(err));
}

enum sbx_err
sbx_tokens_check(const char *token, struct sbx_user *user, char token_id[40])
{
	char hash[SBX_TOKEN_HASH_BUF];
	const char *params[1] = { hash };
	const char *stored, *id;
	PGresult *res = NULL;
	enum sbx_err err;

	memset(user, 0, sizeof(*user));
	token_id[0] = '\0';
	/* Malformed ones never cost a database round trip. */
	if (!sbx_tokens_form_valid(token))
		return SBX_EAUTH;
	if ((err = sbx_tokens_hash(token, hash)) != SBX_OK)
		return err;
	if ((err = sbx_db_exec("tokens_check", sql_check, 1, params, &res)) !=
	    SBX_OK)
		goto out;
	err = SBX_EAUTH;
	if (PQntuples(res) != 1)
		goto out;
	/*
	 * The index found the row by equality; comparing the hash again,
	 * in constant time, keeps a mistaken query (a collation, a LIKE)
	 * from ever letting another token through.
	 */
	stored = sbx_db_get(res, 0, "token_hash");
	id = sbx_db_get(res, 0, "token_id");
	if (stored == NULL || id == NULL || strlen(stored) != strlen(hash) ||
	    !sbx_crypto_memeq(stored, hash, strlen(hash)) ||
	    strlen(id) >= 40)
		goto out;
	if (is_true(sbx_db_get(res, 0, "revoked")) ||
	    is_true(sbx_db_get(res, 0, "expired")) ||
	    is_true(sbx_db_get(res, 0, "disabled")))
		goto out;
	if ((err = sbx_users_from_row(res, 0, user)) != SBX_OK)
		goto out;
	memcpy(token_id, id, strlen(id) + 1);
	if (is_true(sbx_db_get(res, 0, "touch")))
		touch(token_id);
out:
	PQclear(res);
	sbx_util_wipe(hash, sizeof(hash));
	return err;
}
