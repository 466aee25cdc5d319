/*
 * The HTTP side of costs and budgets, over cost.h:
 *
 *   GET /api/costs[?month=YYYY-MM][&owner=EMAIL][&format=json|csv]
 *       the caller's month (default: the current one, UTC); admins also
 *       get every user's totals in "users" and may name an owner; CSV
 *       (text/csv; charset=utf-8) has the header
 *       month,owner_email,sandbox,template,hours,accrued_usd and covers
 *       every user for an admin without owner=.
 *   PUT /api/users/{email}/budget  {"monthly_usd": n | null}  (admin)
 *       sets one user's monthly budget, or null for the default ({email}
 *       as sign-in declares it: sbx_signin_email_inputs).
 */
#ifndef SBX_COST_API_H
#define SBX_COST_API_H

#include "common/api/http.h"
#include "common/core/json.h"

void sbx_cost_api_report(struct sbx_req *req);
extern const struct sbx_input sbx_cost_api_report_inputs[];
#define SBX_COST_API_REPORT_NINPUTS 3

void sbx_cost_api_budget_put(struct sbx_req *req);
extern const struct sbx_field sbx_cost_api_budget_fields[];
#define SBX_COST_API_BUDGET_NFIELDS 1

#endif
