/*
 * Answers (see http.h): the status table, headers, JSON, text, empty and
 * redirect replies, and problem+json errors, including the mapping from
 * enum sbx_err to a status.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include "common/api/http.h"
#include "common/api/http_internal.h"
#include "common/core/config.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "http"

/* ------------------------------------------------------------ responses */

static const struct {
	int status;
	const char *reason;
	const char *slug;
} statuses[] = {
	{ 200, "OK", NULL },
	{ 201, "Created", NULL },
	{ 202, "Accepted", NULL },
	{ 204, "No Content", NULL },
	{ 301, "Moved Permanently", NULL },
	{ 302, "Found", NULL },
	{ 303, "See Other", NULL },
	{ 304, "Not Modified", NULL },
	{ 307, "Temporary Redirect", NULL },
	{ 308, "Permanent Redirect", NULL },
	{ 400, "Bad Request", "invalid-request" },
	{ 401, "Unauthorized", "unauthorized" },
	{ 403, "Forbidden", "forbidden" },
	{ 404, "Not Found", "not-found" },
	{ 405, "Method Not Allowed", "method-not-allowed" },
	{ 406, "Not Acceptable", "not-acceptable" },
	{ 408, "Request Timeout", "request-timeout" },
	{ 409, "Conflict", "conflict" },
	{ 410, "Gone", "gone" },
	{ 411, "Length Required", "length-required" },
	{ 412, "Precondition Failed", "precondition-failed" },
	{ 413, "Payload Too Large", "payload-too-large" },
	{ 414, "URI Too Long", "uri-too-long" },
	{ 415, "Unsupported Media Type", "unsupported-media-type" },
	{ 422, "Unprocessable Content", "unprocessable" },
	{ 428, "Precondition Required", "precondition-required" },
	{ 429, "Too Many Requests", "too-many-requests" },
	{ 500, "Internal Server Error", "internal-error" },
	{ 501, "Not Implemented", "not-implemented" },
	{ 502, "Bad Gateway", "bad-gateway" },
	{ 503, "Service Unavailable", "service-unavailable" },
	{ 504, "Gateway Timeout", "gateway-timeout" },
};

const char *
sbx_http_reason(int status)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == status)
			return statuses[i].reason;
	if (status >= 500 && status < 600)
		return "Server Error";
	if (status >= 400 && status < 500)
		return "Client Error";
	return "Unknown";
}

static const char *
problem_slug(int status)
{
	size_t i;

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		if (statuses[i].status == status && statuses[i].slug != NULL)
			return statuses[i].slug;
	return status >= 500 ? "internal-error" : "invalid-request";
}

/* Removes every header line called name (case-insensitive). */
static void
headers_del(struct sbx_resp *resp, const char *name)
{
	size_t nlen = strlen(name), off = 0, len;
	char *line, *eol;

	while (off < resp->headers_len) {
		line = resp->headers + off;
		eol = memchr(line, '\n', resp->headers_len - off);
		len = eol != NULL ? (size_t)(eol - line) + 1 :
		    resp->headers_len - off;
		if (len > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0) {
			memmove(line, line + len, resp->headers_len - off - len);
			resp->headers_len -= len;
			resp->headers[resp->headers_len] = '\0';
		} else {
			off += len;
		}
	}
}

int
sbx_http_headers_has(const struct sbx_resp *resp, const char *name)
{
	size_t nlen = strlen(name), off = 0;
	const char *line, *eol;

	while (off < resp->headers_len) {
		line = resp->headers + off;
		if (resp->headers_len - off > nlen && line[nlen] == ':' &&
		    strncasecmp(line, name, nlen) == 0)
			return 1;
		eol = memchr(line, '\n', resp->headers_len - off);
		if (eol == NULL)
			break;
		off = (size_t)(eol - resp->headers) + 1;
	}
	return 0;
}

static int
header_name_valid(const char *name)
{
	const char *p;

	if (name == NULL || *name == '\0')
		return 0;
	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("!#$%&'*+-.^_`|~", *p)
		    == NULL)
			return 0;
	return 1;
}

/* Appends a header; on ENOMEM the header is lost and the failure logged. */
void
sbx_http_headers_add(struct sbx_resp *resp, const char *name,
    const char *value)
{
	size_t add = strlen(name) + 2 + strlen(value) + 2;
	char *h;

	h = realloc(resp->headers, resp->headers_len + add + 1);
	if (h == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE, "out of memory adding a header");
		return;
	}
	resp->headers = h;
	snprintf(h + resp->headers_len, add + 1, "%s: %s\r\n", name, value);
	resp->headers_len += add;
}

void
sbx_reply_header(struct sbx_req *req, const char *name, const char *value)
{
	if (!header_name_valid(name) || value == NULL ||
	    strpbrk(value, "\r\n") != NULL) {
		/* Never let a value split the header block; name only. */
		sbx_log(SBX_LOG_WARN, MODULE, "dropped an unsafe header %s",
		    header_name_valid(name) ? name : "(invalid name)");
		return;
	}
	sbx_http_headers_add(&req->resp, name, value);
}

/* Sets status, type and body; takes ownership of body. */
static void
resp_set(struct sbx_req *req, int status, const char *type, char *body,
    size_t len)
{
	struct sbx_resp *r = &req->resp;

	free(r->body);
	r->status = status;
	r->body = body;
	r->body_len = body != NULL ? len : 0;
	r->replied = 1;
	headers_del(r, "Content-Type");
	if (type != NULL && body != NULL)
		sbx_http_headers_add(r, "Content-Type", type);
}

void
sbx_reply_json(struct sbx_req *req, int status, cJSON *body)
{
	char *text;

	if (body == NULL) {
		sbx_reply_problem(req, 500, "internal error");
		return;
	}
	text = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	if (text == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE, "out of memory printing JSON");
		resp_set(req, 500, NULL, NULL, 0);
		return;
	}
	resp_set(req, status, "application/json", text, strlen(text));
}

void
sbx_reply_text(struct sbx_req *req, int status, const char *type, char *body)
{
	if (body == NULL) {
		sbx_reply_problem(req, 500, "out of memory");
		return;
	}
	resp_set(req, status, type, body, strlen(body));
}

void
sbx_reply_empty(struct sbx_req *req, int status)
{
	resp_set(req, status, NULL, NULL, 0);
}

void
sbx_reply_redirect(struct sbx_req *req, const char *location)
{
	headers_del(&req->resp, "Location");
	sbx_reply_header(req, "Location", location);
	resp_set(req, 302, NULL, NULL, 0);
}

static void problem_v(struct sbx_req *, int, const char *, const char *,
    const char *, va_list) __attribute__((format(printf, 5, 0)));

/* slug NULL: the status's usual problem type. */
static void
problem_v(struct sbx_req *req, int status, const char *slug,
    const char *field, const char *fmt, va_list ap)
{
	char detail[512], type[80];
	cJSON *o;
	char *text = NULL;

	/* The detail may quote a client's text: cut it between characters. */
	sbx_json_vfmt(detail, sizeof(detail), fmt, ap);
	snprintf(type, sizeof(type), "urn:sbx:problem:%s",
	    slug != NULL ? slug : problem_slug(status));
	o = cJSON_CreateObject();
	if (o == NULL ||
	    cJSON_AddStringToObject(o, "type", type) == NULL ||
	    cJSON_AddStringToObject(o, "title", sbx_http_reason(status)) == NULL ||
	    cJSON_AddNumberToObject(o, "status", status) == NULL ||
	    cJSON_AddStringToObject(o, "detail", detail) == NULL ||
	    cJSON_AddStringToObject(o, "request_id",
	    req->request_id != NULL ? req->request_id : "") == NULL ||
	    (field != NULL &&
	    cJSON_AddStringToObject(o, "field", field) == NULL) ||
	    (text = cJSON_PrintUnformatted(o)) == NULL) {
		cJSON_Delete(o);
		sbx_log(SBX_LOG_ERROR, MODULE, "out of memory writing a problem");
		resp_set(req, status, NULL, NULL, 0);
		return;
	}
	cJSON_Delete(o);
	resp_set(req, status, "application/problem+json", text, strlen(text));
}

void
sbx_reply_problem(struct sbx_req *req, int status, const char *detail_fmt, ...)
{
	va_list ap;

	va_start(ap, detail_fmt);
	problem_v(req, status, NULL, NULL, detail_fmt, ap);
	va_end(ap);
}

void
sbx_reply_problem_type(struct sbx_req *req, int status, const char *slug,
    const char *field, const char *detail_fmt, ...)
{
	va_list ap;

	va_start(ap, detail_fmt);
	problem_v(req, status, slug, field, detail_fmt, ap);
	va_end(ap);
}

void
sbx_reply_invalid(struct sbx_req *req, const char *field,
    const char *detail_fmt, ...)
{
	va_list ap;

	va_start(ap, detail_fmt);
	problem_v(req, 400, NULL, field, detail_fmt, ap);
	va_end(ap);
}

/*
 * A 4xx carries the caller's detail; a 5xx answers a fixed sentence and
 * the caller's detail goes to the log only, because it may name hosts,
 * statements or remote errors a client has no business seeing.
 */
void
sbx_reply_err(struct sbx_req *req, enum sbx_err err, const char *detail)
{
	int status;
	const char *pub = NULL;

	switch (err) {
	case SBX_ENOTFOUND:
		status = 404;
		break;
	case SBX_ECONFLICT:
		status = 409;
		break;
	case SBX_EINVAL:
	case SBX_EPARSE:
		status = 400;
		break;
	case SBX_ETOOBIG:
		status = 413;
		break;
	case SBX_EAUTH:
		status = 401;
		break;
	case SBX_EFORBIDDEN:
		status = 403;
		break;
	case SBX_EUNAVAILABLE:
		status = 503;
		pub = "a service this request needs is unavailable; "
		    "try again shortly";
		break;
	case SBX_ESERIALIZE:
		status = 503;
		pub = "the request conflicted with concurrent changes; "
		    "try again";
		break;
	case SBX_ETHROTTLED:
		status = 503;
		pub = "a service this request needs is busy; try again shortly";
		break;
	default:
		status = 500;
		pub = "internal error";
		break;
	}
	if (status >= 500) {
		sbx_log(status == 500 ? SBX_LOG_ERROR : SBX_LOG_WARN, MODULE,
		    "answering %d for %s: %s", status, sbx_strerror(err),
		    detail != NULL ? detail : "(no detail)");
		sbx_reply_problem(req, status, "%s", pub);
		headers_del(&req->resp, "Retry-After");
		if (status == 503)
			sbx_http_headers_add(&req->resp, "Retry-After", "1");
		return;
	}
	sbx_reply_problem(req, status, "%s",
	    detail != NULL ? detail : sbx_strerror(err));
	if (status == 401) {
		headers_del(&req->resp, "WWW-Authenticate");
		sbx_http_headers_add(&req->resp, "WWW-Authenticate", "Bearer");
	}
}

