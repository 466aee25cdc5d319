/*
 * GET /api/costs and PUT /api/users/{email}/budget (see cost_api.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/domain/cost.h"
#include "common/api/cost_api.h"
#include "common/core/log.h"

#define MODULE "cost"

const struct sbx_field sbx_cost_api_budget_fields[] = {
	{ "monthly_usd", SBX_F_AMOUNT, 1, 0, 0, NULL, NULL },
};

/* An email as a path or query value: lower-cased; 0 when not one. */
static int
email_ok(const char *e, char *buf, size_t len)
{
	size_t i, n;

	if (e == NULL || (n = strlen(e)) == 0 || n >= len ||
	    strchr(e, '@') == NULL || e[0] == '@' || e[n - 1] == '@')
		return 0;
	for (i = 0; i < n; i++) {
		if ((unsigned char)e[i] <= ' ' || e[i] == ',' || e[i] == '/')
			return 0;
		buf[i] = (char)tolower((unsigned char)e[i]);
	}
	buf[n] = '\0';
	return 1;
}

void
sbx_cost_api_budget_put(struct sbx_req *req)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->json,
	    "monthly_usd");
	char email[256];
	cJSON *out = NULL;
	enum sbx_err err;

	if (!email_ok(sbx_req_param(req, "email"), email, sizeof(email))) {
		sbx_reply_invalid(req, "email", "not an email address");
		return;
	}
	err = sbx_cost_budget_set(email, cJSON_IsNumber(v) ? v->valuedouble :
	    -1, req->principal->email, &out);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, err == SBX_ENOTFOUND ?
		    "no user has this email" : "setting a budget");
		return;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "%s set the budget of %s",
	    req->principal->user_id, email);
	sbx_reply_json(req, 200, out);
}

void
sbx_cost_api_report(struct sbx_req *req)
{
	const char *month_s = sbx_req_query(req, "month");
	const char *owner = sbx_req_query(req, "owner");
	const char *format = sbx_req_query(req, "format");
	const char *who = req->principal->user_id;
	long long month;
	char email[256], id[40];
	cJSON *out = NULL;
	char *csv = NULL;
	int csv_all;
	enum sbx_err err;

	month = month_s != NULL ? sbx_cost_month_parse(month_s) :
	    sbx_cost_month_start(sbx_cost_now());
	if (month < 0) {
		sbx_reply_invalid(req, "month", "month is YYYY-MM, such as "
		    "2026-12");
		return;
	}
	if (format != NULL && strcmp(format, "json") != 0 &&
	    strcmp(format, "csv") != 0) {
		sbx_reply_invalid(req, "format", "format is json or csv");
		return;
	}
	if (owner != NULL) {
		if (!req->principal->is_admin) {
			sbx_reply_problem(req, 403, "only an administrator may "
			    "name an owner");
			return;
		}
		if (!email_ok(owner, email, sizeof(email))) {
			sbx_reply_invalid(req, "owner", "owner is an email "
			    "address");
			return;
		}
		err = sbx_cost_user_id(email, id, sizeof(id));
		if (err != SBX_OK) {
			sbx_reply_err(req, err, err == SBX_ENOTFOUND ?
			    "no user has this email" : "finding the owner");
			return;
		}
		who = id;
	}
	if (format != NULL && strcmp(format, "csv") == 0) {
		csv_all = req->principal->is_admin && owner == NULL;
		err = sbx_cost_report_csv(month, csv_all ? NULL : who, &csv);
		if (err != SBX_OK) {
			sbx_reply_err(req, err, "the cost report");
			return;
		}
		sbx_reply_text(req, 200, "text/csv; charset=utf-8", csv);
		return;
	}
	err = sbx_cost_report(month, who, req->principal->is_admin, &out);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "the cost report");
		return;
	}
	sbx_reply_json(req, 200, out);
}
