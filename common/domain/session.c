/*
 * Session tokens (HS256 JWTs, HMAC from common/core/crypto), CSRF tokens
 * and sealed cookie values. See session.h for the contracts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/core/b64url.h"
#include "common/core/crypto.h"
#include "common/core/json.h"
#include "common/core/util.h"
#include "common/domain/session.h"

/* base64url('{"alg":"HS256","typ":"JWT"}'): the only header we sign. */
static const char session_header[] = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#define MAC_LEN 32

/* HMAC-SHA256 of data under key into mac; 0 on success. */
static int
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
    unsigned char mac[MAC_LEN])
{
	return sbx_crypto_hmac_sha256(key, keylen, data, len, mac) == SBX_OK ?
	    0 : -1;
}

/*
 * A key for one purpose, derived from the session secret, so that a MAC
 * made for one use (a CSRF token, the login cookie) can never pass as
 * another (a session token's signature).
 */
static int
derive_key(const char *key, size_t keylen, const char *purpose,
    unsigned char out[MAC_LEN])
{
	char label[128];
	int n;

	n = snprintf(label, sizeof(label), "sbx/v1/%s", purpose);
	if (n < 0 || (size_t)n >= sizeof(label))
		return -1;
	return hmac_sha256(key, keylen, label, (size_t)n, out);
}

int
sbx_session_streq(const char *a, const char *b)
{
	return sbx_crypto_streq(a, b);
}

static int
is_uuid(const char *s)
{
	size_t i;

	if (strlen(s) != SBX_SESSION_ID_LEN)
		return 0;
	for (i = 0; i < SBX_SESSION_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F'))) {
			return 0;
		}
	}
	return 1;
}

/* A user id: 1..SBX_SESSION_SUB_MAX of [A-Za-z0-9_-], safe to print in JSON. */
static int
is_sub(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > SBX_SESSION_SUB_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
			return 0;
	}
	return 1;
}

enum sbx_err
sbx_session_new_id(char out[SBX_SESSION_ID_LEN + 1])
{
	unsigned char b[16];

	if (sbx_crypto_random(b, sizeof(b)) != SBX_OK)
		return SBX_EINTERNAL;
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);	/* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);	/* RFC 4122 variant */
	snprintf(out, SBX_SESSION_ID_LEN + 1,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
	    b[10], b[11], b[12], b[13], b[14], b[15]);
	return SBX_OK;
}

enum sbx_err
sbx_session_random(size_t nbytes, char **out)
{
	unsigned char b[64];
	enum sbx_err err;

	*out = NULL;
	if (nbytes == 0 || nbytes > sizeof(b))
		return SBX_EINVAL;
	if (sbx_crypto_random(b, nbytes) != SBX_OK)
		return SBX_EINTERNAL;
	err = sbx_b64url_encode(b, nbytes, out);
	sbx_util_wipe(b, sizeof(b));
	return err;
}

enum sbx_err
sbx_session_sign(const char *key, size_t keylen,
    const struct sbx_session_claims *c, char **token)
{
	char payload[256], *p64 = NULL, *signing = NULL, *out = NULL;
	char sig[MAC_LEN * 2];
	unsigned char mac[MAC_LEN];
	enum sbx_err err;
	size_t n;
	int len;

	*token = NULL;
	if (!is_uuid(c->jti) || !is_sub(c->sub) || c->iat <= 0 ||
	    c->exp <= c->iat)
		return SBX_EINVAL;
	/* jti and sub were checked to hold no character JSON would escape. */
	len = snprintf(payload, sizeof(payload),
	    "{\"jti\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
	    c->jti, c->sub, c->iat, c->exp);
	if (len < 0 || (size_t)len >= sizeof(payload))
		return SBX_EINVAL;
	if ((err = sbx_b64url_encode((unsigned char *)payload, (size_t)len,
	    &p64)) != SBX_OK)
		goto out;
	n = sizeof(session_header) + strlen(p64) + 1;
	if ((signing = malloc(n)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	snprintf(signing, n, "%s.%s", session_header, p64);
	if (hmac_sha256(key, keylen, signing, strlen(signing), mac) != 0) {
		err = SBX_EINTERNAL;
		goto out;
	}
	(void)sbx_b64url_encode_buf(mac, MAC_LEN, sig, sizeof(sig));
	n = strlen(signing) + 1 + strlen(sig) + 1;
	if ((out = malloc(n)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	snprintf(out, n, "%s.%s", signing, sig);
	*token = out;
	err = SBX_OK;
out:
	sbx_util_wipe(mac, sizeof(mac));
	free(signing);
	free(p64);
	return err;
}

/* An integral JSON number in (0, 2^53) into *v; 0 when it is not one. */
static int
json_epoch(const cJSON *obj, const char *name, long long *v)
{
	return sbx_json_whole(cJSON_GetObjectItemCaseSensitive(obj, name), 1,
	    SBX_JSON_EXACT_MAX, v);
}

#define FAIL(why) do { if (reason != NULL) *reason = (why); \
	err = SBX_EAUTH; goto out; } while (0)

enum sbx_err
sbx_session_verify(const char *key, size_t keylen, const char *token,
    long long now, struct sbx_session_claims *out, const char **reason)
{
	const char *dot1, *dot2;
	unsigned char mac[MAC_LEN], *given = NULL, *payload = NULL;
	size_t len, givenlen = 0, paylen = 0;
	cJSON *claims = NULL;
	const cJSON *jti, *sub;
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (reason != NULL)
		*reason = NULL;
	if (token == NULL || (len = strnlen(token, SBX_SESSION_TOKEN_MAX + 1)) >
	    SBX_SESSION_TOKEN_MAX)
		FAIL("malformed token");
	if ((dot1 = strchr(token, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL)
		FAIL("malformed token");

	/*
	 * The signature first, over the bytes as received: nothing in the
	 * token is looked at before it is known to be ours.
	 */
	if (sbx_b64url_decode(dot2 + 1, strlen(dot2 + 1), &given, &givenlen) !=
	    SBX_OK || givenlen != MAC_LEN)
		FAIL("malformed signature");
	if (hmac_sha256(key, keylen, token, (size_t)(dot2 - token), mac) != 0) {
		err = SBX_EINTERNAL;
		goto out;
	}
	if (!sbx_crypto_memeq(mac, given, MAC_LEN))
		FAIL("bad signature");

	/* We only ever sign one header; anything else is not our token. */
	if ((size_t)(dot1 - token) != sizeof(session_header) - 1 ||
	    memcmp(token, session_header, sizeof(session_header) - 1) != 0)
		FAIL("unexpected header");

	if (sbx_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload,
	    &paylen) != SBX_OK)
		FAIL("malformed payload");
	if ((claims = cJSON_ParseWithLength((char *)payload, paylen)) == NULL ||
	    !cJSON_IsObject(claims))
		FAIL("malformed payload");
	jti = cJSON_GetObjectItemCaseSensitive(claims, "jti");
	sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
	if (!cJSON_IsString(jti) || !is_uuid(jti->valuestring))
		FAIL("missing or malformed jti");
	if (!cJSON_IsString(sub) || !is_sub(sub->valuestring))
		FAIL("missing or malformed sub");
	if (!json_epoch(claims, "exp", &out->exp))
		FAIL("missing or malformed exp");
	if (!json_epoch(claims, "iat", &out->iat))
		FAIL("missing or malformed iat");
	if (now >= out->exp)
		FAIL("expired");
	if (out->iat > now + SBX_SESSION_SKEW)
		FAIL("issued in the future");
	memcpy(out->jti, jti->valuestring, SBX_SESSION_ID_LEN + 1);
	snprintf(out->sub, sizeof(out->sub), "%s", sub->valuestring);
	err = SBX_OK;
out:
	if (err != SBX_OK)
		memset(out, 0, sizeof(*out));
	sbx_util_wipe(mac, sizeof(mac));
	cJSON_Delete(claims);
	free(payload);
	free(given);
	return err;
}

#undef FAIL

enum sbx_err
sbx_session_csrf(const char *key, size_t keylen, const char *jti,
    char out[SBX_CSRF_LEN + 1])
{
	unsigned char k[MAC_LEN], mac[MAC_LEN];
	enum sbx_err err = SBX_EINTERNAL;

	out[0] = '\0';
	if (jti == NULL || derive_key(key, keylen, "csrf", k) != 0 ||
	    hmac_sha256(k, sizeof(k), jti, strlen(jti), mac) != 0)
		goto out;
	err = sbx_b64url_encode_buf(mac, sizeof(mac), out, SBX_CSRF_LEN + 1);
out:
	sbx_util_wipe(k, sizeof(k));
	sbx_util_wipe(mac, sizeof(mac));
	return err;
}

int
sbx_session_csrf_ok(const char *key, size_t keylen, const char *jti,
    const char *cookie, const char *header)
{
	char want[SBX_CSRF_LEN + 1];
	int ok;

	if (cookie == NULL || header == NULL ||
	    sbx_session_csrf(key, keylen, jti, want) != SBX_OK)
		return 0;
	/* Both compares always run: no early exit to time. */
	ok = sbx_session_streq(cookie, want);
	ok &= sbx_session_streq(header, want);
	sbx_util_wipe(want, sizeof(want));
	return ok;
}

/* MAC of the sealed prefix "<exp>.<b64 value>" with the purpose's key. */
static int
seal_mac(const char *key, size_t keylen, const char *purpose, const char *s,
    size_t len, unsigned char mac[MAC_LEN])
{
	unsigned char k[MAC_LEN];
	int rc;

	rc = derive_key(key, keylen, purpose, k);
	if (rc == 0)
		rc = hmac_sha256(k, sizeof(k), s, len, mac);
	sbx_util_wipe(k, sizeof(k));
	return rc;
}

enum sbx_err
sbx_session_seal(const char *key, size_t keylen, const char *purpose,
    const char *value, long long exp, char **out)
{
	char *v64 = NULL, *buf = NULL, sig[MAC_LEN * 2];
	unsigned char mac[MAC_LEN];
	enum sbx_err err;
	size_t n;
	int len;

	*out = NULL;
	if (exp <= 0)
		return SBX_EINVAL;
	if ((err = sbx_b64url_encode((const unsigned char *)value,
	    strlen(value), &v64)) != SBX_OK)
		goto out;
	n = 24 + strlen(v64) + 1 + sizeof(sig);
	if ((buf = malloc(n)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	len = snprintf(buf, n, "%lld.%s", exp, v64);
	if (len < 0 || seal_mac(key, keylen, purpose, buf, (size_t)len,
	    mac) != 0) {
		err = SBX_EINTERNAL;
		goto out;
	}
	(void)sbx_b64url_encode_buf(mac, MAC_LEN, sig, sizeof(sig));
	snprintf(buf + len, n - (size_t)len, ".%s", sig);
	*out = buf;
	buf = NULL;
	err = SBX_OK;
out:
	sbx_util_wipe(mac, sizeof(mac));
	free(buf);
	free(v64);
	return err;
}

enum sbx_err
sbx_session_unseal(const char *key, size_t keylen, const char *purpose,
    const char *sealed, long long now, char **value)
{
	const char *dot1, *dot2, *p;
	unsigned char mac[MAC_LEN], *given = NULL, *v = NULL;
	size_t givenlen = 0, vlen = 0;
	long long exp = 0;
	enum sbx_err err = SBX_EAUTH;

	*value = NULL;
	if (sealed == NULL || strnlen(sealed, 4097) > 4096)
		goto out;
	if ((dot1 = strchr(sealed, '.')) == NULL ||
	    (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL)
		goto out;
	if (sbx_b64url_decode(dot2 + 1, strlen(dot2 + 1), &given,
	    &givenlen) != SBX_OK || givenlen != MAC_LEN)
		goto out;
	if (seal_mac(key, keylen, purpose, sealed, (size_t)(dot2 - sealed),
	    mac) != 0) {
		err = SBX_EINTERNAL;
		goto out;
	}
	if (!sbx_crypto_memeq(mac, given, MAC_LEN))
		goto out;
	/* Authentic from here on; the expiry is plain decimal digits. */
	if (dot1 == sealed || dot1 - sealed > 18)
		goto out;
	for (p = sealed; p < dot1; p++) {
		if (*p < '0' || *p > '9')
			goto out;
		exp = exp * 10 + (*p - '0');
	}
	if (now >= exp)
		goto out;
	if (sbx_b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &v,
	    &vlen) != SBX_OK || memchr(v, '\0', vlen) != NULL)
		goto out;
	*value = (char *)v;
	v = NULL;
	err = SBX_OK;
out:
	sbx_util_wipe(mac, sizeof(mac));
	free(given);
	free(v);
	return err;
}

int
sbx_session_next_ok(const char *next)
{
	const unsigned char *p;

	if (next == NULL || next[0] != '/' || next[1] == '/' ||
	    strlen(next) > 2048)
		return 0;
	for (p = (const unsigned char *)next; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '\\')
			return 0;
	}
	return 1;
}
