/*
 * The HTTP module without a server: the query and cookie parsers, route
 * matching, header lookup, Accept negotiation, and sbx_http_dispatch on
 * requests built from fake CGI parameters, checking the order of checks
 * (404, 405, 415, 413, 401, 403, 400) and the shape of every answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "common/core/config.h"
#include "common/api/http.h"
#include "common/core/json.h"

/* The body cap the dispatch tests run with (SBX_MAX_BODY_BYTES). */
#define TEST_CAP 64

/* ------------------------------------------------------------ helpers */

/* "a=b|c=d" for a parameter list, for comparing against a table. */
static void
params_str(const struct sbx_params *p, char *buf, size_t len)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < p->n; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s=%s",
		    i > 0 ? "|" : "", p->items[i].name, p->items[i].value);
}

/*
 * Asserts what a parser or sbx_http_match left in p: the pairs want
 * ("a=b|c=d") when it accepted in, and nothing at all (no items either)
 * when it refused.
 */
static void
assert_params(const char *what, const char *in, const struct sbx_params *p,
    int accepted, const char *want)
{
	char buf[256];

	if (!accepted) {
		assert_int_equal(p->n, 0);
		assert_null(p->items);
		return;
	}
	params_str(p, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("%s \"%s\": got \"%s\", expected \"%s\"", what, in,
		    buf, want);
}

/* A case for the query and cookie parsers: the result and the pairs. */
struct parse_case {
	const char *in;
	enum sbx_err err;
	const char *pairs;
};

/* Runs a parser over its table, then checks that NULL parses as empty. */
static void
check_parser(const char *what,
    enum sbx_err (*parse)(const char *, struct sbx_params *),
    const struct parse_case *cases, size_t n)
{
	struct sbx_params p;
	size_t i;
	enum sbx_err err;

	for (i = 0; i < n; i++) {
		err = parse(cases[i].in, &p);
		if (err != cases[i].err)
			fail_msg("%s \"%s\": got %s, expected %s", what,
			    cases[i].in, sbx_strerror(err),
			    sbx_strerror(cases[i].err));
		assert_params(what, cases[i].in, &p, err == SBX_OK,
		    cases[i].pairs);
		sbx_params_fini(&p);
	}
	assert_int_equal(parse(NULL, &p), SBX_OK);
	assert_int_equal(p.n, 0);
}

/* The value of a response header, copied into buf; NULL when absent. */
static const char *
resp_header(const struct sbx_req *req, const char *name, char *buf,
    size_t len)
{
	const char *h = req->resp.headers, *end, *eol;
	size_t nlen = strlen(name), vlen;

	if (h == NULL)
		return NULL;
	end = h + req->resp.headers_len;
	while (h < end) {
		eol = strstr(h, "\r\n");
		if (eol == NULL)
			eol = end;
		if ((size_t)(eol - h) > nlen + 1 && h[nlen] == ':' &&
		    strncasecmp(h, name, nlen) == 0) {
			h += nlen + 1;
			while (*h == ' ')
				h++;
			vlen = (size_t)(eol - h);
			if (vlen >= len)
				vlen = len - 1;
			memcpy(buf, h, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		h = eol + 2;
	}
	return NULL;
}

static int
resp_header_count(const struct sbx_req *req, const char *name)
{
	const char *h = req->resp.headers;
	size_t nlen = strlen(name);
	int n = 0;

	while (h != NULL && *h != '\0') {
		if (strncasecmp(h, name, nlen) == 0 && h[nlen] == ':')
			n++;
		h = strstr(h, "\r\n");
		if (h != NULL)
			h += 2;
	}
	return n;
}

/* Parses the answer's body; the caller deletes it. */
static cJSON *
resp_json(const struct sbx_req *req)
{
	cJSON *j;

	assert_non_null(req->resp.body);
	j = cJSON_ParseWithLength(req->resp.body, req->resp.body_len);
	if (j == NULL)
		fail_msg("body is not JSON: %.*s", (int)req->resp.body_len,
		    req->resp.body);
	return j;
}

/*
 * Asserts the answer is a problem with this status: the content type, and
 * type, title, status, detail and request_id in the body; field when the
 * problem names one (NULL: must not).
 */
static void
assert_problem(const struct sbx_req *req, int status, const char *slug,
    const char *field)
{
	char buf[256], type[128];
	cJSON *j, *m;

	assert_int_equal(req->resp.status, status);
	assert_non_null(resp_header(req, "Content-Type", buf, sizeof(buf)));
	assert_string_equal(buf, "application/problem+json");
	assert_int_equal(resp_header_count(req, "Content-Type"), 1);
	j = resp_json(req);
	snprintf(type, sizeof(type), "urn:sbx:problem:%s", slug);
	m = cJSON_GetObjectItemCaseSensitive(j, "type");
	assert_true(cJSON_IsString(m));
	assert_string_equal(m->valuestring, type);
	m = cJSON_GetObjectItemCaseSensitive(j, "title");
	assert_true(cJSON_IsString(m));
	assert_string_equal(m->valuestring, sbx_http_reason(status));
	m = cJSON_GetObjectItemCaseSensitive(j, "status");
	assert_true(cJSON_IsNumber(m));
	assert_int_equal(m->valueint, status);
	m = cJSON_GetObjectItemCaseSensitive(j, "detail");
	assert_true(cJSON_IsString(m));
	assert_true(strlen(m->valuestring) > 0);
	m = cJSON_GetObjectItemCaseSensitive(j, "request_id");
	assert_true(cJSON_IsString(m));
	assert_string_equal(m->valuestring, req->request_id);
	m = cJSON_GetObjectItemCaseSensitive(j, "field");
	if (field == NULL) {
		assert_null(m);
	} else {
		assert_true(cJSON_IsString(m));
		assert_string_equal(m->valuestring, field);
	}
	cJSON_Delete(j);
}

static const char *
json_detail(const struct sbx_req *req, char *buf, size_t len)
{
	cJSON *j = resp_json(req);
	cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "detail");

	assert_true(cJSON_IsString(d));
	snprintf(buf, len, "%s", d->valuestring);
	cJSON_Delete(j);
	return buf;
}

/* ------------------------------------------------------------ parsers */

static void
test_unescape(void **state)
{
	static const struct {
		const char *in;
		int plus;
		int ok;
		const char *out;
	} cases[] = {
		{ "abc", 1, 1, "abc" },
		{ "a%20b", 0, 1, "a b" },
		{ "a+b", 1, 1, "a b" },
		{ "a+b", 0, 1, "a+b" },
		{ "%41%62%2f", 0, 1, "Ab/" },
		{ "%e2%82%AC", 0, 1, "\xe2\x82\xac" },
		{ "%2B", 1, 1, "+" },
		{ "", 0, 1, "" },
		{ "%", 0, 0, NULL },
		{ "%4", 0, 0, NULL },
		{ "a%zz", 0, 0, NULL },
		{ "a%4g", 0, 0, NULL },
		{ "%00", 0, 0, NULL },
		{ "a%00b", 1, 0, NULL },
		{ "100%", 1, 0, NULL },
	};
	char buf[64];
	size_t i;
	enum sbx_err err;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", cases[i].in);
		err = sbx_http_unescape(buf, cases[i].plus);
		if (cases[i].ok) {
			if (err != SBX_OK || strcmp(buf, cases[i].out) != 0)
				fail_msg("unescape \"%s\": got %s \"%s\"",
				    cases[i].in, sbx_strerror(err), buf);
		} else if (err != SBX_EPARSE) {
			fail_msg("unescape \"%s\": expected a parse error",
			    cases[i].in);
		}
	}
}

static void
test_parse_query(void **state)
{
	static const struct parse_case cases[] = {
		{ "", SBX_OK, "" },
		{ "a=b", SBX_OK, "a=b" },
		{ "a=b&c=d", SBX_OK, "a=b|c=d" },
		{ "a=b&&c=d&", SBX_OK, "a=b|c=d" },
		{ "flag", SBX_OK, "flag=" },
		{ "a=", SBX_OK, "a=" },
		{ "a=1=2", SBX_OK, "a=1=2" },
		{ "q=hello+world", SBX_OK, "q=hello world" },
		{ "q=a%2Bb%26c%3Dd", SBX_OK, "q=a+b&c=d" },
		{ "na%6De=v", SBX_OK, "name=v" },
		{ "a=1&a=2", SBX_OK, "a=1|a=2" },
		{ "email=a%40b.example", SBX_OK, "email=a@b.example" },
		{ "=v", SBX_EPARSE, NULL },
		{ "a=%", SBX_EPARSE, NULL },
		{ "a=%g0", SBX_EPARSE, NULL },
		{ "a=%00", SBX_EPARSE, NULL },
		{ "ok=1&bad=%2", SBX_EPARSE, NULL },
		{ "%zz=1", SBX_EPARSE, NULL },
	};
	struct sbx_params p;

	(void)state;
	check_parser("query", sbx_http_parse_query, cases,
	    sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(sbx_http_parse_query("a=1&b=two", &p), SBX_OK);
	assert_string_equal(sbx_params_get(&p, "b"), "two");
	assert_null(sbx_params_get(&p, "c"));
	sbx_params_fini(&p);
}

static void
test_parse_cookies(void **state)
{
	static const struct parse_case cases[] = {
		{ "", SBX_OK, "" },
		{ "a=b", SBX_OK, "a=b" },
		{ "a=b; c=d", SBX_OK, "a=b|c=d" },
		{ "a=b;c=d", SBX_OK, "a=b|c=d" },
		{ "  a = b ;  c=d  ", SBX_OK, "a=b|c=d" },
		{ "sid=\"quoted value\"", SBX_OK, "sid=quoted value" },
		{ "e=\"\"", SBX_OK, "e=" },
		{ "a=", SBX_OK, "a=" },
		{ "tok=abc.def.ghi==", SBX_OK, "tok=abc.def.ghi==" },
		{ "a=%41", SBX_OK, "a=%41" },
		/* Pieces without '=' or a name are skipped, as browsers do. */
		{ "junk; a=b", SBX_OK, "a=b" },
		{ "=x; a=b;;", SBX_OK, "a=b" },
		{ "a=b; a=c", SBX_OK, "a=b|a=c" },
		/*
		 * A malformed pair is skipped and the others kept: another
		 * application's bad cookie must not sign our user out.
		 */
		{ "a=\"unterminated", SBX_OK, "" },
		{ "a=\"", SBX_OK, "" },
		{ "a=\"x\"y\"", SBX_OK, "" },
		{ "a=x\"y", SBX_OK, "" },
		{ "a=b\r\nX: y", SBX_OK, "" },
		{ "a=\x01", SBX_OK, "" },
		{ "a=\x7f", SBX_OK, "" },
		{ "junk=\"x; __Host-sbx_session=tok", SBX_OK,
		    "__Host-sbx_session=tok" },
		{ "a=1; junk=\"x; b=2", SBX_OK, "a=1|b=2" },
		{ "a=1; j=x\"y\"z; b=\"2\"", SBX_OK, "a=1|b=2" },
		{ "a=1; c=\x01; b=2", SBX_OK, "a=1|b=2" },
		{ "a=1; c=\x7fx; b=2", SBX_OK, "a=1|b=2" },
	};

	(void)state;
	check_parser("cookies", sbx_http_parse_cookies, cases,
	    sizeof(cases) / sizeof(cases[0]));
}

static void
test_match(void **state)
{
	static const struct {
		const char *pattern;
		const char *path;
		int match;
		const char *params;
	} cases[] = {
		{ "/api/", "/api/", 1, "" },
		{ "/api/", "/api", 0, NULL },
		{ "/api", "/api/", 0, NULL },
		{ "/", "/", 1, "" },
		{ "/readyz", "/readyz", 1, "" },
		{ "/readyz", "/readyz/x", 0, NULL },
		{ "/readyz", "/ready", 0, NULL },
		{ "/readyz", "/READYZ", 0, NULL },
		{ "/api/sandboxes/{name}", "/api/sandboxes/dev-1", 1,
		    "name=dev-1" },
		{ "/api/sandboxes/{name}", "/api/sandboxes/", 0, NULL },
		{ "/api/sandboxes/{name}", "/api/sandboxes", 0, NULL },
		{ "/api/sandboxes/{name}", "/api/sandboxes/a/b", 0, NULL },
		{ "/api/sandboxes/{name}/events", "/api/sandboxes/x/events", 1,
		    "name=x" },
		{ "/api/sandboxes/{name}/events", "/api/sandboxes//events", 0,
		    NULL },
		{ "/api/sandboxes/{name}/events", "/api/sandboxes/x/events/", 0,
		    NULL },
		{ "/api/users/{email}/disable", "/api/users/a%40b.example/disable",
		    1, "email=a@b.example" },
		{ "/api/users/{email}/disable", "/api/users/a+b/disable", 1,
		    "email=a+b" },
		/* An escaped slash must not make a second segment. */
		{ "/api/sandboxes/{name}", "/api/sandboxes/a%2Fb", 0, NULL },
		{ "/api/sandboxes/{name}", "/api/sandboxes/a%zz", 0, NULL },
		{ "/api/sandboxes/{name}", "/api/sandboxes/a%00", 0, NULL },
		{ "/t/{a}/x/{b}", "/t/1/x/2", 1, "a=1|b=2" },
		{ "/t/{a}/x/{b}", "/t/1/y/2", 0, NULL },
		{ "/api//x", "/api//x", 1, "" },
		{ "/api/", "//api/", 0, NULL },
		{ "/api/", "", 0, NULL },
		{ "/api/", "api/", 0, NULL },
	};
	struct sbx_params p;
	size_t i;
	int m;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = sbx_http_match(cases[i].pattern, cases[i].path, &p);
		if (m != cases[i].match)
			fail_msg("match \"%s\" against \"%s\": got %d",
			    cases[i].path, cases[i].pattern, m);
		assert_params("match", cases[i].path, &p, m, cases[i].params);
		sbx_params_fini(&p);
	}
	assert_int_equal(sbx_http_match("/a/{x}", "/a/b", NULL), 1);
}

static void
test_reason(void **state)
{
	(void)state;
	assert_string_equal(sbx_http_reason(200), "OK");
	assert_string_equal(sbx_http_reason(404), "Not Found");
	assert_string_equal(sbx_http_reason(405), "Method Not Allowed");
	assert_string_equal(sbx_http_reason(503), "Service Unavailable");
	assert_non_null(sbx_http_reason(599));
	assert_non_null(sbx_http_reason(-1));
}

static void
test_now_us(void **state)
{
	long long a, b;

	(void)state;
	a = sbx_now_us();
	b = sbx_now_us();
	assert_true(a > 0);
	assert_true(b >= a);
}

/* ------------------------------------------------------------ requests */

static void
test_req_fields(void **state)
{
	char *env[] = {
		"REQUEST_METHOD=POST",
		"PATH_INFO=/api/things",
		"QUERY_STRING=a=1&b=x+y",
		"CONTENT_TYPE=Application/JSON; charset=UTF-8",
		"CONTENT_LENGTH=2",
		"HTTP_COOKIE=sbx_session=tok; other=\"v\"",
		"HTTP_X_CUSTOM_THING=yes",
		"HTTP_AUTHORIZATION=Bearer abc",
		NULL
	};
	struct sbx_req req;

	(void)state;
	assert_int_equal(sbx_req_init_env(&req, env, "{}", 2), SBX_OK);
	assert_string_equal(req.method, "POST");
	assert_string_equal(req.path, "/api/things");
	assert_string_equal(req.query, "a=1&b=x+y");
	assert_string_equal(req.content_type, "application/json");
	assert_int_equal(req.body_len, 2);
	assert_memory_equal(req.body, "{}", 3);
	assert_string_equal(sbx_req_query(&req, "b"), "x y");
	assert_null(sbx_req_query(&req, "c"));
	assert_string_equal(sbx_req_cookie(&req, "sbx_session"), "tok");
	assert_string_equal(sbx_req_cookie(&req, "other"), "v");
	assert_string_equal(sbx_req_header(&req, "X-Custom-Thing"), "yes");
	assert_string_equal(sbx_req_header(&req, "x-custom-thing"), "yes");
	assert_string_equal(sbx_req_header(&req, "Authorization"),
	    "Bearer abc");
	assert_string_equal(sbx_req_header(&req, "Content-Type"),
	    "Application/JSON; charset=UTF-8");
	assert_string_equal(sbx_req_header(&req, "content-length"), "2");
	assert_null(sbx_req_header(&req, "Accept"));
	assert_null(sbx_req_header(&req, "Cookie-Monster"));
	sbx_req_fini(&req);
}

static void
test_req_path_fallback(void **state)
{
	char *env1[] = { "REQUEST_METHOD=GET", "PATH_INFO=",
	    "SCRIPT_NAME=/readyz", NULL };
	char *env2[] = { "REQUEST_METHOD=GET", "SCRIPT_NAME=/x",
	    "PATH_INFO=/api/", NULL };
	char *env3[] = { NULL };
	struct sbx_req req;

	(void)state;
	assert_int_equal(sbx_req_init_env(&req, env1, NULL, 0), SBX_OK);
	assert_string_equal(req.path, "/readyz");
	assert_null(req.body);
	assert_int_equal(req.body_len, 0);
	sbx_req_fini(&req);
	assert_int_equal(sbx_req_init_env(&req, env2, NULL, 0), SBX_OK);
	assert_string_equal(req.path, "/api/");
	assert_string_equal(req.query, "");
	sbx_req_fini(&req);
	assert_int_equal(sbx_req_init_env(&req, env3, NULL, 0), SBX_OK);
	assert_string_equal(req.path, "");
	assert_string_equal(req.content_type, "");
	sbx_req_fini(&req);
}

static void
test_wants_json(void **state)
{
	static const struct {
		const char *accept;
		int json;
	} cases[] = {
		{ NULL, 0 },
		{ "application/json", 1 },
		{ "Application/JSON", 1 },
		{ "application/json; charset=utf-8", 1 },
		{ "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		    0 },
		{ "*/*", 0 },
		{ "text/html, application/json", 1 },
		{ "text/html;q=0.9, application/json", 1 },
		{ "application/json;q=0.5, text/html", 0 },
		{ "application/json;q=0", 0 },
		{ "application/json ; q=0.8 , text/html;q=0.8", 1 },
		{ "application/jsonx", 0 },
		{ "application/problem+json", 0 },
	};
	char hdr[256];
	char *env[] = { "REQUEST_METHOD=GET", "PATH_INFO=/", hdr, NULL };
	char *env_none[] = { "REQUEST_METHOD=GET", "PATH_INFO=/", NULL };
	struct sbx_req req;
	size_t i;
	int got;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].accept != NULL)
			snprintf(hdr, sizeof(hdr), "HTTP_ACCEPT=%s",
			    cases[i].accept);
		assert_int_equal(sbx_req_init_env(&req,
		    cases[i].accept != NULL ? env : env_none, NULL, 0), SBX_OK);
		got = sbx_req_wants_json(&req);
		if (got != cases[i].json)
			fail_msg("Accept \"%s\": got %d", cases[i].accept != NULL
			    ? cases[i].accept : "(none)", got);
		sbx_req_fini(&req);
	}
}

/* ------------------------------------------------------------ dispatch */

static int handler_calls;

static void
h_list(struct sbx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	handler_calls++;
	cJSON_AddBoolToObject(o, "ok", 1);
	sbx_reply_json(req, 200, o);
}

static void
h_create(struct sbx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	handler_calls++;
	cJSON_AddStringToObject(o, "name", sbx_json_str(req->json, "name", ""));
	sbx_reply_json(req, 201, o);
}

static void
h_get(struct sbx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	handler_calls++;
	cJSON_AddStringToObject(o, "name", sbx_req_param(req, "name"));
	sbx_reply_json(req, 200, o);
}

static void
h_delete(struct sbx_req *req)
{
	handler_calls++;
	assert_non_null(req->principal);
	sbx_reply_empty(req, 204);
}

static void
h_admin(struct sbx_req *req)
{
	handler_calls++;
	assert_true(req->principal->is_admin);
	sbx_reply_empty(req, 204);
}

static void
h_forget(struct sbx_req *req)
{
	handler_calls++;
	/* Adds a header but never answers: the 500 must not keep it. */
	sbx_reply_header(req, "Set-Cookie", "half=done");
}

static void
h_login(struct sbx_req *req)
{
	handler_calls++;
	sbx_reply_redirect(req, "https://idp.example/auth?x=1");
}

static void
h_twice(struct sbx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	handler_calls++;
	sbx_reply_json(req, 200, o);
	sbx_reply_problem(req, 409, "changed %s", "under us");
}

static const struct sbx_field create_fields[] = {
	{ "name", SBX_F_STRING, 1, 1, 10, NULL, NULL },
	{ "count", SBX_F_INT, 0, 0, 100, NULL, NULL },
};

static const struct sbx_route routes[] = {
	{ "GET", "/api/things", h_list, 0, NULL, 0, NULL, 0 },
	{ "POST", "/api/things", h_create, SBX_ROUTE_JSON, create_fields,
	    sizeof(create_fields) / sizeof(create_fields[0]), NULL, 0 },
	{ "GET", "/api/things/{name}", h_get, 0, NULL, 0, NULL, 0 },
	{ "DELETE", "/api/things/{name}", h_delete, SBX_ROUTE_AUTH, NULL, 0,
	    NULL, 0 },
	{ "POST", "/api/admin", h_admin, SBX_ROUTE_ADMIN, NULL, 0, NULL, 0 },
	{ "GET", "/api/forget", h_forget, 0, NULL, 0, NULL, 0 },
	{ "GET", "/auth/login", h_login, SBX_ROUTE_HTML, NULL, 0, NULL, 0 },
	{ "GET", "/api/twice", h_twice, 0, NULL, 0, NULL, 0 },
	{ "GET", "/api/noauth", h_delete, SBX_ROUTE_AUTH, NULL, 0, NULL, 0 },
	{ "POST", "/api/person", h_delete, SBX_ROUTE_AUTH | SBX_ROUTE_PERSON,
	    NULL, 0, NULL, 0 },
};

/*
 * "Bearer user" and "Bearer admin" sign in, "Bearer pat" as user with an
 * API token; anything else is refused.
 */
static enum sbx_err
fake_authenticate(struct sbx_req *req)
{
	const char *h = sbx_req_header(req, "Authorization");
	struct sbx_principal *p;

	if (h == NULL || (strcmp(h, "Bearer user") != 0 &&
	    strcmp(h, "Bearer admin") != 0 && strcmp(h, "Bearer pat") != 0)) {
		sbx_reply_err(req, SBX_EAUTH, "missing or invalid token");
		return SBX_EAUTH;
	}
	p = calloc(1, sizeof(*p));
	assert_non_null(p);
	p->user_id = strdup("u-1");
	p->email = strdup("someone@example.com");
	p->is_admin = strcmp(h, "Bearer admin") == 0;
	if (strcmp(h, "Bearer pat") == 0)
		p->api_token_id = strdup("t-1");
	req->principal = p;
	return SBX_OK;
}

/* A hook that refuses without replying: dispatch answers for it. */
static enum sbx_err
silent_authenticate(struct sbx_req *req)
{
	(void)req;
	return SBX_EUNAVAILABLE;
}

static const struct sbx_app app = {
	.name = "test_http",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.authenticate = fake_authenticate,
};

static const struct sbx_app app_noauth = {
	.name = "test_http",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.authenticate = NULL,
};

static const struct sbx_app app_silent = {
	.name = "test_http",
	.routes = routes,
	.nroutes = sizeof(routes) / sizeof(routes[0]),
	.authenticate = silent_authenticate,
};

/* Builds a request from a method, path, up to 4 more "K=V" and a body. */
static void
build(struct sbx_req *req, const char *method, const char *path,
    const char *const *extra, const char *body)
{
	char m[64], p[256];
	char *env[8];
	size_t n = 0, i;

	snprintf(m, sizeof(m), "REQUEST_METHOD=%s", method);
	snprintf(p, sizeof(p), "PATH_INFO=%s", path);
	env[n++] = m;
	env[n++] = p;
	for (i = 0; extra != NULL && extra[i] != NULL && i < 4; i++)
		env[n++] = (char *)extra[i];
	env[n] = NULL;
	assert_int_equal(sbx_req_init_env(req, env, body,
	    body != NULL ? strlen(body) : 0), SBX_OK);
}

static void
test_dispatch_table(void **state)
{
	static const char *const json_ct[] = {
		"CONTENT_TYPE=application/json", NULL };
	static const char *const json_ct_cs[] = {
		"CONTENT_TYPE=APPLICATION/Json ; charset=utf-8", NULL };
	static const char *const text_ct[] = {
		"CONTENT_TYPE=text/plain", NULL };
	static const char *const form_ct[] = {
		"CONTENT_TYPE=application/x-www-form-urlencoded", NULL };
	static const char *const big_cl[] = {
		"CONTENT_TYPE=application/json", "CONTENT_LENGTH=1000000", NULL };
	static const char *const user[] = {
		"HTTP_AUTHORIZATION=Bearer user", NULL };
	static const char *const admin[] = {
		"HTTP_AUTHORIZATION=Bearer admin", NULL };
	static const char *const pat[] = {
		"HTTP_AUTHORIZATION=Bearer pat", NULL };
	static const char *const bad_token[] = {
		"HTTP_AUTHORIZATION=Bearer nope", NULL };
	static const char *const bad_query[] = {
		"QUERY_STRING=a=%zz", NULL };
	static const char *const good_query[] = {
		"QUERY_STRING=a=1", NULL };
	static const char *const big_wrong_ct[] = {
		"CONTENT_TYPE=text/plain", "CONTENT_LENGTH=1000000", NULL };
	static const char *const admin_big[] = {
		"HTTP_AUTHORIZATION=Bearer nope", "CONTENT_LENGTH=1000000", NULL };
	static const struct {
		const char *method;
		const char *path;
		const char *const *extra;
		const char *body;
		int status;
		const char *slug;	/* problem slug; NULL: not a problem */
		const char *field;	/* "field" of a 400 */
		const char *allow;	/* Allow of a 405 */
		int called;		/* the handler ran */
	} cases[] = {
		{ "GET", "/api/things", NULL, NULL, 200, NULL, NULL, NULL, 1 },
		{ "HEAD", "/api/things", NULL, NULL, 200, NULL, NULL, NULL, 1 },
		{ "GET", "/api/things/t-1", NULL, NULL, 200, NULL, NULL, NULL,
		    1 },
		{ "GET", "/api/things/t-1", good_query, NULL, 200, NULL, NULL,
		    NULL, 1 },
		/* 404: no route, wrong case, empty or escaped-slash segments */
		{ "GET", "/api/nothing", NULL, NULL, 404, "not-found", NULL,
		    NULL, 0 },
		{ "GET", "/API/things", NULL, NULL, 404, "not-found", NULL, NULL,
		    0 },
		{ "GET", "/api/things/", NULL, NULL, 404, "not-found", NULL,
		    NULL, 0 },
		{ "GET", "/api/things/a%2Fb", NULL, NULL, 404, "not-found", NULL,
		    NULL, 0 },
		{ "GET", "", NULL, NULL, 404, "not-found", NULL, NULL, 0 },
		/* 405 with the methods of every matching pattern */
		{ "PUT", "/api/things", NULL, NULL, 405, "method-not-allowed",
		    NULL, "GET, POST, HEAD", 0 },
		{ "POST", "/api/things/x", NULL, NULL, 405,
		    "method-not-allowed", NULL, "GET, DELETE, HEAD", 0 },
		{ "DELETE", "/api/admin", admin, NULL, 405,
		    "method-not-allowed", NULL, "POST", 0 },
		{ "get", "/api/things", NULL, NULL, 405, "method-not-allowed",
		    NULL, "GET, POST, HEAD", 0 },
		/* 405 comes before 415, 413 and 401 */
		{ "PATCH", "/api/things", big_wrong_ct, NULL, 405,
		    "method-not-allowed", NULL, "GET, POST, HEAD", 0 },
		/* 415 */
		{ "POST", "/api/things", NULL, "{\"name\":\"a\"}", 415,
		    "unsupported-media-type", NULL, NULL, 0 },
		{ "POST", "/api/things", text_ct, "{\"name\":\"a\"}", 415,
		    "unsupported-media-type", NULL, NULL, 0 },
		{ "POST", "/api/things", form_ct, "name=a", 415,
		    "unsupported-media-type", NULL, NULL, 0 },
		/* 415 comes before 413 */
		{ "POST", "/api/things", big_wrong_ct, NULL, 415,
		    "unsupported-media-type", NULL, NULL, 0 },
		/* 413: announced or actual size over the cap */
		{ "POST", "/api/things", big_cl, NULL, 413, "payload-too-large",
		    NULL, NULL, 0 },
		{ "POST", "/api/things", json_ct,
		    "{\"name\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
		    413, "payload-too-large", NULL, NULL, 0 },
		/* 413 comes before 401 */
		{ "POST", "/api/admin", admin_big, NULL, 413,
		    "payload-too-large", NULL, NULL, 0 },
		/* 400: JSON and fields */
		{ "POST", "/api/things", json_ct, "{\"name\":\"abc\"}", 201,
		    NULL, NULL, NULL, 1 },
		{ "POST", "/api/things", json_ct_cs,
		    "{\"name\":\"abc\",\"count\":3}", 201, NULL, NULL, NULL, 1 },
		{ "POST", "/api/things", json_ct, "{\"name\":", 400,
		    "invalid-request", "body", NULL, 0 },
		{ "POST", "/api/things", json_ct, NULL, 400, "invalid-request",
		    "body", NULL, 0 },
		{ "POST", "/api/things", json_ct, "[1,2]", 400,
		    "invalid-request", "body", NULL, 0 },
		{ "POST", "/api/things", json_ct, "\"abc\"", 400,
		    "invalid-request", "body", NULL, 0 },
		{ "POST", "/api/things", json_ct, "{\"name\":5}", 400,
		    "invalid-request", "name", NULL, 0 },
		{ "POST", "/api/things", json_ct, "{\"name\":\"a\",\"count\":\"3\"}",
		    400, "invalid-request", "count", NULL, 0 },
		{ "POST", "/api/things", json_ct, "{\"name\":\"a\",\"count\":1.5}",
		    400, "invalid-request", "count", NULL, 0 },
		{ "POST", "/api/things", json_ct, "{\"count\":1}", 400,
		    "invalid-request", "name", NULL, 0 },
		{ "POST", "/api/things", json_ct, "{\"name\":\"a\",\"x\":1}", 400,
		    "invalid-request", "x", NULL, 0 },
		{ "GET", "/api/things", bad_query, NULL, 400, "invalid-request",
		    "query", NULL, 0 },
		/* authentication */
		{ "DELETE", "/api/things/x", NULL, NULL, 401, "unauthorized",
		    NULL, NULL, 0 },
		{ "DELETE", "/api/things/x", bad_token, NULL, 401, "unauthorized",
		    NULL, NULL, 0 },
		{ "DELETE", "/api/things/x", user, NULL, 204, NULL, NULL, NULL,
		    1 },
		{ "POST", "/api/admin", NULL, NULL, 401, "unauthorized", NULL,
		    NULL, 0 },
		{ "POST", "/api/admin", user, NULL, 403, "forbidden", NULL, NULL,
		    0 },
		{ "POST", "/api/admin", admin, NULL, 204, NULL, NULL, NULL, 1 },
		/* a route for a person refuses an API token, others take it */
		{ "POST", "/api/person", pat, NULL, 403, "forbidden", NULL, NULL,
		    0 },
		{ "POST", "/api/person", NULL, NULL, 401, "unauthorized", NULL,
		    NULL, 0 },
		{ "POST", "/api/person", user, NULL, 204, NULL, NULL, NULL, 1 },
		{ "DELETE", "/api/things/x", pat, NULL, 204, NULL, NULL, NULL,
		    1 },
		/* a handler that forgets to answer, one that answers twice */
		{ "GET", "/api/forget", NULL, NULL, 500, "internal-error", NULL,
		    NULL, 1 },
		{ "GET", "/api/twice", NULL, NULL, 409, "conflict", NULL, NULL,
		    1 },
		{ "GET", "/auth/login", NULL, NULL, 302, NULL, NULL, NULL, 1 },
	};
	struct sbx_req req;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		handler_calls = 0;
		build(&req, cases[i].method, cases[i].path, cases[i].extra,
		    cases[i].body);
		sbx_http_dispatch(&app, &req);
		if (req.resp.status != cases[i].status)
			fail_msg("case %lu %s %s: status %d, expected %d: %.*s",
			    (unsigned long)i, cases[i].method, cases[i].path,
			    req.resp.status, cases[i].status,
			    (int)req.resp.body_len,
			    req.resp.body != NULL ? req.resp.body : "");
		assert_int_equal(handler_calls, cases[i].called);
		assert_true(req.resp.replied);
		if (cases[i].slug != NULL)
			assert_problem(&req, cases[i].status, cases[i].slug,
			    cases[i].field);
		if (cases[i].allow != NULL) {
			assert_non_null(resp_header(&req, "Allow", buf,
			    sizeof(buf)));
			assert_string_equal(buf, cases[i].allow);
		} else {
			assert_null(resp_header(&req, "Allow", buf,
			    sizeof(buf)));
		}
		/* Every API answer, problems included, is not to be cached. */
		if (strcmp(cases[i].path, "/auth/login") != 0) {
			assert_non_null(resp_header(&req, "Cache-Control", buf,
			    sizeof(buf)));
			assert_string_equal(buf, "no-store");
		} else {
			assert_null(resp_header(&req, "Cache-Control", buf,
			    sizeof(buf)));
		}
		assert_int_equal(resp_header_count(&req, "Cache-Control"),
		    strcmp(cases[i].path, "/auth/login") != 0);
		assert_int_equal(resp_header_count(&req, "X-Request-Id"), 1);
		sbx_req_fini(&req);
	}
}

static void
test_dispatch_bodies(void **state)
{
	static const char *const json_ct[] = {
		"CONTENT_TYPE=application/json", NULL };
	struct sbx_req req;
	char buf[512];
	cJSON *j;

	(void)state;
	/* The success answers carry what the handler put there. */
	build(&req, "GET", "/api/things/dev%2D1", NULL, NULL);
	sbx_http_dispatch(&app, &req);
	assert_int_equal(req.resp.status, 200);
	assert_string_equal(resp_header(&req, "Content-Type", buf, sizeof(buf)),
	    "application/json");
	j = resp_json(&req);
	assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring,
	    "dev-1");
	cJSON_Delete(j);
	assert_ptr_equal(req.route, &routes[2]);
	sbx_req_fini(&req);

	build(&req, "POST", "/api/things", json_ct, "{\"name\":\"abc\"}");
	sbx_http_dispatch(&app, &req);
	assert_int_equal(req.resp.status, 201);
	assert_non_null(req.json);
	j = resp_json(&req);
	assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring, "abc");
	cJSON_Delete(j);
	sbx_req_fini(&req);

	/* 401: the body, and the challenge. */
	build(&req, "DELETE", "/api/things/x", NULL, NULL);
	sbx_http_dispatch(&app, &req);
	assert_problem(&req, 401, "unauthorized", NULL);
	assert_string_equal(resp_header(&req, "WWW-Authenticate", buf,
	    sizeof(buf)), "Bearer");
	assert_string_equal(json_detail(&req, buf, sizeof(buf)),
	    "missing or invalid token");
	assert_null(req.principal);
	sbx_req_fini(&req);

	/* 400 for bad JSON says why. */
	build(&req, "POST", "/api/things", json_ct, "{\"name\":");
	sbx_http_dispatch(&app, &req);
	assert_problem(&req, 400, "invalid-request", "body");
	assert_true(strncmp(json_detail(&req, buf, sizeof(buf)),
	    "body is not valid JSON: ", 24) == 0);
	sbx_req_fini(&req);

	/* 415 names the type expected. */
	build(&req, "POST", "/api/things", NULL, "{}");
	sbx_http_dispatch(&app, &req);
	assert_problem(&req, 415, "unsupported-media-type", NULL);
	assert_non_null(strstr(json_detail(&req, buf, sizeof(buf)),
	    "application/json"));
	sbx_req_fini(&req);

	/* The 500 for a forgetful handler drops the headers it added. */
	build(&req, "GET", "/api/forget", NULL, NULL);
	sbx_http_dispatch(&app, &req);
	assert_problem(&req, 500, "internal-error", NULL);
	assert_null(resp_header(&req, "Set-Cookie", buf, sizeof(buf)));
	sbx_req_fini(&req);

	/* A redirect: Location, no body, no no-store. */
	build(&req, "GET", "/auth/login", NULL, NULL);
	sbx_http_dispatch(&app, &req);
	assert_int_equal(req.resp.status, 302);
	assert_string_equal(resp_header(&req, "Location", buf, sizeof(buf)),
	    "https://idp.example/auth?x=1");
	assert_null(req.resp.body);
	assert_int_equal(req.resp.body_len, 0);
	assert_null(resp_header(&req, "Content-Type", buf, sizeof(buf)));
	sbx_req_fini(&req);

	/* The last answer wins, with one Content-Type. */
	build(&req, "GET", "/api/twice", NULL, NULL);
	sbx_http_dispatch(&app, &req);
	assert_problem(&req, 409, "conflict", NULL);
	assert_string_equal(json_detail(&req, buf, sizeof(buf)),
	    "changed under us");
	sbx_req_fini(&req);
}

static void
test_dispatch_auth_hooks(void **state)
{
	static const char *const user[] = {
		"HTTP_AUTHORIZATION=Bearer user", NULL };
	struct sbx_req req;
	char buf[128];

	(void)state;
	/* An app with an AUTH route and no hook is a bug: 500, no handler. */
	handler_calls = 0;
	build(&req, "GET", "/api/noauth", user, NULL);
	sbx_http_dispatch(&app_noauth, &req);
	assert_problem(&req, 500, "internal-error", NULL);
	assert_int_equal(handler_calls, 0);
	sbx_req_fini(&req);

	/* Routes without AUTH do not call the hook. */
	build(&req, "GET", "/api/things", NULL, NULL);
	sbx_http_dispatch(&app_noauth, &req);
	assert_int_equal(req.resp.status, 200);
	sbx_req_fini(&req);

	/* A hook that fails without answering: its code is answered. */
	handler_calls = 0;
	build(&req, "GET", "/api/noauth", NULL, NULL);
	sbx_http_dispatch(&app_silent, &req);
	assert_problem(&req, 503, "service-unavailable", NULL);
	assert_string_equal(resp_header(&req, "Retry-After", buf, sizeof(buf)),
	    "1");
	assert_int_equal(handler_calls, 0);
	sbx_req_fini(&req);
}

static void
test_request_id(void **state)
{
	static const struct {
		const char *header;	/* HTTP_X_REQUEST_ID, or NULL */
		int kept;
	} cases[] = {
		{ "0123456789abcdef0123456789abcdef", 1 },
		{ "req-1_a.B", 1 },
		{ "a", 1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    1 },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		    0 },
		{ "", 0 },
		{ "has space", 0 },
		{ "x\"y", 0 },
		{ "a/b", 0 },
		{ NULL, 0 },
	};
	char hdr[128], buf[128], prev[64] = "";
	const char *extra[] = { hdr, NULL };
	struct sbx_req req;
	size_t i, k;
	cJSON *j;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(hdr, sizeof(hdr), "HTTP_X_REQUEST_ID=%s",
		    cases[i].header != NULL ? cases[i].header : "");
		build(&req, "GET", "/api/nothing",
		    cases[i].header != NULL ? extra : NULL, NULL);
		sbx_http_dispatch(&app, &req);
		if (cases[i].kept) {
			assert_string_equal(req.request_id, cases[i].header);
		} else {
			assert_int_equal(strlen(req.request_id), 32);
			for (k = 0; k < 32; k++)
				assert_non_null(strchr("0123456789abcdef",
				    req.request_id[k]));
			/* Made fresh for each request. */
			assert_string_not_equal(req.request_id, prev);
			snprintf(prev, sizeof(prev), "%s", req.request_id);
		}
		assert_string_equal(resp_header(&req, "X-Request-Id", buf,
		    sizeof(buf)), req.request_id);
		j = resp_json(&req);
		assert_string_equal(cJSON_GetObjectItem(j,
		    "request_id")->valuestring, req.request_id);
		cJSON_Delete(j);
		sbx_req_fini(&req);
	}
}

static void
test_reply_err(void **state)
{
	static const struct {
		enum sbx_err err;
		int status;
		const char *slug;
		const char *header;	/* a header it must add */
		const char *value;
	} cases[] = {
		{ SBX_ENOTFOUND, 404, "not-found", NULL, NULL },
		{ SBX_ECONFLICT, 409, "conflict", NULL, NULL },
		{ SBX_EINVAL, 400, "invalid-request", NULL, NULL },
		{ SBX_EPARSE, 400, "invalid-request", NULL, NULL },
		{ SBX_ETOOBIG, 413, "payload-too-large", NULL, NULL },
		{ SBX_EAUTH, 401, "unauthorized", "WWW-Authenticate", "Bearer" },
		{ SBX_EFORBIDDEN, 403, "forbidden", NULL, NULL },
		{ SBX_EUNAVAILABLE, 503, "service-unavailable", "Retry-After",
		    "1" },
		{ SBX_ESERIALIZE, 503, "service-unavailable", "Retry-After",
		    "1" },
		{ SBX_ETHROTTLED, 503, "service-unavailable", NULL, NULL },
		{ SBX_EDB, 500, "internal-error", NULL, NULL },
		{ SBX_ENOMEM, 500, "internal-error", NULL, NULL },
		{ SBX_EREMOTE, 500, "internal-error", NULL, NULL },
		{ SBX_EINTERNAL, 500, "internal-error", NULL, NULL },
		{ SBX_ECONFIG, 500, "internal-error", NULL, NULL },
	};
	const char *secret = "relation users at db.internal:5432";
	struct sbx_req req;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		build(&req, "GET", "/api/things", NULL, NULL);
		sbx_reply_err(&req, cases[i].err, secret);
		assert_problem(&req, cases[i].status, cases[i].slug, NULL);
		if (cases[i].header != NULL) {
			assert_non_null(resp_header(&req, cases[i].header, buf,
			    sizeof(buf)));
			assert_string_equal(buf, cases[i].value);
		}
		json_detail(&req, buf, sizeof(buf));
		/* A 5xx never shows the caller's detail; a 4xx does. */
		if (cases[i].status >= 500)
			assert_null(strstr(buf, "db.internal"));
		else
			assert_string_equal(buf, secret);
		sbx_req_fini(&req);
	}
	/* NULL detail is fine. */
	build(&req, "GET", "/api/things", NULL, NULL);
	sbx_reply_err(&req, SBX_ENOTFOUND, NULL);
	assert_problem(&req, 404, "not-found", NULL);
	sbx_req_fini(&req);
}

static void
test_reply_invalid_and_headers(void **state)
{
	struct sbx_req req;
	char buf[256];

	(void)state;
	build(&req, "GET", "/api/things", NULL, NULL);
	sbx_reply_invalid(&req, "ttl_minutes", "must be at most %d", 240);
	assert_problem(&req, 400, "invalid-request", "ttl_minutes");
	assert_string_equal(json_detail(&req, buf, sizeof(buf)),
	    "must be at most 240");

	/* CR or LF in a header value, or a bad name, is dropped. */
	sbx_reply_header(&req, "X-Ok", "fine");
	sbx_reply_header(&req, "X-Evil", "a\r\nSet-Cookie: x=1");
	sbx_reply_header(&req, "X-Evil2", "a\nb");
	sbx_reply_header(&req, "X-Evil3", "a\rb");
	sbx_reply_header(&req, "Bad Name", "v");
	sbx_reply_header(&req, "Bad:Name", "v");
	sbx_reply_header(&req, "", "v");
	sbx_reply_header(&req, "X-Null", NULL);
	assert_string_equal(resp_header(&req, "X-Ok", buf, sizeof(buf)), "fine");
	assert_null(resp_header(&req, "X-Evil", buf, sizeof(buf)));
	assert_null(resp_header(&req, "X-Evil2", buf, sizeof(buf)));
	assert_null(resp_header(&req, "X-Evil3", buf, sizeof(buf)));
	assert_null(resp_header(&req, "Set-Cookie", buf, sizeof(buf)));
	assert_null(strstr(req.resp.headers, "Bad"));
	assert_null(strstr(req.resp.headers, "X-Null"));

	/* A redirect to a location with a newline is not followed. */
	sbx_reply_redirect(&req, "https://x.example/\r\nSet-Cookie: a=b");
	assert_null(resp_header(&req, "Location", buf, sizeof(buf)));
	assert_null(strstr(req.resp.headers, "Set-Cookie"));

	/* JSON with a NULL body (a failed allocation) is a 500. */
	sbx_reply_json(&req, 200, NULL);
	assert_problem(&req, 500, "internal-error", NULL);

	sbx_reply_empty(&req, 204);
	assert_int_equal(req.resp.status, 204);
	assert_null(req.resp.body);
	assert_null(resp_header(&req, "Content-Type", buf, sizeof(buf)));
	sbx_req_fini(&req);

	sbx_principal_free(NULL);
}

/* ------------------------------------------------------------ main */

static int
setup(void **state)
{
	(void)state;
	/* The cap the dispatch tests run with; nothing from a file. */
	unsetenv("SBX_ENV_FILE");
	setenv("SBX_MAX_BODY_BYTES", "64", 1);
	setenv("LOG_LEVEL", "error", 1);
	if (sbx_config_load("test_http", 0) != SBX_OK)
		return -1;
	return sbx_config()->max_body_bytes == TEST_CAP ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_parse_query),
		cmocka_unit_test(test_parse_cookies),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_now_us),
		cmocka_unit_test(test_req_fields),
		cmocka_unit_test(test_req_path_fallback),
		cmocka_unit_test(test_wants_json),
		cmocka_unit_test(test_dispatch_table),
		cmocka_unit_test(test_dispatch_bodies),
		cmocka_unit_test(test_dispatch_auth_hooks),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_reply_err),
		cmocka_unit_test(test_reply_invalid_and_headers),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
