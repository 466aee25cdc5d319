/*
 * Unit tests of the cost module's pure parts (cost_rules.c) and of the
 * EC2 and Price List answer readers (ec2.c, pricing.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/domain/cost.h"
#include "common/io/ec2.h"
#include "common/io/pricing.h"

/* 2026-01-31T23:30:00Z and 2026-02-01T00:00:00Z */
#define JAN31_2330 1769902200LL
#define FEB1 1769904000LL

static void
test_months(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(sbx_cost_month_start(JAN31_2330), 1767225600LL);
	assert_int_equal(sbx_cost_month_next(1767225600LL), FEB1);
	assert_int_equal(sbx_cost_month_start(FEB1), FEB1);
	/* December rolls into the next year. */
	assert_int_equal(sbx_cost_month_next(sbx_cost_month_parse("2026-12")),
	    sbx_cost_month_parse("2027-01"));
	sbx_cost_month_name(JAN31_2330, buf, sizeof(buf));
	assert_string_equal(buf, "2026-01");
	sbx_cost_month_date(FEB1, buf, sizeof(buf));
	assert_string_equal(buf, "2026-02-01");
	assert_int_equal(sbx_cost_month_parse("2026-02"), FEB1);
	assert_true(sbx_cost_month_parse("2026-13") < 0);
	assert_true(sbx_cost_month_parse("2026-1") < 0);
	assert_true(sbx_cost_month_parse("26-01-01") < 0);
	assert_true(sbx_cost_month_parse("abcd-ef") < 0);
	assert_true(sbx_cost_month_parse(NULL) < 0);
}

struct seen {
	long long month[4];
	double hours[4];
	int n;
};

static void
record(long long month, double hours, void *arg)
{
	struct seen *s = arg;

	s->month[s->n] = month;
	s->hours[s->n] = hours;
	s->n++;
}

static void
test_split_at_midnight(void **state)
{
	struct seen s = { { 0 }, { 0 }, 0 };

	(void)state;
	sbx_cost_split(JAN31_2330, FEB1 + 3600, record, &s);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.month[0], 1767225600LL);
	assert_true(s.hours[0] > 0.4999 && s.hours[0] < 0.5001);
	assert_int_equal(s.month[1], FEB1);
	assert_true(s.hours[1] > 0.9999 && s.hours[1] < 1.0001);
	s.n = 0;
	sbx_cost_split(FEB1, FEB1, record, &s);
	assert_int_equal(s.n, 0);
}

static void
test_view(void **state)
{
	cJSON *v;

	(void)state;
	v = sbx_cost_view(NULL, 0, 0);
	assert_true(cJSON_IsNull(v));
	cJSON_Delete(v);
	/* Followed, never estimated: still null. */
	v = sbx_cost_view("[null,0,1000,true,[],null]", 0, 2000);
	assert_true(cJSON_IsNull(v));
	cJSON_Delete(v);
	/* $1/h, $0.5 accrued at t=1000, now 1000+1800, expiry 1 h later. */
	v = sbx_cost_view("[1.0,0.5,1000,true,[\"AWS::S3::Bucket\"],1000]",
	    1000 + 1800 + 3600, 1000 + 1800);
	assert_non_null(v);
	assert_string_equal(cJSON_GetObjectItem(v, "currency")->valuestring,
	    "USD");
	assert_true(cJSON_GetObjectItem(v, "hourly")->valuedouble == 1.0);
	assert_true(cJSON_GetObjectItem(v, "accrued")->valuedouble == 1.0);
	assert_true(cJSON_GetObjectItem(v, "projected")->valuedouble == 2.0);
	assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(v,
	    "unpriced"), 0)->valuestring, "AWS::S3::Bucket");
	assert_string_equal(cJSON_GetObjectItem(v, "updated_at")->valuestring,
	    "1970-01-01T00:16:40Z");
	cJSON_Delete(v);
	/* Not accruing: accrued stays, nothing projected. */
	v = sbx_cost_view("[1.0,0.5,1000,false,[],1000]", 99999, 5000);
	assert_true(cJSON_GetObjectItem(v, "accrued")->valuedouble == 0.5);
	assert_true(cJSON_GetObjectItem(v, "projected")->valuedouble == 0.5);
	cJSON_Delete(v);
}

static void
test_budget_words(void **state)
{
	char buf[200];

	(void)state;
	sbx_cost_budget_detail(buf, sizeof(buf), 0.42, 9.8, 10);
	assert_string_equal(buf, "this sandbox would add $0.42; $9.80 of "
	    "$10.00 is committed this month");
	assert_true(sbx_cost_usd_parse("9.50") == 9.5);
	assert_true(sbx_cost_usd_parse("0") == 0);
	assert_true(sbx_cost_usd_parse("-1") < 0);
	assert_true(sbx_cost_usd_parse("1e3") < 0);
	assert_true(sbx_cost_usd_parse("1.2.3") < 0);
	assert_true(sbx_cost_usd_parse("") < 0);
}

static const char instances_xml[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/"
    "2016-11-15/\"><requestId>r</requestId><reservationSet><item>"
    "<reservationId>r-1</reservationId><instancesSet><item>"
    "<instanceId>i-0123456789abcdef0</instanceId>"
    "<instanceState><code>16</code><name>running</name></instanceState>"
    "<instanceType>t3.small</instanceType>"
    "<placement><availabilityZone>us-east-1a</availabilityZone>"
    "<tenancy>default</tenancy></placement>"
    "<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName>"
    "<ebs><volumeId>vol-0aaaaaaaaaaaaaaaa</volumeId></ebs></item>"
    "<item><deviceName>/dev/sdf</deviceName><ebs><volumeId>"
    "vol-0bbbbbbbbbbbbbbbb</volumeId></ebs></item></blockDeviceMapping>"
    "</item></instancesSet></item></reservationSet>"
    "</DescribeInstancesResponse>";

static void
test_ec2_parsers(void **state)
{
	struct sbx_ec2_instance in;
	struct sbx_ec2_volume v;
	struct sbx_aws_error e;
	static const char vol[] = "<DescribeVolumesResponse><volumeSet><item>"
	    "<volumeId>vol-1</volumeId><size>20</size><status>in-use</status>"
	    "<volumeType>gp3</volumeType></item></volumeSet>"
	    "</DescribeVolumesResponse>";
	static const char none[] = "<DescribeVolumesResponse><volumeSet/>"
	    "</DescribeVolumesResponse>";
	static const char err[] = "<Response><Errors><Error><Code>"
	    "InvalidInstanceID.NotFound</Code><Message>nope</Message></Error>"
	    "</Errors><RequestID>x</RequestID></Response>";

	(void)state;
	assert_int_equal(sbx_ec2_parse_instance(instances_xml,
	    strlen(instances_xml), &in), SBX_OK);
	assert_string_equal(in.instance_type, "t3.small");
	assert_string_equal(in.tenancy, "default");
	assert_string_equal(in.state, "running");
	assert_null(in.platform);
	assert_int_equal(in.nvolumes, 2);
	assert_string_equal(in.volume_ids[1], "vol-0bbbbbbbbbbbbbbbb");
	sbx_ec2_instance_fini(&in);
	assert_int_equal(sbx_ec2_parse_volume(vol, strlen(vol), &v), SBX_OK);
	assert_string_equal(v.volume_type, "gp3");
	assert_int_equal(v.size_gib, 20);
	sbx_ec2_volume_fini(&v);
	memset(&e, 0, sizeof(e));
	assert_int_equal(sbx_ec2_parse_error(err, strlen(err), &e), SBX_OK);
	assert_string_equal(e.code, "InvalidInstanceID.NotFound");
	/* An empty set, another document, a DTD. */
	assert_int_equal(sbx_ec2_parse_volume(none, strlen(none), &v),
	    SBX_ENOTFOUND);
	assert_int_equal(sbx_ec2_parse_instance(vol, strlen(vol), &in),
	    SBX_EPARSE);
	assert_int_equal(sbx_ec2_parse_error("<!DOCTYPE x><Response/>", 23,
	    &e), SBX_EPARSE);
}

static void
test_pricing_parser(void **state)
{
	struct sbx_pricing_price p;
	struct sbx_aws_error e;
	char *next = NULL;
	static const char ans[] =
	    "{\"FormatVersion\":\"aws_v1\",\"NextToken\":\"t2\",\"PriceList\":"
	    "[\"{\\\"product\\\":{},\\\"terms\\\":{\\\"OnDemand\\\":{\\\"A.B\\\""
	    ":{\\\"priceDimensions\\\":{\\\"A.B.C\\\":{\\\"unit\\\":\\\"Hrs\\\","
	    "\\\"pricePerUnit\\\":{\\\"USD\\\":\\\"0.0104000000\\\"}}}}},"
	    "\\\"Reserved\\\":{\\\"A.R\\\":{\\\"priceDimensions\\\":{\\\"A.R.C\\\""
	    ":{\\\"unit\\\":\\\"Hrs\\\",\\\"pricePerUnit\\\":{\\\"USD\\\":"
	    "\\\"0.0065\\\"}}}}}}}\"]}";
	static const char other[] =
	    "{\"PriceList\":[\"{\\\"terms\\\":{\\\"OnDemand\\\":{\\\"X\\\":{"
	    "\\\"priceDimensions\\\":{\\\"Y\\\":{\\\"unit\\\":\\\"Hrs\\\","
	    "\\\"pricePerUnit\\\":{\\\"USD\\\":\\\"0.02\\\"}}}}}}}\"]}";

	(void)state;
	memset(&p, 0, sizeof(p));
	assert_int_equal(sbx_pricing_parse(ans, strlen(ans), &p, &next),
	    SBX_OK);
	assert_int_equal(p.found, 1);
	assert_true(p.usd == 0.0104);
	assert_string_equal(p.unit, "Hrs");
	assert_string_equal(next, "t2");
	free(next);
	/* A second page with another price: ambiguous, never guessed. */
	assert_int_equal(sbx_pricing_parse(other, strlen(other), &p, &next),
	    SBX_OK);
	assert_int_equal(p.found, -1);
	assert_null(next);
	memset(&p, 0, sizeof(p));
	assert_int_equal(sbx_pricing_parse("{\"PriceList\":[]}", 16, &p,
	    &next), SBX_OK);
	assert_int_equal(p.found, 0);
	assert_int_equal(sbx_pricing_parse("[]", 2, &p, &next), SBX_EPARSE);
	memset(&e, 0, sizeof(e));
	assert_int_equal(sbx_pricing_parse_error("{\"__type\":\"com.amazonaws."
	    "pricing#ThrottlingException\",\"message\":\"slow down\"}", 81,
	    &e), SBX_OK);
	assert_string_equal(e.code, "ThrottlingException");
	assert_string_equal(e.message, "slow down");
	assert_int_equal(sbx_awsapi_map_error(400, "ThrottlingException"),
	    SBX_ETHROTTLED);
	assert_int_equal(sbx_awsapi_map_error(403, "InvalidSignatureException"),
	    SBX_EAUTH);
	assert_int_equal(sbx_awsapi_map_error(503, "Unavailable"),
	    SBX_EUNAVAILABLE);
	assert_int_equal(sbx_awsapi_map_error(400, "NotFoundException"),
	    SBX_EREMOTE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_months),
		cmocka_unit_test(test_split_at_midnight),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_budget_words),
		cmocka_unit_test(test_ec2_parsers),
		cmocka_unit_test(test_pricing_parser),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
