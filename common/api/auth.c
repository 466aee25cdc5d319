/*
 * The authenticate hook: bearer session tokens, bearer ID tokens, the
 * session cookie with CSRF. See auth.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/api/auth.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/io/idcache.h"
#include "common/io/oidc.h"
#include "common/domain/session.h"
#include "common/domain/tokens.h"

#define MODULE "auth"

/* Query parameters that would carry a credential; never accepted. */
static const char *const query_token_names[] = {
	"access_token", "id_token", "token", "api_token",
};

const char *
sbx_auth_role(const char *email)
{
	const struct sbx_config *cfg = sbx_config();

	if (email != NULL && cfg->admin_emails != NULL &&
	    sbx_config_list_has(cfg->admin_emails, email))
		return "admin";
	return "user";
}

enum sbx_err
sbx_auth_principal_new(const struct sbx_user *u, const char *session_id,
    int via_cookie, struct sbx_principal **out)
{
	struct sbx_principal *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return SBX_ENOMEM;
	if ((p->user_id = strdup(u->id)) == NULL ||
	    (p->email = strdup(u->email)) == NULL ||
	    (u->name != NULL && (p->name = strdup(u->name)) == NULL) ||
	    (u->picture != NULL && (p->picture = strdup(u->picture)) == NULL) ||
	    (session_id != NULL &&
	    (p->session_id = strdup(session_id)) == NULL)) {
		sbx_principal_free(p);
		return SBX_ENOMEM;
	}
	p->is_admin = strcmp(sbx_auth_role(u->email), "admin") == 0;
	p->via_cookie = via_cookie;
	*out = p;
	return SBX_OK;
}

cJSON *
sbx_auth_user_json(const struct sbx_principal *p)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	sbx_json_add_str_or_null(o, "email", p->email);
	sbx_json_add_str_or_null(o, "name", p->name);
	sbx_json_add_str_or_null(o, "picture", p->picture);
	sbx_json_add_str_or_null(o, "role", p->is_admin ? "admin" : "user");
	if (cJSON_GetArraySize(o) != 4) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void
sbx_auth_me(struct sbx_req *req)
{
	cJSON *body = sbx_auth_user_json(req->principal);

	if (body == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "out of memory");
		return;
	}
	sbx_reply_json(req, 200, body);
}

/* Answers the failure err with a detail, and returns err. */
static enum sbx_err
fail(struct sbx_req *req, enum sbx_err err, const char *why)
{
	switch (err) {
	case SBX_EAUTH:
		sbx_log(SBX_LOG_INFO, MODULE, "rejected credentials: %s", why);
		sbx_reply_err(req, SBX_EAUTH, why);
		break;
	case SBX_EFORBIDDEN:
		sbx_log(SBX_LOG_INFO, MODULE, "refused: %s", why);
		sbx_reply_problem(req, 403, "%s", why);
		break;
	default:
		sbx_reply_err(req, err, why);
		break;
	}
	return err;
}

/* The token of "Bearer <token>" (scheme case-insensitive), or NULL. */
static const char *
bearer_token(const char *authz)
{
	const char *t;

	if (strncasecmp(authz, "Bearer ", 7) != 0)
		return NULL;
	for (t = authz + 7; *t == ' '; t++)
		;
	return *t != '\0' && strchr(t, ' ') == NULL ? t : NULL;
}

/* A session token (from the header or the cookie): crypto, then the row. */
static enum sbx_err
auth_session(struct sbx_req *req, const char *token, int via_cookie,
    struct sbx_session_claims *claims)
{
	const struct sbx_config *cfg = sbx_config();
	const char *why = NULL;
	struct sbx_user u = { 0 };
	enum sbx_err err;

	if (sbx_session_verify(cfg->session_secret_key,
	    strlen(cfg->session_secret_key), token, (long long)time(NULL),
	    claims, &why) != SBX_OK)
		return fail(req, SBX_EAUTH, why != NULL ? why : "invalid token");
	switch ((err = sbx_users_session_check(claims->jti, claims->sub, &u))) {
	case SBX_OK:
		break;
	case SBX_EAUTH:
		return fail(req, err, "session revoked or expired");
	case SBX_EFORBIDDEN:
		return fail(req, err, "this account is disabled");
	default:
		return fail(req, err, "cannot check the session");
	}
	err = sbx_auth_principal_new(&u, claims->jti, via_cookie,
	    &req->principal);
	sbx_users_user_fini(&u);
	if (err != SBX_OK)
		return fail(req, err, "out of memory");
	return SBX_OK;
}

/* A bearer ID token from the IdP; its user exists from first use on. */
static enum sbx_err
auth_id_token(struct sbx_req *req, const char *token)
{
	struct sbx_oidc_identity id = { 0 };
	struct sbx_user u = { 0 };
	const char *why = NULL;
	long long now = (long long)time(NULL);
	enum sbx_err err;

	/*
	 * A token verified before is taken from this process's memory until
	 * its exp (idcache.h); its user's row, disabled state included, is
	 * still read below on every request.
	 */
	if ((err = sbx_idcache_get(token, now, &id)) == SBX_ENOTFOUND) {
		err = sbx_oidc_verify(sbx_config(), token, NULL, now, &id,
		    &why);
		if (err == SBX_OK)
			sbx_idcache_put(token, &id);
	}
	if (err != SBX_OK) {
		fail(req, err, why != NULL ? why : "invalid token");
		goto out;
	}
	switch ((err = sbx_users_for_identity(&id, &u))) {
	case SBX_OK:
		break;
	case SBX_EFORBIDDEN:
		fail(req, err, "this account is disabled");
		goto out;
	case SBX_ECONFLICT:
		err = SBX_EFORBIDDEN;
		fail(req, err, "this email belongs to another account of the "
		    "identity provider");
		goto out;
	default:
		fail(req, err, "cannot look the user up");
		goto out;
	}
	if ((err = sbx_auth_principal_new(&u, NULL, 0, &req->principal)) !=
	    SBX_OK)
		fail(req, err, "out of memory");
out:
	sbx_users_user_fini(&u);
	sbx_oidc_identity_fini(&id);
	return err;
}

/*
 * A personal API token (tokens.h), told apart by its prefix. Only ever
 * taken from the Authorization header: a cookie holding one goes to the
 * session check and fails there.
 */
static enum sbx_err
auth_api_token(struct sbx_req *req, const char *token)
{
	struct sbx_user u = { 0 };
	char id[40];
	enum sbx_err err;

	switch ((err = sbx_tokens_check(token, &u, id))) {
	case SBX_OK:
		break;
	case SBX_EAUTH:
		return fail(req, err, "API token unknown, revoked or expired, "
		    "or its account disabled");
	default:
		return fail(req, err, "cannot check the API token");
	}
	err = sbx_auth_principal_new(&u, NULL, 0, &req->principal);
	sbx_users_user_fini(&u);
	if (err == SBX_OK &&
	    (req->principal->api_token_id = strdup(id)) == NULL)
		err = SBX_ENOMEM;
	if (err != SBX_OK) {
		sbx_principal_free(req->principal);
		req->principal = NULL;
		return fail(req, err, "out of memory");
	}
	return SBX_OK;
}

static int
method_is_unsafe(const char *m)
{
	return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
	    strcmp(m, "PATCH") == 0 || strcmp(m, "DELETE") == 0;
}

/* Our session tokens all start with this exact header segment. */
static int
looks_like_session(const char *token)
{
	static const char hdr[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.";

	return strncmp(token, hdr, sizeof(hdr) - 1) == 0;
}

enum sbx_err
sbx_auth_authenticate(struct sbx_req *req)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_session_claims claims;
	const char *authz, *token, *cookie;
	enum sbx_err err;
	size_t i;

	sbx_principal_free(req->principal);
	req->principal = NULL;
	for (i = 0; i < sizeof(query_token_names) / sizeof(*query_token_names);
	    i++) {
		if (sbx_req_query(req, query_token_names[i]) != NULL)
			return fail(req, SBX_EAUTH, "credentials are not "
			    "accepted in the query string; use the "
			    "Authorization header");
	}

	if ((authz = sbx_req_header(req, "Authorization")) != NULL) {
		if ((token = bearer_token(authz)) == NULL)
			return fail(req, SBX_EAUTH,
			    "expected Authorization: Bearer <token>");
		/*
		 * Which verifier runs depends on the header's exact bytes,
		 * but each one pins its own algorithm, so a token cannot
		 * choose how it is checked: anything that is not our exact
		 * HS256 header goes to the RS256-only ID-token path.
		 */
		if (looks_like_session(token))
			return auth_session(req, token, 0, &claims);
		if (sbx_tokens_has_prefix(token))
			return auth_api_token(req, token);
		return auth_id_token(req, token);
	}

	if ((cookie = sbx_req_cookie(req, SBX_SESSION_COOKIE)) == NULL)
		return fail(req, SBX_EAUTH, "sign-in required");
	if ((err = auth_session(req, cookie, 1, &claims)) != SBX_OK)
		return err;
	/*
	 * A browser sends the cookie with any request, including one a
	 * hostile page makes it send: a change also needs the CSRF token,
	 * which only our own pages can read (from the CSRF cookie).
	 */
	if (method_is_unsafe(req->method) &&
	    !sbx_session_csrf_ok(cfg->session_secret_key,
	    strlen(cfg->session_secret_key), claims.jti,
	    sbx_req_cookie(req, SBX_CSRF_COOKIE),
	    sbx_req_header(req, SBX_CSRF_HEADER))) {
		sbx_principal_free(req->principal);
		req->principal = NULL;
		return fail(req, SBX_EFORBIDDEN, "missing or wrong "
		    SBX_CSRF_HEADER " header");
	}
	sbx_util_wipe(&claims, sizeof(claims));
	return SBX_OK;
}
