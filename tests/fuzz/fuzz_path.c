/*
 * Fuzz target for path parameters: the input is a request path, routed
 * by sbx_http_dispatch over every route pattern the responders declare
 * (the route tables in fcgi/), matched against each pattern by
 * sbx_http_match, and its {name} checked as the handlers check it
 * (sbx_sandbox_name_valid). The first byte picks the method.
 *
 * Contracts, besides the sanitizers': routing answers the handler's 204,
 * 404, or 405 with an Allow header, nothing else; a matched parameter is
 * non-empty and holds no '/' (an escaped slash must not smuggle a second
 * segment); percent-encoding the parameters and substituting them into
 * the pattern matches again with the same values; a valid sandbox name
 * has the documented form ^[a-z][a-z0-9-]{2,62}$.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/api/http.h"
#include "common/domain/sandbox.h"
#include "fuzz.h"

static void handler(struct sbx_req *req);

#define R(m, p) { m, p, handler, 0, NULL, 0, NULL, 0 }
static const struct sbx_route routes[] = {
	R("GET", "/readyz"), R("GET", "/api"), R("GET", "/api/"),
	R("GET", "/api/me"), R("GET", "/api/test"), R("GET", "/auth/me"),
	R("GET", "/auth/login"), R("GET", "/auth/callback"),
	R("POST", "/auth/logout"),
	R("POST", "/api/users/{email}/disable"),
	R("POST", "/api/users/{email}/enable"),
	R("GET", "/api/sandboxes"), R("POST", "/api/sandboxes"),
	R("GET", "/api/sandboxes/{name}"), R("PATCH", "/api/sandboxes/{name}"),
	R("DELETE", "/api/sandboxes/{name}"),
	R("GET", "/api/sandboxes/{name}/events"),
	R("POST", "/api/sandboxes/{name}/retry"),
	R("POST", "/api/sandboxes/{name}/forget"),
	R("GET", "/api/templates"), R("GET", "/api/templates/{name}"),
	R("PUT", "/api/templates/{name}"), R("DELETE", "/api/templates/{name}"),
	R("GET", "/api/jobs"), R("GET", "/api/jobs/reaper"),
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS",
};

static const struct sbx_app app = {
	.name = "fuzz_path",
	.routes = routes,
	.nroutes = NROUTES,
};

/* The documented form, written out independently of the validator. */
static int
name_form(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 3 || n > 63 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static void
handler(struct sbx_req *req)
{
	const char *name = sbx_req_param(req, "name");
	size_t i;

	for (i = 0; i < req->path_params.n; i++) {
		CHECK(req->path_params.items[i].value[0] != '\0');
		CHECK(strchr(req->path_params.items[i].value, '/') == NULL);
	}
	if (strstr(req->route->pattern, "{name}") != NULL)
		CHECK(name != NULL);
	if (name != NULL)
		CHECK(sbx_sandbox_name_valid(name) == name_form(name));
	sbx_reply_empty(req, 204);
}

/* pattern with its {params} replaced by their values, all %XX-encoded. */
static char *
substitute(const char *pattern, const struct sbx_params *p)
{
	size_t len = strlen(pattern) + 1, i = 0;
	const char *s;
	char *out, *w;

	for (i = 0; i < p->n; i++)
		len += 3 * strlen(p->items[i].value);
	if ((out = malloc(len)) == NULL)
		return NULL;
	for (s = pattern, w = out, i = 0; *s != '\0'; ) {
		if (*s == '{') {
			CHECK(i < p->n);
			w = fuzz_pct(w, p->items[i++].value);
			s = strchr(s, '}') + 1;
		} else {
			*w++ = *s++;
		}
	}
	*w = '\0';
	CHECK(i == p->n);
	return out;
}

static void
check_match(const char *pattern, const char *path)
{
	struct sbx_params p, again;
	char *back;
	size_t i;

	if (!sbx_http_match(pattern, path, &p)) {
		CHECK(p.n == 0 && p.items == NULL);
		return;
	}
	if ((back = substitute(pattern, &p)) != NULL) {
		CHECK(sbx_http_match(pattern, back, &again));
		CHECK(again.n == p.n);
		for (i = 0; i < p.n; i++)
			CHECK(strcmp(again.items[i].value,
			    p.items[i].value) == 0);
		sbx_params_fini(&again);
		free(back);
	}
	sbx_params_fini(&p);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = fuzz_text(data, size);
	char method[32], *path;
	char *env[4] = { method, NULL, NULL, NULL };
	struct sbx_req req;
	size_t i;

	if (text == NULL)
		return 0;
	for (i = 0; i < NROUTES; i++)
		check_match(routes[i].pattern, text);
	snprintf(method, sizeof(method), "REQUEST_METHOD=%s",
	    methods[data[0] % (sizeof(methods) / sizeof(methods[0]))]);
	if ((path = fuzz_pair("PATH_INFO", text)) != NULL) {
		env[1] = path;
		if (sbx_req_init_env(&req, env, NULL, 0) == SBX_OK) {
			sbx_http_dispatch(&app, &req);
			CHECK(req.resp.status == 204 ||
			    req.resp.status == 404 || req.resp.status == 405);
			if (req.resp.status == 405)
				CHECK(req.resp.headers != NULL &&
				    strstr(req.resp.headers, "Allow: ") != NULL);
			sbx_req_fini(&req);
		}
		free(path);
	}
	free(text);
	return 0;
}
