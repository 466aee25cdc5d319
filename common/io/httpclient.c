/*
 * The outgoing HTTP client: one libcurl easy handle per request, or a
 * multi handle running several at once, with the same safety settings
 * every time (timeouts, TLS verification, http and https only, no
 * redirects, a cap on the answer's size).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/core/config.h"
#include "common/io/httpclient.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "httpclient"

/* Largest answer we keep; anything bigger is refused, not truncated. */
#define HTTP_MAX_BODY (4L * 1024 * 1024)
/* The header block is small for every service we talk to. */
#define HTTP_MAX_HEADERS (64L * 1024)

/* Used when the settings are not loaded (unit tests, tools). */
#define HTTP_DEFAULT_CONNECT_SECONDS 5
#define HTTP_DEFAULT_TIMEOUT_SECONDS 15

/* The ECS task metadata address: link-local, reachable only from a task. */
#define ECS_CREDENTIALS_HOST "169.254.170.2"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t
write_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sbx_util_buf *b = arg;
	size_t n = size * nmemb;

	/* Returning less than n makes curl stop with CURLE_WRITE_ERROR. */
	if (sbx_util_buf_addn(b, ptr, n) != 0)
		return 0;
	return n;
}

static size_t
write_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sbx_util_buf *b = arg;
	size_t n = size * nmemb;

	/*
	 * A status line starts a new answer (after a 100 Continue, say):
	 * keep only the header block of the last one.
	 */
	if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0)
		b->len = 0;
	if (sbx_util_buf_addn(b, ptr, n) != 0)
		return 0;
	return n;
}

/* True when s holds a CR or LF: a header or URL injection. */
static int
has_ctl(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

static int
host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char tmp[INET6_ADDRSTRLEN + 2];
	size_t n;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	n = strlen(host);
	if (n > 2 && host[0] == '[' && host[n - 1] == ']' &&
	    n - 2 < sizeof(tmp)) {
		memcpy(tmp, host + 1, n - 2);
		tmp[n - 2] = '\0';
		if (inet_pton(AF_INET6, tmp, &a6) == 1)
			return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	return 0;
}

/*
 * Splits url with curl's own parser (the one that will send the request),
 * so that tricks like "http://127.0.0.1@evil.example/" are judged by the
 * host curl would really contact.
 */
static int
url_check(const char *url, int allow_ecs)
{
	CURLU *u = NULL;
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (url == NULL || has_ctl(url))
		return 0;
	(void)pthread_once(&curl_once, curl_init);
	if ((u = curl_url()) == NULL)
		goto out;
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		goto out;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	if (host[0] == '\0')
		goto out;
	if (strcasecmp(scheme, "https") == 0)
		ok = 1;
	else if (strcasecmp(scheme, "http") == 0)
		ok = host_is_loopback(host) ||
		    (allow_ecs && strcmp(host, ECS_CREDENTIALS_HOST) == 0);
out:
	curl_free(host);
	curl_free(scheme);
	curl_url_cleanup(u);
	return ok;
}

int
sbx_httpclient_url_allowed(const char *url)
{
	return url_check(url, 0);
}

/*
 * One easy handle per thread, kept for the life of the process and reset
 * between requests: curl_easy_reset keeps the connection cache and the
 * TLS sessions, so the reaper's and the responders' calls to the same
 * host reuse a connection instead of paying a TLS handshake each time.
 */
static __thread CURL *thread_handle;

static CURL *
handle(void)
{
	if (thread_handle == NULL)
		thread_handle = curl_easy_init();
	return thread_handle;
}

static void
timeouts(const struct sbx_httpclient_request *req, long *connect_ms,
    long *total_ms)
{
	const struct sbx_config *cfg = sbx_config();
	long c = HTTP_DEFAULT_CONNECT_SECONDS, t = HTTP_DEFAULT_TIMEOUT_SECONDS;

	/* Zero values mean the settings were never loaded (unit tests). */
	if (cfg != NULL) {
		if (cfg->http_connect_timeout_seconds > 0)
			c = cfg->http_connect_timeout_seconds;
		if (cfg->http_timeout_seconds > 0)
			t = cfg->http_timeout_seconds;
	}
	*connect_ms = c * 1000;
	*total_ms = req->timeout_ms > 0 ? req->timeout_ms : t * 1000;
	if (*connect_ms > *total_ms)
		*connect_ms = *total_ms;
}

/*
 * Frees a header list after wiping it: it may hold an Authorization or a
 * session token.
 */
static void
header_list_free(struct curl_slist *list)
{
	struct curl_slist *l;

	for (l = list; l != NULL; l = l->next)
		if (l->data != NULL)
			explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(list);
}

/* Builds curl's header list into *out (header_list_free). */
static enum sbx_err
header_list(const struct sbx_httpclient_request *req, struct curl_slist **out)
{
	struct curl_slist *list = NULL, *nl;
	char *line = NULL;
	size_t i;
	enum sbx_err err = SBX_OK;

	for (i = 0; i < req->nheaders; i++) {
		const struct sbx_httpclient_header *h = &req->headers[i];
		size_t n;

		if (h->name == NULL || h->name[0] == '\0' || h->value == NULL ||
		    has_ctl(h->name) || has_ctl(h->value) ||
		    strchr(h->name, ':') != NULL) {
			err = SBX_EINVAL;
			goto out;
		}
		n = strlen(h->name) + strlen(h->value) + 3;
		if ((line = malloc(n)) == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		/* curl sends "Name;" as a header with an empty value. */
		if (h->value[0] == '\0')
			snprintf(line, n, "%s;", h->name);
		else
			snprintf(line, n, "%s: %s", h->name, h->value);
		nl = curl_slist_append(list, line);
		/* The line may hold a secret (Authorization): wipe it. */
		explicit_bzero(line, n);
		free(line);
		line = NULL;
		if (nl == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		list = nl;
	}
	/* A POST waits for no "100 Continue" round trip. */
	if ((nl = curl_slist_append(list, "Expect:")) == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	list = nl;
	*out = list;
	list = NULL;
out:
	header_list_free(list);
	return err;
}

/*
 * What one request in progress holds besides its easy handle: the header
 * list, the answer being received, curl's error text.
 */
struct xfer {
	struct curl_slist *hdrs;
	struct sbx_util_buf body;
	struct sbx_util_buf head;
	char errbuf[CURL_ERROR_SIZE];
	const char *method;
};

/* The request's own checks, before any handle is touched. */
static enum sbx_err
request_check(const struct sbx_httpclient_request *req)
{
	if (req == NULL || req->method == NULL ||
	    !url_check(req->url, req->allow_ecs_endpoint))
		return SBX_EINVAL;
	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0 &&
	    strcmp(req->method, "PUT") != 0 && strcmp(req->method, "DELETE") != 0)
		return SBX_EINVAL;
	(void)pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return SBX_EINTERNAL;
	return SBX_OK;
}

static void
xfer_fini(struct xfer *x)
{
	sbx_util_buf_fini(&x->body);
	sbx_util_buf_fini(&x->head);
	header_list_free(x->hdrs);
	x->hdrs = NULL;
}

/*
 * Sets c up for req with the settings every request gets (timeouts, TLS
 * verified, http and https only, no redirects, the size caps); x holds
 * what curl writes into while it runs.
 */
static enum sbx_err
xfer_setup(CURL *c, const struct sbx_httpclient_request *req, struct xfer *x)
{
	long connect_ms, total_ms;
	enum sbx_err err;

	memset(x, 0, sizeof(*x));
	x->body.max = HTTP_MAX_BODY;
	x->head.max = HTTP_MAX_HEADERS;
	x->method = req->method;
	if ((err = header_list(req, &x->hdrs)) != SBX_OK)
		return err;
	timeouts(req, &connect_ms, &total_ms);

	/* Any failure of setopt below is a bug or an old libcurl. */
	if (curl_easy_setopt(c, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https") != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, total_ms) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
		(curl_off_t)HTTP_MAX_BODY) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HTTPHEADER, x->hdrs) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_USERAGENT,
		"cloud-sandbox-management/" PACKAGE_VERSION) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x->body) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, write_header) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x->head) != CURLE_OK ||
	    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK)
		return SBX_EINTERNAL;

	if (strcmp(req->method, "GET") == 0) {
		if (curl_easy_setopt(c, CURLOPT_HTTPGET, 1L) != CURLE_OK)
			return SBX_EINTERNAL;
	} else {
		if (curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			(curl_off_t)(req->body ? req->body_len : 0)) != CURLE_OK ||
		    curl_easy_setopt(c, CURLOPT_POSTFIELDS,
			req->body ? req->body : "") != CURLE_OK)
			return SBX_EINTERNAL;
		if (strcmp(req->method, "POST") != 0 &&
		    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method) !=
		    CURLE_OK)
			return SBX_EINTERNAL;
	}
	return SBX_OK;
}

/*
 * The outcome of a transfer that ended with rc: resp gets the answer, or
 * the code says why none came.
 */
static enum sbx_err
xfer_finish(CURL *c, CURLcode rc, struct xfer *x,
    struct sbx_httpclient_response *resp)
{
	memset(resp, 0, sizeof(*resp));
	if (rc != CURLE_OK) {
		enum sbx_err err;

		if (x->body.err == SBX_ETOOBIG || rc == CURLE_FILESIZE_EXCEEDED)
			err = SBX_ETOOBIG;
		else if (rc == CURLE_OUT_OF_MEMORY ||
		    (rc == CURLE_WRITE_ERROR && x->head.err != SBX_ETOOBIG))
			err = SBX_ENOMEM;
		else if (rc == CURLE_URL_MALFORMAT ||
		    rc == CURLE_UNSUPPORTED_PROTOCOL)
			err = SBX_EINVAL;
		else
			err = SBX_EUNAVAILABLE;
		/* errbuf names the host and the cause, never a header. */
		sbx_log(SBX_LOG_WARN, MODULE, "%s request failed: %s",
		    x->method, x->errbuf[0] ? x->errbuf :
		    curl_easy_strerror(rc));
		return err;
	}
	if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status) !=
	    CURLE_OK) {
		resp->status = 0;
		return SBX_EINTERNAL;
	}
	/* Always hand back NUL-terminated strings, even when empty. */
	if ((x->body.p == NULL && sbx_util_buf_addn(&x->body, "", 0) != 0) ||
	    (x->head.p == NULL && sbx_util_buf_addn(&x->head, "", 0) != 0)) {
		resp->status = 0;
		return SBX_ENOMEM;
	}
	resp->body = x->body.p;
	resp->body_len = x->body.len;
	resp->headers = x->head.p;
	x->body.p = x->head.p = NULL;
	return SBX_OK;
}

enum sbx_err
sbx_httpclient_send(const struct sbx_httpclient_request *req,
    struct sbx_httpclient_response *resp)
{
	CURL *c = NULL;
	struct xfer x;
	enum sbx_err err;

	memset(resp, 0, sizeof(*resp));
	memset(&x, 0, sizeof(x));
	if ((err = request_check(req)) != SBX_OK)
		return err;
	if ((c = handle()) == NULL)
		return SBX_ENOMEM;
	if ((err = xfer_setup(c, req, &x)) == SBX_OK)
		err = xfer_finish(c, curl_easy_perform(c), &x, resp);
	xfer_fini(&x);
	curl_easy_reset(c);
	return err;
}

/* ------------------------------------------------------------ many at once */

/*
 * The multi handle and its easy handles, one set per thread, kept for the
 * life of the process like the single handle above: the multi's
 * connection cache keeps up to `max` connections to a host alive between
 * batches, so a run of the reaper opens them once.
 */
static __thread CURLM *thread_multi;
static __thread CURL **thread_pool;
static __thread long thread_pool_n;

static enum sbx_err
multi_get(long max, CURLM **m)
{
	CURL **np;

	if (thread_multi == NULL) {
		if ((thread_multi = curl_multi_init()) == NULL)
			return SBX_ENOMEM;
	}
	if (max > thread_pool_n) {
		np = realloc(thread_pool, (size_t)max * sizeof(*np));
		if (np == NULL)
			return SBX_ENOMEM;
		thread_pool = np;
		while (thread_pool_n < max) {
			if ((thread_pool[thread_pool_n] = curl_easy_init()) ==
			    NULL)
				return SBX_ENOMEM;
			thread_pool_n++;
		}
	}
	if (curl_multi_setopt(thread_multi, CURLMOPT_MAX_HOST_CONNECTIONS,
	    max) != CURLM_OK ||
	    curl_multi_setopt(thread_multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	    max) != CURLM_OK ||
	    curl_multi_setopt(thread_multi, CURLMOPT_MAXCONNECTS, max) !=
	    CURLM_OK)
		return SBX_EINTERNAL;
	*m = thread_multi;
	return SBX_OK;
}

/* One slot of the pool: which request it runs, and its transfer. */
struct slot {
	size_t req;		/* index into the caller's arrays */
	int busy;
	struct xfer x;
};

enum sbx_err
sbx_httpclient_send_many(const struct sbx_httpclient_request *reqs, size_t n,
    long max_in_flight, struct sbx_httpclient_response *resps,
    enum sbx_err *errs)
{
	CURLM *m = NULL;
	struct slot *slots = NULL;
	size_t next = 0, done = 0, i;
	long k, nslots;
	int running = 0;
	enum sbx_err err;

	for (i = 0; i < n; i++) {
		memset(&resps[i], 0, sizeof(resps[i]));
		errs[i] = SBX_EINTERNAL;
	}
	if (n == 0)
		return SBX_OK;
	nslots = max_in_flight < 1 ? 1 : max_in_flight;
	if ((size_t)nslots > n)
		nslots = (long)n;
	(void)pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		err = SBX_EINTERNAL;
	else
		err = multi_get(max_in_flight < 1 ? 1 : max_in_flight, &m);
	if (err == SBX_OK && (slots = calloc((size_t)nslots,
	    sizeof(*slots))) == NULL)
		err = SBX_ENOMEM;
	if (err != SBX_OK) {
		for (i = 0; i < n; i++)
			errs[i] = err;
		return err;
	}

	while (done < n) {
		CURLMsg *msg;
		int left;

		/* Fill the free slots with the next requests. */
		for (k = 0; k < nslots && next < n; k++) {
			CURL *c = thread_pool[k];

			if (slots[k].busy)
				continue;
			i = next++;
			if ((errs[i] = request_check(&reqs[i])) != SBX_OK ||
			    (errs[i] = xfer_setup(c, &reqs[i], &slots[k].x)) !=
			    SBX_OK) {
				xfer_fini(&slots[k].x);
				curl_easy_reset(c);
				done++;
				continue;
			}
			if (curl_easy_setopt(c, CURLOPT_PRIVATE, &slots[k]) !=
			    CURLE_OK ||
			    curl_multi_add_handle(m, c) != CURLM_OK) {
				errs[i] = SBX_EINTERNAL;
				xfer_fini(&slots[k].x);
				curl_easy_reset(c);
				done++;
				continue;
			}
			slots[k].req = i;
			slots[k].busy = 1;
		}
		if (done >= n)
			break;
		if (curl_multi_perform(m, &running) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct slot *s = NULL;
			CURL *c = msg->easy_handle;

			if (msg->msg != CURLMSG_DONE)
				continue;
			(void)curl_easy_getinfo(c, CURLINFO_PRIVATE,
			    (char **)&s);
			if (s == NULL)
				continue;
			errs[s->req] = xfer_finish(c, msg->data.result, &s->x,
			    &resps[s->req]);
			curl_multi_remove_handle(m, c);
			xfer_fini(&s->x);
			curl_easy_reset(c);
			s->busy = 0;
			done++;
		}
		if (done < n && running > 0 &&
		    curl_multi_poll(m, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	/* Only after a multi failure: whatever is still in flight fails. */
	for (k = 0; k < nslots; k++) {
		if (!slots[k].busy)
			continue;
		curl_multi_remove_handle(m, thread_pool[k]);
		xfer_fini(&slots[k].x);
		curl_easy_reset(thread_pool[k]);
		errs[slots[k].req] = SBX_EUNAVAILABLE;
	}
	free(slots);
	return SBX_OK;
}

void
sbx_httpclient_response_fini(struct sbx_httpclient_response *resp)
{
	if (resp == NULL)
		return;
	free(resp->body);
	free(resp->headers);
	memset(resp, 0, sizeof(*resp));
}

int
sbx_httpclient_response_header(const struct sbx_httpclient_response *resp,
    const char *name, char *buf, size_t len)
{
	const char *p, *eol, *colon, *v, *e;
	size_t nlen, vlen;

	if (resp == NULL || resp->headers == NULL || name == NULL ||
	    buf == NULL || len == 0)
		return 0;
	nlen = strlen(name);
	for (p = resp->headers; *p != '\0'; p = eol) {
		eol = strchr(p, '\n');
		eol = eol ? eol + 1 : p + strlen(p);
		colon = memchr(p, ':', (size_t)(eol - p));
		if (colon == NULL || (size_t)(colon - p) != nlen ||
		    strncasecmp(p, name, nlen) != 0)
			continue;
		v = colon + 1;
		e = eol;
		while (v < e && (*v == ' ' || *v == '\t'))
			v++;
		while (e > v && (e[-1] == '\n' || e[-1] == '\r' ||
		    e[-1] == ' ' || e[-1] == '\t'))
			e--;
		vlen = (size_t)(e - v);
		/*
		 * cppcheck takes the loops above to keep e == v (they can
		 * leave any length): its "always false" is wrong here.
		 */
		/* cppcheck-suppress knownConditionTrueFalse */
		if (vlen >= len)
			vlen = len - 1;
		memcpy(buf, v, vlen);
		buf[vlen] = '\0';
		return 1;
	}
	return 0;
}

char *
sbx_httpclient_form_escape(const char *s)
{
	return sbx_util_pct_encode(s);
}
