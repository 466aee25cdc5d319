/*
 * The routes of sbx-auth: the browser sign-in flow with the IdP
 * (authorization code + PKCE S256, state and nonce in a short-lived sealed
 * cookie), logout, the current user, and disabling users. Each function is
 * a route handler (sbx_handler_fn); fcgi/sbx-auth.c declares the routes.
 *
 *   GET  /auth/login[?next=/path][&login_hint=email]
 *        302 to the IdP; 400 for a next that is not a same-site path.
 *   GET  /auth/callback?code=&state=
 *        302 to next (or JSON {access_token, token_type, expires_in, user}
 *        when Accept asks for JSON), with the session and CSRF cookies;
 *        400 bad state/code or refused exchange, 401 rejected ID token,
 *        403 not allowed or disabled, 503 IdP unreachable. Never 500.
 *   POST /auth/logout                    (signed in) 204, revoked
 *   GET  /auth/me                        (signed in) the user (its
 *        handler, sbx_auth_me, also answers /api/me: auth.h)
 *   GET  /api/users                      (admin) every user: email, name,
 *        role, disabled, last_login_at, live_sandboxes; by email
 *   POST /api/users/{email}/disable      (admin) also revokes sessions
 *   POST /api/users/{email}/enable       (admin)
 */
#ifndef SBX_SIGNIN_H
#define SBX_SIGNIN_H

#include "common/api/http.h"

/* How long a login may take between /auth/login and /auth/callback. */
#define SBX_LOGIN_TTL_SECONDS 600

/* The query and path inputs of the routes (http.h). */
#define SBX_SIGNIN_LOGIN_NINPUTS 2
extern const struct sbx_input sbx_signin_login_inputs[SBX_SIGNIN_LOGIN_NINPUTS];
#define SBX_SIGNIN_CALLBACK_NINPUTS 3
extern const struct sbx_input
    sbx_signin_callback_inputs[SBX_SIGNIN_CALLBACK_NINPUTS];
/* The {email} of /api/users/{email}/disable, /enable and /budget. */
#define SBX_SIGNIN_EMAIL_NINPUTS 1
extern const struct sbx_input sbx_signin_email_inputs[SBX_SIGNIN_EMAIL_NINPUTS];

void sbx_signin_login(struct sbx_req *req);
void sbx_signin_callback(struct sbx_req *req);
void sbx_signin_logout(struct sbx_req *req);
void sbx_signin_users_list(struct sbx_req *req);
void sbx_signin_user_disable(struct sbx_req *req);
void sbx_signin_user_enable(struct sbx_req *req);

#endif
