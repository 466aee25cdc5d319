/*
 * Authentication of protected routes: the authenticate hook every
 * responder puts in its struct sbx_app, and the principal it makes.
 *
 * Accepted credentials, in this order:
 *   - Authorization: Bearer <session token> (common/domain/session.h), checked
 *     against its sessions row on every request;
 *   - Authorization: Bearer <ID token> from OIDC_ISSUER whose aud is
 *     GOOGLE_CLIENT_ID (common/io/oidc.h); its user is created on first use;
 *   - the session cookie; then POST, PUT, PATCH and DELETE also need the
 *     X-CSRF-Token header holding the session's CSRF token (the CSRF
 *     cookie's value), else 403.
 * A present but bad Authorization header is never "rescued" by a cookie.
 * Tokens in the query string are refused (they end up in logs). Missing
 * or bad credentials answer 401 problem+json with WWW-Authenticate:
 * Bearer; a disabled user 403; an unreachable database or IdP 503.
 *
 * The role is derived at each request from the current ADMIN_EMAILS, so a
 * change there (or disabling a user) takes effect at once.
 */
#ifndef SBX_AUTH_H
#define SBX_AUTH_H

#include <cjson/cJSON.h>

#include "common/core/config.h"
#include "common/core/err.h"
#include "common/api/http.h"
#include "common/domain/users.h"

/*
 * The settings a responder with protected routes needs. Not the sign-in
 * group: only sbx-auth, which runs the code exchange, loads the client
 * secret (least knowledge: a flaw in another responder cannot leak it).
 */
#define SBX_AUTH_CONFIG_NEEDS \
	(SBX_NEED_DB | SBX_NEED_SESSION | SBX_NEED_OIDC)

/*
 * The hook for struct sbx_app.authenticate: sets req->principal and
 * returns SBX_OK, or replies (401, 403, 503) and returns the reason.
 */
enum sbx_err sbx_auth_authenticate(struct sbx_req *req);

/* "admin" when email is in ADMIN_EMAILS, else "user". */
const char *sbx_auth_role(const char *email);

/*
 * A principal for user u (session_id NULL for an ID token). Caller frees
 * with sbx_principal_free (req_fini does it for req->principal).
 */
enum sbx_err sbx_auth_principal_new(const struct sbx_user *u,
    const char *session_id, int via_cookie, struct sbx_principal **out);

/*
 * The user as answered by /api/me and /auth/me: {"email", "name",
 * "picture", "role"} (null for an unknown name or picture). NULL on ENOMEM.
 */
cJSON *sbx_auth_user_json(const struct sbx_principal *p);

/* GET /api/me and GET /auth/me (signed in): that user, 200. */
void sbx_auth_me(struct sbx_req *req);

#endif
