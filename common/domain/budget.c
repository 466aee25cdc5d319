/*
 * Budgets enforced (see budget.h): the part of the reaper's cost step that
 * acts on sandboxes. What things cost and what an owner may spend is
 * cost.c's; stopping a sandbox is the sandbox module's. This file calls
 * both, so that neither of them calls the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "common/core/log.h"
#include "common/domain/budget.h"
#include "common/domain/cost.h"
#include "common/domain/sandbox.h"
#include "common/io/db.h"

#define MODULE "cost"
#define ACTOR "reaper"

/* Terminates one sandbox for cost reasons: event, webhook, DeleteStack. */
static enum sbx_err
budget_terminate(const char *sandbox_id, const char *why, long backoff,
    struct sbx_cost_counts *c)
{
	struct sbx_sandbox *sb = NULL, *next = NULL, *after = NULL;
	enum sbx_err err;

	err = sbx_sandbox_get(sandbox_id, &sb);
	if (err != SBX_OK || sb->status != SBX_SANDBOX_ACTIVE)
		goto out;
	err = sbx_sandbox_transition(sb, SBX_SANDBOX_TERMINATING,
	    SBX_SANDBOX_ACTION_DELETE, why, ACTOR, "budget_terminated", why,
	    &next);
	if (err != SBX_OK)
		goto out;
	c->terminated++;
	sbx_log(SBX_LOG_INFO, MODULE, "%s: terminated: %s", sb->name, why);
	/* A failed DeleteStack is retried by the reaper's own step. */
	(void)sbx_sandbox_delete_stack(next, ACTOR, backoff, &after);
out:
	sbx_sandbox_free(after);
	sbx_sandbox_free(next);
	sbx_sandbox_free(sb);
	return err == SBX_ECONFLICT || err == SBX_ENOTFOUND ? SBX_OK : err;
}

/* Accruing sandboxes whose accrued cost reached their max_cost_usd. */
static const char sql_over_max[] =
    "SELECT c.sandbox_id::text AS sandbox_id, c.max_cost_usd::text AS max,"
    " (c.accrued_usd + COALESCE(c.hourly_usd, 0) * greatest(0,"
    "  extract(epoch FROM (to_timestamp($2::bigint) - c.accrued_at)))"
    "  / 3600)::text AS accrued"
    " FROM sandbox_costs c JOIN sandboxes s ON s.id = c.sandbox_id"
    " WHERE c.accruing AND s.status = 'ACTIVE' AND c.max_cost_usd IS NOT NULL"
    " AND c.accrued_usd + COALESCE(c.hourly_usd, 0) * greatest(0,"
    "  extract(epoch FROM (to_timestamp($2::bigint) - c.accrued_at)))"
    "  / 3600 >= c.max_cost_usd LIMIT $1::int";

/* The owners with sandboxes that accrue (whose month may move). */
static const char sql_owners[] =
    "SELECT DISTINCT c.owner_id::text AS owner_id FROM sandbox_costs c"
    " WHERE c.accruing LIMIT $1::int";

static const char sql_owner_active[] =
    "SELECT s.id::text AS id FROM sandboxes s WHERE s.owner_id = $1::uuid"
    " AND s.status = 'ACTIVE' ORDER BY s.created_at DESC LIMIT 100";

static const char sql_warn_insert[] =
    "INSERT INTO budget_warnings (user_id, month, threshold, committed_usd,"
    " budget_usd) VALUES ($1::uuid, $2::date, $3::int, $4::numeric,"
    " $5::numeric) ON CONFLICT (user_id, month, threshold) DO NOTHING";

static enum sbx_err
stop_over_max(long batch, long backoff, int dry_run, struct sbx_cost_counts *c)
{
	PGresult *res = NULL;
	char lim[32], now[32], why[200];
	int i;
	enum sbx_err err;

	snprintf(lim, sizeof(lim), "%ld", batch);
	snprintf(now, sizeof(now), "%lld", sbx_cost_now());
	{
		const char *p[2] = { lim, now };

		err = sbx_db_exec("cost_over_max", sql_over_max, 2, p, &res);
	}
	if (err != SBX_OK)
		return err;
	for (i = 0; i < PQntuples(res) && err == SBX_OK; i++) {
		snprintf(why, sizeof(why), "its cost $%.2f reached the "
		    "template's max_cost_usd $%.2f",
		    sbx_db_num(res, i, "accrued", 0), sbx_db_num(res, i, "max", 0));
		if (dry_run)
			continue;
		err = budget_terminate(sbx_db_get(res, i, "sandbox_id"), why,
		    backoff, c);
	}
	PQclear(res);
	return err;
}

/* Warns about each threshold the committed cost has crossed (once). */
static enum sbx_err
warn_owner(const char *owner, const char *sandbox_id, long long month,
    double committed, double budget, struct sbx_cost_counts *c)
{
	static const int thresholds[] = SBX_COST_THRESHOLDS;
	char d[16], th[16], cm[64], bu[64], name[8], detail[200];
	PGresult *res = NULL;
	size_t i;
	long rows;
	enum sbx_err err = SBX_OK;

	sbx_cost_month_date(month, d, sizeof(d));
	sbx_cost_month_name(month, name, sizeof(name));
	snprintf(cm, sizeof(cm), "%.10f", committed);
	snprintf(bu, sizeof(bu), "%.10f", budget);
	for (i = 0; i < sizeof(thresholds) / sizeof(thresholds[0]); i++) {
		if (committed * 100.0 < budget * thresholds[i] ||
		    (budget <= 0 && committed <= 0))
			continue;
		snprintf(th, sizeof(th), "%d", thresholds[i]);
		{
			const char *p[5] = { owner, d, th, cm, bu };

			err = sbx_db_exec("cost_warn_insert", sql_warn_insert,
			    5, p, &res);
		}
		if (err != SBX_OK)
			break;
		rows = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		res = NULL;
		if (rows != 1)
			continue;	/* fired already this month */
		snprintf(detail, sizeof(detail), "%d%% of the monthly budget: "
		    "$%.2f of $%.2f committed in %s", thresholds[i], committed,
		    budget, name);
		err = sbx_sandbox_event_append(sandbox_id, ACTOR,
		    "budget_warning", NULL, NULL, detail);
		if (err != SBX_OK)
			break;
		c->warnings++;
	}
	return err;
}

/*
 * Per owner: all their ACTIVE sandboxes stop when the month's accrued
 * cost reached the budget; warnings for the committed cost.
 */
static enum sbx_err
owners_step(long batch, long backoff, int dry_run, struct sbx_cost_counts *c)
{
	PGresult *res = NULL, *act = NULL;
	char lim[32], why[200];
	long long now = sbx_cost_now(), month = sbx_cost_month_start(now);
	double budget, accrued, committed;
	int i, j, has;
	enum sbx_err err;

	snprintf(lim, sizeof(lim), "%ld", batch);
	{
		const char *p[1] = { lim };

		err = sbx_db_exec("cost_owners", sql_owners, 1, p, &res);
	}
	if (err != SBX_OK)
		return err;
	for (i = 0; i < PQntuples(res) && err == SBX_OK; i++) {
		const char *owner = sbx_db_get(res, i, "owner_id");
		const char *p[1] = { owner };

		if ((err = sbx_cost_budget_of(owner, &budget, &has)) !=
		    SBX_OK || !has)
			continue;
		if ((err = sbx_cost_user_month(owner, now, &accrued,
		    &committed)) != SBX_OK)
			break;
		if ((err = sbx_db_exec("cost_owner_active", sql_owner_active,
		    1, p, &act)) != SBX_OK)
			break;
		if (!dry_run && PQntuples(act) > 0)
			err = warn_owner(owner, sbx_db_get(act, 0, "id"), month,
			    committed, budget, c);
		if (err == SBX_OK && accrued >= budget) {
			snprintf(why, sizeof(why), "the owner's accrued cost "
			    "this month, $%.2f, reached the budget $%.2f",
			    accrued, budget);
			for (j = 0; j < PQntuples(act) && err == SBX_OK &&
			    !dry_run; j++)
				err = budget_terminate(sbx_db_get(act, j, "id"),
				    why, backoff, c);
		}
		PQclear(act);
		act = NULL;
	}
	PQclear(res);
	return err;
}

enum sbx_err
sbx_budget_reaper_step(int dry_run, long batch, long backoff,
    struct sbx_cost_counts *c)
{
	enum sbx_err err;

	memset(c, 0, sizeof(*c));
	if ((err = sbx_cost_accrue_step(dry_run, batch, c)) != SBX_OK ||
	    (err = stop_over_max(batch, backoff, dry_run, c)) != SBX_OK ||
	    (err = owners_step(batch, backoff, dry_run, c)) != SBX_OK ||
	    (err = sbx_cost_templates_step(dry_run, batch, c)) != SBX_OK)
		return err;
	return SBX_OK;
}
