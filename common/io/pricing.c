/*
 * The Price List client (see pricing.h): the GetProducts body, the call
 * through awsapi, and reading the prices out of the answer's JSON strings.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/io/pricing.h"

#define CONTENT_TYPE "application/x-amz-json-1.1"
#define TARGET "AWSPriceListService.GetProducts"
#define DEFAULT_URL "https://api.pricing.us-east-1.amazonaws.com"
/* A guard against a NextToken that never ends. */
#define MAX_PAGES 50

enum sbx_err
sbx_pricing_parse_error(const char *json, size_t len, struct sbx_aws_error *e)
{
	cJSON *doc, *t, *m;
	const char *code;

	if (json == NULL || len == 0)
		return SBX_EPARSE;
	if ((doc = cJSON_ParseWithLength(json, len)) == NULL)
		return SBX_EPARSE;
	t = cJSON_GetObjectItemCaseSensitive(doc, "__type");
	m = cJSON_GetObjectItemCaseSensitive(doc, "message");
	if (!cJSON_IsString(m))
		m = cJSON_GetObjectItemCaseSensitive(doc, "Message");
	if (!cJSON_IsString(t) || t->valuestring[0] == '\0') {
		cJSON_Delete(doc);
		return SBX_EPARSE;
	}
	/* "com.amazonaws.awspricelistservice#ThrottlingException" */
	code = strrchr(t->valuestring, '#');
	code = code != NULL ? code + 1 : t->valuestring;
	sbx_awsapi_copy(e->code, sizeof(e->code), code);
	sbx_awsapi_copy(e->message, sizeof(e->message),
	    cJSON_IsString(m) ? m->valuestring : "");
	cJSON_Delete(doc);
	return SBX_OK;
}

/*
 * The On-Demand USD price and unit of one product (a PriceList entry,
 * itself JSON text): 0 when it has one, -1 otherwise. A product with
 * several dimensions (tiers) keeps the first one's unit and needs all
 * its prices equal.
 */
static int
product_price(const char *text, double *usd, char *unit, size_t ulen)
{
	cJSON *doc, *terms, *term, *dim, *ppu, *u;
	double v;
	char *end;
	int have = 0, rc = -1;

	if ((doc = cJSON_Parse(text)) == NULL)
		return -1;
	terms = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(doc, "terms"), "OnDemand");
	cJSON_ArrayForEach(term, terms) {
		cJSON_ArrayForEach(dim, cJSON_GetObjectItemCaseSensitive(term,
		    "priceDimensions")) {
			ppu = cJSON_GetObjectItemCaseSensitive(
			    cJSON_GetObjectItemCaseSensitive(dim,
			    "pricePerUnit"), "USD");
			u = cJSON_GetObjectItemCaseSensitive(dim, "unit");
			if (!cJSON_IsString(ppu))
				continue;
			errno = 0;
			v = strtod(ppu->valuestring, &end);
			if (errno != 0 || end == ppu->valuestring ||
			    *end != '\0' || !isfinite(v) || v < 0)
				goto out;
			if (have && v != *usd)
				goto out;
			if (!have)
				snprintf(unit, ulen, "%s", cJSON_IsString(u) ?
				    u->valuestring : "");
			*usd = v;
			have = 1;
		}
	}
	rc = have ? 0 : -1;
out:
	cJSON_Delete(doc);
	return rc;
}

enum sbx_err
sbx_pricing_parse(const char *json, size_t len, struct sbx_pricing_price *out,
    char **next_token)
{
	cJSON *doc, *list, *item, *tok;
	double usd = 0;
	char unit[sizeof(out->unit)];
	enum sbx_err err = SBX_EPARSE;

	*next_token = NULL;
	if (json == NULL || len == 0 ||
	    (doc = cJSON_ParseWithLength(json, len)) == NULL)
		return SBX_EPARSE;
	list = cJSON_GetObjectItemCaseSensitive(doc, "PriceList");
	if (!cJSON_IsArray(list))
		goto out;
	cJSON_ArrayForEach(item, list) {
		if (!cJSON_IsString(item))
			goto out;
		out->products++;
		if (product_price(item->valuestring, &usd, unit,
		    sizeof(unit)) != 0)
			continue;
		if (out->found == 0) {
			out->found = 1;
			out->usd = usd;
			snprintf(out->unit, sizeof(out->unit), "%s", unit);
		} else if (out->found == 1 && (usd != out->usd ||
		    strcmp(unit, out->unit) != 0)) {
			out->found = -1;	/* ambiguous: never guessed */
		}
	}
	tok = cJSON_GetObjectItemCaseSensitive(doc, "NextToken");
	if (cJSON_IsString(tok) && tok->valuestring[0] != '\0' &&
	    (*next_token = strdup(tok->valuestring)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	cJSON_Delete(doc);
	return err;
}

static char *
request_body(const char *service_code, const struct sbx_pricing_filter *f,
    size_t n, const char *next_token)
{
	cJSON *o, *arr, *fo;
	char *text = NULL;
	size_t i;

	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "ServiceCode", service_code) == NULL ||
	    cJSON_AddStringToObject(o, "FormatVersion", "aws_v1") == NULL ||
	    cJSON_AddNumberToObject(o, "MaxResults", 100) == NULL ||
	    (arr = cJSON_AddArrayToObject(o, "Filters")) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		if ((fo = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(arr, fo);
		if (cJSON_AddStringToObject(fo, "Type", "TERM_MATCH") == NULL ||
		    cJSON_AddStringToObject(fo, "Field", f[i].field) == NULL ||
		    cJSON_AddStringToObject(fo, "Value", f[i].value) == NULL)
			goto out;
	}
	if (next_token != NULL &&
	    cJSON_AddStringToObject(o, "NextToken", next_token) == NULL)
		goto out;
	text = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return text;
}

enum sbx_err
sbx_pricing_get(const char *service_code,
    const struct sbx_pricing_filter *filters, size_t nfilters,
    struct sbx_pricing_price *out, struct sbx_aws_error *e)
{
	struct sbx_httpclient_response resp = { 0 };
	struct sbx_awsapi_req r = { 0 };
	struct sbx_awsapi_pages pg = { NULL, NULL, 0, MAX_PAGES };
	char *body = NULL;
	enum sbx_err err = SBX_OK;

	memset(out, 0, sizeof(*out));
	if (service_code == NULL || (nfilters > 0 && filters == NULL))
		return SBX_EINVAL;
	r.service = "pricing";
	r.region = SBX_PRICING_REGION;
	r.default_url = DEFAULT_URL;
	r.content_type = CONTENT_TYPE;
	r.target = TARGET;
	r.accept = CONTENT_TYPE;
	r.what = "GetProducts";
	r.parse_error = sbx_pricing_parse_error;
	while (err == SBX_OK && sbx_awsapi_pages_next(&pg, &err)) {
		free(body);
		if ((body = request_body(service_code, filters, nfilters,
		    pg.tok)) == NULL) {
			err = SBX_ENOMEM;
			break;
		}
		r.body = body;
		r.body_len = strlen(body);
		if ((err = sbx_awsapi_call(&r, &resp, e)) == SBX_OK)
			err = sbx_pricing_parse(resp.body, resp.body_len, out,
			    &pg.next);
		sbx_httpclient_response_fini(&resp);
	}
	if (out->found < 0)
		out->found = 0;
	free(body);
	sbx_awsapi_pages_fini(&pg);
	return err;
}
