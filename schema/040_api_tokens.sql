-- 040_api_tokens: personal API tokens, long-lived bearer
-- credentials a signed-in person makes for a program (a CLI, a CI job),
-- names, lists and revokes.
--
-- Only the SHA-256 of a token is stored (hex, token_hash): the token
-- itself is 32 random bytes, so a hash without a salt or a slow KDF is
-- enough for a database dump to reveal no usable token. A token is found
-- by its hash (the UNIQUE index) and is good while it is not revoked, has
-- not expired and its user is not disabled (common/tokens.h).
-- last_used_at is written at most once a minute per token. The reaper
-- deletes rows expired or revoked over 30 days ago.
--
-- DSQL (see 001_init.sql): uuid key, no foreign key (user_id is kept
-- consistent by common/tokens.c), plain indexes, IF NOT EXISTS throughout.
CREATE TABLE IF NOT EXISTS api_tokens (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL,
    name          text NOT NULL,
    token_hash    text NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    last_used_at  timestamptz,
    revoked_at    timestamptz
);

CREATE INDEX IF NOT EXISTS api_tokens_user_id_idx ON api_tokens (user_id, created_at);
CREATE INDEX IF NOT EXISTS api_tokens_expires_at_idx ON api_tokens (expires_at);
CREATE INDEX IF NOT EXISTS api_tokens_revoked_at_idx ON api_tokens (revoked_at);
