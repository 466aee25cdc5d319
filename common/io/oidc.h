/*
 * OpenID Connect relying party: discovery (OIDC_ISSUER's
 * /.well-known/openid-configuration, cached in the process), the JWKS
 * (cached, honouring Cache-Control max-age; on an unknown kid refetched at
 * most once per OIDC_JWKS_MIN_REFRESH_SECONDS), JWK (n, e) to a PEM public
 * key for libjwt, the authorization-code exchange with PKCE S256, and
 * ID-token verification.
 *
 * libjwt 1.10 checks no claims and trusts the token's alg, so verification
 * here parses the header itself (alg exactly RS256, a kid we know, no
 * duplicate members), always passes the key, checks jwt_get_alg() after,
 * and checks every claim in sbx_oidc_check_claims(), a pure function.
 *
 * Outgoing HTTP goes through common/io/httpclient.h only. The caches are
 * per process (a worker serves one request at a time).
 */
#ifndef SBX_OIDC_H
#define SBX_OIDC_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/config.h"
#include "common/core/err.h"
#include "common/io/httpclient.h"

/* Clock skew allowed on exp and iat, and the longest ID-token lifetime. */
#define SBX_OIDC_SKEW		300
#define SBX_OIDC_MAX_LIFETIME	86400
/* Longest ID token accepted. */
#define SBX_OIDC_TOKEN_MAX	16384
/* Google's issuer, and the legacy spelling its tokens may carry. */
#define SBX_OIDC_GOOGLE_ISSUER	"https://accounts.google.com"
#define SBX_OIDC_GOOGLE_LEGACY	"accounts.google.com"
/* Length of a PKCE S256 challenge (base64url of SHA-256). */
#define SBX_OIDC_CHALLENGE_LEN	43

/* Who an accepted ID token names. Strings are owned by the struct. */
struct sbx_oidc_identity {
	char *iss;		/* the issuer, Google's two spellings as one */
	char *sub;		/* the stable user key, within iss */
	char *email;		/* lower case */
	char *name;		/* NULL when absent */
	char *picture;		/* NULL when absent */
	char *hd;		/* NULL when absent (not a Workspace account) */
	long long exp;		/* the token's exp (seconds since the epoch) */
};

void sbx_oidc_identity_fini(struct sbx_oidc_identity *id);

/*
 * An issuer in the one spelling users are bound to: Google's legacy
 * "accounts.google.com" is "https://accounts.google.com"; any other is
 * itself. Static or iss; never NULL for a non-NULL iss.
 */
const char *sbx_oidc_issuer_canonical(const char *iss);

/* What sbx_oidc_check_claims() checks the claims against. */
struct sbx_oidc_expect {
	const char *issuer;		/* OIDC_ISSUER */
	const char *client_id;		/* GOOGLE_CLIENT_ID */
	const char *nonce;		/* the login's nonce; NULL: not checked */
	const char *allowed_domains;	/* ALLOWED_EMAIL_DOMAINS; "*" = any */
	long long now;			/* seconds since the epoch */
	/*
	 * ALLOWED_HD: Workspace domains whose accounts must carry a
	 * matching hd claim; NULL or "" for none.
	 */
	const char *allowed_hd;
};

/*
 * Checks the claims of a token whose signature has been verified, and on
 * success fills out (release with sbx_oidc_identity_fini). Returns
 * SBX_EAUTH when the token is not one we accept (iss, aud, exp, iat,
 * nonce, sub), SBX_EFORBIDDEN when it is valid but its holder may not sign
 * in (no email, email not verified, domain not allowed, an address at an
 * ALLOWED_HD domain without that hd claim), SBX_ENOMEM. out->iss is the
 * issuer in its one spelling (sbx_oidc_issuer_canonical).
 * *reason (may be NULL) gets a static phrase for logs and problem details.
 */
enum sbx_err sbx_oidc_check_claims(const cJSON *claims,
    const struct sbx_oidc_expect *ex, struct sbx_oidc_identity *out,
    const char **reason);

/*
 * Parses the header of a compact JWS (three base64url segments, the last
 * non-empty) without verifying anything, into *alg and *kid (caller frees;
 * *kid NULL when absent). SBX_EPARSE when the token is malformed, the
 * header is not a JSON object, or it repeats a member (cJSON and libjwt's
 * jansson would disagree on which copy counts).
 */
enum sbx_err sbx_oidc_parse_header(const char *token, char **alg, char **kid);

/*
 * Builds an RSA public key from a JWK's base64url modulus n and exponent e
 * and writes it as PEM SubjectPublicKeyInfo into *pem (caller frees), the
 * form libjwt wants. SBX_EPARSE for bad encodings, SBX_EINVAL for a
 * modulus under 2048 or over 8192 bits or an even exponent.
 */
enum sbx_err sbx_oidc_jwk_to_pem(const char *n, const char *e, char **pem);

/* base64url(SHA-256(verifier)) into out. */
enum sbx_err sbx_oidc_pkce_challenge(const char *verifier,
    char out[SBX_OIDC_CHALLENGE_LEN + 1]);

/*
 * Replaces the JWKS cache with the keys of json (a JWK Set) at time now,
 * valid for max_age seconds. Keys that are not RSA signature keys for
 * RS256 are skipped. SBX_EPARSE when json is not a JWK Set. Used by the
 * fetch, and by unit tests to load keys without a network.
 */
enum sbx_err sbx_oidc_jwks_load(const char *json, size_t len, long long now,
    long max_age);

/*
 * A number that changes whenever the cached keys are replaced or dropped
 * (a refetch, a rotation): what was verified under one generation is
 * re-verified under the next (idcache.h).
 */
unsigned long sbx_oidc_jwks_generation(void);

/*
 * The PEM of the key named kid, fetching the JWKS when the cache is
 * empty or expired, or (at most once per OIDC_JWKS_MIN_REFRESH_SECONDS)
 * when kid is unknown. *pem belongs to the cache: valid until the next
 * call into this module. SBX_ENOTFOUND for an unknown kid,
 * SBX_EUNAVAILABLE when a needed fetch failed.
 */
enum sbx_err sbx_oidc_key(const struct sbx_config *cfg, const char *kid,
    long long now, const char **pem);

/*
 * Verifies an ID token at time now: header (alg RS256, known kid),
 * signature, claims (iss, aud = GOOGLE_CLIENT_ID, exp, iat, nonce when
 * nonce is non-NULL, email_verified, ALLOWED_EMAIL_DOMAINS). Returns
 * SBX_OK and fills out, SBX_EAUTH (not a token we accept), SBX_EFORBIDDEN
 * (valid, but may not sign in) or SBX_EUNAVAILABLE (the IdP's keys could
 * not be fetched). *reason as for sbx_oidc_check_claims.
 */
enum sbx_err sbx_oidc_verify(const struct sbx_config *cfg, const char *token,
    const char *nonce, long long now, struct sbx_oidc_identity *out,
    const char **reason);

/*
 * 1 when s is an address an account can have: 3 to 254 bytes, one '@'
 * with something on each side, no space, control or ','. The one check of
 * "an email address" (sign-in, and the API's {email}, ?owner= and
 * ?login_hint=, where anything else cannot name a user).
 */
int sbx_oidc_email_valid(const char *s);

/*
 * The URL to send a browser to: the discovered authorization endpoint
 * with response_type=code, client_id, redirect_uri, scope "openid email
 * profile", state, nonce, the S256 challenge of verifier and, when
 * non-NULL, login_hint. Caller frees *url. SBX_EUNAVAILABLE when
 * discovery failed.
 */
enum sbx_err sbx_oidc_authorize_url(const struct sbx_config *cfg,
    const char *redirect_uri, const char *state, const char *nonce,
    const char *verifier, const char *login_hint, char **url);

/*
 * Exchanges an authorization code at the token endpoint
 * (client_secret_post, with the PKCE verifier) for the ID token (*id_token,
 * caller frees; it is a credential: wipe it). SBX_EREMOTE when the IdP
 * refused (4xx: a reused or unknown code, a wrong verifier...),
 * SBX_EUNAVAILABLE when it could not be reached or failed (5xx),
 * SBX_EPARSE when its answer has no ID token.
 */
enum sbx_err sbx_oidc_exchange(const struct sbx_config *cfg, const char *code,
    const char *verifier, const char *redirect_uri, char **id_token,
    const char **reason);

/*
 * Tests only: replace the HTTP transport (NULL restores sbx_httpclient_send),
 * forget every cache, and count the JWKS fetches made so far.
 */
typedef enum sbx_err (*sbx_oidc_transport_fn)(
    const struct sbx_httpclient_request *req,
    struct sbx_httpclient_response *resp);
void sbx_oidc_set_transport(sbx_oidc_transport_fn fn);
void sbx_oidc_reset(void);
unsigned long sbx_oidc_jwks_fetches(void);

#endif
