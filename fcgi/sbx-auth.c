/*
 * sbx-auth: sign-in with the OpenID provider, logout, the current user,
 * and disabling users (common/signin.h has the routes' contracts).
 */
#include "common/auth.h"
#include "common/http.h"
#include "common/signin.h"

static const struct sbx_route routes[] = {
	{ "GET", "/auth/login", sbx_signin_login, 0, NULL, 0 },
	{ "GET", "/auth/callback", sbx_signin_callback, 0, NULL, 0 },
	{ "POST", "/auth/logout", sbx_signin_logout, SBX_ROUTE_AUTH, NULL, 0 },
	{ "GET", "/auth/me", sbx_signin_me, SBX_ROUTE_AUTH, NULL, 0 },
	{ "POST", "/api/users/{email}/disable", sbx_signin_user_disable,
	    SBX_ROUTE_ADMIN, NULL, 0 },
	{ "POST", "/api/users/{email}/enable", sbx_signin_user_enable,
	    SBX_ROUTE_ADMIN, NULL, 0 },
};

static const struct sbx_app app = {
	.name = "sbx-auth",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.config_needs = SBX_AUTH_CONFIG_NEEDS,
	.authenticate = sbx_auth_authenticate,
	.start = NULL,
};

int
main(int argc, char **argv)
{
	return sbx_http_main(&app, argc, argv);
}
