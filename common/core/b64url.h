/*
 * base64url (RFC 4648 section 5) without padding, as JWTs, JWKs and PKCE
 * use it. Decoding is strict: a padding '=', a character outside the
 * alphabet, a length that cannot come from an encoder, or non-zero unused
 * bits in the last character are all refused, so that one byte string has
 * exactly one accepted spelling (a signature cannot be re-spelled).
 */
#ifndef SBX_B64URL_H
#define SBX_B64URL_H

#include <stddef.h>

#include "common/core/err.h"

/* Length of the encoding of n bytes, without the terminating NUL. */
size_t sbx_b64url_encoded_len(size_t n);

/*
 * Encodes len bytes of in into *out (NUL-terminated; the caller frees it
 * with free()). SBX_ENOMEM on allocation failure.
 */
enum sbx_err sbx_b64url_encode(const unsigned char *in, size_t len, char **out);

/*
 * Encodes into a caller's buffer of outlen bytes (room for the NUL
 * included); SBX_ETOOBIG when it does not fit.
 */
enum sbx_err sbx_b64url_encode_buf(const unsigned char *in, size_t len,
    char *out, size_t outlen);

/*
 * Decodes inlen characters of in into *out (the caller frees it with
 * free(); a NUL byte is appended after the *outlen bytes for callers that
 * decode text). SBX_EPARSE for anything that is not canonical base64url.
 */
enum sbx_err sbx_b64url_decode(const char *in, size_t inlen,
    unsigned char **out, size_t *outlen);

#endif
