/*
 * Fuzz target for template parameters (common/domain/template_params.c): an
 * admin's declarations (our array shape or CloudFormation's "Parameters"
 * object) as sbx_template_params_valid sees them in a PUT, and a create's
 * values checked against stored declarations by sbx_template_params_check,
 * then masked for storage by sbx_template_params_masked.
 *
 * The input after its first byte is "<declarations>\0<values>": both are
 * JSON texts, the second optional. The first byte's low bit says whether
 * the values are passed as given (they may be any JSON) or not at all.
 *
 * Contracts, besides the sanitizers': the checks answer only OK, EINVAL,
 * EINTERNAL (broken declarations, the template's fault) or ENOMEM; a
 * refusal names "parameters" or "parameters.<name>" and never quotes a
 * value; accepted values come back unchanged in the effective parameters,
 * each name once; a value declared NoEcho is always masked.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "common/domain/template.h"
#include "fuzz.h"

/*
 * The spelling rule of template_params.c, written again: a declaration's
 * member is known by its name without case and underscores, its first
 * spelling counts, and "true" in any case is true.
 */
static int
same_key(const char *a, const char *b)
{
	for (;;) {
		while (*a == '_')
			a++;
		while (*b == '_')
			b++;
		if (*a == '\0' || *b == '\0')
			return *a == *b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		a++;
		b++;
	}
}

static const cJSON *
key_of(const cJSON *o, const char *key)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, o)
		if (c->string != NULL && same_key(c->string, key))
			return c;
	return NULL;
}

static int
no_echo(const cJSON *e)
{
	const cJSON *v = key_of(e, "noecho");

	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v);
	return cJSON_IsString(v) && strcasecmp(v->valuestring, "true") == 0;
}

/* Whether name is declared NoEcho in either shape. */
static int
declared_no_echo(const cJSON *decl, const char *name)
{
	const cJSON *e, *n;

	if (cJSON_IsObject(decl)) {
		e = cJSON_GetObjectItemCaseSensitive(decl, name);
		return cJSON_IsObject(e) && no_echo(e);
	}
	cJSON_ArrayForEach(e, decl) {
		if (!cJSON_IsObject(e))
			continue;
		n = key_of(e, "name");
		if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0 &&
		    no_echo(e))
			return 1;
	}
	return 0;
}

/*
 * A value the detail must not quote. Short or plain lower-case values
 * could match the fixed wording by chance, so only those holding
 * something else are tested.
 */
static int
quotable(const char *v)
{
	size_t i;

	if (strlen(v) < 4)
		return 0;
	for (i = 0; v[i] != '\0'; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || v[i] == ' ' ||
		    v[i] == '\'' || v[i] == '.' || v[i] == ','))
			return 1;
	return 0;
}

static void
check_refusal(const cJSON *given, const char *bad, const char *detail)
{
	const cJSON *g;

	CHECK(strncmp(bad, "parameters", 10) == 0);
	CHECK(bad[10] == '\0' || bad[10] == '.');
	CHECK(detail[0] != '\0');
	cJSON_ArrayForEach(g, given)
		if (cJSON_IsString(g) && quotable(g->valuestring))
			CHECK(strstr(detail, g->valuestring) == NULL);
}

static void
check_effective(const cJSON *given, const cJSON *eff)
{
	const cJSON *g, *e, *o;

	CHECK(cJSON_IsObject(eff));
	cJSON_ArrayForEach(e, eff) {
		CHECK(cJSON_IsString(e) && e->string != NULL);
		CHECK(strlen(e->valuestring) <= 4096);
		for (o = eff->child; o != e; o = o->next)
			CHECK(strcmp(o->string, e->string) != 0);
	}
	cJSON_ArrayForEach(g, given) {
		e = cJSON_GetObjectItemCaseSensitive(eff, g->string);
		CHECK(e != NULL && cJSON_IsString(g));
		/* Duplicated names: the first is the one used. */
		if (cJSON_GetObjectItemCaseSensitive(given, g->string) == g)
			CHECK(strcmp(e->valuestring, g->valuestring) == 0);
	}
}

static void
check_masked(const cJSON *decl, const char *decl_text, const cJSON *params)
{
	cJSON *m = sbx_template_params_masked(decl_text, params);
	const cJSON *p, *v;

	if (m == NULL)
		return;		/* ENOMEM */
	CHECK(cJSON_IsObject(m));
	cJSON_ArrayForEach(p, params) {
		v = cJSON_GetObjectItemCaseSensitive(m, p->string);
		CHECK(cJSON_IsString(v));
		if (declared_no_echo(decl, p->string))
			CHECK(strcmp(v->valuestring, "****") == 0);
	}
	cJSON_Delete(m);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *text = fuzz_text(data, size);
	const char *values = NULL;
	cJSON *decl = NULL, *given = NULL, *eff = NULL;
	char bad[300], detail[300];
	enum sbx_err err;
	size_t dlen;

	if (text == NULL)
		return 0;
	dlen = strlen(text);
	/* fuzz_text cut at the first NUL; the values follow it. */
	if (dlen + 2 < size)
		values = (const char *)data + 1 + dlen + 1;

	/* As a PUT's "parameters" (an array or a CloudFormation object). */
	decl = cJSON_Parse(text);
	if (decl != NULL) {
		err = sbx_template_params_valid(decl, detail, sizeof(detail));
		CHECK(err == SBX_OK || err == SBX_EINVAL || err == SBX_ENOMEM);
		if (err == SBX_EINVAL)
			CHECK(detail[0] != '\0');
	}

	/* As stored declarations, checking a create's values. */
	if (values != NULL && (data[0] & 1)) {
		char *v = strndup(values, size - (size_t)(values -
		    (const char *)data));

		given = v != NULL ? cJSON_Parse(v) : NULL;
		free(v);
	}
	err = sbx_template_params_check(text, given, &eff, bad, sizeof(bad),
	    detail, sizeof(detail));
	CHECK(err == SBX_OK || err == SBX_EINVAL || err == SBX_EINTERNAL ||
	    err == SBX_ENOMEM);
	if (err == SBX_OK) {
		CHECK(eff != NULL);
		if (cJSON_IsObject(given))
			check_effective(given, eff);
		check_masked(decl, text, eff);
	} else {
		CHECK(eff == NULL);
		if (err == SBX_EINVAL)
			check_refusal(cJSON_IsObject(given) ? given : NULL,
			    bad, detail);
	}
	if (cJSON_IsObject(given))
		check_masked(decl, text, given);
	sbx_template_params_free(eff);
	cJSON_Delete(given);
	cJSON_Delete(decl);
	free(text);
	return 0;
}
