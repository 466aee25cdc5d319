/*
 * Unit tests of common/aws: SigV4 on the published AWS test-suite vectors
 * (aws4_testsuite / aws-c-auth's v4 suite), the Aurora DSQL token vectors
 * of aws-dsql-auth, canonicalisation details and endpoint resolution.
 * The credential providers are in test_aws_creds.c. No network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/io/aws.h"

/* The test suite's credentials, region, service, time and host. */
#define SUITE_AKID "AKIDEXAMPLE"
#define SUITE_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_TIME 1440938160LL		/* 20150830T123600Z */
#define SUITE_HOST "example.amazonaws.com"

static struct sbx_aws_creds suite_creds = {
	.access_key_id = (char *)SUITE_AKID,
	.secret_access_key = (char *)SUITE_SECRET,
};

static struct sbx_aws_sign_req
suite_req(const char *method, const char *path)
{
	struct sbx_aws_sign_req r = {
		.method = method,
		.path = path,
		.host = SUITE_HOST,
		.region = "us-east-1",
		.service = "service",
		.now = SUITE_TIME,
	};
	return r;
}

static void
expect_sig(const struct sbx_aws_sign_req *r, const struct sbx_aws_creds *c,
    const char *signed_headers, const char *signature)
{
	struct sbx_aws_sig sig;
	char want[512];

	assert_int_equal(sbx_aws_sign(r, c, &sig), SBX_OK);
	assert_string_equal(sig.signature, signature);
	assert_string_equal(sig.amz_date, "20150830T123600Z");
	snprintf(want, sizeof(want), "AWS4-HMAC-SHA256 Credential=%s/20150830/"
	    "%s/%s/aws4_request, SignedHeaders=%s, Signature=%s",
	    c->access_key_id, r->region, r->service, signed_headers,
	    signature);
	assert_string_equal(sig.authorization, want);
	sbx_aws_sig_fini(&sig);
}

static void
test_get_vanilla(void **state)
{
	struct sbx_aws_sign_req r = suite_req("GET", "/");
	struct sbx_aws_sig sig;

	(void)state;
	expect_sig(&r, &suite_creds, "host;x-amz-date",
	    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");

	/* The intermediate documents, as the suite's .creq and .sts. */
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_OK);
	assert_string_equal(sig.canonical_request,
	    "GET\n/\n\nhost:example.amazonaws.com\n"
	    "x-amz-date:20150830T123600Z\n\nhost;x-amz-date\n"
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_string_equal(sig.string_to_sign,
	    "AWS4-HMAC-SHA256\n20150830T123600Z\n"
	    "20150830/us-east-1/service/aws4_request\n"
	    "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	sbx_aws_sig_fini(&sig);
}

/*
 * The suite's vectors that differ from get-vanilla only in what is
 * signed: method, path, query, headers, a session token.
 */
static const char unreserved[] = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "abcdefghijklmnopqrstuvwxyz";

static const struct suite_case {
	const char *name;		/* for the reader */
	const char *method, *path;
	struct sbx_aws_param query[3];
	size_t nquery;
	struct sbx_httpclient_header headers[3];
	size_t nheaders;
	const char *session_token;
	const char *signed_headers, *signature;
} suite_cases[] = {
	{ "post vanilla", "POST", "/", { { NULL, NULL } }, 0,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b" },
	{ "query order, key case", "GET", "/",
	    { { "Param2", "value2" }, { "Param1", "value1" } }, 2,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500" },
	/* "Param" sorts before "Param-3" by name, though '-' < '='. */
	{ "query order, encoded", "GET", "/",
	    { { "Param-3", "Value3" }, { "Param", "Value2" },
	    { "\xe1\x88\xb4", "Value1" } }, 3,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac" },
	{ "query unreserved", "GET", "/",
	    { { unreserved, unreserved } }, 1,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197" },
	{ "utf8 query", "GET", "/",
	    { { "\xe1\x88\xb4", "bar" } }, 1,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04" },
	{ "utf8 path", "GET", "/\xe1\x88\xb4", { { NULL, NULL } }, 0,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85" },
	{ "space in the path", "GET", "/example space/", { { NULL, NULL } }, 0,
	    { { NULL, NULL } }, 0, NULL, "host;x-amz-date",
	    "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741" },
	{ "header key duplicate", "GET", "/", { { NULL, NULL } }, 0,
	    { { "My-Header1", "value2" }, { "My-Header1", "value2" },
	    { "My-Header1", "value1" } }, 3, NULL,
	    "host;my-header1;x-amz-date",
	    "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea" },
	{ "session token", "GET", "/", { { NULL, NULL } }, 0,
	    { { NULL, NULL } }, 0,
	    "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa"
	    "31553b73ebf194267", "host;x-amz-date;x-amz-security-token",
	    "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8" },
};

static void
test_suite_vectors(void **state)
{
	const struct suite_case *t;
	struct sbx_aws_creds c;
	struct sbx_aws_sign_req r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(suite_cases) / sizeof(suite_cases[0]); i++) {
		t = &suite_cases[i];
		r = suite_req(t->method, t->path);
		r.query = t->nquery > 0 ? t->query : NULL;
		r.nquery = t->nquery;
		r.headers = t->nheaders > 0 ? t->headers : NULL;
		r.nheaders = t->nheaders;
		c = suite_creds;
		c.session_token = (char *)t->session_token;
		expect_sig(&r, &c, t->signed_headers, t->signature);
	}
}

static void
test_header_value_trim(void **state)
{
	struct sbx_httpclient_header h[] = {
		{ "My-Header1", " value1" },
		{ "My-Header2", " \"a   b   c\"" },
	};
	struct sbx_aws_sign_req r = suite_req("GET", "/");
	struct sbx_aws_sig sig;

	(void)state;
	r.headers = h;
	r.nheaders = 2;
	expect_sig(&r, &suite_creds, "host;my-header1;my-header2;x-amz-date",
	    "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736");
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_OK);
	assert_non_null(strstr(sig.canonical_request,
	    "\nmy-header1:value1\nmy-header2:\"a b c\"\n"));
	sbx_aws_sig_fini(&sig);
}

/*
 * A CloudFormation-shaped request: form body, content type, a port in the
 * host, a session token with characters that need care. The expected
 * signature was computed with botocore's SigV4Auth (an independent
 * implementation).
 */
static void
test_cfn_shaped_post(void **state)
{
	static const char body[] =
	    "Action=DescribeStacks&StackName=sbx-a%20b&Version=2010-05-15";
	struct sbx_httpclient_header h[] = {
		{ "Content-Type",
		    "application/x-www-form-urlencoded; charset=utf-8" },
	};
	struct sbx_aws_creds c = suite_creds;
	struct sbx_aws_sign_req r = suite_req("POST", "/");

	(void)state;
	c.session_token = (char *)"tok/en+1=";
	r.host = "127.0.0.1:4566";
	r.service = "cloudformation";
	r.headers = h;
	r.nheaders = 1;
	r.payload = body;
	r.payload_len = strlen(body);
	expect_sig(&r, &c, "content-type;host;x-amz-date;x-amz-security-token",
	    "5e072207c9f50f52a86f424e20bf4336ce0fc4db7fed7502b2c827fa5fe18ca9");
}

static void
test_sign_refuses(void **state)
{
	struct sbx_httpclient_header bad[] = { { "X-Evil", "a\r\nHost: x" } };
	struct sbx_httpclient_header ours[] = { { "X-Amz-Date", "20000101T000000Z" } };
	struct sbx_aws_creds none = { 0 };
	struct sbx_aws_sign_req r = suite_req("GET", "/");
	struct sbx_aws_sig sig;

	(void)state;
	assert_int_equal(sbx_aws_sign(&r, &none, &sig), SBX_EINVAL);
	assert_int_equal(sbx_aws_sign(&r, NULL, &sig), SBX_EINVAL);
	r.headers = bad;
	r.nheaders = 1;
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_EINVAL);
	r.headers = ours;
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_EINVAL);
	r = suite_req("GET", "/");
	r.region = "US-EAST-1";
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_EINVAL);
	r = suite_req("GET", "/");
	r.host = NULL;
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_EINVAL);
	r = suite_req("GET", "/");
	r.now = -1;
	assert_int_equal(sbx_aws_sign(&r, &suite_creds, &sig), SBX_EINVAL);
}

/* ------------------------------------------------------------------ DSQL */

static struct sbx_aws_creds dsql_creds = {
	.access_key_id = (char *)"akid",
	.secret_access_key = (char *)"secret",
	.session_token = (char *)"token",
};
#define DSQL_HOST "peccy.dsql.us-east-1.on.aws"
#define DSQL_TIME 1724716800LL		/* 2024-08-27T00:00:00Z */

static void
test_dsql_token(void **state)
{
	char *tok = NULL;

	(void)state;
	assert_int_equal(sbx_aws_dsql_token(DSQL_HOST, "us-east-1", 0, 450,
	    &dsql_creds, DSQL_TIME, &tok), SBX_OK);
	assert_string_equal(tok, "peccy.dsql.us-east-1.on.aws/?Action=DbConnect"
	    "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
	    "&X-Amz-Credential=akid%2F20240827%2Fus-east-1%2Fdsql%2Faws4_request"
	    "&X-Amz-Date=20240827T000000Z&X-Amz-SignedHeaders=host"
	    "&X-Amz-Expires=450&X-Amz-Security-Token=token"
	    "&X-Amz-Signature="
	    "9fdb9de7ca6822832943d5a4e1b02411d302a2b8204bd7e8193aa4875fbd5a58");
	free(tok);
}

static void
test_dsql_token_admin(void **state)
{
	char *tok = NULL;

	(void)state;
	assert_int_equal(sbx_aws_dsql_token(DSQL_HOST, "us-east-1", 1, 450,
	    &dsql_creds, DSQL_TIME, &tok), SBX_OK);
	assert_non_null(strstr(tok, "/?Action=DbConnectAdmin&"));
	assert_non_null(strstr(tok, "&X-Amz-Signature=dd5373133b347f82a6e8a710e5"
	    "fbd367f5e1d84824dc148b96d5f45089cb47f0"));
	free(tok);
}

static void
test_presign_refuses(void **state)
{
	char *tok = NULL;

	(void)state;
	assert_int_equal(sbx_aws_dsql_token(DSQL_HOST, "us-east-1", 0, 0,
	    &dsql_creds, DSQL_TIME, &tok), SBX_EINVAL);
	assert_int_equal(sbx_aws_dsql_token(DSQL_HOST, "us-east-1", 0, 604801,
	    &dsql_creds, DSQL_TIME, &tok), SBX_EINVAL);
	assert_int_equal(sbx_aws_dsql_token("evil/host", "us-east-1", 0, 900,
	    &dsql_creds, DSQL_TIME, &tok), SBX_EINVAL);
	assert_null(tok);
}

static void
test_presign_without_token(void **state)
{
	struct sbx_aws_creds c = dsql_creds;
	char *tok = NULL;

	(void)state;
	c.session_token = NULL;
	assert_int_equal(sbx_aws_dsql_token(DSQL_HOST, "us-east-1", 0, 900, &c,
	    DSQL_TIME, &tok), SBX_OK);
	assert_null(strstr(tok, "Security-Token"));
	assert_non_null(strstr(tok, "&X-Amz-Expires=900&X-Amz-Signature="));
	free(tok);
}

/* ------------------------------------------------------- canonicalisation */

static void
test_canonical_query(void **state)
{
	struct sbx_aws_param q[] = {
		{ "b", "two words" }, { "a", "x~y" }, { "c", "caf\xc3\xa9" },
		{ "a", "1+1=2&3" }, { "e", NULL }, { "d/e", "/" },
	};
	char *out = NULL;

	(void)state;
	assert_int_equal(sbx_aws_canonical_query(q, 6, &out), SBX_OK);
	/* Sorted by name then value; space %20, ~ kept, upper-case hex. */
	assert_string_equal(out, "a=1%2B1%3D2%263&a=x~y&b=two%20words"
	    "&c=caf%C3%A9&d%2Fe=%2F&e=");
	free(out);
	assert_int_equal(sbx_aws_canonical_query(NULL, 0, &out), SBX_OK);
	assert_string_equal(out, "");
	free(out);
	q[0].name = "";
	assert_int_equal(sbx_aws_canonical_query(q, 1, &out), SBX_EINVAL);
}

static void
test_sha256_hex(void **state)
{
	char h[65];

	(void)state;
	sbx_aws_sha256_hex("", 0, h);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b9"
	    "34ca495991b7852b855");
	sbx_aws_sha256_hex("abc", 3, h);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177"
	    "a9cb410ff61f20015ad");
}

/* ---------------------------------------------------------------- endpoints */

struct kv {
	const char *k;
	const char *v;
};

static const char *
table_get(const char *name, void *ctx)
{
	const struct kv *t;

	for (t = ctx; t->k != NULL; t++)
		if (strcmp(t->k, name) == 0)
			return t->v;
	return NULL;
}

static void
expect_endpoint(const struct kv *env, const char *service, const char *want)
{
	char *out = NULL;

	assert_int_equal(sbx_aws_endpoint_resolve(service, "eu-west-3",
	    table_get, (void *)env, &out), SBX_OK);
	assert_string_equal(out, want);
	free(out);
}

static void
test_endpoint_precedence(void **state)
{
	const struct kv none[] = { { NULL, NULL } };
	const struct kv global[] = {
		{ "AWS_ENDPOINT_URL", "http://127.0.0.1:9000/" },
		{ NULL, NULL } };
	const struct kv both[] = {
		{ "AWS_ENDPOINT_URL", "http://127.0.0.1:9000" },
		{ "AWS_ENDPOINT_URL_CLOUDFORMATION", "http://localhost:4566" },
		{ NULL, NULL } };
	const struct kv ignored[] = {
		{ "AWS_ENDPOINT_URL", "http://127.0.0.1:9000" },
		{ "AWS_ENDPOINT_URL_CLOUDFORMATION", "http://localhost:4566" },
		{ "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE" },
		{ NULL, NULL } };
	const struct kv not_ignored[] = {
		{ "AWS_ENDPOINT_URL_CLOUDFORMATION", "http://localhost:4566" },
		{ "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "false" },
		{ NULL, NULL } };
	const struct kv empty[] = {
		{ "AWS_ENDPOINT_URL_CLOUDFORMATION", "" },
		{ "AWS_ENDPOINT_URL", "https://proxy.example" },
		{ NULL, NULL } };
	const struct kv dashed[] = {
		{ "AWS_ENDPOINT_URL_SECRETS_MANAGER", "https://sm.example" },
		{ NULL, NULL } };
	char *out = NULL;

	(void)state;
	expect_endpoint(none, "cloudformation",
	    "https://cloudformation.eu-west-3.amazonaws.com");
	expect_endpoint(global, "cloudformation", "http://127.0.0.1:9000");
	expect_endpoint(both, "cloudformation", "http://localhost:4566");
	expect_endpoint(both, "dsql", "http://127.0.0.1:9000");
	expect_endpoint(ignored, "cloudformation",
	    "https://cloudformation.eu-west-3.amazonaws.com");
	expect_endpoint(not_ignored, "cloudformation", "http://localhost:4566");
	expect_endpoint(empty, "cloudformation", "https://proxy.example");
	expect_endpoint(dashed, "secrets-manager", "https://sm.example");
	assert_int_equal(sbx_aws_endpoint_resolve("cloudformation", NULL,
	    table_get, (void *)none, &out), SBX_ECONFIG);
	assert_int_equal(sbx_aws_endpoint_resolve("cloud/formation",
	    "us-east-1", table_get, (void *)none, &out), SBX_EINVAL);
	assert_null(out);
}

/* ---------------------------------------------------------- credentials */

static void
test_creds_copy(void **state)
{
	struct sbx_aws_creds c;

	(void)state;
	assert_int_equal(sbx_aws_creds_copy(&c, &dsql_creds), SBX_OK);
	assert_string_equal(c.access_key_id, "akid");
	assert_string_equal(c.session_token, "token");
	assert_ptr_not_equal(c.secret_access_key, dsql_creds.secret_access_key);
	sbx_aws_creds_fini(&c);
	assert_null(c.secret_access_key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_vanilla),
		cmocka_unit_test(test_suite_vectors),
		cmocka_unit_test(test_header_value_trim),
		cmocka_unit_test(test_cfn_shaped_post),
		cmocka_unit_test(test_sign_refuses),
		cmocka_unit_test(test_dsql_token),
		cmocka_unit_test(test_dsql_token_admin),
		cmocka_unit_test(test_presign_refuses),
		cmocka_unit_test(test_presign_without_token),
		cmocka_unit_test(test_canonical_query),
		cmocka_unit_test(test_sha256_hex),
		cmocka_unit_test(test_endpoint_precedence),
		cmocka_unit_test(test_creds_copy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
