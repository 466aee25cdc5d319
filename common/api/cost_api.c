/*
 * GET /api/costs and PUT /api/users/{email}/budget (see cost_api.h).
 */
#include "common/domain/cost.h"
#include "common/api/cost_api.h"
#include "common/core/log.h"
#include "common/io/oidc.h"

#define MODULE "cost"

const struct sbx_field sbx_cost_api_budget_fields[] = {
	{ "monthly_usd", SBX_F_AMOUNT, 1, 0, 0, NULL, NULL },
};

static int
month_valid(const char *s)
{
	return sbx_cost_month_parse(s) >= 0;
}

/* ?format=: num is the index, so the order is this enum's. */
enum format { FORMAT_JSON, FORMAT_CSV };
static const char *const formats[] = {
	[FORMAT_JSON] = "json", [FORMAT_CSV] = "csv", NULL
};

const struct sbx_input sbx_cost_api_report_inputs[] = {
	{ "month", SBX_I_STRING, 0, 0, 0, 0, NULL, month_valid,
	    "month is YYYY-MM, such as 2026-12" },
	{ "format", SBX_I_ENUM, 0, 0, 0, 0, formats, NULL,
	    "format is json or csv" },
	{ "owner", SBX_I_STRING, SBX_I_ADMIN_ONLY | SBX_I_LOWER, 0, 0, 0, NULL,
	    sbx_oidc_email_valid, "owner is an email address" },
};

void
sbx_cost_api_budget_put(struct sbx_req *req)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req->json,
	    "monthly_usd");
	const char *email = sbx_req_arg(req, "email")->str;
	cJSON *out = NULL;
	enum sbx_err err;

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
	const char *month_s = sbx_req_arg(req, "month")->str;
	const char *owner = sbx_req_arg(req, "owner")->str;
	int csv = sbx_req_arg(req, "format")->num == FORMAT_CSV;
	const char *who = req->principal->user_id;
	long long month;
	char id[40];
	cJSON *out = NULL;
	char *text = NULL;
	int csv_all;
	enum sbx_err err;

	month = month_s != NULL ? sbx_cost_month_parse(month_s) :
	    sbx_cost_month_start(sbx_cost_now());
	if (owner != NULL) {
		err = sbx_cost_user_id(owner, id, sizeof(id));
		if (err != SBX_OK) {
			sbx_reply_err(req, err, err == SBX_ENOTFOUND ?
			    "no user has this email" : "finding the owner");
			return;
		}
		who = id;
	}
	if (csv) {
		csv_all = req->principal->is_admin && owner == NULL;
		err = sbx_cost_report_csv(month, csv_all ? NULL : who, &text);
		if (err != SBX_OK) {
			sbx_reply_err(req, err, "the cost report");
			return;
		}
		sbx_reply_text(req, 200, "text/csv; charset=utf-8", text);
		return;
	}
	err = sbx_cost_report(month, who, req->principal->is_admin, &out);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "the cost report");
		return;
	}
	sbx_reply_json(req, 200, out);
}
