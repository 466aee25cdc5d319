/*
 * The CloudFormation Query API client: builds the form body, signs it,
 * sends it through the one HTTP client, retries what is worth retrying,
 * and reads the XML answers. See cfn.h for the contracts.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "common/io/aws.h"
#include "common/io/cfn.h"
#include "common/core/config.h"
#include "common/core/crypto.h"
#include "common/io/httpclient.h"
#include "common/core/log.h"

#define SERVICE "cloudformation"
#define CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define RETRY_BASE_MS 200L
#define RETRY_CAP_MS 5000L
/* A guard against a NextToken that never ends. */
#define MAX_PAGES 1000

/* ------------------------------------------------------------------ XML */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void
xml_init(void)
{
	xmlInitParser();
}

/*
 * libxml2 reports some failures (a body that does not convert from the
 * encoding it declares) through its generic error channel, which
 * XML_PARSE_NOERROR does not reach and which by default writes to stderr,
 * outside our log. The caller gets SBX_EPARSE and logs that instead.
 */
static void
xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/*
 * Parses an answer and checks its root element. No entity substitution,
 * no DTD loading, no network; a document with a DTD at all is refused,
 * since AWS never sends one and it is the door for entity tricks.
 */
static enum sbx_err
xml_open(const char *xml, size_t len, const char *root_name, xmlDoc **doc,
    xmlNode **root)
{
	xmlNode *r;

	*doc = NULL;
	*root = NULL;
	if (xml == NULL || len == 0 || len > INT_MAX)
		return SBX_EPARSE;
	(void)pthread_once(&xml_once, xml_init);
	/* The channel is per thread in libxml2: set it for this one. */
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	*doc = xmlReadMemory(xml, (int)len, "cfn.xml", NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (*doc == NULL)
		return SBX_EPARSE;
	if ((*doc)->intSubset != NULL || (*doc)->extSubset != NULL ||
	    (r = xmlDocGetRootElement(*doc)) == NULL ||
	    strcmp((const char *)r->name, root_name) != 0) {
		xmlFreeDoc(*doc);
		*doc = NULL;
		return SBX_EPARSE;
	}
	*root = r;
	return SBX_OK;
}

/* The first child element with this local name (namespaces ignored). */
static xmlNode *
child(xmlNode *n, const char *name)
{
	xmlNode *c;

	if (n == NULL)
		return NULL;
	for (c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, name) == 0)
			return c;
	return NULL;
}

/* The next sibling element with the same local name as n. */
static xmlNode *
next_named(xmlNode *n)
{
	xmlNode *c;

	for (c = n->next; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, (const char *)n->name) == 0)
			return c;
	return NULL;
}

/*
 * The text of child element name of n, copied into *out (NULL when the
 * element is absent). Returns -1 only when out of memory.
 */
static int
child_text(xmlNode *n, const char *name, char **out)
{
	xmlNode *c = child(n, name);
	xmlChar *t;

	*out = NULL;
	if (c == NULL)
		return 0;
	if ((t = xmlNodeGetContent(c)) == NULL)
		return -1;
	*out = strdup((const char *)t);
	xmlFree(t);
	return *out == NULL ? -1 : 0;
}

/* Copies s into a fixed buffer, cutting on a UTF-8 boundary. */
static void
copy_utf8(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);

	if (n >= cap) {
		n = cap - 1;
		/* Back up over continuation bytes to a character start. */
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(dst, s, n);
	dst[n] = '\0';
}

enum sbx_err
sbx_cfn_parse_error(const char *xml, size_t len, struct sbx_cfn_error *cerr)
{
	xmlDoc *doc = NULL;
	xmlNode *root, *e;
	char *code = NULL, *msg = NULL;
	enum sbx_err err;

	if ((err = xml_open(xml, len, "ErrorResponse", &doc, &root)) != SBX_OK)
		return err;
	err = SBX_EPARSE;
	if ((e = child(root, "Error")) == NULL)
		goto out;
	if (child_text(e, "Code", &code) != 0 ||
	    child_text(e, "Message", &msg) != 0) {
		err = SBX_ENOMEM;
		goto out;
	}
	if (code == NULL || code[0] == '\0')
		goto out;
	copy_utf8(cerr->code, sizeof(cerr->code), code);
	copy_utf8(cerr->message, sizeof(cerr->message), msg ? msg : "");
	err = SBX_OK;
out:
	free(code);
	free(msg);
	xmlFreeDoc(doc);
	return err;
}

static int
code_in(const char *code, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(code, *list) == 0)
			return 1;
	return 0;
}

enum sbx_err
sbx_cfn_map_error(long status, const char *code, const char *message)
{
	static const char *const throttled[] = { "Throttling",
	    "ThrottlingException", "RequestLimitExceeded",
	    "TooManyRequestsException", NULL };
	static const char *const conflict[] = { "AlreadyExistsException",
	    "TokenAlreadyExistsException", NULL };
	static const char *const auth[] = { "InvalidClientTokenId",
	    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
	    "AccessDenied", "AccessDeniedException", "IncompleteSignature",
	    "MissingAuthenticationToken", "UnrecognizedClientException",
	    "InvalidAccessKeyId", "AuthFailure", NULL };
	static const char *const unavailable[] = { "ServiceUnavailable",
	    "InternalFailure", "InternalError", "ServiceUnavailableException",
	    NULL };

	if (code == NULL)
		code = "";
	if (message == NULL)
		message = "";
	if (code_in(code, throttled))
		return SBX_ETHROTTLED;
	if (strcmp(code, "ValidationError") == 0)
		return strstr(message, "does not exist") != NULL ?
		    SBX_ENOTFOUND : SBX_EINVAL;
	if (code_in(code, conflict))
		return SBX_ECONFLICT;
	if (strcmp(code, "InsufficientCapabilitiesException") == 0)
		return SBX_EINVAL;
	if (code_in(code, auth))
		return SBX_EAUTH;
	if (code_in(code, unavailable) || status >= 500 || status == 0)
		return SBX_EUNAVAILABLE;
	if (status == 429)
		return SBX_ETHROTTLED;
	if (status == 401 || status == 403)
		return SBX_EAUTH;
	return SBX_EREMOTE;
}

enum sbx_err
sbx_cfn_parse_create(const char *xml, size_t len, char **stack_id)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	enum sbx_err err;

	*stack_id = NULL;
	if ((err = xml_open(xml, len, "CreateStackResponse", &doc, &root)) !=
	    SBX_OK)
		return err;
	if (child_text(child(root, "CreateStackResult"), "StackId",
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
		if (child_text(m, k->fields[i].name,
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

	for (m = child(list, "member"); m != NULL; m = next_named(m)) {
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

	err = members_read(child(m, "Outputs"), &output_kind, &v,
	    &s->noutputs);
	s->outputs = v;
	if (err != SBX_OK)
		return err;
	v = NULL;
	err = members_read(child(m, "Tags"), &tag_kind, &v, &s->ntags);
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
	if ((err = xml_open(xml, len, rname, &doc, &root)) != SBX_OK)
		return err;
	if ((result = child(root, sname)) == NULL) {
		err = SBX_EPARSE;
		goto out;
	}
	if (next_token != NULL) {
		if (child_text(result, "NextToken", next_token) != 0) {
			err = SBX_ENOMEM;
			goto out;
		}
		if (*next_token != NULL && (*next_token)[0] == '\0') {
			free(*next_token);
			*next_token = NULL;
		}
	}
	err = members_read(child(result, list), k, v, n);
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

static long
retry_base_ms(void)
{
	const char *v = sbx_config_getenv("CFN_RETRY_BASE_MS", NULL);
	char *end;
	long ms;

	if (v == NULL || v[0] == '\0')
		return RETRY_BASE_MS;
	errno = 0;
	ms = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || ms < 0 || ms > 60000)
		return RETRY_BASE_MS;
	return ms;
}

/* Full jitter: a uniform wait in [0, min(cap, base * 2^(attempt-1))]. */
static void
backoff(int attempt)
{
	long base = retry_base_ms(), ceil_ms = base, ms;
	uint32_t r = 0;
	struct timespec ts;
	int i;

	if (base == 0)
		return;
	for (i = 1; i < attempt && ceil_ms < RETRY_CAP_MS; i++)
		ceil_ms *= 2;
	if (ceil_ms > RETRY_CAP_MS)
		ceil_ms = RETRY_CAP_MS;
	if (sbx_crypto_random(&r, sizeof(r)) != SBX_OK)
		r = (uint32_t)rand();
	ms = (long)(r % (uint32_t)(ceil_ms + 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Where to send: the endpoint URL, its Host header and its path. */
struct target {
	char *url;
	char *host;		/* host[:port] as the Host header says it */
	char *path;		/* decoded path for the canonical request */
};

static void
target_fini(struct target *t)
{
	free(t->url);
	free(t->host);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

static enum sbx_err
target_resolve(const char *region, struct target *t)
{
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *path = NULL, *user = NULL;
	CURLUcode uc;
	size_t n;
	enum sbx_err err;

	memset(t, 0, sizeof(*t));
	if ((err = sbx_aws_endpoint(SERVICE, region, &t->url)) != SBX_OK)
		return err;
	err = SBX_ECONFIG;
	if (!sbx_http_url_allowed(t->url)) {
		sbx_log(SBX_LOG_ERROR, "cfn", "the CloudFormation endpoint "
		    "must be https, or http to a loopback address");
		goto out;
	}
	if ((u = curl_url()) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	if (curl_url_set(u, CURLUPART_URL, t->url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) !=
	    CURLUE_OK)
		goto out;
	/* Credentials in the endpoint URL would be sent in the clear. */
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		goto out;
	uc = curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (uc != CURLUE_OK && uc != CURLUE_NO_PORT)
		goto out;
	n = strlen(host) + (port ? strlen(port) + 1 : 0) + 1;
	if ((t->host = malloc(n)) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	/* curl leaves out a port the scheme implies; so does the Host header. */
	if (port != NULL && !((strncmp(t->url, "https:", 6) == 0 &&
	    strcmp(port, "443") == 0) || (strncmp(t->url, "http:", 5) == 0 &&
	    strcmp(port, "80") == 0)))
		snprintf(t->host, n, "%s:%s", host, port);
	else
		snprintf(t->host, n, "%s", host);
	if ((t->path = strdup(path[0] ? path : "/")) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	err = SBX_OK;
out:
	if (err != SBX_OK)
		target_fini(t);
	curl_free(user);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_url_cleanup(u);
	return err;
}

/* One signed POST. */
static enum sbx_err
send_signed(const struct target *t, const char *region, const char *body,
    const struct sbx_aws_creds *creds, struct sbx_http_response *resp)
{
	struct sbx_http_header signed_hdrs[] = {
		{ "Content-Type", CONTENT_TYPE },
	};
	struct sbx_aws_sign_req r = {
		.method = "POST",
		.path = t->path,
		.host = t->host,
		.headers = signed_hdrs,
		.nheaders = 1,
		.payload = body,
		.payload_len = strlen(body),
		.region = region,
		.service = SERVICE,
		.now = (long long)time(NULL),
	};
	struct sbx_aws_sig sig = { 0 };
	struct sbx_http_header h[6];
	struct sbx_http_request req = { 0 };
	size_t n = 0;
	enum sbx_err err;

	if ((err = sbx_aws_sign(&r, creds, &sig)) != SBX_OK)
		return err;
	h[n++] = (struct sbx_http_header){ "Host", t->host };
	h[n++] = (struct sbx_http_header){ "Content-Type", CONTENT_TYPE };
	h[n++] = (struct sbx_http_header){ "X-Amz-Date", sig.amz_date };
	if (creds->session_token != NULL)
		h[n++] = (struct sbx_http_header){ "X-Amz-Security-Token",
		    creds->session_token };
	h[n++] = (struct sbx_http_header){ "Authorization", sig.authorization };
	h[n++] = (struct sbx_http_header){ "Accept", "text/xml" };
	req.method = "POST";
	req.url = t->url;
	req.headers = h;
	req.nheaders = n;
	req.body = body;
	req.body_len = strlen(body);
	err = sbx_http_send(&req, resp);
	sbx_aws_sig_fini(&sig);
	return err;
}

static int
expired_token(const struct sbx_cfn_error *e)
{
	return strcmp(e->code, "ExpiredToken") == 0 ||
	    strcmp(e->code, "ExpiredTokenException") == 0;
}

/*
 * Runs one Query API call with its retries. On SBX_OK, resp holds the 2xx
 * answer (the caller finis it); otherwise resp is empty and cerr says what
 * AWS said last.
 */
static enum sbx_err
cfn_call(const char *action, struct form *f, struct sbx_http_response *resp,
    struct sbx_cfn_error *cerr)
{
	struct sbx_aws_creds creds = { 0 };
	struct target t = { 0 };
	char region[64], *body = NULL;
	int attempt, refreshed = 0;
	enum sbx_err err;

	memset(resp, 0, sizeof(*resp));
	memset(cerr, 0, sizeof(*cerr));
	if (f->oom)
		return SBX_ENOMEM;
	/* Failures before any request still tell the caller why. */
	if ((err = sbx_aws_region(region, sizeof(region))) != SBX_OK) {
		sbx_log(SBX_LOG_ERROR, "cfn", "no AWS region: set AWS_REGION");
		snprintf(cerr->code, sizeof(cerr->code), "NoRegion");
		snprintf(cerr->message, sizeof(cerr->message),
		    "no AWS region is configured");
		return err;
	}
	if ((err = target_resolve(region, &t)) != SBX_OK) {
		snprintf(cerr->code, sizeof(cerr->code), "BadEndpoint");
		snprintf(cerr->message, sizeof(cerr->message),
		    "the CloudFormation endpoint is not usable");
		goto out;
	}
	if ((err = sbx_aws_canonical_query(f->v, f->n, &body)) != SBX_OK)
		goto out;
	if ((err = sbx_aws_creds_get(&creds)) != SBX_OK) {
		snprintf(cerr->code, sizeof(cerr->code), "NoCredentials");
		snprintf(cerr->message, sizeof(cerr->message),
		    "AWS credentials could not be obtained: %s",
		    sbx_strerror(err));
		goto out;
	}

	for (attempt = 1;; attempt++) {
		memset(cerr, 0, sizeof(*cerr));
		sbx_http_response_fini(resp);
		err = send_signed(&t, region, body, &creds, resp);
		if (err == SBX_OK) {
			cerr->http_status = resp->status;
			if (resp->status >= 200 && resp->status < 300)
				goto out;
			if (sbx_cfn_parse_error(resp->body, resp->body_len,
			    cerr) != SBX_OK) {
				snprintf(cerr->code, sizeof(cerr->code),
				    "HTTP%ld", resp->status);
				cerr->message[0] = '\0';
			}
			err = sbx_cfn_map_error(resp->status, cerr->code,
			    cerr->message);
		} else if (err != SBX_EUNAVAILABLE) {
			goto out;
		} else {
			snprintf(cerr->code, sizeof(cerr->code), "NoAnswer");
			snprintf(cerr->message, sizeof(cerr->message),
			    "CloudFormation could not be reached");
		}
		/*
		 * What is retried is worth a warning; a refused signature
		 * needs an operator; the rest (no such stack, name taken)
		 * is the caller's to judge.
		 */
		sbx_log(err == SBX_ETHROTTLED || err == SBX_EUNAVAILABLE ?
		    SBX_LOG_WARN : err == SBX_EAUTH ? SBX_LOG_ERROR :
		    SBX_LOG_DEBUG, "cfn", "%s attempt %d/%d: %s (%s)", action,
		    attempt, SBX_CFN_MAX_ATTEMPTS, sbx_strerror(err),
		    cerr->code);
		/* Credentials from the container may expire between calls. */
		if (err == SBX_EAUTH && expired_token(cerr) && !refreshed) {
			refreshed = 1;
			sbx_aws_creds_fini(&creds);
			sbx_aws_creds_reset();
			if ((err = sbx_aws_creds_get(&creds)) != SBX_OK)
				goto out;
			continue;
		}
		if ((err != SBX_ETHROTTLED && err != SBX_EUNAVAILABLE) ||
		    attempt >= SBX_CFN_MAX_ATTEMPTS)
			goto out;
		backoff(attempt);
	}
out:
	if (err != SBX_OK)
		sbx_http_response_fini(resp);
	sbx_aws_creds_fini(&creds);
	free(body);
	target_fini(&t);
	return err;
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
	struct sbx_http_response resp = { 0 };
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
	sbx_http_response_fini(&resp);
	form_free(&f);
	return err;
}

enum sbx_err
sbx_cfn_delete_stack(const char *name_or_id, const char *token,
    const char *role_arn, struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_http_response resp = { 0 };
	struct form f = { 0 };
	enum sbx_err err;

	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (name_or_id == NULL || name_or_id[0] == '\0')
		return SBX_EINVAL;
	form_action(&f, "DeleteStack");
	form_add(&f, "StackName", name_or_id);
	if (token != NULL)
		form_add(&f, "ClientRequestToken", token);
	if (role_arn != NULL && role_arn[0] != '\0')
		form_add(&f, "RoleARN", role_arn);
	err = cfn_call("DeleteStack", &f, &resp, cerr);
	sbx_http_response_fini(&resp);
	form_free(&f);
	return err;
}

/* One DescribeStacks page, appended to *out. */
static enum sbx_err
describe_page(const char *name_or_id, const char *next,
    struct sbx_cfn_stacks *out, char **next_out, struct sbx_cfn_error *cerr)
{
	struct sbx_http_response resp = { 0 };
	struct form f = { 0 };
	enum sbx_err err;

	form_action(&f, "DescribeStacks");
	if (name_or_id != NULL)
		form_add(&f, "StackName", name_or_id);
	if (next != NULL)
		form_add(&f, "NextToken", next);
	if ((err = cfn_call("DescribeStacks", &f, &resp, cerr)) == SBX_OK)
		err = sbx_cfn_parse_describe(resp.body, resp.body_len, out,
		    next_out);
	sbx_http_response_fini(&resp);
	form_free(&f);
	return err;
}

enum sbx_err
sbx_cfn_describe_stack(const char *name_or_id, struct sbx_cfn_stack *out,
    struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_cfn_stacks l = { 0 };
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (name_or_id == NULL || name_or_id[0] == '\0')
		return SBX_EINVAL;
	if ((err = describe_page(name_or_id, NULL, &l, NULL, cerr)) != SBX_OK)
		goto out;
	if (l.n == 0) {
		err = SBX_ENOTFOUND;
		goto out;
	}
	*out = l.v[0];
	memset(&l.v[0], 0, sizeof(l.v[0]));
out:
	sbx_cfn_stacks_fini(&l);
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
	char *next = NULL, *tok = NULL;
	size_t i;
	int pages = 0;
	enum sbx_err err = SBX_OK;

	memset(out, 0, sizeof(*out));
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (key == NULL || key[0] == '\0')
		return SBX_EINVAL;
	do {
		free(tok);
		tok = next;
		next = NULL;
		if (++pages > MAX_PAGES) {
			err = SBX_EREMOTE;
			break;
		}
		if ((err = describe_page(NULL, tok, &page, &next, cerr)) !=
		    SBX_OK)
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
	} while (err == SBX_OK && next != NULL);
	sbx_cfn_stacks_fini(&page);
	free(tok);
	free(next);
	if (err != SBX_OK)
		sbx_cfn_stacks_fini(out);
	return err;
}

enum sbx_err
sbx_cfn_describe_stack_events(const char *name_or_id,
    struct sbx_cfn_events *out, struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_http_response resp = { 0 };
	struct form f = { 0 };
	enum sbx_err err;

	memset(out, 0, sizeof(*out));
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (name_or_id == NULL || name_or_id[0] == '\0')
		return SBX_EINVAL;
	form_action(&f, "DescribeStackEvents");
	form_add(&f, "StackName", name_or_id);
	if ((err = cfn_call("DescribeStackEvents", &f, &resp, cerr)) ==
	    SBX_OK)
		err = sbx_cfn_parse_events(resp.body, resp.body_len, out, NULL);
	if (err != SBX_OK)
		sbx_cfn_events_fini(out);
	sbx_http_response_fini(&resp);
	form_free(&f);
	return err;
}

enum sbx_err
sbx_cfn_list_stacks(const char *const *statuses, size_t nstatuses,
    struct sbx_cfn_summaries *out, struct sbx_cfn_error *cerr)
{
	struct sbx_cfn_error dummy;
	struct sbx_http_response resp = { 0 };
	struct form f = { 0 };
	char *next = NULL, *tok = NULL;
	size_t i;
	int pages = 0;
	enum sbx_err err = SBX_OK;

	memset(out, 0, sizeof(*out));
	if (cerr == NULL)
		cerr = &dummy;
	memset(cerr, 0, sizeof(*cerr));
	if (nstatuses > 0 && statuses == NULL)
		return SBX_EINVAL;
	do {
		free(tok);
		tok = next;
		next = NULL;
		if (++pages > MAX_PAGES) {
			err = SBX_EREMOTE;
			break;
		}
		form_action(&f, "ListStacks");
		for (i = 0; i < nstatuses; i++)
			form_addm(&f, "StackStatusFilter", i + 1, "",
			    statuses[i]);
		if (tok != NULL)
			form_add(&f, "NextToken", tok);
		if ((err = cfn_call("ListStacks", &f, &resp, cerr)) == SBX_OK)
			err = sbx_cfn_parse_list(resp.body, resp.body_len, out,
			    &next);
		sbx_http_response_fini(&resp);
		form_free(&f);
	} while (err == SBX_OK && next != NULL);
	free(tok);
	free(next);
	if (err != SBX_OK)
		sbx_cfn_summaries_fini(out);
	return err;
}
