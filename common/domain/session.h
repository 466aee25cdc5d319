/*
 * The service's own session tokens, and the other things signed with
 * SESSION_SECRET_KEY: the CSRF token bound to a session, and sealed
 * (signed, expiring) cookie values such as the login state.
 *
 * A session token is a compact JWT, header {"alg":"HS256","typ":"JWT"},
 * claims jti (the id of its row in the sessions table), sub (the user's
 * id), iat and exp. It is signed and checked here with OpenSSL's HMAC and
 * a constant-time compare; the token's header is never trusted to choose
 * the algorithm (libjwt is not used for these tokens). Whether a verified
 * token is still good (revoked? user disabled?) is the database's answer:
 * see common/domain/users.h.
 *
 * This module is pure (no database, no network), so it is unit-tested
 * whole. Every function takes the key explicitly; callers pass
 * sbx_config()->session_secret_key.
 */
#ifndef SBX_SESSION_H
#define SBX_SESSION_H

#include <stddef.h>

#include "common/core/err.h"

/* Cookie names. __Host- makes browsers insist on Secure, Path=/, no Domain. */
#define SBX_SESSION_COOKIE	"__Host-sbx_session"
#define SBX_CSRF_COOKIE		"__Host-sbx_csrf"
#define SBX_LOGIN_COOKIE	"__Host-sbx_login"
#define SBX_CSRF_HEADER		"X-CSRF-Token"

/* A session id is a UUID (the sessions table's key). */
#define SBX_SESSION_ID_LEN	36
/* Longest user id accepted in sub (a UUID in practice). */
#define SBX_SESSION_SUB_MAX	64
/* Longest token accepted for verification. */
#define SBX_SESSION_TOKEN_MAX	1024
/* Clock skew tolerated on iat, as for ID tokens. */
#define SBX_SESSION_SKEW	300
/* Length of a CSRF token: base64url of a SHA-256 HMAC. */
#define SBX_CSRF_LEN		43

struct sbx_session_claims {
	char jti[SBX_SESSION_ID_LEN + 1];
	char sub[SBX_SESSION_SUB_MAX + 1];
	long long iat;
	long long exp;
};

/* Writes a fresh random (version 4) UUID into out. */
enum sbx_err sbx_session_new_id(char out[SBX_SESSION_ID_LEN + 1]);

/*
 * nbytes of randomness, base64url-encoded, into *out (caller frees): used
 * for OAuth state, nonce and the PKCE verifier.
 */
enum sbx_err sbx_session_random(size_t nbytes, char **out);

/*
 * Signs claims into a token (*token, caller frees with free()). SBX_EINVAL
 * when a claim is malformed (jti not a UUID, empty sub, exp <= iat).
 */
enum sbx_err sbx_session_sign(const char *key, size_t keylen,
    const struct sbx_session_claims *claims, char **token);

/*
 * Verifies token with key at time now (seconds since the epoch) and fills
 * out. SBX_EAUTH when the token is malformed, its signature does not match,
 * its header is not exactly HS256, a claim is missing or malformed, it has
 * expired, or its iat is in the future; *reason (may be NULL) then names
 * the cause in a few words, for logs (never the token).
 */
enum sbx_err sbx_session_verify(const char *key, size_t keylen,
    const char *token, long long now, struct sbx_session_claims *out,
    const char **reason);

/*
 * The CSRF token of a session: base64url(HMAC(key', jti)) with a key
 * derived for this purpose, into out (SBX_CSRF_LEN + 1 bytes).
 */
enum sbx_err sbx_session_csrf(const char *key, size_t keylen, const char *jti,
    char out[SBX_CSRF_LEN + 1]);

/*
 * True when both the header and the cookie hold the CSRF token of session
 * jti (constant-time compares). Either may be NULL (then false).
 */
int sbx_session_csrf_ok(const char *key, size_t keylen, const char *jti,
    const char *cookie, const char *header);

/*
 * Seals value (any bytes up to a NUL) for purpose until exp: the result
 * "<exp>.<base64url(value)>.<base64url(mac)>" is safe in a cookie; the MAC
 * key is derived from key and purpose, so a value sealed for one purpose
 * is refused for another. Caller frees *out.
 */
enum sbx_err sbx_session_seal(const char *key, size_t keylen,
    const char *purpose, const char *value, long long exp, char **out);

/*
 * Checks sealed for purpose at time now and returns the value in *value
 * (caller frees). SBX_EAUTH when it is malformed, forged, for another
 * purpose, or expired.
 */
enum sbx_err sbx_session_unseal(const char *key, size_t keylen,
    const char *purpose, const char *sealed, long long now, char **value);

/*
 * True when next is a safe place to send a browser after sign-in: a
 * same-site path (starts with exactly one '/', not "//" or "/\", which
 * browsers read as another host), at most 2048 bytes, no backslash, no
 * control character, no space.
 */
int sbx_session_next_ok(const char *next);

/* Constant-time equality of two NUL-terminated strings (NULL never equal). */
int sbx_session_streq(const char *a, const char *b);

#endif
