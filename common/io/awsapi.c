/*
 * A signed call to an AWS API with its retries, and the XML helpers of
 * the Query APIs (see awsapi.h). The request side follows common/io/cfn.c's
 * client, generalised over the service, the content type and the target.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/xmlerror.h>
#include "common/core/crypto.h"
#include "common/io/aws.h"
#include "common/io/awsapi.h"
#include "common/io/awsxml.h"
#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "awsapi"

#define RETRY_BASE_MS 200L
#define RETRY_CAP_MS 5000L

/* ------------------------------------------------------------------ XML */

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void
xml_init(void)
{
	xmlInitParser();
}

/* libxml2's generic error channel would write to stderr, outside the log. */
static void
xml_quiet(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

enum sbx_err
sbx_awsxml_open(const char *xml, size_t len, const char *root_name,
    xmlDoc **doc, xmlNode **root)
{
	xmlNode *r;

	*doc = NULL;
	*root = NULL;
	if (xml == NULL || len == 0 || len > INT_MAX)
		return SBX_EPARSE;
	(void)pthread_once(&xml_once, xml_init);
	xmlSetGenericErrorFunc(NULL, xml_quiet);
	*doc = xmlReadMemory(xml, (int)len, "aws.xml", NULL,
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

xmlNode *
sbx_awsxml_child(xmlNode *n, const char *name)
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

xmlNode *
sbx_awsxml_next(xmlNode *n)
{
	xmlNode *c;

	for (c = n->next; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE &&
		    strcmp((const char *)c->name, (const char *)n->name) == 0)
			return c;
	return NULL;
}

int
sbx_awsxml_text(xmlNode *n, const char *name, char **out)
{
	xmlNode *c = sbx_awsxml_child(n, name);
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

enum sbx_err
sbx_awsxml_error(xmlNode *er, struct sbx_aws_error *e)
{
	char *code = NULL, *msg = NULL;
	enum sbx_err err = SBX_EPARSE;

	if (er == NULL)
		return SBX_EPARSE;
	if (sbx_awsxml_text(er, "Code", &code) != 0 ||
	    sbx_awsxml_text(er, "Message", &msg) != 0) {
		err = SBX_ENOMEM;
		goto out;
	}
	if (code == NULL || code[0] == '\0')
		goto out;
	sbx_awsapi_copy(e->code, sizeof(e->code), code);
	sbx_awsapi_copy(e->message, sizeof(e->message), msg);
	err = SBX_OK;
out:
	free(code);
	free(msg);
	return err;
}

enum sbx_err
sbx_awsxml_parse_error(const char *xml, size_t len, const char *root_name,
    const char *set, struct sbx_aws_error *e)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	enum sbx_err err;

	if ((err = sbx_awsxml_open(xml, len, root_name, &doc, &root)) !=
	    SBX_OK)
		return err;
	if (set != NULL)
		root = sbx_awsxml_child(root, set);
	err = sbx_awsxml_error(sbx_awsxml_child(root, "Error"), e);
	xmlFreeDoc(doc);
	return err;
}

void
sbx_awsapi_copy(char *dst, size_t cap, const char *s)
{
	sbx_util_copy_utf8(dst, cap, s);
}

/* ------------------------------------------------------------ pages */

int
sbx_awsapi_pages_next(struct sbx_awsapi_pages *p, enum sbx_err *err)
{
	if (p->n > 0 && p->next == NULL)
		return 0;
	free(p->tok);
	p->tok = p->next;
	p->next = NULL;
	if (++p->n > p->max) {
		*err = SBX_EREMOTE;
		return 0;
	}
	return 1;
}

void
sbx_awsapi_pages_fini(struct sbx_awsapi_pages *p)
{
	free(p->tok);
	free(p->next);
	p->tok = p->next = NULL;
}

/* ------------------------------------------------------------ errors */

static int
code_in(const char *code, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(code, *list) == 0)
			return 1;
	return 0;
}

enum sbx_err
sbx_awsapi_map_error(long status, const char *code)
{
	static const char *const throttled[] = { "Throttling",
	    "ThrottlingException", "RequestLimitExceeded",
	    "TooManyRequestsException", "RequestThrottled", NULL };
	static const char *const auth[] = { "InvalidClientTokenId",
	    "SignatureDoesNotMatch", "ExpiredToken", "ExpiredTokenException",
	    "AccessDenied", "AccessDeniedException", "IncompleteSignature",
	    "IncompleteSignatureException", "MissingAuthenticationToken",
	    "MissingAuthenticationTokenException",
	    "UnrecognizedClientException", "InvalidSignatureException",
	    "InvalidAccessKeyId", "AuthFailure", "UnauthorizedOperation",
	    NULL };
	static const char *const unavailable[] = { "ServiceUnavailable",
	    "ServiceUnavailableException", "Unavailable", "InternalFailure",
	    "InternalError", "InternalErrorException", NULL };

	if (code == NULL)
		code = "";
	if (code_in(code, throttled))
		return SBX_ETHROTTLED;
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

static int
expired_token(const struct sbx_aws_error *e)
{
	return strcmp(e->code, "ExpiredToken") == 0 ||
	    strcmp(e->code, "ExpiredTokenException") == 0 ||
	    strcmp(e->code, "RequestExpired") == 0;
}

/* ------------------------------------------------------------ requests */

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
	char *host;
	char *path;
};

static void
target_fini(struct target *t)
{
	free(t->url);
	free(t->host);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

/*
 * A configured endpoint (AWS_ENDPOINT_URL_<SERVICE> or AWS_ENDPOINT_URL)
 * wins; without one, r->default_url when the service has an unusual host
 * (the Price List's api.pricing.<region>), else AWS's usual one.
 */
static enum sbx_err
endpoint(const struct sbx_awsapi_req *r, const char *region, char **out)
{
	char *std = NULL, *def = NULL;
	int n;
	enum sbx_err err;

	if ((err = sbx_aws_endpoint(r->service, region, out)) != SBX_OK ||
	    r->default_url == NULL)
		return err;
	n = snprintf(NULL, 0, "https://%s.%s.amazonaws.com", r->service,
	    region);
	if (n < 0 || (std = malloc((size_t)n + 1)) == NULL)
		return SBX_ENOMEM;
	snprintf(std, (size_t)n + 1, "https://%s.%s.amazonaws.com",
	    r->service, region);
	if (strcmp(*out, std) == 0) {
		if ((def = strdup(r->default_url)) == NULL) {
			free(std);
			return SBX_ENOMEM;
		}
		free(*out);
		*out = def;
	}
	free(std);
	return SBX_OK;
}

static enum sbx_err
target_resolve(const struct sbx_awsapi_req *r, const char *region,
    struct target *t)
{
	CURLU *u = NULL;
	char *host = NULL, *port = NULL, *path = NULL, *user = NULL;
	CURLUcode uc;
	size_t n;
	enum sbx_err err;

	memset(t, 0, sizeof(*t));
	if ((err = endpoint(r, region, &t->url)) != SBX_OK)
		return err;
	err = SBX_ECONFIG;
	if (!sbx_httpclient_url_allowed(t->url)) {
		sbx_log(SBX_LOG_ERROR, MODULE, "the %s endpoint must be "
		    "https, or http to a loopback address", r->service);
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

/* A signed request and what it points into, alive until it is sent. */
struct signed_req {
	struct sbx_aws_sig sig;
	struct sbx_httpclient_header h[8];
	struct sbx_httpclient_request req;
};

static void
signed_fini(struct signed_req *s)
{
	sbx_aws_sig_fini(&s->sig);
	memset(s, 0, sizeof(*s));
}

/* Signs r for now and builds the HTTP request in s (signed_fini). */
static enum sbx_err
sign_request(const struct sbx_awsapi_req *r, const struct target *t,
    const char *region, const struct sbx_aws_creds *creds,
    struct signed_req *s)
{
	struct sbx_httpclient_header signed_hdrs[2];
	struct sbx_aws_sign_req sr = { 0 };
	struct sbx_httpclient_header *h = s->h;
	size_t n = 0, ns = 0;
	enum sbx_err err;

	memset(s, 0, sizeof(*s));
	signed_hdrs[ns++] = (struct sbx_httpclient_header){ "Content-Type",
	    r->content_type };
	if (r->target != NULL)
		signed_hdrs[ns++] = (struct sbx_httpclient_header){ "X-Amz-Target",
		    r->target };
	sr.method = "POST";
	sr.path = t->path;
	sr.host = t->host;
	sr.headers = signed_hdrs;
	sr.nheaders = ns;
	sr.payload = r->body;
	sr.payload_len = r->body_len;
	sr.region = region;
	sr.service = r->service;
	sr.now = (long long)time(NULL);
	if ((err = sbx_aws_sign(&sr, creds, &s->sig)) != SBX_OK)
		return err;
	h[n++] = (struct sbx_httpclient_header){ "Host", t->host };
	h[n++] = (struct sbx_httpclient_header){ "Content-Type", r->content_type };
	if (r->target != NULL)
		h[n++] = (struct sbx_httpclient_header){ "X-Amz-Target", r->target };
	h[n++] = (struct sbx_httpclient_header){ "X-Amz-Date", s->sig.amz_date };
	if (creds->session_token != NULL)
		h[n++] = (struct sbx_httpclient_header){ "X-Amz-Security-Token",
		    creds->session_token };
	h[n++] = (struct sbx_httpclient_header){ "Authorization",
	    s->sig.authorization };
	if (r->accept != NULL)
		h[n++] = (struct sbx_httpclient_header){ "Accept", r->accept };
	s->req.method = "POST";
	s->req.url = t->url;
	s->req.headers = h;
	s->req.nheaders = n;
	s->req.body = r->body;
	s->req.body_len = r->body_len;
	return SBX_OK;
}

static enum sbx_err
send_signed(const struct sbx_awsapi_req *r, const struct target *t,
    const char *region, const struct sbx_aws_creds *creds,
    struct sbx_httpclient_response *resp)
{
	struct signed_req s;
	enum sbx_err err;

	if ((err = sign_request(r, t, region, creds, &s)) == SBX_OK)
		err = sbx_httpclient_send(&s.req, resp);
	signed_fini(&s);
	return err;
}

/*
 * Where and as whom a call goes: the region, the endpoint and the
 * credentials, resolved once for a call (or a batch of them). On failure
 * e says why.
 */
static enum sbx_err
call_setup(const struct sbx_awsapi_req *r, char *region, size_t region_len,
    struct target *t, struct sbx_aws_creds *creds, struct sbx_aws_error *e)
{
	enum sbx_err err;

	if (r->region != NULL)
		snprintf(region, region_len, "%s", r->region);
	else if ((err = sbx_aws_region(region, region_len)) != SBX_OK) {
		snprintf(e->code, sizeof(e->code), "NoRegion");
		snprintf(e->message, sizeof(e->message),
		    "no AWS region is configured");
		return err;
	}
	if ((err = target_resolve(r, region, t)) != SBX_OK) {
		snprintf(e->code, sizeof(e->code), "BadEndpoint");
		snprintf(e->message, sizeof(e->message),
		    "the %s endpoint is not usable", r->service);
		return err;
	}
	if ((err = sbx_aws_creds_get(creds)) != SBX_OK) {
		snprintf(e->code, sizeof(e->code), "NoCredentials");
		snprintf(e->message, sizeof(e->message),
		    "AWS credentials could not be obtained: %s",
		    sbx_strerror(err));
		return err;
	}
	return SBX_OK;
}

/*
 * What one attempt's outcome means: SBX_OK for a 2xx answer, else the
 * mapped code with e filled (and the attempt logged). err is what the
 * send returned.
 */
static enum sbx_err
attempt_outcome(const struct sbx_awsapi_req *r, enum sbx_err err,
    const struct sbx_httpclient_response *resp, struct sbx_aws_error *e,
    int attempt)
{
	memset(e, 0, sizeof(*e));
	if (err == SBX_OK) {
		e->http_status = resp->status;
		if (resp->status >= 200 && resp->status < 300)
			return SBX_OK;
		if (r->parse_error == NULL || r->parse_error(resp->body,
		    resp->body_len, e) != SBX_OK) {
			snprintf(e->code, sizeof(e->code), "HTTP%ld",
			    resp->status);
			e->message[0] = '\0';
		}
		err = sbx_awsapi_map_error(resp->status, e->code);
	} else if (err != SBX_EUNAVAILABLE) {
		return err;
	} else {
		snprintf(e->code, sizeof(e->code), "NoAnswer");
		snprintf(e->message, sizeof(e->message),
		    "%s could not be reached", r->service);
	}
	sbx_log(err == SBX_ETHROTTLED || err == SBX_EUNAVAILABLE ?
	    SBX_LOG_WARN : err == SBX_EAUTH ? SBX_LOG_ERROR :
	    SBX_LOG_DEBUG, MODULE, "%s %s attempt %d/%d: %s (%s)",
	    r->service, r->what ? r->what : "", attempt,
	    SBX_AWSAPI_MAX_ATTEMPTS, sbx_strerror(err), e->code);
	return err;
}

static int
retryable(enum sbx_err err)
{
	return err == SBX_ETHROTTLED || err == SBX_EUNAVAILABLE;
}

enum sbx_err
sbx_awsapi_call(const struct sbx_awsapi_req *r,
    struct sbx_httpclient_response *resp, struct sbx_aws_error *e)
{
	struct sbx_aws_error dummy;
	struct sbx_aws_creds creds = { 0 };
	struct target t = { 0 };
	char region[64];
	int attempt, refreshed = 0;
	enum sbx_err err;

	if (e == NULL)
		e = &dummy;
	memset(resp, 0, sizeof(*resp));
	memset(e, 0, sizeof(*e));
	if ((err = call_setup(r, region, sizeof(region), &t, &creds, e)) !=
	    SBX_OK)
		goto out;
	for (attempt = 1;; attempt++) {
		sbx_httpclient_response_fini(resp);
		err = send_signed(r, &t, region, &creds, resp);
		err = attempt_outcome(r, err, resp, e, attempt);
		if (err == SBX_OK)
			goto out;
		if (err == SBX_EAUTH && expired_token(e) && !refreshed) {
			refreshed = 1;
			sbx_aws_creds_fini(&creds);
			sbx_aws_creds_reset();
			if ((err = sbx_aws_creds_get(&creds)) != SBX_OK)
				goto out;
			continue;
		}
		if (!retryable(err) || attempt >= SBX_AWSAPI_MAX_ATTEMPTS)
			goto out;
		backoff(attempt);
	}
out:
	if (err != SBX_OK)
		sbx_httpclient_response_fini(resp);
	sbx_aws_creds_fini(&creds);
	target_fini(&t);
	return err;
}

/*
 * The batch: every call of a round is signed and sent at once (at most
 * concurrency in flight); the calls that may be retried go again in the
 * next round after one backoff, the others are done. A call gets at most
 * SBX_AWSAPI_MAX_ATTEMPTS attempts, as sbx_awsapi_call gives it.
 */
enum sbx_err
sbx_awsapi_call_many(const struct sbx_awsapi_req *r, size_t n,
    long concurrency, struct sbx_httpclient_response *resps,
    enum sbx_err *errs, struct sbx_aws_error *es)
{
	struct sbx_aws_creds creds = { 0 };
	struct sbx_aws_error e0;
	struct target t = { 0 };
	struct signed_req *sreq = NULL;
	struct sbx_httpclient_request *reqs = NULL;
	struct sbx_httpclient_response *rr = NULL;
	enum sbx_err *re = NULL;
	size_t *idx = NULL, i, k, npend = n;
	char region[64];
	int attempt, refreshed = 0;
	enum sbx_err err;

	memset(&e0, 0, sizeof(e0));
	for (i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof(resps[i]));
		memset(&es[i], 0, sizeof(es[i]));
		errs[i] = SBX_EINTERNAL;
	}
	if (n == 0)
		return SBX_OK;
	err = call_setup(&r[0], region, sizeof(region), &t, &creds, &e0);
	if (err == SBX_OK) {
		sreq = calloc(n, sizeof(*sreq));
		reqs = calloc(n, sizeof(*reqs));
		rr = calloc(n, sizeof(*rr));
		re = calloc(n, sizeof(*re));
		idx = calloc(n, sizeof(*idx));
		if (sreq == NULL || reqs == NULL || rr == NULL || re == NULL ||
		    idx == NULL)
			err = SBX_ENOMEM;
	}
	if (err != SBX_OK) {
		for (i = 0; i < n; i++) {
			errs[i] = err;
			es[i] = e0;
		}
		goto out;
	}
	for (i = 0; i < n; i++)
		idx[i] = i;
	for (attempt = 1; npend > 0; attempt++) {
		size_t nsend = 0, nnext = 0;

		/* Sign this round's calls afresh; a failure ends that call. */
		for (k = 0; k < npend; k++) {
			i = idx[k];
			err = sign_request(&r[i], &t, region, &creds, &sreq[nsend]);
			if (err != SBX_OK) {
				signed_fini(&sreq[nsend]);
				errs[i] = err;
				continue;
			}
			reqs[nsend] = sreq[nsend].req;
			idx[nsend++] = i;
		}
		(void)sbx_httpclient_send_many(reqs, nsend, concurrency, rr, re);
		for (k = 0; k < nsend; k++)
			signed_fini(&sreq[k]);
		for (k = 0; k < nsend; k++) {
			i = idx[k];
			errs[i] = attempt_outcome(&r[i], re[k], &rr[k], &es[i],
			    attempt);
			if (errs[i] == SBX_OK) {
				resps[i] = rr[k];
				memset(&rr[k], 0, sizeof(rr[k]));
				continue;
			}
			sbx_httpclient_response_fini(&rr[k]);
			if ((errs[i] == SBX_EAUTH && expired_token(&es[i]) &&
			    !refreshed) || (retryable(errs[i]) &&
			    attempt < SBX_AWSAPI_MAX_ATTEMPTS))
				idx[nnext++] = i;
		}
		npend = nnext;
		if (npend == 0)
			break;
		/* An expired session token: new credentials, once a batch. */
		for (k = 0; k < npend && !refreshed; k++) {
			if (errs[idx[k]] != SBX_EAUTH)
				continue;
			refreshed = 1;
			sbx_aws_creds_fini(&creds);
			sbx_aws_creds_reset();
			if ((err = sbx_aws_creds_get(&creds)) != SBX_OK) {
				for (i = 0; i < npend; i++)
					errs[idx[i]] = err;
				goto out;
			}
		}
		backoff(attempt);
	}
out:
	free(idx);
	free(re);
	free(rr);
	free(reqs);
	free(sreq);
	sbx_aws_creds_fini(&creds);
	target_fini(&t);
	return SBX_OK;
}
