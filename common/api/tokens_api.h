/*
 * The HTTP side of personal API tokens (tokens.h): the handlers
 * fcgi/sbx-auth routes /api/tokens to, and the body fields of POST.
 *
 *   POST   /api/tokens {"name", "expires_in_days"?}   (a person, not an
 *          API token) 201 {"id", "name", "token", "created_at",
 *          "expires_at"}; the token is in this answer only. 400 naming
 *          the field; 409 past SBX_TOKENS_MAX_LIVE live tokens.
 *   GET    /api/tokens[?owner=email]   your tokens, newest first, never
 *          the secret: [{"id", "name", "created_at", "expires_at",
 *          "last_used_at", "revoked_at"}]; owner= is an admin's filter
 *          and is ignored for anyone else.
 *   DELETE /api/tokens/{id}   revokes at once, 204; 404 for an unknown
 *          id or another user's token (an admin may revoke any).
 */
#ifndef SBX_TOKENS_API_H
#define SBX_TOKENS_API_H

#include "common/api/http.h"
#include "common/core/json.h"

#define SBX_TOKENS_API_CREATE_NFIELDS 2
extern const struct sbx_field
    sbx_tokens_api_create_fields[SBX_TOKENS_API_CREATE_NFIELDS];

#define SBX_TOKENS_API_LIST_NINPUTS 1
extern const struct sbx_input
    sbx_tokens_api_list_inputs[SBX_TOKENS_API_LIST_NINPUTS];
#define SBX_TOKENS_API_ID_NINPUTS 1
extern const struct sbx_input
    sbx_tokens_api_id_inputs[SBX_TOKENS_API_ID_NINPUTS];

void sbx_tokens_api_create(struct sbx_req *req);
void sbx_tokens_api_list(struct sbx_req *req);
void sbx_tokens_api_revoke(struct sbx_req *req);

#endif
