/*
 * Personal API tokens: long-lived, named, revocable bearer
 * credentials a signed-in person makes for a program. This module owns
 * their form, their hashing and all their SQL; it knows no HTTP (the
 * routes are in tokens_api.h).
 *
 * A token is SBX_TOKEN_PREFIX followed by 43 base64url characters (32
 * random bytes), so a leaked one is recognisable by secret scanners and
 * is told apart from a session token (a JWT) by its first bytes. It is
 * shown once, when made; only its SHA-256 (hex) is stored, so a database
 * dump holds no usable token. A token authenticates while it is not
 * revoked, has not expired and its user is not disabled; a user has at
 * most SBX_TOKENS_MAX_LIVE tokens that are neither revoked nor expired.
 *
 * Functions that reach the database return SBX_EUNAVAILABLE when it
 * cannot be reached. Times are seconds since the epoch, 0 for "none".
 */
#ifndef SBX_TOKENS_H
#define SBX_TOKENS_H

#include <stddef.h>

#include "common/core/err.h"
#include "common/domain/users.h"

#define SBX_TOKEN_PREFIX "sbx_pat_"
#define SBX_TOKEN_RANDOM_BYTES 32
/* The prefix, 43 base64url characters and the NUL. */
#define SBX_TOKEN_LEN (sizeof(SBX_TOKEN_PREFIX) - 1 + 43)
#define SBX_TOKEN_BUF (SBX_TOKEN_LEN + 1)
/* Hex SHA-256 and the NUL. */
#define SBX_TOKEN_HASH_BUF 65

#define SBX_TOKENS_MAX_LIVE 20
#define SBX_TOKEN_NAME_MAX 64		/* characters, not bytes */
#define SBX_TOKEN_DAYS_MIN 1
#define SBX_TOKEN_DAYS_MAX 365
#define SBX_TOKEN_DAYS_DEFAULT 90
/* last_used_at is written at most this often per token. */
#define SBX_TOKEN_TOUCH_SECONDS 60

/* A token as listed; never holds the secret. */
struct sbx_token {
	char id[40];
	char *name;
	long long created_at;
	long long expires_at;
	long long last_used_at;	/* 0: never used */
	long long revoked_at;	/* 0: not revoked */
};

struct sbx_token_list {
	struct sbx_token *items;
	size_t n;
};

void sbx_token_fini(struct sbx_token *t);
void sbx_token_list_fini(struct sbx_token_list *l);

/*
 * 1 when name is 1 to SBX_TOKEN_NAME_MAX printable characters: valid
 * UTF-8 with no control character (C0, DEL, C1).
 */
int sbx_tokens_name_valid(const char *name);

/*
 * 1 when token has the exact form of an API token (the prefix, then 43
 * base64url characters). Says nothing about whether it is good.
 */
int sbx_tokens_form_valid(const char *token);

/* 1 when token starts with SBX_TOKEN_PREFIX (an API token, good or not). */
int sbx_tokens_has_prefix(const char *token);

/* A new random token into out (SBX_TOKEN_BUF bytes). SBX_EINTERNAL when
 * the system's random source fails. */
enum sbx_err sbx_tokens_generate(char out[SBX_TOKEN_BUF]);

/* The stored form of token: hex SHA-256 into out (SBX_TOKEN_HASH_BUF). */
enum sbx_err sbx_tokens_hash(const char *token, char out[SBX_TOKEN_HASH_BUF]);

/*
 * Makes a token for user_id named name, expiring in days days, and fills
 * secret (SBX_TOKEN_BUF bytes, to be shown once and wiped by the caller)
 * and out (the caller calls sbx_token_fini). SBX_ECONFLICT when the user
 * already has SBX_TOKENS_MAX_LIVE live tokens, SBX_EFORBIDDEN when the
 * user is disabled or unknown; nothing is written then. The limit holds
 * under concurrent requests: each create also updates the user's row, so
 * two at once conflict and one is re-run.
 */
enum sbx_err sbx_tokens_create(const char *user_id, const char *name,
    int days, char secret[SBX_TOKEN_BUF], struct sbx_token *out);

/*
 * The tokens of user_id, or with owner_email non-NULL those of the users
 * with that email (lower case), newest first, at most limit of them,
 * revoked and expired ones included until housekeeping deletes them.
 * The caller calls sbx_token_list_fini on out.
 */
enum sbx_err sbx_tokens_list(const char *user_id, const char *owner_email,
    size_t limit, struct sbx_token_list *out);

/*
 * Revokes token id, of user_id only when user_id is non-NULL. A token
 * already revoked stays as it was and is SBX_OK. SBX_ENOTFOUND when there
 * is no such token (or it is another user's), including an id that is
 * not a UUID.
 */
enum sbx_err sbx_tokens_revoke(const char *id, const char *user_id);

/*
 * The user of an API token presented by a client. SBX_EAUTH when the
 * token is malformed, unknown, revoked or expired, or its user disabled.
 * On SBX_OK fills user (sbx_users_user_fini) and token_id (40 bytes), and
 * updates the token's last_used_at if it is older than
 * SBX_TOKEN_TOUCH_SECONDS (a failed update is logged, not returned).
 */
enum sbx_err sbx_tokens_check(const char *token, struct sbx_user *user,
    char token_id[40]);

#endif
