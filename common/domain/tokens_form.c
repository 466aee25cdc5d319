/*
 * The pure part of API tokens (tokens.h): their form, making one, hashing
 * it, and the name rule. No database, so unit tests link only this.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/core/b64url.h"
#include "common/core/json.h"
#include "common/domain/tokens.h"

int
sbx_tokens_name_valid(const char *name)
{
	const unsigned char *s = (const unsigned char *)name;
	size_t left, len, chars = 0;
	unsigned cp;

	if (name == NULL)
		return 0;
	left = strlen(name);
	while (left > 0) {
		if ((len = sbx_json_utf8_len(s, left)) == 0)
			return 0;
		if (len == 1)
			cp = s[0];
		else if (len == 2)
			cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
		else
			cp = 0x800;	/* past the C1 controls */
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return 0;
		if (++chars > SBX_TOKEN_NAME_MAX)
			return 0;
		s += len;
		left -= len;
	}
	return chars >= 1;
}

int
sbx_tokens_has_prefix(const char *token)
{
	return token != NULL && strncmp(token, SBX_TOKEN_PREFIX,
	    sizeof(SBX_TOKEN_PREFIX) - 1) == 0;
}

int
sbx_tokens_form_valid(const char *token)
{
	static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *rest;

	if (!sbx_tokens_has_prefix(token) || strlen(token) != SBX_TOKEN_LEN)
		return 0;
	rest = token + sizeof(SBX_TOKEN_PREFIX) - 1;
	return strspn(rest, b64url) == SBX_TOKEN_LEN -
	    (sizeof(SBX_TOKEN_PREFIX) - 1);
}

enum sbx_err
sbx_tokens_generate(char out[SBX_TOKEN_BUF])
{
	unsigned char b[SBX_TOKEN_RANDOM_BYTES];
	size_t plen = sizeof(SBX_TOKEN_PREFIX) - 1;
	enum sbx_err err;

	out[0] = '\0';
	if (RAND_bytes(b, sizeof(b)) != 1)
		return SBX_EINTERNAL;
	memcpy(out, SBX_TOKEN_PREFIX, plen);
	err = sbx_b64url_encode_buf(b, sizeof(b), out + plen,
	    SBX_TOKEN_BUF - plen);
	OPENSSL_cleanse(b, sizeof(b));
	if (err != SBX_OK)
		OPENSSL_cleanse(out, SBX_TOKEN_BUF);
	return err;
}

enum sbx_err
sbx_tokens_hash(const char *token, char out[SBX_TOKEN_HASH_BUF])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;

	out[0] = '\0';
	if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) !=
	    1 || mdlen != 32)
		return SBX_EINTERNAL;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[2 * mdlen] = '\0';
	return SBX_OK;
}

