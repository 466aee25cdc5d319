/*
 * The reaper's pure parts: the command line, the retry backoff, the run
 * summary and its counts, and which job a sandbox stands for.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/core/json.h"
#include "common/domain/reaper.h"
#include "common/domain/sandbox.h"


static void
test_args_good(void **state)
{
	static const struct {
		const char *argv[6];
		int argc;
		long loop, limit;
		int dry, orphans, verbose, help;
	} cases[] = {
		{ { "r" }, 1, 0, 0, 0, 0, 0, 0 },
		{ { "r", "--once" }, 2, 0, 0, 0, 0, 0, 0 },
		{ { "r", "--loop", "60" }, 3, 60, 0, 0, 0, 0, 0 },
		{ { "r", "--loop=5", "--dry-run" }, 3, 5, 0, 1, 0, 0, 0 },
		{ { "r", "--limit", "10", "--delete-orphans" }, 4, 0, 10, 0, 1,
		    0, 0 },
		{ { "r", "--limit=1", "-v" }, 3, 0, 1, 0, 0, 1, 0 },
		{ { "r", "--verbose", "--help" }, 3, 0, 0, 0, 0, 1, 1 },
		{ { "r", "-h" }, 2, 0, 0, 0, 0, 0, 1 },
		{ { "r", "--dry-run", "--delete-orphans" }, 3, 0, 0, 1, 1, 0, 0 },
	};
	struct sbx_reaper_args a;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sbx_reaper_parse_args(cases[i].argc,
		    (char *const *)cases[i].argv, &a, err, sizeof(err)),
		    SBX_OK);
		assert_int_equal(a.loop_seconds, cases[i].loop);
		assert_int_equal(a.limit, cases[i].limit);
		assert_int_equal(a.dry_run, cases[i].dry);
		assert_int_equal(a.delete_orphans, cases[i].orphans);
		assert_int_equal(a.verbose, cases[i].verbose);
		assert_int_equal(a.help, cases[i].help);
	}
}

static void
test_args_bad(void **state)
{
	static const struct {
		const char *argv[4];
		int argc;
		const char *says;
	} cases[] = {
		{ { "r", "--loop" }, 2, "needs a value" },
		{ { "r", "--loop", "0" }, 3, "--loop" },
		{ { "r", "--loop", "-5" }, 3, "--loop" },
		{ { "r", "--loop", "5s" }, 3, "--loop" },
		{ { "r", "--loop", "86401" }, 3, "--loop" },
		{ { "r", "--limit", "" }, 3, "--limit" },
		{ { "r", "--limit", "x" }, 3, "--limit" },
		{ { "r", "--limit=0" }, 2, "--limit" },
		{ { "r", "--once", "--loop", "3" }, 4, "exclude" },
		{ { "r", "--dry-run=yes" }, 2, "takes no value" },
		{ { "r", "--bogus" }, 2, "unknown option" },
		{ { "r", "once" }, 2, "unexpected argument" },
		{ { "r", "-x" }, 2, "unexpected argument" },
		{ { "r", "--a-very-long-option-name-indeed-yes" }, 2,
		    "unknown option" },
	};
	struct sbx_reaper_args a;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sbx_reaper_parse_args(cases[i].argc,
		    (char *const *)cases[i].argv, &a, err, sizeof(err)),
		    SBX_EINVAL);
		if (strstr(err, cases[i].says) == NULL)
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i,
			    err, cases[i].says);
	}
}

static void
test_backoff(void **state)
{
	(void)state;
	/* REAPER_BACKOFF_SECONDS' default: 30, 60, 120 ... capped at 1 h. */
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 1), 30);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 2), 60);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 7), 1920);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 8), 3600);
	assert_int_equal(sbx_sandbox_backoff_seconds(30, 100000), 3600);
	assert_int_equal(sbx_sandbox_backoff_seconds(1, 1), 1);
	assert_int_equal(sbx_sandbox_backoff_seconds(1, 4), 8);
	assert_int_equal(sbx_sandbox_backoff_seconds(7200, 1), 3600);
	assert_int_equal(SBX_SANDBOX_BACKOFF_CAP_SECONDS, 3600);
}

static void
test_count_names(void **state)
{
	int i, j;

	(void)state;
	for (i = 0; i < SBX_RC__MAX; i++) {
		const char *n = sbx_reaper_count_name((enum sbx_reaper_count)i);

		assert_non_null(n);
		assert_string_not_equal(n, "unknown");
		for (j = 0; j < i; j++)
			assert_string_not_equal(n, sbx_reaper_count_name(
			    (enum sbx_reaper_count)j));
	}
	assert_string_equal(sbx_reaper_count_name(SBX_RC__MAX), "unknown");
	assert_string_equal(sbx_reaper_count_name(SBX_RC_EXPIRED), "expired");
}

static void
test_summary(void **state)
{
	struct sbx_reaper_result r;
	cJSON *j, *c, *o;
	char *line;

	(void)state;
	memset(&r, 0, sizeof(r));
	strcpy(r.run_id, "0b7a0c36-8d5c-4c2e-9a55-0a0e5e9b1c11");
	r.started_at = 1764151200;
	r.duration_ms = 1234;
	r.completed = 1;
	r.counts[SBX_RC_EXPIRED] = 3;
	r.counts[SBX_RC_DELETE_SENT] = 2;
	r.orphans = cJSON_CreateArray();
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "stack_name", "sbx-lost");
	cJSON_AddStringToObject(o, "stack_id", "arn:x");
	cJSON_AddItemToArray(r.orphans, o);

	j = sbx_reaper_summary(&r, 0);
	assert_non_null(j);
	line = sbx_json_print(j);
	/* One line: machine-readable by a log shipper. */
	assert_null(strchr(line, '\n'));
	free(line);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")));
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "dry_run")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "error")));
	assert_string_equal(cJSON_GetObjectItem(j, "run_id")->valuestring,
	    r.run_id);
	assert_string_equal(cJSON_GetObjectItem(j, "started_at")->valuestring,
	    "2025-11-26T10:00:00Z");
	assert_int_equal(cJSON_GetObjectItem(j, "duration_ms")->valueint, 1234);
	c = cJSON_GetObjectItem(j, "counts");
	assert_int_equal(cJSON_GetArraySize(c), SBX_RC__MAX);
	assert_int_equal(cJSON_GetObjectItem(c, "expired")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(c, "delete_sent")->valueint, 2);
	assert_int_equal(cJSON_GetObjectItem(c, "orphans")->valueint, 0);
	o = cJSON_GetObjectItem(j, "orphans");
	assert_int_equal(cJSON_GetArraySize(o), 1);
	assert_string_equal(cJSON_GetArrayItem(o, 0)->valuestring, "sbx-lost");
	cJSON_Delete(j);

	/* An operator error: not ok, and the reason is there. */
	r.operator_error = 1;
	strcpy(r.error, "cannot reach the database");
	r.run_id[0] = '\0';
	j = sbx_reaper_summary(&r, 1);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "dry_run")));
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "run_id")));
	assert_string_equal(cJSON_GetObjectItem(j, "error")->valuestring,
	    "cannot reach the database");
	cJSON_Delete(j);

	/* Interrupted: not completed, so not ok. */
	r.operator_error = 0;
	r.error[0] = '\0';
	r.completed = 0;
	r.interrupted = 1;
	j = sbx_reaper_summary(&r, 0);
	assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "ok")));
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "interrupted")));
	cJSON_Delete(j);
	sbx_reaper_result_fini(&r);
	sbx_reaper_result_fini(&r);	/* twice is fine */
	sbx_reaper_result_fini(NULL);
}

static void
test_jobs(void **state)
{
	const long long now = 1764151200;
	static const struct {
		enum sbx_sandbox_status st;
		enum sbx_sandbox_action pending;
		long long expiry, next_attempt;
		const char *action;
		long long next_run;
	} cases[] = {
		{ SBX_SANDBOX_ACTIVE, SBX_SANDBOX_ACTION_NONE, now + 600, 0,
		    "terminate", now + 600 },
		{ SBX_SANDBOX_ACTIVE, SBX_SANDBOX_ACTION_NONE, now - 5, 0,
		    "terminate", now - 5 },
		{ SBX_SANDBOX_FAILED, SBX_SANDBOX_ACTION_NONE, now + 600, 0,
		    "terminate", now },
		{ SBX_SANDBOX_FAILED, SBX_SANDBOX_ACTION_NONE, now + 600,
		    now + 30, "terminate", now + 30 },
		{ SBX_SANDBOX_PROVISIONING, SBX_SANDBOX_ACTION_CREATE, now + 600,
		    now + 60, "retry-create", now + 60 },
		{ SBX_SANDBOX_PROVISIONING, SBX_SANDBOX_ACTION_NONE, now + 600,
		    now, "refresh", now },
		{ SBX_SANDBOX_PROVISIONING, SBX_SANDBOX_ACTION_CREATE, now - 1,
		    now + 60, "terminate", now - 1 },
		{ SBX_SANDBOX_TERMINATING, SBX_SANDBOX_ACTION_DELETE, now - 100,
		    now + 3600, "retry-delete", now + 3600 },
		{ SBX_SANDBOX_TERMINATING, SBX_SANDBOX_ACTION_NONE, now - 100,
		    0, "refresh", now },
		{ SBX_SANDBOX_TERMINATED, SBX_SANDBOX_ACTION_NONE, now - 100,
		    0, NULL, 0 },
	};
	struct sbx_sandbox sb;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		long long next = -1;
		const char *a;

		memset(&sb, 0, sizeof(sb));
		sb.name = "demo";
		sb.status = cases[i].st;
		sb.pending_action = cases[i].pending;
		sb.expiry_time = cases[i].expiry;
		sb.next_attempt_at = cases[i].next_attempt;
		a = sbx_reaper_job_action(&sb, now, &next);
		if (cases[i].action == NULL) {
			assert_null(a);
			continue;
		}
		assert_non_null(a);
		if (strcmp(a, cases[i].action) != 0)
			fail_msg("case %zu: %s, want %s", i, a,
			    cases[i].action);
		assert_int_equal(next, cases[i].next_run);
	}
}

static void
test_job_json(void **state)
{
	struct sbx_sandbox sb;
	cJSON *j;

	(void)state;
	memset(&sb, 0, sizeof(sb));
	sb.name = "my-box";
	sb.owner_email = "alice@example.com";
	sb.status = SBX_SANDBOX_TERMINATING;
	sb.pending_action = SBX_SANDBOX_ACTION_DELETE;
	sb.expiry_time = 1764151200;
	sb.next_attempt_at = 1764151260;
	sb.attempts = 3;
	sb.stuck = 1;
	j = sbx_reaper_job_json(&sb, 1764151230);
	assert_non_null(j);
	/* The original tool's shape: id and next_run_time. */
	assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring,
	    "terminate-my-box");
	assert_string_equal(cJSON_GetObjectItem(j, "next_run_time")->valuestring,
	    "2025-11-26T10:01:00Z");
	assert_string_equal(cJSON_GetObjectItem(j, "sandbox")->valuestring,
	    "my-box");
	assert_string_equal(cJSON_GetObjectItem(j, "action")->valuestring,
	    "retry-delete");
	assert_int_equal(cJSON_GetObjectItem(j, "attempts")->valueint, 3);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(j, "stuck")));
	assert_string_equal(cJSON_GetObjectItem(j, "expiry_time")->valuestring,
	    "2025-11-26T10:00:00Z");
	cJSON_Delete(j);
	sb.status = SBX_SANDBOX_TERMINATED;
	assert_null(sbx_reaper_job_json(&sb, 1764151230));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args_good),
		cmocka_unit_test(test_args_bad),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_count_names),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_jobs),
		cmocka_unit_test(test_job_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
