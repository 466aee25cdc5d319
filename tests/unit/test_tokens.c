/*
 * Unit tests for the pure part of API tokens (common/domain/tokens_form.c): the
 * form a token has, making one, its stored hash, and the name rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/domain/tokens.h"

static void
test_generate_has_the_form(void **state)
{
	char a[SBX_TOKEN_BUF], b[SBX_TOKEN_BUF];

	(void)state;
	assert_int_equal(sbx_tokens_generate(a), SBX_OK);
	assert_int_equal(sbx_tokens_generate(b), SBX_OK);
	assert_int_equal(strlen(a), SBX_TOKEN_LEN);
	assert_int_equal(strncmp(a, "sbx_pat_", 8), 0);
	assert_true(sbx_tokens_form_valid(a));
	assert_true(sbx_tokens_has_prefix(a));
	assert_string_not_equal(a, b);
}

static void
test_form(void **state)
{
	static const char good[] =
	    "sbx_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA_";
	static const char *const bad[] = {
		"", "sbx_pat_", "sbx_pat_AAAA",
		/* 44 characters, 42 characters */
		"sbx_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"sbx_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		/* outside the base64url alphabet */
		"sbx_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",
		"sbx_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"sbx_pat_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
		/* another prefix */
		"SBX_PAT_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"sbx_pak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.AAAAAAAAAAAAA",
	};
	size_t i;

	(void)state;
	assert_int_equal(strlen(good), SBX_TOKEN_LEN);
	assert_true(sbx_tokens_form_valid(good));
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(sbx_tokens_form_valid(bad[i]));
	assert_false(sbx_tokens_form_valid(NULL));
	assert_false(sbx_tokens_has_prefix(NULL));
	assert_false(sbx_tokens_has_prefix("sbx_pa"));
	assert_true(sbx_tokens_has_prefix("sbx_pat_x"));
}

static void
test_hash_is_hex_sha256(void **state)
{
	char h[SBX_TOKEN_HASH_BUF];

	(void)state;
	/* SHA-256("abc"), FIPS 180-2 appendix B.1. */
	assert_int_equal(sbx_tokens_hash("abc", h), SBX_OK);
	assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(sbx_tokens_hash("", h), SBX_OK);
	assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}

static void
test_names(void **state)
{
	static const char *const good[] = {
		"x", "CI: deploy (prod) #1", "caf\xc3\xa9",
	};
	static const char *const bad[] = {
		"", "tab\there", "nl\n", "del\x7f", "c1\xc2\x85",
		"bad\xff", "cut\xc3", "overlong\xc0\xaf",
		"\xed\xa0\x80",		/* a surrogate */
	};
	static const char key[] = "\xf0\x9f\x94\x91";	/* U+1F511, 4 bytes */
	char s[SBX_TOKEN_NAME_MAX + 2], wide[4 * (SBX_TOKEN_NAME_MAX + 1) + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(*good); i++)
		assert_true(sbx_tokens_name_valid(good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		assert_false(sbx_tokens_name_valid(bad[i]));
	assert_false(sbx_tokens_name_valid(NULL));
	memset(s, 'a', SBX_TOKEN_NAME_MAX);
	s[SBX_TOKEN_NAME_MAX] = '\0';
	assert_true(sbx_tokens_name_valid(s));
	s[SBX_TOKEN_NAME_MAX] = 'a';
	s[SBX_TOKEN_NAME_MAX + 1] = '\0';
	assert_false(sbx_tokens_name_valid(s));
	/* The limit counts characters, not bytes. */
	for (i = 0; i < SBX_TOKEN_NAME_MAX; i++)
		memcpy(wide + 4 * i, key, 4);
	wide[4 * SBX_TOKEN_NAME_MAX] = '\0';
	assert_true(sbx_tokens_name_valid(wide));
	memcpy(wide + 4 * SBX_TOKEN_NAME_MAX, key, 5);
	assert_false(sbx_tokens_name_valid(wide));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate_has_the_form),
		cmocka_unit_test(test_form),
		cmocka_unit_test(test_hash_is_hex_sha256),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
