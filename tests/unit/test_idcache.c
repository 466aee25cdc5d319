/*
 * Unit tests for common/io/idcache: a remembered token gives back its
 * identity until its exp and not after, another token (even one that
 * shares its slot) is not taken for it, new signing keys make every
 * token verified again, and the table stays bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/io/idcache.h"

static void
identity(struct sbx_oidc_identity *id, const char *email, long long exp)
{
	memset(id, 0, sizeof(*id));
	id->iss = (char *)"https://accounts.google.com";
	id->sub = (char *)"1234567890";
	id->email = (char *)email;
	id->name = (char *)"Ada";
	id->exp = exp;
}

static int
reset(void **state)
{
	(void)state;
	sbx_idcache_clear();
	return 0;
}

static void
test_hit_until_exp(void **state)
{
	struct sbx_oidc_identity in, out;

	(void)state;
	identity(&in, "ada@example.com", 1000);
	assert_int_equal(sbx_idcache_get("tok-a", 900, &out), SBX_ENOTFOUND);
	sbx_idcache_put("tok-a", &in);
	assert_int_equal(sbx_idcache_get("tok-a", 999, &out), SBX_OK);
	assert_string_equal(out.email, "ada@example.com");
	assert_string_equal(out.sub, "1234567890");
	assert_string_equal(out.name, "Ada");
	assert_null(out.picture);
	assert_int_equal(out.exp, 1000);
	sbx_oidc_identity_fini(&out);
	/* At exp the token is no longer taken from memory, nor after. */
	assert_int_equal(sbx_idcache_get("tok-a", 1000, &out), SBX_ENOTFOUND);
	assert_int_equal(sbx_idcache_get("tok-a", 500, &out), SBX_ENOTFOUND);
}

static void
test_other_tokens_miss(void **state)
{
	struct sbx_oidc_identity in, out;
	char tok[32];
	int i, hits = 0;

	(void)state;
	identity(&in, "ada@example.com", 1000);
	sbx_idcache_put("tok-a", &in);
	assert_int_equal(sbx_idcache_get("tok-b", 10, &out), SBX_ENOTFOUND);
	assert_int_equal(sbx_idcache_get("tok-a ", 10, &out), SBX_ENOTFOUND);
	assert_int_equal(sbx_idcache_get("", 10, &out), SBX_ENOTFOUND);
	assert_int_equal(sbx_idcache_get(NULL, 10, &out), SBX_ENOTFOUND);
	/* Many tokens, so that some share a slot with tok-a: none is taken
	 * for it, and whichever evicted it makes it a miss, not a wrong hit. */
	for (i = 0; i < 4 * SBX_IDCACHE_SLOTS; i++) {
		snprintf(tok, sizeof(tok), "other-%d", i);
		assert_int_equal(sbx_idcache_get(tok, 10, &out), SBX_ENOTFOUND);
	}
	if (sbx_idcache_get("tok-a", 10, &out) == SBX_OK) {
		assert_string_equal(out.email, "ada@example.com");
		sbx_oidc_identity_fini(&out);
	}
	/* Bounded: of 4 x SLOTS tokens put, at most SLOTS are remembered. */
	identity(&in, "bob@example.com", 1000);
	for (i = 0; i < 4 * SBX_IDCACHE_SLOTS; i++) {
		snprintf(tok, sizeof(tok), "many-%d", i);
		sbx_idcache_put(tok, &in);
	}
	for (i = 0; i < 4 * SBX_IDCACHE_SLOTS; i++) {
		snprintf(tok, sizeof(tok), "many-%d", i);
		if (sbx_idcache_get(tok, 10, &out) == SBX_OK) {
			assert_string_equal(out.email, "bob@example.com");
			sbx_oidc_identity_fini(&out);
			hits++;
		}
	}
	assert_true(hits > 0 && hits <= SBX_IDCACHE_SLOTS);
}

static void
test_new_keys_forget(void **state)
{
	static const char jwks[] = "{\"keys\": []}";
	struct sbx_oidc_identity in, out;

	(void)state;
	identity(&in, "ada@example.com", 1000);
	sbx_idcache_put("tok-a", &in);
	assert_int_equal(sbx_idcache_get("tok-a", 10, &out), SBX_OK);
	sbx_oidc_identity_fini(&out);
	/* The keys are replaced (a refetch): verify again. */
	assert_int_equal(sbx_oidc_jwks_load(jwks, sizeof(jwks) - 1, 10, 60),
	    SBX_OK);
	assert_int_equal(sbx_idcache_get("tok-a", 10, &out), SBX_ENOTFOUND);
	sbx_idcache_put("tok-a", &in);
	assert_int_equal(sbx_idcache_get("tok-a", 10, &out), SBX_OK);
	sbx_oidc_identity_fini(&out);
}

static void
test_replace_and_clear(void **state)
{
	struct sbx_oidc_identity in, out;

	(void)state;
	identity(&in, "ada@example.com", 1000);
	sbx_idcache_put("tok-a", &in);
	identity(&in, "ada2@example.com", 2000);
	sbx_idcache_put("tok-a", &in);
	assert_int_equal(sbx_idcache_get("tok-a", 1500, &out), SBX_OK);
	assert_string_equal(out.email, "ada2@example.com");
	sbx_oidc_identity_fini(&out);
	sbx_idcache_clear();
	assert_int_equal(sbx_idcache_get("tok-a", 10, &out), SBX_ENOTFOUND);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_hit_until_exp, reset),
		cmocka_unit_test_setup(test_other_tokens_miss, reset),
		cmocka_unit_test_setup(test_new_keys_forget, reset),
		cmocka_unit_test_setup(test_replace_and_clear, reset),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	sbx_idcache_clear();
	return rc;
}
