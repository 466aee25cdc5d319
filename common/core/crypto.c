/*
 * SHA-256, HMAC-SHA256, random bytes and constant-time comparison on
 * OpenSSL 3 (see crypto.h).
 */
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "common/core/crypto.h"

enum sbx_err
sbx_crypto_sha256(const void *data, size_t len,
    unsigned char out[SBX_CRYPTO_SHA256_LEN])
{
	unsigned int mdlen = 0;

	if (EVP_Digest(data != NULL ? data : "", len, out, &mdlen,
	    EVP_sha256(), NULL) != 1 || mdlen != SBX_CRYPTO_SHA256_LEN)
		return SBX_EINTERNAL;
	return SBX_OK;
}

enum sbx_err
sbx_crypto_sha256_hex(const void *data, size_t len,
    char out[2 * SBX_CRYPTO_SHA256_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SBX_CRYPTO_SHA256_LEN];
	size_t i;

	out[0] = '\0';
	if (sbx_crypto_sha256(data, len, md) != SBX_OK)
		return SBX_EINTERNAL;
	for (i = 0; i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * sizeof(md)] = '\0';
	return SBX_OK;
}

/*
 * OpenSSL 3 looks HMAC and its digest up by name in its provider tables
 * (taking locks) on every EVP_MAC_fetch and every EVP_MAC_init that
 * names a digest: for a session token that was most of the cost of its
 * one HMAC. The HMAC is fetched once per process, and each thread keeps
 * the context of the last key it used, keyed and ready, and copies it:
 * the session key repeats on every request, so a request pays neither
 * lookup nor the key's own hashing.
 */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;
/* Its destructor frees a thread's cached context when the thread ends. */
static pthread_key_t hmac_key;
static int hmac_key_ok;
static void hmac_last_free(void *last);

static void
hmac_fetch(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	hmac_key_ok = pthread_key_create(&hmac_key, hmac_last_free) == 0;
}

#define HMAC_KEY_CACHE_MAX 128

/* Per thread: the last key (at most HMAC_KEY_CACHE_MAX bytes) and its context. */
struct hmac_cache {
	unsigned char key[HMAC_KEY_CACHE_MAX];
	size_t keylen;
	EVP_MAC_CTX *ctx;
};
static __thread struct hmac_cache hmac_last;

/* The key's destructor: last is the ending thread's hmac_last. */
static void
hmac_last_free(void *last)
{
	(void)last;
	EVP_MAC_CTX_free(hmac_last.ctx);
	hmac_last.ctx = NULL;
	OPENSSL_cleanse(hmac_last.key, sizeof(hmac_last.key));
	hmac_last.keylen = 0;
}

/* A new context for key, keyed; NULL on failure. */
static EVP_MAC_CTX *
hmac_keyed(const void *key, size_t keylen)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;

	(void)pthread_once(&hmac_once, hmac_fetch);
	if (hmac_alg == NULL || (ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	/* An empty key is a valid HMAC key; OpenSSL wants a non-NULL one. */
	if (EVP_MAC_init(ctx, keylen > 0 ? key : (const void *)"", keylen,
	    params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A context keyed with key to use once (the caller frees it). */
static EVP_MAC_CTX *
hmac_ctx(const void *key, size_t keylen)
{
	EVP_MAC_CTX *ctx;

	if (hmac_last.ctx != NULL && hmac_last.keylen == keylen &&
	    CRYPTO_memcmp(hmac_last.key, key, keylen) == 0)
		return EVP_MAC_CTX_dup(hmac_last.ctx);
	if ((ctx = hmac_keyed(key, keylen)) == NULL ||
	    keylen > HMAC_KEY_CACHE_MAX)
		return ctx;
	EVP_MAC_CTX_free(hmac_last.ctx);
	OPENSSL_cleanse(hmac_last.key, sizeof(hmac_last.key));
	hmac_last.keylen = 0;
	if ((hmac_last.ctx = EVP_MAC_CTX_dup(ctx)) != NULL) {
		if (keylen > 0)
			memcpy(hmac_last.key, key, keylen);
		hmac_last.keylen = keylen;
		/* Any non-NULL value arms the destructor for this thread. */
		if (hmac_key_ok)
			(void)pthread_setspecific(hmac_key, &hmac_last);
	}
	return ctx;
}

enum sbx_err
sbx_crypto_hmac_sha256_parts(const void *key, size_t keylen,
    const struct sbx_crypto_part *parts, size_t n,
    unsigned char out[SBX_CRYPTO_SHA256_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	EVP_MAC_CTX *ctx;
	size_t mdlen = 0, i;
	enum sbx_err err = SBX_EINTERNAL;

	if ((ctx = hmac_ctx(key, keylen)) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if (parts[i].len > 0 && EVP_MAC_update(ctx, parts[i].p,
		    parts[i].len) != 1)
			goto out;
	if (EVP_MAC_final(ctx, md, &mdlen, sizeof(md)) != 1 ||
	    mdlen != SBX_CRYPTO_SHA256_LEN)
		goto out;
	memcpy(out, md, SBX_CRYPTO_SHA256_LEN);
	err = SBX_OK;
out:
	OPENSSL_cleanse(md, sizeof(md));
	EVP_MAC_CTX_free(ctx);
	return err;
}

enum sbx_err
sbx_crypto_hmac_sha256(const void *key, size_t keylen, const void *data,
    size_t len, unsigned char out[SBX_CRYPTO_SHA256_LEN])
{
	struct sbx_crypto_part part = { data, len };

	return sbx_crypto_hmac_sha256_parts(key, keylen, &part, 1, out);
}

enum sbx_err
sbx_crypto_random(void *buf, size_t n)
{
	if (n > (size_t)0x7fffffff)
		return SBX_EINVAL;
	return RAND_bytes(buf, (int)n) == 1 ? SBX_OK : SBX_EINTERNAL;
}

int
sbx_crypto_memeq(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

int
sbx_crypto_streq(const char *a, const char *b)
{
	size_t la, lb;

	if (a == NULL || b == NULL)
		return 0;
	la = strlen(a);
	lb = strlen(b);
	/* The length is not a secret; the bytes are. */
	if (la != lb)
		return 0;
	return CRYPTO_memcmp(a, b, la) == 0;
}
