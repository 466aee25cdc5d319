/*
 * Fuzz target for the webhook payload (common/domain/notify.c): an event and its
 * sandbox whose every text field is hostile (quotes, backslashes, control
 * characters, invalid UTF-8, broken JSON where a JSON object text is
 * stored), built into a body by sbx_notify_body, serialised as it is
 * sent, and signed by sbx_notify_signature.
 *
 * The input: 8 bytes of event time, 1 byte that picks the action (values
 * past the webhook actions take the action from the input too), then the
 * text fields separated by NUL bytes (missing ones are NULL).
 *
 * Contracts, besides the sanitizers': the body exists exactly for the
 * webhook actions; it serialises to one JSON text that parses back to the
 * same strings, byte for byte, so a receiver reads what the event holds
 * and no detail can add or change a member; "sandbox" is always an
 * object, and its stored JSON texts come out as objects or null, never as
 * raw text; an event time in the years 1970-9999 comes out as an RFC 3339
 * time; the signature is "sha256=" and 64 lower-case hex digits, and
 * another timestamp gives another signature.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/core/json.h"
#include "common/domain/notify.h"
#include "common/domain/sandbox.h"
#include "fuzz.h"

static const char *const actions[] = {
	"created", "active", "failed", "expiring", "extended", "terminating",
	"terminated", "stuck", "retry", "forget",
};
#define NACTIONS (sizeof(actions) / sizeof(actions[0]))

enum {
	F_ID, F_SANDBOX_ID, F_ACTOR, F_ACTION, F_FROM, F_TO, F_DETAIL,
	F_NAME, F_OWNER, F_TEMPLATE, F_REASON, F_STACK_ID, F_PARAMETERS,
	F_OUTPUTS, F__MAX
};

/* The member of o named name is text, or null when text is NULL. */
static void
check_str(const cJSON *o, const char *name, const char *text)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	CHECK(v != NULL);
	if (text == NULL) {
		CHECK(cJSON_IsNull(v));
		return;
	}
	CHECK(cJSON_IsString(v) && strcmp(v->valuestring, text) == 0);
}

static void
check_object_or_null(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	CHECK(v != NULL && (cJSON_IsObject(v) || cJSON_IsNull(v)));
}

static void
check_signature(const char *body, size_t len)
{
	char a[SBX_NOTIFY_SIGNATURE_LEN], b[SBX_NOTIFY_SIGNATURE_LEN];
	size_t i;

	CHECK(sbx_notify_signature("fuzz-secret", "1700000000", body, len, a,
	    sizeof(a)) == SBX_OK);
	CHECK(strlen(a) == 71 && strncmp(a, "sha256=", 7) == 0);
	for (i = 7; i < 71; i++)
		CHECK((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
	CHECK(sbx_notify_signature("fuzz-secret", "1700000001", body, len, b,
	    sizeof(b)) == SBX_OK);
	CHECK(strcmp(a, b) != 0);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *f[F__MAX] = { NULL };
	struct sbx_sandbox_event ev;
	struct sbx_sandbox sb;
	cJSON *body, *back;
	const cJSON *s, *t;
	char *text = NULL, *p, *end;
	int64_t when;
	size_t i;

	if (size < 9)
		return 0;
	memcpy(&when, data, sizeof(when));
	if ((text = fuzz_copy(data + 9, size - 9, 1)) == NULL)
		return 0;
	end = text + (size - 9);
	for (p = text, i = 0; i < F__MAX && p <= end; i++) {
		f[i] = p;
		p += strlen(p) + 1;
	}
	if (data[8] % (NACTIONS + 1) < NACTIONS)
		f[F_ACTION] = actions[data[8] % (NACTIONS + 1)];

	memset(&ev, 0, sizeof(ev));
	ev.id = (char *)f[F_ID];
	ev.sandbox_id = (char *)f[F_SANDBOX_ID];
	ev.time = (long long)when;
	ev.actor = (char *)f[F_ACTOR];
	ev.action = (char *)f[F_ACTION];
	ev.from_status = (char *)f[F_FROM];
	ev.to_status = (char *)f[F_TO];
	ev.detail = (char *)f[F_DETAIL];
	memset(&sb, 0, sizeof(sb));
	sb.id = (char *)f[F_SANDBOX_ID];
	sb.name = (char *)f[F_NAME];
	sb.owner_email = (char *)f[F_OWNER];
	sb.template_name = (char *)f[F_TEMPLATE];
	sb.template_version = (long)(when & 0xffff);
	sb.status = (enum sbx_sandbox_status)(data[8] >> 4);
	sb.status_reason = (char *)f[F_REASON];
	sb.stack_id = (char *)f[F_STACK_ID];
	sb.parameters = (char *)f[F_PARAMETERS];
	sb.outputs = (char *)f[F_OUTPUTS];
	sb.created_at = sb.expiry_time = (long long)(when >> 8);

	/* With the row, and as when the row is gone. */
	for (i = 0; i < 2; i++) {
		char *printed;

		body = sbx_notify_body(&ev, i == 0 ? &sb : NULL);
		if (sbx_notify_event_type(ev.action) == NULL) {
			CHECK(body == NULL);
			continue;
		}
		if (body == NULL)
			continue;	/* ENOMEM */
		printed = sbx_json_print(body);
		cJSON_Delete(body);
		if (printed == NULL)
			continue;
		back = cJSON_Parse(printed);
		CHECK(back != NULL && cJSON_IsObject(back));
		check_str(back, "id", ev.id);
		check_str(back, "type", sbx_notify_event_type(ev.action));
		check_str(back, "actor", ev.actor);
		check_str(back, "from_status", ev.from_status);
		check_str(back, "to_status", ev.to_status);
		check_str(back, "detail", ev.detail);
		t = cJSON_GetObjectItemCaseSensitive(back, "time");
		CHECK(cJSON_IsString(t));
		if (when >= 0 && when <= 253402300799LL)
			CHECK(sbx_time_valid(t->valuestring));
		s = cJSON_GetObjectItemCaseSensitive(back, "sandbox");
		CHECK(cJSON_IsObject(s));
		if (i == 0) {
			check_str(s, "id", sb.id);
			check_str(s, "name", sb.name);
			check_str(s, "owner", sb.owner_email);
			check_str(s, "status_reason", sb.status_reason);
			check_str(s, "stack_id", sb.stack_id);
			check_object_or_null(s, "parameters");
			check_object_or_null(s, "outputs");
		} else {
			check_str(s, "id", ev.sandbox_id);
			CHECK(cJSON_GetArraySize(s) == 1);
		}
		check_signature(printed, strlen(printed));
		cJSON_Delete(back);
		free(printed);
	}
	free(text);
	return 0;
}
