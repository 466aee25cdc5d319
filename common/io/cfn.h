/*
 * A client for the CloudFormation Query API (version 2010-05-15): POST /
 * with a form-encoded body signed with SigV4 (service "cloudformation"),
 * XML answers parsed with libxml2 (no DTD, no entities, no network).
 *
 * Each call resolves the region (aws_region), the endpoint
 * (AWS_ENDPOINT_URL_CLOUDFORMATION, AWS_ENDPOINT_URL, else AWS's) and the
 * credentials (the aws module's chain) when it runs, and retries by itself
 * on throttling, 5xx answers and no answer at all: up to
 * SBX_CFN_MAX_ATTEMPTS attempts, exponential backoff with full jitter from
 * a base of 200 ms (CFN_RETRY_BASE_MS in the environment overrides it, for
 * tests), each attempt signed afresh.
 *
 * Errors: SBX_ETHROTTLED (still throttled after the retries),
 * SBX_ENOTFOUND (ValidationError "... does not exist"), SBX_ECONFLICT
 * (AlreadyExistsException, TokenAlreadyExistsException), SBX_EINVAL
 * (other ValidationError, InsufficientCapabilitiesException), SBX_EAUTH
 * (credentials missing or refused), SBX_EUNAVAILABLE (5xx or no answer),
 * SBX_EREMOTE (any other AWS error), SBX_EPARSE (an answer we cannot
 * read), SBX_ECONFIG (no region). Where AWS said why, its code and message
 * are copied into the caller's struct sbx_cfn_error (which may be NULL).
 *
 * Every struct these functions fill is the caller's, released with its
 * _fini (which accepts a zeroed or NULL struct).
 */
#ifndef SBX_CFN_H
#define SBX_CFN_H

#include <stddef.h>

#include "common/core/err.h"

/* common/io/awsapi.c's SBX_AWSAPI_MAX_ATTEMPTS, which runs the calls. */
#define SBX_CFN_MAX_ATTEMPTS 4
#define SBX_CFN_VERSION "2010-05-15"

/* What AWS said when it refused; empty strings when it said nothing. */
struct sbx_cfn_error {
	long http_status;		/* 0 when no answer came */
	char code[96];			/* "ValidationError", ... */
	char message[1024];		/* truncated on a UTF-8 boundary */
};

/* A key and a value given to CloudFormation (parameters, tags). */
struct sbx_cfn_kv_in {
	const char *key;
	const char *value;
};

/* A key and a value read back (outputs, tags); strings owned. */
struct sbx_cfn_kv {
	char *key;
	char *value;
};

struct sbx_cfn_create {
	const char *stack_name;
	const char *template_body;
	const struct sbx_cfn_kv_in *parameters;
	size_t nparameters;
	const struct sbx_cfn_kv_in *tags;
	size_t ntags;
	const char *const *capabilities;	/* "CAPABILITY_IAM", ... */
	size_t ncapabilities;
	const char *on_failure;		/* DO_NOTHING, ROLLBACK, DELETE; NULL */
	const char *role_arn;		/* NULL: none */
	const char *client_request_token;	/* NULL: none */
	long timeout_minutes;		/* 0: none */
};

/* CreateStack. *stack_id (caller frees) is the new (or, for a repeated
 * ClientRequestToken, the same) stack's id. */
enum sbx_err sbx_cfn_create_stack(const struct sbx_cfn_create *in,
    char **stack_id, struct sbx_cfn_error *cerr);

/* DeleteStack; an unknown name succeeds, as in AWS. token, role_arn may be
 * NULL. */
enum sbx_err sbx_cfn_delete_stack(const char *name_or_id, const char *token,
    const char *role_arn, struct sbx_cfn_error *cerr);

/* One DeleteStack of a batch; token and role_arn may be NULL. */
struct sbx_cfn_delete {
	const char *name_or_id;
	const char *token;
	const char *role_arn;
};

/*
 * The batch forms: n calls at most concurrency in flight at once, over
 * kept-alive connections (sbx_httpclient_send_many), each retried by
 * itself; errs[i] and cerrs[i] (cerrs may be NULL) get what the single
 * call would have returned for the i-th, whatever the others did.
 * SBX_OK, or SBX_EINVAL / SBX_ENOMEM when no call was made (every
 * errs[i] says so). sbx_cfn_describe_stacks fills out[i] (each released
 * with sbx_cfn_stack_fini) where errs[i] is SBX_OK.
 */
enum sbx_err sbx_cfn_delete_stacks(const struct sbx_cfn_delete *in, size_t n,
    long concurrency, enum sbx_err *errs, struct sbx_cfn_error *cerrs);
struct sbx_cfn_stack;
enum sbx_err sbx_cfn_describe_stacks(const char *const *names, size_t n,
    long concurrency, struct sbx_cfn_stack *out, enum sbx_err *errs,
    struct sbx_cfn_error *cerrs);

struct sbx_cfn_stack {
	char *stack_id;
	char *stack_name;
	char *status;			/* "CREATE_COMPLETE", ... */
	char *status_reason;		/* NULL when absent */
	char *creation_time;		/* as AWS wrote it; NULL when absent */
	struct sbx_cfn_kv *outputs;
	size_t noutputs;
	struct sbx_cfn_kv *tags;
	size_t ntags;
};
void sbx_cfn_stack_fini(struct sbx_cfn_stack *s);

/*
 * DescribeStacks for one stack (by name, or by stack id, which also finds
 * a deleted stack). SBX_ENOTFOUND when AWS does not know it.
 */
enum sbx_err sbx_cfn_describe_stack(const char *name_or_id,
    struct sbx_cfn_stack *out, struct sbx_cfn_error *cerr);

struct sbx_cfn_stacks {
	struct sbx_cfn_stack *v;
	size_t n;
};
void sbx_cfn_stacks_fini(struct sbx_cfn_stacks *l);

/*
 * The stacks that carry tag key (with value, unless value is NULL), from
 * DescribeStacks without a name, following NextToken (ListStacks does not
 * return tags). Deleted stacks are not listed.
 */
enum sbx_err sbx_cfn_stacks_with_tag(const char *key, const char *value,
    struct sbx_cfn_stacks *out, struct sbx_cfn_error *cerr);

struct sbx_cfn_event {
	char *event_id;
	char *timestamp;
	char *logical_id;
	char *physical_id;
	char *resource_type;
	char *status;
	char *status_reason;		/* NULL when absent */
};

struct sbx_cfn_events {
	struct sbx_cfn_event *v;
	size_t n;
};
void sbx_cfn_events_fini(struct sbx_cfn_events *l);

/* DescribeStackEvents, first page only (newest first, as AWS sends). */
enum sbx_err sbx_cfn_describe_stack_events(const char *name_or_id,
    struct sbx_cfn_events *out, struct sbx_cfn_error *cerr);

struct sbx_cfn_summary {
	char *stack_id;
	char *stack_name;
	char *status;
	char *status_reason;		/* NULL when absent */
};

struct sbx_cfn_summaries {
	struct sbx_cfn_summary *v;
	size_t n;
};
void sbx_cfn_summaries_fini(struct sbx_cfn_summaries *l);

/*
 * ListStacks, every page, filtered by status (StackStatusFilter; none:
 * every status, deleted stacks of the last 90 days included).
 */
enum sbx_err sbx_cfn_list_stacks(const char *const *statuses, size_t nstatuses,
    struct sbx_cfn_summaries *out, struct sbx_cfn_error *cerr);

struct sbx_cfn_resource {
	char *logical_id;
	char *physical_id;		/* NULL until the resource exists */
	char *resource_type;		/* "AWS::EC2::Instance", ... */
	char *status;			/* "CREATE_COMPLETE", ... */
};

struct sbx_cfn_resources {
	struct sbx_cfn_resource *v;
	size_t n;
};
void sbx_cfn_resources_fini(struct sbx_cfn_resources *l);

/*
 * DescribeStackResources: the stack's resources (by name, or by stack id,
 * which also finds a deleted stack's). SBX_ENOTFOUND for an unknown stack.
 */
enum sbx_err sbx_cfn_describe_stack_resources(const char *name_or_id,
    struct sbx_cfn_resources *out, struct sbx_cfn_error *cerr);

/*
 * The parsers behind the calls, pure, for the unit tests and the fuzzer.
 * Each reads one answer body of len bytes. The list parsers append to
 * *out, and set *next_token (caller frees) when the page says there is
 * more. SBX_EPARSE for malformed XML, a DTD, or a document of another
 * shape.
 */
enum sbx_err sbx_cfn_parse_create(const char *xml, size_t len,
    char **stack_id);
enum sbx_err sbx_cfn_parse_describe(const char *xml, size_t len,
    struct sbx_cfn_stacks *out, char **next_token);
enum sbx_err sbx_cfn_parse_events(const char *xml, size_t len,
    struct sbx_cfn_events *out, char **next_token);
enum sbx_err sbx_cfn_parse_list(const char *xml, size_t len,
    struct sbx_cfn_summaries *out, char **next_token);
enum sbx_err sbx_cfn_parse_resources(const char *xml, size_t len,
    struct sbx_cfn_resources *out);

/* Reads <ErrorResponse><Error><Code>, <Message> into cerr: SBX_OK or
 * SBX_EPARSE. */
enum sbx_err sbx_cfn_parse_error(const char *xml, size_t len,
    struct sbx_cfn_error *cerr);

/*
 * The sbx_err for an AWS answer of HTTP status with error code and
 * message (either may be "" when the body said nothing).
 */
enum sbx_err sbx_cfn_map_error(long status, const char *code,
    const char *message);

#endif
