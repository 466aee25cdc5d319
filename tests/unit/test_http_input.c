/*
 * Unit tests of the inputs a route declares (common/api/http_input.c):
 * sbx_http_inputs_check over a table of cases (integers with bounds and
 * overflow, enums, strings with length and a charset check, required and
 * optional, repeated, empty, admin-only), the route table check, and
 * dispatch answering a bad value 400 (403) naming the parameter before
 * the handler, which sees only checked values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <cjson/cJSON.h>

#include "common/core/config.h"
#include "common/api/http.h"

/* Lower-case letters and digits only, as a charset check. */
static int
alnum_lower(const char *s)
{
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static const char *const colours[] = { "red", "green", "blue", NULL };

static const struct sbx_input decl[] = {
	{ "limit", SBX_I_INT, 0, 1, 100, 50, NULL, NULL,
	    "limit is an integer from 1 to 100" },
	{ "big", SBX_I_INT, 0, 0, 9223372036854775807LL, 0, NULL, NULL, NULL },
	{ "colour", SBX_I_ENUM, 0, 0, 0, 0, colours, NULL, NULL },
	{ "tag", SBX_I_STRING, 0, 2, 8, 0, NULL, alnum_lower, NULL },
	{ "owner", SBX_I_STRING, SBX_I_ADMIN | SBX_I_EMPTY_ABSENT | SBX_I_LOWER,
	    0, 0, 0, NULL, NULL, NULL },
	{ "who", SBX_I_STRING, SBX_I_ADMIN_ONLY, 0, 0, 0, NULL, NULL, NULL },
	{ "key", SBX_I_STRING, SBX_I_REQUIRED, 0, 0, 0, NULL, NULL, NULL },
	{ "name", SBX_I_STRING, SBX_I_PATH, 3, 63, 0, NULL, alnum_lower,
	    "names are 3 to 63 letters and digits" },
};
#define NDECL (sizeof(decl) / sizeof(decl[0]))
enum { LIMIT, BIG, COLOUR, TAG, OWNER, WHO, KEY, NAME };

struct input_case {
	const char *query;	/* without key=, which is added unless "!" */
	int admin;
	enum sbx_err want;
	const char *bad;	/* the input named, on failure */
	const char *detail;	/* a piece of the detail, on failure */
	int at;			/* on success: the input looked at */
	const char *str;	/* its string, NULL absent */
	long long num;		/* its number */
};

static const struct input_case cases[] = {
	/* Integers: the default, bounds, digits only, overflow. */
	{ "", 0, SBX_OK, NULL, NULL, LIMIT, NULL, 50 },
	{ "limit=1", 0, SBX_OK, NULL, NULL, LIMIT, "1", 1 },
	{ "limit=100", 0, SBX_OK, NULL, NULL, LIMIT, "100", 100 },
	{ "limit=007", 0, SBX_OK, NULL, NULL, LIMIT, "007", 7 },
	{ "limit=0", 0, SBX_EINVAL, "limit", "limit is an integer from 1 to 100",
	    0, NULL, 0 },
	{ "limit=101", 0, SBX_EINVAL, "limit", "from 1 to 100", 0, NULL, 0 },
	{ "limit=-5", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit=%2B5", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit=+5", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit=5x", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit=1.5", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit=", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
	{ "limit=99999999999999999999", 0, SBX_EINVAL, "limit", NULL, 0, NULL,
	    0 },
	{ "big=9223372036854775807", 0, SBX_OK, NULL, NULL, BIG,
	    "9223372036854775807", 9223372036854775807LL },
	{ "big=9223372036854775808", 0, SBX_EINVAL, "big",
	    "big is an integer from 0 to", 0, NULL, 0 },
	{ "big=18446744073709551617", 0, SBX_EINVAL, "big", NULL, 0, NULL, 0 },
	/* Repeated: refused, even when both would do. */
	{ "limit=5&limit=5", 0, SBX_EINVAL, "limit", "limit: appears more "
	    "than once", 0, NULL, 0 },
	/* Enums: exactly one of the choices; num is its index. */
	{ "colour=green", 0, SBX_OK, NULL, NULL, COLOUR, "green", 1 },
	{ "", 0, SBX_OK, NULL, NULL, COLOUR, NULL, -1 },
	{ "colour=GREEN", 0, SBX_EINVAL, "colour", "colour is one of red, "
	    "green, blue", 0, NULL, 0 },
	{ "colour=", 0, SBX_EINVAL, "colour", NULL, 0, NULL, 0 },
	{ "colour=gree", 0, SBX_EINVAL, "colour", NULL, 0, NULL, 0 },
	/* Strings: length in bytes, then the charset. */
	{ "tag=ab", 0, SBX_OK, NULL, NULL, TAG, "ab", 0 },
	{ "tag=abcdefgh", 0, SBX_OK, NULL, NULL, TAG, "abcdefgh", 0 },
	{ "tag=a", 0, SBX_EINVAL, "tag", "tag is not valid", 0, NULL, 0 },
	{ "tag=abcdefghi", 0, SBX_EINVAL, "tag", NULL, 0, NULL, 0 },
	{ "tag=", 0, SBX_EINVAL, "tag", NULL, 0, NULL, 0 },
	{ "tag=ab%20c", 0, SBX_EINVAL, "tag", NULL, 0, NULL, 0 },
	{ "tag=AB", 0, SBX_EINVAL, "tag", NULL, 0, NULL, 0 },
	/* An admin's filter: lower-cased; empty or anyone else's is none. */
	{ "owner=Bob@Example.COM", 1, SBX_OK, NULL, NULL, OWNER,
	    "bob@example.com", 0 },
	{ "owner=bob@example.com", 0, SBX_OK, NULL, NULL, OWNER, NULL, 0 },
	{ "owner=", 1, SBX_OK, NULL, NULL, OWNER, NULL, 0 },
	{ "owner=a&owner=b", 0, SBX_OK, NULL, NULL, OWNER, NULL, 0 },
	{ "owner=a&owner=b", 1, SBX_EINVAL, "owner", "more than once", 0,
	    NULL, 0 },
	/* Admin-only: anyone else naming it is refused 403. */
	{ "who=x", 1, SBX_OK, NULL, NULL, WHO, "x", 0 },
	{ "who=x", 0, SBX_EFORBIDDEN, "who", "only an administrator", 0, NULL,
	    0 },
	{ "who=", 0, SBX_EFORBIDDEN, "who", NULL, 0, NULL, 0 },
	/* Required: missing is refused; empty is a value (no bounds). */
	{ "!", 0, SBX_EINVAL, "key", "key: is required", 0, NULL, 0 },
	{ "!key=", 0, SBX_OK, NULL, NULL, KEY, "", 0 },
	/* Undeclared parameters are ignored. */
	{ "other=1&other=2&x", 0, SBX_OK, NULL, NULL, LIMIT, NULL, 50 },
	/* The first bad input in table order is the one named. */
	{ "tag=A&limit=0", 0, SBX_EINVAL, "limit", NULL, 0, NULL, 0 },
};

static void
test_inputs_check(void **state)
{
	struct sbx_params q, path;
	struct sbx_param pp = { "name", "abc" };
	struct sbx_arg args[NDECL];
	const char *bad;
	char detail[128], query[256];
	enum sbx_err err;
	size_t i;

	(void)state;
	path.items = &pp;
	path.n = 1;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct input_case *c = &cases[i];

		if (c->query[0] == '!')
			snprintf(query, sizeof(query), "%s", c->query + 1);
		else
			snprintf(query, sizeof(query), "key=k%s%s",
			    c->query[0] != '\0' ? "&" : "", c->query);
		assert_int_equal(sbx_http_parse_query(query, &q), SBX_OK);
		memset(args, 0xa5, sizeof(args));
		err = sbx_http_inputs_check(decl, NDECL, &q, &path, c->admin,
		    args, &bad, detail, sizeof(detail));
		if (err != c->want)
			fail_msg("case %zu (%s): %d, want %d (%s)", i, c->query,
			    err, c->want, detail);
		if (err != SBX_OK) {
			assert_non_null(bad);
			assert_string_equal(bad, c->bad);
			if (c->detail != NULL &&
			    strstr(detail, c->detail) == NULL)
				fail_msg("case %zu: detail \"%s\"", i, detail);
		} else {
			assert_null(bad);
			if (c->str == NULL)
				assert_null(args[c->at].str);
			else
				assert_string_equal(args[c->at].str, c->str);
			assert_int_equal(args[c->at].num, c->num);
			assert_string_equal(args[NAME].str, "abc");
		}
		sbx_params_fini(&q);
	}
}

static void
test_inputs_path(void **state)
{
	struct sbx_params q = { NULL, 0 }, path;
	struct sbx_param pp = { "name", "ab" };
	struct sbx_param key = { "key", "k" };
	struct sbx_arg args[NDECL];
	const char *bad;
	char detail[128];

	(void)state;
	q.items = &key;
	q.n = 1;
	path.items = &pp;
	path.n = 1;
	/* A path value is checked like any other, with the table's detail. */
	assert_int_equal(sbx_http_inputs_check(decl, NDECL, &q, &path, 0, args,
	    &bad, detail, sizeof(detail)), SBX_EINVAL);
	assert_string_equal(bad, "name");
	assert_string_equal(detail, "names are 3 to 63 letters and digits");
	/* A query parameter of the same name does not stand in for it. */
	path.n = 0;
	assert_int_equal(sbx_http_inputs_check(decl + NAME, 1, &path, &q, 0,
	    args, &bad, detail, sizeof(detail)), SBX_OK);
	assert_null(args[0].str);
}

static void
h_noop(struct sbx_req *req)
{
	(void)req;
}

static void
test_routes_check(void **state)
{
	static const struct sbx_input path_name[] = {
		{ "name", SBX_I_STRING, SBX_I_PATH, 0, 0, 0, NULL, NULL, NULL },
	};
	static const struct sbx_input query_name[] = {
		{ "name", SBX_I_STRING, 0, 0, 0, 0, NULL, NULL, NULL },
	};
	static const struct sbx_input twice[] = {
		{ "a", SBX_I_STRING, 0, 0, 0, 0, NULL, NULL, NULL },
		{ "a", SBX_I_INT, 0, 1, 2, 1, NULL, NULL, NULL },
	};
	static const struct sbx_input no_choices[] = {
		{ "a", SBX_I_ENUM, 0, 0, 0, 0, NULL, NULL, NULL },
	};
	static const struct sbx_input upside_down[] = {
		{ "a", SBX_I_INT, 0, 10, 1, 1, NULL, NULL, NULL },
	};
	const struct sbx_route good[] = {
		{ "GET", "/x/{name}", h_noop, 0, NULL, 0, path_name, 1 },
		{ "GET", "/x", h_noop, 0, NULL, 0, query_name, 1 },
		{ "GET", "/y", h_noop, 0, NULL, 0, NULL, 0 },
	};
	const struct sbx_route bad[][1] = {
		{ { "GET", "/x/{name}", h_noop, 0, NULL, 0, NULL, 0 } },
		{ { "GET", "/x/{name}", h_noop, 0, NULL, 0, query_name, 1 } },
		{ { "GET", "/x", h_noop, 0, NULL, 0, path_name, 1 } },
		{ { "GET", "/x/{name}/{name}", h_noop, 0, NULL, 0, path_name,
		    1 } },
		{ { "GET", "/x", h_noop, 0, NULL, 0, twice, 2 } },
		{ { "GET", "/x", h_noop, 0, NULL, 0, no_choices, 1 } },
		{ { "GET", "/x", h_noop, 0, NULL, 0, upside_down, 1 } },
		{ { "GET", "/x", h_noop, 0, NULL, 0, twice,
		    SBX_ROUTE_INPUTS_MAX + 1 } },
	};
	char why[256];
	size_t i;

	(void)state;
	assert_int_equal(sbx_http_routes_check(good, 3, why, sizeof(why)), 1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (sbx_http_routes_check(bad[i], 1, why, sizeof(why)) != 0)
			fail_msg("bad table %zu passed", i);
		assert_true(why[0] != '\0');
	}
}

/* ------------------------------------------------------------ dispatch */

static int handled;

static void
h_list(struct sbx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	handled++;
	cJSON_AddNumberToObject(o, "limit",
	    (double)sbx_req_arg(req, "limit")->num);
	cJSON_AddNumberToObject(o, "colour",
	    (double)sbx_req_arg(req, "colour")->num);
	/* Undeclared: reads as absent (and is logged). */
	cJSON_AddBoolToObject(o, "other",
	    sbx_req_arg(req, "other")->str != NULL);
	sbx_reply_json(req, 200, o);
}

static void
h_get(struct sbx_req *req)
{
	cJSON *o = cJSON_CreateObject();

	handled++;
	cJSON_AddStringToObject(o, "name", sbx_req_arg(req, "name")->str);
	sbx_reply_json(req, 200, o);
}

static const struct sbx_input list_inputs[] = {
	{ "limit", SBX_I_INT, 0, 1, 100, 50, NULL, NULL,
	    "limit is an integer from 1 to 100" },
	{ "colour", SBX_I_ENUM, 0, 0, 0, 0, colours, NULL, NULL },
	{ "who", SBX_I_STRING, SBX_I_ADMIN_ONLY, 0, 0, 0, NULL, NULL, NULL },
};

static const struct sbx_input get_inputs[] = {
	{ "name", SBX_I_STRING, SBX_I_PATH | SBX_I_LOWER, 3, 63, 0, NULL, NULL,
	    "names are 3 to 63 bytes" },
};

static const struct sbx_route routes[] = {
	{ "GET", "/things", h_list, 0, NULL, 0, list_inputs, 3 },
	{ "GET", "/things/{name}", h_get, 0, NULL, 0, get_inputs, 1 },
};

static const struct sbx_app app = {
	.name = "test_http_input",
	.routes = routes,
	.nroutes = 2,
	.config_needs = 0,
	.authenticate = NULL,
	.start = NULL,
};

/* Dispatches method path?query; returns the answer's JSON (caller frees). */
static cJSON *
serve(struct sbx_req *req, const char *path, const char *query)
{
	char p[256], q[256];
	char *env[4] = { "REQUEST_METHOD=GET", p, q, NULL };

	snprintf(p, sizeof(p), "PATH_INFO=%s", path);
	snprintf(q, sizeof(q), "QUERY_STRING=%s", query);
	assert_int_equal(sbx_req_init_env(req, env, NULL, 0), SBX_OK);
	sbx_http_dispatch(&app, req);
	return cJSON_ParseWithLength(req->resp.body, req->resp.body_len);
}

/* Dispatches GET path?query; 400s must name field. Returns the JSON. */
static cJSON *
expect(struct sbx_req *req, const char *path, const char *query, int status,
    const char *field)
{
	cJSON *j = serve(req, path, query);

	assert_int_equal(req->resp.status, status);
	if (field != NULL)
		assert_string_equal(cJSON_GetObjectItem(j, "field")->valuestring,
		    field);
	return j;
}

static void
test_dispatch_inputs(void **state)
{
	static const struct {
		const char *path, *query;
		int status;
		const char *field;
	} refused[] = {
		/* A bad value: 400 problem naming it, and no handler. */
		{ "/things", "limit=0", 400, "limit" },
		{ "/things", "colour=blue&colour=red", 400, "colour" },
		/* Admin-only, from someone who is not: 403. */
		{ "/things", "who=x", 403, NULL },
		/* A malformed query is still refused as a whole first. */
		{ "/things", "limit=%zz", 400, "query" },
		{ "/things/ab", "", 400, "name" },
	};
	struct sbx_req req;
	cJSON *j;
	size_t i;

	(void)state;
	handled = 0;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		cJSON_Delete(expect(&req, refused[i].path, refused[i].query,
		    refused[i].status, refused[i].field));
		sbx_req_fini(&req);
	}
	assert_int_equal(handled, 0);
	j = expect(&req, "/things", "limit=0", 400, "limit");
	assert_string_equal(cJSON_GetObjectItem(j, "detail")->valuestring,
	    "limit is an integer from 1 to 100");
	cJSON_Delete(j);
	sbx_req_fini(&req);

	/* The handler sees the checked values. */
	j = expect(&req, "/things", "limit=7&colour=blue", 200, NULL);
	assert_int_equal(cJSON_GetObjectItem(j, "limit")->valueint, 7);
	assert_int_equal(cJSON_GetObjectItem(j, "colour")->valueint, 2);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "other")));
	cJSON_Delete(j);
	sbx_req_fini(&req);
	/* Path: decoded, checked, lower-cased. */
	j = expect(&req, "/things/AB%43", "", 200, NULL);
	assert_string_equal(cJSON_GetObjectItem(j, "name")->valuestring,
	    "abc");
	cJSON_Delete(j);
	sbx_req_fini(&req);
	assert_int_equal(handled, 2);
}

static int
setup(void **state)
{
	(void)state;
	unsetenv("SBX_ENV_FILE");
	setenv("LOG_LEVEL", "error", 1);
	return sbx_config_load("test_http_input", 0) == SBX_OK ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inputs_check),
		cmocka_unit_test(test_inputs_path),
		cmocka_unit_test(test_routes_check),
		cmocka_unit_test(test_dispatch_inputs),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
