/*
 * The CloudFormation Query API client: builds the form body, has
 * common/io/awsapi.c sign, send and retry it, and reads the XML answers.
 * See cfn.h for the contracts.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/io/aws.h"
#include "common/io/awsapi.h"
#include "common/io/awsxml.h"
#include "common/io/cfn.h"
#include "common/io/httpclient.h"

#define MODULE "cfn"

#define SERVICE "cloudformation"
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
/* A guard against a NextToken that never ends. */
#define MAX_PAGES 1000

/* ------------------------------------------------------------------ XML */
/* The XML reading is the one every Query API client shares (awsapi.h). */

/* An error answer read into the shared struct (awsapi's callback). */
static enum sbx_err
parse_error_cb(const char *xml, size_t len, struct sbx_aws_error *e)
{
	return sbx_awsxml_parse_error(xml, len, "ErrorResponse", NULL, e);
}

enum sbx_err
sbx_cfn_parse_error(const char *xml, size_t len, struct sbx_cfn_error *cerr)
{
	struct sbx_aws_error e;
	enum sbx_err err;

	memset(&e, 0, sizeof(e));
	if ((err = parse_error_cb(xml, len, &e)) == SBX_OK) {
		sbx_awsapi_copy(cerr->code, sizeof(cerr->code), e.code);
		sbx_awsapi_copy(cerr->message, sizeof(cerr->message),
		    e.message);
	}
	return err;
}

/* CloudFormation's own codes first, then those every AWS service shares. */
enum sbx_err
sbx_cfn_map_error(long status, const char *code, const char *message)
{
	if (code == NULL)
		code = "";
	if (message == NULL)
		message = "";
	if (strcmp(code, "ValidationError") == 0)
		return strstr(message, "does not exist") != NULL ?
		    SBX_ENOTFOUND : SBX_EINVAL;
	if (strcmp(code, "AlreadyExistsException") == 0 ||
	    strcmp(code, "TokenAlreadyExistsException") == 0)
		return SBX_ECONFLICT;
	if (strcmp(code, "InsufficientCapabilitiesException") == 0)
		return SBX_EINVAL;
	return sbx_awsapi_map_error(status, code);
}

enum sbx_err
sbx_cfn_parse_create(const char *xml, size_t len, char **stack_id)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	enum sbx_err err;

	*stack_id = NULL;
	if ((err = sbx_awsxml_open(xml, len, "CreateStackResponse", &doc, &root)) !=
	    SBX_OK)
		return err;
	if (sbx_awsxml_text(sbx_awsxml_child(root, "CreateStackResult"), "StackId",
	    stack_id) != 0)
		err = SBX_ENOMEM;
	else if (*stack_id == NULL || (*stack_id)[0] == '\0')
		err = SBX_EPARSE;
	if (err != SBX_OK) {
		free(*stack_id);
		*stack_id = NULL;
	}
	xmlFreeDoc(doc);
	return err;
}

/*
 * The list answers (stacks, their outputs and tags, events, summaries)
 * are all read the same way: every <member> of a list element becomes one
 * element of a caller's vector, its strings copied from child elements
 * named in a table. A member kind says how big an element is, which
 * strings it has and where they go; only a stack has more (its outputs
 * and tags, themselves lists), read and released by hooks.
 */
enum field_need {
	FIELD_OPTIONAL,		/* absent: NULL */
	FIELD_REQUIRED,		/* absent: the member is malformed */
	FIELD_EMPTY,		/* absent: "" (an output without a value) */
};

/* A string of an element: its XML name and its char * in the struct. */
struct field {
	const char *name;
	size_t off;
	enum field_need need;
};

struct member_kind {
	size_t size;
	const struct field *fields;
	size_t nfields;
	/* NULL, or reads (releases) what the fields do not cover. */
	enum sbx_err (*read_more)(xmlNode *m, void *elem);
	void (*fini_more)(void *elem);
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static char **
field_at(void *elem, const struct field *f)
{
	return (char **)(void *)((char *)elem + f->off);
}

/* Grows a vector of elements of size sz by one zeroed slot. */
static void *
vec_grow(void *v, size_t n, size_t sz)
{
	char *nv;

	if (n >= SIZE_MAX / sz - 1)
		return NULL;
	if ((nv = realloc(v, (n + 1) * sz)) == NULL)
		return NULL;
	memset(nv + n * sz, 0, sz);
	return nv;
}

/* Releases one element and zeroes it; a zeroed element is fine. */
static void
member_fini(const struct member_kind *k, void *elem)
{
	size_t i;

	for (i = 0; i < k->nfields; i++)
		free(*field_at(elem, &k->fields[i]));
	if (k->fini_more != NULL)
		k->fini_more(elem);
	memset(elem, 0, k->size);
}

static void
members_free(const struct member_kind *k, void *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		member_fini(k, (char *)v + i * k->size);
	free(v);
}

/*
 * Fills the zeroed elem from member m. Every string is read before the
 * required ones are checked, so running out of memory is told as such.
 * On failure elem is left released.
 */
static enum sbx_err
member_read(xmlNode *m, const struct member_kind *k, void *elem)
{
	const struct field *f;
	char **s;
	size_t i;
	enum sbx_err err = SBX_ENOMEM;

	for (i = 0; i < k->nfields; i++)
		if (sbx_awsxml_text(m, k->fields[i].name,
		    field_at(elem, &k->fields[i])) != 0)
			goto fail;
	for (i = 0; i < k->nfields; i++) {
		f = &k->fields[i];
		s = field_at(elem, f);
		if (*s != NULL)
			continue;
		if (f->need == FIELD_REQUIRED) {
			err = SBX_EPARSE;
			goto fail;
		}
		if (f->need == FIELD_EMPTY && (*s = strdup("")) == NULL)
			goto fail;
	}
	if (k->read_more != NULL && (err = k->read_more(m, elem)) != SBX_OK)
		goto fail;
	return SBX_OK;
fail:
	member_fini(k, elem);
	return err;
}

/*
 * Appends every <member> of list (which may be NULL: no members) to the
 * vector *v of *n elements of kind k. On failure the elements read before
 * stay in *v, *n for the caller to release.
 */
static enum sbx_err
members_read(xmlNode *list, const struct member_kind *k, void **v, size_t *n)
{
	xmlNode *m;
	char *nv;
	enum sbx_err err;

	for (m = sbx_awsxml_child(list, "member"); m != NULL; m = sbx_awsxml_next(m)) {
		if ((nv = vec_grow(*v, *n, k->size)) == NULL)
			return SBX_ENOMEM;
		*v = nv;
		if ((err = member_read(m, k, nv + *n * k->size)) != SBX_OK)
			return err;
		(*n)++;
	}
	return SBX_OK;
}

static const struct field output_fields[] = {
	{ "OutputKey", offsetof(struct sbx_cfn_kv, key), FIELD_REQUIRED },
	{ "OutputValue", offsetof(struct sbx_cfn_kv, value), FIELD_EMPTY },
};
static const struct member_kind output_kind = {
	sizeof(struct sbx_cfn_kv), output_fields, NFIELDS(output_fields),
	NULL, NULL,
};

static const struct field tag_fields[] = {
	{ "Key", offsetof(struct sbx_cfn_kv, key), FIELD_REQUIRED },
	{ "Value", offsetof(struct sbx_cfn_kv, value), FIELD_EMPTY },
};
static const struct member_kind tag_kind = {
	sizeof(struct sbx_cfn_kv), tag_fields, NFIELDS(tag_fields),
	NULL, NULL,
};

/* A stack's outputs and tags; partial lists stay for stack_fini_more. */
static enum sbx_err
stack_read_more(xmlNode *m, void *elem)
{
	struct sbx_cfn_stack *s = elem;
	void *v = NULL;
	enum sbx_err err;

	err = members_read(sbx_awsxml_child(m, "Outputs"), &output_kind, &v,
	    &s->noutputs);
	s->outputs = v;
	if (err != SBX_OK)
		return err;
	v = NULL;
	err = members_read(sbx_awsxml_child(m, "Tags"), &tag_kind, &v, &s->ntags);
	s->tags = v;
	return err;
}

static void
stack_fini_more(void *elem)
{
	struct sbx_cfn_stack *s = elem;

	members_free(&output_kind, s->outputs, s->noutputs);
	members_free(&tag_kind, s->tags, s->ntags);
}

static const struct field stack_fields[] = {
	{ "StackId", offsetof(struct sbx_cfn_stack, stack_id),
	    FIELD_REQUIRED },
	{ "StackName", offsetof(struct sbx_cfn_stack, stack_name),
	    FIELD_REQUIRED },
	{ "StackStatus", offsetof(struct sbx_cfn_stack, status),
	    FIELD_REQUIRED },
	{ "StackStatusReason", offsetof(struct sbx_cfn_stack, status_reason),
	    FIELD_OPTIONAL },
	{ "CreationTime", offsetof(struct sbx_cfn_stack, creation_time),
	    FIELD_OPTIONAL },
};
static const struct member_kind stack_kind = {
	sizeof(struct sbx_cfn_stack), stack_fields, NFIELDS(stack_fields),
	stack_read_more, stack_fini_more,
};

/* An event requires no field: what it leaves out reads as NULL. */
static const struct field event_fields[] = {
	{ "EventId", offsetof(struct sbx_cfn_event, event_id),
	    FIELD_OPTIONAL },
	{ "Timestamp", offsetof(struct sbx_cfn_event, timestamp),
	    FIELD_OPTIONAL },
	{ "LogicalResourceId", offsetof(struct sbx_cfn_event, logical_id),
	    FIELD_OPTIONAL },
	{ "PhysicalResourceId", offsetof(struct sbx_cfn_event, physical_id),
	    FIELD_OPTIONAL },
	{ "ResourceType", offsetof(struct sbx_cfn_event, resource_type),
	    FIELD_OPTIONAL },
	{ "ResourceStatus", offsetof(struct sbx_cfn_event, status),
	    FIELD_OPTIONAL },
	{ "ResourceStatusReason", offsetof(struct sbx_cfn_event,
	    status_reason), FIELD_OPTIONAL },
};
static const struct member_kind event_kind = {
	sizeof(struct sbx_cfn_event), event_fields, NFIELDS(event_fields),
	NULL, NULL,
};

static const struct field summary_fields[] = {
	{ "StackId", offsetof(struct sbx_cfn_summary, stack_id),
	    FIELD_REQUIRED },
	{ "StackName", offsetof(struct sbx_cfn_summary, stack_name),
	    FIELD_REQUIRED },
	{ "StackStatus", offsetof(struct sbx_cfn_summary, status),
	    FIELD_REQUIRED },
	{ "StackStatusReason", offsetof(struct sbx_cfn_summary,
	    status_reason), FIELD_OPTIONAL },
};
static const struct member_kind summary_kind = {
	sizeof(struct sbx_cfn_summary), summary_fields,
	NFIELDS(summary_fields), NULL, NULL,
};

static const struct field resource_fields[] = {
	{ "LogicalResourceId", offsetof(struct sbx_cfn_resource, logical_id),
	    FIELD_REQUIRED },
	{ "PhysicalResourceId", offsetof(struct sbx_cfn_resource,
	    physical_id), FIELD_OPTIONAL },
	{ "ResourceType", offsetof(struct sbx_cfn_resource, resource_type),
	    FIELD_REQUIRED },
	{ "ResourceStatus", offsetof(struct sbx_cfn_resource, status),
	    FIELD_OPTIONAL },
};
static const struct member_kind resource_kind = {
	sizeof(struct sbx_cfn_resource), resource_fields,
	NFIELDS(resource_fields), NULL, NULL,
};

void
sbx_cfn_resources_fini(struct sbx_cfn_resources *l)
{
	if (l == NULL)
		return;
	members_free(&resource_kind, l->v, l->n);
	memset(l, 0, sizeof(*l));
}

void
sbx_cfn_stack_fini(struct sbx_cfn_stack *s)
{
	if (s != NULL)
		member_fini(&stack_kind, s);
}

void
sbx_cfn_stacks_fini(struct sbx_cfn_stacks *l)
{
	if (l == NULL)
		return;
	members_free(&stack_kind, l->v, l->n);
	memset(l, 0, sizeof(*l));
}

void
sbx_cfn_events_fini(struct sbx_cfn_events *l)
{
	if (l == NULL)
		return;
	members_free(&event_kind, l->v, l->n);
	memset(l, 0, sizeof(*l));
}

void
sbx_cfn_summaries_fini(struct sbx_cfn_summaries *l)
{
	if (l == NULL)
		return;
	members_free(&summary_kind, l->v, l->n);
	memset(l, 0, sizeof(*l));
}

/*
 * Reads a list answer: root <action>Response, then <action>Result, whose
 * element list holds the members, appended to *v, *n; and NextToken (an
 * empty one is none), which is dropped when the page fails.
 */
static enum sbx_err
parse_list(const char *xml, size_t len, const char *action, const char *list,
    const struct member_kind *k, void **v, size_t *n, char **next_token)
{
	char rname[64], sname[64];
	xmlDoc *doc = NULL;
	xmlNode *root, *result;
	enum sbx_err err;

	if (next_token != NULL)
		*next_token = NULL;
	snprintf(rname, sizeof(rname), "%sResponse", action);
	snprintf(sname, sizeof(sname), "%sResult", action);
	if ((err = sbx_awsxml_open(xml, len, rname, &doc, &root)) != SBX_OK)
		return err;
	if ((result = sbx_awsxml_child(root, sname)) == NULL) {
		err = SBX_EPARSE;
		goto out;
	}
	if (next_token != NULL) {
		if (sbx_awsxml_text(result, "NextToken", next_token) != 0) {
			err = SBX_ENOMEM;
			goto out;
		}
		if (*next_token != NULL && (*next_token)[0] == '\0') {
			free(*next_token);
			*next_token = NULL;
		}
	}
	err = members_read(sbx_awsxml_child(result, list), k, v, n);
out:
	if (err != SBX_OK && next_token != NULL) {
		free(*next_token);
		*next_token = NULL;
	}
	xmlFreeDoc(doc);
	return err;
}

enum sbx_err
sbx_cfn_parse_describe(const char *xml, size_t len, struct sbx_cfn_stacks *out,
    char **next_token)
{
	void *v = out->v;
	enum sbx_err err;

	err = parse_list(xml, len, "DescribeStacks", "Stacks", &stack_kind,
	    &v, &out->n, next_token);
	out->v = v;
	return err;
}

enum sbx_err
sbx_cfn_parse_events(const char *xml, size_t len, struct sbx_cfn_events *out,
    char **next_token)
{
	void *v = out->v;
	enum sbx_err err;

	err = parse_list(xml, len, "DescribeStackEvents", "StackEvents",
	    &event_kind, &v, &out->n, next_token);
	out->v = v;
	return err;
}

enum sbx_err
sbx_cfn_parse_resources(const char *xml, size_t len,
    struct sbx_cfn_resources *out)
{
	void *v = out->v;
	enum sbx_err err;

	err = parse_list(xml, len, "DescribeStackResources", "StackResources",
	    &resource_kind, &v, &out->n, NULL);
	out->v = v;
	return err;
}

enum sbx_err
sbx_cfn_parse_list(const char *xml, size_t len, struct sbx_cfn_summaries *out,
    char **next_token)
{
	void *v = out->v;
	enum sbx_err err;

	err = parse_list(xml, len, "ListStacks", "StackSummaries",
	    &summary_kind, &v, &out->n, next_token);
	out->v = v;
	return err;
}

/* ------------------------------------------------------------ the request */

/* The form parameters of one call; names built here are owned. */
struct form {
	struct sbx_aws_param *v;
	char **owned;
	size_t n;
	size_t nowned;
	int oom;
};

static void
form_add(struct form *f, const char *name, const char *value)
{
	struct sbx_aws_param *nv;

	if (f->oom)
		return;
	if ((nv = vec_grow(f->v, f->n, sizeof(*nv))) == NULL) {
		f->oom = 1;
		return;
	}
	f->v = nv;
	f->v[f->n].name = name;
	f->v[f->n].value = value ? value : "";
	f->n++;
}

/* Adds a parameter whose name is "<prefix>.member.<i><suffix>". */
static void
form_addm(struct form *f, const char *prefix, size_t i, const char *suffix,
    const char *value)
{
	char **no, *name;
	int n;

	if (f->oom)
		return;
	n = snprintf(NULL, 0, "%s.member.%lu%s", prefix, (unsigned long)i,
	    suffix);
	if (n < 0 || (name = malloc((size_t)n + 1)) == NULL) {
		f->oom = 1;
		return;
	}
	snprintf(name, (size_t)n + 1, "%s.member.%lu%s", prefix,
	    (unsigned long)i, suffix);
	if ((no = vec_grow(f->owned, f->nowned, sizeof(*no))) == NULL) {
		free(name);
		f->oom = 1;
		return;
	}
	f->owned = no;
	f->owned[f->nowned++] = name;
	form_add(f, name, value);
}

static void
form_free(struct form *f)
{
	size_t i;

	for (i = 0; i < f->nowned; i++)
		free(f->owned[i]);
	free(f->owned);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* The awsapi request of a call whose form body is body. */
static void
cfn_req(struct sbx_awsapi_req *r, const char *action, const char *body)
{
	memset(r, 0, sizeof(*r));
	r->service = SERVICE;
	r->content_type = CONTENT_TYPE;
	r->accept = "text/xml";
	r->body = body;
	r->body_len = strlen(body);
	r->what = action;
	r->parse_error = parse_error_cb;
}

/*
 * What awsapi said, in CloudFormation's terms: cerr gets AWS's words,
 * and the codes awsapi does not know (a missing stack, a name taken, a
 * refused template) are mapped.
 */
static enum sbx_err
cfn_outcome(enum sbx_err err, const struct sbx_aws_error *e,
    struct sbx_cfn_error *cerr)
{
	cerr->http_status = e->http_status;
	sbx_awsapi_copy(cerr->code, sizeof(cerr->code), e->code);
	sbx_awsapi_copy(cerr->message, sizeof(cerr->message), e->message);
	if (err == SBX_EREMOTE)
		err = sbx_cfn_map_error(e->http_status, e->code, e->message);
	return err;
}

/*
 * Runs one Query API call with its retries (common/io/awsapi.c). On SBX_OK,
 * resp holds the 2xx answer (the caller finis it); otherwise resp is
 * empty and cerr says what AWS said last.
 */
static enum sbx_err
cfn_call(const char *action, struct form *f,
    struct sbx_httpclient_response *resp, struct sbx_cfn_error *cerr)
{
	struct sbx_awsapi_req r;
	struct sbx_aws_error e;
	char *body = NULL;
	enum sbx_err err;

	memset(resp, 0, sizeof(*resp));
	memset(cerr, 0, sizeof(*cerr));
	memset(&e, 0, sizeof(e));
	if (f->oom)
		return SBX_ENOMEM;
	if ((err = sbx_aws_canonical_query(f->v, f->n, &body)) != SBX_OK)
		return err;
	cfn_req(&r, action, body);
	err = cfn_outcome(sbx_awsapi_call(&r, resp, &e), &e, cerr);
	free(body);
	return err;
}

/*
 * n calls of one action at once, at most concurrency in flight
 * (sbx_awsapi_call_many); resps[i], errs[i], cerrs[i] as cfn_call gives
 * them for forms[i].
 */
static void
cfn_call_many(const char *action, struct form *forms, size_t n,
    long concurrency, struct sbx_httpclient_response *resps,
    enum sbx_err *errs, struct sbx_cfn_error *cerrs)
{
	struct sbx_awsapi_req *r = calloc(n + 1, sizeof(*r));
	struct sbx_aws_error *e = calloc(n + 1, sizeof(*e));
	enum sbx_err *ae = calloc(n + 1, sizeof(*ae));
	char **bodies = calloc(n + 1, sizeof(*bodies));
	size_t *at = calloc(n + 1, sizeof(*at));
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof(resps[i]));
		memset(&cerrs[i], 0, sizeof(cerrs[i]));
		errs[i] = SBX_ENOMEM;
	}
	if (r == NULL || e == NULL || ae == NULL || bodies == NULL ||
	    at == NULL)
		goto out;
	/* Calls whose body cannot be made fail alone; the rest are sent. */
	for (i = 0; i < n; i++) {
		if (forms[i].oom)
			continue;
		if ((errs[i] = sbx_aws_canonical_query(forms[i].v, forms[i].n,
		    &bodies[m])) != SBX_OK)
			continue;
		cfn_req(&r[m], action, bodies[m]);
		at[m++] = i;
	}
	(void)sbx_awsapi_call_many(r, m, concurrency, resps + 0, ae, e);
	/* resps was filled in call order; move each answer to its call. */
	for (i = m; i-- > 0;) {
		size_t j = at[i];

		errs[j] = cfn_outcome(ae[i], &e[i], &cerrs[j]);
		if (j != i) {
			resps[j] = resps[i];
			memset(&resps[i], 0, sizeof(resps[i]));
		}
	}
out:
	for (i = 0; i < m; i++)
		free(bodies[i]);
	free(at);
	free(bodies);
	free(ae);
	free(e);
	free(r);
}

static void
form_action(struct form *f, const char *action)
{
	form_add(f, "Action", action);
	form_add(f, "Version", SBX_CFN_VERSION);
}

enum sbx_err
sbx_cfn_create_stack(const struct sbx_cfn_create *in, char **stack_id,
    struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_httpclient_response resp = { 0 };
	struct form f = { 0 };
	char tmo[24];
	size_t i;
	enum sbx_err err;

	*stack_id = NULL;
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (in == NULL || in->stack_name == NULL || in->template_body == NULL ||
	    (in->nparameters > 0 && in->parameters == NULL) ||
	    (in->ntags > 0 && in->tags == NULL) ||
	    (in->ncapabilities > 0 && in->capabilities == NULL) ||
	    in->timeout_minutes < 0)
		return SBX_EINVAL;
	form_action(&f, "CreateStack");
	form_add(&f, "StackName", in->stack_name);
	form_add(&f, "TemplateBody", in->template_body);
	for (i = 0; i < in->nparameters; i++) {
		form_addm(&f, "Parameters", i + 1, ".ParameterKey",
		    in->parameters[i].key);
		form_addm(&f, "Parameters", i + 1, ".ParameterValue",
		    in->parameters[i].value);
	}
	for (i = 0; i < in->ntags; i++) {
		form_addm(&f, "Tags", i + 1, ".Key", in->tags[i].key);
		form_addm(&f, "Tags", i + 1, ".Value", in->tags[i].value);
	}
	for (i = 0; i < in->ncapabilities; i++)
		form_addm(&f, "Capabilities", i + 1, "", in->capabilities[i]);
	if (in->on_failure != NULL)
		form_add(&f, "OnFailure", in->on_failure);
	if (in->role_arn != NULL && in->role_arn[0] != '\0')
		form_add(&f, "RoleARN", in->role_arn);
	if (in->client_request_token != NULL)
		form_add(&f, "ClientRequestToken", in->client_request_token);
	if (in->timeout_minutes > 0) {
		snprintf(tmo, sizeof(tmo), "%ld", in->timeout_minutes);
		form_add(&f, "TimeoutInMinutes", tmo);
	}
	if ((err = cfn_call("CreateStack", &f, &resp, cerr)) == SBX_OK)
		err = sbx_cfn_parse_create(resp.body, resp.body_len, stack_id);
	sbx_httpclient_response_fini(&resp);
	form_free(&f);
	return err;
}

/* DeleteStack's form. */
static void
delete_form(struct form *f, const struct sbx_cfn_delete *d)
{
	form_action(f, "DeleteStack");
	form_add(f, "StackName", d->name_or_id);
	if (d->token != NULL)
		form_add(f, "ClientRequestToken", d->token);
	if (d->role_arn != NULL && d->role_arn[0] != '\0')
		form_add(f, "RoleARN", d->role_arn);
}

/* DescribeStacks' form: one stack, or a page of all (name_or_id NULL). */
static void
describe_form(struct form *f, const char *name_or_id, const char *next)
{
	form_action(f, "DescribeStacks");
	if (name_or_id != NULL)
		form_add(f, "StackName", name_or_id);
	if (next != NULL)
		form_add(f, "NextToken", next);
}

/* Scratch arrays of a batch of n calls; all NULL when out of memory. */
struct batch {
	struct form *forms;
	struct sbx_httpclient_response *resps;
	struct sbx_cfn_error *cerrs;
};

static int
batch_init(struct batch *b, size_t n)
{
	b->forms = calloc(n + 1, sizeof(*b->forms));
	b->resps = calloc(n + 1, sizeof(*b->resps));
	b->cerrs = calloc(n + 1, sizeof(*b->cerrs));
	return b->forms != NULL && b->resps != NULL && b->cerrs != NULL;
}

static void
batch_fini(struct batch *b, size_t n)
{
	size_t i;

	for (i = 0; b->forms != NULL && i < n; i++)
		form_free(&b->forms[i]);
	for (i = 0; b->resps != NULL && i < n; i++)
		sbx_httpclient_response_fini(&b->resps[i]);
	free(b->forms);
	free(b->resps);
	free(b->cerrs);
	memset(b, 0, sizeof(*b));
}

/*
 * Opens a batch of n calls whose input is valid (or not): on failure
 * every call of it fails alike (bad input, no memory) and b is released.
 */
static enum sbx_err
batch_open(struct batch *b, size_t n, int valid, enum sbx_err *errs,
    struct sbx_cfn_error *cerrs)
{
	enum sbx_err err = !valid ? SBX_EINVAL :
	    batch_init(b, n) ? SBX_OK : SBX_ENOMEM;
	size_t i;

	if (err == SBX_OK)
		return SBX_OK;
	batch_fini(b, n);
	for (i = 0; i < n; i++) {
		errs[i] = err;
		if (cerrs != NULL)
			memset(&cerrs[i], 0, sizeof(cerrs[i]));
	}
	return err;
}

/* Hands AWS's words to the caller (cerrs may be NULL), releases b. */
static void
batch_close(struct batch *b, size_t n, struct sbx_cfn_error *cerrs)
{
	if (cerrs != NULL)
		memcpy(cerrs, b->cerrs, n * sizeof(*cerrs));
	batch_fini(b, n);
}

enum sbx_err
sbx_cfn_delete_stacks(const struct sbx_cfn_delete *in, size_t n,
    long concurrency, enum sbx_err *errs, struct sbx_cfn_error *cerrs)
{
	struct batch b = { 0 };
	size_t i;
	int valid = 1;
	enum sbx_err err;

	for (i = 0; i < n; i++)
		if (in[i].name_or_id == NULL || in[i].name_or_id[0] == '\0')
			valid = 0;
	if ((err = batch_open(&b, n, valid, errs, cerrs)) != SBX_OK)
		return err;
	for (i = 0; i < n; i++)
		delete_form(&b.forms[i], &in[i]);
	cfn_call_many("DeleteStack", b.forms, n, concurrency, b.resps, errs,
	    b.cerrs);
	batch_close(&b, n, cerrs);
	return SBX_OK;
}

enum sbx_err
sbx_cfn_delete_stack(const char *name_or_id, const char *token,
    const char *role_arn, struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_delete d = { name_or_id, token, role_arn };
	enum sbx_err err;

	(void)sbx_cfn_delete_stacks(&d, 1, 1, &err, cerr);
	return err;
}

/* One DescribeStacks page, appended to *out. */
static enum sbx_err
describe_page(const char *name_or_id, const char *next,
    struct sbx_cfn_stacks *out, char **next_out, struct sbx_cfn_error *cerr)
{
	struct sbx_httpclient_response resp = { 0 };
	struct form f = { 0 };
	enum sbx_err err;

	describe_form(&f, name_or_id, next);
	if ((err = cfn_call("DescribeStacks", &f, &resp, cerr)) == SBX_OK)
		err = sbx_cfn_parse_describe(resp.body, resp.body_len, out,
		    next_out);
	sbx_httpclient_response_fini(&resp);
	form_free(&f);
	return err;
}

/* The one stack of a DescribeStacks answer into *out. */
static enum sbx_err
describe_one(const struct sbx_httpclient_response *resp,
    struct sbx_cfn_stack *out)
{
	struct sbx_cfn_stacks l = { 0 };
	enum sbx_err err;

	err = sbx_cfn_parse_describe(resp->body, resp->body_len, &l, NULL);
	if (err == SBX_OK && l.n == 0)
		err = SBX_ENOTFOUND;
	if (err == SBX_OK) {
		*out = l.v[0];
		memset(&l.v[0], 0, sizeof(l.v[0]));
	}
	sbx_cfn_stacks_fini(&l);
	return err;
}

enum sbx_err
sbx_cfn_describe_stacks(const char *const *names, size_t n, long concurrency,
    struct sbx_cfn_stack *out, enum sbx_err *errs,
    struct sbx_cfn_error *cerrs)
{
	struct batch b = { 0 };
	size_t i;
	int valid = 1;
	enum sbx_err err;

	for (i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		if (names[i] == NULL || names[i][0] == '\0')
			valid = 0;
	}
	if ((err = batch_open(&b, n, valid, errs, cerrs)) != SBX_OK)
		return err;
	for (i = 0; i < n; i++)
		describe_form(&b.forms[i], names[i], NULL);
	cfn_call_many("DescribeStacks", b.forms, n, concurrency, b.resps,
	    errs, b.cerrs);
	for (i = 0; i < n; i++)
		if (errs[i] == SBX_OK)
			errs[i] = describe_one(&b.resps[i], &out[i]);
	batch_close(&b, n, cerrs);
	return SBX_OK;
}

enum sbx_err
sbx_cfn_describe_stack(const char *name_or_id, struct sbx_cfn_stack *out,
    struct sbx_cfn_error *cerr)
{
	enum sbx_err err;

	(void)sbx_cfn_describe_stacks(&name_or_id, 1, 1, out, &err, cerr);
	return err;
}

static int
has_tag(const struct sbx_cfn_stack *s, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < s->ntags; i++)
		if (strcmp(s->tags[i].key, key) == 0 &&
		    (value == NULL || strcmp(s->tags[i].value, value) == 0))
			return 1;
	return 0;
}

enum sbx_err
sbx_cfn_stacks_with_tag(const char *key, const char *value,
    struct sbx_cfn_stacks *out, struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_cfn_stacks page = { 0 };
	struct sbx_cfn_stack *nv;
	struct sbx_awsapi_pages pg = { NULL, NULL, 0, MAX_PAGES };
	size_t i;
	enum sbx_err err = SBX_OK;

	memset(out, 0, sizeof(*out));
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (key == NULL || key[0] == '\0')
		return SBX_EINVAL;
	while (err == SBX_OK && sbx_awsapi_pages_next(&pg, &err)) {
		if ((err = describe_page(NULL, pg.tok, &page, &pg.next,
		    cerr)) != SBX_OK)
			break;
		for (i = 0; i < page.n; i++) {
			if (!has_tag(&page.v[i], key, value))
				continue;
			if ((nv = vec_grow(out->v, out->n, sizeof(*nv))) ==
			    NULL) {
				err = SBX_ENOMEM;
				break;
			}
			out->v = nv;
			out->v[out->n++] = page.v[i];
			memset(&page.v[i], 0, sizeof(page.v[i]));
		}
		sbx_cfn_stacks_fini(&page);
	}
	sbx_cfn_stacks_fini(&page);
	sbx_awsapi_pages_fini(&pg);
	if (err != SBX_OK)
		sbx_cfn_stacks_fini(out);
	return err;
}

/*
 * A call about one stack (StackName = name_or_id) whose answer parse()
 * reads into out; fini() empties out on failure.
 */
static enum sbx_err
one_stack_call(const char *action, const char *name_or_id,
    enum sbx_err (*parse)(const char *, size_t, void *), void *out,
    void (*fini)(void *), struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_httpclient_response resp = { 0 };
	struct form f = { 0 };
	enum sbx_err err;

	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (name_or_id == NULL || name_or_id[0] == '\0')
		return SBX_EINVAL;
	form_action(&f, action);
	form_add(&f, "StackName", name_or_id);
	if ((err = cfn_call(action, &f, &resp, cerr)) == SBX_OK)
		err = parse(resp.body, resp.body_len, out);
	if (err != SBX_OK)
		fini(out);
	sbx_httpclient_response_fini(&resp);
	form_free(&f);
	return err;
}

static enum sbx_err
parse_events_one(const char *xml, size_t len, void *out)
{
	return sbx_cfn_parse_events(xml, len, out, NULL);
}

static void
events_fini(void *out)
{
	sbx_cfn_events_fini(out);
}

enum sbx_err
sbx_cfn_describe_stack_events(const char *name_or_id,
    struct sbx_cfn_events *out, struct sbx_cfn_error *cerr)
{
	memset(out, 0, sizeof(*out));
	return one_stack_call("DescribeStackEvents", name_or_id,
	    parse_events_one, out, events_fini, cerr);
}

enum sbx_err
sbx_cfn_list_stacks(const char *const *statuses, size_t nstatuses,
    struct sbx_cfn_summaries *out, struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_httpclient_response resp = { 0 };
	struct form f = { 0 };
	struct sbx_awsapi_pages pg = { NULL, NULL, 0, MAX_PAGES };
	size_t i;
	enum sbx_err err = SBX_OK;

	memset(out, 0, sizeof(*out));
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (nstatuses > 0 && statuses == NULL)
		return SBX_EINVAL;
	while (err == SBX_OK && sbx_awsapi_pages_next(&pg, &err)) {
		form_action(&f, "ListStacks");
		for (i = 0; i < nstatuses; i++)
			form_addm(&f, "StackStatusFilter", i + 1, "",
			    statuses[i]);
		if (pg.tok != NULL)
			form_add(&f, "NextToken", pg.tok);
		if ((err = cfn_call("ListStacks", &f, &resp, cerr)) == SBX_OK)
			err = sbx_cfn_parse_list(resp.body, resp.body_len, out,
			    &pg.next);
		sbx_httpclient_response_fini(&resp);
		form_free(&f);
	}
	sbx_awsapi_pages_fini(&pg);
	if (err != SBX_OK)
		sbx_cfn_summaries_fini(out);
	return err;
}

static enum sbx_err
parse_resources_one(const char *xml, size_t len, void *out)
{
	return sbx_cfn_parse_resources(xml, len, out);
}

static void
resources_fini(void *out)
{
	sbx_cfn_resources_fini(out);
}

enum sbx_err
sbx_cfn_describe_stack_resources(const char *name_or_id,
    struct sbx_cfn_resources *out, struct sbx_cfn_error *cerr)
{
	memset(out, 0, sizeof(*out));
	return one_stack_call("DescribeStackResources", name_or_id,
	    parse_resources_one, out, resources_fini, cerr);
}
