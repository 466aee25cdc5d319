/*
 * The small helpers of common/core/util.h: the character check that names
 * and keys are held to.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/core/util.h"

#define NAME_REST SBX_UTIL_LOWER SBX_UTIL_DIGITS "-"

static void
test_chars_valid(void **state)
{
	static const struct {
		const char *s;
		size_t min, max;
		const char *first, *rest;
		int ok;
	} cases[] = {
		{ "abc", 3, 63, SBX_UTIL_LOWER, NAME_REST, 1 },
		{ "a-9", 3, 63, SBX_UTIL_LOWER, NAME_REST, 1 },
		{ "ab", 3, 63, SBX_UTIL_LOWER, NAME_REST, 0 },
		{ "9ab", 3, 63, SBX_UTIL_LOWER, NAME_REST, 0 },
		{ "-ab", 3, 63, SBX_UTIL_LOWER, NAME_REST, 0 },
		{ "abC", 3, 63, SBX_UTIL_LOWER, NAME_REST, 0 },
		{ "abcd", 3, 3, SBX_UTIL_LOWER, NAME_REST, 0 },
		{ "", 0, 3, SBX_UTIL_LOWER, NAME_REST, 1 },
		{ "", 1, 3, NULL, SBX_UTIL_DIGITS, 0 },
		{ "9", 1, 3, NULL, SBX_UTIL_DIGITS, 1 },
		{ "9x", 1, 3, NULL, SBX_UTIL_DIGITS, 0 },
		/* The visible ASCII set: 0x21 to 0x7e, quotes and all. */
		{ "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", 1, 255, NULL,
		    SBX_UTIL_VISIBLE, 1 },
		{ "a b", 1, 255, NULL, SBX_UTIL_VISIBLE, 0 },
		{ "a\x7f", 1, 255, NULL, SBX_UTIL_VISIBLE, 0 },
		{ "a\xc3\xa9", 1, 255, NULL, SBX_UTIL_VISIBLE, 0 },
		{ "\t", 1, 255, NULL, SBX_UTIL_VISIBLE, 0 },
	};
	char c[2] = { 0, 0 };
	size_t i;
	int n = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (sbx_util_chars_valid(cases[i].s, cases[i].min,
		    cases[i].max, cases[i].first, cases[i].rest) !=
		    cases[i].ok)
			fail_msg("case %zu (\"%s\"): expected %d", i,
			    cases[i].s, cases[i].ok);
	assert_false(sbx_util_chars_valid(NULL, 0, 3, NULL, "a"));
	/* Exactly the 94 visible bytes pass, each on its own. */
	for (i = 1; i < 256; i++) {
		c[0] = (char)i;
		if (sbx_util_chars_valid(c, 1, 1, NULL, SBX_UTIL_VISIBLE)) {
			if (i < 0x21 || i > 0x7e)
				fail_msg("byte 0x%02zx passed", i);
			n++;
		}
	}
	assert_int_equal(n, 94);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chars_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
