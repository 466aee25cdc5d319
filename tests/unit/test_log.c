/*
 * Structured logging: each call is one line of valid JSON on stderr with
 * the time, level, module, message, the request being served and the
 * caller's fields; lines below the level are dropped. stderr is pointed
 * at a temporary file and read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/core/json.h"
#include "common/core/log.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static FILE *capture;
static int saved_stderr = -1;

static int
setup(void **state)
{
	(void)state;
	fflush(stderr);
	if ((capture = tmpfile()) == NULL)
		return -1;
	if ((saved_stderr = dup(STDERR_FILENO)) < 0 ||
	    dup2(fileno(capture), STDERR_FILENO) < 0)
		return -1;
	sbx_log_set_level(SBX_LOG_DEBUG);
	sbx_log_set_request(NULL, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	fclose(capture);
	sbx_log_set_level(SBX_LOG_INFO);
	sbx_log_set_request(NULL, NULL);
	return 0;
}

/* Everything logged since setup (caller frees). */
static char *
captured(void)
{
	long len;
	char *buf;

	assert_int_equal(fseek(capture, 0, SEEK_END), 0);
	len = ftell(capture);
	assert_true(len >= 0);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	rewind(capture);
	assert_int_equal(fread(buf, 1, (size_t)len, capture), (size_t)len);
	buf[len] = '\0';
	return buf;
}

/* Splits the capture into lines; each must be a JSON object. */
static size_t
lines(cJSON **out, size_t max)
{
	char *all = captured(), *p = all, *nl;
	char detail[128];
	size_t n = 0;

	while ((nl = strchr(p, '\n')) != NULL) {
		assert_true(n < max);
		if (sbx_json_parse(p, (size_t)(nl - p), &out[n], detail,
		    sizeof(detail)) != SBX_OK)
			fail_msg("line %zu is not JSON (%s)", n + 1, detail);
		assert_true(cJSON_IsObject(out[n]));
		n++;
		p = nl + 1;
	}
	assert_string_equal(p, "");	/* nothing after the last newline */
	free(all);
	return n;
}

static void
free_lines(cJSON **l, size_t n)
{
	while (n > 0)
		cJSON_Delete(l[--n]);
}

static void
test_line_shape(void **state)
{
	cJSON *l[4];
	const char *t;
	long long when;
	size_t n;

	(void)state;
	sbx_log(SBX_LOG_INFO, "meta", "started %d workers on %s", 4, "sock");
	n = lines(l, N(l));
	assert_int_equal(n, 1);
	assert_string_equal(sbx_json_str(l[0], "level", NULL), "info");
	assert_string_equal(sbx_json_str(l[0], "module", NULL), "meta");
	assert_string_equal(sbx_json_str(l[0], "msg", NULL),
	    "started 4 workers on sock");
	assert_null(cJSON_GetObjectItem(l[0], "request_id"));
	assert_null(cJSON_GetObjectItem(l[0], "route"));

	/* UTC, milliseconds, "Z": 2026-11-26T10:00:00.123Z. */
	t = sbx_json_str(l[0], "time", "");
	assert_int_equal(strlen(t), 24);
	assert_int_equal(t[10], 'T');
	assert_int_equal(t[19], '.');
	assert_int_equal(t[23], 'Z');
	assert_int_equal(sbx_time_parse(t, &when), SBX_OK);
	assert_true(when >= (long long)time(NULL) - 60 &&
	    when <= (long long)time(NULL) + 60);
	free_lines(l, n);
}

static void
test_levels(void **state)
{
	static const struct {
		const char *name;
		enum sbx_log_level level;
	} names[] = {
		{ "debug", SBX_LOG_DEBUG },
		{ "info", SBX_LOG_INFO },
		{ "warn", SBX_LOG_WARN },
		{ "error", SBX_LOG_ERROR },
		{ "ERROR", SBX_LOG_ERROR },
		{ "warning", SBX_LOG__MAX },
		{ "", SBX_LOG__MAX },
		{ NULL, SBX_LOG__MAX },
	};
	cJSON *l[8];
	size_t i, n;

	(void)state;
	for (i = 0; i < N(names); i++)
		assert_int_equal(sbx_log_level_parse(names[i].name),
		    names[i].level);

	sbx_log_set_level(SBX_LOG_WARN);
	sbx_log(SBX_LOG_DEBUG, "t", "dropped");
	sbx_log(SBX_LOG_INFO, "t", "dropped");
	sbx_log_fields(SBX_LOG_INFO, "t", "dropped", cJSON_CreateObject());
	sbx_log(SBX_LOG_WARN, "t", "kept");
	sbx_log(SBX_LOG_ERROR, "t", "kept");
	sbx_log((enum sbx_log_level)99, "t", "dropped");
	sbx_log_set_level((enum sbx_log_level)99);	/* ignored */
	sbx_log(SBX_LOG_INFO, "t", "dropped");
	n = lines(l, N(l));
	assert_int_equal(n, 2);
	assert_string_equal(sbx_json_str(l[0], "level", NULL), "warn");
	assert_string_equal(sbx_json_str(l[1], "level", NULL), "error");
	for (i = 0; i < n; i++)
		assert_string_equal(sbx_json_str(l[i], "msg", NULL), "kept");
	free_lines(l, n);
}

static void
test_request_and_fields(void **state)
{
	cJSON *l[4], *f;
	size_t n;

	(void)state;
	sbx_log_set_request("req-123", "GET /api/sandboxes");
	f = cJSON_CreateObject();
	cJSON_AddNumberToObject(f, "status", 200);
	cJSON_AddNumberToObject(f, "duration_ms", 3);
	cJSON_AddStringToObject(f, "msg", "a field may not replace msg");
	cJSON_AddStringToObject(f, "level", "nor the level");
	sbx_log_fields(SBX_LOG_INFO, "http", "request done", f);
	sbx_log_set_request(NULL, NULL);
	sbx_log_fields(SBX_LOG_INFO, "http", "after", NULL);
	/* Not an object: freed, not logged as fields. */
	sbx_log_fields(SBX_LOG_INFO, "http", "odd", cJSON_CreateString("x"));

	n = lines(l, N(l));
	assert_int_equal(n, 3);
	assert_string_equal(sbx_json_str(l[0], "request_id", NULL), "req-123");
	assert_string_equal(sbx_json_str(l[0], "route", NULL),
	    "GET /api/sandboxes");
	assert_int_equal(sbx_json_int(l[0], "status", 0), 200);
	assert_int_equal(sbx_json_int(l[0], "duration_ms", 0), 3);
	assert_string_equal(sbx_json_str(l[0], "msg", NULL), "request done");
	assert_string_equal(sbx_json_str(l[0], "level", NULL), "info");
	assert_string_equal(sbx_json_str(l[0], "x_msg", NULL),
	    "a field may not replace msg");
	assert_string_equal(sbx_json_str(l[0], "x_level", NULL),
	    "nor the level");
	assert_null(cJSON_GetObjectItem(l[1], "request_id"));
	assert_null(cJSON_GetObjectItem(l[1], "route"));
	assert_string_equal(sbx_json_str(l[2], "msg", NULL), "odd");
	free_lines(l, n);
}

/* Whatever arrives (newlines, quotes, bad UTF-8), each line stays JSON. */
static void
test_hostile_text(void **state)
{
	char big[20000], id[400];
	cJSON *l[8], *f;
	size_t n;

	(void)state;
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memset(id, 'r', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';

	sbx_log(SBX_LOG_INFO, "t", "two\nlines \"quoted\" \\ \x01");
	sbx_log(SBX_LOG_INFO, "t", "bad \xff\xfe utf-8 \xc3");
	sbx_log_set_request("id\xc0\xaf\n", "route\xed\xa0\x80");
	sbx_log(SBX_LOG_INFO, "t", "%s", big);
	sbx_log_set_request(id, NULL);
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(f, "k\xff", "v\xff");
	sbx_log_fields(SBX_LOG_INFO, "t\xff", "fields", f);

	n = lines(l, N(l));
	assert_int_equal(n, 4);
	assert_string_equal(sbx_json_str(l[0], "msg", NULL),
	    "two\nlines \"quoted\" \\ \x01");
	assert_string_equal(sbx_json_str(l[1], "msg", NULL),
	    "bad ?? utf-8 ?");
	assert_string_equal(sbx_json_str(l[2], "request_id", NULL), "id??\n");
	assert_string_equal(sbx_json_str(l[2], "route", NULL), "route???");
	assert_int_equal(strlen(sbx_json_str(l[2], "msg", "")),
	    sizeof(big) - 1);
	/* The request id is bounded. */
	assert_true(strlen(sbx_json_str(l[3], "request_id", "")) < 200);
	assert_string_equal(sbx_json_str(l[3], "module", NULL), "t?");
	assert_string_equal(sbx_json_str(l[3], "k?", NULL), "v?");
	free_lines(l, n);
}

/* The line with its time's 24 characters replaced by T's. */
static void
blank_time(char *line)
{
	char *t = strstr(line, "\"time\":\"");

	assert_non_null(t);
	assert_true(strlen(t + 8) > 24);
	memset(t + 8, 'T', 24);
}

/*
 * The lines are written without a cJSON tree (for speed: one access line
 * per request); their text must be what cJSON printed for the same
 * object, byte for byte: escapes, numbers, key clashes, nulls.
 */
static void
test_same_text_as_cjson(void **state)
{
	static const char *const strs[] = {
		"plain", "", "tab\tnl\nquote\"back\\slash/", "\x01\x1f\x7f",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "\b\f\r",
	};
	static const double nums[] = {
		200, 0, -5, 0.123, 2.5, 1.0 / 3.0, 1e300, 3e9, -3e9, 1e-7,
		12.3456789, 2147483647.0, 0.1 + 0.2,
	};
	struct sbx_log_kv kv[N(strs) + N(nums) + 4];
	char name[N(strs) + N(nums)][16], *all, *got, *want, *nl;
	cJSON *o, *f;
	size_t i, n = 0;

	(void)state;
	sbx_log_set_request("rid-1", "/api/x");
	o = cJSON_CreateObject();
	f = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "time", "TTTTTTTTTTTTTTTTTTTTTTTT");
	cJSON_AddStringToObject(o, "level", "warn");
	cJSON_AddStringToObject(o, "module", "http");
	cJSON_AddStringToObject(o, "msg", "m\n\"x\"");
	cJSON_AddStringToObject(o, "request_id", "rid-1");
	cJSON_AddStringToObject(o, "route", "/api/x");
	for (i = 0; i < N(strs); i++, n++) {
		snprintf(name[n], sizeof(name[n]), "s%zu", i);
		kv[n] = (struct sbx_log_kv){ name[n], strs[i], 0, 0 };
		cJSON_AddStringToObject(o, name[n], strs[i]);
		cJSON_AddStringToObject(f, name[n], strs[i]);
	}
	for (i = 0; i < N(nums); i++, n++) {
		snprintf(name[n], sizeof(name[n]), "n%zu", i);
		kv[n] = (struct sbx_log_kv){ name[n], NULL, nums[i], 1 };
		cJSON_AddNumberToObject(o, name[n], nums[i]);
		cJSON_AddNumberToObject(f, name[n], nums[i]);
	}
	kv[n++] = (struct sbx_log_kv){ "nothing", NULL, 0, 0 };
	cJSON_AddNullToObject(o, "nothing");
	cJSON_AddNullToObject(f, "nothing");
	/* Clashes with the fixed keys and with an earlier field. */
	kv[n++] = (struct sbx_log_kv){ "level", "lie", 0, 0 };
	cJSON_AddStringToObject(o, "x_level", "lie");
	cJSON_AddStringToObject(f, "level", "lie");
	kv[n++] = (struct sbx_log_kv){ "s0", "again", 0, 0 };
	cJSON_AddStringToObject(o, "x_s0", "again");
	cJSON_AddStringToObject(f, "s0", "again");
	kv[n++] = (struct sbx_log_kv){ "route", NULL, 0, 0 };
	cJSON_AddNullToObject(o, "x_route");
	cJSON_AddNullToObject(f, "route");
	want = cJSON_PrintUnformatted(o);
	assert_non_null(want);

	sbx_log_kv(SBX_LOG_WARN, "http", "m\n\"x\"", kv, n);
	sbx_log_fields(SBX_LOG_WARN, "http", "m\n\"x\"", f);
	all = captured();
	for (got = all, i = 0; i < 2; i++, got = nl + 1) {
		nl = strchr(got, '\n');
		assert_non_null(nl);
		*nl = '\0';
		blank_time(got);
		assert_string_equal(got, want);
	}
	assert_string_equal(got, "");
	free(all);
	free(want);
	cJSON_Delete(o);
}

static void
test_now(void **state)
{
	char buf[40], small[8];
	long long when;

	(void)state;
	sbx_log_now(buf, sizeof(buf));
	assert_int_equal(strlen(buf), 24);
	assert_int_equal(sbx_time_parse(buf, &when), SBX_OK);
	sbx_log_now(small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	sbx_log_now(NULL, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_shape, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_levels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_request_and_fields, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hostile_text, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_same_text_as_cjson, setup,
		    teardown),
		cmocka_unit_test(test_now),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
