/*
 * Budgets enforced: the reaper's cost step. It sits above cost (what
 * sandboxes cost, what an owner may spend: cost.h) and sandbox (stopping
 * one: sandbox.h), so that those two do not call each other: the sandbox
 * module asks cost whether a create fits the budget; this module asks
 * cost who is over and has the sandbox module stop them.
 */
#ifndef SBX_BUDGET_H
#define SBX_BUDGET_H

#include "common/core/err.h"
#include "common/domain/cost.h"

/*
 * The reaper's cost step: the accrual (sbx_cost_accrue_step), then
 * terminates sandboxes over their template's max_cost_usd or whose
 * owner's accrued cost for the month reached the budget (event and
 * webhook sandbox.budget_terminated), sends budget warnings
 * (user.budget_warning, once per threshold per month), then the template
 * estimates (sbx_cost_templates_step). *c is zeroed first. A dry run
 * changes nothing. Returns the first database error; AWS errors are
 * counted, not returned.
 */
enum sbx_err sbx_budget_reaper_step(int dry_run, long batch,
    long backoff_seconds, struct sbx_cost_counts *c);

#endif
