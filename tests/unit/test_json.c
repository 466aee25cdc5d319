/*
 * JSON at the boundary: what the parse refuses (depth, trailing bytes,
 * NULs, invalid UTF-8), what the field check refuses (unknown, duplicate,
 * wrong type, fractions, out of bounds, missing), the getters, RFC 3339
 * times both ways, and the streamed writers, byte for byte against
 * cJSON's own print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/core/json.h"
#include "common/core/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ parse */

/* True when the n bytes at s are valid UTF-8 throughout. */
static int
utf8_whole(const char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		k = sbx_json_utf8_len((const unsigned char *)s + i, n - i);
		if (k == 0)
			return 0;
		i += k;
	}
	return 1;
}

static void
test_utf8_cut(void **state)
{
	/* "a", e-acute (2), euro (3), an emoji (4), "z". */
	static const char text[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";
	static const size_t want[] = { 0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 11,
	    11 };
	size_t max;

	(void)state;
	for (max = 0; max < sizeof(want) / sizeof(want[0]); max++)
		if (sbx_json_utf8_cut(text, max) != want[max])
			fail_msg("max %zu: kept %zu, expected %zu", max,
			    sbx_json_utf8_cut(text, max), want[max]);
	/* Text already cut short loses its partial last character. */
	assert_int_equal(sbx_json_utf8_cut("ab\xe2\x82", 4), 2);
	assert_int_equal(sbx_json_utf8_cut("ab\xf0", 3), 2);
	/* Invalid bytes are single characters, kept as they were. */
	assert_int_equal(sbx_json_utf8_cut("\xff\xfe\x80x", 3), 3);
	assert_int_equal(sbx_json_utf8_cut("\xe2x\xa9y", 10), 4);
	assert_int_equal(sbx_json_utf8_cut("", 5), 0);
}

static void
test_fmt_cuts_between_characters(void **state)
{
	char buf[16], name[64];
	size_t n, len, i;

	(void)state;
	/* Every buffer size over text of 3-byte characters. */
	for (i = 0; i + 3 < sizeof(name); i += 3)
		memcpy(name + i, "\xe2\x82\xac", 3);
	name[i] = '\0';
	for (len = 1; len <= sizeof(buf); len++) {
		n = sbx_json_fmt(buf, len, "x:%s", name);
		assert_int_equal(n, strlen(buf));
		assert_true(n < len);
		if (!utf8_whole(buf, n))
			fail_msg("buffer of %zu bytes ends in half a character",
			    len);
		/* As much as fits: at most a character's worth is lost. */
		if (len > 2)
			assert_true(n + 3 > len - 1);
	}
	/* Fits: written whole, like snprintf. */
	assert_int_equal(sbx_json_fmt(buf, sizeof(buf), "%d-%s", 7, "ok"), 4);
	assert_string_equal(buf, "7-ok");
	assert_int_equal(sbx_json_fmt(buf, 0, "%s", "x"), 0);
}

/*
 * The field check's detail quotes an unknown member's name, which comes
 * from the client: cut into a small detail buffer, it stays whole UTF-8.
 */
static void
test_check_detail_cut(void **state)
{
	static const struct sbx_field fields[] = {
		{ "name", SBX_F_STRING, 0, 0, 0, NULL, NULL },
	};
	char body[512], detail[64];
	const char *bad = NULL;
	cJSON *j;
	size_t i, o;

	(void)state;
	/* "a" first, so the byte cut would fall inside a character. */
	o = (size_t)snprintf(body, sizeof(body), "{\"a");
	for (i = 0; i < 60; i++, o += 3)
		memcpy(body + o, "\xe2\x82\xac", 3);
	snprintf(body + o, sizeof(body) - o, "\": 1}");
	j = cJSON_Parse(body);
	assert_non_null(j);
	assert_int_equal(sbx_json_check(j, fields, 1, &bad, detail,
	    sizeof(detail)), SBX_EINVAL);
	assert_true(strlen(detail) > 50);
	assert_true(utf8_whole(detail, strlen(detail)));
	cJSON_Delete(j);
}

static void
test_parse_ok(void **state)
{
	static const char *const ok[] = {
		"{}",
		" \t\r\n{\"a\": 1} \n",
		"[1, 2, 3]",
		"\"text\"",
		"42",
		"null",
		"{\"s\": \"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
		"{\"s\": \"\\u00e9 \\ud83d\\ude00\"}",
		/* A backslash then "u0000" as text: not a NUL escape. */
		"{\"s\": \"\\\\u0000\"}",
		/* Brackets inside strings do not count towards depth. */
		"{\"s\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
		"{\"s\": \"\\\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}",
	};
	char detail[128];
	cJSON *j;
	size_t i;

	(void)state;
	for (i = 0; i < N(ok); i++) {
		j = NULL;
		if (sbx_json_parse(ok[i], strlen(ok[i]), &j, detail,
		    sizeof(detail)) != SBX_OK)
			fail_msg("case %zu refused: %s", i, detail);
		assert_non_null(j);
		cJSON_Delete(j);
	}

	/* Only len bytes are read: what follows them is not trailing. */
	j = NULL;
	assert_int_equal(sbx_json_parse("{}garbage", 2, &j, detail,
	    sizeof(detail)), SBX_OK);
	assert_true(cJSON_IsObject(j));
	cJSON_Delete(j);
}

static void
test_parse_refused(void **state)
{
	static const struct {
		const char *text;
		size_t len;	/* 0: strlen(text) */
		const char *want;
	} bad[] = {
		{ "", 0, "empty" },
		{ "{", 0, "malformed" },
		{ "{}x", 0, "malformed" },
		{ "{} {}", 0, "malformed" },
		{ "{}\n,", 0, "malformed" },
		{ "{\"a\": 1,}", 0, "malformed" },
		{ "{'a': 1}", 0, "malformed" },
		{ "{\"a\": 1} // comment", 0, "malformed" },
		{ "{\"a\": NaN}", 0, "malformed" },
		{ "{}\0x", 4, "NUL" },
		{ "{}\0", 3, "NUL" },
		{ "{\"a\": \"b\0\"}", 11, "NUL" },
		{ "{\"a\": \"\\u0000\"}", 0, "\\u0000" },
		{ "{\"a\": \"x\\u0000y\"}", 0, "\\u0000" },
		{ "{\"a\": \"\xff\"}", 0, "UTF-8" },
		{ "{\"a\": \"\xc0\xaf\"}", 0, "UTF-8" },	/* overlong */
		{ "{\"a\": \"\xed\xa0\x80\"}", 0, "UTF-8" },	/* surrogate */
		{ "{\"a\": \"\xf4\x90\x80\x80\"}", 0, "UTF-8" },/* > U+10FFFF */
		{ "{\"a\": \"\xe2\x82\"}", 0, "UTF-8" },	/* cut short */
		{ "{\"a\": \"\\ud83d\"}", 0, "malformed" },	/* lone high */
	};
	char detail[128];
	cJSON *j;
	size_t i;

	(void)state;
	for (i = 0; i < N(bad); i++) {
		j = (cJSON *)&j;	/* must be reset to NULL */
		if (sbx_json_parse(bad[i].text, bad[i].len != 0 ? bad[i].len :
		    strlen(bad[i].text), &j, detail, sizeof(detail)) !=
		    SBX_EPARSE)
			fail_msg("case %zu accepted", i);
		assert_null(j);
		if (strstr(detail, bad[i].want) == NULL)
			fail_msg("case %zu: detail \"%s\" lacks \"%s\"", i,
			    detail, bad[i].want);
	}
}

/* open repeated n times, then a 1, then close repeated n times. */
static char *
nested(const char *open, const char *close, int n)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc((size_t)n * (lo + lc) + 2), *p = s;
	int i;

	assert_non_null(s);
	for (i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	*p++ = '1';
	for (i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void
test_parse_depth(void **state)
{
	static const struct {
		const char *open, *close;
	} shapes[] = {
		{ "[", "]" },
		{ "{\"a\":", "}" },
		{ "[{\"a\":", "}]" },
	};
	char detail[128], *text;
	cJSON *j;
	size_t i;
	int depth;

	(void)state;
	for (i = 0; i < N(shapes); i++) {
		/* The last shape opens two levels per repetition. */
		int per = i == 2 ? 2 : 1;

		depth = SBX_JSON_MAX_DEPTH / per;
		text = nested(shapes[i].open, shapes[i].close, depth);
		j = NULL;
		if (sbx_json_parse(text, strlen(text), &j, detail,
		    sizeof(detail)) != SBX_OK)
			fail_msg("shape %zu at the limit refused: %s", i,
			    detail);
		cJSON_Delete(j);
		free(text);

		text = nested(shapes[i].open, shapes[i].close, depth + 1);
		j = NULL;
		assert_int_equal(sbx_json_parse(text, strlen(text), &j,
		    detail, sizeof(detail)), SBX_EPARSE);
		assert_null(j);
		assert_non_null(strstr(detail, "nesting"));
		free(text);
	}

	/* Far past cJSON's own limit: refused before cJSON recurses. */
	text = nested("[", "]", 100000);
	assert_int_equal(sbx_json_parse(text, strlen(text), &j, detail,
	    sizeof(detail)), SBX_EPARSE);
	free(text);

	/* Many siblings are not depth: [[1],[1],...,[1]]. */
	text = malloc(1 + 1000 * 4 + 1);
	assert_non_null(text);
	text[0] = '[';
	for (i = 0; i < 1000; i++)
		memcpy(text + 1 + i * 4, "[1],", 4);
	text[1000 * 4] = ']';
	text[1000 * 4 + 1] = '\0';
	assert_int_equal(sbx_json_parse(text, strlen(text), &j, detail,
	    sizeof(detail)), SBX_OK);
	assert_int_equal(cJSON_GetArraySize(j), 1000);
	cJSON_Delete(j);
	free(text);
}

/* ------------------------------------------------------------ check */

static int
lower_name(const char *v)
{
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || *v == '-'))
			return 0;
	return 1;
}

static const struct sbx_field fields[] = {
	{ "name", SBX_F_STRING, 1, 1, 16, lower_name,
	    "lower-case letters and '-'" },
	{ "ttl_minutes", SBX_F_INT, 0, 1, 240, NULL, NULL },
	{ "count", SBX_F_INT, 0, 0, 0, NULL, NULL },
	{ "note", SBX_F_STRING, 0, 0, 0, NULL, NULL },
	{ "dry_run", SBX_F_BOOL, 0, 0, 0, NULL, NULL },
	{ "tags", SBX_F_OBJECT, 0, 0, 2, NULL, NULL },
	{ "items", SBX_F_ARRAY, 0, 1, 2, NULL, NULL },
	{ "expires_at", SBX_F_TIME, 0, 0, 0, NULL, NULL },
	{ "checked", SBX_F_STRING, 0, 0, 0, lower_name, NULL },
};

static void
test_check(void **state)
{
	static const struct {
		const char *json;
		const char *bad;	/* NULL: accepted */
		const char *detail;	/* exact, when bad */
	} cases[] = {
		/* accepted */
		{ "{\"name\": \"abc\"}", NULL, NULL },
		{ "{\"name\": \"abc\", \"ttl_minutes\": 1, \"count\": -7, "
		  "\"note\": \"\", \"dry_run\": false, \"tags\": {\"a\": 1, "
		  "\"b\": 2}, \"items\": [1, 2], "
		  "\"expires_at\": \"2026-11-26T10:00:00Z\"}", NULL, NULL },
		{ "{\"name\": \"a\", \"ttl_minutes\": 240}", NULL, NULL },
		{ "{\"name\": \"abcdefghijklmnop\"}", NULL, NULL },
		{ "{\"name\": \"abc\", \"ttl_minutes\": 15.0}", NULL, NULL },
		{ "{\"name\": \"abc\", \"ttl_minutes\": 1.5e1}", NULL, NULL },
		{ "{\"name\": \"abc\", \"count\": 9007199254740992}", NULL,
		    NULL },
		{ "{\"name\": \"abc\", \"count\": -9223372036854775808}", NULL,
		    NULL },
		{ "{\"name\": \"abc\", \"tags\": {}}", NULL, NULL },

		/* missing, unknown, duplicate */
		{ "{}", "name", "name: is required" },
		{ "{\"ttl_minutes\": 15}", "name", "name: is required" },
		{ "{\"name\": \"abc\", \"colour\": \"red\"}", "colour",
		    "colour: unknown field" },
		{ "{\"name\": \"abc\", \"Name\": \"abc\"}", "Name",
		    "Name: unknown field" },
		{ "{\"name\": \"abc\", \"name\": \"abd\"}", "name",
		    "name: appears more than once" },

		/* wrong types */
		{ "{\"name\": 5}", "name", "name: must be a string" },
		{ "{\"name\": null}", "name", "name: must be a string" },
		{ "{\"name\": [\"abc\"]}", "name", "name: must be a string" },
		{ "{\"name\": \"abc\", \"count\": \"15\"}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": true}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": null}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": 1.5}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": 1e300}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": -1e300}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": 1e999}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"count\": 9223372036854775808}", "count",
		    "count: must be an integer" },
		{ "{\"name\": \"abc\", \"ttl_minutes\": \"15\"}", "ttl_minutes",
		    "ttl_minutes: must be an integer between 1 and 240" },
		{ "{\"name\": \"abc\", \"ttl_minutes\": 15.5}", "ttl_minutes",
		    "ttl_minutes: must be an integer between 1 and 240" },
		{ "{\"name\": \"abc\", \"dry_run\": \"true\"}", "dry_run",
		    "dry_run: must be true or false" },
		{ "{\"name\": \"abc\", \"dry_run\": 1}", "dry_run",
		    "dry_run: must be true or false" },
		{ "{\"name\": \"abc\", \"tags\": []}", "tags",
		    "tags: must be an object" },
		{ "{\"name\": \"abc\", \"items\": {}}", "items",
		    "items: must be an array" },
		{ "{\"name\": \"abc\", \"expires_at\": 1795687200}",
		    "expires_at", "expires_at: must be an RFC 3339 time such as "
		    "2026-11-26T10:00:00Z" },
		{ "{\"name\": \"abc\", \"expires_at\": \"tomorrow\"}",
		    "expires_at", "expires_at: must be an RFC 3339 time such as "
		    "2026-11-26T10:00:00Z" },

		/* bounds */
		{ "{\"name\": \"abc\", \"ttl_minutes\": 0}", "ttl_minutes",
		    "ttl_minutes: must be between 1 and 240" },
		{ "{\"name\": \"abc\", \"ttl_minutes\": 241}", "ttl_minutes",
		    "ttl_minutes: must be between 1 and 240" },
		{ "{\"name\": \"abc\", \"ttl_minutes\": -1}", "ttl_minutes",
		    "ttl_minutes: must be between 1 and 240" },
		{ "{\"name\": \"abc\", \"ttl_minutes\": 4294967297}",
		    "ttl_minutes", "ttl_minutes: must be between 1 and 240" },
		{ "{\"name\": \"\"}", "name",
		    "name: must be between 1 and 16 bytes long" },
		{ "{\"name\": \"abcdefghijklmnopq\"}", "name",
		    "name: must be between 1 and 16 bytes long" },
		{ "{\"name\": \"abc\", \"tags\": {\"a\": 1, \"b\": 2, "
		  "\"c\": 3}}", "tags", "tags: must have between 0 and 2 "
		  "members" },
		{ "{\"name\": \"abc\", \"items\": []}", "items",
		    "items: must have between 1 and 2 items" },

		/* valid() */
		{ "{\"name\": \"ABC\"}", "name",
		    "name: must be lower-case letters and '-'" },
		{ "{\"name\": \"abc\", \"checked\": \"A\"}", "checked",
		    "checked: is not a valid value" },
	};
	char detail[160], pd[128];
	const char *bad;
	cJSON *j;
	enum sbx_err rc;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		j = NULL;
		if (sbx_json_parse(cases[i].json, strlen(cases[i].json), &j,
		    pd, sizeof(pd)) != SBX_OK)
			fail_msg("case %zu does not parse: %s", i, pd);
		bad = "untouched";
		rc = sbx_json_check(j, fields, N(fields), &bad, detail,
		    sizeof(detail));
		if (cases[i].bad == NULL) {
			if (rc != SBX_OK)
				fail_msg("case %zu refused: %s", i, detail);
		} else {
			if (rc != SBX_EINVAL)
				fail_msg("case %zu accepted", i);
			if (bad == NULL || strcmp(bad, cases[i].bad) != 0)
				fail_msg("case %zu: bad field %s, not %s", i,
				    bad != NULL ? bad : "(null)",
				    cases[i].bad);
			if (strcmp(detail, cases[i].detail) != 0)
				fail_msg("case %zu: detail \"%s\", not \"%s\"",
				    i, detail, cases[i].detail);
		}
		cJSON_Delete(j);
	}
}

static void
test_check_not_object(void **state)
{
	static const char *const texts[] = { "[]", "\"x\"", "1", "null" };
	char detail[128];
	const char *bad = "untouched";
	cJSON *j;
	size_t i;

	(void)state;
	for (i = 0; i < N(texts); i++) {
		assert_int_equal(sbx_json_parse(texts[i], strlen(texts[i]), &j,
		    detail, sizeof(detail)), SBX_OK);
		assert_int_equal(sbx_json_check(j, fields, N(fields), &bad,
		    detail, sizeof(detail)), SBX_EINVAL);
		assert_null(bad);
		assert_string_equal(detail, "the body must be a JSON object");
		cJSON_Delete(j);
	}
	assert_int_equal(sbx_json_check(NULL, fields, N(fields), &bad, detail,
	    sizeof(detail)), SBX_EINVAL);

	/* A long unknown name is cut to fit, not overflowed. */
	{
		char text[600], small[16];

		memset(text, 'a', sizeof(text));
		text[0] = '{';
		text[1] = '"';
		memcpy(text + 580, "\": 1}", 6);
		assert_int_equal(sbx_json_parse(text, strlen(text), &j,
		    detail, sizeof(detail)), SBX_OK);
		assert_int_equal(sbx_json_check(j, fields, N(fields), &bad,
		    small, sizeof(small)), SBX_EINVAL);
		assert_int_equal(strlen(small), sizeof(small) - 1);
		assert_int_equal(strlen(bad), 578);
		cJSON_Delete(j);
	}
}

static void
test_getters(void **state)
{
	static const char text[] = "{\"s\": \"v\", \"i\": 42, \"f\": 1.5, "
	    "\"t\": true, \"n\": null, \"big\": 1e300}";
	char detail[64], *out;
	cJSON *j, *o;

	(void)state;
	assert_int_equal(sbx_json_parse(text, strlen(text), &j, detail,
	    sizeof(detail)), SBX_OK);
	assert_string_equal(sbx_json_str(j, "s", "d"), "v");
	assert_string_equal(sbx_json_str(j, "i", "d"), "d");
	assert_string_equal(sbx_json_str(j, "missing", "d"), "d");
	assert_null(sbx_json_str(j, "n", NULL));
	assert_int_equal(sbx_json_int(j, "i", -1), 42);
	assert_int_equal(sbx_json_int(j, "f", -1), -1);
	assert_int_equal(sbx_json_int(j, "big", -1), -1);
	assert_int_equal(sbx_json_int(j, "s", -1), -1);
	assert_int_equal(sbx_json_int(j, "missing", -1), -1);
	assert_int_equal(sbx_json_bool(j, "t", 0), 1);
	assert_int_equal(sbx_json_bool(j, "i", 0), 0);
	assert_int_equal(sbx_json_bool(j, "missing", 1), 1);
	cJSON_Delete(j);

	o = cJSON_CreateObject();
	assert_non_null(o);
	sbx_json_add_str_or_null(o, "a", "x\"y");
	sbx_json_add_str_or_null(o, "b", NULL);
	out = sbx_json_print(o);
	assert_non_null(out);
	assert_string_equal(out, "{\"a\":\"x\\\"y\",\"b\":null}");
	free(out);
	cJSON_Delete(o);
	assert_null(sbx_json_print(NULL));
}

/* ------------------------------------------------------------ time */

static void
test_time_parse(void **state)
{
	static const struct {
		const char *text;
		long long epoch;
	} ok[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-11-26T10:00:00Z", 1795687200LL },
		{ "2026-11-26t10:00:00z", 1795687200LL },
		{ "2026-11-26T10:00:00.123Z", 1795687200LL },
		{ "2026-11-26T10:00:00.999999999Z", 1795687200LL },
		{ "2026-11-26T11:00:00+01:00", 1795687200LL },
		{ "2026-11-26T04:30:00-05:30", 1795687200LL },
		{ "2026-11-26T10:00:00+00:00", 1795687200LL },
		{ "2026-11-26T10:00:00-00:00", 1795687200LL },
		{ "2024-02-29T00:00:00Z", 1709164800LL },
		{ "2000-02-29T23:59:59Z", 951868799LL },
		{ "1969-12-31T23:59:59Z", -1 },
		{ "9999-12-31T23:59:59Z", 253402300799LL },
		{ "0001-01-01T00:00:00Z", -62135596800LL },
	};
	static const char *const bad[] = {
		"",
		"2026-11-26",
		"10:00:00Z",
		"2026-11-26 10:00:00Z",
		"2026-11-26T10:00:00",
		"2026-11-26T10:00Z",
		"2026-11-26T10:00:00.Z",
		"2026-11-26T10:00:00.1234567890Z",
		"2026-11-26T10:00:00+0100",
		"2026-11-26T10:00:00+01",
		"2026-11-26T10:00:00+24:00",
		"2026-11-26T10:00:00+01:60",
		"2026-11-26T10:00:00 Z",
		"2026-11-26T10:00:00Z ",
		" 2026-11-26T10:00:00Z",
		"2026-11-26T10:00:00ZZ",
		"2026-11-26T10:00:00Zjunk",
		"+2026-11-26T10:00:00Z",
		"2026-1-26T10:00:00Z",
		"2026-11-6T10:00:00Z",
		"26-11-26T10:00:00Z",
		"20261126T100000Z",
		"2026-00-10T10:00:00Z",
		"2026-13-10T10:00:00Z",
		"2026-11-00T10:00:00Z",
		"2026-11-31T10:00:00Z",
		"2026-04-31T10:00:00Z",
		"2023-02-29T10:00:00Z",
		"2100-02-29T10:00:00Z",
		"2026-11-26T24:00:00Z",
		"2026-11-26T10:60:00Z",
		"2026-11-26T23:59:60Z",
		"0000-01-01T00:00:00Z",
		"2026-11-26T1O:00:00Z",
		"2026-11-26T10:00:00.1e3Z",
		"2026-11-26T10:00:00Z\n",
	};
	long long epoch;
	size_t i;

	(void)state;
	for (i = 0; i < N(ok); i++) {
		epoch = 12345;
		if (sbx_time_parse(ok[i].text, &epoch) != SBX_OK)
			fail_msg("\"%s\" refused", ok[i].text);
		if (epoch != ok[i].epoch)
			fail_msg("\"%s\" gave %lld, not %lld", ok[i].text,
			    epoch, ok[i].epoch);
		assert_true(sbx_time_valid(ok[i].text));
	}
	for (i = 0; i < N(bad); i++) {
		if (sbx_time_parse(bad[i], &epoch) != SBX_EPARSE)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_false(sbx_time_valid(bad[i]));
	}
	assert_int_equal(sbx_time_parse(NULL, &epoch), SBX_EPARSE);
	assert_false(sbx_time_valid(NULL));
}

static void
test_time_format(void **state)
{
	static const struct {
		long long epoch;
		const char *text;
	} cases[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1795687200LL, "2026-11-26T10:00:00Z" },
		{ -1, "1969-12-31T23:59:59Z" },
		{ 951868799LL, "2000-02-29T23:59:59Z" },
		{ 253402300799LL, "9999-12-31T23:59:59Z" },
		{ -62135596800LL, "0001-01-01T00:00:00Z" },
	};
	char buf[32];
	long long back;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		sbx_time_format(cases[i].epoch, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
		/* ... and back again. */
		assert_int_equal(sbx_time_parse(buf, &back), SBX_OK);
		assert_int_equal(back, cases[i].epoch);
	}

	/* Every second of a leap day, and a range of days, round-trip. */
	for (back = 1709164800LL - 86400; back < 1709164800LL + 2 * 86400;
	    back += 3599) {
		long long again;

		sbx_time_format(back, buf, sizeof(buf));
		assert_int_equal(sbx_time_parse(buf, &again), SBX_OK);
		assert_int_equal(again, back);
	}

	/* No form at all rather than one the parser would refuse. */
	sbx_time_format(253402300800LL, buf, sizeof(buf));	/* year 10000 */
	assert_string_equal(buf, "");
	sbx_time_format(-62135596801LL, buf, sizeof(buf));	/* year 0 */
	assert_string_equal(buf, "");
	sbx_time_format(INT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "");
	sbx_time_format(0, buf, 20);		/* one byte short */
	assert_string_equal(buf, "");
	sbx_time_format(0, buf, 21);
	assert_string_equal(buf, "1970-01-01T00:00:00Z");
}

/* The time writer agrees with gmtime_r over a sweep of the whole range. */
static void
test_time_format_gmtime(void **state)
{
	char buf[32], want[64];
	struct tm tm;
	long long e;
	time_t t;

	(void)state;
	for (e = -62135596800LL; e <= 253402300799LL; e += 86399LL * 17 + 1) {
		t = (time_t)e;
		assert_non_null(gmtime_r(&t, &tm));
		snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		sbx_time_format(e, buf, sizeof(buf));
		assert_string_equal(buf, want);
	}
}

/* What cJSON prints for the string s (a fresh tree). */
static char *
cjson_str(const char *s)
{
	cJSON *v = cJSON_CreateString(s);
	char *text = cJSON_PrintUnformatted(v);

	cJSON_Delete(v);
	return text;
}

static void
test_buf_str(void **state)
{
	static const char *const cases[] = {
		"", "plain", "quote \" and \\ back", "\b\f\n\r\t",
		"\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac /slash/",
	};
	struct sbx_util_buf b = { 0 };
	char all[256], *want;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		b.len = 0;
		assert_int_equal(sbx_json_buf_str(&b, cases[i]), 0);
		want = cjson_str(cases[i]);
		assert_string_equal(b.p, want);
		free(want);
	}
	/* Every byte value at once. */
	for (i = 1; i < 256; i++)
		all[i - 1] = (char)i;
	all[255] = '\0';
	b.len = 0;
	sbx_json_buf_str(&b, all);
	want = cjson_str(all);
	assert_string_equal(b.p, want);
	free(want);
	b.len = 0;
	sbx_json_buf_str(&b, NULL);
	assert_string_equal(b.p, "null");
	sbx_util_buf_fini(&b);
}

/*
 * A stored object text comes out as cJSON_Parse + cJSON_PrintUnformatted
 * would give it, whether it takes the copy or the parse: flat objects of
 * plain strings (copied), and escapes, numbers, nesting, broken text and
 * trailing bytes (parsed, or null).
 */
static void
test_buf_object_text(void **state)
{
	static const char *const cases[] = {
		"{}", " { } ", "{\"a\":\"b\"}",
		"{\"InstanceId\": \"i-0123\", \"PublicIp\": \"203.0.113.10\"}",
		"\n{\t\"k\" :\r\"v\" ,\"k\":\"dup\"}\n",
		"{\"q\":\"a \\\" b \\\\ c \\n \\t\"}",
		"{\"u\":\"\\u00e9\\u0001\"}", "{\"s\":\"a\\/b\"}",
		"{\"n\":1.50,\"m\":-0,\"e\":1e3}", "{\"o\":{\"p\":[1,\"x\"]}}",
		"{\"t\":true,\"f\":false,\"z\":null}",
		"{\"a\":\"b\"} trailing", "{\"a\":\"b\",}", "{\"a\" \"b\"}",
		"[\"not\",\"an object\"]", "\"str\"", "", "{", "{\"a\":\"b",
		"{\"raw\":\"tab\there\"}", "{\"utf8\":\"\xc3\xa9\xe2\x82\xac\"}",
	};
	struct sbx_util_buf b = { 0 };
	cJSON *v;
	char *want;
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		v = cJSON_Parse(cases[i]);
		want = v != NULL && cJSON_IsObject(v) ?
		    cJSON_PrintUnformatted(v) : strdup("null");
		cJSON_Delete(v);
		b.len = 0;
		sbx_util_buf_addn(&b, "x", 1);	/* after something */
		assert_int_equal(sbx_json_buf_object_text(&b, cases[i]), 0);
		assert_string_equal(b.p + 1, want);
		free(want);
	}
	b.len = 0;
	sbx_json_buf_object_text(&b, NULL);
	assert_string_equal(b.p, "null");
	sbx_util_buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_cut),
		cmocka_unit_test(test_fmt_cuts_between_characters),
		cmocka_unit_test(test_check_detail_cut),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_parse_refused),
		cmocka_unit_test(test_parse_depth),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_not_object),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_format_gmtime),
		cmocka_unit_test(test_buf_str),
		cmocka_unit_test(test_buf_object_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
