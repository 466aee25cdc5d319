/*
 * sbx-auth: sign-in with the OpenID provider, logout, the current user,
 * disabling users (common/api/signin.h has the routes' contracts), and
 * personal API tokens (common/api/tokens_api.h).
 */
#include "common/api/auth.h"
#include "common/api/cost_api.h"
#include "common/api/http.h"
#include "common/api/signin.h"
#include "common/api/tokens_api.h"

static const struct sbx_route routes[] = {
	{ "GET", "/auth/login", sbx_signin_login, 0, NULL, 0,
	    sbx_signin_login_inputs, SBX_SIGNIN_LOGIN_NINPUTS },
	{ "GET", "/auth/callback", sbx_signin_callback, 0, NULL, 0,
	    sbx_signin_callback_inputs, SBX_SIGNIN_CALLBACK_NINPUTS },
	{ "POST", "/auth/logout", sbx_signin_logout, SBX_ROUTE_AUTH, NULL, 0,
	    NULL, 0 },
	{ "GET", "/auth/me", sbx_auth_me, SBX_ROUTE_AUTH, NULL, 0, NULL, 0 },
	{ "GET", "/api/users", sbx_signin_users_list, SBX_ROUTE_ADMIN, NULL,
	    0, NULL, 0 },
	{ "POST", "/api/users/{email}/disable", sbx_signin_user_disable,
	    SBX_ROUTE_ADMIN, NULL, 0, sbx_signin_email_inputs,
	    SBX_SIGNIN_EMAIL_NINPUTS },
	{ "POST", "/api/users/{email}/enable", sbx_signin_user_enable,
	    SBX_ROUTE_ADMIN, NULL, 0, sbx_signin_email_inputs,
	    SBX_SIGNIN_EMAIL_NINPUTS },
	/* A user's monthly budget (common/api/cost_api.c). */
	{ "PUT", "/api/users/{email}/budget", sbx_cost_api_budget_put,
	    SBX_ROUTE_ADMIN | SBX_ROUTE_JSON, sbx_cost_api_budget_fields,
	    SBX_COST_API_BUDGET_NFIELDS, sbx_signin_email_inputs,
	    SBX_SIGNIN_EMAIL_NINPUTS },
	{ "POST", "/api/tokens", sbx_tokens_api_create,
	    SBX_ROUTE_AUTH | SBX_ROUTE_PERSON | SBX_ROUTE_JSON,
	    sbx_tokens_api_create_fields, SBX_TOKENS_API_CREATE_NFIELDS, NULL,
	    0 },
	{ "GET", "/api/tokens", sbx_tokens_api_list, SBX_ROUTE_AUTH, NULL, 0,
	    sbx_tokens_api_list_inputs, SBX_TOKENS_API_LIST_NINPUTS },
	{ "DELETE", "/api/tokens/{id}", sbx_tokens_api_revoke, SBX_ROUTE_AUTH,
	    NULL, 0, sbx_tokens_api_id_inputs, SBX_TOKENS_API_ID_NINPUTS },
};

static const struct sbx_app app = {
	.name = "sbx-auth",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.config_needs = SBX_AUTH_CONFIG_NEEDS | SBX_NEED_SIGNIN |
	    SBX_NEED_SANDBOX,
	.authenticate = sbx_auth_authenticate,
	.start = NULL,
};

int
main(int argc, char **argv)
{
	return sbx_http_main(&app, argc, argv);
}
