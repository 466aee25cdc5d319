/*
 * A per-process memory of verified bearer ID tokens: verifying one costs
 * an RSA signature check and a PEM key decode, most of a worker's time
 * on a route authenticated that way. An entry is keyed by the SHA-256 of
 * the token (the token itself is not kept), holds the identity its claims
 * gave, and is used only until the token's exp (never past it, and
 * without the clock skew verification allows). An entry also dies with
 * the set of signing keys it was verified under: once the JWKS is
 * fetched again (a rotation, a key dropped, its max-age passed), every
 * token is verified afresh, so a token of a dropped key stops working at
 * the same moment as it would without this memory. The table is bounded
 * (SBX_IDCACHE_SLOTS, direct-mapped: a new token evicts the one in its
 * slot). Only the token's verification is remembered: what the database
 * says of its user (disabled, profile) is read on every request by the
 * caller. Session and API tokens are never put here, so revoking them
 * takes effect at once.
 */
#ifndef SBX_IO_IDCACHE_H
#define SBX_IO_IDCACHE_H

#include "common/core/err.h"
#include "common/io/oidc.h"

#define SBX_IDCACHE_SLOTS 256

/*
 * The identity remembered for token at time now into *out (release with
 * sbx_oidc_identity_fini): SBX_OK, SBX_ENOTFOUND when it is not
 * remembered, its exp has passed or the keys have changed since
 * (sbx_oidc_jwks_generation), SBX_ENOMEM.
 */
enum sbx_err sbx_idcache_get(const char *token, long long now,
    struct sbx_oidc_identity *out);

/*
 * Remembers a copy of id, verified from token under the current keys,
 * until id->exp. Failing to
 * remember (out of memory) is silent: the next request verifies again.
 */
void sbx_idcache_put(const char *token, const struct sbx_oidc_identity *id);

/* Forgets every entry (tests; a process that changes its settings). */
void sbx_idcache_clear(void);

#endif
