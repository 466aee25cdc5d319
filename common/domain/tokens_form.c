/*
 * The pure part of API tokens (tokens.h): their form, making one, hashing
 * it, and the name rule. No database, so unit tests link only this.
 */
#include <string.h>

#include "common/core/b64url.h"
#include "common/core/crypto.h"
#include "common/core/json.h"
#include "common/core/util.h"
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
	if (sbx_crypto_random(b, sizeof(b)) != SBX_OK)
		return SBX_EINTERNAL;
	memcpy(out, SBX_TOKEN_PREFIX, plen);
	err = sbx_b64url_encode_buf(b, sizeof(b), out + plen,
	    SBX_TOKEN_BUF - plen);
	sbx_util_wipe(b, sizeof(b));
	if (err != SBX_OK)
		sbx_util_wipe(out, SBX_TOKEN_BUF);
	return err;
}

enum sbx_err
sbx_tokens_hash(const char *token, char out[SBX_TOKEN_HASH_BUF])
{
	return sbx_crypto_sha256_hex(token, strlen(token), out);
}

