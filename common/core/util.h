/*
 * Small helpers every layer uses, one of each: wiping secrets, a growable
 * string, percent-encoding and building a form or query string. Secrets
 * pass through all of them (AWS keys in a canonical request, a client
 * secret in a token request), so the string wipes what it frees and what
 * it leaves behind when it grows.
 */
#ifndef SBX_UTIL_H
#define SBX_UTIL_H

#include <stddef.h>

/* Overwrites n bytes at p with zeros the compiler may not elide. */
void sbx_util_wipe(void *p, size_t n);

/* Wipes the string s (up to its NUL) and frees it; NULL is fine. */
void sbx_util_wipe_free(char *s);

#endif
