/*
 * sbx-sandboxes: the sandboxes API and templates (common/api/sandbox_api.h has
 * the handlers' contracts; common/domain/sandbox.h the rules behind them).
 */
#include "common/api/auth.h"
#include "common/api/cost_api.h"
#include "common/api/http.h"
#include "common/api/jobs.h"
#include "common/api/sandbox_api.h"

#define AUTH SBX_ROUTE_AUTH
#define ADMIN SBX_ROUTE_ADMIN

/* The {name} of a sandbox, and of a template. */
#define SANDBOX sbx_sandbox_api_name_inputs, 1
#define TEMPLATE sbx_template_api_name_inputs, 1

static const struct sbx_route routes[] = {
	{ "GET", "/api/sandboxes", sbx_sandbox_api_list, AUTH, NULL, 0,
	    sbx_sandbox_api_list_inputs, SBX_SANDBOX_API_LIST_NINPUTS },
	{ "POST", "/api/sandboxes", sbx_sandbox_api_create,
	    AUTH | SBX_ROUTE_JSON, sbx_sandbox_api_create_fields,
	    SBX_SANDBOX_API_CREATE_NFIELDS, NULL, 0 },
	{ "GET", "/api/sandboxes/{name}", sbx_sandbox_api_get, AUTH, NULL, 0,
	    SANDBOX },
	{ "PATCH", "/api/sandboxes/{name}", sbx_sandbox_api_patch,
	    AUTH | SBX_ROUTE_JSON, sbx_sandbox_api_patch_fields,
	    SBX_SANDBOX_API_PATCH_NFIELDS, SANDBOX },
	{ "DELETE", "/api/sandboxes/{name}", sbx_sandbox_api_delete, AUTH,
	    NULL, 0, SANDBOX },
	{ "GET", "/api/sandboxes/{name}/events", sbx_sandbox_api_events, AUTH,
	    NULL, 0, SANDBOX },
	/* Operators (handlers in common/api/jobs.c). */
	{ "POST", "/api/sandboxes/{name}/retry", sbx_jobs_api_retry, ADMIN,
	    NULL, 0, SANDBOX },
	{ "POST", "/api/sandboxes/{name}/forget", sbx_jobs_api_forget,
	    ADMIN | SBX_ROUTE_JSON, sbx_jobs_api_forget_fields,
	    SBX_JOBS_API_FORGET_NFIELDS, SANDBOX },
	/* Costs (handlers in common/api/cost_api.c). */
	{ "GET", "/api/costs", sbx_cost_api_report, AUTH, NULL, 0,
	    sbx_cost_api_report_inputs, SBX_COST_API_REPORT_NINPUTS },
	{ "GET", "/api/templates", sbx_template_api_list, AUTH, NULL, 0, NULL,
	    0 },
	{ "GET", "/api/templates/{name}", sbx_template_api_get, AUTH, NULL, 0,
	    TEMPLATE },
	{ "PUT", "/api/templates/{name}", sbx_template_api_put,
	    ADMIN | SBX_ROUTE_JSON, sbx_template_api_put_fields,
	    SBX_TEMPLATE_API_PUT_NFIELDS, TEMPLATE },
	{ "DELETE", "/api/templates/{name}", sbx_template_api_delete, ADMIN,
	    NULL, 0, TEMPLATE },
};

static const struct sbx_app app = {
	.name = "sbx-sandboxes",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.config_needs = SBX_AUTH_CONFIG_NEEDS | SBX_NEED_AWS |
	    SBX_NEED_SANDBOX | SBX_NEED_REAPER,
	.authenticate = sbx_auth_authenticate,
	.start = NULL,
};

int
main(int argc, char **argv)
{
	return sbx_http_main(&app, argc, argv);
}
