/*
 * Reading what a request carries (see http.h): percent-decoding, the query
 * string, the Cookie header, the parameter lists they fill, and matching a
 * path against a route's pattern. Pure functions: the unit and fuzz tests
 * call them directly.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "common/api/http.h"
#include "common/api/http_internal.h"
#include "common/core/config.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "http"

/* ------------------------------------------------------------ small helpers */

long long
sbx_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

char *
sbx_http_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

int
sbx_http_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A CGI parameter's value in a "NAME=value" array, or NULL. */
const char *
sbx_http_env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* ------------------------------------------------------------ parameters */

void
sbx_params_fini(struct sbx_params *params)
{
	size_t i;

	if (params == NULL)
		return;
	for (i = 0; i < params->n; i++) {
		sbx_util_wipe_free(params->items[i].name);
		sbx_util_wipe_free(params->items[i].value);
	}
	free(params->items);
	params->items = NULL;
	params->n = 0;
}

const char *
sbx_params_get(const struct sbx_params *params, const char *name)
{
	size_t i;

	if (params == NULL || name == NULL)
		return NULL;
	for (i = 0; i < params->n; i++)
		if (strcmp(params->items[i].name, name) == 0)
			return params->items[i].value;
	return NULL;
}

/*
 * Appends a pair: copies of the len bytes at name and at value. The one
 * way every parser here adds a pair; the new pair is the last item.
 */
static enum sbx_err
params_add(struct sbx_params *p, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
	struct sbx_param *items = NULL;
	char *n = sbx_http_strndup(name, name_len);
	char *v = sbx_http_strndup(value, value_len);

	if (n == NULL || v == NULL ||
	    (items = realloc(p->items, (p->n + 1) * sizeof(*items))) == NULL) {
		free(n);
		free(v);
		return SBX_ENOMEM;
	}
	p->items = items;
	p->items[p->n].name = n;
	p->items[p->n].value = v;
	p->n++;
	return SBX_OK;
}

enum sbx_err
sbx_http_unescape(char *s, int plus_is_space)
{
	char *r, *w;
	int hi, lo;

	for (r = w = s; *r != '\0'; r++, w++) {
		if (*r == '%') {
			hi = hexval(r[1]);
			lo = hi < 0 ? -1 : hexval(r[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return SBX_EPARSE;
			*w = (char)(hi << 4 | lo);
			r += 2;
		} else if (*r == '+' && plus_is_space) {
			*w = ' ';
		} else {
			*w = *r;
		}
	}
	*w = '\0';
	return SBX_OK;
}

/*
 * application/x-www-form-urlencoded: pairs split on '&', empty pieces
 * skipped, a name without '=' has the empty value. A bad escape, an
 * escaped NUL or an empty name makes the whole query malformed: a client
 * that sends one is broken, and guessing what it meant helps nobody.
 */
enum sbx_err
sbx_http_parse_query(const char *query, struct sbx_params *out)
{
	const char *p, *amp, *eq, *vs;
	struct sbx_param *last;
	enum sbx_err err = SBX_OK;

	out->items = NULL;
	out->n = 0;
	if (query == NULL)
		return SBX_OK;
	for (p = query; *p != '\0'; p = *amp != '\0' ? amp + 1 : amp) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == p) {
			err = SBX_EPARSE;
			break;
		}
		if (eq == NULL)
			eq = vs = amp;
		else
			vs = eq + 1;
		err = params_add(out, p, (size_t)(eq - p), vs,
		    (size_t)(amp - vs));
		if (err != SBX_OK)
			break;
		last = &out->items[out->n - 1];
		if (sbx_http_unescape(last->name, 1) != SBX_OK ||
		    sbx_http_unescape(last->value, 1) != SBX_OK) {
			err = SBX_EPARSE;
			break;
		}
	}
	if (err != SBX_OK)
		sbx_params_fini(out);
	return err;
}

/*
 * Cookie header (RFC 6265 section 4.2): "a=b; c=d", values optionally in
 * double quotes, not percent-decoded. Parsed forgivingly, as browsers and
 * lenient servers do: a pair that is malformed (no '=', an empty name, an
 * unterminated or inner quote, a control character) is skipped and the
 * others are kept. Any application on the same site can set a cookie our
 * user's browser then sends us; refusing the whole header for one bad
 * pair would sign the user out and block sign-in. SBX_EPARSE is never
 * returned; only SBX_ENOMEM is.
 */
static int
cookie_pair_clean(const char *s, const char *end)
{
	for (; s < end; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

enum sbx_err
sbx_http_parse_cookies(const char *header, struct sbx_params *out)
{
	const char *p, *end, *eq, *ns, *ne, *vs, *ve;
	enum sbx_err err = SBX_OK;

	out->items = NULL;
	out->n = 0;
	if (header == NULL)
		return SBX_OK;
	for (p = header; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || !cookie_pair_clean(p, end))
			continue;
		for (ns = p; ns < eq && sbx_http_is_ows(*ns); ns++)
			;
		for (ne = eq; ne > ns && sbx_http_is_ows(ne[-1]); ne--)
			;
		if (ne == ns)
			continue;
		for (vs = eq + 1; vs < end && sbx_http_is_ows(*vs); vs++)
			;
		for (ve = end; ve > vs && sbx_http_is_ows(ve[-1]); ve--)
			;
		if (vs < ve && *vs == '"') {
			if (ve - vs < 2 || ve[-1] != '"')
				continue;
			vs++;
			ve--;
		}
		if (memchr(vs, '"', (size_t)(ve - vs)) != NULL)
			continue;
		err = params_add(out, ns, (size_t)(ne - ns), vs,
		    (size_t)(ve - vs));
		if (err != SBX_OK) {
			sbx_params_fini(out);
			break;
		}
	}
	return err;
}

/* ------------------------------------------------------------ routing */

/*
 * Walks pattern and path one '/'-separated segment at a time. A literal
 * segment must be equal byte for byte (so "/api/" and "/api" differ); a
 * "{name}" segment takes one non-empty segment of the path, percent-decoded,
 * which may not decode to something holding '/' (an escaped slash must not
 * smuggle a second segment into a name).
 */
int
sbx_http_match(const char *pattern, const char *path, struct sbx_params *out)
{
	const char *pp = pattern, *sp = path, *pe, *se;
	char *value;
	struct sbx_params params = { NULL, 0 };

	if (out != NULL) {
		out->items = NULL;
		out->n = 0;
	}
	if (pattern == NULL || path == NULL || *pp != '/' || *sp != '/')
		return 0;
	for (;;) {
		pp++;
		sp++;
		pe = strchr(pp, '/');
		if (pe == NULL)
			pe = pp + strlen(pp);
		se = strchr(sp, '/');
		if (se == NULL)
			se = sp + strlen(sp);
		if (pe - pp >= 2 && *pp == '{' && pe[-1] == '}') {
			if (se == sp || params_add(&params, pp + 1,
			    (size_t)(pe - pp - 2), sp, (size_t)(se - sp)) != SBX_OK)
				goto nomatch;
			value = params.items[params.n - 1].value;
			if (sbx_http_unescape(value, 0) != SBX_OK ||
			    strchr(value, '/') != NULL)
				goto nomatch;
		} else if (pe - pp != se - sp ||
		    memcmp(pp, sp, (size_t)(pe - pp)) != 0) {
			goto nomatch;
		}
		if (*pe == '\0' || *se == '\0') {
			if (*pe != *se)
				goto nomatch;
			break;
		}
		pp = pe;
		sp = se;
	}
	if (out != NULL)
		*out = params;
	else
		sbx_params_fini(&params);
	return 1;
nomatch:
	sbx_params_fini(&params);
	return 0;
}

