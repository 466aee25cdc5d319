/*
 * Users and their sessions in the database: all the SQL of sign-in. A user
 * row is bound to the IdP's (issuer, subject), created on first sign-in (or
 * on the first request with a bearer ID token), and its email, name and
 * picture are refreshed at each login and each ID-token use. Another
 * account (another issuer or subject) with the email of an existing user
 * is refused, never merged into that user's row.
 * A session row exists for each session token issued (id = the token's
 * jti); a token is good while its row exists, is not revoked, has not
 * expired and its user is not disabled, which is checked on every request,
 * so logging out or disabling a user takes effect at once.
 *
 * Emails are stored in lower case. Every function returns SBX_EUNAVAILABLE
 * when the database cannot be reached.
 */
#ifndef SBX_USERS_H
#define SBX_USERS_H

#include <stddef.h>

#include "common/core/err.h"
#include "common/io/oidc.h"

/* A user row. Strings are owned by the struct; name/picture may be NULL. */
struct sbx_user {
	char *id;
	char *email;
	char *name;
	char *picture;
	int disabled;
};

void sbx_users_user_fini(struct sbx_user *u);

/*
 * A login: in one transaction, creates or refreshes the user named by id
 * (email, name, picture, last_login_at) and inserts the session row jti
 * expiring at exp (seconds since the epoch). SBX_EFORBIDDEN, with nothing
 * written, when the user is disabled; SBX_ECONFLICT, with nothing written
 * and a warning logged, when the account is another one than the row of
 * its email or subject is bound to. Fills out on success.
 */
enum sbx_err sbx_users_sign_in(const struct sbx_oidc_identity *id,
    const char *jti, long long exp, struct sbx_user *out);

/*
 * The user of a bearer ID token: found by (iss, sub), created on first
 * use, its profile refreshed when the token's differs. SBX_EFORBIDDEN when
 * disabled; SBX_ECONFLICT as for sbx_users_sign_in.
 */
enum sbx_err sbx_users_for_identity(const struct sbx_oidc_identity *id,
    struct sbx_user *out);

/*
 * The user of session jti, checked against user_id (the token's sub).
 * SBX_EAUTH when the session is unknown, revoked, expired or not that
 * user's; SBX_EFORBIDDEN when the user is disabled.
 */
enum sbx_err sbx_users_session_check(const char *jti, const char *user_id,
    struct sbx_user *out);

/* Revokes session jti (no error when it was already revoked or is unknown). */
enum sbx_err sbx_users_session_revoke(const char *jti);

/*
 * Disables (disabled = 1) or re-enables the users with this email (lower
 * case). Disabling also revokes all their sessions, in batches; *revoked
 * (may be NULL) gets how many. SBX_ENOTFOUND when no user has that email.
 */
enum sbx_err sbx_users_set_disabled(const char *email, int disabled,
    long *revoked);

/* A user as the administrators' list shows it. */
struct sbx_user_info {
	char *email;
	char *name;			/* NULL when the IdP gave none */
	int disabled;
	long long last_login_at;	/* seconds since the epoch; 0: never */
	long live_sandboxes;
};

struct sbx_user_info_list {
	struct sbx_user_info *items;
	size_t n;
};

/* Rows sbx_users_list answers at most. */
#define SBX_USERS_LIST_MAX 1000

/*
 * Every user, by email, at most limit (1..SBX_USERS_LIST_MAX) of them.
 * out is the caller's, freed with sbx_users_list_fini (also on error).
 */
enum sbx_err sbx_users_list(size_t limit, struct sbx_user_info_list *out);
void sbx_users_list_fini(struct sbx_user_info_list *l);

#endif
