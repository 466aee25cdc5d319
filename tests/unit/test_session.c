/*
 * Unit tests for common/session: session tokens (round trip, tampering,
 * other secret, expiry, iat, the header's alg never trusted), CSRF tokens,
 * sealed cookies, the post-login redirect check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/core/b64url.h"
#include "common/domain/session.h"

#define KEY "0123456789abcdef0123456789abcdef-test-key"
#define KEYLEN (sizeof(KEY) - 1)
#define OTHER "another-secret-of-at-least-32-bytes!!"
#define NOW 1700000000LL
#define JTI "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define SUB "9b2f6c1e-8a4d-4c2b-9f1e-2d3c4b5a6978"

static struct sbx_session_claims
claims_ok(void)
{
	struct sbx_session_claims c;

	memset(&c, 0, sizeof(c));
	snprintf(c.jti, sizeof(c.jti), "%s", JTI);
	snprintf(c.sub, sizeof(c.sub), "%s", SUB);
	c.iat = NOW;
	c.exp = NOW + 3600;
	return c;
}

static char *
sign_ok(void)
{
	struct sbx_session_claims c = claims_ok();
	char *tok = NULL;

	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_OK);
	return tok;
}

/*
 * A token built by hand: base64url(header).base64url(payload).mac, the
 * mac being HMAC(md, key) over the first two parts, or sig_text verbatim.
 */
static char *
forge(const char *header, const char *payload, const EVP_MD *md,
    const char *key, const char *sig_text)
{
	char *h = NULL, *p = NULL, *s = NULL, *out;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n;

	assert_int_equal(sbx_b64url_encode((const unsigned char *)header,
	    strlen(header), &h), SBX_OK);
	assert_int_equal(sbx_b64url_encode((const unsigned char *)payload,
	    strlen(payload), &p), SBX_OK);
	n = strlen(h) + strlen(p) + 200;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%s.%s", h, p);
	if (sig_text == NULL) {
		assert_non_null(HMAC(md, key, (int)strlen(key),
		    (unsigned char *)out, strlen(out), mac, &maclen));
		assert_int_equal(sbx_b64url_encode(mac, maclen, &s), SBX_OK);
	}
	strcat(out, ".");
	strcat(out, sig_text != NULL ? sig_text : s);
	free(s);
	free(p);
	free(h);
	return out;
}

static void
expect_rejected(const char *token, long long now, const char *why)
{
	struct sbx_session_claims out;
	const char *reason = NULL;

	assert_int_equal(sbx_session_verify(KEY, KEYLEN, token, now, &out,
	    &reason), SBX_EAUTH);
	assert_non_null(reason);
	if (why != NULL)
		assert_string_equal(reason, why);
	assert_string_equal(out.jti, "");
}

static void
test_round_trip(void **state)
{
	struct sbx_session_claims out;
	const char *reason = "x";
	char *tok = sign_ok();

	(void)state;
	/* Our header, exactly, and three parts. */
	assert_true(strncmp(tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.",
	    37) == 0);
	assert_int_equal(sbx_session_verify(KEY, KEYLEN, tok, NOW + 10, &out,
	    &reason), SBX_OK);
	assert_null(reason);
	assert_string_equal(out.jti, JTI);
	assert_string_equal(out.sub, SUB);
	assert_int_equal(out.iat, NOW);
	assert_int_equal(out.exp, NOW + 3600);
	free(tok);
}

static void
test_interop_hs256(void **state)
{
	/*
	 * The same token from the JWT construction done by hand: an
	 * ordinary HS256 JWT, so other tools can check it with the key.
	 */
	char payload[256], *want, *tok = sign_ok();

	(void)state;
	snprintf(payload, sizeof(payload),
	    "{\"jti\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", JTI,
	    SUB, NOW, NOW + 3600);
	want = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload,
	    EVP_sha256(), KEY, NULL);
	assert_string_equal(tok, want);
	free(want);
	free(tok);
}

static void
test_tampered(void **state)
{
	char *tok = sign_ok(), *dot;
	size_t i, len = strlen(tok);

	(void)state;
	/* Flip characters all along the token, in each of its parts. */
	for (i = 0; i < len; i += 7) {
		char saved = tok[i];

		if (saved == '.')
			continue;
		tok[i] = saved == 'A' ? 'B' : 'A';
		expect_rejected(tok, NOW, NULL);
		tok[i] = saved;
	}
	/* Cut the signature, drop it, add a part. */
	dot = strrchr(tok, '.');
	dot[5] = '\0';
	expect_rejected(tok, NOW, "malformed signature");
	dot[1] = '\0';
	expect_rejected(tok, NOW, "malformed signature");
	free(tok);
	expect_rejected("", NOW, "malformed token");
	expect_rejected("a.b", NOW, "malformed token");
	expect_rejected("a.b.c.d", NOW, "malformed token");
	expect_rejected(NULL, NOW, "malformed token");
}

static void
test_other_secret(void **state)
{
	struct sbx_session_claims c = claims_ok(), out;
	char *tok = NULL;

	(void)state;
	assert_int_equal(sbx_session_sign(OTHER, strlen(OTHER), &c, &tok),
	    SBX_OK);
	expect_rejected(tok, NOW, "bad signature");
	assert_int_equal(sbx_session_verify(OTHER, strlen(OTHER), tok, NOW,
	    &out, NULL), SBX_OK);
	free(tok);
}

static void
test_times(void **state)
{
	struct sbx_session_claims c = claims_ok();
	char *tok = sign_ok();

	(void)state;
	expect_rejected(tok, NOW + 3600, "expired");
	expect_rejected(tok, NOW + 999999, "expired");
	free(tok);
	/* iat ahead of our clock by more than the skew. */
	c.iat = NOW + SBX_SESSION_SKEW + 1;
	c.exp = c.iat + 3600;
	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_OK);
	expect_rejected(tok, NOW, "issued in the future");
	free(tok);
	/* Within the skew is fine. */
	c.iat = NOW + SBX_SESSION_SKEW;
	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_OK);
	{
		struct sbx_session_claims out;

		assert_int_equal(sbx_session_verify(KEY, KEYLEN, tok, NOW, &out,
		    NULL), SBX_OK);
	}
	free(tok);
}

static void
test_header_alg_ignored(void **state)
{
	/* md NULL: signed with sig instead of an HMAC. */
	const struct {
		const char *header;
		const EVP_MD *md;
		const char *sig;
		const char *why;
	} cases[] = {
		/* alg none, no signature: never accepted. */
		{ "{\"alg\":\"none\",\"typ\":\"JWT\"}", NULL, "",
		    "malformed signature" },
		/* alg none, but a correct HMAC: still not our header. */
		{ "{\"alg\":\"none\",\"typ\":\"JWT\"}", EVP_sha256(), NULL,
		    "unexpected header" },
		/* A header asking for HS512, signed with HS512 and our key. */
		{ "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", EVP_sha512(), NULL,
		    "malformed signature" },
		/* Our header, but signed with HS384: HS256 regardless. */
		{ "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", EVP_sha384(), NULL,
		    "malformed signature" },
		/* RS256 in the header with an HMAC over it. */
		{ "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", EVP_sha256(), NULL,
		    "unexpected header" },
	};
	char payload[256], *tok;
	size_t i;

	(void)state;
	snprintf(payload, sizeof(payload),
	    "{\"jti\":\"%s\",\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}", JTI,
	    SUB, NOW, NOW + 3600);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		tok = forge(cases[i].header, payload, cases[i].md,
		    cases[i].md != NULL ? KEY : NULL, cases[i].sig);
		expect_rejected(tok, NOW, cases[i].why);
		free(tok);
	}
}

static void
test_bad_claims(void **state)
{
	static const char *const payloads[] = {
		"{\"sub\":\"" SUB "\",\"iat\":1700000000,\"exp\":1700003600}",
		"{\"jti\":\"nope\",\"sub\":\"" SUB "\",\"iat\":1700000000,"
		    "\"exp\":1700003600}",
		"{\"jti\":\"" JTI "\",\"iat\":1700000000,\"exp\":1700003600}",
		"{\"jti\":\"" JTI "\",\"sub\":\"a\\\"b\",\"iat\":1700000000,"
		    "\"exp\":1700003600}",
		"{\"jti\":\"" JTI "\",\"sub\":\"" SUB "\",\"iat\":1700000000}",
		"{\"jti\":\"" JTI "\",\"sub\":\"" SUB "\",\"exp\":1700003600}",
		"{\"jti\":\"" JTI "\",\"sub\":\"" SUB "\",\"iat\":1700000000,"
		    "\"exp\":\"1700003600\"}",
		"{\"jti\":\"" JTI "\",\"sub\":\"" SUB "\",\"iat\":1700000000,"
		    "\"exp\":1700003600.5}",
		"[1,2]",
		"not json",
	};
	size_t i;
	char *tok;

	(void)state;
	for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		tok = forge("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payloads[i],
		    EVP_sha256(), KEY, NULL);
		expect_rejected(tok, NOW, NULL);
		free(tok);
	}
}

static void
test_sign_refuses(void **state)
{
	struct sbx_session_claims c = claims_ok();
	char *tok = (char *)"x";

	(void)state;
	snprintf(c.jti, sizeof(c.jti), "not-a-uuid");
	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_EINVAL);
	assert_null(tok);
	c = claims_ok();
	c.sub[0] = '\0';
	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_EINVAL);
	c = claims_ok();
	snprintf(c.sub, sizeof(c.sub), "a\"b");
	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_EINVAL);
	c = claims_ok();
	c.exp = c.iat;
	assert_int_equal(sbx_session_sign(KEY, KEYLEN, &c, &tok), SBX_EINVAL);
}

static void
test_new_id(void **state)
{
	char a[SBX_SESSION_ID_LEN + 1], b[SBX_SESSION_ID_LEN + 1];

	(void)state;
	assert_int_equal(sbx_session_new_id(a), SBX_OK);
	assert_int_equal(sbx_session_new_id(b), SBX_OK);
	assert_int_equal(strlen(a), 36);
	assert_int_equal(a[14], '4');
	assert_non_null(strchr("89ab", a[19]));
	assert_string_not_equal(a, b);
}

static void
test_random(void **state)
{
	char *a = NULL, *b = NULL;

	(void)state;
	assert_int_equal(sbx_session_random(32, &a), SBX_OK);
	assert_int_equal(sbx_session_random(32, &b), SBX_OK);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	free(a);
	free(b);
	assert_int_equal(sbx_session_random(0, &a), SBX_EINVAL);
	assert_int_equal(sbx_session_random(65, &a), SBX_EINVAL);
}

static void
test_csrf(void **state)
{
	char a[SBX_CSRF_LEN + 1], b[SBX_CSRF_LEN + 1], c[SBX_CSRF_LEN + 1];
	char d[SBX_CSRF_LEN + 1];

	(void)state;
	assert_int_equal(sbx_session_csrf(KEY, KEYLEN, JTI, a), SBX_OK);
	assert_int_equal(sbx_session_csrf(KEY, KEYLEN, JTI, b), SBX_OK);
	assert_int_equal(strlen(a), SBX_CSRF_LEN);
	assert_string_equal(a, b);	/* bound to the session, stable */
	assert_int_equal(sbx_session_csrf(KEY, KEYLEN, SUB, c), SBX_OK);
	assert_string_not_equal(a, c);
	assert_int_equal(sbx_session_csrf(OTHER, strlen(OTHER), JTI, d),
	    SBX_OK);
	assert_string_not_equal(a, d);

	assert_true(sbx_session_csrf_ok(KEY, KEYLEN, JTI, a, a));
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, a, NULL));
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, NULL, a));
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, a, ""));
	/* Header and cookie equal but not this session's token. */
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, c, c));
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, "x", "x"));
	/* The right token in one place only. */
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, a, c));
	assert_false(sbx_session_csrf_ok(KEY, KEYLEN, JTI, c, a));
}

static void
test_seal(void **state)
{
	char *sealed = NULL, *v = NULL;
	const char *value = "{\"state\":\"s\",\"next\":\"/x?y=1\"}";

	(void)state;
	assert_int_equal(sbx_session_seal(KEY, KEYLEN, "login", value,
	    NOW + 600, &sealed), SBX_OK);
	assert_null(strpbrk(sealed, " ;,\"=\\"));	/* cookie-safe */
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", sealed, NOW,
	    &v), SBX_OK);
	assert_string_equal(v, value);
	free(v);

	/* Another purpose, another key, expired, tampered. */
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "csrf", sealed, NOW,
	    &v), SBX_EAUTH);
	assert_null(v);
	assert_int_equal(sbx_session_unseal(OTHER, strlen(OTHER), "login",
	    sealed, NOW, &v), SBX_EAUTH);
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", sealed,
	    NOW + 600, &v), SBX_EAUTH);
	sealed[0] = sealed[0] == '9' ? '8' : '9';	/* the expiry */
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", sealed, NOW,
	    &v), SBX_EAUTH);
	sealed[0] = '1';
	sealed[strlen(sealed) / 2] ^= 1;
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", sealed, NOW,
	    &v), SBX_EAUTH);
	free(sealed);
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", "", NOW,
	    &v), SBX_EAUTH);
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", NULL, NOW,
	    &v), SBX_EAUTH);
	assert_int_equal(sbx_session_unseal(KEY, KEYLEN, "login", "1.2.3.4",
	    NOW, &v), SBX_EAUTH);
}

static void
test_next(void **state)
{
	static const struct { const char *next; int ok; } t[] = {
		{ "/", 1 }, { "/api/me", 1 }, { "/x?y=1&z=%2F", 1 },
		{ "/a/b#frag", 1 },
		{ "", 0 }, { "api/me", 0 }, { "//evil.example/", 0 },
		{ "/\\evil.example", 0 }, { "/a\\b", 0 },
		{ "https://evil.example/", 0 }, { "javascript:alert(1)", 0 },
		{ "/a b", 0 }, { "/a\r\nSet-Cookie: x=y", 0 }, { "/a\t", 0 },
	};
	char longp[2100];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(sbx_session_next_ok(t[i].next), t[i].ok);
	assert_false(sbx_session_next_ok(NULL));
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	assert_false(sbx_session_next_ok(longp));
}

static void
test_streq(void **state)
{
	(void)state;
	assert_true(sbx_session_streq("abc", "abc"));
	assert_false(sbx_session_streq("abc", "abd"));
	assert_false(sbx_session_streq("abc", "ab"));
	assert_false(sbx_session_streq(NULL, "a"));
	assert_false(sbx_session_streq("a", NULL));
	assert_true(sbx_session_streq("", ""));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_interop_hs256),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_other_secret),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_header_alg_ignored),
		cmocka_unit_test(test_bad_claims),
		cmocka_unit_test(test_sign_refuses),
		cmocka_unit_test(test_new_id),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_csrf),
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_streq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
