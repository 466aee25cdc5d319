/*
 * The few cryptographic primitives the service needs outside the AWS and
 * OIDC protocol code: SHA-256, HMAC-SHA256, random bytes, and comparing
 * secrets in constant time. Only this module (and io/, which speaks the
 * protocols) calls OpenSSL, so the domain and the handlers sign and check
 * things without a libcrypto header.
 */
#ifndef SBX_CRYPTO_H
#define SBX_CRYPTO_H

#include <stddef.h>

#include "common/core/err.h"

#define SBX_CRYPTO_SHA256_LEN	32

/* One piece of a message that is MACed in pieces. */
struct sbx_crypto_part {
	const void *p;
	size_t len;
};

/* SHA-256 of len bytes into out; SBX_EINTERNAL on a broken libcrypto. */
enum sbx_err sbx_crypto_sha256(const void *data, size_t len,
    unsigned char out[SBX_CRYPTO_SHA256_LEN]);

/* The same as 64 lower-case hex digits and a NUL. */
enum sbx_err sbx_crypto_sha256_hex(const void *data, size_t len,
    char out[2 * SBX_CRYPTO_SHA256_LEN + 1]);

/* HMAC-SHA256 of len bytes under key into out. */
enum sbx_err sbx_crypto_hmac_sha256(const void *key, size_t keylen,
    const void *data, size_t len, unsigned char out[SBX_CRYPTO_SHA256_LEN]);

/*
 * HMAC-SHA256 of the n parts one after the other, streamed, so a large
 * body is never copied behind a prefix.
 */
enum sbx_err sbx_crypto_hmac_sha256_parts(const void *key, size_t keylen,
    const struct sbx_crypto_part *parts, size_t n,
    unsigned char out[SBX_CRYPTO_SHA256_LEN]);

/* n bytes from the CSPRNG; SBX_EINTERNAL if it fails. */
enum sbx_err sbx_crypto_random(void *buf, size_t n);

/* 1 if the n bytes at a and b are equal, in time independent of them. */
int sbx_crypto_memeq(const void *a, const void *b, size_t n);

/*
 * 1 if the two strings are equal; the bytes are compared in constant
 * time (the length is not a secret). NULL equals nothing.
 */
int sbx_crypto_streq(const char *a, const char *b);

#endif
