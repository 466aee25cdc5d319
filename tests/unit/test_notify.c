/*
 * Webhooks, the pure parts: the signature (against values computed with
 * Python's hmac), the types of events, the body, and the backoff.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/core/json.h"
#include "common/domain/notify.h"
#include "common/domain/sandbox.h"

static void
test_signature_vectors(void **state)
{
	static const struct {
		const char *secret, *ts, *body, *want;
	} cases[] = {
		/* python3: hmac.new(secret, b"<ts>.<body>", sha256).hexdigest() */
		{ "whsec-test-0123456789", "1700000000",
		    "{\"id\":\"e1\",\"type\":\"sandbox.active\"}",
		    "sha256=9c2c6cce5e52d92c4843b18f7684550e7751186b5211ec2a61aee9228e4f1b15" },
		{ "k", "0", "",
		    "sha256=6b4a4b8b3c40f1e8f53a3d36682e5f99f7ad2ac1df1c93dfe336f329167641e7" },
	};
	char out[SBX_NOTIFY_SIGNATURE_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(sbx_notify_signature(cases[i].secret,
		    cases[i].ts, cases[i].body, strlen(cases[i].body), out,
		    sizeof(out)), SBX_OK);
		assert_string_equal(out, cases[i].want);
	}
}

static void
test_signature_binds_everything(void **state)
{
	char a[SBX_NOTIFY_SIGNATURE_LEN], b[SBX_NOTIFY_SIGNATURE_LEN];
	const char *body = "{\"x\":1}";

	(void)state;
	assert_int_equal(sbx_notify_signature("s", "1", body, strlen(body), a,
	    sizeof(a)), SBX_OK);
	/* Another timestamp, secret or body: another signature. */
	assert_int_equal(sbx_notify_signature("s", "2", body, strlen(body), b,
	    sizeof(b)), SBX_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(sbx_notify_signature("t", "1", body, strlen(body), b,
	    sizeof(b)), SBX_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(sbx_notify_signature("s", "1", "{\"x\":2}", 7, b,
	    sizeof(b)), SBX_OK);
	assert_string_not_equal(a, b);
	/* "1" + ".1x" is not "1." + "1x": the dot is part of the message. */
	assert_int_equal(sbx_notify_signature("s", "11", "x", 1, a,
	    sizeof(a)), SBX_OK);
	assert_int_equal(sbx_notify_signature("s", "1", "1x", 2, b,
	    sizeof(b)), SBX_OK);
	assert_string_not_equal(a, b);
	/* Lengths and arguments. */
	assert_int_equal(strlen(a), 7 + 64);
	assert_int_equal(sbx_notify_signature("s", "1", body, strlen(body), a,
	    SBX_NOTIFY_SIGNATURE_LEN - 1), SBX_EINVAL);
	assert_int_equal(sbx_notify_signature(NULL, "1", body, strlen(body), a,
	    sizeof(a)), SBX_EINVAL);
	assert_int_equal(sbx_notify_signature("s", "1", NULL, 3, a,
	    sizeof(a)), SBX_EINVAL);
}

static void
test_types(void **state)
{
	static const struct {
		const char *action, *type;
	} cases[] = {
		{ "created", "sandbox.created" },
		{ "active", "sandbox.active" },
		{ "failed", "sandbox.failed" },
		{ "expiring", "sandbox.expiring" },
		{ "extended", "sandbox.extended" },
		{ "terminating", "sandbox.terminating" },
		{ "terminated", "sandbox.terminated" },
		{ "stuck", "sandbox.stuck" },
		{ "budget_terminated", "sandbox.budget_terminated" },
		{ "budget_warning", "user.budget_warning" },
		{ "retry", NULL },
		{ "changed", NULL },
		{ "", NULL },
		{ "Active", NULL },
		{ NULL, NULL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = sbx_notify_event_type(cases[i].action);

		if (cases[i].type == NULL)
			assert_null(got);
		else
			assert_string_equal(got, cases[i].type);
	}
}

static void
test_body(void **state)
{
	struct sbx_sandbox_event ev;
	struct sbx_sandbox sb;
	cJSON *j, *s;

	(void)state;
	memset(&ev, 0, sizeof(ev));
	memset(&sb, 0, sizeof(sb));
	ev.id = "8a0c3c1e-4c52-4bd6-9c1b-9d0c1f6f4a01";
	ev.sandbox_id = "1b4e28ba-2fa1-4d2b-883f-0016d3cca427";
	ev.time = 1764151200;	/* 2025-11-26T10:00:00Z */
	ev.actor = "reaper";
	ev.action = "terminated";
	ev.from_status = "TERMINATING";
	ev.to_status = "TERMINATED";
	sb.id = ev.sandbox_id;
	sb.name = "demo";
	sb.owner_email = "alice@example.com";
	sb.status = SBX_SANDBOX_TERMINATED;
	sb.stack_parameters = "{\"Secret\":\"never shown\"}";

	j = sbx_notify_body(&ev, &sb);
	assert_non_null(j);
	assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, ev.id);
	assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring,
	    "sandbox.terminated");
	assert_string_equal(cJSON_GetObjectItem(j, "time")->valuestring,
	    "2025-11-26T10:00:00Z");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(j, "detail")));
	s = cJSON_GetObjectItem(j, "sandbox");
	assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, "demo");
	assert_string_equal(cJSON_GetObjectItem(s, "status")->valuestring,
	    "TERMINATED");
	/* NoEcho values in clear never leave the row. */
	{
		char *text = sbx_json_print(j);

		assert_null(strstr(text, "never shown"));
		free(text);
	}
	cJSON_Delete(j);

	/* The row is gone: the sandbox is named by its id only. */
	j = sbx_notify_body(&ev, NULL);
	assert_non_null(j);
	s = cJSON_GetObjectItem(j, "sandbox");
	assert_string_equal(cJSON_GetObjectItem(s, "id")->valuestring,
	    ev.sandbox_id);
	assert_int_equal(cJSON_GetArraySize(s), 1);
	cJSON_Delete(j);

	/* A user's warning names the user; a sandbox event does not. */
	j = sbx_notify_body(&ev, &sb);
	assert_null(cJSON_GetObjectItem(j, "user"));
	cJSON_Delete(j);
	ev.action = "budget_warning";
	sb.owner_email = (char *)"alice@example.com";
	j = sbx_notify_body(&ev, &sb);
	assert_string_equal(cJSON_GetObjectItem(j, "type")->valuestring,
	    "user.budget_warning");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "user"),
	    "email")->valuestring, "alice@example.com");
	cJSON_Delete(j);

	/* Not a webhook. */
	ev.action = "retry";
	assert_null(sbx_notify_body(&ev, &sb));
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(sbx_notify_backoff_seconds(30, 1), 30);
	assert_int_equal(sbx_notify_backoff_seconds(30, 2), 60);
	assert_int_equal(sbx_notify_backoff_seconds(30, 3), 120);
	assert_int_equal(sbx_notify_backoff_seconds(30, 7), 1920);
	/* Capped at one hour, however many attempts. */
	assert_int_equal(sbx_notify_backoff_seconds(30, 8), 3600);
	assert_int_equal(sbx_notify_backoff_seconds(30, 1000), 3600);
	/* A base of 0 (tests) still waits a second, never spins. */
	assert_int_equal(sbx_notify_backoff_seconds(0, 1), 1);
	assert_int_equal(sbx_notify_backoff_seconds(1, 3), 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signature_vectors),
		cmocka_unit_test(test_signature_binds_everything),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_body),
		cmocka_unit_test(test_backoff),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
