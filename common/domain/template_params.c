/*
 * The pure half of template.h (no database, so unit tests cover it):
 * names, TTL bounds, an admin's new version checked, and the parameters
 * of a sandbox checked against those its template declares.
 *
 * The declared parameters are stored as JSON text. Two shapes are read:
 * our array [{"name", "default"?, "no_echo"?, "allowed_values"?,
 * "max_length"?, "required"?, "description"?}], and CloudFormation's own
 * "Parameters" object {"Name": {"Default"?, "NoEcho"?, "AllowedValues"?,
 * "MaxLength"?, "Description"?}}, so an admin may paste either.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/core/config.h"
#include "common/core/json.h"
#include "common/core/util.h"
#include "common/domain/template.h"

/* One declared parameter, pointing into the parsed declaration. */
struct decl {
	const cJSON *obj;		/* the declaration itself */
	const char *name;
	const cJSON *def;		/* string/number/bool or NULL */
	int no_echo;
	const cJSON *allowed;		/* array or NULL */
	long max_length;		/* 0: none */
	int required;
};

/* CloudFormation parameter names: alphanumeric, up to 255. */
static int
param_name_valid(const char *s)
{
	return sbx_util_chars_valid(s, 1, 255, NULL,
	    SBX_UTIL_LOWER SBX_UTIL_UPPER SBX_UTIL_DIGITS);
}

/*
 * The spelling rules, in one place: a member of a declaration is known by
 * its name compared without case and without underscores, so "no_echo",
 * "NoEcho" and "noEcho" are one member, as are "default" and "Default".
 * Reading a declaration, redacting it for display and converting
 * CloudFormation's Parameters all go through member() and truthy(): a
 * spelling one of them missed would be a NoEcho default shown in clear.
 */
static int
spelled(const char *name, const char *key)
{
	for (;;) {
		while (*name == '_')
			name++;
		while (*key == '_')
			key++;
		if (*name == '\0' || *key == '\0')
			return *name == *key;
		if (tolower((unsigned char)*name) != tolower((unsigned char)*key))
			return 0;
		name++;
		key++;
	}
}

/* The first member of o spelled key; *count (optional) gets how many. */
static const cJSON *
member_n(const cJSON *o, const char *key, int *count)
{
	const cJSON *c, *first = NULL;
	int n = 0;

	if (cJSON_IsObject(o))
		cJSON_ArrayForEach(c, o) {
			if (c->string != NULL && spelled(c->string, key)) {
				/*
				 * cppcheck reads cJSON_ArrayForEach as one
				 * pass: first is NULL only the first time.
				 */
				/* cppcheck-suppress knownConditionTrueFalse */
				if (first == NULL)
					first = c;
				n++;
			}
		}
	if (count != NULL)
		*count = n;
	return first;
}

static const cJSON *
member(const cJSON *o, const char *key)
{
	return member_n(o, key, NULL);
}

/* true, or a string saying true in any case (CloudFormation's "true"). */
static int
truthy(const cJSON *v)
{
	if (v == NULL)
		return 0;
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	if (cJSON_IsString(v))
		return strcasecmp(v->valuestring, "true") == 0;
	return 0;
}

/*
 * Numbers in a declaration come from an admin's JSON, where 1e300 is a
 * number: every one is range-checked before it is cast, since a double
 * outside the target type makes the cast undefined behaviour.
 */
#define EXACT_MAX 9007199254740992.0	/* 2^53: every whole double below */

/* max_length as a number or a string of digits: 0 (none) to 4096. */
static int
max_length_read(const cJSON *v, long *out)
{
	long long n = 0;
	const char *p;

	if (cJSON_IsNumber(v)) {
		if (!sbx_json_whole(v, 0, 4096, &n))
			return 0;
	} else if (cJSON_IsString(v) && v->valuestring[0] != '\0') {
		/* Digits only, stopping at the bound: no overflow either. */
		for (p = v->valuestring; *p != '\0'; p++)
			if (*p < '0' || *p > '9' ||
			    (n = n * 10 + (*p - '0')) > 4096)
				return 0;
	} else {
		return 0;
	}
	*out = (long)n;
	return 1;
}

/* A default or allowed value: a string, a finite number or a bool. */
static int
scalar_ok(const cJSON *v)
{
	return cJSON_IsString(v) || cJSON_IsBool(v) ||
	    (cJSON_IsNumber(v) && isfinite(v->valuedouble));
}

/* The members a declaration may have, each under any of its spellings. */
static const char *const decl_keys[] = {
	"name", "type", "description", "default", "no_echo", "allowed_values",
	"allowed_pattern", "max_length", "required",
};

/*
 * Reads one declaration from its object. name is the entry's name (the
 * key in the CloudFormation shape, the "name" member in ours).
 */
static enum sbx_err
decl_read(const char *name, const cJSON *o, struct decl *d, char *detail,
    size_t detail_len)
{
	const cJSON *v;

	size_t k;
	int count;

	memset(d, 0, sizeof(*d));
	if (!cJSON_IsObject(o)) {
		snprintf(detail, detail_len,
		    "each declared parameter must be an object");
		return SBX_EINVAL;
	}
	if (!param_name_valid(name)) {
		snprintf(detail, detail_len,
		    "a declared parameter needs an alphanumeric name");
		return SBX_EINVAL;
	}
	/* Two spellings of one member: which one holds is anyone's guess. */
	for (k = 0; k < sizeof(decl_keys) / sizeof(decl_keys[0]); k++) {
		(void)member_n(o, decl_keys[k], &count);
		if (count > 1) {
			snprintf(detail, detail_len, "parameter %s: %s is "
			    "given more than once", name, decl_keys[k]);
			return SBX_EINVAL;
		}
	}
	d->obj = o;
	d->name = name;
	d->def = member(o, "default");
	if (d->def != NULL && !scalar_ok(d->def)) {
		snprintf(detail, detail_len,
		    "parameter %s: default must be a string", name);
		return SBX_EINVAL;
	}
	d->no_echo = truthy(member(o, "no_echo"));
	d->allowed = member(o, "allowed_values");
	if (d->allowed != NULL) {
		const cJSON *a;

		if (!cJSON_IsArray(d->allowed)) {
			snprintf(detail, detail_len,
			    "parameter %s: allowed_values must be an array",
			    name);
			return SBX_EINVAL;
		}
		cJSON_ArrayForEach(a, d->allowed) {
			if (!cJSON_IsString(a) && !(cJSON_IsNumber(a) &&
			    scalar_ok(a))) {
				snprintf(detail, detail_len,
				    "parameter %s: allowed_values must hold "
				    "strings", name);
				return SBX_EINVAL;
			}
		}
	}
	v = member(o, "max_length");
	if (v != NULL && !max_length_read(v, &d->max_length)) {
		snprintf(detail, detail_len, "parameter %s: max_length must "
		    "be a whole number from 0 to 4096", name);
		return SBX_EINVAL;
	}
	v = member(o, "required");
	if (v != NULL)
		d->required = truthy(v);
	else
		d->required = d->def == NULL;
	return SBX_OK;
}

/*
 * Parses declared text into an array of decls (caller frees *out; the
 * decls point into *root, which the caller cJSON_Delete()s).
 */
static enum sbx_err
decls_parse(const char *text, cJSON **root, struct decl **out, size_t *n,
    char *detail, size_t detail_len)
{
	cJSON *r = NULL;
	const cJSON *e;
	struct decl *d = NULL;
	size_t i = 0, cap;
	enum sbx_err err = SBX_OK;

	*root = NULL;
	*out = NULL;
	*n = 0;
	if (text == NULL || *text == '\0')
		return SBX_OK;
	r = cJSON_Parse(text);
	if (r == NULL || (!cJSON_IsArray(r) && !cJSON_IsObject(r))) {
		snprintf(detail, detail_len,
		    "declared parameters must be a JSON array or object");
		err = SBX_EINVAL;
		goto out;
	}
	cap = (size_t)cJSON_GetArraySize(r);
	if (cap == 0)
		goto out;
	d = calloc(cap, sizeof(*d));
	if (d == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	cJSON_ArrayForEach(e, r) {
		const char *name;
		size_t j;

		if (cJSON_IsArray(r)) {
			const cJSON *nm = member(e, "name");

			name = cJSON_IsString(nm) ? nm->valuestring : NULL;
		} else {
			name = e->string;
		}
		err = decl_read(name, e, &d[i], detail, detail_len);
		if (err != SBX_OK)
			goto out;
		for (j = 0; name != NULL && j < i; j++) {
			if (strcmp(d[j].name, name) == 0) {
				snprintf(detail, detail_len,
				    "parameter %s is declared twice", name);
				err = SBX_EINVAL;
				goto out;
			}
		}
		i++;
	}
out:
	if (err != SBX_OK) {
		free(d);
		cJSON_Delete(r);
		return err;
	}
	*root = r;
	*out = d;
	*n = i;
	return SBX_OK;
}

static const struct decl *
decl_find(const struct decl *d, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(d[i].name, name) == 0)
			return &d[i];
	return NULL;
}

enum sbx_err
sbx_template_params_valid(const cJSON *declared, char *detail,
    size_t detail_len)
{
	char *text = NULL;
	cJSON *root = NULL;
	struct decl *d = NULL;
	size_t n;
	enum sbx_err err;

	if (!cJSON_IsArray(declared) && !cJSON_IsObject(declared)) {
		snprintf(detail, detail_len,
		    "parameters must be an array of declarations");
		return SBX_EINVAL;
	}
	if (cJSON_GetArraySize(declared) > 200) {
		snprintf(detail, detail_len,
		    "a template declares at most 200 parameters");
		return SBX_EINVAL;
	}
	text = cJSON_PrintUnformatted(declared);
	if (text == NULL)
		return SBX_ENOMEM;
	err = decls_parse(text, &root, &d, &n, detail, detail_len);
	free(d);
	cJSON_Delete(root);
	free(text);
	return err;
}

/* A scalar JSON value as the string CloudFormation would receive. */
static int
scalar_text(const cJSON *v, char *buf, size_t len)
{
	if (cJSON_IsString(v)) {
		snprintf(buf, len, "%s", v->valuestring);
		return 1;
	}
	if (cJSON_IsBool(v)) {
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return 1;
	}
	if (cJSON_IsNumber(v)) {
		long long n;

		if (sbx_json_whole(v, -EXACT_MAX, EXACT_MAX, &n))
			snprintf(buf, len, "%lld", n);
		else if (isfinite(v->valuedouble))
			snprintf(buf, len, "%.17g", v->valuedouble);
		else
			return 0;
		return 1;
	}
	return 0;
}

static int
allowed_has(const cJSON *allowed, const char *value)
{
	const cJSON *a;
	char buf[512];

	cJSON_ArrayForEach(a, allowed) {
		if (scalar_text(a, buf, sizeof(buf)) && strcmp(buf, value) == 0)
			return 1;
	}
	return 0;
}

/* Longest parameter value accepted (CloudFormation allows 4,096 bytes). */
#define PARAM_VALUE_MAX 4096

enum sbx_err
sbx_template_params_check(const char *declared_json, const cJSON *given,
    cJSON **effective, char *bad, size_t bad_len, char *detail,
    size_t detail_len)
{
	cJSON *root = NULL, *eff = NULL;
	struct decl *d = NULL;
	size_t n = 0, i;
	const cJSON *g;
	enum sbx_err err;
	char buf[PARAM_VALUE_MAX + 1];

	*effective = NULL;
	snprintf(bad, bad_len, "parameters");
	if (given != NULL && !cJSON_IsNull(given) && !cJSON_IsObject(given)) {
		snprintf(detail, detail_len, "parameters must be an object");
		return SBX_EINVAL;
	}
	err = decls_parse(declared_json, &root, &d, &n, detail, detail_len);
	if (err != SBX_OK) {
		/* The template's fault, not the caller's. */
		snprintf(detail, detail_len,
		    "the template's parameter declarations are broken");
		return err == SBX_ENOMEM ? err : SBX_EINTERNAL;
	}
	eff = cJSON_CreateObject();
	if (eff == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	if (cJSON_IsObject(given)) {
		cJSON_ArrayForEach(g, given) {
			const struct decl *dd = decl_find(d, n, g->string);

			sbx_json_fmt(bad, bad_len, "parameters.%s", g->string);
			if (dd == NULL) {
				snprintf(detail, detail_len,
				    "the template declares no parameter of "
				    "this name");
				err = SBX_EINVAL;
				goto out;
			}
			if (!cJSON_IsString(g)) {
				snprintf(detail, detail_len,
				    "parameter values must be strings");
				err = SBX_EINVAL;
				goto out;
			}
			if (strlen(g->valuestring) > PARAM_VALUE_MAX ||
			    (dd->max_length > 0 &&
			    (long)strlen(g->valuestring) > dd->max_length)) {
				snprintf(detail, detail_len,
				    "the value is too long");
				err = SBX_EINVAL;
				goto out;
			}
			if (dd->allowed != NULL &&
			    !allowed_has(dd->allowed, g->valuestring)) {
				/* Never quote the value: it may be NoEcho. */
				snprintf(detail, detail_len,
				    "the value is not one of the allowed "
				    "values");
				err = SBX_EINVAL;
				goto out;
			}
		}
	}
	for (i = 0; i < n; i++) {
		const cJSON *v = cJSON_IsObject(given) ?
		    cJSON_GetObjectItemCaseSensitive(given, d[i].name) : NULL;

		if (v != NULL) {
			snprintf(buf, sizeof(buf), "%s", v->valuestring);
		} else if (d[i].def != NULL) {
			scalar_text(d[i].def, buf, sizeof(buf));
		} else if (d[i].required) {
			snprintf(bad, bad_len, "parameters.%s", d[i].name);
			snprintf(detail, detail_len,
			    "this parameter is required");
			err = SBX_EINVAL;
			goto out;
		} else {
			continue;
		}
		if (cJSON_AddStringToObject(eff, d[i].name, buf) == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
	}
	*effective = eff;
	eff = NULL;
	err = SBX_OK;
out:
	sbx_util_wipe(buf, sizeof(buf));
	sbx_template_params_free(eff);
	free(d);
	cJSON_Delete(root);
	return err;
}

void
sbx_template_params_free(cJSON *params)
{
	cJSON *c;

	if (params == NULL)
		return;
	cJSON_ArrayForEach(c, params)
		if (cJSON_IsString(c))
			sbx_util_wipe(c->valuestring,
			    strlen(c->valuestring));
	cJSON_Delete(params);
}

cJSON *
sbx_template_params_masked(const char *declared_json, const cJSON *params)
{
	cJSON *root = NULL, *out = NULL;
	struct decl *d = NULL;
	size_t n = 0;
	const cJSON *p;
	char detail[160];

	if (decls_parse(declared_json, &root, &d, &n, detail,
	    sizeof(detail)) != SBX_OK)
		n = 0;
	out = cJSON_CreateObject();
	if (out == NULL)
		goto out;
	if (cJSON_IsObject(params)) {
		cJSON_ArrayForEach(p, params) {
			const struct decl *dd = decl_find(d, n, p->string);
			/*
			 * Unknown to the declaration (it changed, or is
			 * broken): mask too, since we cannot tell.
			 */
			int mask = dd == NULL || dd->no_echo;

			cJSON_AddStringToObject(out, p->string,
			    mask ? "****" :
			    (cJSON_IsString(p) ? p->valuestring : ""));
		}
	}
out:
	free(d);
	cJSON_Delete(root);
	return out;
}

cJSON *
sbx_template_params_public(const char *declared_json)
{
	cJSON *root = NULL, *c, *next, *stars;
	struct decl *d = NULL;
	size_t n = 0, i;
	char detail[160];

	if (decls_parse(declared_json, &root, &d, &n, detail,
	    sizeof(detail)) != SBX_OK || root == NULL) {
		/* Broken or empty: show nothing rather than guess. */
		cJSON_Delete(root);
		free(d);
		return cJSON_CreateArray();
	}
	for (i = 0; i < n; i++) {
		if (!d[i].no_echo)
			continue;
		/* Every spelling, though a valid declaration has one. */
		for (c = d[i].obj->child; c != NULL; c = next) {
			next = c->next;
			if (c->string == NULL || !spelled(c->string, "default"))
				continue;
			if ((stars = cJSON_CreateString("****")) == NULL) {
				cJSON_Delete(root);
				free(d);
				return NULL;
			}
			/* The key moves to the new item (no copy to fail). */
			stars->string = c->string;
			c->string = NULL;
			cJSON_ReplaceItemViaPointer((cJSON *)d[i].obj, c, stars);
		}
	}
	free(d);
	return root;
}

cJSON *
sbx_template_params_from_cfn(const cJSON *cfn_params)
{
	cJSON *a = cJSON_CreateArray(), *o;
	const cJSON *p, *v;

	if (a == NULL || !cJSON_IsObject(cfn_params))
		return a;
	cJSON_ArrayForEach(p, cfn_params) {
		if ((o = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, o);
		cJSON_AddStringToObject(o, "name", p->string);
		if (cJSON_IsString(v = member(p, "type")))
			cJSON_AddStringToObject(o, "type", v->valuestring);
		if (cJSON_IsString(v = member(p, "description")))
			cJSON_AddStringToObject(o, "description",
			    v->valuestring);
		if ((v = member(p, "default")) != NULL)
			cJSON_AddItemToObject(o, "default",
			    cJSON_Duplicate(v, 1));
		cJSON_AddBoolToObject(o, "no_echo", truthy(member(p,
		    "no_echo")));
		if ((v = member(p, "allowed_values")) != NULL)
			cJSON_AddItemToObject(o, "allowed_values",
			    cJSON_Duplicate(v, 1));
		if ((v = member(p, "allowed_pattern")) != NULL)
			cJSON_AddItemToObject(o, "allowed_pattern",
			    cJSON_Duplicate(v, 1));
		if ((v = member(p, "max_length")) != NULL)
			cJSON_AddItemToObject(o, "max_length",
			    cJSON_Duplicate(v, 1));
	}
	return a;
}

int
sbx_template_name_valid(const char *name)
{
	return sbx_util_chars_valid(name, 3, 63, SBX_UTIL_LOWER,
	    SBX_UTIL_LOWER SBX_UTIL_DIGITS "-");
}

void
sbx_template_ttl_bounds(long tmpl_default, long tmpl_max,
    long global_default, long global_max, long max_lifetime,
    struct sbx_ttl_bounds *out)
{
	long max = global_max;
	long def = global_default;

	if (tmpl_max > 0 && tmpl_max < max)
		max = tmpl_max;
	if (max_lifetime > 0 && max > max_lifetime)
		max = max_lifetime;
	if (tmpl_default > 0)
		def = tmpl_default;
	if (def > max)
		def = max;
	if (def < 1)
		def = 1;
	out->default_minutes = def;
	out->max_minutes = max;
	out->max_lifetime_minutes = max_lifetime;
}

/* ------------------------------------------------------------ PUT */

static int
capability_known(const char *c)
{
	return strcmp(c, "CAPABILITY_IAM") == 0 ||
	    strcmp(c, "CAPABILITY_NAMED_IAM") == 0 ||
	    strcmp(c, "CAPABILITY_AUTO_EXPAND") == 0;
}

static enum sbx_err
invalid(const char **field, const char *name, char *detail, size_t len,
    const char *msg)
{
	*field = name;
	snprintf(detail, len, "%s", msg);
	return SBX_EINVAL;
}

void
sbx_template_put_checked_fini(struct sbx_template_put_checked *p)
{
	cJSON_Delete(p->doc);
	cJSON_Delete(p->declared);
	free(p->params_text);
	free(p->caps_text);
	memset(p, 0, sizeof(*p));
}

/*
 * Each declared parameter must be one the JSON template takes:
 * declaring one it does not take would make every CreateStack fail.
 */
static enum sbx_err
params_in_doc(const cJSON *declared, const cJSON *doc, const char **field,
    char *detail, size_t detail_len)
{
	const cJSON *tp = cJSON_GetObjectItemCaseSensitive(doc, "Parameters");
	const cJSON *c;
	char msg[200];

	cJSON_ArrayForEach(c, declared) {
		const cJSON *nm = cJSON_IsObject(declared) ? c :
		    cJSON_GetObjectItemCaseSensitive(c, "name");
		const char *pname = cJSON_IsObject(declared) ? c->string :
		    (cJSON_IsString(nm) ? nm->valuestring : "");

		if (cJSON_GetObjectItemCaseSensitive(tp, pname) == NULL) {
			snprintf(msg, sizeof(msg), "parameter %.*s is not in "
			    "the template's Parameters",
			    (int)sbx_json_utf8_cut(pname, 100), pname);
			return invalid(field, "parameters", detail, detail_len,
			    msg);
		}
	}
	return SBX_OK;
}

enum sbx_err
sbx_template_put_check(const struct sbx_template_put *in,
    struct sbx_template_put_checked *p, const char **field, char *detail,
    size_t detail_len)
{
	const struct sbx_config *cfg = sbx_config();
	const char *body_field = in->from_object ? "template" : "body";
	const char *body = in->body != NULL ? in->body : "";
	const char *start = body + strspn(body, " \t\r\n");
	const cJSON *c;
	char msg[200];
	enum sbx_err err;

	memset(p, 0, sizeof(*p));
	*field = NULL;
	if (!sbx_template_name_valid(in->name))
		return invalid(field, "name", detail, detail_len,
		    "template names match ^[a-z][a-z0-9-]{2,62}$");
	if (in->body == NULL)
		return invalid(field, "body", detail, detail_len,
		    "give the CloudFormation template as exactly one of "
		    "\"body\" (text) or \"template\" (object)");
	if (strlen(body) > SBX_TEMPLATE_BODY_MAX)
		return invalid(field, body_field, detail, detail_len,
		    "the template is larger than 51200 bytes, "
		    "CloudFormation's limit for TemplateBody");
	if (*start == '\0')
		return invalid(field, "body", detail, detail_len,
		    "the template is empty");
	/* A JSON template must parse and have Resources; YAML is taken as is. */
	if (*start == '{') {
		p->doc = cJSON_Parse(body);
		if (p->doc == NULL || !cJSON_IsObject(
		    cJSON_GetObjectItemCaseSensitive(p->doc, "Resources"))) {
			err = invalid(field, body_field, detail, detail_len,
			    "the template is not JSON with a \"Resources\" "
			    "object");
			goto out;
		}
	}
	p->declared = in->parameters != NULL ?
	    cJSON_Duplicate(in->parameters, 1) :
	    sbx_template_params_from_cfn(p->doc != NULL ?
	    cJSON_GetObjectItemCaseSensitive(p->doc, "Parameters") : NULL);
	if (p->declared == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	if (sbx_template_params_valid(p->declared, msg, sizeof(msg)) !=
	    SBX_OK) {
		err = invalid(field, "parameters", detail, detail_len, msg);
		goto out;
	}
	if (p->doc != NULL && in->parameters != NULL) {
		err = params_in_doc(p->declared, p->doc, field, detail,
		    detail_len);
		if (err != SBX_OK)
			goto out;
	}
	cJSON_ArrayForEach(c, in->capabilities) {
		if (!cJSON_IsString(c) || !capability_known(c->valuestring)) {
			err = invalid(field, "capabilities", detail, detail_len,
			    "capabilities are among CAPABILITY_IAM, "
			    "CAPABILITY_NAMED_IAM, CAPABILITY_AUTO_EXPAND");
			goto out;
		}
	}
	if (in->max_ttl_minutes != 0 && (in->max_ttl_minutes < 1 ||
	    in->max_ttl_minutes > cfg->sandbox_max_ttl_minutes)) {
		snprintf(msg, sizeof(msg), "max_ttl_minutes must be from 1 to "
		    "%ld (SANDBOX_MAX_TTL_MINUTES)",
		    cfg->sandbox_max_ttl_minutes);
		err = invalid(field, "max_ttl_minutes", detail, detail_len, msg);
		goto out;
	}
	if (in->default_ttl_minutes != 0 && (in->default_ttl_minutes < 1 ||
	    in->default_ttl_minutes > (in->max_ttl_minutes > 0 ?
	    in->max_ttl_minutes : cfg->sandbox_max_ttl_minutes))) {
		err = invalid(field, "default_ttl_minutes", detail, detail_len,
		    "default_ttl_minutes must be from 1 to the maximum TTL");
		goto out;
	}
	p->params_text = cJSON_PrintUnformatted(p->declared);
	p->caps_text = in->capabilities != NULL ?
	    cJSON_PrintUnformatted(in->capabilities) : strdup("[]");
	if (p->params_text == NULL || p->caps_text == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	p->description = in->description != NULL ? in->description : "";
	if (p->description[0] == '\0' && p->doc != NULL) {
		const cJSON *dd = cJSON_GetObjectItemCaseSensitive(p->doc,
		    "Description");

		if (cJSON_IsString(dd))
			p->description = dd->valuestring;
	}
	return SBX_OK;
out:
	sbx_template_put_checked_fini(p);
	return err;
}
