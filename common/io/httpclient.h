/*
 * The one way out of the process over HTTP (libcurl): the OIDC provider,
 * AWS, webhooks. Timeouts are always set (HTTP_CONNECT_TIMEOUT_SECONDS,
 * HTTP_TIMEOUT_SECONDS), TLS is always verified, and plain http is refused
 * except to loopback addresses (the local fakes). curl_global_init runs
 * once per process, on first use.
 */
#ifndef SBX_HTTPCLIENT_H
#define SBX_HTTPCLIENT_H

#include <stddef.h>

#include "common/core/err.h"

struct sbx_httpclient_header {
	const char *name;
	const char *value;
};

struct sbx_httpclient_request {
	const char *method;		/* "GET" or "POST" */
	const char *url;
	const struct sbx_httpclient_header *headers;
	size_t nheaders;
	const char *body;		/* may be NULL */
	size_t body_len;
	long timeout_ms;		/* 0: HTTP_TIMEOUT_SECONDS */
	/*
	 * Also allow plain http to 169.254.170.2, the ECS container
	 * credentials endpoint (link-local, reachable only from the task);
	 * set by common/io/aws.c alone.
	 */
	int allow_ecs_endpoint;
};

struct sbx_httpclient_response {
	long status;
	char *body;			/* NUL-terminated; may be empty */
	size_t body_len;
	char *headers;			/* raw header block of the last answer */
};

/*
 * Sends req and fills resp (release with sbx_httpclient_response_fini) with
 * whatever status the server answered. Returns SBX_EUNAVAILABLE when no
 * answer came (DNS, connect, TLS, timeout), SBX_EINVAL for a URL that is
 * not https (or http to loopback), SBX_ETOOBIG for an answer over 4 MiB.
 */
enum sbx_err sbx_httpclient_send(const struct sbx_httpclient_request *req,
    struct sbx_httpclient_response *resp);
void sbx_httpclient_response_fini(struct sbx_httpclient_response *resp);

/*
 * Sends the n requests, at most max_in_flight (>= 1) at a time, through
 * one libcurl multi handle whose connections stay open for the next call
 * (kept alive per host, up to max_in_flight of them). resps[i] and
 * errs[i] get what sbx_httpclient_send would have given for reqs[i]; a
 * failure of one request does not stop the others. Returns SBX_OK, or
 * the code every errs[i] got when nothing could be sent (ENOMEM).
 */
enum sbx_err sbx_httpclient_send_many(const struct sbx_httpclient_request *reqs,
    size_t n, long max_in_flight, struct sbx_httpclient_response *resps,
    enum sbx_err *errs);

/*
 * Value of a response header (case-insensitive name), copied into buf;
 * returns 1 when found.
 */
int sbx_httpclient_response_header(const struct sbx_httpclient_response *resp,
    const char *name, char *buf, size_t len);

/* True when url is https://, or http:// to 127.0.0.0/8, ::1 or localhost. */
int sbx_httpclient_url_allowed(const char *url);

/* application/x-www-form-urlencoded escaping; caller frees. */
char *sbx_httpclient_form_escape(const char *s);

#endif
