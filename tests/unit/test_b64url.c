/* Unit tests for common/b64url: RFC 4648 vectors and strict decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/core/b64url.h"

static void
test_vectors(void **state)
{
	/* RFC 4648 section 10, without padding. */
	static const struct { const char *in, *out; } v[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "fooba", "Zm9vYmE" },
		{ "foobar", "Zm9vYmFy" },
	};
	size_t i, n;
	char *enc;
	unsigned char *dec;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(sbx_b64url_encode((const unsigned char *)v[i].in,
		    strlen(v[i].in), &enc), SBX_OK);
		assert_string_equal(enc, v[i].out);
		assert_int_equal(sbx_b64url_encoded_len(strlen(v[i].in)),
		    strlen(v[i].out));
		free(enc);
		assert_int_equal(sbx_b64url_decode(v[i].out, strlen(v[i].out),
		    &dec, &n), SBX_OK);
		assert_int_equal(n, strlen(v[i].in));
		assert_memory_equal(dec, v[i].in, n);
		assert_int_equal(dec[n], '\0');
		free(dec);
	}
}

static void
test_url_alphabet(void **state)
{
	/* 0xfb 0xff would be "+/8" in standard base64. */
	const unsigned char in[] = { 0xfb, 0xff };
	char buf[8];
	unsigned char *dec;
	size_t n;

	(void)state;
	assert_int_equal(sbx_b64url_encode_buf(in, 2, buf, sizeof(buf)), SBX_OK);
	assert_string_equal(buf, "-_8");
	assert_int_equal(sbx_b64url_decode("-_8", 3, &dec, &n), SBX_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(dec, in, 2);
	free(dec);
	/* The buffer must hold the NUL too. */
	assert_int_equal(sbx_b64url_encode_buf(in, 2, buf, 3), SBX_ETOOBIG);
}

static void
test_rejects(void **state)
{
	static const char *const bad[] = {
		"Zg==",		/* padding */
		"Zm8=",
		"Z",		/* one leftover character */
		"Zm9vY",
		"Zh",		/* non-zero unused bits: "Zg" is the only spelling */
		"Zm9",		/* likewise for two bytes ("Zm8") */
		"Zm9+",		/* standard alphabet */
		"Zm9/",
		"Zm 9",		/* space */
		"Zm9v\n",
		"Zm.v",
	};
	unsigned char *dec = (unsigned char *)"x";
	size_t i, n = 7;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sbx_b64url_decode(bad[i], strlen(bad[i]),
		    &dec, &n), SBX_EPARSE);
		assert_null(dec);
		assert_int_equal(n, 0);
	}
	/* A NUL inside the counted length is not in the alphabet either. */
	assert_int_equal(sbx_b64url_decode("Zm\0v", 4, &dec, &n), SBX_EPARSE);
}

static void
test_round_trip(void **state)
{
	unsigned char in[70], *dec;
	char *enc;
	size_t len, n, i;

	(void)state;
	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (len = 0; len <= sizeof(in); len++) {
		assert_int_equal(sbx_b64url_encode(in, len, &enc), SBX_OK);
		assert_null(strpbrk(enc, "+/="));
		assert_int_equal(sbx_b64url_decode(enc, strlen(enc), &dec, &n),
		    SBX_OK);
		assert_int_equal(n, len);
		assert_memory_equal(dec, in, len);
		free(dec);
		free(enc);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_url_alphabet),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
