/*
 * OpenID Connect relying party: discovery, JWKS cache, JWK to PEM, code
 * exchange with PKCE, ID-token verification. See oidc.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "common/core/b64url.h"
#include "common/core/crypto.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"
#include "common/io/oidc.h"

#define MODULE "oidc"

/* Most keys kept from one JWKS; Google publishes two or three. */
#define JWKS_MAX_KEYS 16
/* The JWKS lifetime when its answer names none, and the most we trust. */
#define JWKS_DEFAULT_MAX_AGE 3600
#define JWKS_LONGEST_MAX_AGE 86400
/* How long a discovery document is kept before it is fetched again. */
#define DISCOVERY_MAX_AGE 86400

struct jwk {
	char *kid;
	char *pem;
};

/*
 * Process-wide caches. A worker serves one request at a time, so no lock
 * is needed; each field is replaced whole.
 */
static struct {
	char *issuer;		/* the OIDC_ISSUER it was fetched for */
	char *authorization_endpoint;
	char *token_endpoint;
	char *jwks_uri;
	long long fetched;
} disco;

static struct {
	struct jwk keys[JWKS_MAX_KEYS];
	size_t nkeys;
	int loaded;
	long long expires;	/* end of the answer's max-age */
	long long last_attempt;	/* last fetch, successful or not */
	int attempted;
	unsigned long fetches;
	unsigned long generation;	/* bumped whenever the keys change */
} jwks;

static sbx_oidc_transport_fn transport = sbx_httpclient_send;

void
sbx_oidc_set_transport(sbx_oidc_transport_fn fn)
{
	transport = fn != NULL ? fn : sbx_httpclient_send;
}

unsigned long
sbx_oidc_jwks_fetches(void)
{
	return jwks.fetches;
}

static void
jwks_clear(void)
{
	size_t i;

	for (i = 0; i < jwks.nkeys; i++) {
		free(jwks.keys[i].kid);
		free(jwks.keys[i].pem);
	}
	jwks.nkeys = 0;
	jwks.loaded = 0;
	jwks.generation++;
}

unsigned long
sbx_oidc_jwks_generation(void)
{
	return jwks.generation;
}

static void
disco_clear(void)
{
	free(disco.issuer);
	free(disco.authorization_endpoint);
	free(disco.token_endpoint);
	free(disco.jwks_uri);
	memset(&disco, 0, sizeof(disco));
}

void
sbx_oidc_reset(void)
{
	jwks_clear();
	memset(&jwks, 0, sizeof(jwks));
	disco_clear();
}

void
sbx_oidc_identity_fini(struct sbx_oidc_identity *id)
{
	if (id == NULL)
		return;
	free(id->iss);
	free(id->sub);
	free(id->email);
	free(id->name);
	free(id->picture);
	free(id->hd);
	memset(id, 0, sizeof(*id));
}

/* ------------------------------------------------------------ claims */

/* An integral JSON number in [0, 2^53) into *v; 0 when absent or not one. */
static int
claim_time(const cJSON *claims, const char *name, long long *v)
{
	return sbx_json_whole(cJSON_GetObjectItemCaseSensitive(claims, name),
	    0, SBX_JSON_EXACT_MAX, v);
}

static const char *
claim_str(const cJSON *claims, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(claims, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

const char *
sbx_oidc_issuer_canonical(const char *iss)
{
	if (iss != NULL && strcmp(iss, SBX_OIDC_GOOGLE_LEGACY) == 0)
		return SBX_OIDC_GOOGLE_ISSUER;
	return iss;
}

/* Google's tokens may carry the issuer without its scheme: one issuer. */
static int
issuer_ok(const char *iss, const char *want)
{
	if (iss == NULL || want == NULL)
		return 0;
	return strcmp(sbx_oidc_issuer_canonical(iss),
	    sbx_oidc_issuer_canonical(want)) == 0;
}

/*
 * aud is a string or an array of strings holding our client id. With more
 * than one audience, OIDC Core 3.1.3.7 asks that azp names us.
 */
static int
audience_ok(const cJSON *claims, const char *client_id)
{
	const cJSON *aud = cJSON_GetObjectItemCaseSensitive(claims, "aud");
	const cJSON *item;
	const char *azp;
	int found = 0, n = 0;

	if (client_id == NULL || *client_id == '\0')
		return 0;
	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, client_id) == 0;
	if (!cJSON_IsArray(aud))
		return 0;
	cJSON_ArrayForEach(item, aud) {
		if (!cJSON_IsString(item))
			return 0;
		n++;
		if (strcmp(item->valuestring, client_id) == 0)
			found = 1;
	}
	if (!found)
		return 0;
	if (n > 1) {
		azp = claim_str(claims, "azp");
		return azp != NULL && strcmp(azp, client_id) == 0;
	}
	return 1;
}

static int
email_verified(const cJSON *claims)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(claims,
	    "email_verified");

	/* Some of Google's older tokens carried the string "true". */
	return cJSON_IsTrue(v) ||
	    (cJSON_IsString(v) && strcmp(v->valuestring, "true") == 0);
}

int
sbx_oidc_email_valid(const char *email)
{
	const char *at, *p;
	size_t n;

	if (email == NULL || (n = strlen(email)) < 3 || n > 254)
		return 0;
	if ((at = strchr(email, '@')) == NULL || at == email ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL)
		return 0;
	for (p = email; *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == ',')
			return 0;
	}
	return 1;
}

static int
domain_allowed(const char *allowed, const char *hd, const char *email)
{
	const char *domain;

	if (allowed == NULL || *allowed == '\0')
		return 0;
	if (sbx_config_list_has(allowed, "*"))
		return 1;
	/* A Workspace account is judged by its organisation, not its address. */
	if (hd != NULL)
		return sbx_config_list_has(allowed, hd);
	domain = strrchr(email, '@');
	return domain != NULL && sbx_config_list_has(allowed, domain + 1);
}

/*
 * ALLOWED_HD: an address at one of these Workspace domains must come with
 * hd naming that domain. Without the rule, anyone able to get a verified
 * address at the domain outside the organisation (a consumer Google
 * account made for it) would pass as one of its users.
 */
static int
hd_ok(const char *allowed_hd, const char *hd, const char *email)
{
	const char *domain = strrchr(email, '@');

	if (allowed_hd == NULL || *allowed_hd == '\0' || domain == NULL ||
	    !sbx_config_list_has(allowed_hd, domain + 1))
		return 1;
	return hd != NULL && strcasecmp(hd, domain + 1) == 0;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

#define REJECT(code, why) do { if (reason != NULL) *reason = (why); \
	err = (code); goto out; } while (0)

enum sbx_err
sbx_oidc_check_claims(const cJSON *claims, const struct sbx_oidc_expect *ex,
    struct sbx_oidc_identity *out, const char **reason)
{
	const char *sub, *email, *hd, *nonce, *name, *picture;
	long long exp, iat;
	enum sbx_err err = SBX_OK;
	char *p;

	memset(out, 0, sizeof(*out));
	if (reason != NULL)
		*reason = NULL;
	if (!cJSON_IsObject(claims))
		REJECT(SBX_EAUTH, "claims are not an object");

	/* Is this a token for us, from our IdP, now? */
	if (!issuer_ok(claim_str(claims, "iss"), ex->issuer))
		REJECT(SBX_EAUTH, "wrong issuer");
	if (!audience_ok(claims, ex->client_id))
		REJECT(SBX_EAUTH, "wrong audience");
	if (!claim_time(claims, "exp", &exp))
		REJECT(SBX_EAUTH, "missing or malformed exp");
	if (!claim_time(claims, "iat", &iat))
		REJECT(SBX_EAUTH, "missing or malformed iat");
	if (ex->now > exp + SBX_OIDC_SKEW)
		REJECT(SBX_EAUTH, "token expired");
	if (iat > ex->now + SBX_OIDC_SKEW)
		REJECT(SBX_EAUTH, "token issued in the future");
	if (exp < iat || exp - iat > SBX_OIDC_MAX_LIFETIME)
		REJECT(SBX_EAUTH, "token lifetime too long");
	if (ex->nonce != NULL) {
		nonce = claim_str(claims, "nonce");
		if (!sbx_crypto_streq(nonce, ex->nonce))
			REJECT(SBX_EAUTH, "nonce mismatch");
	}
	sub = claim_str(claims, "sub");
	if (sub == NULL || *sub == '\0' || strlen(sub) > 255)
		REJECT(SBX_EAUTH, "missing or malformed sub");

	/* It is; may its holder sign in? */
	email = claim_str(claims, "email");
	if (!sbx_oidc_email_valid(email))
		REJECT(SBX_EFORBIDDEN, "the account has no usable email");
	if (!email_verified(claims))
		REJECT(SBX_EFORBIDDEN, "email not verified");
	hd = claim_str(claims, "hd");
	if (!domain_allowed(ex->allowed_domains, hd, email))
		REJECT(SBX_EFORBIDDEN, "email domain not allowed");
	if (!hd_ok(ex->allowed_hd, hd, email))
		REJECT(SBX_EFORBIDDEN, "an account of this Workspace domain "
		    "must carry its hd claim");

	name = claim_str(claims, "name");
	picture = claim_str(claims, "picture");
	if ((out->iss = strdup(sbx_oidc_issuer_canonical(claim_str(claims,
	    "iss")))) == NULL ||
	    (out->sub = strdup(sub)) == NULL ||
	    (out->email = strdup(email)) == NULL ||
	    (name != NULL && (out->name = dup_or_null(name)) == NULL) ||
	    (picture != NULL && (out->picture = dup_or_null(picture)) == NULL) ||
	    (hd != NULL && (out->hd = dup_or_null(hd)) == NULL))
		REJECT(SBX_ENOMEM, "out of memory");
	for (p = out->email; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	out->exp = exp;
out:
	if (err != SBX_OK)
		sbx_oidc_identity_fini(out);
	return err;
}

#undef REJECT

/* ------------------------------------------------------------ header */

/* True when obj has two members with the same name. */
static int
has_duplicates(const cJSON *obj)
{
	const cJSON *a, *b;

	for (a = obj->child; a != NULL; a = a->next) {
		for (b = a->next; b != NULL; b = b->next) {
			if (a->string != NULL && b->string != NULL &&
			    strcmp(a->string, b->string) == 0)
				return 1;
		}
	}
	return 0;
}

enum sbx_err
sbx_oidc_parse_header(const char *token, char **alg, char **kid)
{
	const char *dot1, *dot2;
	unsigned char *raw = NULL;
	size_t rawlen = 0;
	cJSON *hdr = NULL;
	const cJSON *a, *k;
	enum sbx_err err = SBX_EPARSE;

	*alg = NULL;
	*kid = NULL;
	if (token == NULL ||
	    strnlen(token, SBX_OIDC_TOKEN_MAX + 1) > SBX_OIDC_TOKEN_MAX)
		goto out;
	if ((dot1 = strchr(token, '.')) == NULL || dot1 == token ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL || dot2 == dot1 + 1 ||
	    dot2[1] == '\0' || strchr(dot2 + 1, '.') != NULL)
		goto out;
	if (sbx_b64url_decode(token, (size_t)(dot1 - token), &raw, &rawlen) !=
	    SBX_OK)
		goto out;
	if ((hdr = cJSON_ParseWithLength((char *)raw, rawlen)) == NULL ||
	    !cJSON_IsObject(hdr) || has_duplicates(hdr))
		goto out;
	a = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
	k = cJSON_GetObjectItemCaseSensitive(hdr, "kid");
	if (!cJSON_IsString(a) || (k != NULL && !cJSON_IsString(k)))
		goto out;
	if ((*alg = strdup(a->valuestring)) == NULL ||
	    (k != NULL && (*kid = strdup(k->valuestring)) == NULL)) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	if (err != SBX_OK) {
		free(*alg);
		free(*kid);
		*alg = NULL;
		*kid = NULL;
	}
	cJSON_Delete(hdr);
	free(raw);
	return err;
}

/* ------------------------------------------------------------ keys */

enum sbx_err
sbx_oidc_jwk_to_pem(const char *n64, const char *e64, char **pem)
{
	unsigned char *n = NULL, *e = NULL;
	size_t nlen = 0, elen = 0;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *data, *buf;
	long len;
	int bits;
	enum sbx_err err = SBX_EPARSE;

	*pem = NULL;
	if (n64 == NULL || e64 == NULL ||
	    sbx_b64url_decode(n64, strlen(n64), &n, &nlen) != SBX_OK ||
	    sbx_b64url_decode(e64, strlen(e64), &e, &elen) != SBX_OK ||
	    nlen == 0 || elen == 0 || elen > 8)
		goto out;
	err = SBX_EINTERNAL;
	if ((bn_n = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (bn_e = BN_bin2bn(e, (int)elen, NULL)) == NULL)
		goto out;
	bits = BN_num_bits(bn_n);
	if (bits < 2048 || bits > 8192 || !BN_is_odd(bn_e) ||
	    BN_is_one(bn_e)) {
		err = SBX_EINVAL;
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
	    (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
		goto out;
	if ((ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    !PEM_write_bio_PUBKEY(bio, pkey))
		goto out;
	if ((len = BIO_get_mem_data(bio, &data)) <= 0)
		goto out;
	if ((buf = malloc((size_t)len + 1)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	memcpy(buf, data, (size_t)len);
	buf[len] = '\0';
	*pem = buf;
	err = SBX_OK;
out:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_e);
	BN_free(bn_n);
	free(e);
	free(n);
	return err;
}

enum sbx_err
sbx_oidc_pkce_challenge(const char *verifier,
    char out[SBX_OIDC_CHALLENGE_LEN + 1])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	out[0] = '\0';
	if (EVP_Digest(verifier, strlen(verifier), md, &mdlen, EVP_sha256(),
	    NULL) != 1 || mdlen != sizeof(md))
		return SBX_EINTERNAL;
	return sbx_b64url_encode_buf(md, sizeof(md), out,
	    SBX_OIDC_CHALLENGE_LEN + 1);
}

/* Keeps a JWK when it is an RSA key usable for RS256 signatures. */
static int
jwk_usable(const cJSON *k)
{
	const char *kty = claim_str(k, "kty"), *use = claim_str(k, "use");
	const char *alg = claim_str(k, "alg");

	if (kty == NULL || strcmp(kty, "RSA") != 0)
		return 0;
	if (use != NULL && strcmp(use, "sig") != 0)
		return 0;
	if (alg != NULL && strcmp(alg, "RS256") != 0)
		return 0;
	return claim_str(k, "kid") != NULL;
}

enum sbx_err
sbx_oidc_jwks_load(const char *json, size_t len, long long now, long max_age)
{
	struct jwk keys[JWKS_MAX_KEYS];
	size_t nkeys = 0, i;
	cJSON *set = NULL;
	const cJSON *arr, *k;
	char *pem = NULL, *kid = NULL;
	enum sbx_err err = SBX_EPARSE;

	memset(keys, 0, sizeof(keys));
	if ((set = cJSON_ParseWithLength(json, len)) == NULL ||
	    !cJSON_IsObject(set))
		goto out;
	arr = cJSON_GetObjectItemCaseSensitive(set, "keys");
	if (!cJSON_IsArray(arr))
		goto out;
	cJSON_ArrayForEach(k, arr) {
		if (nkeys == JWKS_MAX_KEYS)
			break;
		if (!cJSON_IsObject(k) || !jwk_usable(k))
			continue;
		if (sbx_oidc_jwk_to_pem(claim_str(k, "n"), claim_str(k, "e"),
		    &pem) != SBX_OK) {
			sbx_log(SBX_LOG_WARN, MODULE, "skipping a JWKS key that "
			    "is not a usable RSA key");
			continue;
		}
		if ((kid = strdup(claim_str(k, "kid"))) == NULL) {
			free(pem);
			err = SBX_ENOMEM;
			goto out;
		}
		keys[nkeys].kid = kid;
		keys[nkeys].pem = pem;
		nkeys++;
	}
	jwks_clear();
	memcpy(jwks.keys, keys, sizeof(keys));
	jwks.nkeys = nkeys;
	nkeys = 0;
	jwks.loaded = 1;
	jwks.expires = now + max_age;
	err = SBX_OK;
out:
	for (i = 0; i < nkeys; i++) {
		free(keys[i].kid);
		free(keys[i].pem);
	}
	cJSON_Delete(set);
	return err;
}

/* ------------------------------------------------------------ fetching */

/* GETs url and parses its JSON answer; SBX_EUNAVAILABLE unless it is a 200. */
static enum sbx_err
get_json(const char *url, cJSON **out, struct sbx_httpclient_response *resp)
{
	struct sbx_httpclient_header accept = { "Accept", "application/json" };
	struct sbx_httpclient_request req;
	enum sbx_err err;

	*out = NULL;
	memset(&req, 0, sizeof(req));
	memset(resp, 0, sizeof(*resp));
	req.method = "GET";
	req.url = url;
	req.headers = &accept;
	req.nheaders = 1;
	if ((err = transport(&req, resp)) != SBX_OK) {
		sbx_log(SBX_LOG_WARN, MODULE, "GET %s failed: %s", url,
		    sbx_strerror(err));
		return err == SBX_EINVAL ? SBX_ECONFIG : SBX_EUNAVAILABLE;
	}
	if (resp->status != 200) {
		sbx_log(SBX_LOG_WARN, MODULE, "GET %s answered %ld", url,
		    resp->status);
		return SBX_EUNAVAILABLE;
	}
	if ((*out = cJSON_ParseWithLength(resp->body, resp->body_len)) == NULL ||
	    !cJSON_IsObject(*out)) {
		cJSON_Delete(*out);
		*out = NULL;
		sbx_log(SBX_LOG_WARN, MODULE, "GET %s: not a JSON object", url);
		return SBX_EUNAVAILABLE;
	}
	return SBX_OK;
}

/*
 * An endpoint from the discovery document: present, a URL we may call, and
 * nothing in it that could not go into a Location header as is.
 */
static const char *
endpoint(const cJSON *doc, const char *name)
{
	const char *url = claim_str(doc, name), *p;

	for (p = url; p != NULL && *p != '\0'; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			break;
	}
	if (url == NULL || *p != '\0' || !sbx_httpclient_url_allowed(url)) {
		sbx_log(SBX_LOG_WARN, MODULE, "discovery: %s missing, malformed "
		    "or not https", name);
		return NULL;
	}
	return url;
}

/* Makes sure the discovery document for cfg's issuer is cached. */
static enum sbx_err
discover(const struct sbx_config *cfg, long long now)
{
	struct sbx_httpclient_response resp;
	const char *issuer = cfg->oidc_issuer, *ae, *te, *ju, *iss;
	char *url = NULL;
	cJSON *doc = NULL;
	size_t n;
	enum sbx_err err;

	if (issuer == NULL || *issuer == '\0')
		return SBX_ECONFIG;
	if (disco.issuer != NULL && strcmp(disco.issuer, issuer) == 0 &&
	    now >= disco.fetched && now - disco.fetched < DISCOVERY_MAX_AGE)
		return SBX_OK;
	n = strlen(issuer) + sizeof("/.well-known/openid-configuration");
	if ((url = malloc(n)) == NULL)
		return SBX_ENOMEM;
	/* OIDC Discovery 4: the issuer, less any trailing '/', then the path. */
	snprintf(url, n, "%.*s/.well-known/openid-configuration",
	    (int)(strlen(issuer) - (issuer[strlen(issuer) - 1] == '/')),
	    issuer);
	err = get_json(url, &doc, &resp);
	sbx_httpclient_response_fini(&resp);
	if (err != SBX_OK)
		goto out;
	err = SBX_EUNAVAILABLE;
	iss = claim_str(doc, "issuer");
	if (iss == NULL || strcmp(iss, issuer) != 0) {
		sbx_log(SBX_LOG_ERROR, MODULE, "discovery: the document's issuer "
		    "is not OIDC_ISSUER");
		goto out;
	}
	if ((ae = endpoint(doc, "authorization_endpoint")) == NULL ||
	    (te = endpoint(doc, "token_endpoint")) == NULL ||
	    (ju = endpoint(doc, "jwks_uri")) == NULL)
		goto out;
	disco_clear();
	if ((disco.issuer = strdup(issuer)) == NULL ||
	    (disco.authorization_endpoint = strdup(ae)) == NULL ||
	    (disco.token_endpoint = strdup(te)) == NULL ||
	    (disco.jwks_uri = strdup(ju)) == NULL) {
		disco_clear();
		err = SBX_ENOMEM;
		goto out;
	}
	disco.fetched = now;
	err = SBX_OK;
out:
	/*
	 * A stale document for the same issuer beats none when the IdP is
	 * briefly away: endpoints change far less often than it blinks.
	 */
	if (err != SBX_OK && disco.issuer != NULL &&
	    strcmp(disco.issuer, issuer) == 0)
		err = SBX_OK;
	cJSON_Delete(doc);
	free(url);
	return err;
}

/* max-age of a Cache-Control value, or -1 when it names none. */
static long
cache_max_age(const char *cc)
{
	const char *p;
	long v = 0;

	for (p = cc; (p = strcasestr(p, "max-age")) != NULL; p += 7) {
		/* Skip s-maxage and the like: max-age must start a directive. */
		if (p != cc && p[-1] != ' ' && p[-1] != ',')
			continue;
		p += 7;
		while (*p == ' ')
			p++;
		if (*p != '=')
			return -1;
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p) && v < 10000000; p++)
			v = v * 10 + (*p - '0');
		return v;
	}
	if (strcasestr(cc, "no-cache") != NULL ||
	    strcasestr(cc, "no-store") != NULL)
		return 0;
	return -1;
}

/* Fetches the JWKS now and replaces the cache. */
static enum sbx_err
jwks_fetch(const struct sbx_config *cfg, long long now)
{
	struct sbx_httpclient_response resp;
	char cc[256];
	cJSON *doc = NULL;
	long max_age = JWKS_DEFAULT_MAX_AGE, min = cfg->oidc_jwks_min_refresh_seconds;
	enum sbx_err err;

	jwks.attempted = 1;
	jwks.last_attempt = now;
	memset(&resp, 0, sizeof(resp));
	if ((err = discover(cfg, now)) != SBX_OK)
		return err == SBX_ENOMEM ? err : SBX_EUNAVAILABLE;
	jwks.fetches++;
	if ((err = get_json(disco.jwks_uri, &doc, &resp)) != SBX_OK)
		goto out;
	if (sbx_httpclient_response_header(&resp, "Cache-Control", cc, sizeof(cc)) &&
	    (max_age = cache_max_age(cc)) < 0)
		max_age = JWKS_DEFAULT_MAX_AGE;
	if (max_age < min)
		max_age = min;
	if (max_age > JWKS_LONGEST_MAX_AGE)
		max_age = JWKS_LONGEST_MAX_AGE;
	err = sbx_oidc_jwks_load(resp.body, resp.body_len, now, max_age);
	if (err == SBX_EPARSE) {
		sbx_log(SBX_LOG_WARN, MODULE, "the JWKS is not a JWK Set");
		err = SBX_EUNAVAILABLE;
	} else if (err == SBX_OK) {
		sbx_log(SBX_LOG_INFO, MODULE, "loaded %lu signing keys, for %ld s",
		    (unsigned long)jwks.nkeys, max_age);
	}
out:
	cJSON_Delete(doc);
	sbx_httpclient_response_fini(&resp);
	return err;
}

/* May we fetch the JWKS now? At most once per OIDC_JWKS_MIN_REFRESH_SECONDS. */
static int
may_fetch(const struct sbx_config *cfg, long long now)
{
	/* A clock that went back must not freeze the cache. */
	return !jwks.attempted || now < jwks.last_attempt ||
	    now - jwks.last_attempt >= cfg->oidc_jwks_min_refresh_seconds;
}

static const char *
jwks_find(const char *kid)
{
	size_t i;

	for (i = 0; i < jwks.nkeys; i++) {
		if (strcmp(jwks.keys[i].kid, kid) == 0)
			return jwks.keys[i].pem;
	}
	return NULL;
}

enum sbx_err
sbx_oidc_key(const struct sbx_config *cfg, const char *kid, long long now,
    const char **pem)
{
	enum sbx_err err = SBX_OK;
	int fetched = 0;

	*pem = NULL;
	if ((!jwks.loaded || now >= jwks.expires) && may_fetch(cfg, now)) {
		err = jwks_fetch(cfg, now);
		fetched = 1;
		/* Past max-age but unreachable: keep the keys we have. */
		if (err != SBX_OK && !jwks.loaded)
			return err == SBX_ENOMEM ? err : SBX_EUNAVAILABLE;
	}
	if (!jwks.loaded)
		return SBX_EUNAVAILABLE;
	if ((*pem = jwks_find(kid)) != NULL)
		return SBX_OK;
	/* Perhaps the IdP rotated its keys: look again, but not too often. */
	if (!fetched && may_fetch(cfg, now)) {
		err = jwks_fetch(cfg, now);
		fetched = 1;
		if ((*pem = jwks_find(kid)) != NULL)
			return SBX_OK;
	}
	/* A kid we could not look for is not yet a kid we know is bad. */
	if (fetched && err != SBX_OK)
		return err == SBX_ENOMEM ? err : SBX_EUNAVAILABLE;
	return SBX_ENOTFOUND;
}

/* ------------------------------------------------------------ verify */

#define REJECT(code, why) do { if (reason != NULL) *reason = (why); \
	err = (code); goto out; } while (0)

enum sbx_err
sbx_oidc_verify(const struct sbx_config *cfg, const char *token,
    const char *nonce, long long now, struct sbx_oidc_identity *out,
    const char **reason)
{
	struct sbx_oidc_expect ex;
	char *alg = NULL, *kid = NULL, *grants = NULL;
	const char *pem = NULL;
	jwt_t *jwt = NULL;
	cJSON *claims = NULL;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (reason != NULL)
		*reason = NULL;
	if ((err = sbx_oidc_parse_header(token, &alg, &kid)) != SBX_OK)
		REJECT(err == SBX_ENOMEM ? err : SBX_EAUTH, "malformed token");
	/* Pinned: RS256 only, never what else the token asks for. */
	if (strcmp(alg, "RS256") != 0)
		REJECT(SBX_EAUTH, "algorithm not allowed");
	if (kid == NULL)
		REJECT(SBX_EAUTH, "token names no key");
	switch ((err = sbx_oidc_key(cfg, kid, now, &pem))) {
	case SBX_OK:
		break;
	case SBX_ENOTFOUND:
		REJECT(SBX_EAUTH, "unknown signing key");
	case SBX_ENOMEM:
		REJECT(SBX_ENOMEM, "out of memory");
	default:
		REJECT(SBX_EUNAVAILABLE, "the identity provider's keys "
		    "cannot be fetched");
	}
	if (jwt_decode(&jwt, token, (const unsigned char *)pem,
	    (int)strlen(pem)) != 0 || jwt == NULL)
		REJECT(SBX_EAUTH, "bad signature");
	/* libjwt picked the algorithm from the header: confirm it is ours. */
	if (jwt_get_alg(jwt) != JWT_ALG_RS256)
		REJECT(SBX_EAUTH, "algorithm not allowed");
	if ((grants = jwt_get_grants_json(jwt, NULL)) == NULL ||
	    (claims = cJSON_Parse(grants)) == NULL)
		REJECT(SBX_EAUTH, "malformed claims");

	memset(&ex, 0, sizeof(ex));
	ex.issuer = cfg->oidc_issuer;
	ex.client_id = cfg->google_client_id;
	ex.nonce = nonce;
	ex.allowed_domains = cfg->allowed_email_domains;
	ex.allowed_hd = cfg->allowed_hd;
	ex.now = now;
	err = sbx_oidc_check_claims(claims, &ex, out, reason);
out:
	cJSON_Delete(claims);
	if (grants != NULL) {
		OPENSSL_cleanse(grants, strlen(grants));
		free(grants);
	}
	jwt_free(jwt);
	free(kid);
	free(alg);
	return err;
}

#undef REJECT

/* ------------------------------------------------------------ login */

enum sbx_err
sbx_oidc_authorize_url(const struct sbx_config *cfg, const char *redirect_uri,
    const char *state, const char *nonce, const char *verifier,
    const char *login_hint, char **url)
{
	char challenge[SBX_OIDC_CHALLENGE_LEN + 1];
	struct sbx_util_buf u = { 0 };
	enum sbx_err err;

	*url = NULL;
	if ((err = discover(cfg, (long long)time(NULL))) != SBX_OK)
		return err == SBX_ENOMEM ? err : SBX_EUNAVAILABLE;
	if ((err = sbx_oidc_pkce_challenge(verifier, challenge)) != SBX_OK)
		return err;
	sbx_util_buf_add(&u, disco.authorization_endpoint);
	sbx_util_buf_add_query(&u, "response_type", "code");
	sbx_util_buf_add_query(&u, "client_id", cfg->google_client_id);
	sbx_util_buf_add_query(&u, "redirect_uri", redirect_uri);
	sbx_util_buf_add_query(&u, "scope", "openid email profile");
	sbx_util_buf_add_query(&u, "state", state);
	sbx_util_buf_add_query(&u, "nonce", nonce);
	sbx_util_buf_add_query(&u, "code_challenge", challenge);
	sbx_util_buf_add_query(&u, "code_challenge_method", "S256");
	if (login_hint != NULL)
		sbx_util_buf_add_query(&u, "login_hint", login_hint);
	if ((*url = sbx_util_buf_take(&u)) == NULL)
		return SBX_ENOMEM;
	return SBX_OK;
}

/* Wipes the string values of a parsed answer before it is freed. */
static void
json_wipe(cJSON *doc)
{
	cJSON *item;

	if (doc == NULL)
		return;
	for (item = doc->child; item != NULL; item = item->next) {
		if (cJSON_IsString(item) && item->valuestring != NULL)
			OPENSSL_cleanse(item->valuestring,
			    strlen(item->valuestring));
	}
}

/* The OAuth error codes we pass on in problem details, as static strings. */
static const char *
oauth_error(const cJSON *doc)
{
	static const char *const known[] = {
		"invalid_grant", "invalid_client", "invalid_request",
		"unauthorized_client", "unsupported_grant_type", "invalid_scope",
	};
	const char *e = doc != NULL ? claim_str(doc, "error") : NULL;
	size_t i;

	for (i = 0; e != NULL && i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(e, known[i]) == 0)
			return known[i];
	}
	return "the identity provider refused the code";
}

enum sbx_err
sbx_oidc_exchange(const struct sbx_config *cfg, const char *code,
    const char *verifier, const char *redirect_uri, char **id_token,
    const char **reason)
{
	struct sbx_httpclient_header hdrs[] = {
		{ "Content-Type", "application/x-www-form-urlencoded" },
		{ "Accept", "application/json" },
	};
	struct sbx_httpclient_request req;
	struct sbx_httpclient_response resp;
	struct sbx_util_buf form = { 0 };
	cJSON *doc = NULL;
	const char *tok;
	enum sbx_err err;

	*id_token = NULL;
	if (reason != NULL)
		*reason = NULL;
	memset(&resp, 0, sizeof(resp));
	if ((err = discover(cfg, (long long)time(NULL))) != SBX_OK) {
		if (reason != NULL)
			*reason = "the identity provider cannot be reached";
		return err == SBX_ENOMEM ? err : SBX_EUNAVAILABLE;
	}
	sbx_util_buf_add_param(&form, "grant_type", "authorization_code");
	sbx_util_buf_add_param(&form, "code", code);
	sbx_util_buf_add_param(&form, "redirect_uri", redirect_uri);
	sbx_util_buf_add_param(&form, "client_id", cfg->google_client_id);
	sbx_util_buf_add_param(&form, "client_secret",
	    cfg->google_client_secret != NULL ? cfg->google_client_secret : "");
	sbx_util_buf_add_param(&form, "code_verifier", verifier);
	if (form.err != SBX_OK) {
		err = SBX_ENOMEM;
		goto out;
	}
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = disco.token_endpoint;
	req.headers = hdrs;
	req.nheaders = sizeof(hdrs) / sizeof(hdrs[0]);
	req.body = form.p;
	req.body_len = form.len;
	if ((err = transport(&req, &resp)) != SBX_OK) {
		sbx_log(SBX_LOG_WARN, MODULE, "token endpoint: %s",
		    sbx_strerror(err));
		if (reason != NULL)
			*reason = "the identity provider cannot be reached";
		err = SBX_EUNAVAILABLE;
		goto out;
	}
	if (resp.body != NULL)
		doc = cJSON_ParseWithLength(resp.body, resp.body_len);
	if (resp.status >= 500 || resp.status == 429) {
		sbx_log(SBX_LOG_WARN, MODULE, "token endpoint answered %ld",
		    resp.status);
		if (reason != NULL)
			*reason = "the identity provider failed";
		err = SBX_EUNAVAILABLE;
		goto out;
	}
	if (resp.status != 200) {
		if (reason != NULL)
			*reason = oauth_error(doc);
		sbx_log(SBX_LOG_INFO, MODULE, "token endpoint answered %ld: %s",
		    resp.status, oauth_error(doc));
		err = SBX_EREMOTE;
		goto out;
	}
	if (doc == NULL || (tok = claim_str(doc, "id_token")) == NULL) {
		if (reason != NULL)
			*reason = "the identity provider sent no ID token";
		err = SBX_EPARSE;
		goto out;
	}
	if ((*id_token = strdup(tok)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	/* The answer holds tokens and the request the client secret. */
	json_wipe(doc);
	cJSON_Delete(doc);
	if (resp.body != NULL)
		OPENSSL_cleanse(resp.body, resp.body_len);
	sbx_httpclient_response_fini(&resp);
	sbx_util_buf_fini(&form);
	return err;
}
