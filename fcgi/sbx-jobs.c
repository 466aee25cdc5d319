/*
 * sbx-jobs: the reaper's schedule as the API shows it (common/api/jobs.h).
 */
#include "common/api/auth.h"
#include "common/api/http.h"
#include "common/api/jobs.h"

static const struct sbx_route routes[] = {
	{ "GET", "/api/jobs", sbx_jobs_api_list, SBX_ROUTE_AUTH, NULL, 0,
	    NULL, 0 },
	{ "GET", "/api/jobs/reaper", sbx_jobs_api_reaper, SBX_ROUTE_ADMIN,
	    NULL, 0, sbx_jobs_api_reaper_inputs, SBX_JOBS_API_REAPER_NINPUTS },
};

static const struct sbx_app app = {
	.name = "sbx-jobs",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.config_needs = SBX_AUTH_CONFIG_NEEDS | SBX_NEED_SANDBOX |
	    SBX_NEED_REAPER,
	.authenticate = sbx_auth_authenticate,
	.start = NULL,
};

int
main(int argc, char **argv)
{
	return sbx_http_main(&app, argc, argv);
}
