/*
 * What sandboxes cost while they run, and the budgets: prices from the
 * AWS Price List cached in price_cache, a live estimate per ACTIVE
 * sandbox from its stack's real resources (DescribeStackResources, then
 * EC2 DescribeInstances / DescribeVolumes), the accrued cost split by
 * calendar month (UTC), per-user monthly budgets, and the parts of the
 * reaper's step that keep it all up to date. Acting on a budget
 * (terminating, warning) is budget.h's, above both this module and the
 * sandbox module; nothing here calls the sandbox module. All SQL about
 * costs lives here and in budget.c.
 *
 * Only the reaper asks AWS (the Price List, EC2): API requests read the
 * database, and price template estimates from the cache alone. A price
 * the Price List does not have is never guessed: the resource type is
 * listed as unpriced. When AWS cannot be asked, a sandbox's cost keeps its
 * last value (its accrual goes on at the last rate).
 *
 * The cost clock is the wall clock plus COST_CLOCK_OFFSET_SECONDS (0; a
 * test moves it to a month's end to see the rollover). Amounts are USD.
 */
#ifndef SBX_COST_H
#define SBX_COST_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"

/* Hours a month has for AWS's GB-month prices. */
#define SBX_COST_HOURS_PER_MONTH 730.0

/* The budget warning thresholds, percent of the budget. */
#define SBX_COST_THRESHOLDS { 50, 80, 100 }

/* ------------------------------------------------------------ pure */

/* The cost clock: time(NULL) + COST_CLOCK_OFFSET_SECONDS. */
long long sbx_cost_now(void);

/* The first second (UTC) of the month holding t, and of the next one. */
long long sbx_cost_month_start(long long t);
long long sbx_cost_month_next(long long month_start);
/* "YYYY-MM" of t into buf (at least 8 bytes). */
void sbx_cost_month_name(long long t, char *buf, size_t len);
/* "YYYY-MM-01" of t into buf (at least 11 bytes), for date columns. */
void sbx_cost_month_date(long long t, char *buf, size_t len);
/*
 * "YYYY-MM" (month 01..12, year 2000..9999) to its first second; -1 for
 * anything else.
 */
long long sbx_cost_month_parse(const char *s);

/*
 * Splits [from, to) at month starts: calls fn(month_start, hours, arg)
 * for each month it touches, in order. Nothing when to <= from.
 */
void sbx_cost_split(long long from, long long to,
    void (*fn)(long long month_start, double hours, void *arg), void *arg);

/*
 * The "cost" member of a sandbox (null when nothing is known) from the
 * sandbox's cost column text (see SBX_SANDBOX_COLS: a JSON array [hourly,
 * accrued, accrued_at, accruing, unpriced, estimated_at]), its expiry and
 * now: {"currency", "hourly", "accrued", "projected", "unpriced",
 * "updated_at"}. accrued adds the time since accrued_at at the hourly
 * rate while accruing; projected adds the rate until expiry_time. Caller
 * cJSON_Delete()s; a JSON null for raw NULL or nothing known.
 */
cJSON *sbx_cost_view(const char *raw, long long expiry_time, long long now);

/* Rounds an amount to a millionth of a dollar (what answers show). */
double sbx_cost_round(double usd);

/*
 * "this sandbox would add $0.42; $9.80 of $10.00 is committed" into buf:
 * the refusal's detail. add < 0 means "unknown".
 */
void sbx_cost_budget_detail(char *buf, size_t len, double add,
    double committed, double budget);

/* A USD amount text (digits, one optional '.') to a double; -1 if bad. */
double sbx_cost_usd_parse(const char *s);

/* ------------------------------------------------------------ prices */

/*
 * The hourly On-Demand price of a Linux, shared-tenancy instance type in
 * the region (AWS_REGION when NULL), from price_cache only: *known 0 when
 * not cached or not priced. For templates (PUT and create never wait on
 * the Price List).
 */
enum sbx_err sbx_cost_instance_hourly_cached(const char *instance_type,
    const char *region, double *usd, int *known);

/*
 * The hourly estimate of a template: the sum over its AWS::EC2::Instance
 * resources of the price of InstanceType (a literal, or a {"Ref"} to a
 * parameter: its value in params, a JSON object of the chosen values, or
 * the template's Default). *known 0 when the body is not JSON, names no
 * instance, or a price is not cached. cache_only 0 asks the Price List
 * for what is missing (the reaper only).
 */
enum sbx_err sbx_cost_template_hourly(const char *body, const cJSON *params,
    int cache_only, double *usd, int *known);

/* ------------------------------------------------------------ budgets */

/*
 * The budget of a user for a month: their own (user_budgets) or
 * USER_MONTHLY_BUDGET_USD; *has 0 when neither is set.
 */
enum sbx_err sbx_cost_budget_of(const char *user_id, double *budget,
    int *has);

/*
 * A user's cost for the month holding now: accrued (this month's
 * accrued cost of all their sandboxes, to now) and committed (accrued
 * plus the projected rest of their live ones, to their expiry within the
 * month).
 */
enum sbx_err sbx_cost_user_month(const char *user_id, long long now,
    double *accrued, double *committed);

/*
 * The budget check of a create or an extension that would add `add` USD
 * (< 0: unknown, counted as 0). *refused 1 when the user has a budget and
 * committed + add would go over it, or committed is already at or over
 * it; detail then says the figures.
 */
enum sbx_err sbx_cost_budget_check(const char *user_id, double add,
    int *refused, char *detail, size_t detail_len);

/*
 * Sets (monthly_usd >= 0) or clears (monthly_usd < 0: back to the
 * default) a user's budget. SBX_ENOTFOUND for an unknown email.
 */
enum sbx_err sbx_cost_budget_set(const char *email, double monthly_usd,
    const char *actor, cJSON **out);

/* The id of the user with this email into buf; SBX_ENOTFOUND if none. */
enum sbx_err sbx_cost_user_id(const char *email, char *buf, size_t len);

/*
 * The hourly rate of a sandbox as last estimated; *known 0 when none.
 */
enum sbx_err sbx_cost_sandbox_hourly(const char *sandbox_id, double *hourly,
    int *known);

/*
 * GET /api/costs: the report of month (its first second) for one user
 * (owner_id non-NULL) or everyone (NULL): {"month", "currency",
 * "budget_usd", "accrued", "projected", "sandboxes": [{"name",
 * "template", "hours", "accrued"}], "users"?}. users (every user's
 * totals: email, accrued, projected, budget_usd) is added when
 * with_users. Caller frees *out.
 */
enum sbx_err sbx_cost_report(long long month, const char *owner_id,
    int with_users, cJSON **out);

/*
 * The same as CSV (month,owner_email,sandbox,template,hours,accrued_usd),
 * header line first. Caller frees *out.
 */
enum sbx_err sbx_cost_report_csv(long long month, const char *owner_id,
    char **out);

/* ------------------------------------------------------------ the reaper */

struct sbx_cost_counts {
	long refreshed;		/* estimates made */
	long refresh_failed;	/* AWS could not be asked: last value kept */
	long terminated;	/* budget or max_cost terminations */
	long warnings;		/* budget warnings sent */
	long templates;		/* template versions estimated */
};

/*
 * The parts of the reaper's cost step (budget.h, sbx_budget_reaper_step)
 * that only touch costs, at most `batch` sandboxes each. Accrual: follows
 * sandboxes that became ACTIVE, settles those that left it, refreshes the
 * estimates due (COST_REFRESH_SECONDS apart). Templates: estimates the
 * versions that have no estimate yet. A dry run changes nothing. Each
 * adds to *c; returns the first database error; AWS errors are counted,
 * not returned.
 */
enum sbx_err sbx_cost_accrue_step(int dry_run, long batch,
    struct sbx_cost_counts *c);
enum sbx_err sbx_cost_templates_step(int dry_run, long batch,
    struct sbx_cost_counts *c);

#endif
