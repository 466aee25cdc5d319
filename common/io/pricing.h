/*
 * A client for the AWS Price List Query API: GetProducts (JSON 1.1,
 * X-Amz-Target AWSPriceListService.GetProducts, SigV4 service "pricing",
 * always us-east-1). Endpoint: AWS_ENDPOINT_URL_PRICING, else
 * AWS_ENDPOINT_URL, else https://api.pricing.us-east-1.amazonaws.com;
 * retries as awsapi.h says.
 *
 * The answer's PriceList is an array of JSON strings, each a product
 * with its terms; the price read is terms.OnDemand.*.priceDimensions.*
 * .pricePerUnit.USD. Several products (pages included) with one price
 * are that price; products with different prices are ambiguous and
 * count as no price: a price is never guessed.
 */
#ifndef SBX_PRICING_H
#define SBX_PRICING_H

#include <stddef.h>

#include "common/io/awsapi.h"
#include "common/core/err.h"

#define SBX_PRICING_REGION "us-east-1"

/* A TERM_MATCH filter: the product attribute field must equal value. */
struct sbx_pricing_filter {
	const char *field;
	const char *value;
};

/* What the Price List said about one product query. */
struct sbx_pricing_price {
	int found;			/* 1: usd and unit hold the price */
	double usd;			/* per unit */
	char unit[16];			/* "Hrs", "GB-Mo" */
	size_t products;		/* how many products matched */
};

/*
 * GetProducts for service_code ("AmazonEC2") with the filters, every
 * page. SBX_OK with found 0 when the Price List has no such product (or
 * several prices); the errors of awsapi.h when it could not be asked.
 */
enum sbx_err sbx_pricing_get(const char *service_code,
    const struct sbx_pricing_filter *filters, size_t nfilters,
    struct sbx_pricing_price *out, struct sbx_aws_error *e);

/*
 * The pure parser, for the unit tests: reads one GetProducts answer into
 * out (which accumulates over pages: start it zeroed), and *next_token
 * (caller frees; NULL on the last page). SBX_EPARSE for an answer of
 * another shape; a product without an On-Demand USD price is skipped.
 */
enum sbx_err sbx_pricing_parse(const char *json, size_t len,
    struct sbx_pricing_price *out, char **next_token);

/* Reads a JSON 1.1 error ({"__type": "ns#Code", "message"|"Message"}). */
enum sbx_err sbx_pricing_parse_error(const char *json, size_t len,
    struct sbx_aws_error *e);

#endif
