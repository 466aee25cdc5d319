/*
 * The memory of verified ID tokens. See idcache.h.
 */
#include <stdlib.h>
#include <string.h>

#include "common/core/crypto.h"
#include "common/io/idcache.h"

struct slot {
	int used;
	unsigned long generation;	/* of the keys that verified it */
	unsigned char key[SBX_CRYPTO_SHA256_LEN];
	struct sbx_oidc_identity id;
};

static struct slot slots[SBX_IDCACHE_SLOTS];

static char *
dup_or_null(const char *s, int *failed)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*failed = 1;
	return d;
}

/* A deep copy of src into *dst; SBX_ENOMEM leaves *dst empty. */
static enum sbx_err
identity_copy(const struct sbx_oidc_identity *src,
    struct sbx_oidc_identity *dst)
{
	int failed = 0;

	memset(dst, 0, sizeof(*dst));
	dst->iss = dup_or_null(src->iss, &failed);
	dst->sub = dup_or_null(src->sub, &failed);
	dst->email = dup_or_null(src->email, &failed);
	dst->name = dup_or_null(src->name, &failed);
	dst->picture = dup_or_null(src->picture, &failed);
	dst->hd = dup_or_null(src->hd, &failed);
	dst->exp = src->exp;
	if (failed) {
		sbx_oidc_identity_fini(dst);
		return SBX_ENOMEM;
	}
	return SBX_OK;
}

static void
slot_clear(struct slot *s)
{
	sbx_oidc_identity_fini(&s->id);
	memset(s, 0, sizeof(*s));
}

/* The token's key and its slot; NULL when the digest cannot be made. */
static struct slot *
slot_of(const char *token, unsigned char key[SBX_CRYPTO_SHA256_LEN])
{
	if (token == NULL ||
	    sbx_crypto_sha256(token, strlen(token), key) != SBX_OK)
		return NULL;
	return &slots[((size_t)key[0] << 8 | key[1]) % SBX_IDCACHE_SLOTS];
}

enum sbx_err
sbx_idcache_get(const char *token, long long now,
    struct sbx_oidc_identity *out)
{
	unsigned char key[SBX_CRYPTO_SHA256_LEN];
	struct slot *s;

	memset(out, 0, sizeof(*out));
	if ((s = slot_of(token, key)) == NULL || !s->used ||
	    !sbx_crypto_memeq(s->key, key, sizeof(key)))
		return SBX_ENOTFOUND;
	if (now >= s->id.exp || s->generation != sbx_oidc_jwks_generation()) {
		slot_clear(s);
		return SBX_ENOTFOUND;
	}
	return identity_copy(&s->id, out);
}

void
sbx_idcache_put(const char *token, const struct sbx_oidc_identity *id)
{
	unsigned char key[SBX_CRYPTO_SHA256_LEN];
	struct slot *s;

	if ((s = slot_of(token, key)) == NULL)
		return;
	slot_clear(s);
	if (identity_copy(id, &s->id) != SBX_OK)
		return;
	memcpy(s->key, key, sizeof(key));
	s->generation = sbx_oidc_jwks_generation();
	s->used = 1;
}

void
sbx_idcache_clear(void)
{
	size_t i;

	for (i = 0; i < SBX_IDCACHE_SLOTS; i++)
		slot_clear(&slots[i]);
}
