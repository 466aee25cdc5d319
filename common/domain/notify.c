/*
 * The pure parts of webhooks (see notify.h): the signature, the mapping
 * from event actions to webhook types, the body, the delivery backoff.
 * No I/O here, so tests/unit/test_notify.c covers it without a network
 * or a database.
 */
#include <stdio.h>
#include <string.h>

#include "common/core/crypto.h"
#include "common/core/json.h"
#include "common/core/util.h"
#include "common/domain/notify.h"
#include "common/domain/sandbox.h"

enum sbx_err
sbx_notify_signature(const char *secret, const char *timestamp,
    const char *body, size_t body_len, char *out, size_t out_len)
{
	unsigned char md[SBX_CRYPTO_SHA256_LEN];
	/* Streamed, so the body is never copied behind the timestamp. */
	struct sbx_crypto_part parts[3];
	size_t i;
	enum sbx_err err;

	if (out_len < SBX_NOTIFY_SIGNATURE_LEN || secret == NULL ||
	    timestamp == NULL || (body == NULL && body_len > 0))
		return SBX_EINVAL;
	out[0] = '\0';
	parts[0].p = timestamp;
	parts[0].len = strlen(timestamp);
	parts[1].p = ".";
	parts[1].len = 1;
	parts[2].p = body;
	parts[2].len = body_len;
	err = sbx_crypto_hmac_sha256_parts(secret, strlen(secret), parts, 3, md);
	if (err != SBX_OK)
		goto out;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < sizeof(md); i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	out[7 + 2 * sizeof(md)] = '\0';
out:
	sbx_util_wipe(md, sizeof(md));
	return err;
}

/* Event actions that are webhooks, and their types. */
static const struct {
	const char *action;
	const char *type;
} types[] = {
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
};

const char *
sbx_notify_event_type(const char *action)
{
	size_t i;

	if (action == NULL)
		return NULL;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(action, types[i].action) == 0)
			return types[i].type;
	return NULL;
}

cJSON *
sbx_notify_body(const struct sbx_sandbox_event *ev,
    const struct sbx_sandbox *sb)
{
	const char *type = sbx_notify_event_type(ev->action);
	cJSON *o = NULL, *s = NULL;
	char when[40];

	if (type == NULL)
		return NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	sbx_time_format(ev->time, when, sizeof(when));
	sbx_json_add_str_or_null(o, "id", ev->id);
	cJSON_AddStringToObject(o, "type", type);
	cJSON_AddStringToObject(o, "time", when);
	sbx_json_add_str_or_null(o, "actor", ev->actor);
	sbx_json_add_str_or_null(o, "from_status", ev->from_status);
	sbx_json_add_str_or_null(o, "to_status", ev->to_status);
	sbx_json_add_str_or_null(o, "detail", ev->detail);
	if (sb != NULL) {
		s = sbx_sandbox_to_json(sb);
	} else {
		s = cJSON_CreateObject();
		if (s != NULL)
			sbx_json_add_str_or_null(s, "id", ev->sandbox_id);
	}
	if (s == NULL || !cJSON_AddItemToObject(o, "sandbox", s)) {
		cJSON_Delete(s);
		cJSON_Delete(o);
		return NULL;
	}
	/* A user's event names the user (the sandbox is the one it rode on). */
	if (strncmp(type, "user.", 5) == 0 && sb != NULL) {
		cJSON *u = cJSON_AddObjectToObject(o, "user");

		if (u != NULL)
			sbx_json_add_str_or_null(u, "email", sb->owner_email);
	}
	/* cJSON's adders fail silently on ENOMEM: check the result whole. */
	if (cJSON_GetObjectItemCaseSensitive(o, "time") == NULL ||
	    cJSON_GetObjectItemCaseSensitive(o, "type") == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

long
sbx_notify_backoff_seconds(long base, long attempts)
{
	return sbx_sandbox_backoff_seconds(base > 0 ? base : 1, attempts);
}
