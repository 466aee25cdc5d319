/*
 * Small helpers every layer uses, one of each: wiping secrets, a growable
 * string, percent-encoding, building a form or query string, and checking
 * the characters of a name. Secrets
 * pass through all of them (AWS keys in a canonical request, a client
 * secret in a token request), so the string wipes what it frees and what
 * it leaves behind when it grows.
 */
#ifndef SBX_UTIL_H
#define SBX_UTIL_H

#include <stddef.h>

#include "common/core/err.h"

/* Overwrites n bytes at p with zeros the compiler may not elide. */
void sbx_util_wipe(void *p, size_t n);

/* Wipes the string s (up to its NUL) and frees it; NULL is fine. */
void sbx_util_wipe_free(char *s);

/*
 * A growable string, always NUL-terminated once something was added.
 * Start it zeroed ({ 0 }, or with .max set: the most bytes it may hold,
 * 0 for no limit). A failed add is sticky: err says why (SBX_ENOMEM, or
 * SBX_ETOOBIG past max) and later adds do nothing, so a caller may add
 * several pieces and check once. It grows by copying and wipes what it
 * leaves behind, and _fini wipes it too.
 */
struct sbx_util_buf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;
	enum sbx_err err;
};

/* Appends n bytes; 0, or -1 when the buffer is (now) failed. */
int sbx_util_buf_addn(struct sbx_util_buf *b, const void *p, size_t n);
int sbx_util_buf_add(struct sbx_util_buf *b, const char *s);

/*
 * Makes room for n more bytes at once, so that a caller who knows the
 * size roughly (a page of a list) does not grow and wipe it step by step.
 * 0, or -1 when the buffer is (now) failed.
 */
int sbx_util_buf_reserve(struct sbx_util_buf *b, size_t n);

/*
 * Appends s percent-encoded: every byte but RFC 3986's unreserved ones
 * (A-Z a-z 0-9 - . _ ~) as %XX in upper case, as SigV4, the Query API
 * and application/x-www-form-urlencoded all accept; '/' kept when
 * keep_slash (a SigV4 path).
 */
int sbx_util_buf_add_pct(struct sbx_util_buf *b, const char *s,
    int keep_slash);

/*
 * The form builder: appends "name=value", value percent-encoded, with '&'
 * before it when the buffer is not empty (a form body). A NULL value
 * fails the buffer (SBX_EINVAL).
 */
int sbx_util_buf_add_param(struct sbx_util_buf *b, const char *name,
    const char *value);

/* The same for a URL: '?' before the first parameter, '&' after. */
int sbx_util_buf_add_query(struct sbx_util_buf *b, const char *name,
    const char *value);

/*
 * Hands the string to the caller (heap, caller frees; "" when nothing was
 * added) and resets b; NULL (b wiped and reset) when b had failed.
 */
char *sbx_util_buf_take(struct sbx_util_buf *b);

/* Wipes and frees the string and resets b; NULL and a zeroed b are fine. */
void sbx_util_buf_fini(struct sbx_util_buf *b);

/* s percent-encoded as sbx_util_buf_add_pct does (heap; NULL on ENOMEM). */
char *sbx_util_pct_encode(const char *s);

/* Character sets for sbx_util_chars_valid. */
#define SBX_UTIL_LOWER "abcdefghijklmnopqrstuvwxyz"
#define SBX_UTIL_UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define SBX_UTIL_DIGITS "0123456789"
/* Visible ASCII, 0x21 to 0x7e. */
#define SBX_UTIL_VISIBLE "!\"#$%&'()*+,-./" SBX_UTIL_DIGITS ":;<=>?@" \
	SBX_UTIL_UPPER "[\\]^_`" SBX_UTIL_LOWER "{|}~"

/*
 * The shape of a name or key: s (NULL is not valid) is min to max bytes,
 * its first byte one of first (NULL: any of rest) and every other one of
 * rest. For instance ^[a-z][a-z0-9-]{2,62}$ is
 * (s, 3, 63, SBX_UTIL_LOWER, SBX_UTIL_LOWER SBX_UTIL_DIGITS "-").
 */
int sbx_util_chars_valid(const char *s, size_t min, size_t max,
    const char *first, const char *rest);

/*
 * Copies s (NULL: "") into dst, cap bytes with its NUL; a longer s is cut
 * before a character, never inside one of UTF-8's multi-byte sequences.
 * Nothing is written when cap is 0.
 */
void sbx_util_copy_utf8(char *dst, size_t cap, const char *s);

/* The first byte at or after p that is not a space, tab, CR or LF. */
const char *sbx_util_skip_blank(const char *p);

#endif
