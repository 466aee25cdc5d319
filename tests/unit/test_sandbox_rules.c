/*
 * The pure rules of the sandbox domain: names, TTL bounds, expiry
 * arithmetic, parameters against a template's declarations, an admin's
 * new template version, the status mapping from CloudFormation, the
 * lifecycle, and the JSON shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/core/json.h"
#include "common/domain/sandbox.h"
#include "common/domain/template.h"

static void
test_names(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
		{ "abc", 1 },
		{ "a1-", 1 },
		{ "my-sandbox-01", 1 },
		{ "a23456789012345678901234567890123456789012345678901234567890123", 1 },
		{ "a234567890123456789012345678901234567890123456789012345678901234", 0 },
		{ "ab", 0 },
		{ "", 0 },
		{ "1abc", 0 },
		{ "-abc", 0 },
		{ "Abc", 0 },
		{ "abC", 0 },
		{ "ab_c", 0 },
		{ "ab c", 0 },
		{ "ab.c", 0 },
		{ "abc\n", 0 },
		{ "ab\xc3\xa9", 0 },
		{ "ab/c", 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sbx_sandbox_name_valid(cases[i].name) != cases[i].ok)
			fail_msg("name \"%s\": expected %d", cases[i].name,
			    cases[i].ok);
		/* Templates follow the same rule. */
		if (sbx_template_name_valid(cases[i].name) != cases[i].ok)
			fail_msg("template \"%s\": expected %d",
			    cases[i].name, cases[i].ok);
	}
	assert_false(sbx_sandbox_name_valid(NULL));
	assert_true(sbx_template_name_valid("default"));
	assert_false(sbx_template_name_valid("De"));
}

static void
test_ttl_bounds(void **state)
{
	struct sbx_ttl_bounds b;

	(void)state;
	/* No template values: the globals. */
	sbx_template_ttl_bounds(0, 0, 15, 240, 1440, &b);
	assert_int_equal(b.default_minutes, 15);
	assert_int_equal(b.max_minutes, 240);
	/* The template's lower values win. */
	sbx_template_ttl_bounds(10, 60, 15, 240, 1440, &b);
	assert_int_equal(b.default_minutes, 10);
	assert_int_equal(b.max_minutes, 60);
	/* A template max above the global max does not raise it. */
	sbx_template_ttl_bounds(0, 1000, 15, 240, 1440, &b);
	assert_int_equal(b.max_minutes, 240);
	/* A default above the max is pulled down to it. */
	sbx_template_ttl_bounds(0, 5, 15, 240, 1440, &b);
	assert_int_equal(b.default_minutes, 5);
	assert_int_equal(b.max_minutes, 5);
	/* The global max never exceeds the lifetime. */
	sbx_template_ttl_bounds(0, 0, 15, 240, 100, &b);
	assert_int_equal(b.max_minutes, 100);
}

static void
test_ttl_check(void **state)
{
	static const struct {
		long long requested;
		int given;
		enum sbx_err err;
		long ttl;
	} cases[] = {
		{ 0, 0, SBX_OK, 15 },
		{ 1, 1, SBX_OK, 1 },
		{ 240, 1, SBX_OK, 240 },
		{ 30, 1, SBX_OK, 30 },
		{ 0, 1, SBX_EINVAL, 0 },
		{ -1, 1, SBX_EINVAL, 0 },
		{ 241, 1, SBX_EINVAL, 0 },
		{ 9007199254740992LL, 1, SBX_EINVAL, 0 },
		{ -9007199254740992LL, 1, SBX_EINVAL, 0 },
	};
	struct sbx_ttl_bounds b;
	char detail[128];
	size_t i;

	(void)state;
	sbx_template_ttl_bounds(0, 0, 15, 240, 1440, &b);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long ttl = 0;
		enum sbx_err err;

		detail[0] = '\0';
		err = sbx_sandbox_ttl_check(&b, cases[i].requested,
		    cases[i].given, &ttl, detail, sizeof(detail));
		assert_int_equal(err, cases[i].err);
		if (err == SBX_OK)
			assert_int_equal(ttl, cases[i].ttl);
		else
			assert_non_null(strstr(detail, "ttl_minutes"));
	}
}

static void
test_expiry(void **state)
{
	const long long t0 = 1795687200LL;	/* 2026-11-26T10:00:00Z */
	long long out = 0;
	char detail[128];

	(void)state;
	assert_int_equal(sbx_sandbox_expiry(t0, 15), t0 + 900);
	assert_int_equal(sbx_sandbox_max_expiry(t0, 1440), t0 + 86400);

	/* extend within the lifetime */
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400, 0,
	    30, &out, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(out, t0 + 900 + 1800);
	/* exactly to the maximum */
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400, 0,
	    1425, &out, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(out, t0 + 86400);
	/* one minute past it */
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400, 0,
	    1426, &out, detail, sizeof(detail)), SBX_ECONFLICT);
	assert_non_null(strstr(detail, "max_expiry_time"));
	/* nonsense extensions */
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400, 0,
	    0, &out, detail, sizeof(detail)), SBX_EINVAL);
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400, 0,
	    -5, &out, detail, sizeof(detail)), SBX_EINVAL);
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400, 0,
	    9007199254740992LL, &out, detail, sizeof(detail)), SBX_EINVAL);
	/* absolute times */
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400,
	    t0 + 3600, 0, &out, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(out, t0 + 3600);
	/* shortening is allowed while still in the future */
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400,
	    t0 + 60, 0, &out, detail, sizeof(detail)), SBX_OK);
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400,
	    t0, 0, &out, detail, sizeof(detail)), SBX_EINVAL);
	assert_int_equal(sbx_sandbox_new_expiry(t0, t0 + 900, t0 + 86400,
	    t0 + 86401, 0, &out, detail, sizeof(detail)), SBX_ECONFLICT);
}

static void
test_status_from_cfn(void **state)
{
	static const struct {
		const char *cfn;
		enum sbx_err err;
		enum sbx_sandbox_status st;
		int retry;
	} cases[] = {
		{ "CREATE_IN_PROGRESS", SBX_OK, SBX_SANDBOX_PROVISIONING, 0 },
		{ "REVIEW_IN_PROGRESS", SBX_OK, SBX_SANDBOX_PROVISIONING, 0 },
		{ "CREATE_COMPLETE", SBX_OK, SBX_SANDBOX_ACTIVE, 0 },
		{ "CREATE_FAILED", SBX_OK, SBX_SANDBOX_FAILED, 0 },
		{ "ROLLBACK_IN_PROGRESS", SBX_OK, SBX_SANDBOX_FAILED, 0 },
		{ "ROLLBACK_FAILED", SBX_OK, SBX_SANDBOX_FAILED, 0 },
		{ "ROLLBACK_COMPLETE", SBX_OK, SBX_SANDBOX_FAILED, 0 },
		{ "DELETE_IN_PROGRESS", SBX_OK, SBX_SANDBOX_TERMINATING, 0 },
		{ "DELETE_FAILED", SBX_OK, SBX_SANDBOX_TERMINATING, 1 },
		{ "DELETE_COMPLETE", SBX_OK, SBX_SANDBOX_TERMINATED, 0 },
		{ NULL, SBX_OK, SBX_SANDBOX_TERMINATED, 0 },
		{ "UPDATE_COMPLETE", SBX_EINVAL, 0, 0 },
		{ "IMPORT_IN_PROGRESS", SBX_EINVAL, 0, 0 },
		{ "create_complete", SBX_EINVAL, 0, 0 },
		{ "", SBX_EINVAL, 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sbx_sandbox_status st = SBX_SANDBOX_STATUS__MAX;
		int retry = -1;

		assert_int_equal(sbx_sandbox_status_from_cfn(cases[i].cfn,
		    &st, &retry), cases[i].err);
		if (cases[i].err != SBX_OK)
			continue;
		if (st != cases[i].st)
			fail_msg("%s: got %s", cases[i].cfn ? cases[i].cfn :
			    "(gone)", sbx_sandbox_status_name(st));
		assert_int_equal(retry, cases[i].retry);
	}
}

static void
test_status_names_and_lifecycle(void **state)
{
	enum sbx_sandbox_status st;
	int i;

	(void)state;
	for (i = 0; i < SBX_SANDBOX_STATUS__MAX; i++) {
		assert_int_equal(sbx_sandbox_status_parse(
		    sbx_sandbox_status_name((enum sbx_sandbox_status)i), &st),
		    SBX_OK);
		assert_int_equal(st, i);
	}
	assert_int_equal(sbx_sandbox_status_parse("active", &st), SBX_EINVAL);
	assert_int_equal(sbx_sandbox_status_parse(NULL, &st), SBX_EINVAL);
	assert_string_equal(sbx_sandbox_status_name(SBX_SANDBOX_STATUS__MAX),
	    "UNKNOWN");
	assert_false(sbx_sandbox_status_live(SBX_SANDBOX_TERMINATED));
	assert_true(sbx_sandbox_status_live(SBX_SANDBOX_FAILED));

	assert_true(sbx_sandbox_transition_valid(SBX_SANDBOX_PROVISIONING,
	    SBX_SANDBOX_ACTIVE));
	assert_true(sbx_sandbox_transition_valid(SBX_SANDBOX_PROVISIONING,
	    SBX_SANDBOX_FAILED));
	assert_true(sbx_sandbox_transition_valid(SBX_SANDBOX_ACTIVE,
	    SBX_SANDBOX_TERMINATING));
	assert_true(sbx_sandbox_transition_valid(SBX_SANDBOX_FAILED,
	    SBX_SANDBOX_TERMINATING));
	assert_true(sbx_sandbox_transition_valid(SBX_SANDBOX_TERMINATING,
	    SBX_SANDBOX_TERMINATED));
	assert_false(sbx_sandbox_transition_valid(SBX_SANDBOX_TERMINATED,
	    SBX_SANDBOX_ACTIVE));
	assert_false(sbx_sandbox_transition_valid(SBX_SANDBOX_TERMINATING,
	    SBX_SANDBOX_ACTIVE));
	assert_false(sbx_sandbox_transition_valid(SBX_SANDBOX_FAILED,
	    SBX_SANDBOX_ACTIVE));
	assert_false(sbx_sandbox_transition_valid(SBX_SANDBOX_ACTIVE,
	    SBX_SANDBOX_PROVISIONING));
	assert_false(sbx_sandbox_transition_valid(SBX_SANDBOX_ACTIVE,
	    SBX_SANDBOX_ACTIVE));
}

static const char declared_ours[] =
    "[{\"name\":\"InstanceType\",\"default\":\"t3.micro\","
    "\"allowed_values\":[\"t3.micro\",\"t3.small\"]},"
    "{\"name\":\"DbPassword\",\"no_echo\":true,\"max_length\":12},"
    "{\"name\":\"Note\",\"required\":false}]";

static const char declared_cfn[] =
    "{\"InstanceType\":{\"Type\":\"String\",\"Default\":\"t3.micro\","
    "\"AllowedValues\":[\"t3.micro\",\"t3.small\"]},"
    "\"DbPassword\":{\"Type\":\"String\",\"NoEcho\":\"true\","
    "\"MaxLength\":\"12\"}}";

static enum sbx_err
check(const char *declared, const char *given_json, char *bad,
    size_t bad_len, cJSON **eff)
{
	cJSON *given = given_json ? cJSON_Parse(given_json) : NULL;
	char detail[200];
	enum sbx_err err;

	detail[0] = '\0';
	err = sbx_template_params_check(declared, given, eff, bad, bad_len,
	    detail, sizeof(detail));
	/* A NoEcho value never appears in an error. */
	assert_null(strstr(detail, "s3cret"));
	cJSON_Delete(given);
	return err;
}

static void
test_params(void **state)
{
	const char *decls[] = { declared_ours, declared_cfn };
	char bad[128];
	cJSON *eff = NULL;
	size_t k;

	(void)state;
	for (k = 0; k < 2; k++) {
		const char *d = decls[k];

		assert_int_equal(check(d, "{\"DbPassword\":\"s3cret\"}", bad,
		    sizeof(bad), &eff), SBX_OK);
		assert_string_equal(cJSON_GetObjectItem(eff,
		    "InstanceType")->valuestring, "t3.micro");
		assert_string_equal(cJSON_GetObjectItem(eff,
		    "DbPassword")->valuestring, "s3cret");
		cJSON_Delete(eff);
		eff = NULL;

		assert_int_equal(check(d, "{\"DbPassword\":\"s3cret\","
		    "\"InstanceType\":\"t3.small\"}", bad, sizeof(bad), &eff),
		    SBX_OK);
		assert_string_equal(cJSON_GetObjectItem(eff,
		    "InstanceType")->valuestring, "t3.small");
		cJSON_Delete(eff);
		eff = NULL;

		/* missing required */
		assert_int_equal(check(d, "{}", bad, sizeof(bad), &eff),
		    SBX_EINVAL);
		assert_string_equal(bad, "parameters.DbPassword");
		assert_int_equal(check(d, NULL, bad, sizeof(bad), &eff),
		    SBX_EINVAL);
		/* undeclared */
		assert_int_equal(check(d, "{\"DbPassword\":\"s3cret\","
		    "\"Evil\":\"x\"}", bad, sizeof(bad), &eff), SBX_EINVAL);
		assert_string_equal(bad, "parameters.Evil");
		/* wrong type */
		assert_int_equal(check(d, "{\"DbPassword\":42}", bad,
		    sizeof(bad), &eff), SBX_EINVAL);
		assert_string_equal(bad, "parameters.DbPassword");
		assert_int_equal(check(d, "{\"DbPassword\":{\"a\":1}}", bad,
		    sizeof(bad), &eff), SBX_EINVAL);
		/* not allowed */
		assert_int_equal(check(d, "{\"DbPassword\":\"s3cret\","
		    "\"InstanceType\":\"m5.24xlarge\"}", bad, sizeof(bad),
		    &eff), SBX_EINVAL);
		assert_string_equal(bad, "parameters.InstanceType");
		/* too long */
		assert_int_equal(check(d, "{\"DbPassword\":"
		    "\"s3cret-s3cret-s3cret\"}", bad, sizeof(bad), &eff),
		    SBX_EINVAL);
		/* not an object */
		assert_int_equal(check(d, "[1]", bad, sizeof(bad), &eff),
		    SBX_EINVAL);
		assert_string_equal(bad, "parameters");
		assert_null(eff);
	}
	/* No declarations: only an empty object passes. */
	assert_int_equal(check("[]", "{}", bad, sizeof(bad), &eff), SBX_OK);
	cJSON_Delete(eff);
	eff = NULL;
	assert_int_equal(check(NULL, "{\"X\":\"y\"}", bad, sizeof(bad), &eff),
	    SBX_EINVAL);
}

static void
test_params_masked_and_valid(void **state)
{
	static const struct {
		const char *text;
		enum sbx_err want;
	} decls[] = {
		{ declared_ours, SBX_OK },
		{ "[{\"name\":\"A\"},{\"name\":\"A\"}]", SBX_EINVAL },
		{ "[{\"name\":\"bad name\"}]", SBX_EINVAL },
		{ "[\"A\"]", SBX_EINVAL },
		{ "\"A\"", SBX_EINVAL },
	};
	cJSON *p = cJSON_Parse("{\"InstanceType\":\"t3.small\","
	    "\"DbPassword\":\"s3cret\"}");
	cJSON *m = sbx_template_params_masked(declared_ours, p);
	char *text = cJSON_PrintUnformatted(m);
	char detail[160];
	cJSON *d;
	size_t i;

	(void)state;
	assert_null(strstr(text, "s3cret"));
	assert_non_null(strstr(text, "t3.small"));
	free(text);
	cJSON_Delete(m);
	cJSON_Delete(p);

	for (i = 0; i < sizeof(decls) / sizeof(decls[0]); i++) {
		d = cJSON_Parse(decls[i].text);
		if (sbx_template_params_valid(d, detail, sizeof(detail)) !=
		    decls[i].want)
			fail_msg("declarations %s: want %s", decls[i].text,
			    sbx_strerror(decls[i].want));
		cJSON_Delete(d);
	}
}

/*
 * An admin's new version: each refusal names the member at fault (the
 * template given as an object is "template", as text "body"), and what
 * passes is what is stored.
 */
static void
test_template_put_check(void **state)
{
	static const char json_body[] = "{\"Description\":\"from the doc\","
	    "\"Parameters\":{\"Size\":{\"Default\":\"1\"}},"
	    "\"Resources\":{}}";
	static const struct {
		const char *name, *body, *params, *caps;
		int from_object;
		const char *field;	/* NULL: passes */
	} cases[] = {
		{ "web", json_body, NULL, NULL, 0, NULL },
		{ "web", "Resources: {}\n", NULL, "[\"CAPABILITY_IAM\"]", 0,
		    NULL },
		{ "Web", json_body, NULL, NULL, 0, "name" },
		{ NULL, json_body, NULL, NULL, 0, "name" },
		{ "web", NULL, NULL, NULL, 0, "body" },
		{ "web", " \n\t", NULL, NULL, 0, "body" },
		{ "web", "{\"Resources\":1}", NULL, NULL, 0, "body" },
		{ "web", "{\"Resources\":1}", NULL, NULL, 1, "template" },
		{ "web", "{not json", NULL, NULL, 1, "template" },
		{ "web", json_body, "[{\"name\":\"Other\"}]", NULL, 0,
		    "parameters" },
		{ "web", json_body, "[{\"name\":\"bad name\"}]", NULL, 0,
		    "parameters" },
		{ "web", "Resources: {}\n", "[{\"name\":\"Any\"}]", NULL, 0,
		    NULL },
		{ "web", json_body, NULL, "[\"CAPABILITY_ALL\"]", 0,
		    "capabilities" },
		{ "web", json_body, NULL, "[1]", 0, "capabilities" },
	};
	char big[SBX_TEMPLATE_BODY_MAX + 2], detail[256];
	struct sbx_template_put in;
	struct sbx_template_put_checked out;
	const char *field;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *params = cases[i].params != NULL ?
		    cJSON_Parse(cases[i].params) : NULL;
		cJSON *caps = cases[i].caps != NULL ?
		    cJSON_Parse(cases[i].caps) : NULL;
		enum sbx_err err;

		memset(&in, 0, sizeof(in));
		in.name = cases[i].name;
		in.body = cases[i].body;
		in.from_object = cases[i].from_object;
		in.parameters = params;
		in.capabilities = caps;
		field = NULL;
		detail[0] = '\0';
		err = sbx_template_put_check(&in, &out, &field, detail,
		    sizeof(detail));
		if (cases[i].field == NULL && err != SBX_OK)
			fail_msg("case %zu: refused (%s: %s)", i,
			    field != NULL ? field : "-", detail);
		if (cases[i].field != NULL && (err != SBX_EINVAL ||
		    field == NULL || strcmp(field, cases[i].field) != 0 ||
		    detail[0] == '\0'))
			fail_msg("case %zu: expected %s, got %d (%s)", i,
			    cases[i].field, err, field != NULL ? field : "-");
		sbx_template_put_checked_fini(&out);
		cJSON_Delete(params);
		cJSON_Delete(caps);
	}

	/* What passes is what is stored: declared from the doc, its text. */
	memset(&in, 0, sizeof(in));
	in.name = "web";
	in.body = json_body;
	assert_int_equal(sbx_template_put_check(&in, &out, &field, detail,
	    sizeof(detail)), SBX_OK);
	assert_string_equal(out.description, "from the doc");
	assert_string_equal(out.caps_text, "[]");
	assert_non_null(strstr(out.params_text, "\"Size\""));
	sbx_template_put_checked_fini(&out);
	in.description = "given";
	assert_int_equal(sbx_template_put_check(&in, &out, &field, detail,
	    sizeof(detail)), SBX_OK);
	assert_string_equal(out.description, "given");
	sbx_template_put_checked_fini(&out);

	/* Over CloudFormation's limit: the field the body came as. */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = 'x';
	in.body = big;
	in.from_object = 1;
	assert_int_equal(sbx_template_put_check(&in, &out, &field, detail,
	    sizeof(detail)), SBX_EINVAL);
	assert_string_equal(field, "template");
	big[sizeof(big) - 2] = '\0';		/* exactly the limit */
	in.from_object = 0;
	assert_int_equal(sbx_template_put_check(&in, &out, &field, detail,
	    sizeof(detail)), SBX_OK);
	sbx_template_put_checked_fini(&out);
}

/*
 * Every spelling of NoEcho and of its default that the reader honours is
 * redacted for display; the same reader decides what the check uses.
 */
static void
test_params_public(void **state)
{
	static const char *const noecho_spellings[] = {
		"\"no_echo\":true", "\"NoEcho\":true", "\"no_echo\":\"true\"",
		"\"NoEcho\":\"true\"", "\"NoEcho\":\"True\"",
		"\"noEcho\":\"TRUE\"", "\"NO_ECHO\":true",
	};
	static const char *const default_spellings[] = {
		"default", "Default", "DEFAULT",
	};
	char declared[256], want[32], *text;
	cJSON *pub, *given, *eff = NULL;
	char bad[64], detail[160];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(noecho_spellings) / sizeof(noecho_spellings[0]);
	    i++)
		for (j = 0; j < 3; j++) {
			snprintf(declared, sizeof(declared),
			    "[{\"name\":\"Pw\",%s,\"%s\":\"s3cret\"},"
			    "{\"name\":\"Size\",\"Default\":\"small\"}]",
			    noecho_spellings[i], default_spellings[j]);
			pub = sbx_template_params_public(declared);
			text = cJSON_PrintUnformatted(pub);
			assert_non_null(text);
			if (strstr(text, "s3cret") != NULL)
				fail_msg("shown in clear: %s", declared);
			/* Under the key it had: the same member, redacted. */
			snprintf(want, sizeof(want), "\"%s\":\"****\"",
			    default_spellings[j]);
			if (strstr(text, want) == NULL)
				fail_msg("%s not in %s", want, text);
			assert_non_null(strstr(text, "small"));
			free(text);
			cJSON_Delete(pub);
			/* The check reads the same default. */
			given = cJSON_Parse("{}");
			assert_int_equal(sbx_template_params_check(declared,
			    given, &eff, bad, sizeof(bad), detail,
			    sizeof(detail)), SBX_OK);
			assert_string_equal(cJSON_GetObjectItem(eff,
			    "Pw")->valuestring, "s3cret");
			sbx_template_params_free(eff);
			eff = NULL;
			cJSON_Delete(given);
		}
	/* Not NoEcho: the default is shown; "false" is not true. */
	pub = sbx_template_params_public("[{\"name\":\"A\",\"NoEcho\":"
	    "\"false\",\"Default\":\"plain\"}]");
	text = cJSON_PrintUnformatted(pub);
	assert_non_null(strstr(text, "plain"));
	free(text);
	cJSON_Delete(pub);
	/* Broken text shows nothing. */
	pub = sbx_template_params_public("{not json");
	assert_true(cJSON_IsArray(pub));
	assert_int_equal(cJSON_GetArraySize(pub), 0);
	cJSON_Delete(pub);
	/* Two spellings of one member are refused when declared. */
	given = cJSON_Parse("[{\"name\":\"A\",\"default\":\"x\","
	    "\"Default\":\"y\"}]");
	assert_int_equal(sbx_template_params_valid(given, detail,
	    sizeof(detail)), SBX_EINVAL);
	assert_non_null(strstr(detail, "more than once"));
	cJSON_Delete(given);
}

/*
 * Numbers in declarations are range-checked before any cast: 1e300 as a
 * max_length is refused, and as a default or allowed value it is printed
 * without a cast (under UBSan with float-cast-overflow, the old cast
 * aborted the test).
 */
static void
test_params_huge_numbers(void **state)
{
	static const char *const refused[] = {
		"[{\"name\":\"N\",\"max_length\":1e300}]",
		"[{\"name\":\"N\",\"max_length\":-1e300}]",
		"[{\"name\":\"N\",\"MaxLength\":4097}]",
		"[{\"name\":\"N\",\"max_length\":1.5}]",
		"[{\"name\":\"N\",\"max_length\":\"99999999999999999999\"}]",
		"[{\"name\":\"N\",\"max_length\":\"12x\"}]",
		"[{\"name\":\"N\",\"max_length\":\"-1\"}]",
		"[{\"name\":\"N\",\"max_length\":true}]",
	};
	char detail[160], bad[64];
	cJSON *d, *given, *eff = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		d = cJSON_Parse(refused[i]);
		assert_non_null(d);
		if (sbx_template_params_valid(d, detail, sizeof(detail)) !=
		    SBX_EINVAL)
			fail_msg("accepted: %s", refused[i]);
		assert_non_null(strstr(detail, "max_length"));
		cJSON_Delete(d);
	}
	d = cJSON_Parse("[{\"name\":\"N\",\"max_length\":\"4096\"}]");
	assert_int_equal(sbx_template_params_valid(d, detail, sizeof(detail)),
	    SBX_OK);
	cJSON_Delete(d);

	given = cJSON_Parse("{}");
	assert_int_equal(check("[{\"name\":\"N\",\"default\":1e300,"
	    "\"allowed_values\":[-1e300,1e300]},{\"name\":\"M\","
	    "\"default\":-9.3e18},{\"name\":\"K\",\"default\":42}]",
	    "{}", bad, sizeof(bad), &eff), SBX_OK);
	assert_string_equal(cJSON_GetObjectItem(eff, "N")->valuestring,
	    "1.0000000000000001e+300");
	assert_string_equal(cJSON_GetObjectItem(eff, "M")->valuestring,
	    "-9.3e+18");
	assert_string_equal(cJSON_GetObjectItem(eff, "K")->valuestring, "42");
	sbx_template_params_free(eff);
	eff = NULL;
	assert_int_equal(check("[{\"name\":\"N\",\"allowed_values\":[1e300]}]",
	    "{\"N\":\"1.0000000000000001e+300\"}", bad, sizeof(bad), &eff),
	    SBX_OK);
	sbx_template_params_free(eff);
	cJSON_Delete(given);
}

/* CloudFormation's Parameters converted with the same spelling rules. */
static void
test_params_from_cfn(void **state)
{
	cJSON *cfn = cJSON_Parse("{\"Pw\":{\"Type\":\"String\","
	    "\"NoEcho\":\"True\",\"Default\":\"s3cret\"},"
	    "\"Size\":{\"Type\":\"String\",\"Default\":\"small\","
	    "\"AllowedValues\":[\"small\",\"large\"],\"MaxLength\":5}}");
	cJSON *a, *pw, *size;
	char *text;

	(void)state;
	a = sbx_template_params_from_cfn(cfn);
	assert_int_equal(cJSON_GetArraySize(a), 2);
	pw = cJSON_GetArrayItem(a, 0);
	size = cJSON_GetArrayItem(a, 1);
	assert_string_equal(cJSON_GetObjectItem(pw, "name")->valuestring, "Pw");
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(pw, "no_echo")));
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(size, "no_echo")));
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(size,
	    "allowed_values")), 2);
	text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	a = sbx_template_params_public(text);
	free(text);
	text = cJSON_PrintUnformatted(a);
	assert_null(strstr(text, "s3cret"));
	free(text);
	cJSON_Delete(a);
	cJSON_Delete(cfn);
}

static void
test_to_json(void **state)
{
	struct sbx_sandbox sb;
	static const char *const fields[] = {
		"id", "name", "owner", "template", "template_version",
		"status", "status_reason", "stack_id", "parameters", "outputs",
		"created_at", "expiry_time", "max_expiry_time", "terminated_at",
	};
	cJSON *o;
	size_t i;

	(void)state;
	memset(&sb, 0, sizeof(sb));
	sb.id = (char *)"0b8f1d3e-0000-4000-8000-000000000001";
	sb.name = (char *)"demo";
	sb.status = SBX_SANDBOX_PROVISIONING;
	sb.created_at = 1795687200LL;
	sb.expiry_time = 1795688100LL;
	o = sbx_sandbox_to_json(&sb);
	assert_non_null(o);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		assert_non_null(cJSON_GetObjectItemCaseSensitive(o, fields[i]));
	assert_int_equal(cJSON_GetArraySize(o), 15);
	/* Nothing estimated yet: "cost" is null. */
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "cost")));
	assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring,
	    "PROVISIONING");
	assert_string_equal(cJSON_GetObjectItem(o, "created_at")->valuestring,
	    "2026-11-26T10:00:00Z");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "stack_id")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "terminated_at")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "outputs")));
	assert_true(cJSON_IsObject(cJSON_GetObjectItem(o, "parameters")));
	cJSON_Delete(o);
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 0), 30);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 1), 30);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 2), 60);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 3), 120);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 7), 1920);
	/* capped at an hour, however many attempts */
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 8), 3600);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 1000), 3600);
	assert_int_equal(sbx_sandbox_backoff_seconds(7200, 1), 3600);
	/* a base of 0 still waits a little */
	assert_int_equal(sbx_sandbox_backoff_seconds(0, 1), 1);
}

static void
test_uuid(void **state)
{
	char a[40], b[40];

	(void)state;
	assert_true(sbx_sandbox_uuid_valid("0b8f1d3e-0000-4000-8000-000000000001"));
	assert_false(sbx_sandbox_uuid_valid("0B8F1D3E-0000-4000-8000-000000000001"));
	assert_false(sbx_sandbox_uuid_valid("0b8f1d3e000040008000000000000001"));
	assert_false(sbx_sandbox_uuid_valid("0b8f1d3e-0000-4000-8000-00000000001"));
	assert_false(sbx_sandbox_uuid_valid("0b8f1d3e-0000-4000-8000-0000000000011"));
	assert_false(sbx_sandbox_uuid_valid("'; DROP TABLE x; --------------------"));
	assert_false(sbx_sandbox_uuid_valid(""));
	assert_false(sbx_sandbox_uuid_valid(NULL));
	assert_int_equal(sbx_sandbox_uuid_new(a, sizeof(a)), SBX_OK);
	assert_int_equal(sbx_sandbox_uuid_new(b, sizeof(b)), SBX_OK);
	assert_true(sbx_sandbox_uuid_valid(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[14], '4');		/* version 4 */
	assert_non_null(strchr("89ab", a[19]));	/* RFC 4122 variant */
	assert_int_equal(sbx_sandbox_uuid_new(a, 36), SBX_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_ttl_bounds),
		cmocka_unit_test(test_ttl_check),
		cmocka_unit_test(test_expiry),
		cmocka_unit_test(test_status_from_cfn),
		cmocka_unit_test(test_status_names_and_lifecycle),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_masked_and_valid),
		cmocka_unit_test(test_params_public),
		cmocka_unit_test(test_template_put_check),
		cmocka_unit_test(test_params_from_cfn),
		cmocka_unit_test(test_params_huge_numbers),
		cmocka_unit_test(test_to_json),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_uuid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
