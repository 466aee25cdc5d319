/* Strict, unpadded base64url for JWTs, JWKs and PKCE. */
#include <stdint.h>
#include <stdlib.h>

#include "common/core/b64url.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The 6-bit value of c, or -1 when c is not in the alphabet. */
static int
sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

size_t
sbx_b64url_encoded_len(size_t n)
{
	return n / 3 * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

enum sbx_err
sbx_b64url_encode_buf(const unsigned char *in, size_t len, char *out,
    size_t outlen)
{
	size_t i, o = 0;
	uint32_t v;

	if (outlen < sbx_b64url_encoded_len(len) + 1)
		return SBX_ETOOBIG;
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
	}
	out[o] = '\0';
	return SBX_OK;
}

enum sbx_err
sbx_b64url_encode(const unsigned char *in, size_t len, char **out)
{
	size_t n = sbx_b64url_encoded_len(len) + 1;
	char *buf;

	*out = NULL;
	if ((buf = malloc(n)) == NULL)
		return SBX_ENOMEM;
	(void)sbx_b64url_encode_buf(in, len, buf, n);
	*out = buf;
	return SBX_OK;
}

enum sbx_err
sbx_b64url_decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *buf = NULL;
	size_t i, o = 0, rest = inlen % 4, n;
	uint32_t v;
	int a, b, c, d;

	*out = NULL;
	*outlen = 0;
	/* One leftover character would carry only 6 bits: no encoder makes it. */
	if (rest == 1)
		return SBX_EPARSE;
	n = inlen / 4 * 3 + (rest == 0 ? 0 : rest - 1);
	if ((buf = malloc(n + 1)) == NULL)
		return SBX_ENOMEM;
	for (i = 0; i + 4 <= inlen; i += 4) {
		a = sextet(s[i]);
		b = sextet(s[i + 1]);
		c = sextet(s[i + 2]);
		d = sextet(s[i + 3]);
		if ((a | b | c | d) < 0)
			goto bad;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 |
		    (uint32_t)d;
		buf[o++] = v >> 16 & 0xff;
		buf[o++] = v >> 8 & 0xff;
		buf[o++] = v & 0xff;
	}
	if (rest == 2) {
		a = sextet(s[i]);
		b = sextet(s[i + 1]);
		/* The low 4 bits of b are unused and must be zero. */
		if ((a | b) < 0 || (b & 0x0f) != 0)
			goto bad;
		buf[o++] = (unsigned char)(a << 2 | b >> 4);
	} else if (rest == 3) {
		a = sextet(s[i]);
		b = sextet(s[i + 1]);
		c = sextet(s[i + 2]);
		/* The low 2 bits of c are unused and must be zero. */
		if ((a | b | c) < 0 || (c & 0x03) != 0)
			goto bad;
		v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
		buf[o++] = v >> 16 & 0xff;
		buf[o++] = v >> 8 & 0xff;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return SBX_OK;
bad:
	free(buf);
	return SBX_EPARSE;
}
