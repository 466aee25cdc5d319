/*
 * Fuzz target for the JSON body checks of every route that takes a body:
 * the input is a request body sent through sbx_http_dispatch (content
 * type, size cap, depth-checked parse, the route's field table) to a
 * route declared with the real table of sbx-sandboxes (create, patch,
 * forget, template PUT). The first byte picks the route; the rest is the
 * body, passed with its length (no NUL to lean on, and NULs inside are
 * the parser's to refuse).
 *
 * Contracts, besides the sanitizers': the answer is the handler's 204 or
 * a 400/413 problem, never anything else; a 400 names the offending field
 * in its "field" member; and a body the handler sees holds only members
 * of its table, each once, with the declared type and within the
 * declared bounds (what sbx_json_check promises handlers).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/core/config.h"
#include "common/api/http.h"
#include "common/api/jobs.h"
#include "common/core/json.h"
#include "common/api/sandbox_api.h"
#include "fuzz.h"

static void accepted(struct sbx_req *req);

/* The JSON routes of fcgi/sbx-sandboxes.c, without authentication. */
static const struct sbx_route routes[] = {
	{ "POST", "/api/sandboxes", accepted, SBX_ROUTE_JSON,
	    sbx_sandbox_api_create_fields, SBX_SANDBOX_API_CREATE_NFIELDS,
	    NULL, 0 },
	{ "PATCH", "/api/sandboxes/{name}", accepted, SBX_ROUTE_JSON,
	    sbx_sandbox_api_patch_fields, SBX_SANDBOX_API_PATCH_NFIELDS,
	    sbx_sandbox_api_name_inputs, 1 },
	{ "POST", "/api/sandboxes/{name}/forget", accepted, SBX_ROUTE_JSON,
	    sbx_jobs_api_forget_fields, SBX_JOBS_API_FORGET_NFIELDS,
	    sbx_sandbox_api_name_inputs, 1 },
	{ "PUT", "/api/templates/{name}", accepted, SBX_ROUTE_JSON,
	    sbx_template_api_put_fields, SBX_TEMPLATE_API_PUT_NFIELDS,
	    sbx_template_api_name_inputs, 1 },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const paths[NROUTES] = {
	"/api/sandboxes", "/api/sandboxes/demo",
	"/api/sandboxes/demo/forget", "/api/templates/small",
};

static const struct sbx_app app = {
	.name = "fuzz_json_body",
	.routes = routes,
	.nroutes = NROUTES,
};

static int
within(const struct sbx_field *f, long long n)
{
	return (f->min == 0 && f->max == 0) || (n >= f->min && n <= f->max);
}

static int
children(const cJSON *item)
{
	const cJSON *c;
	int n = 0;

	for (c = item->child; c != NULL; c = c->next)
		n++;
	return n;
}

/* The member of the route's table the body member m passed as. */
static const struct sbx_field *
field_of(const struct sbx_route *r, const cJSON *m)
{
	size_t i;

	for (i = 0; i < r->nfields; i++)
		if (strcmp(r->fields[i].name, m->string) == 0)
			return &r->fields[i];
	return NULL;
}

static void
check_member(const struct sbx_field *f, const cJSON *m)
{
	double d;

	switch (f->type) {
	case SBX_F_STRING:
	case SBX_F_TIME:
		CHECK(cJSON_IsString(m) && m->valuestring != NULL);
		CHECK(within(f, (long long)strlen(m->valuestring)));
		if (f->type == SBX_F_TIME)
			CHECK(sbx_time_valid(m->valuestring));
		if (f->valid != NULL)
			CHECK(f->valid(m->valuestring));
		break;
	case SBX_F_INT:
		CHECK(cJSON_IsNumber(m));
		d = m->valuedouble;
		CHECK(isfinite(d) && floor(d) == d);
		CHECK(within(f, (long long)d));
		break;
	case SBX_F_BOOL:
		CHECK(cJSON_IsBool(m));
		break;
	case SBX_F_AMOUNT:
		CHECK(cJSON_IsNull(m) || (cJSON_IsNumber(m) &&
		    isfinite(m->valuedouble) && m->valuedouble >= 0));
		break;
	case SBX_F_OBJECT:
		CHECK(cJSON_IsObject(m) && within(f, children(m)));
		break;
	case SBX_F_ARRAY:
		CHECK(cJSON_IsArray(m) && within(f, children(m)));
		break;
	}
}

/* The handler: whatever reaches it must have passed the table. */
static void
accepted(struct sbx_req *req)
{
	const struct sbx_route *r = req->route;
	const struct sbx_field *f;
	const cJSON *m, *o;
	size_t i;

	CHECK(cJSON_IsObject(req->json));
	cJSON_ArrayForEach(m, req->json) {
		CHECK(m->string != NULL);
		CHECK((f = field_of(r, m)) != NULL);
		check_member(f, m);
		for (o = req->json->child; o != m; o = o->next)
			CHECK(strcmp(o->string, m->string) != 0);
	}
	for (i = 0; i < r->nfields; i++)
		if (r->fields[i].required)
			CHECK(cJSON_GetObjectItemCaseSensitive(req->json,
			    r->fields[i].name) != NULL);
	sbx_reply_empty(req, 204);
}

static void
setup(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	unsetenv("SBX_ENV_FILE");
	/* Small enough that the fuzzer reaches the cap too. */
	setenv("SBX_MAX_BODY_BYTES", "4096", 1);
	setenv("LOG_LEVEL", "error", 1);
	CHECK(sbx_config_load("fuzz_json_body", 0) == SBX_OK);
}

static void
check_problem(const struct sbx_req *req)
{
	cJSON *p, *field;

	CHECK(req->resp.body != NULL);
	p = cJSON_ParseWithLength(req->resp.body, req->resp.body_len);
	CHECK(p != NULL);
	CHECK(cJSON_GetObjectItemCaseSensitive(p, "status") != NULL);
	if (req->resp.status == 400) {
		field = cJSON_GetObjectItemCaseSensitive(p, "field");
		CHECK(cJSON_IsString(field));
	}
	cJSON_Delete(p);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char method[32], path[64];
	char *env[] = { method, path, "CONTENT_TYPE=application/json",
	    "HTTP_ACCEPT=application/json", NULL };
	struct sbx_req req;
	size_t k;

	if (size < 1)
		return 0;
	setup();
	k = data[0] % NROUTES;
	snprintf(method, sizeof(method), "REQUEST_METHOD=%s",
	    routes[k].method);
	snprintf(path, sizeof(path), "PATH_INFO=%s", paths[k]);
	if (sbx_req_init_env(&req, env, (const char *)data + 1,
	    size - 1) != SBX_OK)
		return 0;
	sbx_http_dispatch(&app, &req);
	CHECK(req.route == &routes[k]);
	CHECK(req.resp.status == 204 || req.resp.status == 400 ||
	    req.resp.status == 413);
	if (req.resp.status != 204)
		check_problem(&req);
	sbx_req_fini(&req);
	return 0;
}
