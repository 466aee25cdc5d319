/*
 * One signed call to an AWS API, whatever its protocol (the EC2 Query API
 * with XML answers, JSON 1.1 for the Price List), with the retries every
 * AWS client needs, and the XML reading the Query APIs share. The
 * service clients (ec2, pricing) build the body and read the answer; this
 * module resolves where to send it, signs it and sends it.
 *
 * A call resolves the region (r->region, else AWS_REGION), the endpoint
 * (AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else r->default_url,
 * else AWS's https://<service>.<region>.amazonaws.com: the aws module's
 * resolution) and the credentials (the aws module's chain) when it runs.
 * It retries throttling, 5xx answers and no answer at all: up to
 * SBX_AWSAPI_MAX_ATTEMPTS attempts, exponential backoff with full jitter
 * from a base of 200 ms (CFN_RETRY_BASE_MS overrides it, for tests), each
 * attempt signed afresh; an expired session token is refreshed once.
 *
 * Errors: SBX_ETHROTTLED, SBX_EAUTH, SBX_EUNAVAILABLE (5xx or no answer),
 * SBX_ENOTFOUND / SBX_EINVAL (what the service's parse_error maps so),
 * SBX_EREMOTE (any other AWS error), SBX_ECONFIG (no region, unusable
 * endpoint). Where AWS said why, its code and message are copied into
 * the caller's struct sbx_aws_error.
 */
#ifndef SBX_AWSAPI_H
#define SBX_AWSAPI_H

#include <stddef.h>

#include "common/core/err.h"
#include "common/io/httpclient.h"

#define SBX_AWSAPI_MAX_ATTEMPTS 4

/* What AWS said when it refused; empty strings when it said nothing. */
struct sbx_aws_error {
	long http_status;		/* 0 when no answer came */
	char code[96];
	char message[1024];		/* cut on a UTF-8 boundary */
};

struct sbx_awsapi_req {
	const char *service;		/* signing name: "ec2", "pricing" */
	const char *region;		/* NULL: AWS_REGION */
	const char *default_url;	/* NULL: https://<service>.<region>.amazonaws.com */
	const char *content_type;
	const char *target;		/* X-Amz-Target, or NULL */
	const char *accept;		/* NULL: none */
	const char *body;
	size_t body_len;
	const char *what;		/* the action, for the log */
	/*
	 * Reads an error answer into e (code, message): SBX_OK, or
	 * SBX_EPARSE when the body says nothing usable.
	 */
	enum sbx_err (*parse_error)(const char *body, size_t len,
	    struct sbx_aws_error *e);
};

/*
 * Runs the call with its retries. On SBX_OK, resp holds the 2xx answer
 * (the caller finis it); otherwise resp is empty and e (may be NULL)
 * says what AWS said last.
 */
enum sbx_err sbx_awsapi_call(const struct sbx_awsapi_req *r,
    struct sbx_httpclient_response *resp, struct sbx_aws_error *e);

/*
 * n calls of one service (r[0] says which: its region, endpoint and
 * credentials serve them all), at most concurrency in flight at once
 * (sbx_httpclient_send_many), each retried as sbx_awsapi_call retries
 * it. resps[i], errs[i] and es[i] get the outcome of r[i]: a failure of
 * one call leaves the others as they went. Returns SBX_OK.
 */
enum sbx_err sbx_awsapi_call_many(const struct sbx_awsapi_req *r, size_t n,
    long concurrency, struct sbx_httpclient_response *resps,
    enum sbx_err *errs, struct sbx_aws_error *es);

/*
 * The NextToken walk of a paged call. Each sbx_awsapi_pages_next moves
 * on to the next page: tok takes the next token the last page set in
 * next (NULL for the first page). It returns 1 while there is a page to
 * ask for, 0 at the end, and 0 with *err = SBX_EREMOTE once max pages
 * have been asked for (a NextToken that never ends). Released with
 * sbx_awsapi_pages_fini.
 */
struct sbx_awsapi_pages {
	char *tok;		/* the token of the page to ask for */
	char *next;		/* where the page read sets the next one */
	int n;
	int max;
};

int sbx_awsapi_pages_next(struct sbx_awsapi_pages *p, enum sbx_err *err);
void sbx_awsapi_pages_fini(struct sbx_awsapi_pages *p);

/*
 * The sbx_err for an AWS error code and HTTP status, the codes every
 * service shares (throttling, authentication, unavailability); a
 * service-specific code is the caller's to map first.
 */
enum sbx_err sbx_awsapi_map_error(long status, const char *code);

/* Copies s into dst (cap bytes), cut on a UTF-8 boundary. */
void sbx_awsapi_copy(char *dst, size_t cap, const char *s);

#endif
