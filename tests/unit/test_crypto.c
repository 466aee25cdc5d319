/*
 * Unit tests for common/core/crypto's HMAC-SHA256: RFC 4231 vectors, and
 * its per-thread context of the last key (crypto.c), which must never
 * hand back a MAC under another key: keys alternating, repeated, empty,
 * longer than the cache holds, one a prefix of another, and two threads
 * with keys of their own at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/core/crypto.h"

struct vec {
	unsigned char key[131];
	size_t keylen;
	const char *data;
	const char *hex;
};

static struct vec v[4];

static void
hex_of(const unsigned char *mac, char out[65])
{
	size_t i;

	for (i = 0; i < SBX_CRYPTO_SHA256_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* RFC 4231 test cases 1, 2 and 6 (a 131-byte key), and the empty key. */
static int
setup(void **state)
{
	(void)state;
	memset(v[0].key, 0x0b, 20);
	v[0].keylen = 20;
	v[0].data = "Hi There";
	v[0].hex = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
	memcpy(v[1].key, "Jefe", 4);
	v[1].keylen = 4;
	v[1].data = "what do ya want for nothing?";
	v[1].hex = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
	memset(v[2].key, 0xaa, 131);
	v[2].keylen = 131;
	v[2].data = "Test Using Larger Than Block-Size Key - Hash Key First";
	v[2].hex = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
	v[3].keylen = 0;
	v[3].data = "";
	v[3].hex = "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad";
	return 0;
}

static void
check(const struct vec *x)
{
	unsigned char mac[SBX_CRYPTO_SHA256_LEN];
	char hex[65];

	assert_int_equal(sbx_crypto_hmac_sha256(x->key, x->keylen, x->data,
	    strlen(x->data), mac), SBX_OK);
	hex_of(mac, hex);
	assert_string_equal(hex, x->hex);
}

static void
test_vectors_in_any_order(void **state)
{
	static const int order[] = { 0, 0, 1, 0, 2, 2, 1, 3, 3, 0, 2, 3, 1, 1 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		check(&v[order[i]]);
}

/* Keys that differ only in length or in their last byte. */
static void
test_near_keys(void **state)
{
	unsigned char a[SBX_CRYPTO_SHA256_LEN], b[SBX_CRYPTO_SHA256_LEN];
	unsigned char c[SBX_CRYPTO_SHA256_LEN];
	const char key[] = "session-secret-key-0123456789abcdef";
	char other[sizeof(key)];

	(void)state;
	memcpy(other, key, sizeof(key));
	other[sizeof(key) - 2] ^= 1;
	assert_int_equal(sbx_crypto_hmac_sha256(key, sizeof(key) - 1, "m", 1,
	    a), SBX_OK);
	assert_int_equal(sbx_crypto_hmac_sha256(key, sizeof(key) - 2, "m", 1,
	    b), SBX_OK);
	assert_int_equal(sbx_crypto_hmac_sha256(other, sizeof(key) - 1, "m",
	    1, c), SBX_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	assert_memory_not_equal(b, c, sizeof(a));
	/* And the first again, after the others took the cache. */
	assert_int_equal(sbx_crypto_hmac_sha256(key, sizeof(key) - 1, "m", 1,
	    c), SBX_OK);
	assert_memory_equal(a, c, sizeof(a));
}

/* Parts streamed one after the other are the MAC of their concatenation. */
static void
test_parts(void **state)
{
	struct sbx_crypto_part p[3] = {
		{ "what do ya ", 11 }, { "", 0 }, { "want for nothing?", 17 },
	};
	unsigned char mac[SBX_CRYPTO_SHA256_LEN];
	char hex[65];

	(void)state;
	assert_int_equal(sbx_crypto_hmac_sha256_parts("Jefe", 4, p, 3, mac),
	    SBX_OK);
	hex_of(mac, hex);
	assert_string_equal(hex, v[1].hex);
}

static void *
thread_main(void *arg)
{
	const struct vec *x = arg;
	unsigned char mac[SBX_CRYPTO_SHA256_LEN];
	char hex[65];
	int i;

	for (i = 0; i < 2000; i++) {
		if (sbx_crypto_hmac_sha256(x->key, x->keylen, x->data,
		    strlen(x->data), mac) != SBX_OK)
			return (void *)1;
		hex_of(mac, hex);
		if (strcmp(hex, x->hex) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_threads(void **state)
{
	pthread_t t[2];
	void *r0 = NULL, *r1 = NULL;

	(void)state;
	assert_int_equal(pthread_create(&t[0], NULL, thread_main, &v[0]), 0);
	assert_int_equal(pthread_create(&t[1], NULL, thread_main, &v[1]), 0);
	assert_int_equal(pthread_join(t[0], &r0), 0);
	assert_int_equal(pthread_join(t[1], &r1), 0);
	assert_null(r0);
	assert_null(r1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_in_any_order),
		cmocka_unit_test(test_near_keys),
		cmocka_unit_test(test_parts),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
