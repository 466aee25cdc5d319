/*
 * Templates in the database (see template.h): the enabled versions, the
 * default one, an admin's PUT validated into a new version, and DELETE
 * disabling a name. The parameter checks themselves are pure and live in
 * template_params.c.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/core/config.h"
#include "common/domain/cost.h"
#include "common/io/db.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/template.h"

#define MODULE "template"

#define TEMPLATE_COLS \
	"name, version, description, body, parameters, capabilities," \
	" default_ttl_minutes, max_ttl_minutes," \
	" CASE WHEN enabled THEN 1 ELSE 0 END AS enabled," \
	" CASE WHEN is_default THEN 1 ELSE 0 END AS is_default," \
	" floor(extract(epoch FROM created_at))::bigint AS created_at," \
	" max_cost_usd::text AS max_cost_usd," \
	" estimated_hourly_usd::text AS estimated_hourly_usd"

void
sbx_template_free(struct sbx_template *t)
{
	if (t == NULL)
		return;
	free(t->name);
	free(t->description);
	free(t->body);
	free(t->parameters);
	free(t->capabilities);
	free(t->max_cost_usd);
	free(t->estimated_hourly_usd);
	free(t);
}

void
sbx_template_list_fini(struct sbx_template_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		sbx_template_free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static long
get_long(const PGresult *res, int row, const char *col)
{
	return (long)sbx_db_ll(res, row, col);
}

/* The text columns of a template row (TEMPLATE_COLS). */
static const struct sbx_db_text template_text[] = {
	{ "name", offsetof(struct sbx_template, name) },
	{ "description", offsetof(struct sbx_template, description) },
	{ "body", offsetof(struct sbx_template, body) },
	{ "parameters", offsetof(struct sbx_template, parameters) },
	{ "capabilities", offsetof(struct sbx_template, capabilities) },
	{ "max_cost_usd", offsetof(struct sbx_template, max_cost_usd) },
	{ "estimated_hourly_usd", offsetof(struct sbx_template,
	    estimated_hourly_usd) },
};

static struct sbx_template *
row(const PGresult *res, int r)
{
	struct sbx_template *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (!sbx_db_take(t, template_text, sizeof(template_text) /
	    sizeof(template_text[0]), res, r)) {
		sbx_template_free(t);
		return NULL;
	}
	t->version = get_long(res, r, "version");
	t->default_ttl_minutes = get_long(res, r, "default_ttl_minutes");
	t->max_ttl_minutes = get_long(res, r, "max_ttl_minutes");
	t->enabled = get_long(res, r, "enabled") != 0;
	t->is_default = get_long(res, r, "is_default") != 0;
	t->created_at = get_long(res, r, "created_at");
	return t;
}

static enum sbx_err
one(const PGresult *res, struct sbx_template **out)
{
	if (PQntuples(res) < 1)
		return SBX_ENOTFOUND;
	*out = row(res, 0);
	return *out != NULL ? SBX_OK : SBX_ENOMEM;
}

/* A read of one template row into *out (caller frees); SBX_ENOTFOUND. */
static enum sbx_err
get_one(const char *name, const char *sql, int nparams,
    const char *const *params, struct sbx_template **out)
{
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_db_exec(name, sql, nparams, params, &res);
	if (err == SBX_OK)
		err = one(res, out);
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ reads */

static const char sql_get_named[] =
    "SELECT " TEMPLATE_COLS " FROM templates"
    " WHERE name = $1 AND enabled ORDER BY version DESC LIMIT 1";

static const char sql_get_default[] =
    "SELECT " TEMPLATE_COLS " FROM templates"
    " WHERE is_default AND enabled"
    " ORDER BY templates.created_at DESC, version DESC"
    " LIMIT 1";

static const char sql_get_version[] =
    "SELECT " TEMPLATE_COLS " FROM templates"
    " WHERE name = $1 AND version = $2::int";

enum sbx_err
sbx_template_get(const char *name, struct sbx_template **out)
{
	const char *p[1] = { name };

	*out = NULL;
	if (name == NULL)
		return get_one("tpl_get_default", sql_get_default, 0, NULL,
		    out);
	if (!sbx_template_name_valid(name))
		return SBX_ENOTFOUND;
	return get_one("tpl_get_named", sql_get_named, 1, p, out);
}

enum sbx_err
sbx_template_get_version(const char *name, long version,
    struct sbx_template **out)
{
	char v[32];
	const char *p[2] = { name, v };

	*out = NULL;
	if (!sbx_template_name_valid(name) || version < 1)
		return SBX_ENOTFOUND;
	snprintf(v, sizeof(v), "%ld", version);
	return get_one("tpl_get_version", sql_get_version, 2, p, out);
}

/* The newest enabled version of each name. */
static const char sql_list[] =
    "SELECT " TEMPLATE_COLS " FROM templates t WHERE t.enabled"
    " AND t.version = (SELECT max(u.version) FROM templates u"
    "   WHERE u.name = t.name AND u.enabled)"
    " ORDER BY t.name";

enum sbx_err
sbx_template_list(struct sbx_template_list *out)
{
	PGresult *res = NULL;
	enum sbx_err err;
	size_t i, n;

	out->items = NULL;
	out->n = 0;
	err = sbx_db_exec("tpl_list", sql_list, 0, NULL, &res);
	if (err != SBX_OK)
		goto out;
	n = (size_t)PQntuples(res);
	if (n == 0)
		goto out;
	out->items = calloc(n, sizeof(*out->items));
	if (out->items == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		out->items[i] = row(res, (int)i);
		if (out->items[i] == NULL) {
			sbx_template_list_fini(out);
			err = SBX_ENOMEM;
			goto out;
		}
		out->n = i + 1;
	}
out:
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ JSON */

/* A numeric column's text as a JSON number, or null. */
static void
add_amount(cJSON *o, const char *name, const char *text)
{
	if (text != NULL)
		cJSON_AddNumberToObject(o, name, strtod(text, NULL));
	else
		cJSON_AddNullToObject(o, name);
}

cJSON *
sbx_template_to_json(const struct sbx_template *t, int with_body)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_ttl_bounds b;
	cJSON *o = cJSON_CreateObject(), *caps;
	char when[40];

	if (o == NULL)
		return NULL;
	sbx_template_ttl_bounds(t->default_ttl_minutes, t->max_ttl_minutes,
	    cfg->sandbox_default_ttl_minutes, cfg->sandbox_max_ttl_minutes,
	    cfg->sandbox_max_lifetime_minutes, &b);
	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddNumberToObject(o, "version", (double)t->version);
	sbx_json_add_str_or_null(o, "description", t->description);
	cJSON_AddItemToObject(o, "parameters",
	    sbx_template_params_public(t->parameters));
	cJSON_AddNumberToObject(o, "default_ttl_minutes",
	    (double)b.default_minutes);
	cJSON_AddNumberToObject(o, "max_ttl_minutes", (double)b.max_minutes);
	caps = t->capabilities != NULL ? cJSON_Parse(t->capabilities) : NULL;
	if (!cJSON_IsArray(caps)) {
		cJSON_Delete(caps);
		caps = cJSON_CreateArray();
	}
	cJSON_AddItemToObject(o, "capabilities", caps);
	cJSON_AddBoolToObject(o, "default", t->is_default);
	cJSON_AddBoolToObject(o, "enabled", t->enabled);
	sbx_time_format(t->created_at, when, sizeof(when));
	cJSON_AddStringToObject(o, "created_at", when);
	add_amount(o, "max_cost_usd", t->max_cost_usd);
	add_amount(o, "estimated_hourly_usd", t->estimated_hourly_usd);
	if (with_body)
		sbx_json_add_str_or_null(o, "body", t->body);
	return o;
}

/* ------------------------------------------------------------ PUT */

struct put_args {
	const char *name;
	const char *description;
	const char *body;
	const char *parameters;
	const char *capabilities;
	const char *default_ttl;	/* NULL: not set */
	const char *max_ttl;
	const char *max_cost;		/* NULL: none */
	const char *estimate;		/* from the price cache; NULL: unknown */
	const char *actor;
	int is_default;			/* -1: keep the name's */
	struct sbx_template *out;
};

static const char sql_put_latest[] =
    "SELECT COALESCE(max(version), 0) AS v FROM templates WHERE name = $1";

/* The is_default of the name's newest version: is the name the default? */
static const char sql_put_latest_default[] =
    "SELECT CASE WHEN is_default THEN 1 ELSE 0 END AS d FROM templates"
    " WHERE name = $1 ORDER BY version DESC LIMIT 1";

static const char sql_put_undefault[] =
    "UPDATE templates SET is_default = false"
    " WHERE is_default AND name <> $1";

static const char sql_put_insert[] =
    "INSERT INTO templates (name, version, description, body, parameters,"
    " capabilities, default_ttl_minutes, max_ttl_minutes, enabled,"
    " is_default, created_by, max_cost_usd, estimated_hourly_usd,"
    " estimated_at)"
    " VALUES ($1, $2::int, $3, $4, $5, $6, $7::int, $8::int, true,"
    " $9::boolean, $10, $11::numeric, $12::numeric,"
    " CASE WHEN $12::numeric IS NULL THEN NULL ELSE now() END)"
    " RETURNING " TEMPLATE_COLS;

static enum sbx_err
tx_put_fn(PGconn *conn, void *arg)
{
	struct put_args *a = arg;
	const char *p1[1] = { a->name };
	PGresult *res = NULL;
	char ver[32];
	int is_default = a->is_default;
	enum sbx_err err;

	sbx_template_free(a->out);
	a->out = NULL;
	err = sbx_db_query(conn, "tpl_put_latest", sql_put_latest, 1, p1, &res);
	if (err != SBX_OK)
		goto out;
	snprintf(ver, sizeof(ver), "%ld", get_long(res, 0, "v") + 1);
	PQclear(res);
	res = NULL;
	if (is_default < 0) {
		err = sbx_db_query(conn, "tpl_put_latest_default",
		    sql_put_latest_default, 1, p1, &res);
		if (err != SBX_OK)
			goto out;
		is_default = PQntuples(res) > 0 && get_long(res, 0, "d") != 0;
		PQclear(res);
		res = NULL;
	}
	if (is_default) {
		err = sbx_db_query(conn, "tpl_put_undefault",
		    sql_put_undefault, 1, p1, &res);
		if (err != SBX_OK)
			goto out;
		PQclear(res);
		res = NULL;
	}
	{
		const char *p[12] = { a->name, ver, a->description, a->body,
		    a->parameters, a->capabilities, a->default_ttl, a->max_ttl,
		    is_default ? "true" : "false", a->actor, a->max_cost,
		    a->estimate };

		err = sbx_db_query(conn, "tpl_put_insert", sql_put_insert, 12,
		    p, &res);
	}
	/* Two PUTs of one name at once took the same version: again. */
	if (err == SBX_ECONFLICT)
		err = SBX_ESERIALIZE;
	if (err != SBX_OK)
		goto out;
	err = one(res, &a->out);
out:
	PQclear(res);
	return err;
}

enum sbx_err
sbx_template_put(const struct sbx_template_put *in, const char **field,
    char *detail, size_t detail_len, struct sbx_template **out)
{
	struct sbx_template_put_checked p;
	struct put_args a;
	char dttl[32], mttl[32], maxcost[64], estimate[64];
	double hourly = 0;
	int known = 0;
	enum sbx_err err;

	if (out != NULL)
		*out = NULL;
	err = sbx_template_put_check(in, &p, field, detail, detail_len);
	if (err != SBX_OK)
		return err;
	memset(&a, 0, sizeof(a));
	snprintf(dttl, sizeof(dttl), "%lld", in->default_ttl_minutes);
	snprintf(mttl, sizeof(mttl), "%lld", in->max_ttl_minutes);
	a.name = in->name;
	a.description = p.description;
	a.body = in->body;
	a.parameters = p.params_text;
	a.capabilities = p.caps_text;
	a.default_ttl = in->default_ttl_minutes > 0 ? dttl : NULL;
	a.max_ttl = in->max_ttl_minutes > 0 ? mttl : NULL;
	a.actor = in->actor;
	a.is_default = in->is_default;
	/*
	 * The cost cap, and the estimate from the price cache only (a PUT
	 * never waits on the Price List; without a cached price the reaper
	 * fills it in).
	 */
	if (in->has_max_cost) {
		snprintf(maxcost, sizeof(maxcost), "%.6f", in->max_cost_usd);
		a.max_cost = maxcost;
	}
	if (sbx_cost_template_hourly(in->body, NULL, 1, &hourly, &known) ==
	    SBX_OK && known) {
		snprintf(estimate, sizeof(estimate), "%.6f", hourly);
		a.estimate = estimate;
	}
	err = sbx_db_tx(tx_put_fn, &a);
	if (err == SBX_OK) {
		sbx_log(SBX_LOG_INFO, MODULE, "template %s version %ld added "
		    "by %s", in->name, a.out->version, in->actor != NULL ?
		    in->actor : "?");
		if (out != NULL) {
			*out = a.out;
			a.out = NULL;
		}
	}
	sbx_template_free(a.out);
	sbx_template_put_checked_fini(&p);
	return err;
}

static const char sql_disable[] =
    "UPDATE templates SET enabled = false WHERE name = $1 AND enabled";

static const char sql_exists[] =
    "SELECT 1 FROM templates WHERE name = $1 LIMIT 1";

enum sbx_err
sbx_template_disable(const char *name)
{
	const char *p[1] = { name };
	PGresult *res = NULL;
	enum sbx_err err;

	if (!sbx_template_name_valid(name))
		return SBX_ENOTFOUND;
	err = sbx_db_exec("tpl_disable", sql_disable, 1, p, &res);
	if (err != SBX_OK)
		goto out;
	if (strcmp(PQcmdTuples(res), "0") != 0)
		goto out;
	PQclear(res);
	res = NULL;
	/* Nothing enabled: unknown, or already disabled (fine). */
	err = sbx_db_exec("tpl_exists", sql_exists, 1, p, &res);
	if (err == SBX_OK && PQntuples(res) == 0)
		err = SBX_ENOTFOUND;
out:
	PQclear(res);
	return err;
}
