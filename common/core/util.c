/*
 * Wiping secrets, a growable string, percent-encoding, the characters of
 * a name (see util.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/util.h"

void
sbx_util_wipe(void *p, size_t n)
{
	if (p != NULL && n > 0)
		explicit_bzero(p, n);
}

void
sbx_util_wipe_free(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Room for n more bytes and a NUL; 0, or -1 with b->err set. */
static int
buf_grow(struct sbx_util_buf *b, size_t n)
{
	char *np;
	size_t ncap;

	if (b->err != SBX_OK)
		return -1;
	if ((b->max > 0 && n > b->max - b->len) ||
	    n >= SIZE_MAX / 2 - b->len) {
		b->err = SBX_ETOOBIG;
		return -1;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		/* Grow by copying so the old buffer can be wiped. */
		if ((np = malloc(ncap)) == NULL) {
			b->err = SBX_ENOMEM;
			return -1;
		}
		if (b->p != NULL) {
			memcpy(np, b->p, b->len);
			explicit_bzero(b->p, b->cap);
			free(b->p);
		}
		b->p = np;
		b->cap = ncap;
	}
	return 0;
}

int
sbx_util_buf_addn(struct sbx_util_buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int
sbx_util_buf_reserve(struct sbx_util_buf *b, size_t n)
{
	if (buf_grow(b, n) != 0)
		return -1;
	b->p[b->len] = '\0';
	return 0;
}

int
sbx_util_buf_add(struct sbx_util_buf *b, const char *s)
{
	return sbx_util_buf_addn(b, s, strlen(s));
}

static int
unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

int
sbx_util_buf_add_pct(struct sbx_util_buf *b, const char *s, int keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p, *run;
	char e[3];

	/* Runs of bytes that stay as they are go in one copy. */
	for (p = run = (const unsigned char *)s; *p != '\0'; p++) {
		if (unreserved(*p) || (keep_slash && *p == '/'))
			continue;
		if (p > run)
			sbx_util_buf_addn(b, run, (size_t)(p - run));
		e[0] = '%';
		e[1] = hex[*p >> 4];
		e[2] = hex[*p & 15];
		sbx_util_buf_addn(b, e, 3);
		run = p + 1;
	}
	if (p > run)
		sbx_util_buf_addn(b, run, (size_t)(p - run));
	/* Zero bytes may have been added: the string is terminated anyway. */
	return sbx_util_buf_addn(b, "", 0);
}

int
sbx_util_buf_add_param(struct sbx_util_buf *b, const char *name,
    const char *value)
{
	if (value == NULL && b->err == SBX_OK)
		b->err = SBX_EINVAL;
	if (b->len > 0)
		sbx_util_buf_addn(b, "&", 1);
	sbx_util_buf_add(b, name);
	sbx_util_buf_addn(b, "=", 1);
	return sbx_util_buf_add_pct(b, value != NULL ? value : "", 0);
}

int
sbx_util_buf_add_query(struct sbx_util_buf *b, const char *name,
    const char *value)
{
	int first = b->p == NULL || memchr(b->p, '?', b->len) == NULL;

	if (value == NULL && b->err == SBX_OK)
		b->err = SBX_EINVAL;
	sbx_util_buf_addn(b, first ? "?" : "&", 1);
	sbx_util_buf_add(b, name);
	sbx_util_buf_addn(b, "=", 1);
	return sbx_util_buf_add_pct(b, value != NULL ? value : "", 0);
}

char *
sbx_util_buf_take(struct sbx_util_buf *b)
{
	char *p;

	if (b->err != SBX_OK || sbx_util_buf_addn(b, "", 0) != 0) {
		sbx_util_buf_fini(b);
		return NULL;
	}
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

void
sbx_util_buf_fini(struct sbx_util_buf *b)
{
	size_t max = b->max;

	if (b->p != NULL) {
		explicit_bzero(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
	b->max = max;
}

char *
sbx_util_pct_encode(const char *s)
{
	struct sbx_util_buf b = { 0 };

	if (s == NULL)
		return NULL;
	sbx_util_buf_add_pct(&b, s, 0);
	return sbx_util_buf_take(&b);
}

int
sbx_util_chars_valid(const char *s, size_t min, size_t max,
    const char *first, const char *rest)
{
	size_t len;

	if (s == NULL)
		return 0;
	len = strlen(s);
	if (len < min || len > max)
		return 0;
	if (len == 0)
		return 1;
	if (strchr(first != NULL ? first : rest, s[0]) == NULL)
		return 0;
	return strspn(s + 1, rest) == len - 1;
}

const char *
sbx_util_skip_blank(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

void
sbx_util_copy_utf8(char *dst, size_t cap, const char *s)
{
	size_t n;

	if (cap == 0)
		return;
	if (s == NULL)
		s = "";
	n = strlen(s);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}
