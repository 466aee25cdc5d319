/*
 * The HTTP side of sandboxes and templates: the handlers fcgi/sbx-sandboxes
 * routes to, and the body field tables its routes declare. Handlers turn a
 * checked request into calls of sandbox.h and template.h and the answers
 * into JSON; they hold no SQL and no CloudFormation.
 *
 * Every handler expects an authenticated request (req->principal set).
 * A user sees and changes only their own sandboxes (another user's answers
 * 404, as if it did not exist); an admin acts on all, and the events
 * record who acted (the caller's email).
 */
#ifndef SBX_SANDBOX_API_H
#define SBX_SANDBOX_API_H

#include <stddef.h>

#include "common/api/http.h"
#include "common/core/json.h"

/* POST /api/sandboxes {"name", "template"?, "ttl_minutes"?, "parameters"?} */
#define SBX_SANDBOX_API_CREATE_NFIELDS 4
extern const struct sbx_field
    sbx_sandbox_api_create_fields[SBX_SANDBOX_API_CREATE_NFIELDS];
void sbx_sandbox_api_create(struct sbx_req *req);

/* GET /api/sandboxes?status=&limit=&cursor=&owner= */
#define SBX_SANDBOX_API_LIST_NINPUTS 4
extern const struct sbx_input
    sbx_sandbox_api_list_inputs[SBX_SANDBOX_API_LIST_NINPUTS];
/* The names of the statuses, in enum order, NULL-terminated. */
extern const char *const sbx_sandbox_api_statuses[];
void sbx_sandbox_api_list(struct sbx_req *req);

/* The {name} of /api/sandboxes/{name} and the routes below it. */
extern const struct sbx_input sbx_sandbox_api_name_inputs[1];

/* GET /api/sandboxes/{name} */
void sbx_sandbox_api_get(struct sbx_req *req);

/* PATCH /api/sandboxes/{name} {"expiry_time"} or {"extend_minutes"} */
#define SBX_SANDBOX_API_PATCH_NFIELDS 2
extern const struct sbx_field
    sbx_sandbox_api_patch_fields[SBX_SANDBOX_API_PATCH_NFIELDS];
void sbx_sandbox_api_patch(struct sbx_req *req);

/* DELETE /api/sandboxes/{name} */
void sbx_sandbox_api_delete(struct sbx_req *req);

/* GET /api/sandboxes/{name}/events */
void sbx_sandbox_api_events(struct sbx_req *req);

/* GET /api/templates, GET /api/templates/{name} */
extern const struct sbx_input sbx_template_api_name_inputs[1];
void sbx_template_api_list(struct sbx_req *req);
void sbx_template_api_get(struct sbx_req *req);

/* PUT /api/templates/{name} (admins) */
#define SBX_TEMPLATE_API_PUT_NFIELDS 9
extern const struct sbx_field
    sbx_template_api_put_fields[SBX_TEMPLATE_API_PUT_NFIELDS];
void sbx_template_api_put(struct sbx_req *req);

/* DELETE /api/templates/{name} (admins) */
void sbx_template_api_delete(struct sbx_req *req);

/*
 * Shared with the operator routes (jobs.c). find_or_reply: the sandbox
 * named in the path as the caller may see it (caller frees), or NULL after
 * replying 404 (or 503). reply: the sandbox as JSON with that status; with
 * retries, also its "attempts" and "stuck", which operators need.
 */
struct sbx_sandbox;
struct sbx_sandbox *sbx_sandbox_api_find_or_reply(struct sbx_req *req);
void sbx_sandbox_api_reply(struct sbx_req *req, int status,
    const struct sbx_sandbox *sb, int retries);

/* Pure helpers, exposed for the unit test. */
/* Idempotency-Key: 1 to 255 visible ASCII characters. */
int sbx_sandbox_api_idem_key_valid(const char *key);

#endif
