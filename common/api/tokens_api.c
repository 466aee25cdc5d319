/*
 * The /api/tokens handlers: checked requests in, tokens.h calls, JSON
 * out. See tokens_api.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/core/log.h"
#include "common/core/util.h"
#include "common/domain/tokens.h"
#include "common/api/tokens_api.h"

#define MODULE "tokens"

/* Rows a list answers at most: 20 live tokens, and the ended ones kept. */
#define LIST_MAX 500


const struct sbx_field sbx_tokens_api_create_fields[] = {
	/* Bytes 1..256 bound the work; the valid() check counts characters. */
	{ "name", SBX_F_STRING, 1, 1, 4 * SBX_TOKEN_NAME_MAX,
	    sbx_tokens_name_valid, "1 to 64 printable characters" },
	{ "expires_in_days", SBX_F_INT, 0, SBX_TOKEN_DAYS_MIN,
	    SBX_TOKEN_DAYS_MAX, NULL, "an integer from 1 to 365" },
};

/*
 * ?owner= is an admin's filter; anyone else sees their own. The longest
 * taken is 320 bytes (an email address is at most 254).
 */
const struct sbx_input sbx_tokens_api_list_inputs[] = {
	{ "owner", SBX_I_STRING, SBX_I_ADMIN | SBX_I_EMPTY_ABSENT | SBX_I_LOWER,
	    0, 320, 0, NULL, NULL,
	    "owner is an email address of at most 320 bytes" },
};

/* The {id} of DELETE: one that is no token of the caller's answers 404. */
const struct sbx_input sbx_tokens_api_id_inputs[] = {
	{ "id", SBX_I_STRING, SBX_I_PATH, 0, 0, 0, NULL, NULL, NULL },
};

/* Adds name: RFC 3339 time, or null for 0. 0 on ENOMEM. */
static int
add_time(cJSON *o, const char *name, long long t)
{
	char buf[40];

	if (t == 0)
		return cJSON_AddNullToObject(o, name) != NULL;
	sbx_time_format(t, buf, sizeof(buf));
	return cJSON_AddStringToObject(o, name, buf) != NULL;
}

/* A token as listed (never the secret); NULL on ENOMEM. */
static cJSON *
token_json(const struct sbx_token *t)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || cJSON_AddStringToObject(o, "id", t->id) == NULL ||
	    cJSON_AddStringToObject(o, "name", t->name) == NULL ||
	    !add_time(o, "created_at", t->created_at) ||
	    !add_time(o, "expires_at", t->expires_at) ||
	    !add_time(o, "last_used_at", t->last_used_at) ||
	    !add_time(o, "revoked_at", t->revoked_at)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void
sbx_tokens_api_create(struct sbx_req *req)
{
	const char *name = sbx_json_str(req->json, "name", NULL);
	long long days = sbx_json_int(req->json, "expires_in_days",
	    SBX_TOKEN_DAYS_DEFAULT);
	char secret[SBX_TOKEN_BUF];
	struct sbx_token t = { 0 };
	cJSON *body = NULL, *tok;
	enum sbx_err err;

	secret[0] = '\0';
	err = sbx_tokens_create(req->principal->user_id, name, (int)days,
	    secret, &t);
	switch (err) {
	case SBX_OK:
		break;
	case SBX_ECONFLICT:
		sbx_reply_problem(req, 409, "you already have %d API tokens "
		    "that are neither revoked nor expired; revoke one first",
		    SBX_TOKENS_MAX_LIVE);
		goto out;
	case SBX_EFORBIDDEN:
		sbx_reply_problem(req, 403, "this account is disabled");
		goto out;
	default:
		sbx_reply_err(req, err, "cannot make the API token");
		goto out;
	}
	/*
	 * The secret goes into the answer as a reference to our buffer,
	 * not a copy cJSON would free unwiped; the printed answer is wiped
	 * with the request.
	 */
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "id", t.id) == NULL ||
	    cJSON_AddStringToObject(body, "name", t.name) == NULL ||
	    (tok = cJSON_CreateStringReference(secret)) == NULL ||
	    !cJSON_AddItemToObject(body, "token", tok) ||
	    !add_time(body, "created_at", t.created_at) ||
	    !add_time(body, "expires_at", t.expires_at)) {
		sbx_reply_err(req, SBX_ENOMEM, "cannot answer");
		goto out;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "user %s made API token %s",
	    req->principal->user_id, t.id);
	sbx_reply_json(req, 201, body);
	body = NULL;
out:
	cJSON_Delete(body);
	sbx_util_wipe(secret, sizeof(secret));
	sbx_token_fini(&t);
}

void
sbx_tokens_api_list(struct sbx_req *req)
{
	const char *owner = sbx_req_arg(req, "owner")->str;
	struct sbx_token_list list = { NULL, 0 };
	cJSON *arr = NULL, *j;
	enum sbx_err err;
	size_t i;

	err = sbx_tokens_list(req->principal->user_id, owner, LIST_MAX, &list);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "listing API tokens");
		goto out;
	}
	if ((arr = cJSON_CreateArray()) == NULL)
		goto out;
	for (i = 0; i < list.n; i++) {
		if ((j = token_json(&list.items[i])) == NULL)
			goto out;
		cJSON_AddItemToArray(arr, j);
	}
	sbx_reply_json(req, 200, arr);
	arr = NULL;
out:
	if (!req->resp.replied)
		sbx_reply_err(req, SBX_ENOMEM, "listing API tokens");
	cJSON_Delete(arr);
	sbx_token_list_fini(&list);
}

void
sbx_tokens_api_revoke(struct sbx_req *req)
{
	const char *id = sbx_req_arg(req, "id")->str;
	enum sbx_err err;

	/* An admin may revoke anyone's; a user's own only (else 404). */
	err = sbx_tokens_revoke(id, req->principal->is_admin ? NULL :
	    req->principal->user_id);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, err == SBX_ENOTFOUND ?
		    "no such API token" : "cannot revoke the API token");
		return;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "user %s revoked API token %s",
	    req->principal->user_id, id);
	sbx_reply_empty(req, 204);
}
