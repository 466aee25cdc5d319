/*
 * AWS access: Signature Version 4 (for request headers and for presigned
 * query strings, which is also what an Aurora DSQL IAM token is), the
 * credential provider chain (environment, ECS container endpoint, shared
 * credentials file) with an in-process cache for temporary credentials,
 * the region, and the endpoint of a service.
 *
 * The signing functions are pure: they take the time and the credentials
 * as arguments, so the unit tests run them on the published vectors. The
 * chain and the resolvers read the environment (through sbx_config() when
 * the settings are loaded) and, for the container endpoint, the network.
 *
 * Secrets (secret keys, session tokens, signatures' inputs) are never
 * logged, and every struct holding one is wiped by its _fini.
 */
#ifndef SBX_AWS_H
#define SBX_AWS_H

#include <stddef.h>

#include "common/core/err.h"
#include "common/io/httpclient.h"

/* Credentials; fields are heap strings owned by the struct. */
struct sbx_aws_creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token;		/* NULL for long-term keys */
	long long expiration;		/* epoch seconds; 0: does not expire */
};

/* Wipes (OPENSSL_cleanse) and frees the strings; c may be NULL. */
void sbx_aws_creds_fini(struct sbx_aws_creds *c);
/* Deep copy of src into dst (release with sbx_aws_creds_fini). */
enum sbx_err sbx_aws_creds_copy(struct sbx_aws_creds *dst,
    const struct sbx_aws_creds *src);

/*
 * The provider chain, in order: the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), the container endpoint
 * (AWS_CONTAINER_CREDENTIALS_FULL_URI, or AWS_CONTAINER_CREDENTIALS_
 * RELATIVE_URI on http://169.254.170.2; Authorization from
 * AWS_CONTAINER_AUTHORIZATION_TOKEN or the file AWS_CONTAINER_
 * AUTHORIZATION_TOKEN_FILE), then the shared credentials file
 * (AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials, profile AWS_PROFILE
 * or "default"). Credentials from the container are cached in the process
 * and fetched again SBX_AWS_REFRESH_SECONDS before they expire.
 *
 * Fills *out with a copy (caller releases with sbx_aws_creds_fini).
 * SBX_EAUTH when no provider has credentials, SBX_EUNAVAILABLE when the
 * container endpoint is configured but cannot be reached, SBX_EPARSE when
 * it answers nonsense.
 */
#define SBX_AWS_REFRESH_SECONDS 300
enum sbx_err sbx_aws_creds_get(struct sbx_aws_creds *out);
/* Forgets the cached credentials (tests; after a 403 ExpiredToken). */
void sbx_aws_creds_reset(void);

/*
 * The providers one by one; SBX_ENOTFOUND when a provider is not
 * configured. sbx_aws_creds_from_container does one request, no cache.
 */
enum sbx_err sbx_aws_creds_from_env(struct sbx_aws_creds *out);
enum sbx_err sbx_aws_creds_from_container(struct sbx_aws_creds *out);
enum sbx_err sbx_aws_creds_from_file(struct sbx_aws_creds *out);

/*
 * Pure parsers behind the providers. sbx_aws_creds_parse_ini reads the
 * [profile] section of a shared credentials file (aws_access_key_id,
 * aws_secret_access_key, aws_session_token; '#' and ';' comments):
 * SBX_ENOTFOUND when the profile or its keys are missing, SBX_EPARSE
 * when they fail the rule the container's answer must pass too (a key id
 * with no '/', ',', '=' or blank, a token with no line break).
 * sbx_aws_creds_parse_container reads the container endpoint's JSON
 * (AccessKeyId, SecretAccessKey, Token, Expiration as RFC 3339):
 * SBX_EPARSE when malformed or incomplete.
 */
enum sbx_err sbx_aws_creds_parse_ini(const char *text, size_t len,
    const char *profile, struct sbx_aws_creds *out);
enum sbx_err sbx_aws_creds_parse_container(const char *text, size_t len,
    struct sbx_aws_creds *out);

/*
 * The region: AWS_REGION (sbx_config()->aws_region when the settings are
 * loaded), else AWS_DEFAULT_REGION. Copied into buf; SBX_ECONFIG when
 * neither is set or it is not a plausible region name.
 */
enum sbx_err sbx_aws_region(char *buf, size_t len);

/*
 * The endpoint URL for a service ("cloudformation", "dsql", ...):
 * AWS_ENDPOINT_URL_<SERVICE> (upper case, '-' and ' ' as '_'), else
 * AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is "true";
 * else https://<service>.<region>.amazonaws.com. A trailing '/' is
 * dropped. *out is the caller's to free().
 *
 * sbx_aws_endpoint_resolve is the pure core: get(name, ctx) returns a
 * variable's value or NULL. sbx_aws_endpoint uses the environment and the
 * SBX_ENV_FILE (sbx_config_getenv).
 */
enum sbx_err sbx_aws_endpoint_resolve(const char *service, const char *region,
    const char *(*get)(const char *name, void *ctx), void *ctx, char **out);
enum sbx_err sbx_aws_endpoint(const char *service, const char *region,
    char **out);

/* A query parameter, not yet encoded. */
struct sbx_aws_param {
	const char *name;
	const char *value;
};

/*
 * The canonical query string of params: each name and value URI-encoded
 * (RFC 3986 unreserved kept, %XX upper case), sorted by name then value,
 * joined with '&'. Use it as the query on the wire too, so that what is
 * sent is exactly what was signed. *out is the caller's to free(); an
 * empty string for no params.
 */
enum sbx_err sbx_aws_canonical_query(const struct sbx_aws_param *params,
    size_t nparams, char **out);

/* What to sign: one HTTP request. */
struct sbx_aws_sign_req {
	const char *method;		/* "GET", "POST" */
	const char *path;		/* decoded path, "/" when NULL or "" */
	const struct sbx_aws_param *query;
	size_t nquery;
	const char *host;		/* the Host header: host[:port] */
	/*
	 * More headers to sign (content-type, ...). Names are matched
	 * case-insensitively; values are trimmed and inner runs of spaces
	 * collapsed. Do not pass host, x-amz-date or x-amz-security-token.
	 */
	const struct sbx_httpclient_header *headers;
	size_t nheaders;
	const char *payload;		/* NULL: empty */
	size_t payload_len;
	const char *region;
	const char *service;
	long long now;			/* epoch seconds */
};

/* The result of signing; release with sbx_aws_sig_fini. */
struct sbx_aws_sig {
	char amz_date[17];		/* X-Amz-Date: 20150830T123600Z */
	char signature[65];		/* lower-case hex */
	char *authorization;		/* the Authorization header value */
	char *canonical_request;	/* for tests and debugging */
	char *string_to_sign;
};

/*
 * Signs r with creds (Authorization-header signing). The caller sends
 * Host (r->host), X-Amz-Date (sig->amz_date), X-Amz-Security-Token (when
 * creds has a session token), the headers of r and Authorization. The
 * signed headers are r's headers plus host, x-amz-date and, with a session
 * token, x-amz-security-token.
 */
enum sbx_err sbx_aws_sign(const struct sbx_aws_sign_req *r,
    const struct sbx_aws_creds *creds, struct sbx_aws_sig *sig);
/* Wipes and frees what sbx_aws_sign allocated; sig may be NULL. */
void sbx_aws_sig_fini(struct sbx_aws_sig *sig);

/*
 * Query-string signing (a presigned URL): signs only the host header and
 * the hash of an empty payload. r->headers and r->payload are ignored.
 * *query_out (caller frees; it holds the session token: wipe it before
 * free) is r's own parameters in canonical order followed by
 * X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-SignedHeaders,
 * X-Amz-Expires, X-Amz-Security-Token (with a session token) and
 * X-Amz-Signature. expires is in seconds, 1..604800.
 */
enum sbx_err sbx_aws_presign(const struct sbx_aws_sign_req *r, long expires,
    const struct sbx_aws_creds *creds, char **query_out);

/*
 * An Aurora DSQL IAM authentication token, to use as the PostgreSQL
 * password: "<host>/?Action=DbConnect&..." (admin: DbConnectAdmin, for the
 * user "admin"), presigned for service "dsql". expires in seconds (DSQL's
 * default is 900); the token is only checked at connect time. *out is the
 * caller's (a secret: wipe before free).
 */
enum sbx_err sbx_aws_dsql_token(const char *host, const char *region,
    int admin, long expires, const struct sbx_aws_creds *creds,
    long long now, char **out);

/*
 * The password for a libpq connection to Aurora DSQL with DB_AUTH=dsql-iam:
 * a token for host (DATABASE_URL's host) and user ("admin" gets
 * DbConnectAdmin, any other role DbConnect), valid SBX_AWS_DSQL_EXPIRES
 * seconds from now, signed with the credential chain's credentials for
 * the region in the host name ("<id>.dsql.<region>.on.aws"), else
 * sbx_aws_region(). *out is a secret: the caller wipes and frees it after
 * the connect (a token is only checked at connect time).
 */
#define SBX_AWS_DSQL_EXPIRES 900
enum sbx_err sbx_aws_dsql_password(const char *host, const char *user,
    char **out);

/* Hex SHA-256 of data, into out[65]. */
void sbx_aws_sha256_hex(const void *data, size_t len, char out[65]);

#endif
