/*
 * Unit tests for common/oidc, with no network: a stub transport plays the
 * IdP (discovery, JWKS, token endpoint) and RSA keys are made at run time.
 * Covered: JWK to PEM (a fixed JWK against the PEM openssl prints, and a
 * signature checked with the converted key), header parsing, PKCE, the
 * claim checks as a table, ID-token verification end to end (algorithm
 * pinning, alg none, HS256 keyed with the public key, unknown kid,
 * rotation, the refetch rate limit, max-age, an IdP that is down), the
 * authorize URL and the code exchange.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "common/core/b64url.h"
#include "common/core/config.h"
#include "common/io/oidc.h"

#define ISS "https://idp.example"
#define CLIENT "client-1.apps.example"
#define NOW 1700000000LL

/* A fixed 2048-bit public key: its JWK members, and `openssl rsa -pubout`. */
static const char fixed_n[] =
    "pzxiijcTUKT_POTn87rtG5H6jBG2bgCi5eE4NXiMB5NepIR4bcskeHKc3OyF85nEXUto"
    "B4q_yKdnIGdRjK__jnnCzFN9YMthIyAbfXPsx-afsZ6KKBeZ99EUOAPsG5yuDsCWR-hI"
    "Cv5xH2_qlhZOkERBDpRV-mTS6dG0ov5aRuadwInOOVVhJfeVA7mHQMNUEy_hu1QKjIO-"
    "J1dGYMKMyfNed7jyJ_tnY8NXvrBV0dA3tN0J0f3IFO-O1Y7EIdNZChV8BEWiQskWiRNc"
    "moDRDCL4nfxK8WMs-cCCOgeXo2R6PR3rABMvO_JgBIQFMMxv4oBbII7QeXmkKHNQfvvZ"
    "eQ";
static const char fixed_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEApzxiijcTUKT/POTn87rt\n"
    "G5H6jBG2bgCi5eE4NXiMB5NepIR4bcskeHKc3OyF85nEXUtoB4q/yKdnIGdRjK//\n"
    "jnnCzFN9YMthIyAbfXPsx+afsZ6KKBeZ99EUOAPsG5yuDsCWR+hICv5xH2/qlhZO\n"
    "kERBDpRV+mTS6dG0ov5aRuadwInOOVVhJfeVA7mHQMNUEy/hu1QKjIO+J1dGYMKM\n"
    "yfNed7jyJ/tnY8NXvrBV0dA3tN0J0f3IFO+O1Y7EIdNZChV8BEWiQskWiRNcmoDR\n"
    "DCL4nfxK8WMs+cCCOgeXo2R6PR3rABMvO/JgBIQFMMxv4oBbII7QeXmkKHNQfvvZ\n"
    "eQIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

/* ------------------------------------------------------------ keys */

struct testkey {
	EVP_PKEY *pkey;
	char kid[32];
	char *n, *e;		/* base64url */
	char *pem;		/* public, SubjectPublicKeyInfo */
};

static struct testkey key_a, key_b, key_c;

static char *
bn_b64(const EVP_PKEY *pkey, const char *name)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1024];
	char *out = NULL;
	int len;

	assert_true(EVP_PKEY_get_bn_param(pkey, name, &bn));
	len = BN_bn2bin(bn, buf);
	assert_int_equal(sbx_b64url_encode(buf, (size_t)len, &out), SBX_OK);
	BN_free(bn);
	return out;
}

static void
key_make(struct testkey *k, const char *kid)
{
	BIO *bio;
	char *data;
	long len;

	k->pkey = EVP_RSA_gen(2048);
	assert_non_null(k->pkey);
	snprintf(k->kid, sizeof(k->kid), "%s", kid);
	k->n = bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_N);
	k->e = bn_b64(k->pkey, OSSL_PKEY_PARAM_RSA_E);
	bio = BIO_new(BIO_s_mem());
	assert_true(PEM_write_bio_PUBKEY(bio, k->pkey));
	len = BIO_get_mem_data(bio, &data);
	k->pem = strndup(data, (size_t)len);
	BIO_free(bio);
}

static void
key_free(struct testkey *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->n);
	free(k->e);
	free(k->pem);
	memset(k, 0, sizeof(*k));
}

/* {"kty":"RSA",...} for k. */
static void
jwk_append(char *buf, size_t len, const struct testkey *k)
{
	size_t o = strlen(buf);

	snprintf(buf + o, len - o, "%s{\"kty\":\"RSA\",\"use\":\"sig\","
	    "\"alg\":\"RS256\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}",
	    o > 0 && buf[o - 1] != '[' ? "," : "", k->kid, k->n, k->e);
}

/* ------------------------------------------------------------ tokens */

static char *
b64(const void *p, size_t n)
{
	char *out = NULL;

	assert_int_equal(sbx_b64url_encode(p, n, &out), SBX_OK);
	return out;
}

/* header.payload signed: "RS256" with k, "HS256" keyed with hs_key, "none". */
static char *
make_token(const char *header, const char *payload, const char *how,
    const struct testkey *k, const char *hs_key)
{
	char *h = b64(header, strlen(header)), *p = b64(payload,
	    strlen(payload)), *s = NULL, *out;
	unsigned char sig[1024];
	size_t siglen = sizeof(sig), n;
	unsigned int hl = 0;
	EVP_MD_CTX *md;

	n = strlen(h) + strlen(p) + 2048;
	out = malloc(n);
	snprintf(out, n, "%s.%s", h, p);
	if (strcmp(how, "RS256") == 0) {
		md = EVP_MD_CTX_new();
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
		    k->pkey), 1);
		assert_int_equal(EVP_DigestSign(md, sig, &siglen,
		    (unsigned char *)out, strlen(out)), 1);
		EVP_MD_CTX_free(md);
		s = b64(sig, siglen);
	} else if (strcmp(how, "HS256") == 0) {
		assert_non_null(HMAC(EVP_sha256(), hs_key, (int)strlen(hs_key),
		    (unsigned char *)out, strlen(out), sig, &hl));
		s = b64(sig, hl);
	} else {
		s = strdup("");
	}
	strcat(out, ".");
	strcat(out, s);
	free(s);
	free(p);
	free(h);
	return out;
}

/* Claims of a good ID token at NOW, with extra members appended. */
static char *
claims_json(const char *extra)
{
	char *buf = malloc(2048);

	snprintf(buf, 2048, "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\","
	    "\"azp\":\"" CLIENT "\",\"sub\":\"1234567890\","
	    "\"email\":\"Alice@Example.com\",\"email_verified\":true,"
	    "\"name\":\"Alice Tester\",\"picture\":\"https://p.example/a\","
	    "\"iat\":%lld,\"exp\":%lld%s%s}", NOW, NOW + 3600,
	    extra != NULL ? "," : "", extra != NULL ? extra : "");
	return buf;
}

static char *
rs256_token(const struct testkey *k, const char *extra)
{
	char hdr[128], *c = claims_json(extra), *t;

	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\","
	    "\"typ\":\"JWT\"}", k->kid);
	t = make_token(hdr, c, "RS256", k, NULL);
	free(c);
	return t;
}

/* ------------------------------------------------------------ the stub IdP */

static struct {
	char jwks[8192];
	char cache_control[64];
	int down;			/* every request fails to connect */
	const char *discovery;		/* overrides the discovery document */
	long token_status;
	char token_body[4096];
	char last_form[4096];
	unsigned long discovery_calls, jwks_calls, token_calls;
} idp;

static enum sbx_err
stub_send(const struct sbx_httpclient_request *req,
    struct sbx_httpclient_response *resp)
{
	const char *body = NULL;
	char headers[256];
	long status = 200;

	memset(resp, 0, sizeof(*resp));
	if (idp.down)
		return SBX_EUNAVAILABLE;
	snprintf(headers, sizeof(headers), "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/json\r\n");
	if (strcmp(req->url, ISS "/.well-known/openid-configuration") == 0) {
		idp.discovery_calls++;
		body = idp.discovery != NULL ? idp.discovery :
		    "{\"issuer\":\"" ISS "\","
		    "\"authorization_endpoint\":\"" ISS "/authorize\","
		    "\"token_endpoint\":\"" ISS "/token\","
		    "\"jwks_uri\":\"" ISS "/jwks\"}";
	} else if (strcmp(req->url, ISS "/jwks") == 0) {
		idp.jwks_calls++;
		body = idp.jwks;
		if (idp.cache_control[0] != '\0') {
			size_t o = strlen(headers);

			snprintf(headers + o, sizeof(headers) - o,
			    "Cache-Control: %s\r\n", idp.cache_control);
		}
	} else if (strcmp(req->url, ISS "/token") == 0) {
		assert_string_equal(req->method, "POST");
		idp.token_calls++;
		snprintf(idp.last_form, sizeof(idp.last_form), "%.*s",
		    (int)req->body_len, req->body);
		status = idp.token_status;
		body = idp.token_body;
	} else {
		status = 404;
		body = "{}";
	}
	resp->status = status;
	resp->body = strdup(body);
	resp->body_len = strlen(body);
	resp->headers = strdup(headers);
	return SBX_OK;
}

static struct sbx_config cfg;

static void
set_jwks(const struct testkey *k1, const struct testkey *k2)
{
	snprintf(idp.jwks, sizeof(idp.jwks), "{\"keys\":[");
	if (k1 != NULL)
		jwk_append(idp.jwks, sizeof(idp.jwks), k1);
	if (k2 != NULL)
		jwk_append(idp.jwks, sizeof(idp.jwks), k2);
	strcat(idp.jwks, "]}");
}

static int
setup(void **state)
{
	(void)state;
	memset(&idp, 0, sizeof(idp));
	memset(&cfg, 0, sizeof(cfg));
	cfg.oidc_issuer = (char *)ISS;
	cfg.google_client_id = (char *)CLIENT;
	cfg.google_client_secret = (char *)"client-secret-1";
	cfg.allowed_email_domains = (char *)"example.com";
	cfg.oidc_jwks_min_refresh_seconds = 60;
	set_jwks(&key_a, NULL);
	sbx_oidc_reset();
	sbx_oidc_set_transport(stub_send);
	return 0;
}

static int
group_setup(void **state)
{
	(void)state;
	key_make(&key_a, "key-a");
	key_make(&key_b, "key-b");
	key_make(&key_c, "key-c");
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	sbx_oidc_reset();
	key_free(&key_a);
	key_free(&key_b);
	key_free(&key_c);
	return 0;
}

/* ------------------------------------------------------------ JWK -> PEM */

static void
test_jwk_fixed(void **state)
{
	char *pem = NULL;

	(void)state;
	assert_int_equal(sbx_oidc_jwk_to_pem(fixed_n, "AQAB", &pem), SBX_OK);
	assert_string_equal(pem, fixed_pem);
	free(pem);
}

static void
test_jwk_verifies_signature(void **state)
{
	static const char msg[] = "signed by the IdP";
	unsigned char sig[512];
	size_t siglen = sizeof(sig);
	char *pem = NULL;
	EVP_MD_CTX *md;
	EVP_PKEY *pub;
	BIO *bio;

	(void)state;
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL,
	    key_a.pkey), 1);
	assert_int_equal(EVP_DigestSign(md, sig, &siglen,
	    (const unsigned char *)msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);

	assert_int_equal(sbx_oidc_jwk_to_pem(key_a.n, key_a.e, &pem), SBX_OK);
	assert_string_equal(pem, key_a.pem);
	bio = BIO_new_mem_buf(pem, -1);
	pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	assert_non_null(pub);
	md = EVP_MD_CTX_new();
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    pub), 1);
	assert_int_equal(EVP_DigestVerify(md, sig, siglen,
	    (const unsigned char *)msg, sizeof(msg)), 1);
	/* And not another key's signature. */
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
	    pub), 1);
	sig[10] ^= 1;
	assert_int_not_equal(EVP_DigestVerify(md, sig, siglen,
	    (const unsigned char *)msg, sizeof(msg)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pub);
	BIO_free(bio);
	free(pem);
}

static void
test_jwk_rejects(void **state)
{
	char short_n[200], *pem = (char *)"x";

	(void)state;
	/* 1024 bits: the first 171 characters of the fixed modulus. */
	snprintf(short_n, sizeof(short_n), "%.171s", fixed_n);
	short_n[170] = 'A';
	assert_int_equal(sbx_oidc_jwk_to_pem(short_n, "AQAB", &pem),
	    SBX_EINVAL);
	assert_null(pem);
	assert_int_equal(sbx_oidc_jwk_to_pem(fixed_n, "AQAA", &pem),
	    SBX_EINVAL);	/* even exponent */
	assert_int_equal(sbx_oidc_jwk_to_pem(fixed_n, "AQ", &pem),
	    SBX_EINVAL);	/* e = 1 */
	assert_int_equal(sbx_oidc_jwk_to_pem(fixed_n, "AQAB=", &pem),
	    SBX_EPARSE);
	assert_int_equal(sbx_oidc_jwk_to_pem("a+b/", "AQAB", &pem),
	    SBX_EPARSE);
	assert_int_equal(sbx_oidc_jwk_to_pem("", "AQAB", &pem), SBX_EPARSE);
	assert_int_equal(sbx_oidc_jwk_to_pem(NULL, "AQAB", &pem), SBX_EPARSE);
}

/* ------------------------------------------------------------ header */

static void
test_parse_header(void **state)
{
	static const struct {
		const char *header;
		enum sbx_err err;
		const char *alg, *kid;
	} t[] = {
		{ "{\"alg\":\"RS256\",\"kid\":\"k1\"}", SBX_OK, "RS256", "k1" },
		{ "{\"alg\":\"none\"}", SBX_OK, "none", NULL },
		{ "{\"alg\":\"RS256\",\"kid\":\"k\",\"alg\":\"HS256\"}",
		    SBX_EPARSE, NULL, NULL },
		{ "{\"kid\":\"k\"}", SBX_EPARSE, NULL, NULL },
		{ "{\"alg\":256}", SBX_EPARSE, NULL, NULL },
		{ "{\"alg\":\"RS256\",\"kid\":7}", SBX_EPARSE, NULL, NULL },
		{ "[\"RS256\"]", SBX_EPARSE, NULL, NULL },
		{ "not json", SBX_EPARSE, NULL, NULL },
	};
	char *tok, *alg, *kid, *h;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tok = make_token(t[i].header, "{}", "HS256", NULL, "k");
		assert_int_equal(sbx_oidc_parse_header(tok, &alg, &kid),
		    t[i].err);
		if (t[i].alg != NULL)
			assert_string_equal(alg, t[i].alg);
		else
			assert_null(alg);
		if (t[i].kid != NULL)
			assert_string_equal(kid, t[i].kid);
		else
			assert_null(kid);
		free(alg);
		free(kid);
		free(tok);
	}
	/* Shapes: parts missing, empty, too many; a signature is required. */
	h = b64("{\"alg\":\"RS256\"}", 15);
	{
		static const struct { const char *pre, *post; } shapes[] = {
			{ "", "" }, { "", "." }, { "", ".e30" }, { "", ".e30." },
			{ "", "..c2ln" }, { "", ".e30.c2ln.x" },
			{ NULL, ".e30.c2ln" },	/* no header at all */
		};
		char buf[256];

		for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
			snprintf(buf, sizeof(buf), "%s%s",
			    shapes[i].pre != NULL ? h : "", shapes[i].post);
			assert_int_equal(sbx_oidc_parse_header(buf, &alg,
			    &kid), SBX_EPARSE);
		}
		snprintf(buf, sizeof(buf), "%s.e30.c2ln", h);
		assert_int_equal(sbx_oidc_parse_header(buf, &alg, &kid),
		    SBX_OK);
		free(alg);
		free(kid);
	}
	free(h);
	assert_int_equal(sbx_oidc_parse_header(NULL, &alg, &kid), SBX_EPARSE);
}

static void
test_pkce(void **state)
{
	char out[SBX_OIDC_CHALLENGE_LEN + 1];

	(void)state;
	/* RFC 7636 appendix B. */
	assert_int_equal(sbx_oidc_pkce_challenge(
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", out), SBX_OK);
	assert_string_equal(out, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

/* ------------------------------------------------------------ claims */

struct claim_case {
	const char *name;
	const char *claims;		/* %lld: NOW-relative times, see below */
	const char *nonce;		/* expected nonce */
	const char *allowed;
	enum sbx_err err;
	const char *reason;
};

/*
 * Claims templates: "{1}" is NOW. The base is a valid token; each case
 * breaks one thing.
 */
#define BASE_HEAD "\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\",\"sub\":\"42\""
#define WHO ",\"email\":\"a@example.com\",\"email_verified\":true"
#define TIMES ",\"iat\":{1},\"exp\":{2}"

static const struct claim_case claim_cases[] = {
	{ "valid", "{" BASE_HEAD WHO TIMES "}", NULL, "example.com", SBX_OK,
	    NULL },
	{ "valid with nonce", "{" BASE_HEAD WHO TIMES ",\"nonce\":\"n-1\"}",
	    "n-1", "example.com", SBX_OK, NULL },
	{ "legacy google issuer", NULL, NULL, "example.com", SBX_OK, NULL },
	{ "wrong issuer", "{\"iss\":\"https://evil.example\",\"aud\":\""
	    CLIENT "\",\"sub\":\"42\"" WHO TIMES "}", NULL, "example.com",
	    SBX_EAUTH, "wrong issuer" },
	{ "legacy spelling for another issuer", "{\"iss\":\"idp.example\","
	    "\"aud\":\"" CLIENT "\",\"sub\":\"42\"" WHO TIMES "}", NULL,
	    "example.com", SBX_EAUTH, "wrong issuer" },
	{ "no issuer", "{\"aud\":\"" CLIENT "\",\"sub\":\"42\"" WHO TIMES "}",
	    NULL, "example.com", SBX_EAUTH, "wrong issuer" },
	{ "wrong audience", "{\"iss\":\"" ISS "\",\"aud\":\"other\","
	    "\"sub\":\"42\"" WHO TIMES "}", NULL, "example.com", SBX_EAUTH,
	    "wrong audience" },
	{ "audience array with us", "{\"iss\":\"" ISS "\",\"aud\":[\""
	    CLIENT "\"],\"sub\":\"42\"" WHO TIMES "}", NULL, "example.com",
	    SBX_OK, NULL },
	{ "audience array, azp not us", "{\"iss\":\"" ISS "\",\"aud\":[\""
	    CLIENT "\",\"x\"],\"azp\":\"x\",\"sub\":\"42\"" WHO TIMES "}",
	    NULL, "example.com", SBX_EAUTH, "wrong audience" },
	{ "audience array, azp us", "{\"iss\":\"" ISS "\",\"aud\":[\""
	    CLIENT "\",\"x\"],\"azp\":\"" CLIENT "\",\"sub\":\"42\"" WHO TIMES
	    "}", NULL, "example.com", SBX_OK, NULL },
	{ "audience array without us", "{\"iss\":\"" ISS "\",\"aud\":[\"x\"],"
	    "\"sub\":\"42\"" WHO TIMES "}", NULL, "example.com", SBX_EAUTH,
	    "wrong audience" },
	{ "no audience", "{\"iss\":\"" ISS "\",\"sub\":\"42\"" WHO TIMES "}",
	    NULL, "example.com", SBX_EAUTH, "wrong audience" },
	{ "expired", "{" BASE_HEAD WHO ",\"iat\":{3},\"exp\":{4}}",
	    NULL, "example.com", SBX_EAUTH, "token expired" },
	{ "expired within skew", "{" BASE_HEAD WHO
	    ",\"iat\":{5},\"exp\":{6}}", NULL, "example.com", SBX_OK,
	    NULL },
	{ "iat in the future", "{" BASE_HEAD WHO
	    ",\"iat\":{7},\"exp\":{8}}", NULL, "example.com", SBX_EAUTH,
	    "token issued in the future" },
	{ "iat ahead within skew", "{" BASE_HEAD WHO
	    ",\"iat\":{9},\"exp\":{8}}", NULL, "example.com", SBX_OK,
	    NULL },
	{ "lifetime over a day", "{" BASE_HEAD WHO
	    ",\"iat\":{1},\"exp\":{10}}", NULL, "example.com", SBX_EAUTH,
	    "token lifetime too long" },
	{ "no iat", "{" BASE_HEAD WHO ",\"exp\":{2}}", NULL, "example.com",
	    SBX_EAUTH, "missing or malformed iat" },
	{ "no exp", "{" BASE_HEAD WHO ",\"iat\":{1}}", NULL, "example.com",
	    SBX_EAUTH, "missing or malformed exp" },
	{ "exp as a string", "{" BASE_HEAD WHO
	    ",\"iat\":{1},\"exp\":\"{2}\"}", NULL, "example.com",
	    SBX_EAUTH, "missing or malformed exp" },
	{ "nonce missing", "{" BASE_HEAD WHO TIMES "}", "n-1", "example.com",
	    SBX_EAUTH, "nonce mismatch" },
	{ "nonce mismatch", "{" BASE_HEAD WHO TIMES ",\"nonce\":\"n-2\"}",
	    "n-1", "example.com", SBX_EAUTH, "nonce mismatch" },
	{ "no sub", "{\"iss\":\"" ISS "\",\"aud\":\"" CLIENT "\"" WHO TIMES
	    "}", NULL, "example.com", SBX_EAUTH, "missing or malformed sub" },
	{ "no email", "{" BASE_HEAD ",\"email_verified\":true" TIMES "}",
	    NULL, "example.com", SBX_EFORBIDDEN,
	    "the account has no usable email" },
	{ "email not verified", "{" BASE_HEAD ",\"email\":\"a@example.com\","
	    "\"email_verified\":false" TIMES "}", NULL, "example.com",
	    SBX_EFORBIDDEN, "email not verified" },
	{ "email_verified missing", "{" BASE_HEAD
	    ",\"email\":\"a@example.com\"" TIMES "}", NULL, "example.com",
	    SBX_EFORBIDDEN, "email not verified" },
	{ "email_verified \"true\"", "{" BASE_HEAD
	    ",\"email\":\"a@example.com\",\"email_verified\":\"true\"" TIMES
	    "}", NULL, "example.com", SBX_OK, NULL },
	{ "domain not allowed", "{" BASE_HEAD ",\"email\":\"a@evil.example\","
	    "\"email_verified\":true" TIMES "}", NULL, "example.com",
	    SBX_EFORBIDDEN, "email domain not allowed" },
	{ "domain by suffix is not allowed", "{" BASE_HEAD
	    ",\"email\":\"a@notexample.com\",\"email_verified\":true" TIMES
	    "}", NULL, "example.com", SBX_EFORBIDDEN,
	    "email domain not allowed" },
	{ "domain case-insensitive, list", "{" BASE_HEAD
	    ",\"email\":\"a@Other.ORG\",\"email_verified\":true" TIMES "}",
	    NULL, "example.com, other.org", SBX_OK, NULL },
	{ "hd allowed though the email's domain is not", "{" BASE_HEAD
	    ",\"email\":\"a@alias.example\",\"email_verified\":true,"
	    "\"hd\":\"example.com\"" TIMES "}", NULL, "example.com", SBX_OK,
	    NULL },
	{ "hd decides over the email's domain", "{" BASE_HEAD WHO
	    ",\"hd\":\"corp.example\"" TIMES "}", NULL, "example.com",
	    SBX_EFORBIDDEN, "email domain not allowed" },
	{ "star allows any verified email", "{" BASE_HEAD
	    ",\"email\":\"a@anything.example\",\"email_verified\":true" TIMES
	    "}", NULL, "*", SBX_OK, NULL },
	{ "star still needs a verified email", "{" BASE_HEAD
	    ",\"email\":\"a@anything.example\",\"email_verified\":false" TIMES
	    "}", NULL, "*", SBX_EFORBIDDEN, "email not verified" },
	{ "no allowlist allows nobody", "{" BASE_HEAD WHO TIMES "}", NULL,
	    NULL, SBX_EFORBIDDEN, "email domain not allowed" },
	{ "empty allowlist allows nobody", "{" BASE_HEAD WHO TIMES "}", NULL,
	    "", SBX_EFORBIDDEN, "email domain not allowed" },
};

/* Copies tmpl into out with each "{N}" replaced by times[N - 1]. */
static void
expand(const char *tmpl, char *out, size_t len)
{
	const long long times[] = {
		NOW, NOW + 3600,			/* 1, 2: now, +1 h */
		NOW - 7200, NOW - SBX_OIDC_SKEW - 1,	/* 3, 4: expired */
		NOW - 3600, NOW - SBX_OIDC_SKEW + 1,	/* 5, 6: within skew */
		NOW + SBX_OIDC_SKEW + 1, NOW + 7200,	/* 7, 8: iat ahead */
		NOW + SBX_OIDC_SKEW,			/* 9: iat ahead, in skew */
		NOW + SBX_OIDC_MAX_LIFETIME + 1,	/* 10: too long */
	};
	size_t o = 0;
	char *end;
	long i;

	while (*tmpl != '\0' && o + 24 < len) {
		if (*tmpl == '{' && (i = strtol(tmpl + 1, &end, 10)) >= 1 &&
		    i <= 10 && *end == '}') {
			o += (size_t)snprintf(out + o, len - o, "%lld",
			    times[i - 1]);
			tmpl = end + 1;
		} else {
			out[o++] = *tmpl++;
		}
	}
	assert_true(*tmpl == '\0');
	out[o] = '\0';
}

static void
run_claim_case(const struct claim_case *c, const char *issuer)
{
	struct sbx_oidc_expect ex;
	struct sbx_oidc_identity id;
	const char *reason = NULL;
	char text[2048];
	cJSON *claims;
	enum sbx_err err;

	expand(c->claims, text, sizeof(text));
	claims = cJSON_Parse(text);
	assert_non_null(claims);
	memset(&ex, 0, sizeof(ex));
	ex.issuer = issuer;
	ex.client_id = CLIENT;
	ex.nonce = c->nonce;
	ex.allowed_domains = c->allowed;
	ex.now = NOW;
	err = sbx_oidc_check_claims(claims, &ex, &id, &reason);
	if (err != c->err)
		fail_msg("case \"%s\": got %s, want %s (%s)", c->name,
		    sbx_strerror(err), sbx_strerror(c->err),
		    reason != NULL ? reason : "no reason");
	if (c->reason != NULL) {
		assert_non_null(reason);
		assert_string_equal(reason, c->reason);
	}
	if (err == SBX_OK) {
		assert_string_equal(id.sub, "42");
		assert_non_null(id.email);
		/* The issuer in its one spelling: the one users bind to. */
		assert_string_equal(id.iss, sbx_oidc_issuer_canonical(issuer));
	} else {
		assert_null(id.sub);
		assert_null(id.email);
	}
	sbx_oidc_identity_fini(&id);
	cJSON_Delete(claims);
}

static void
test_claims_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(claim_cases) / sizeof(claim_cases[0]); i++) {
		if (claim_cases[i].claims != NULL)
			run_claim_case(&claim_cases[i], ISS);
	}
}

static void
test_claims_google_issuers(void **state)
{
	struct claim_case c = { "google", "{\"iss\":\"accounts.google.com\","
	    "\"aud\":\"" CLIENT "\",\"sub\":\"42\"" WHO TIMES "}", NULL,
	    "example.com", SBX_OK, NULL };

	(void)state;
	/* Google's tokens carry either spelling of its issuer. */
	run_claim_case(&c, SBX_OIDC_GOOGLE_ISSUER);
	c.claims = "{\"iss\":\"https://accounts.google.com\",\"aud\":\"" CLIENT
	    "\",\"sub\":\"42\"" WHO TIMES "}";
	run_claim_case(&c, SBX_OIDC_GOOGLE_ISSUER);
	/* Another scheme or host is not Google. */
	c.claims = "{\"iss\":\"http://accounts.google.com\",\"aud\":\"" CLIENT
	    "\",\"sub\":\"42\"" WHO TIMES "}";
	c.err = SBX_EAUTH;
	c.reason = "wrong issuer";
	run_claim_case(&c, SBX_OIDC_GOOGLE_ISSUER);
}

/*
 * ALLOWED_HD: an address at a listed Workspace domain needs hd naming
 * that domain; other domains are not concerned.
 */
static void
test_claims_allowed_hd(void **state)
{
	static const struct {
		const char *extra;	/* claims after sub */
		const char *allowed_hd;
		enum sbx_err err;
	} cases[] = {
		{ WHO, "example.com", SBX_EFORBIDDEN },
		{ WHO ",\"hd\":\"example.com\"", "example.com", SBX_OK },
		{ WHO ",\"hd\":\"EXAMPLE.com\"", "other.org, example.com",
		    SBX_OK },
		{ WHO ",\"hd\":\"other.org\"", "example.com", SBX_EFORBIDDEN },
		{ WHO, "other.org", SBX_OK },
		{ WHO, NULL, SBX_OK },
		{ WHO, "", SBX_OK },
	};
	struct sbx_oidc_expect ex;
	struct sbx_oidc_identity id;
	const char *reason;
	char tmpl[1024], text[2048];
	cJSON *claims;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(tmpl, sizeof(tmpl), "{" BASE_HEAD "%s" TIMES "}",
		    cases[i].extra);
		expand(tmpl, text, sizeof(text));
		claims = cJSON_Parse(text);
		assert_non_null(claims);
		memset(&ex, 0, sizeof(ex));
		ex.issuer = ISS;
		ex.client_id = CLIENT;
		ex.allowed_domains = "example.com, other.org";
		ex.allowed_hd = cases[i].allowed_hd;
		ex.now = NOW;
		reason = NULL;
		if (sbx_oidc_check_claims(claims, &ex, &id, &reason) !=
		    cases[i].err)
			fail_msg("case %zu: %s", i, reason ? reason : "ok");
		if (cases[i].err == SBX_EFORBIDDEN)
			assert_non_null(strstr(reason, "hd"));
		sbx_oidc_identity_fini(&id);
		cJSON_Delete(claims);
	}
}

static void
test_issuer_canonical(void **state)
{
	(void)state;
	assert_string_equal(sbx_oidc_issuer_canonical("accounts.google.com"),
	    "https://accounts.google.com");
	assert_string_equal(sbx_oidc_issuer_canonical(
	    "https://accounts.google.com"), "https://accounts.google.com");
	assert_string_equal(sbx_oidc_issuer_canonical("https://idp.example"),
	    "https://idp.example");
	assert_null(sbx_oidc_issuer_canonical(NULL));
}

static void
test_claims_identity(void **state)
{
	struct sbx_oidc_expect ex = { ISS, CLIENT, NULL, "example.com", NOW,
	    NULL };
	struct sbx_oidc_identity id;
	char *text = claims_json("\"hd\":\"example.com\"");
	cJSON *claims = cJSON_Parse(text);

	(void)state;
	assert_int_equal(sbx_oidc_check_claims(claims, &ex, &id, NULL), SBX_OK);
	assert_string_equal(id.sub, "1234567890");
	assert_string_equal(id.email, "alice@example.com");	/* lowered */
	assert_string_equal(id.name, "Alice Tester");
	assert_string_equal(id.picture, "https://p.example/a");
	assert_string_equal(id.hd, "example.com");
	sbx_oidc_identity_fini(&id);
	cJSON_Delete(claims);
	free(text);
}

/* ------------------------------------------------------------ verify */

static enum sbx_err
verify(const char *token, const char *nonce, long long now, const char **why)
{
	struct sbx_oidc_identity id;
	enum sbx_err err;

	err = sbx_oidc_verify(&cfg, token, nonce, now, &id, why);
	if (err == SBX_OK)
		assert_string_equal(id.email, "alice@example.com");
	sbx_oidc_identity_fini(&id);
	return err;
}

static void
expect_verify(const char *token, enum sbx_err want, const char *why_want)
{
	const char *why = NULL;

	assert_int_equal(verify(token, NULL, NOW, &why), want);
	if (why_want != NULL) {
		assert_non_null(why);
		assert_string_equal(why, why_want);
	}
}

static void
test_verify_good(void **state)
{
	char *tok = rs256_token(&key_a, "\"nonce\":\"n-1\"");
	const char *why = NULL;

	(void)state;
	assert_int_equal(verify(tok, "n-1", NOW, &why), SBX_OK);
	assert_int_equal(idp.discovery_calls, 1);
	assert_int_equal(idp.jwks_calls, 1);
	/* Cached: no more fetching. */
	assert_int_equal(verify(tok, NULL, NOW + 1, &why), SBX_OK);
	assert_int_equal(idp.jwks_calls, 1);
	assert_int_equal(sbx_oidc_jwks_fetches(), 1);
	/* The login's nonce is checked when given. */
	assert_int_equal(verify(tok, "n-2", NOW, &why), SBX_EAUTH);
	assert_string_equal(why, "nonce mismatch");
	free(tok);
}

static void
test_verify_algorithms(void **state)
{
	char hdr[256], *c = claims_json(NULL), *tok;

	(void)state;
	/* alg none, empty signature. */
	tok = make_token("{\"alg\":\"none\",\"typ\":\"JWT\"}", c, "none", NULL,
	    NULL);
	expect_verify(tok, SBX_EAUTH, "malformed token");
	free(tok);
	/* alg none with a kid and some signature. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"none\",\"kid\":\"key-a\"}");
	tok = make_token(hdr, c, "HS256", NULL, "x");
	expect_verify(tok, SBX_EAUTH, "algorithm not allowed");
	free(tok);
	/* HS256 keyed with the IdP's public key (algorithm confusion). */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"HS256\",\"kid\":\"key-a\"}");
	tok = make_token(hdr, c, "HS256", NULL, key_a.pem);
	expect_verify(tok, SBX_EAUTH, "algorithm not allowed");
	free(tok);
	/* Lower-case rs256 (libjwt would accept it). */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"rs256\",\"kid\":\"key-a\"}");
	tok = make_token(hdr, c, "RS256", &key_a, NULL);
	expect_verify(tok, SBX_EAUTH, "algorithm not allowed");
	free(tok);
	/* RS512 in the header. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS512\",\"kid\":\"key-a\"}");
	tok = make_token(hdr, c, "RS256", &key_a, NULL);
	expect_verify(tok, SBX_EAUTH, "algorithm not allowed");
	free(tok);
	/* Two algs: we and libjwt's parser would read different ones. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"key-a\","
	    "\"alg\":\"HS256\"}");
	tok = make_token(hdr, c, "HS256", NULL, key_a.pem);
	expect_verify(tok, SBX_EAUTH, "malformed token");
	free(tok);
	/* No kid. */
	tok = make_token("{\"alg\":\"RS256\"}", c, "RS256", &key_a, NULL);
	expect_verify(tok, SBX_EAUTH, "token names no key");
	free(tok);
	free(c);
}

static void
test_verify_signature(void **state)
{
	char hdr[128], *c = claims_json(NULL), *tok, *dot;

	(void)state;
	/* Signed by another key under key-a's kid. */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"key-a\"}");
	tok = make_token(hdr, c, "RS256", &key_b, NULL);
	expect_verify(tok, SBX_EAUTH, "bad signature");
	free(tok);
	/* A flipped bit in the signature, and in the payload. */
	tok = rs256_token(&key_a, NULL);
	dot = strrchr(tok, '.');
	dot[10] = dot[10] == 'A' ? 'B' : 'A';
	expect_verify(tok, SBX_EAUTH, "bad signature");
	free(tok);
	tok = rs256_token(&key_a, NULL);
	dot = strchr(tok, '.');
	dot[5] = dot[5] == 'A' ? 'B' : 'A';
	expect_verify(tok, SBX_EAUTH, NULL);
	free(tok);
	/* Claims are checked after the signature. */
	tok = rs256_token(&key_a, NULL);
	assert_int_equal(verify(tok, NULL, NOW + 7200, NULL), SBX_EAUTH);
	free(tok);
	cfg.google_client_id = (char *)"someone-else";
	tok = rs256_token(&key_a, NULL);
	expect_verify(tok, SBX_EAUTH, "wrong audience");
	free(tok);
	free(c);
}

static void
test_verify_unknown_kid_and_rotation(void **state)
{
	char *tok_a = rs256_token(&key_a, NULL), *tok_b = rs256_token(&key_b,
	    NULL), *tok_c = rs256_token(&key_c, NULL);
	int i;

	(void)state;
	assert_int_equal(verify(tok_a, NULL, NOW, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 1);
	/* The IdP rotates: key-b is published. Within the rate limit... */
	set_jwks(&key_b, &key_a);
	expect_verify(tok_b, SBX_EAUTH, "unknown signing key");
	assert_int_equal(idp.jwks_calls, 1);
	/* ...and once it has passed, one refetch finds it. */
	assert_int_equal(verify(tok_b, NULL, NOW + 60, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 2);
	assert_int_equal(verify(tok_a, NULL, NOW + 61, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 2);
	/* A flood of a never-published kid: at most one fetch per period. */
	for (i = 0; i < 50; i++)
		assert_int_equal(verify(tok_c, NULL, NOW + 120 + i % 10, NULL),
		    SBX_EAUTH);
	assert_int_equal(idp.jwks_calls, 3);
	for (i = 0; i < 50; i++)
		assert_int_equal(verify(tok_c, NULL, NOW + 180 + i % 10, NULL),
		    SBX_EAUTH);
	assert_int_equal(idp.jwks_calls, 4);
	/* A key dropped from the JWKS stops working after the next fetch. */
	set_jwks(&key_b, NULL);
	assert_int_equal(verify(tok_c, NULL, NOW + 240, NULL), SBX_EAUTH);
	assert_int_equal(idp.jwks_calls, 5);
	expect_verify(tok_a, SBX_EAUTH, "unknown signing key");
	free(tok_a);
	free(tok_b);
	free(tok_c);
}

static void
test_verify_max_age(void **state)
{
	char *tok = rs256_token(&key_a, NULL);

	(void)state;
	cfg.oidc_jwks_min_refresh_seconds = 5;
	snprintf(idp.cache_control, sizeof(idp.cache_control),
	    "public, max-age=100, must-revalidate");
	assert_int_equal(verify(tok, NULL, NOW, NULL), SBX_OK);
	assert_int_equal(verify(tok, NULL, NOW + 99, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 1);
	assert_int_equal(verify(tok, NULL, NOW + 100, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 2);
	/* A max-age under the minimum refresh is raised to it. */
	snprintf(idp.cache_control, sizeof(idp.cache_control), "no-cache");
	assert_int_equal(verify(tok, NULL, NOW + 200, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 3);
	assert_int_equal(verify(tok, NULL, NOW + 204, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 3);
	assert_int_equal(verify(tok, NULL, NOW + 205, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 4);
	free(tok);
}

static void
test_verify_idp_down(void **state)
{
	char *tok_a = rs256_token(&key_a, NULL), *tok_b = rs256_token(&key_b,
	    NULL);
	const char *why = NULL;

	(void)state;
	/* Nothing cached and the IdP away: unavailable, not "invalid". */
	idp.down = 1;
	assert_int_equal(verify(tok_a, NULL, NOW, &why), SBX_EUNAVAILABLE);
	idp.down = 0;
	snprintf(idp.cache_control, sizeof(idp.cache_control), "max-age=60");
	assert_int_equal(verify(tok_a, NULL, NOW + 60, NULL), SBX_OK);
	assert_int_equal(idp.jwks_calls, 1);
	/* Cached keys keep working past max-age while the IdP is away. */
	idp.down = 1;
	assert_int_equal(verify(tok_a, NULL, NOW + 200, NULL), SBX_OK);
	assert_int_equal(sbx_oidc_jwks_fetches(), 2);
	/* An unknown kid then: one failed attempt says so, then 401s. */
	assert_int_equal(verify(tok_b, NULL, NOW + 300, NULL),
	    SBX_EUNAVAILABLE);
	assert_int_equal(verify(tok_b, NULL, NOW + 301, NULL), SBX_EAUTH);
	assert_int_equal(verify(tok_a, NULL, NOW + 302, NULL), SBX_OK);
	/* Back: the next permitted fetch finds the new key. */
	idp.down = 0;
	set_jwks(&key_a, &key_b);
	assert_int_equal(verify(tok_b, NULL, NOW + 360, NULL), SBX_OK);
	free(tok_a);
	free(tok_b);
}

static void
test_jwks_load(void **state)
{
	char set[8192] = "{\"keys\":[";

	(void)state;
	assert_int_equal(sbx_oidc_jwks_load("{}", 2, NOW, 60), SBX_EPARSE);
	assert_int_equal(sbx_oidc_jwks_load("[]", 2, NOW, 60), SBX_EPARSE);
	assert_int_equal(sbx_oidc_jwks_load("nope", 4, NOW, 60), SBX_EPARSE);
	/* Unusable keys are skipped, usable ones kept. */
	snprintf(set + strlen(set), sizeof(set) - strlen(set),
	    "{\"kty\":\"EC\",\"kid\":\"ec\",\"crv\":\"P-256\"},"
	    "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"enc\",\"n\":\"%s\","
	    "\"e\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"alg\":\"RS512\",\"kid\":\"rs512\",\"n\":\"%s\","
	    "\"e\":\"%s\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"short\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
	    "{\"kty\":\"RSA\",\"kid\":\"key-a\",\"n\":\"%s\",\"e\":\"%s\"}]}",
	    key_a.n, key_a.e, key_a.n, key_a.e, key_a.n, key_a.e);
	assert_int_equal(sbx_oidc_jwks_load(set, strlen(set), NOW, 3600),
	    SBX_OK);
	{
		const char *pem = NULL;

		assert_int_equal(sbx_oidc_key(&cfg, "key-a", NOW, &pem),
		    SBX_OK);
		assert_string_equal(pem, key_a.pem);
		/*
		 * The skipped kids are unknown: the first look-up fetches
		 * once (loading by hand is not a fetch), then the rate
		 * limit holds.
		 */
		cfg.oidc_jwks_min_refresh_seconds = 86400;
		assert_int_equal(sbx_oidc_key(&cfg, "enc", NOW, &pem),
		    SBX_ENOTFOUND);
		assert_int_equal(sbx_oidc_key(&cfg, "rs512", NOW, &pem),
		    SBX_ENOTFOUND);
		assert_int_equal(sbx_oidc_key(&cfg, "ec", NOW, &pem),
		    SBX_ENOTFOUND);
		assert_int_equal(idp.jwks_calls, 1);
	}
}

/* ------------------------------------------------------------ login */

static void
test_authorize_url(void **state)
{
	char *url = NULL;

	(void)state;
	assert_int_equal(sbx_oidc_authorize_url(&cfg,
	    "https://sbx.example/auth/callback", "st-1", "no-1",
	    "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "a@example.com",
	    &url), SBX_OK);
	assert_string_equal(url, ISS "/authorize?response_type=code"
	    "&client_id=client-1.apps.example"
	    "&redirect_uri=https%3A%2F%2Fsbx.example%2Fauth%2Fcallback"
	    "&scope=openid%20email%20profile&state=st-1&nonce=no-1"
	    "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	    "&code_challenge_method=S256&login_hint=a%40example.com");
	free(url);
	/* Discovery is cached; an IdP that is down then does not matter. */
	idp.down = 1;
	assert_int_equal(sbx_oidc_authorize_url(&cfg, "https://x/cb", "s", "n",
	    "v", NULL, &url), SBX_OK);
	assert_null(strstr(url, "login_hint"));
	free(url);
	sbx_oidc_reset();
	assert_int_equal(sbx_oidc_authorize_url(&cfg, "https://x/cb", "s", "n",
	    "v", NULL, &url), SBX_EUNAVAILABLE);
	assert_null(url);
}

static void
test_exchange(void **state)
{
	/* What the exchange answers when the IdP refuses or fails. */
	static const struct {
		long status;
		int down;		/* the IdP cannot be reached */
		const char *body;
		enum sbx_err want;
		const char *why;	/* NULL: not checked */
	} refused[] = {
		/* A reused code or a wrong verifier: invalid_grant. */
		{ 400, 0, "{\"error\":\"invalid_grant\","
		    "\"error_description\":\"Bad\"}", SBX_EREMOTE,
		    "invalid_grant" },
		/* An unknown error code is not echoed. */
		{ 400, 0, "{\"error\":\"<script>\"}", SBX_EREMOTE,
		    "the identity provider refused the code" },
		{ 401, 0, "{\"error\":\"invalid_client\"}", SBX_EREMOTE, NULL },
		/* The IdP failing or away is "unavailable". */
		{ 500, 0, "{\"error\":\"invalid_client\"}", SBX_EUNAVAILABLE,
		    NULL },
		{ 429, 0, "{\"error\":\"invalid_client\"}", SBX_EUNAVAILABLE,
		    NULL },
		{ 429, 1, "{\"error\":\"invalid_client\"}", SBX_EUNAVAILABLE,
		    NULL },
		/* A 200 without an ID token. */
		{ 200, 0, "{\"access_token\":\"ya29.x\"}", SBX_EPARSE, NULL },
	};
	char *tok = NULL;
	const char *why = NULL;
	size_t i;

	(void)state;
	idp.token_status = 200;
	snprintf(idp.token_body, sizeof(idp.token_body),
	    "{\"access_token\":\"ya29.x\",\"id_token\":\"h.p.s\","
	    "\"token_type\":\"Bearer\"}");
	assert_int_equal(sbx_oidc_exchange(&cfg, "4/code", "verifier-1",
	    "https://sbx.example/auth/callback", &tok, &why), SBX_OK);
	assert_string_equal(tok, "h.p.s");
	free(tok);
	assert_string_equal(idp.last_form, "grant_type=authorization_code"
	    "&code=4%2Fcode"
	    "&redirect_uri=https%3A%2F%2Fsbx.example%2Fauth%2Fcallback"
	    "&client_id=client-1.apps.example&client_secret=client-secret-1"
	    "&code_verifier=verifier-1");

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		idp.token_status = refused[i].status;
		idp.down = refused[i].down;
		snprintf(idp.token_body, sizeof(idp.token_body), "%s",
		    refused[i].body);
		if (sbx_oidc_exchange(&cfg, "c", "v", "https://x/cb", &tok,
		    &why) != refused[i].want)
			fail_msg("refusal %zu: want %s", i,
			    sbx_strerror(refused[i].want));
		assert_null(tok);
		if (refused[i].why != NULL)
			assert_string_equal(why, refused[i].why);
	}
	idp.down = 0;
}

static void
test_discovery_checks_issuer(void **state)
{
	char *url = NULL;

	(void)state;
	/* The document must name the issuer we asked: here it does not. */
	cfg.oidc_issuer = (char *)ISS "/";
	assert_int_equal(sbx_oidc_authorize_url(&cfg, "https://x/cb", "s", "n",
	    "v", NULL, &url), SBX_EUNAVAILABLE);
	assert_int_equal(idp.discovery_calls, 1);
}

static void
test_discovery_checks_endpoints(void **state)
{
	static const char *const docs[] = {
		/* A header break in the URL a browser is sent to. */
		"{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\""
		    ISS "/a\\r\\nSet-Cookie: x=y\",\"token_endpoint\":\"" ISS
		    "/token\",\"jwks_uri\":\"" ISS "/jwks\"}",
		/* Plain http to another host. */
		"{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS
		    "/authorize\",\"token_endpoint\":\"http://idp.example/token\","
		    "\"jwks_uri\":\"" ISS "/jwks\"}",
		/* No JWKS. */
		"{\"issuer\":\"" ISS "\",\"authorization_endpoint\":\"" ISS
		    "/authorize\",\"token_endpoint\":\"" ISS "/token\"}",
	};
	char *url = NULL;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		sbx_oidc_reset();
		idp.discovery = docs[i];
		assert_int_equal(sbx_oidc_authorize_url(&cfg, "https://x/cb",
		    "s", "n", "v", NULL, &url), SBX_EUNAVAILABLE);
		assert_null(url);
	}
}

/* sbx_oidc_email_valid: the one check of an address, sign-in's and the API's. */
static void
test_email_valid(void **state)
{
	static const struct {
		const char *s;
		int ok;
	} cases[] = {
		{ "a@b", 1 }, { "Alice@Example.com", 1 },
		{ "\xc3\xa9l\xc3\xa8ve@example.fr", 1 }, { "a+tag@x.y", 1 },
		{ "a/b@x.y", 1 },
		{ "", 0 }, { "ab", 0 }, { "@b", 0 }, { "a@", 0 }, { "@", 0 },
		{ "a@b@c", 0 }, { "a b@c", 0 }, { "a,b@c", 0 }, { "a\tb@c", 0 },
		{ "a\x7f@c", 0 }, { "a@c\n", 0 },
	};
	char long_one[300];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sbx_oidc_email_valid(cases[i].s) != cases[i].ok)
			fail_msg("\"%s\": want %d", cases[i].s, cases[i].ok);
	/* 254 bytes is the longest address; 255 is refused. */
	memset(long_one, 'a', sizeof(long_one));
	memcpy(long_one + 250, "@b.c", 5);
	assert_int_equal(sbx_oidc_email_valid(long_one), 1);
	memset(long_one, 'a', sizeof(long_one));
	memcpy(long_one + 251, "@b.c", 5);
	assert_int_equal(sbx_oidc_email_valid(long_one), 0);
	assert_int_equal(sbx_oidc_email_valid(NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_email_valid),
		cmocka_unit_test_setup(test_jwk_fixed, setup),
		cmocka_unit_test_setup(test_jwk_verifies_signature, setup),
		cmocka_unit_test_setup(test_jwk_rejects, setup),
		cmocka_unit_test_setup(test_parse_header, setup),
		cmocka_unit_test_setup(test_pkce, setup),
		cmocka_unit_test_setup(test_claims_table, setup),
		cmocka_unit_test_setup(test_claims_google_issuers, setup),
		cmocka_unit_test_setup(test_claims_allowed_hd, setup),
		cmocka_unit_test_setup(test_issuer_canonical, setup),
		cmocka_unit_test_setup(test_claims_identity, setup),
		cmocka_unit_test_setup(test_verify_good, setup),
		cmocka_unit_test_setup(test_verify_algorithms, setup),
		cmocka_unit_test_setup(test_verify_signature, setup),
		cmocka_unit_test_setup(test_verify_unknown_kid_and_rotation,
		    setup),
		cmocka_unit_test_setup(test_verify_max_age, setup),
		cmocka_unit_test_setup(test_verify_idp_down, setup),
		cmocka_unit_test_setup(test_jwks_load, setup),
		cmocka_unit_test_setup(test_authorize_url, setup),
		cmocka_unit_test_setup(test_exchange, setup),
		cmocka_unit_test_setup(test_discovery_checks_issuer, setup),
		cmocka_unit_test_setup(test_discovery_checks_endpoints, setup),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
