/*
 * The HTTP handlers of sbx-sandboxes (see sandbox_api.h): requests already
 * checked by the route's declarations (method, content type, size,
 * authentication, body fields) become calls into the sandbox and template
 * modules, and their results become JSON answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/core/config.h"
#include "common/core/crypto.h"
#include "common/domain/cost.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/domain/sandbox.h"
#include "common/api/sandbox_api.h"
#include "common/domain/template.h"

#define MODULE "sandbox"

/* ------------------------------------------------------------ helpers */

/* Whose sandboxes the caller may see: NULL (all) for admins. */
static const char *
scope(const struct sbx_req *req)
{
	return req->principal->is_admin ? NULL : req->principal->user_id;
}

static const char *
actor(const struct sbx_req *req)
{
	return req->principal->email;
}

void
sbx_sandbox_api_reply(struct sbx_req *req, int status,
    const struct sbx_sandbox *sb, int retries)
{
	struct sbx_util_buf b = { 0 };
	char *text;

	sbx_util_buf_reserve(&b, 1024);
	sbx_sandbox_json_write(&b, sb, sbx_cost_now(), retries);
	if ((text = sbx_util_buf_take(&b)) == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "sandbox JSON");
		return;
	}
	sbx_reply_text(req, status, "application/json", text);
}

static void
set_location(struct sbx_req *req, const char *name)
{
	char loc[128];

	snprintf(loc, sizeof(loc), "/api/sandboxes/%s", name);
	sbx_reply_header(req, "Location", loc);
}

struct sbx_sandbox *
sbx_sandbox_api_find_or_reply(struct sbx_req *req)
{
	const char *name = sbx_req_arg(req, "name")->str;
	struct sbx_sandbox *sb = NULL;
	enum sbx_err err;

	err = sbx_sandbox_find(name, scope(req), &sb);
	if (err == SBX_ENOTFOUND) {
		sbx_reply_problem(req, 404, "no sandbox is named %s",
		    sbx_sandbox_name_valid(name) ? name : "so");
		return NULL;
	}
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "reading a sandbox");
		return NULL;
	}
	return sb;
}

int
sbx_sandbox_api_idem_key_valid(const char *key)
{
	return sbx_util_chars_valid(key, 1, 255, NULL, SBX_UTIL_VISIBLE);
}

static int
member_cmp(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *)a, *y = *(const cJSON *const *)b;

	return strcmp(x->string, y->string);
}

/*
 * A copy of v with every object's members sorted by name, so that two
 * bodies that differ only in member order or whitespace hash alike.
 * Caller cJSON_Delete()s; NULL on ENOMEM.
 */
static cJSON *
canonical(const cJSON *v)
{
	const cJSON *c;
	const cJSON **kids = NULL;
	cJSON *out;
	size_t n = 0, i;

	if (v == NULL)
		return NULL;
	if (cJSON_IsArray(v)) {
		out = cJSON_CreateArray();
		cJSON_ArrayForEach(c, v) {
			cJSON *k = out != NULL ? canonical(c) : NULL;

			if (k == NULL) {
				cJSON_Delete(out);
				return NULL;
			}
			cJSON_AddItemToArray(out, k);
		}
		return out;
	}
	if (!cJSON_IsObject(v))
		return cJSON_Duplicate(v, 1);
	out = cJSON_CreateObject();
	n = (size_t)cJSON_GetArraySize(v);
	if (out == NULL || (n > 0 &&
	    (kids = calloc(n, sizeof(*kids))) == NULL)) {
		cJSON_Delete(out);
		return NULL;
	}
	/* n bounds the walk too: cJSON counted the same list. */
	i = 0;
	for (c = v->child; c != NULL && i < n; c = c->next)
		kids[i++] = c;
	n = i;
	if (n > 1)
		qsort(kids, n, sizeof(*kids), member_cmp);
	for (i = 0; i < n; i++) {
		cJSON *k = canonical(kids[i]);

		if (k == NULL) {
			cJSON_Delete(out);
			out = NULL;
			break;
		}
		cJSON_AddItemToObject(out, kids[i]->string, k);
	}
	free(kids);
	return out;
}

/*
 * Hex SHA-256 of the request body as parsed, canonically: neither
 * whitespace nor member order counts.
 */
static enum sbx_err
body_hash(const cJSON *json, char out[65])
{
	cJSON *canon = canonical(json);
	char *text = canon != NULL ? sbx_json_print(canon) : NULL;
	enum sbx_err err;

	cJSON_Delete(canon);
	if (text == NULL)
		return SBX_ENOMEM;
	err = sbx_crypto_sha256_hex(text, strlen(text), out);
	sbx_util_wipe_free(text);
	return err;
}

/* ------------------------------------------------------------ create */

const struct sbx_field
    sbx_sandbox_api_create_fields[SBX_SANDBOX_API_CREATE_NFIELDS] = {
	{ "name", SBX_F_STRING, 1, 3, 63, sbx_sandbox_name_valid,
	    "3 to 63 characters: a lower-case letter, then lower-case "
	    "letters, digits and '-'" },
	{ "template", SBX_F_STRING, 0, 3, 63, sbx_template_name_valid,
	    "the name of an enabled template" },
	{ "ttl_minutes", SBX_F_INT, 0, 0, 0, NULL,
	    "an integer number of minutes" },
	{ "parameters", SBX_F_OBJECT, 0, 0, 200, NULL,
	    "an object of parameter names to string values" },
};

/* The answer to a create the domain refused (or that failed). */
static void
create_refused_reply(struct sbx_req *req, enum sbx_err err,
    const struct sbx_sandbox_create_result *r)
{
	switch (r->refusal) {
	case SBX_SANDBOX_REFUSED_INVALID:
		sbx_reply_invalid(req, r->field != NULL ? r->field : "body",
		    "%s", r->detail);
		return;
	case SBX_SANDBOX_REFUSED_NAME_TAKEN:
		sbx_reply_problem_type(req, 409, "name-taken", r->field, "%s",
		    r->detail);
		return;
	case SBX_SANDBOX_REFUSED_BUDGET:
		sbx_reply_problem_type(req, 409, "budget-exceeded", r->field,
		    "%s", r->detail);
		return;
	case SBX_SANDBOX_REFUSED_QUOTA:
		sbx_reply_problem(req, 409, "%s", r->detail);
		return;
	case SBX_SANDBOX_REFUSED_KEY_BUSY:
		sbx_reply_problem(req, 409, "a request with this "
		    "Idempotency-Key is still being served");
		return;
	case SBX_SANDBOX_REFUSED_KEY_REUSED:
		sbx_reply_problem(req, 422, "this Idempotency-Key was used "
		    "with a different request body");
		return;
	case SBX_SANDBOX_REFUSED_NONE:
	case SBX_SANDBOX_REFUSED__MAX:
		break;
	}
	sbx_reply_err(req, err != SBX_OK ? err : SBX_EINTERNAL,
	    "creating a sandbox");
}

void
sbx_sandbox_api_create(struct sbx_req *req)
{
	struct sbx_sandbox_create c;
	struct sbx_sandbox_create_result r;
	const cJSON *ttl;
	char hash[65];
	enum sbx_err err;

	memset(&c, 0, sizeof(c));
	memset(&r, 0, sizeof(r));
	c.idem_key = sbx_req_header(req, "Idempotency-Key");
	if (c.idem_key != NULL && !sbx_sandbox_api_idem_key_valid(c.idem_key)) {
		sbx_reply_invalid(req, "Idempotency-Key", "Idempotency-Key must "
		    "be 1 to 255 visible ASCII characters");
		return;
	}
	if (c.idem_key != NULL) {
		err = body_hash(req->json, hash);
		if (err != SBX_OK) {
			sbx_reply_err(req, err, "hashing the body");
			return;
		}
		c.request_hash = hash;
	}
	c.owner_id = req->principal->user_id;
	c.owner_email = req->principal->email;
	c.actor = actor(req);
	c.name = sbx_json_str(req->json, "name", NULL);
	c.template_name = sbx_json_str(req->json, "template", NULL);
	ttl = cJSON_GetObjectItemCaseSensitive(req->json, "ttl_minutes");
	c.ttl_given = ttl != NULL;
	c.ttl_minutes = sbx_json_int(req->json, "ttl_minutes", 0);
	c.parameters = cJSON_GetObjectItemCaseSensitive(req->json,
	    "parameters");
	c.answer_status = 201;

	err = sbx_sandbox_create_run(&c, &r);
	if (err == SBX_OK && r.replay_body != NULL) {
		/* The first answer to this Idempotency-Key, again. */
		cJSON *j = cJSON_Parse(r.replay_body);

		if (j == NULL) {
			sbx_reply_err(req, SBX_EINTERNAL, "stored answer");
			goto out;
		}
		sbx_reply_header(req, "Idempotent-Replayed", "true");
		if (r.replay_status == c.answer_status) {
			const cJSON *n = cJSON_GetObjectItemCaseSensitive(j,
			    "name");

			if (cJSON_IsString(n) &&
			    sbx_sandbox_name_valid(n->valuestring))
				set_location(req, n->valuestring);
		}
		sbx_reply_json(req, r.replay_status, j);
		goto out;
	}
	if (err == SBX_OK && r.sandbox != NULL) {
		/* What the key stored: the same status and body. */
		set_location(req, r.sandbox->name);
		sbx_sandbox_api_reply(req, c.answer_status, r.sandbox, 0);
		goto out;
	}
	create_refused_reply(req, err, &r);
out:
	sbx_sandbox_create_result_fini(&r);
}

/* ------------------------------------------------------------ list */

/* In the order of enum sbx_sandbox_status (a unit test holds them equal). */
const char *const sbx_sandbox_api_statuses[] = {
	"PROVISIONING", "ACTIVE", "FAILED", "TERMINATING", "TERMINATED", NULL
};

const struct sbx_input
    sbx_sandbox_api_list_inputs[SBX_SANDBOX_API_LIST_NINPUTS] = {
	{ "status", SBX_I_ENUM, 0, 0, 0, 0, sbx_sandbox_api_statuses, NULL,
	    "status is one of PROVISIONING, ACTIVE, FAILED, TERMINATING, "
	    "TERMINATED" },
	{ "limit", SBX_I_INT, 0, 1, 100, 50, NULL, NULL,
	    "limit is an integer from 1 to 100" },
	{ "cursor", SBX_I_STRING, 0, 0, 0, 0, NULL, sbx_sandbox_cursor_valid,
	    "cursor is not one this API gave out" },
	/* An admin's filter; a user only ever sees their own. */
	{ "owner", SBX_I_STRING, SBX_I_ADMIN | SBX_I_EMPTY_ABSENT, 0, 0, 0,
	    NULL, NULL, NULL },
};

/* A sandbox's name: one that is no sandbox (or not valid) answers 404. */
const struct sbx_input sbx_sandbox_api_name_inputs[1] = {
	{ "name", SBX_I_STRING, SBX_I_PATH, 0, 0, 0, NULL, NULL, NULL },
};

void
sbx_sandbox_api_list(struct sbx_req *req)
{
	const char *status = sbx_req_arg(req, "status")->str;
	long limit = (long)sbx_req_arg(req, "limit")->num;
	const char *cursor = sbx_req_arg(req, "cursor")->str;
	const char *owner = sbx_req_arg(req, "owner")->str;
	struct sbx_util_buf body = { 0 };
	char *next = NULL, *text;
	enum sbx_err err;

	/* The page is written as text as it is read: no tree of 100 rows. */
	err = sbx_sandbox_list_json(scope(req), owner, status, cursor, limit,
	    sbx_cost_now(), &body, &next);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "listing sandboxes");
		goto out;
	}
	if (next != NULL) {
		struct sbx_util_buf b = { 0 };
		char num[24], *link;

		snprintf(num, sizeof(num), "%ld", limit);
		sbx_util_buf_add(&b, "</api/sandboxes");
		sbx_util_buf_add_query(&b, "limit", num);
		sbx_util_buf_add_query(&b, "cursor", next);
		if (status != NULL)
			sbx_util_buf_add_query(&b, "status", status);
		if (owner != NULL)
			sbx_util_buf_add_query(&b, "owner", owner);
		sbx_util_buf_add(&b, ">; rel=\"next\"");
		if ((link = sbx_util_buf_take(&b)) != NULL) {
			sbx_reply_header(req, "Link", link);
			free(link);
		}
	}
	if ((text = sbx_util_buf_take(&body)) == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "list");
		goto out;
	}
	sbx_reply_text(req, 200, "application/json", text);
out:
	free(next);
	sbx_util_buf_fini(&body);
}

/* ------------------------------------------------------------ one */

/*
 * While CloudFormation works on a stack, a read asks it how far it got,
 * at most once per SANDBOX_REFRESH_SECONDS per sandbox. Work the row
 * still has to send (a pending create or delete) is the reaper's.
 */
static void
maybe_refresh(struct sbx_sandbox **sb)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_sandbox *fresh = NULL;
	long long now = (long long)time(NULL);
	enum sbx_err err;

	if (((*sb)->status != SBX_SANDBOX_PROVISIONING &&
	    (*sb)->status != SBX_SANDBOX_TERMINATING) ||
	    (*sb)->pending_action != SBX_SANDBOX_ACTION_NONE)
		return;
	if ((*sb)->refreshed_at > 0 &&
	    now - (*sb)->refreshed_at < cfg->sandbox_refresh_seconds)
		return;
	err = sbx_sandbox_refresh(*sb, SBX_SANDBOX_ACTOR_CLOUDFORMATION,
	    &fresh);
	if (err != SBX_OK || fresh == NULL) {
		if (err != SBX_ECONFLICT)
			sbx_log(SBX_LOG_INFO, MODULE, "refresh of %s: %s",
			    (*sb)->name, sbx_strerror(err));
		sbx_sandbox_free(fresh);
		return;
	}
	sbx_sandbox_free(*sb);
	*sb = fresh;
}

void
sbx_sandbox_api_get(struct sbx_req *req)
{
	struct sbx_sandbox *sb = sbx_sandbox_api_find_or_reply(req);

	if (sb == NULL)
		return;
	maybe_refresh(&sb);
	sbx_sandbox_api_reply(req, 200, sb, 0);
	sbx_sandbox_free(sb);
}

/* ------------------------------------------------------------ patch */

const struct sbx_field
    sbx_sandbox_api_patch_fields[SBX_SANDBOX_API_PATCH_NFIELDS] = {
	{ "expiry_time", SBX_F_TIME, 0, 0, 0, NULL,
	    "an RFC 3339 time such as 2026-11-26T10:00:00Z" },
	{ "extend_minutes", SBX_F_INT, 0, 0, 0, NULL,
	    "a positive integer number of minutes" },
};

/*
 * An extension's budget check: the added time at the sandbox's last
 * estimated rate (unknown counts as 0). Answers 409 budget-exceeded and
 * returns 0 when the owner's budget would be exceeded.
 */
static int
budget_allows_or_reply(struct sbx_req *req, const struct sbx_sandbox *sb,
    long long want)
{
	char detail[256];
	double hourly = 0;
	int known = 0, refused = 0;
	enum sbx_err err;

	err = sbx_cost_sandbox_hourly(sb->id, &hourly, &known);
	if (err == SBX_OK)
		err = sbx_cost_budget_check(sb->owner_id, known ? hourly *
		    (double)(want - sb->expiry_time) / 3600.0 : -1, &refused,
		    detail, sizeof(detail));
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "checking the budget");
		return 0;
	}
	if (refused) {
		sbx_reply_problem_type(req, 409, "budget-exceeded", NULL, "%s",
		    detail);
		return 0;
	}
	return 1;
}

void
sbx_sandbox_api_patch(struct sbx_req *req)
{
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(req->json,
	    "expiry_time");
	const cJSON *ext = cJSON_GetObjectItemCaseSensitive(req->json,
	    "extend_minutes");
	struct sbx_sandbox *sb = NULL, *after = NULL;
	long long at = 0, want = 0;
	char detail[200];
	int tries;
	enum sbx_err err;

	if ((exp != NULL) == (ext != NULL)) {
		sbx_reply_invalid(req, exp != NULL ? "extend_minutes" :
		    "expiry_time", "give exactly one of expiry_time or "
		    "extend_minutes");
		return;
	}
	if (exp != NULL && sbx_time_parse(exp->valuestring, &at) != SBX_OK) {
		sbx_reply_invalid(req, "expiry_time", "expiry_time must be an "
		    "RFC 3339 time such as 2026-11-26T10:00:00Z");
		return;
	}
	if (exp != NULL && at <= 0) {
		sbx_reply_invalid(req, "expiry_time", "expiry_time must be in "
		    "the future");
		return;
	}
	sb = sbx_sandbox_api_find_or_reply(req);
	if (sb == NULL)
		return;
	for (tries = 0; tries < 3; tries++) {
		if (sb->status != SBX_SANDBOX_ACTIVE &&
		    sb->status != SBX_SANDBOX_PROVISIONING) {
			sbx_reply_problem(req, 409, "only an ACTIVE or "
			    "PROVISIONING sandbox can be extended; this one is "
			    "%s", sbx_sandbox_status_name(sb->status));
			goto out;
		}
		err = sbx_sandbox_new_expiry((long long)time(NULL),
		    sb->expiry_time, sb->max_expiry_time, at,
		    ext != NULL ? sbx_json_int(req->json, "extend_minutes", 0) :
		    0, &want, detail, sizeof(detail));
		if (err == SBX_EINVAL) {
			sbx_reply_invalid(req, exp != NULL ? "expiry_time" :
			    "extend_minutes", "%s", detail);
			goto out;
		}
		if (err == SBX_ECONFLICT) {
			sbx_reply_problem_type(req, 409, "lifetime-exceeded",
			    exp != NULL ? "expiry_time" : "extend_minutes",
			    "%s", detail);
			goto out;
		}
		if (want > sb->expiry_time && !budget_allows_or_reply(req, sb,
		    want))
			goto out;
		err = sbx_sandbox_set_expiry(sb, want, actor(req), &after);
		if (err == SBX_OK) {
			sbx_sandbox_api_reply(req, 200, after, 0);
			goto out;
		}
		if (err != SBX_ECONFLICT) {
			sbx_reply_err(req, err, "extending a sandbox");
			goto out;
		}
		/* Changed under us (the reaper, another request): again. */
		{
			char *id = strdup(sb->id);

			sbx_sandbox_free(sb);
			sb = NULL;
			err = id != NULL ? sbx_sandbox_get(id, &sb) :
			    SBX_ENOMEM;
			free(id);
		}
		if (err != SBX_OK) {
			sbx_reply_err(req, err, "re-reading a sandbox");
			goto out;
		}
	}
	sbx_reply_problem(req, 409, "the sandbox kept changing; try again");
out:
	sbx_sandbox_free(after);
	sbx_sandbox_free(sb);
}

/* ------------------------------------------------------------ delete */

void
sbx_sandbox_api_delete(struct sbx_req *req)
{
	struct sbx_sandbox *sb, *after = NULL;
	enum sbx_err err;

	sb = sbx_sandbox_api_find_or_reply(req);
	if (sb == NULL)
		return;
	if (sb->status == SBX_SANDBOX_TERMINATED) {
		sbx_reply_problem(req, 409, "the sandbox is already terminated");
		goto out;
	}
	err = sbx_sandbox_terminate(sb, actor(req), req->principal->is_admin &&
	    strcmp(sb->owner_id, req->principal->user_id) != 0 ?
	    "deleted by an administrator" : "deleted by its owner", &after);
	if (err == SBX_ECONFLICT) {
		sbx_reply_problem(req, 409, "the sandbox is already terminated");
		goto out;
	}
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "deleting a sandbox");
		goto out;
	}
	sbx_sandbox_api_reply(req, 202, after, 0);
out:
	sbx_sandbox_free(after);
	sbx_sandbox_free(sb);
}

/* ------------------------------------------------------------ events */

void
sbx_sandbox_api_events(struct sbx_req *req)
{
	struct sbx_sandbox *sb = sbx_sandbox_api_find_or_reply(req);
	struct sbx_sandbox_event_list evs = { NULL, 0 };
	cJSON *arr = NULL;
	size_t i;
	enum sbx_err err;

	if (sb == NULL)
		return;
	err = sbx_sandbox_events(sb->id, &evs);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "reading events");
		goto out;
	}
	arr = cJSON_CreateArray();
	for (i = 0; arr != NULL && i < evs.n; i++) {
		cJSON *j = sbx_sandbox_event_to_json(&evs.items[i]);

		if (j == NULL) {
			cJSON_Delete(arr);
			arr = NULL;
			break;
		}
		cJSON_AddItemToArray(arr, j);
	}
	if (arr == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "events");
		goto out;
	}
	sbx_reply_json(req, 200, arr);
out:
	sbx_sandbox_event_list_fini(&evs);
	sbx_sandbox_free(sb);
}

/* ------------------------------------------------------------ templates */

void
sbx_template_api_list(struct sbx_req *req)
{
	struct sbx_template_list list = { NULL, 0 };
	cJSON *arr;
	size_t i;
	enum sbx_err err;

	err = sbx_template_list(&list);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "listing templates");
		return;
	}
	arr = cJSON_CreateArray();
	for (i = 0; arr != NULL && i < list.n; i++) {
		cJSON *j = sbx_template_to_json(list.items[i], 0);

		if (j == NULL) {
			cJSON_Delete(arr);
			arr = NULL;
			break;
		}
		cJSON_AddItemToArray(arr, j);
	}
	sbx_template_list_fini(&list);
	if (arr == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "templates");
		return;
	}
	sbx_reply_json(req, 200, arr);
}

/* Answers one template (with its body when full) and frees it. */
static void
reply_template(struct sbx_req *req, int status, struct sbx_template *t,
    int full)
{
	cJSON *j = sbx_template_to_json(t, full);

	sbx_template_free(t);
	if (j == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "template");
		return;
	}
	sbx_reply_json(req, status, j);
}

/*
 * A template's name: one that is no enabled template's answers 404; PUT
 * leaves its check to the domain (sbx_template_put_valid names it).
 */
const struct sbx_input sbx_template_api_name_inputs[1] = {
	{ "name", SBX_I_STRING, SBX_I_PATH, 0, 0, 0, NULL, NULL, NULL },
};

void
sbx_template_api_get(struct sbx_req *req)
{
	const char *name = sbx_req_arg(req, "name")->str;
	struct sbx_template *t = NULL;
	enum sbx_err err;

	err = sbx_template_get(name, &t);
	if (err == SBX_ENOTFOUND) {
		sbx_reply_problem(req, 404, "no enabled template has this name");
		return;
	}
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "reading a template");
		return;
	}
	/*
	 * The body is the text as the admin wrote it, NoEcho defaults and
	 * all (a YAML body cannot be redacted reliably), so only admins get
	 * it; everyone sees the parameters, redacted.
	 */
	reply_template(req, 200, t, req->principal->is_admin);
}

const struct sbx_field
    sbx_template_api_put_fields[SBX_TEMPLATE_API_PUT_NFIELDS] = {
	{ "body", SBX_F_STRING, 0, 1, SBX_TEMPLATE_BODY_MAX, NULL,
	    "the CloudFormation template text, at most 51200 bytes" },
	{ "template", SBX_F_OBJECT, 0, 0, 0, NULL,
	    "the CloudFormation template as a JSON object" },
	{ "description", SBX_F_STRING, 0, 0, 1024, NULL,
	    "up to 1024 bytes" },
	{ "parameters", SBX_F_ARRAY, 0, 0, 200, NULL,
	    "an array of parameter declarations" },
	{ "capabilities", SBX_F_ARRAY, 0, 0, 3, NULL,
	    "an array of CAPABILITY_* strings" },
	{ "default_ttl_minutes", SBX_F_INT, 0, 1, 100000, NULL,
	    "a positive integer" },
	{ "max_ttl_minutes", SBX_F_INT, 0, 1, 100000, NULL,
	    "a positive integer" },
	{ "default", SBX_F_BOOL, 0, 0, 0, NULL, "true or false" },
	{ "max_cost_usd", SBX_F_AMOUNT, 0, 0, 0, NULL, NULL },
};

/*
 * The PUT body decoded into in: the template as text ("body") or as an
 * object ("template", serialised into *text, caller frees), neither or
 * both leaving in->body NULL for the domain to refuse.
 */
static enum sbx_err
template_put_decode(const cJSON *json, struct sbx_template_put *in,
    char **text)
{
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(json, "body");
	const cJSON *tmpl = cJSON_GetObjectItemCaseSensitive(json, "template");
	const cJSON *deflt = cJSON_GetObjectItemCaseSensitive(json, "default");
	const cJSON *cost = cJSON_GetObjectItemCaseSensitive(json,
	    "max_cost_usd");

	*text = NULL;
	if (tmpl != NULL && body == NULL) {
		*text = cJSON_PrintUnformatted(tmpl);
		if (*text == NULL)
			return SBX_ENOMEM;
		in->body = *text;
		in->from_object = 1;
	} else if (body != NULL && tmpl == NULL) {
		in->body = body->valuestring;
	}
	in->description = sbx_json_str(json, "description", NULL);
	in->parameters = cJSON_GetObjectItemCaseSensitive(json, "parameters");
	in->capabilities = cJSON_GetObjectItemCaseSensitive(json,
	    "capabilities");
	in->default_ttl_minutes = sbx_json_int(json, "default_ttl_minutes", 0);
	in->max_ttl_minutes = sbx_json_int(json, "max_ttl_minutes", 0);
	in->is_default = deflt == NULL ? -1 : cJSON_IsTrue(deflt);
	in->has_max_cost = cJSON_IsNumber(cost);
	in->max_cost_usd = in->has_max_cost ? cost->valuedouble : 0;
	return SBX_OK;
}

void
sbx_template_api_put(struct sbx_req *req)
{
	struct sbx_template_put in;
	struct sbx_template *t = NULL;
	const char *field = NULL;
	char *text = NULL, detail[256], loc[128];
	enum sbx_err err;

	memset(&in, 0, sizeof(in));
	in.name = sbx_req_arg(req, "name")->str;
	in.actor = actor(req);
	err = template_put_decode(req->json, &in, &text);
	if (err == SBX_OK)
		err = sbx_template_put(&in, &field, detail, sizeof(detail), &t);
	free(text);
	if (err == SBX_EINVAL) {
		sbx_reply_invalid(req, field != NULL ? field : "body", "%s",
		    detail);
		return;
	}
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "adding a template version");
		return;
	}
	snprintf(loc, sizeof(loc), "/api/templates/%s", in.name);
	sbx_reply_header(req, "Location", loc);
	reply_template(req, 201, t, 0);
}

void
sbx_template_api_delete(struct sbx_req *req)
{
	const char *name = sbx_req_arg(req, "name")->str;
	enum sbx_err err;

	err = sbx_template_disable(name);
	if (err == SBX_ENOTFOUND) {
		sbx_reply_problem(req, 404, "no template has this name");
		return;
	}
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "disabling a template");
		return;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "template %s disabled by %s", name,
	    actor(req));
	sbx_reply_empty(req, 204);
}
