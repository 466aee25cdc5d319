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

static const struct sbx_route routes[] = {
	{ "GET", "/api/sandboxes", sbx_sandbox_api_list, AUTH, NULL, 0 },
	{ "POST", "/api/sandboxes", sbx_sandbox_api_create,
	    AUTH | SBX_ROUTE_JSON, sbx_sandbox_api_create_fields,
	    SBX_SANDBOX_API_CREATE_NFIELDS },
	{ "GET", "/api/sandboxes/{name}", sbx_sandbox_api_get, AUTH, NULL, 0 },
	{ "PATCH", "/api/sandboxes/{name}", sbx_sandbox_api_patch,
	    AUTH | SBX_ROUTE_JSON, sbx_sandbox_api_patch_fields,
	    SBX_SANDBOX_API_PATCH_NFIELDS },
	{ "DELETE", "/api/sandboxes/{name}", sbx_sandbox_api_delete, AUTH,
	    NULL, 0 },
	{ "GET", "/api/sandboxes/{name}/events", sbx_sandbox_api_events, AUTH,
	    NULL, 0 },
	/* Operators (handlers in common/api/jobs.c). */
	{ "POST", "/api/sandboxes/{name}/retry", sbx_jobs_api_retry, ADMIN,
	    NULL, 0 },
	{ "POST", "/api/sandboxes/{name}/forget", sbx_jobs_api_forget,
	    ADMIN | SBX_ROUTE_JSON, sbx_jobs_api_forget_fields,
	    SBX_JOBS_API_FORGET_NFIELDS },
	/* Costs (handlers in common/api/cost_api.c). */
	{ "GET", "/api/costs", sbx_cost_api_report, AUTH, NULL, 0 },
	{ "GET", "/api/templates", sbx_template_api_list, AUTH, NULL, 0 },
	{ "GET", "/api/templates/{name}", sbx_template_api_get, AUTH, NULL, 0 },
	{ "PUT", "/api/templates/{name}", sbx_template_api_put,
	    ADMIN | SBX_ROUTE_JSON, sbx_template_api_put_fields,
	    SBX_TEMPLATE_API_PUT_NFIELDS },
	{ "DELETE", "/api/templates/{name}", sbx_template_api_delete, ADMIN,
	    NULL, 0 },
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
