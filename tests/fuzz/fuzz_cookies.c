/*
 * Fuzz target for the Cookie header (common/api/http.c): the input is the
 * header's value, parsed alone by sbx_http_parse_cookies and as a
 * request's HTTP_COOKIE by sbx_req_init_env, where the session and CSRF
 * cookies are looked up.
 *
 * Contracts, besides the sanitizers': a refused header leaves nothing
 * behind and a request built from it has no cookies; names are non-empty
 * and hold no ';', '=' or surrounding blanks; values hold no ';' and no
 * control character but tab (blanks around a value survive only inside
 * quotes); writing the parsed pairs back as "n=v; n=v", quoting values
 * with blanks around them, and parsing that gives the same pairs (the
 * parser has one reading of a header); the request's lookups agree with the
 * parser.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/api/http.h"
#include "fuzz.h"
#include "fuzz_params.h"

static const char *const looked_up[] = {
	"__Host-sbx_session", "__Host-sbx_csrf", "__Host-sbx_login", "a",
};

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

static void
check_pair(const struct sbx_param *p)
{
	size_t nl = strlen(p->name), vl = strlen(p->value), i;

	CHECK(nl > 0 && strpbrk(p->name, ";=") == NULL);
	CHECK(!blank(p->name[0]) && !blank(p->name[nl - 1]));
	CHECK(strchr(p->value, ';') == NULL);
	for (i = 0; i < vl; i++)
		CHECK(((unsigned char)p->value[i] >= 0x20 ||
		    p->value[i] == '\t') && p->value[i] != 0x7f);
}

/* A value that keeps its blanks only inside quotes. */
static int
quoted(const char *v)
{
	size_t n = strlen(v);

	return n > 0 && (blank(v[0]) || blank(v[n - 1]));
}

/* The pairs written back as a header; NULL when out of memory. */
static char *
rewrite(const struct sbx_params *p)
{
	size_t i, len = 1;
	char *s;

	for (i = 0; i < p->n; i++)
		len += strlen(p->items[i].name) + strlen(p->items[i].value) + 5;
	if ((s = malloc(len)) == NULL)
		return NULL;
	s[0] = '\0';
	for (i = 0; i < p->n; i++) {
		strcat(s, p->items[i].name);
		strcat(s, quoted(p->items[i].value) ? "=\"" : "=");
		strcat(s, p->items[i].value);
		if (quoted(p->items[i].value))
			strcat(s, "\"");
		if (i + 1 < p->n)
			strcat(s, "; ");
	}
	return s;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const struct fuzz_params_target t = {
		sbx_http_parse_cookies, check_pair, rewrite, "HTTP_COOKIE",
		offsetof(struct sbx_req, cookies), sbx_req_cookie, looked_up,
		sizeof(looked_up) / sizeof(looked_up[0]),
	};

	/* The whole input is the header: no selector byte here. */
	fuzz_params_one(&t, data, size);
	return 0;
}
