/*
 * sbx-meta: the service's front door. The welcome answer the original tool
 * gave at GET /api/, and GET /readyz, which says whether this process can
 * reach the database (nginx answers /healthz itself, without it). Signed
 * in: GET /api/test, the original tool's protected answer, and GET /api/me.
 * GET /metrics: the expiry promise in Prometheus text; nginx lets it
 * through only from loopback and METRICS_ALLOW_FROM, so it has no
 * authentication of its own.
 */
#include <cjson/cJSON.h>

#include "common/api/auth.h"
#include "common/core/config.h"
#include "common/api/http.h"
#include "common/domain/metrics.h"
#include "common/io/ready.h"

static void
meta_welcome(struct sbx_req *req)
{
	cJSON *body = cJSON_CreateObject();

	if (body != NULL && cJSON_AddStringToObject(body, "message",
	    "Welcome to the sandbox service") == NULL) {
		cJSON_Delete(body);
		body = NULL;
	}
	sbx_reply_json(req, 200, body);
}

/*
 * Ready means a query went through just now. A failure is 503 so that a
 * load balancer stops sending here; the connection is reopened on the next
 * request, so the answer turns back to 200 once the database is back.
 */
static void
meta_readyz(struct sbx_req *req)
{
	cJSON *body;

	if (sbx_ready_check() != SBX_OK) {
		sbx_reply_problem(req, 503, "database unavailable");
		sbx_reply_header(req, "Retry-After", "1");
		return;
	}
	body = cJSON_CreateObject();
	if (body != NULL &&
	    cJSON_AddStringToObject(body, "status", "ready") == NULL) {
		cJSON_Delete(body);
		body = NULL;
	}
	sbx_reply_json(req, 200, body);
}

/*
 * A failure is 503 problem+json, so that a scraper records the target as
 * down rather than reading zeros that would hide a broken promise.
 */
static void
meta_metrics(struct sbx_req *req)
{
	struct sbx_metrics m;

	if (sbx_metrics_collect(sbx_config()->metrics_overdue_grace_seconds,
	    &m) != SBX_OK) {
		sbx_reply_problem(req, 503, "database unavailable");
		sbx_reply_header(req, "Retry-After", "5");
		return;
	}
	sbx_reply_text(req, 200, SBX_METRICS_CONTENT_TYPE,
	    sbx_metrics_prometheus(&m));
}

/* The original tool's protected route, with who is asking. */
static void
meta_test(struct sbx_req *req)
{
	cJSON *body = cJSON_CreateObject(), *user;

	if (body == NULL || cJSON_AddStringToObject(body, "message",
	    "Here are your sandboxes!") == NULL ||
	    (user = sbx_auth_user_json(req->principal)) == NULL) {
		cJSON_Delete(body);
		sbx_reply_err(req, SBX_ENOMEM, "out of memory");
		return;
	}
	cJSON_AddItemToObject(body, "user", user);
	sbx_reply_json(req, 200, body);
}

static const struct sbx_route routes[] = {
	{ "GET", "/api/", meta_welcome, 0, NULL, 0, NULL, 0 },
	{ "GET", "/api", meta_welcome, 0, NULL, 0, NULL, 0 },
	{ "GET", "/readyz", meta_readyz, 0, NULL, 0, NULL, 0 },
	{ "GET", "/metrics", meta_metrics, 0, NULL, 0, NULL, 0 },
	{ "GET", "/api/test", meta_test, SBX_ROUTE_AUTH, NULL, 0, NULL, 0 },
	{ "GET", "/api/me", sbx_auth_me, SBX_ROUTE_AUTH, NULL, 0, NULL, 0 },
};

static const struct sbx_app app = {
	.name = "sbx-meta",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.config_needs = SBX_NEED_DB | SBX_AUTH_CONFIG_NEEDS,
	.authenticate = sbx_auth_authenticate,
	.start = NULL,
};

int
main(int argc, char **argv)
{
	return sbx_http_main(&app, argc, argv);
}
