/*
 * The inputs a route declares (http.h): the query and path parameters
 * checked against the route's table before its handler runs, the checked
 * values as the handler reads them, and the check of a route table itself
 * (run by --routes and at start, so that a table that contradicts its
 * pattern never serves).
 *
 * This runs on every request: it walks the few parameters a request has
 * once per declared input, allocates nothing and points the values into
 * the request's own parameter lists.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "common/api/http.h"
#include "common/core/json.h"
#include "common/core/log.h"

#define MODULE "http"

/* What an absent or undeclared input reads as. */
static const struct sbx_arg absent = { NULL, 0 };

/* The parameter called name in p; *twice set when it is there again. */
static struct sbx_param *
param_find(struct sbx_params *p, const char *name, int *twice)
{
	struct sbx_param *hit = NULL;
	size_t i;

	*twice = 0;
	if (p == NULL)
		return NULL;
	for (i = 0; i < p->n; i++) {
		if (strcmp(p->items[i].name, name) != 0)
			continue;
		if (hit != NULL) {
			*twice = 1;
			break;
		}
		hit = &p->items[i];
	}
	return hit;
}

/* Decimal digits only, no sign or space; 0 on anything else or overflow. */
static int
int_parse(const char *s, long long *out)
{
	long long v = 0;
	int d;

	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return 0;
		d = *s - '0';
		if (v > (LLONG_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	*out = v;
	return 1;
}

static int
value_ok(const struct sbx_input *in, const char *v, long long *num)
{
	size_t i, len;

	switch (in->type) {
	case SBX_I_INT:
		return int_parse(v, num) && *num >= in->min && *num <= in->max;
	case SBX_I_ENUM:
		for (i = 0; in->choices != NULL && in->choices[i] != NULL; i++)
			if (strcmp(in->choices[i], v) == 0) {
				*num = (long long)i;
				return 1;
			}
		return 0;
	case SBX_I_STRING:
		len = strlen(v);
		if ((in->min != 0 || in->max != 0) &&
		    ((long long)len < in->min || (long long)len > in->max))
			return 0;
		return in->valid == NULL || in->valid(v);
	}
	return 0;
}

/* The 400's detail of a bad value, when the table gives none. */
static void
bad_value_detail(const struct sbx_input *in, char *detail, size_t len)
{
	size_t i, o;

	if (in->detail != NULL) {
		sbx_json_fmt(detail, len, "%s", in->detail);
		return;
	}
	switch (in->type) {
	case SBX_I_INT:
		sbx_json_fmt(detail, len, "%s is an integer from %lld to %lld",
		    in->name, in->min, in->max);
		return;
	case SBX_I_ENUM:
		o = sbx_json_fmt(detail, len, "%s is one of", in->name);
		for (i = 0; in->choices != NULL && in->choices[i] != NULL; i++)
			o += sbx_json_fmt(detail + o, len - o, "%s %s",
			    i > 0 ? "," : "", in->choices[i]);
		return;
	case SBX_I_STRING:
		break;
	}
	sbx_json_fmt(detail, len, "%s is not valid", in->name);
}

static void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

enum sbx_err
sbx_http_inputs_check(const struct sbx_input *decl, size_t n,
    struct sbx_params *query, struct sbx_params *path, int is_admin,
    struct sbx_arg *args, const char **bad, char *detail, size_t detail_len)
{
	const struct sbx_input *in;
	struct sbx_param *p;
	long long num = 0;
	size_t i;
	int twice;

	*bad = NULL;
	detail[0] = '\0';
	for (i = 0; i < n; i++) {
		in = &decl[i];
		args[i].str = NULL;
		args[i].num = in->type == SBX_I_INT ? in->def :
		    in->type == SBX_I_ENUM ? -1 : 0;
		p = param_find(in->flags & SBX_I_PATH ? path : query, in->name,
		    &twice);
		if (p != NULL && (in->flags & SBX_I_ADMIN) && !is_admin)
			p = NULL;
		if (p != NULL && (in->flags & SBX_I_EMPTY_ABSENT) &&
		    p->value[0] == '\0')
			p = NULL;
		if (p == NULL) {
			if (!(in->flags & SBX_I_REQUIRED))
				continue;
			*bad = in->name;
			sbx_json_fmt(detail, detail_len, "%s: is required",
			    in->name);
			return SBX_EINVAL;
		}
		*bad = in->name;
		if ((in->flags & SBX_I_ADMIN_ONLY) && !is_admin) {
			sbx_json_fmt(detail, detail_len, "only an administrator "
			    "may name %s", in->name);
			return SBX_EFORBIDDEN;
		}
		if (twice) {
			sbx_json_fmt(detail, detail_len, "%s: appears more than "
			    "once", in->name);
			return SBX_EINVAL;
		}
		if (!value_ok(in, p->value, &num)) {
			bad_value_detail(in, detail, detail_len);
			return SBX_EINVAL;
		}
		*bad = NULL;
		if (in->flags & SBX_I_LOWER)
			lower(p->value);
		args[i].str = p->value;
		if (in->type != SBX_I_STRING)
			args[i].num = num;
	}
	return SBX_OK;
}

const struct sbx_arg *
sbx_req_arg(const struct sbx_req *req, const char *name)
{
	const struct sbx_route *r = req->route;
	size_t i;

	for (i = 0; r != NULL && i < r->ninputs && i < SBX_ROUTE_INPUTS_MAX;
	    i++)
		if (strcmp(r->inputs[i].name, name) == 0)
			return &req->args[i];
	sbx_log(SBX_LOG_ERROR, MODULE, "route %s %s declares no input %s",
	    r != NULL ? r->method : "-", r != NULL ? r->pattern : "-", name);
	return &absent;
}

/* ------------------------------------------------------------ tables */

/* The input of r called name (of length len) with SBX_I_PATH, or NULL. */
static const struct sbx_input *
path_input(const struct sbx_route *r, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < r->ninputs; i++)
		if ((r->inputs[i].flags & SBX_I_PATH) &&
		    strlen(r->inputs[i].name) == len &&
		    memcmp(r->inputs[i].name, name, len) == 0)
			return &r->inputs[i];
	return NULL;
}

static int
route_check(const struct sbx_route *r, char *why, size_t len)
{
	const struct sbx_input *in;
	const char *p, *e, *seg;
	size_t i, j, braces = 0;

	if (r->ninputs > SBX_ROUTE_INPUTS_MAX) {
		snprintf(why, len, "%s %s: more than %d inputs", r->method,
		    r->pattern, SBX_ROUTE_INPUTS_MAX);
		return 0;
	}
	for (p = r->pattern; (seg = strchr(p, '{')) != NULL; p = e + 1) {
		e = strchr(seg, '}');
		if (e == NULL)
			break;
		braces++;
		if (path_input(r, seg + 1, (size_t)(e - seg - 1)) == NULL) {
			snprintf(why, len, "%s %s: {%.*s} is not declared",
			    r->method, r->pattern, (int)(e - seg - 1), seg + 1);
			return 0;
		}
	}
	for (i = 0; i < r->ninputs; i++) {
		in = &r->inputs[i];
		for (j = 0; j < i; j++)
			if (strcmp(r->inputs[j].name, in->name) == 0) {
				snprintf(why, len, "%s %s: %s declared twice",
				    r->method, r->pattern, in->name);
				return 0;
			}
		if ((in->type == SBX_I_ENUM && (in->choices == NULL ||
		    in->choices[0] == NULL)) || in->min > in->max) {
			snprintf(why, len, "%s %s: %s has no values", r->method,
			    r->pattern, in->name);
			return 0;
		}
		if (in->flags & SBX_I_PATH) {
			if (braces == 0) {
				snprintf(why, len, "%s %s: %s is not in the path",
				    r->method, r->pattern, in->name);
				return 0;
			}
			braces--;
		}
	}
	if (braces != 0) {
		snprintf(why, len, "%s %s: a {name} is declared twice",
		    r->method, r->pattern);
		return 0;
	}
	return 1;
}

int
sbx_http_routes_check(const struct sbx_route *routes, size_t n, char *why,
    size_t why_len)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!route_check(&routes[i], why, why_len))
			return 0;
	return 1;
}
