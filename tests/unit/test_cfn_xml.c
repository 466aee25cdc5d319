/*
 * Unit tests of common/cfn's pure half: reading CloudFormation Query API
 * answers (results and ErrorResponse documents) and mapping AWS error
 * codes to enum sbx_err. No network.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/io/cfn.h"

#define NS "xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\""
#define ARN "arn:aws:cloudformation:us-east-1:123456789012:stack/sbx-demo/" \
	"5ef0b2a0-1c3b-11ef-9a4b-0a1b2c3d4e5f"

static enum sbx_err
parse_error(const char *xml, struct sbx_cfn_error *e)
{
	memset(e, 0, sizeof(*e));
	return sbx_cfn_parse_error(xml, strlen(xml), e);
}

static void
test_create_result(void **state)
{
	static const char xml[] =
	    "<CreateStackResponse " NS ">\n"
	    "  <CreateStackResult>\n"
	    "    <StackId>" ARN "</StackId>\n"
	    "  </CreateStackResult>\n"
	    "  <ResponseMetadata><RequestId>b9b4b068-3a41-11e5-94eb-"
	    "example</RequestId></ResponseMetadata>\n"
	    "</CreateStackResponse>\n";
	char *id = NULL;

	(void)state;
	assert_int_equal(sbx_cfn_parse_create(xml, strlen(xml), &id), SBX_OK);
	assert_string_equal(id, ARN);
	free(id);
}

static void
test_create_result_shapes(void **state)
{
	/* A prefixed namespace reads the same: names are matched locally. */
	static const char prefixed[] =
	    "<cf:CreateStackResponse xmlns:cf=\"urn:x\"><cf:CreateStackResult>"
	    "<cf:StackId>id-1</cf:StackId></cf:CreateStackResult>"
	    "</cf:CreateStackResponse>";
	static const char *const bad[] = {
		"<CreateStackResponse><CreateStackResult/></CreateStackResponse>",
		"<CreateStackResponse><CreateStackResult><StackId></StackId>"
		    "</CreateStackResult></CreateStackResponse>",
		"<DeleteStackResponse/>",
		"<CreateStackResponse><CreateStackResult><StackId>x",
		"not xml at all",
		"",
	};
	char *id = NULL;
	size_t i;

	(void)state;
	assert_int_equal(sbx_cfn_parse_create(prefixed, strlen(prefixed), &id),
	    SBX_OK);
	assert_string_equal(id, "id-1");
	free(id);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sbx_cfn_parse_create(bad[i], strlen(bad[i]),
		    &id), SBX_EPARSE);
		assert_null(id);
	}
}

static void
test_entities_refused(void **state)
{
	/* Internal entities (billion laughs) and external ones (XXE). */
	static const char laughs[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
	    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\n"
	    "<CreateStackResponse><CreateStackResult><StackId>&b;</StackId>"
	    "</CreateStackResult></CreateStackResponse>";
	static const char xxe[] =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
	    "<CreateStackResponse><CreateStackResult><StackId>&x;</StackId>"
	    "</CreateStackResult></CreateStackResponse>";
	char *id = NULL;

	(void)state;
	assert_int_equal(sbx_cfn_parse_create(laughs, strlen(laughs), &id),
	    SBX_EPARSE);
	assert_int_equal(sbx_cfn_parse_create(xxe, strlen(xxe), &id),
	    SBX_EPARSE);
	assert_null(id);
}

/*
 * A body that does not convert from the encoding it declares is refused
 * without a word on stderr: libxml2 would print there by default, outside
 * the log, whatever XML_PARSE_NOERROR says.
 */
static void
test_bad_encoding_quiet(void **state)
{
	static const char xml[] =
	    "<?xml version=\"1.0\" encoding=\"EUC-JP\"?>"
	    "<CreateStackResponse><CreateStackResult><StackId>\xff\xfe"
	    "</StackId></CreateStackResult></CreateStackResponse>";
	char *id = NULL;
	FILE *tmp;
	int saved;
	long written;

	(void)state;
	assert_non_null(tmp = tmpfile());
	fflush(stderr);
	assert_true((saved = dup(STDERR_FILENO)) >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	assert_int_equal(sbx_cfn_parse_create(xml, sizeof(xml) - 1, &id),
	    SBX_EPARSE);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	/* The file's size: what was written to fd 2 meanwhile. */
	written = (long)lseek(fileno(tmp), 0, SEEK_END);
	fclose(tmp);
	assert_null(id);
	assert_int_equal(written, 0);
}

static void
test_describe_with_outputs_and_tags(void **state)
{
	static const char xml[] =
	    "<DescribeStacksResponse " NS ">\n"
	    " <DescribeStacksResult>\n"
	    "  <Stacks>\n"
	    "   <member>\n"
	    "    <StackName>sbx-demo</StackName>\n"
	    "    <StackId>" ARN "</StackId>\n"
	    "    <CreationTime>2026-11-26T10:00:00.000Z</CreationTime>\n"
	    "    <StackStatus>CREATE_COMPLETE</StackStatus>\n"
	    "    <Outputs>\n"
	    "     <member><OutputKey>InstanceId</OutputKey>"
	    "<OutputValue>i-0123456789abcdef0</OutputValue>"
	    "<Description>the instance</Description></member>\n"
	    "     <member><OutputKey>PublicIp</OutputKey>"
	    "<OutputValue>203.0.113.7</OutputValue></member>\n"
	    "     <member><OutputKey>Empty</OutputKey></member>\n"
	    "    </Outputs>\n"
	    "    <Tags>\n"
	    "     <member><Key>sbx:owner</Key><Value>a&amp;b@example.com"
	    "</Value></member>\n"
	    "     <member><Key>Environment</Key><Value>Sandbox</Value>"
	    "</member>\n"
	    "    </Tags>\n"
	    "   </member>\n"
	    "   <member>\n"
	    "    <StackName>sbx-other</StackName>\n"
	    "    <StackId>id-2</StackId>\n"
	    "    <StackStatus>ROLLBACK_COMPLETE</StackStatus>\n"
	    "    <StackStatusReason>The following resource(s) failed to "
	    "create: [Instance]. </StackStatusReason>\n"
	    "   </member>\n"
	    "  </Stacks>\n"
	    "  <NextToken>page-2</NextToken>\n"
	    " </DescribeStacksResult>\n"
	    "</DescribeStacksResponse>\n";
	struct sbx_cfn_stacks l = { 0 };
	char *next = NULL;

	(void)state;
	assert_int_equal(sbx_cfn_parse_describe(xml, strlen(xml), &l, &next),
	    SBX_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(next, "page-2");
	assert_string_equal(l.v[0].stack_name, "sbx-demo");
	assert_string_equal(l.v[0].stack_id, ARN);
	assert_string_equal(l.v[0].status, "CREATE_COMPLETE");
	assert_null(l.v[0].status_reason);
	assert_string_equal(l.v[0].creation_time, "2026-11-26T10:00:00.000Z");
	assert_int_equal(l.v[0].noutputs, 3);
	assert_string_equal(l.v[0].outputs[0].key, "InstanceId");
	assert_string_equal(l.v[0].outputs[0].value, "i-0123456789abcdef0");
	assert_string_equal(l.v[0].outputs[1].key, "PublicIp");
	assert_string_equal(l.v[0].outputs[1].value, "203.0.113.7");
	assert_string_equal(l.v[0].outputs[2].value, "");
	assert_int_equal(l.v[0].ntags, 2);
	assert_string_equal(l.v[0].tags[0].key, "sbx:owner");
	assert_string_equal(l.v[0].tags[0].value, "a&b@example.com");
	assert_string_equal(l.v[0].tags[1].value, "Sandbox");
	assert_string_equal(l.v[1].status, "ROLLBACK_COMPLETE");
	assert_string_equal(l.v[1].status_reason, "The following resource(s) "
	    "failed to create: [Instance]. ");
	assert_int_equal(l.v[1].noutputs, 0);
	assert_null(l.v[1].outputs);
	free(next);

	/* A second page appends; no NextToken means the last page. */
	assert_int_equal(sbx_cfn_parse_describe(xml, strlen(xml), &l, NULL),
	    SBX_OK);
	assert_int_equal(l.n, 4);
	sbx_cfn_stacks_fini(&l);
	assert_null(l.v);
	sbx_cfn_stacks_fini(&l);
	sbx_cfn_stacks_fini(NULL);
}

static void
test_describe_empty_and_bad(void **state)
{
	static const char empty[] = "<DescribeStacksResponse " NS ">"
	    "<DescribeStacksResult><Stacks/></DescribeStacksResult>"
	    "</DescribeStacksResponse>";
	/* A member without its StackStatus is not a stack we can use. */
	static const char partial[] = "<DescribeStacksResponse>"
	    "<DescribeStacksResult><Stacks><member><StackName>x</StackName>"
	    "<StackId>y</StackId></member></Stacks>"
	    "<NextToken>t</NextToken></DescribeStacksResult>"
	    "</DescribeStacksResponse>";
	static const char noresult[] = "<DescribeStacksResponse/>";
	struct sbx_cfn_stacks l = { 0 };
	char *next = NULL;

	(void)state;
	assert_int_equal(sbx_cfn_parse_describe(empty, strlen(empty), &l,
	    &next), SBX_OK);
	assert_int_equal(l.n, 0);
	assert_null(next);
	assert_int_equal(sbx_cfn_parse_describe(partial, strlen(partial), &l,
	    &next), SBX_EPARSE);
	assert_null(next);
	assert_int_equal(sbx_cfn_parse_describe(noresult, strlen(noresult), &l,
	    &next), SBX_EPARSE);
	sbx_cfn_stacks_fini(&l);
}

static void
test_events(void **state)
{
	static const char xml[] = "<DescribeStackEventsResponse " NS ">"
	    "<DescribeStackEventsResult><StackEvents>"
	    "<member><EventId>e2</EventId><StackName>sbx-demo</StackName>"
	    "<LogicalResourceId>Instance</LogicalResourceId>"
	    "<PhysicalResourceId></PhysicalResourceId>"
	    "<ResourceType>AWS::EC2::Instance</ResourceType>"
	    "<Timestamp>2026-11-26T10:00:05Z</Timestamp>"
	    "<ResourceStatus>CREATE_FAILED</ResourceStatus>"
	    "<ResourceStatusReason>no capacity</ResourceStatusReason></member>"
	    "<member><EventId>e1</EventId>"
	    "<ResourceStatus>CREATE_IN_PROGRESS</ResourceStatus></member>"
	    "</StackEvents><NextToken>more</NextToken>"
	    "</DescribeStackEventsResult></DescribeStackEventsResponse>";
	struct sbx_cfn_events l = { 0 };
	char *next = NULL;

	(void)state;
	assert_int_equal(sbx_cfn_parse_events(xml, strlen(xml), &l, &next),
	    SBX_OK);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].event_id, "e2");
	assert_string_equal(l.v[0].logical_id, "Instance");
	assert_string_equal(l.v[0].physical_id, "");
	assert_string_equal(l.v[0].resource_type, "AWS::EC2::Instance");
	assert_string_equal(l.v[0].timestamp, "2026-11-26T10:00:05Z");
	assert_string_equal(l.v[0].status, "CREATE_FAILED");
	assert_string_equal(l.v[0].status_reason, "no capacity");
	assert_null(l.v[1].status_reason);
	assert_null(l.v[1].resource_type);
	assert_string_equal(next, "more");
	free(next);
	sbx_cfn_events_fini(&l);
}

static void
test_list(void **state)
{
	static const char xml[] = "<ListStacksResponse " NS ">"
	    "<ListStacksResult><StackSummaries>"
	    "<member><StackId>id-1</StackId><StackName>sbx-a</StackName>"
	    "<StackStatus>DELETE_COMPLETE</StackStatus>"
	    "<DeletionTime>2026-11-26T10:00:00Z</DeletionTime></member>"
	    "<member><StackId>id-2</StackId><StackName>sbx-b</StackName>"
	    "<StackStatus>CREATE_FAILED</StackStatus>"
	    "<StackStatusReason>why</StackStatusReason></member>"
	    "</StackSummaries></ListStacksResult></ListStacksResponse>";
	static const char bad[] = "<ListStacksResponse><ListStacksResult>"
	    "<StackSummaries><member><StackId>id-1</StackId></member>"
	    "</StackSummaries></ListStacksResult></ListStacksResponse>";
	struct sbx_cfn_summaries l = { 0 };
	char *next = NULL;

	(void)state;
	assert_int_equal(sbx_cfn_parse_list(xml, strlen(xml), &l, &next),
	    SBX_OK);
	assert_null(next);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].stack_name, "sbx-a");
	assert_string_equal(l.v[0].status, "DELETE_COMPLETE");
	assert_null(l.v[0].status_reason);
	assert_string_equal(l.v[1].stack_id, "id-2");
	assert_string_equal(l.v[1].status_reason, "why");
	sbx_cfn_summaries_fini(&l);
	assert_int_equal(sbx_cfn_parse_list(bad, strlen(bad), &l, &next),
	    SBX_EPARSE);
	sbx_cfn_summaries_fini(&l);
}

/* An ErrorResponse as AWS writes it. */
static const char *
error_doc(char *buf, size_t len, const char *code, const char *message)
{
	snprintf(buf, len, "<ErrorResponse " NS ">\n  <Error>\n"
	    "    <Type>Sender</Type>\n    <Code>%s</Code>\n"
	    "    <Message>%s</Message>\n  </Error>\n"
	    "  <RequestId>5ccc7dcd-744c-11e5-be70-example</RequestId>\n"
	    "</ErrorResponse>\n", code, message);
	return buf;
}

static void
test_error_mapping(void **state)
{
	static const struct {
		long status;
		const char *code;
		const char *message;
		enum sbx_err want;
	} cases[] = {
		{ 400, "Throttling", "Rate exceeded", SBX_ETHROTTLED },
		{ 400, "ThrottlingException", "Rate exceeded", SBX_ETHROTTLED },
		{ 503, "RequestLimitExceeded", "slow down", SBX_ETHROTTLED },
		{ 400, "ValidationError",
		    "Stack with id sbx-gone does not exist", SBX_ENOTFOUND },
		{ 400, "ValidationError", "Template format error: bad",
		    SBX_EINVAL },
		{ 400, "AlreadyExistsException",
		    "Stack [sbx-demo] already exists", SBX_ECONFLICT },
		{ 400, "TokenAlreadyExistsException",
		    "Token is already in use", SBX_ECONFLICT },
		{ 400, "InsufficientCapabilitiesException",
		    "Requires capabilities : [CAPABILITY_IAM]", SBX_EINVAL },
		{ 403, "InvalidClientTokenId",
		    "The security token included in the request is invalid.",
		    SBX_EAUTH },
		{ 403, "SignatureDoesNotMatch", "The request signature we "
		    "calculated does not match", SBX_EAUTH },
		{ 400, "ExpiredToken", "The security token included in the "
		    "request is expired", SBX_EAUTH },
		{ 403, "AccessDenied", "User is not authorized", SBX_EAUTH },
		{ 500, "InternalFailure", "oops", SBX_EUNAVAILABLE },
		{ 503, "ServiceUnavailable", "later", SBX_EUNAVAILABLE },
		{ 502, "SomethingNew", "gateway", SBX_EUNAVAILABLE },
		{ 400, "LimitExceededException", "too many stacks",
		    SBX_EREMOTE },
		{ 403, "SomethingElse", "no", SBX_EAUTH },
		{ 429, "", "", SBX_ETHROTTLED },
		{ 0, "", "", SBX_EUNAVAILABLE },
	};
	struct sbx_cfn_error e;
	char buf[1024];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].code[0] != '\0') {
			assert_int_equal(parse_error(error_doc(buf, sizeof(buf),
			    cases[i].code, cases[i].message), &e), SBX_OK);
			assert_string_equal(e.code, cases[i].code);
			assert_string_equal(e.message, cases[i].message);
		}
		assert_int_equal(sbx_cfn_map_error(cases[i].status,
		    cases[i].code, cases[i].message), cases[i].want);
	}
	assert_int_equal(sbx_cfn_map_error(400, NULL, NULL), SBX_EREMOTE);
}

static void
test_error_malformed(void **state)
{
	static const char *const bad[] = {
		"<ErrorResponse><Error><Code>Throttling</Code>",
		"<ErrorResponse><Error><Message>no code</Message></Error>"
		    "</ErrorResponse>",
		"<ErrorResponse><RequestId>x</RequestId></ErrorResponse>",
		"<Other><Error><Code>Throttling</Code></Error></Other>",
		"<html><body>502 Bad Gateway</body></html>",
		"",
	};
	struct sbx_cfn_error e;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_error(bad[i], &e), SBX_EPARSE);
		assert_string_equal(e.code, "");
	}
}

static void
test_error_message_truncated_on_utf8(void **state)
{
	struct sbx_cfn_error e;
	char msg[1200], *doc;
	size_t i, n, len = 0;

	(void)state;
	/* 1022 ASCII bytes then "é" (2 bytes): the cut falls inside it. */
	for (i = 0; i < 1022; i++)
		msg[len++] = 'a';
	msg[len++] = '\xc3';
	msg[len++] = '\xa9';
	msg[len++] = 'z';
	msg[len] = '\0';
	n = strlen(msg) + 512;
	doc = malloc(n);
	assert_non_null(doc);
	assert_int_equal(parse_error(error_doc(doc, n, "ValidationError", msg),
	    &e), SBX_OK);
	assert_int_equal(strlen(e.message), 1022);
	assert_int_equal(e.message[1021], 'a');
	free(doc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_result),
		cmocka_unit_test(test_create_result_shapes),
		cmocka_unit_test(test_entities_refused),
		cmocka_unit_test(test_bad_encoding_quiet),
		cmocka_unit_test(test_describe_with_outputs_and_tags),
		cmocka_unit_test(test_describe_empty_and_bad),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_error_mapping),
		cmocka_unit_test(test_error_malformed),
		cmocka_unit_test(test_error_message_truncated_on_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
