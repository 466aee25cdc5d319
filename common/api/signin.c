/*
 * The sign-in flow and the user administration routes of sbx-auth. See
 * signin.h. The flow follows RFC 6749 section 4.1 with RFC 7636 PKCE (S256)
 * and OIDC Core 3.1 (nonce); everything the callback needs to check the
 * answer (state, nonce, verifier, next) travels in a sealed HttpOnly
 * cookie, so no server-side state is kept between the two requests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "common/api/auth.h"
#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/io/oidc.h"
#include "common/domain/session.h"
#include "common/api/signin.h"
#include "common/domain/users.h"

#define MODULE "signin"

/* The purpose the login cookie is sealed for (see sbx_session_seal). */
#define LOGIN_PURPOSE "login"

/*
 * Sets a cookie. Every cookie of ours is __Host- (Secure, Path=/, no
 * Domain) and SameSite=Lax: sent on the top-level navigation back from the
 * IdP, not on cross-site subrequests.
 */
static void
set_cookie(struct sbx_req *req, const char *name, const char *value,
    long max_age, int http_only)
{
	char *line;
	size_t n = strlen(name) + strlen(value) + 128;

	if ((line = malloc(n)) == NULL)
		return;
	snprintf(line, n, "%s=%s; Path=/; Max-Age=%ld; Secure;%s SameSite=Lax",
	    name, value, max_age, http_only ? " HttpOnly;" : "");
	sbx_reply_header(req, "Set-Cookie", line);
	sbx_util_wipe(line, n);
	free(line);
}

static void
clear_cookie(struct sbx_req *req, const char *name, int http_only)
{
	set_cookie(req, name, "", 0, http_only);
}

/* BASE_URL + "/auth/callback", the redirect URI registered with the IdP. */
static char *
redirect_uri(void)
{
	const char *base = sbx_config()->base_url;
	size_t n = strlen(base) + sizeof("/auth/callback");
	char *u;

	if ((u = malloc(n)) != NULL)
		snprintf(u, n, "%s/auth/callback", base);
	return u;
}

/* ------------------------------------------------------------ login */

/* An empty next or login_hint is none: next is then "/". */
const struct sbx_input sbx_signin_login_inputs[] = {
	{ "next", SBX_I_STRING, SBX_I_EMPTY_ABSENT, 0, 0, 0, NULL,
	    sbx_session_next_ok, "next must be a path on this site, starting "
	    "with a single '/'" },
	{ "login_hint", SBX_I_STRING, SBX_I_EMPTY_ABSENT, 0, 0, 0, NULL,
	    sbx_oidc_email_valid, "login_hint must be an email address" },
};

void
sbx_signin_login(struct sbx_req *req)
{
	const struct sbx_config *cfg = sbx_config();
	const char *next = sbx_req_arg(req, "next")->str;
	const char *hint = sbx_req_arg(req, "login_hint")->str;
	char *state = NULL, *nonce = NULL, *verifier = NULL, *value = NULL;
	char *sealed = NULL, *url = NULL, *ruri = NULL;
	cJSON *c = NULL;
	enum sbx_err err;

	if (next == NULL)
		next = "/";
	if (sbx_session_random(32, &state) != SBX_OK ||
	    sbx_session_random(32, &nonce) != SBX_OK ||
	    sbx_session_random(32, &verifier) != SBX_OK ||
	    (ruri = redirect_uri()) == NULL) {
		sbx_reply_err(req, SBX_EINTERNAL, "cannot make the login state");
		goto out;
	}
	if ((c = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(c, "state", state) == NULL ||
	    cJSON_AddStringToObject(c, "nonce", nonce) == NULL ||
	    cJSON_AddStringToObject(c, "verifier", verifier) == NULL ||
	    cJSON_AddStringToObject(c, "next", next) == NULL ||
	    (value = cJSON_PrintUnformatted(c)) == NULL ||
	    sbx_session_seal(cfg->session_secret_key,
	    strlen(cfg->session_secret_key), LOGIN_PURPOSE, value,
	    (long long)time(NULL) + SBX_LOGIN_TTL_SECONDS, &sealed) != SBX_OK) {
		sbx_reply_err(req, SBX_ENOMEM, "cannot make the login state");
		goto out;
	}
	err = sbx_oidc_authorize_url(cfg, ruri, state, nonce, verifier, hint,
	    &url);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "OIDC discovery failed");
		goto out;
	}
	set_cookie(req, SBX_LOGIN_COOKIE, sealed, SBX_LOGIN_TTL_SECONDS, 1);
	sbx_reply_redirect(req, url);
out:
	cJSON_Delete(c);
	free(url);
	free(ruri);
	sbx_util_wipe_free(sealed);
	sbx_util_wipe_free(value);
	sbx_util_wipe_free(verifier);
	sbx_util_wipe_free(nonce);
	sbx_util_wipe_free(state);
}

/* ------------------------------------------------------------ callback */

/* What the login cookie carried. */
struct login_state {
	char *state;
	char *nonce;
	char *verifier;
	char *next;
};

static void
login_state_fini(struct login_state *ls)
{
	sbx_util_wipe_free(ls->state);
	sbx_util_wipe_free(ls->nonce);
	sbx_util_wipe_free(ls->verifier);
	free(ls->next);
	memset(ls, 0, sizeof(*ls));
}

/* Unseals and parses the login cookie; SBX_EAUTH when absent or not good. */
static enum sbx_err
login_state_read(const struct sbx_req *req, struct login_state *ls)
{
	const struct sbx_config *cfg = sbx_config();
	const char *cookie = sbx_req_cookie(req, SBX_LOGIN_COOKIE);
	char *value = NULL;
	cJSON *c = NULL;
	const char *s, *n, *v, *x;
	enum sbx_err err = SBX_EAUTH;

	memset(ls, 0, sizeof(*ls));
	if (cookie == NULL || sbx_session_unseal(cfg->session_secret_key,
	    strlen(cfg->session_secret_key), LOGIN_PURPOSE, cookie,
	    (long long)time(NULL), &value) != SBX_OK)
		goto out;
	if ((c = cJSON_Parse(value)) == NULL)
		goto out;
	s = sbx_json_str(c, "state", NULL);
	n = sbx_json_str(c, "nonce", NULL);
	v = sbx_json_str(c, "verifier", NULL);
	x = sbx_json_str(c, "next", NULL);
	if (s == NULL || n == NULL || v == NULL || x == NULL ||
	    !sbx_session_next_ok(x))
		goto out;
	if ((ls->state = strdup(s)) == NULL || (ls->nonce = strdup(n)) == NULL ||
	    (ls->verifier = strdup(v)) == NULL ||
	    (ls->next = strdup(x)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	if (err != SBX_OK)
		login_state_fini(ls);
	cJSON_Delete(c);
	sbx_util_wipe_free(value);
	return err;
}

/* The answer of a successful sign-in: cookies, then JSON or a redirect. */
static void
answer_signed_in(struct sbx_req *req, const struct sbx_user *u,
    const char *token, const char *jti, const char *next)
{
	const struct sbx_config *cfg = sbx_config();
	char csrf[SBX_CSRF_LEN + 1];
	struct sbx_principal *p = NULL;
	cJSON *body = NULL, *user = NULL;

	if (sbx_session_csrf(cfg->session_secret_key,
	    strlen(cfg->session_secret_key), jti, csrf) != SBX_OK ||
	    sbx_auth_principal_new(u, jti, 0, &p) != SBX_OK) {
		sbx_reply_err(req, SBX_ENOMEM, "cannot answer the sign-in");
		goto out;
	}
	set_cookie(req, SBX_SESSION_COOKIE, token, cfg->session_ttl_seconds, 1);
	/* Not HttpOnly: our pages read it to send it back as a header. */
	set_cookie(req, SBX_CSRF_COOKIE, csrf, cfg->session_ttl_seconds, 0);
	clear_cookie(req, SBX_LOGIN_COOKIE, 1);
	if (!sbx_req_wants_json(req)) {
		sbx_reply_redirect(req, next);
		goto out;
	}
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "access_token", token) == NULL ||
	    cJSON_AddStringToObject(body, "token_type", "Bearer") == NULL ||
	    cJSON_AddNumberToObject(body, "expires_in",
	    (double)cfg->session_ttl_seconds) == NULL ||
	    cJSON_AddStringToObject(body, "csrf_token", csrf) == NULL ||
	    (user = sbx_auth_user_json(p)) == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "cannot answer the sign-in");
		goto out;
	}
	cJSON_AddItemToObject(body, "user", user);
	sbx_reply_json(req, 200, body);
	body = NULL;
out:
	sbx_util_wipe(csrf, sizeof(csrf));
	cJSON_Delete(body);
	sbx_principal_free(p);
}

/* A failed callback: the login is over either way, so drop its cookie. */
static void
callback_fail(struct sbx_req *req, int status, const char *detail)
{
	sbx_log(status >= 500 ? SBX_LOG_WARN : SBX_LOG_INFO, MODULE,
	    "sign-in failed (%d): %s", status, detail);
	if (status == 503) {
		sbx_reply_err(req, SBX_EUNAVAILABLE, detail);
	} else {
		sbx_reply_problem(req, status, "%s", detail);
		if (status == 401)
			sbx_reply_header(req, "WWW-Authenticate", "Bearer");
	}
	clear_cookie(req, SBX_LOGIN_COOKIE, 1);
}

/*
 * What the IdP sends back. They carry no bounds here: a missing or odd
 * one ends the sign-in in the handler, which also drops the login cookie.
 */
const struct sbx_input sbx_signin_callback_inputs[] = {
	{ "code", SBX_I_STRING, 0, 0, 0, 0, NULL, NULL, NULL },
	{ "state", SBX_I_STRING, 0, 0, 0, 0, NULL, NULL, NULL },
	{ "error", SBX_I_STRING, 0, 0, 0, 0, NULL, NULL, NULL },
};

void
sbx_signin_callback(struct sbx_req *req)
{
	const struct sbx_config *cfg = sbx_config();
	const char *code = sbx_req_arg(req, "code")->str;
	const char *state = sbx_req_arg(req, "state")->str;
	const char *error = sbx_req_arg(req, "error")->str;
	const char *why = NULL;
	struct login_state ls = { 0 };
	struct sbx_oidc_identity id = { 0 };
	struct sbx_session_claims claims;
	struct sbx_user u = { 0 };
	char *ruri = NULL, *id_token = NULL, *token = NULL;
	long long now;
	enum sbx_err err;

	memset(&claims, 0, sizeof(claims));
	if (error != NULL) {
		/* The IdP sent the user back without a code. */
		callback_fail(req, strcmp(error, "access_denied") == 0 ? 403 :
		    400, strcmp(error, "access_denied") == 0 ?
		    "sign-in was denied at the identity provider" :
		    "the identity provider refused the sign-in");
		goto out;
	}
	if (code == NULL || *code == '\0' || strlen(code) > 2048 ||
	    state == NULL || *state == '\0') {
		callback_fail(req, 400, "code and state are required");
		goto out;
	}
	if ((err = login_state_read(req, &ls)) != SBX_OK) {
		callback_fail(req, err == SBX_ENOMEM ? 503 : 400,
		    "no sign-in in progress here, or it expired; start again "
		    "at /auth/login");
		goto out;
	}
	if (!sbx_session_streq(state, ls.state)) {
		callback_fail(req, 400, "state does not match this sign-in");
		goto out;
	}
	if ((ruri = redirect_uri()) == NULL) {
		callback_fail(req, 503, "out of memory");
		goto out;
	}

	switch ((err = sbx_oidc_exchange(cfg, code, ls.verifier, ruri,
	    &id_token, &why))) {
	case SBX_OK:
		break;
	case SBX_EREMOTE:
		callback_fail(req, 400, why != NULL ? why :
		    "the identity provider refused the code");
		goto out;
	case SBX_EPARSE:
		callback_fail(req, 502, "the identity provider sent no ID token");
		goto out;
	default:
		callback_fail(req, 503, why != NULL ? why :
		    "the identity provider cannot be reached");
		goto out;
	}

	now = (long long)time(NULL);
	switch ((err = sbx_oidc_verify(cfg, id_token, ls.nonce, now, &id,
	    &why))) {
	case SBX_OK:
		break;
	case SBX_EAUTH:
		callback_fail(req, 401, why != NULL ? why : "ID token rejected");
		goto out;
	case SBX_EFORBIDDEN:
		callback_fail(req, 403, why != NULL ? why : "not allowed");
		goto out;
	default:
		callback_fail(req, 503, why != NULL ? why :
		    "the identity provider cannot be reached");
		goto out;
	}

	claims.iat = now;
	claims.exp = now + cfg->session_ttl_seconds;
	if (sbx_session_new_id(claims.jti) != SBX_OK) {
		callback_fail(req, 503, "cannot make a session id");
		goto out;
	}
	switch ((err = sbx_users_sign_in(&id, claims.jti, claims.exp, &u))) {
	case SBX_OK:
		break;
	case SBX_EFORBIDDEN:
		callback_fail(req, 403, "this account is disabled");
		goto out;
	case SBX_ECONFLICT:
		callback_fail(req, 403, "this email belongs to another "
		    "account of the identity provider");
		goto out;
	default:
		/* The database: unavailable, or conflicting past retries. */
		callback_fail(req, 503, "cannot record the sign-in");
		goto out;
	}
	snprintf(claims.sub, sizeof(claims.sub), "%s", u.id);
	if (sbx_session_sign(cfg->session_secret_key,
	    strlen(cfg->session_secret_key), &claims, &token) != SBX_OK) {
		callback_fail(req, 503, "cannot sign the session");
		goto out;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "signed in user %s (%s)", u.id,
	    sbx_auth_role(u.email));
	answer_signed_in(req, &u, token, claims.jti, ls.next);
out:
	sbx_util_wipe(&claims, sizeof(claims));
	sbx_users_user_fini(&u);
	sbx_oidc_identity_fini(&id);
	sbx_util_wipe_free(token);
	sbx_util_wipe_free(id_token);
	free(ruri);
	login_state_fini(&ls);
}

/* ------------------------------------------------------------ logout, me */

void
sbx_signin_logout(struct sbx_req *req)
{
	const struct sbx_principal *p = req->principal;
	enum sbx_err err;

	/* A bearer ID token has no session of ours to end. */
	if (p->session_id != NULL &&
	    (err = sbx_users_session_revoke(p->session_id)) != SBX_OK) {
		sbx_reply_err(req, err, "cannot revoke the session");
		return;
	}
	clear_cookie(req, SBX_SESSION_COOKIE, 1);
	clear_cookie(req, SBX_CSRF_COOKIE, 0);
	sbx_reply_empty(req, 204);
}

/* ------------------------------------------------------------ users */

/* One user of the list; NULL on ENOMEM. */
static cJSON *
user_info_json(const struct sbx_user_info *u)
{
	cJSON *o = cJSON_CreateObject();
	char when[40];

	if (o == NULL ||
	    cJSON_AddStringToObject(o, "email", u->email) == NULL)
		goto fail;
	sbx_json_add_str_or_null(o, "name", u->name);
	if (!cJSON_HasObjectItem(o, "name") ||
	    cJSON_AddStringToObject(o, "role", sbx_auth_role(u->email)) ==
	    NULL ||
	    cJSON_AddBoolToObject(o, "disabled", u->disabled) == NULL)
		goto fail;
	if (u->last_login_at != 0) {
		sbx_time_format(u->last_login_at, when, sizeof(when));
		if (cJSON_AddStringToObject(o, "last_login_at", when) == NULL)
			goto fail;
	} else if (cJSON_AddNullToObject(o, "last_login_at") == NULL) {
		goto fail;
	}
	if (cJSON_AddNumberToObject(o, "live_sandboxes",
	    (double)u->live_sandboxes) == NULL)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

void
sbx_signin_users_list(struct sbx_req *req)
{
	struct sbx_user_info_list list = { NULL, 0 };
	cJSON *body = NULL, *u;
	enum sbx_err err;
	size_t i;

	if ((err = sbx_users_list(SBX_USERS_LIST_MAX, &list)) != SBX_OK) {
		sbx_reply_err(req, err, "cannot list the users");
		return;
	}
	if ((body = cJSON_CreateArray()) == NULL)
		goto nomem;
	for (i = 0; i < list.n; i++) {
		if ((u = user_info_json(&list.items[i])) == NULL)
			goto nomem;
		cJSON_AddItemToArray(body, u);
	}
	sbx_users_list_fini(&list);
	sbx_reply_json(req, 200, body);
	return;
nomem:
	cJSON_Delete(body);
	sbx_users_list_fini(&list);
	sbx_reply_err(req, SBX_ENOMEM, "out of memory");
}

/* The {email} of a user, lower-cased. */
const struct sbx_input sbx_signin_email_inputs[] = {
	{ "email", SBX_I_STRING, SBX_I_PATH | SBX_I_LOWER, 0, 0, 0, NULL,
	    sbx_oidc_email_valid, "not an email address" },
};

static void
set_disabled(struct sbx_req *req, int disabled)
{
	const char *email = sbx_req_arg(req, "email")->str;
	long revoked = 0;
	cJSON *body;
	enum sbx_err err;

	if (disabled && strcmp(email, req->principal->email) == 0) {
		sbx_reply_problem(req, 409, "an administrator cannot disable "
		    "their own account");
		return;
	}
	if ((err = sbx_users_set_disabled(email, disabled, &revoked)) !=
	    SBX_OK) {
		sbx_reply_err(req, err, err == SBX_ENOTFOUND ?
		    "no user has this email" : "cannot change the user");
		return;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "%s %s a user; %ld session(s) revoked",
	    req->principal->user_id, disabled ? "disabled" : "enabled",
	    revoked);
	if ((body = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(body, "email", email) == NULL ||
	    cJSON_AddBoolToObject(body, "disabled", disabled) == NULL ||
	    cJSON_AddNumberToObject(body, "sessions_revoked",
	    (double)revoked) == NULL) {
		cJSON_Delete(body);
		sbx_reply_err(req, SBX_ENOMEM, "out of memory");
		return;
	}
	sbx_reply_json(req, 200, body);
}

void
sbx_signin_user_disable(struct sbx_req *req)
{
	set_disabled(req, 1);
}

void
sbx_signin_user_enable(struct sbx_req *req)
{
	set_disabled(req, 0);
}
