/*
 * The pure parts of webhooks (see notify.h): the signature, the mapping
 * from event actions to webhook types, the body, the delivery backoff.
 * No I/O here, so tests/unit/test_notify.c covers it without a network
 * or a database.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/core/json.h"
#include "common/domain/notify.h"
#include "common/domain/sandbox.h"

enum sbx_err
sbx_notify_signature(const char *secret, const char *timestamp,
    const char *body, size_t body_len, char *out, size_t out_len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MAC *mac = NULL;
	EVP_MAC_CTX *ctx = NULL;
	OSSL_PARAM params[2];
	size_t mdlen = 0, i;
	enum sbx_err err = SBX_EINTERNAL;

	if (out_len < SBX_NOTIFY_SIGNATURE_LEN || secret == NULL ||
	    timestamp == NULL || (body == NULL && body_len > 0))
		return SBX_EINVAL;
	out[0] = '\0';
	/* Streamed, so the body is never copied behind the timestamp. */
	params[0] = OSSL_PARAM_construct_utf8_string("digest",
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (mac == NULL || (ctx = EVP_MAC_CTX_new(mac)) == NULL)
		goto out;
	if (EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
	    params) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)timestamp,
	    strlen(timestamp)) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)".", 1) != 1 ||
	    (body_len > 0 && EVP_MAC_update(ctx, (const unsigned char *)body,
	    body_len) != 1) ||
	    EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 || mdlen != 32)
		goto out;
	memcpy(out, "sha256=", 7);
	for (i = 0; i < mdlen; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	out[7 + 2 * mdlen] = '\0';
	err = SBX_OK;
out:
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
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
