/*
 * The HTTP side of every responder: the FastCGI accept loop and CGI mode,
 * request parsing, routing with path parameters, the order of checks of
 * http.h, and responses (JSON, empty, redirects, problem+json).
 *
 * Memory: a struct sbx_req owns every string it points at (copies of the
 * FastCGI parameters, the body, the parsed parameters, the principal, the
 * response); sbx_req_fini releases all of it, wiping the parameters and
 * the body on the way out because they carry tokens and cookies.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <malloc.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include <fcgiapp.h>

#include "common/core/config.h"
#include "common/api/http.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "http"

/* Longest X-Request-Id accepted from nginx; a longer one is replaced. */
#define REQUEST_ID_MAX 64

/*
 * A body over the cap is still read and thrown away up to this many bytes,
 * so that the server that sent it sees its request consumed and reads our
 * 413 instead of a reset connection. nginx caps bodies itself (1 MiB), so
 * this bound only matters for a misconfigured front.
 */
#define DRAIN_MAX (8L * 1024 * 1024)

extern char **environ;

/* ------------------------------------------------------------ small helpers */

long long
sbx_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static char *
xstrndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p == NULL)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static int
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A CGI parameter's value in a "NAME=value" array, or NULL. */
static const char *
env_get(char *const *envp, const char *name)
{
	size_t n = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* ------------------------------------------------------------ parameters */

void
sbx_params_fini(struct sbx_params *params)
{
	size_t i;

	if (params == NULL)
		return;
	for (i = 0; i < params->n; i++) {
		sbx_util_wipe_free(params->items[i].name);
		sbx_util_wipe_free(params->items[i].value);
	}
	free(params->items);
	params->items = NULL;
	params->n = 0;
}

const char *
sbx_params_get(const struct sbx_params *params, const char *name)
{
	size_t i;

	if (params == NULL || name == NULL)
		return NULL;
	for (i = 0; i < params->n; i++)
		if (strcmp(params->items[i].name, name) == 0)
			return params->items[i].value;
	return NULL;
}

/* Appends a pair, taking ownership of name and value (freed on failure). */
static enum sbx_err
params_add(struct sbx_params *p, char *name, char *value)
{
	struct sbx_param *items;

	items = realloc(p->items, (p->n + 1) * sizeof(*items));
	if (items == NULL) {
		free(name);
		free(value);
		return SBX_ENOMEM;
	}
	p->items = items;
	p->items[p->n].name = name;
	p->items[p->n].value = value;
	p->n++;
	return SBX_OK;
}

enum sbx_err
sbx_http_unescape(char *s, int plus_is_space)
{
	char *r, *w;
	int hi, lo;

	for (r = w = s; *r != '\0'; r++, w++) {
		if (*r == '%') {
			hi = hexval(r[1]);
			lo = hi < 0 ? -1 : hexval(r[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return SBX_EPARSE;
			*w = (char)(hi << 4 | lo);
			r += 2;
		} else if (*r == '+' && plus_is_space) {
			*w = ' ';
		} else {
			*w = *r;
		}
	}
	*w = '\0';
	return SBX_OK;
}

/*
 * application/x-www-form-urlencoded: pairs split on '&', empty pieces
 * skipped, a name without '=' has the empty value. A bad escape, an
 * escaped NUL or an empty name makes the whole query malformed: a client
 * that sends one is broken, and guessing what it meant helps nobody.
 */
enum sbx_err
sbx_http_parse_query(const char *query, struct sbx_params *out)
{
	const char *p, *amp, *eq;
	char *name = NULL, *value = NULL;
	enum sbx_err err = SBX_OK;

	out->items = NULL;
	out->n = 0;
	if (query == NULL)
		return SBX_OK;
	for (p = query; *p != '\0'; p = *amp != '\0' ? amp + 1 : amp) {
		amp = strchr(p, '&');
		if (amp == NULL)
			amp = p + strlen(p);
		if (amp == p)
			continue;
		eq = memchr(p, '=', (size_t)(amp - p));
		if (eq == p) {
			err = SBX_EPARSE;
			goto out;
		}
		if (eq == NULL) {
			name = xstrndup(p, (size_t)(amp - p));
			value = strdup("");
		} else {
			name = xstrndup(p, (size_t)(eq - p));
			value = xstrndup(eq + 1, (size_t)(amp - eq - 1));
		}
		if (name == NULL || value == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		if (sbx_http_unescape(name, 1) != SBX_OK ||
		    sbx_http_unescape(value, 1) != SBX_OK) {
			err = SBX_EPARSE;
			goto out;
		}
		err = params_add(out, name, value);
		name = value = NULL;
		if (err != SBX_OK)
			goto out;
	}
out:
	free(name);
	free(value);
	if (err != SBX_OK)
		sbx_params_fini(out);
	return err;
}

/*
 * Cookie header (RFC 6265 section 4.2): "a=b; c=d", values optionally in
 * double quotes, not percent-decoded. Parsed forgivingly, as browsers and
 * lenient servers do: a pair that is malformed (no '=', an empty name, an
 * unterminated or inner quote, a control character) is skipped and the
 * others are kept. Any application on the same site can set a cookie our
 * user's browser then sends us; refusing the whole header for one bad
 * pair would sign the user out and block sign-in. SBX_EPARSE is never
 * returned; only SBX_ENOMEM is.
 */
static int
cookie_pair_clean(const char *s, const char *end)
{
	for (; s < end; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return 0;
	return 1;
}

enum sbx_err
sbx_http_parse_cookies(const char *header, struct sbx_params *out)
{
	const char *p, *end, *eq, *ns, *ne, *vs, *ve;
	char *name = NULL, *value = NULL;
	enum sbx_err err = SBX_OK;

	out->items = NULL;
	out->n = 0;
	if (header == NULL)
		return SBX_OK;
	for (p = header; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq == NULL || !cookie_pair_clean(p, end))
			continue;
		for (ns = p; ns < eq && is_ows(*ns); ns++)
			;
		for (ne = eq; ne > ns && is_ows(ne[-1]); ne--)
			;
		if (ne == ns)
			continue;
		for (vs = eq + 1; vs < end && is_ows(*vs); vs++)
			;
		for (ve = end; ve > vs && is_ows(ve[-1]); ve--)
			;
		if (vs < ve && *vs == '"') {
			if (ve - vs < 2 || ve[-1] != '"')
				continue;
			vs++;
			ve--;
		}
		if (memchr(vs, '"', (size_t)(ve - vs)) != NULL)
			continue;
		name = xstrndup(ns, (size_t)(ne - ns));
		value = xstrndup(vs, (size_t)(ve - vs));
		if (name == NULL || value == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		err = params_add(out, name, value);
		name = value = NULL;
		if (err != SBX_OK)
			goto out;
	}
out:
	free(name);
	free(value);
	if (err != SBX_OK)
		sbx_params_fini(out);
	return err;
}

/* ------------------------------------------------------------ routing */

/*
 * Walks pattern and path one '/'-separated segment at a time. A literal
 * segment must be equal byte for byte (so "/api/" and "/api" differ); a
 * "{name}" segment takes one non-empty segment of the path, percent-decoded,
 * which may not decode to something holding '/' (an escaped slash must not
 * smuggle a second segment into a name).
 */
int
sbx_http_match(const char *pattern, const char *path, struct sbx_params *out)
{
	const char *pp = pattern, *sp = path, *pe, *se;
	char *name = NULL, *value = NULL;
	struct sbx_params params = { NULL, 0 };

	if (out != NULL) {
		out->items = NULL;
		out->n = 0;
	}
	if (pattern == NULL || path == NULL || *pp != '/' || *sp != '/')
		return 0;
	for (;;) {
		pp++;
		sp++;
		pe = strchr(pp, '/');
		if (pe == NULL)
			pe = pp + strlen(pp);
		se = strchr(sp, '/');
		if (se == NULL)
			se = sp + strlen(sp);
		if (pe - pp >= 2 && *pp == '{' && pe[-1] == '}') {
			if (se == sp)
				goto nomatch;
			value = xstrndup(sp, (size_t)(se - sp));
			if (value == NULL || sbx_http_unescape(value, 0) != SBX_OK ||
			    strchr(value, '/') != NULL)
				goto nomatch;
			name = xstrndup(pp + 1, (size_t)(pe - pp - 2));
			if (name == NULL)
				goto nomatch;
			if (params_add(&params, name, value) != SBX_OK) {
				name = value = NULL;
				goto nomatch;
			}
			name = value = NULL;
		} else if (pe - pp != se - sp ||
		    memcmp(pp, sp, (size_t)(pe - pp)) != 0) {
			goto nomatch;
		}
		if (*pe == '\0' || *se == '\0') {
			if (*pe != *se)
				goto nomatch;
			break;
		}
		pp = pe;
		sp = se;
	}
	if (out != NULL)
		*out = params;
	else
		sbx_params_fini(&params);
	return 1;
nomatch:
	free(name);
	free(value);
	sbx_params_fini(&params);
	return 0;
}

/* ------------------------------------------------------------ requests */

const char *
sbx_req_header(const struct sbx_req *req, const char *name)
{
	char key[128];
	size_t i, o = 0;

	if (strcasecmp(name, "Content-Type") == 0)
		return env_get(req->envp, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return env_get(req->envp, "CONTENT_LENGTH");
	if (strlen(name) + 6 > sizeof(key))
		return NULL;
	memcpy(key, "HTTP_", 5);
	o = 5;
	for (i = 0; name[i] != '\0'; i++)
		key[o++] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	key[o] = '\0';
	return env_get(req->envp, key);
}

const char *
sbx_req_query(const struct sbx_req *req, const char *name)
{
	return sbx_params_get(&req->query_params, name);
}

const char *
sbx_req_cookie(const struct sbx_req *req, const char *name)
{
	return sbx_params_get(&req->cookies, name);
}

const char *
sbx_req_param(const struct sbx_req *req, const char *name)
{
	return sbx_params_get(&req->path_params, name);
}

/*
 * The q value the Accept header gives one media type by an entry naming it
 * exactly; -1 when no entry names it. Wildcards are ignored on purpose: a
 * browser names text/html and adds wildcards, and must get HTML; a script
 * that wants JSON names application/json.
 */
static double
accept_q(const char *accept, const char *type)
{
	const char *p = accept, *end, *semi, *s, *e;
	size_t tlen = strlen(type);
	double q;

	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		semi = memchr(p, ';', (size_t)(end - p));
		for (s = p; s < end && is_ows(*s); s++)
			;
		for (e = semi != NULL ? semi : end; e > s && is_ows(e[-1]); e--)
			;
		if ((size_t)(e - s) == tlen && strncasecmp(s, type, tlen) == 0) {
			q = 1.0;
			while (semi != NULL && semi < end) {
				for (s = semi + 1; s < end && is_ows(*s); s++)
					;
				if (end - s > 2 && (s[0] == 'q' || s[0] == 'Q') &&
				    s[1] == '=')
					q = strtod(s + 2, NULL);
				semi = memchr(s, ';', (size_t)(end - s));
			}
			return q < 0 ? 0 : q;
		}
		p = *end != '\0' ? end + 1 : end;
	}
	return -1;
}

int
sbx_req_wants_json(const struct sbx_req *req)
{
	const char *accept = sbx_req_header(req, "Accept");
	double qj, qh;

	if (accept == NULL)
		return 0;
	qj = accept_q(accept, "application/json");
	qh = accept_q(accept, "text/html");
	return qj > 0 && qj >= qh;
}

/* nginx's $request_id is 32 hex digits; accept anything as tame. */
static int
request_id_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return 0;
	for (; id[n] != '\0'; n++) {
		if (n >= REQUEST_ID_MAX)
			return 0;
		if (!isalnum((unsigned char)id[n]) && id[n] != '-' &&
		    id[n] != '_' && id[n] != '.')
			return 0;
	}
	return n > 0;
}

static char *
request_id_new(void)
{
	unsigned char raw[16];
	char *id;
	size_t i, got = 0;
	ssize_t n;
	long long t;

	while (got < sizeof(raw)) {
		n = getrandom(raw + got, sizeof(raw) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)n;
	}
	if (got < sizeof(raw)) {
		/* Not a secret, only an id: the clock and pid will do. */
		t = sbx_now_us();
		memcpy(raw, &t, sizeof(t));
		t = getpid();
		memcpy(raw + 8, &t, sizeof(t));
	}
	id = malloc(sizeof(raw) * 2 + 1);
	if (id == NULL)
		return NULL;
	for (i = 0; i < sizeof(raw); i++)
		snprintf(id + 2 * i, 3, "%02x", raw[i]);
	return id;
}

/* "Application/JSON; charset=utf-8" -> "application/json". */
static char *
media_type(const char *header)
{
	const char *s, *e;
	char *out;
	size_t i;

	if (header == NULL)
		header = "";
	for (s = header; is_ows(*s); s++)
		;
	e = strchr(s, ';');
	if (e == NULL)
		e = s + strlen(s);
	while (e > s && is_ows(e[-1]))
		e--;
	out = xstrndup(s, (size_t)(e - s));
	if (out == NULL)
		return NULL;
	for (i = 0; out[i] != '\0'; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return out;
}

/*
 * Fills req from a copy of envp and takes ownership of body (which must
 * be NUL-terminated at body[body_len], or NULL). A malformed query string
 * or cookie header leaves the parameters empty here; dispatch answers a
 * malformed query 400 in its place in the order of checks, and a malformed
 * Cookie header counts as no cookies.
 */
static enum sbx_err
req_init(struct sbx_req *req, char **envp, char *body, size_t body_len)
{
	const char *v;
	size_t n, i;
	enum sbx_err err = SBX_ENOMEM;

	memset(req, 0, sizeof(*req));
	req->started_us = sbx_now_us();
	req->body = body;
	req->body_len = body != NULL ? body_len : 0;
	for (n = 0; envp != NULL && envp[n] != NULL; n++)
		;
	req->envp = calloc(n + 1, sizeof(*req->envp));
	if (req->envp == NULL)
		goto out;
	for (i = 0; i < n; i++)
		if ((req->envp[i] = strdup(envp[i])) == NULL)
			goto out;

	v = env_get(req->envp, "REQUEST_METHOD");
	req->method = strdup(v != NULL ? v : "");
	v = env_get(req->envp, "PATH_INFO");
	if (v == NULL || *v == '\0')
		v = env_get(req->envp, "SCRIPT_NAME");
	req->path = strdup(v != NULL ? v : "");
	v = env_get(req->envp, "QUERY_STRING");
	req->query = strdup(v != NULL ? v : "");
	req->content_type = media_type(env_get(req->envp, "CONTENT_TYPE"));
	v = env_get(req->envp, "HTTP_X_REQUEST_ID");
	req->request_id = request_id_valid(v) ? strdup(v) : request_id_new();
	if (req->method == NULL || req->path == NULL || req->query == NULL ||
	    req->content_type == NULL || req->request_id == NULL)
		goto out;

	/*
	 * (clang-analyzer-unix.Malloc calls the goto a leak: req_init's
	 * callers release a failed request with sbx_req_fini.)
	 */
	/* NOLINTNEXTLINE(clang-analyzer-unix.Malloc) */
	err = sbx_http_parse_query(req->query, &req->query_params);
	if (err == SBX_ENOMEM)
		goto out;
	err = sbx_http_parse_cookies(env_get(req->envp, "HTTP_COOKIE"),
	    &req->cookies);
	if (err == SBX_ENOMEM)
		goto out;
	err = SBX_OK;
out:
	return err;
}

enum sbx_err
sbx_req_init_env(struct sbx_req *req, char **envp, const char *body,
    size_t body_len)
{
	char *copy = NULL;
	enum sbx_err err;

	if (body != NULL && body_len > 0) {
		copy = xstrndup(body, body_len);
		if (copy == NULL) {
			memset(req, 0, sizeof(*req));
			return SBX_ENOMEM;
		}
	}
	err = req_init(req, envp, copy, body_len);
	if (err != SBX_OK)
		sbx_req_fini(req);
	return err;
}

void
sbx_principal_free(struct sbx_principal *p)
{
	if (p == NULL)
		return;
	free(p->user_id);
	free(p->email);
	free(p->name);
	free(p->picture);
	sbx_util_wipe_free(p->session_id);
	free(p->api_token_id);
	free(p);
}

void
sbx_req_fini(struct sbx_req *req)
{
	size_t i;

	if (req == NULL)
		return;
	free(req->method);
	free(req->path);
	free(req->query);
	free(req->content_type);
	free(req->request_id);
	if (req->body != NULL) {
		explicit_bzero(req->body, req->body_len);
		free(req->body);
	}
	sbx_params_fini(&req->query_params);
	sbx_params_fini(&req->cookies);
	sbx_params_fini(&req->path_params);
	cJSON_Delete(req->json);
	sbx_principal_free(req->principal);
	if (req->envp != NULL) {
		for (i = 0; req->envp[i] != NULL; i++)
			sbx_util_wipe_free(req->envp[i]);
		free(req->envp);
	}
	free(req->resp.headers);
	/* An answer may carry a secret (a new session or API token). */
	if (req->resp.body != NULL)
		explicit_bzero(req->resp.body, req->resp.body_len);
	free(req->resp.body);
	memset(req, 0, sizeof(*req));
}

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

static int
headers_has(const struct sbx_resp *resp, const char *name)
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
static void
headers_add(struct sbx_resp *resp, const char *name, const char *value)
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
	headers_add(&req->resp, name, value);
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
		headers_add(r, "Content-Type", type);
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
			headers_add(&req->resp, "Retry-After", "1");
		return;
	}
	sbx_reply_problem(req, status, "%s",
	    detail != NULL ? detail : sbx_strerror(err));
	if (status == 401) {
		headers_del(&req->resp, "WWW-Authenticate");
		headers_add(&req->resp, "WWW-Authenticate", "Bearer");
	}
}

/* ------------------------------------------------------------ dispatch */

static int
method_is(const struct sbx_route *r, const char *method)
{
	return strcmp(r->method, method) == 0;
}

/* The first route whose method and pattern fit, with its parameters. */
static const struct sbx_route *
route_find(const struct sbx_app *app, const char *method, const char *path,
    struct sbx_params *params)
{
	size_t i;

	for (i = 0; i < app->nroutes; i++)
		if (method_is(&app->routes[i], method) &&
		    sbx_http_match(app->routes[i].pattern, path, params))
			return &app->routes[i];
	return NULL;
}

/* "GET, HEAD, POST" for the routes whose pattern matches path. */
static int
allow_list(const struct sbx_app *app, const char *path, char *buf, size_t len)
{
	size_t i, j;
	int found = 0, dup, get = 0, head = 0;
	const char *m;

	buf[0] = '\0';
	for (i = 0; i < app->nroutes; i++) {
		if (!sbx_http_match(app->routes[i].pattern, path, NULL))
			continue;
		m = app->routes[i].method;
		for (dup = 0, j = 0; j < i && !dup; j++)
			dup = method_is(&app->routes[j], m) &&
			    sbx_http_match(app->routes[j].pattern, path, NULL);
		if (dup)
			continue;
		get |= strcmp(m, "GET") == 0;
		head |= strcmp(m, "HEAD") == 0;
		if (found++)
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, m, len - strlen(buf) - 1);
	}
	if (get && !head)
		strncat(buf, ", HEAD", len - strlen(buf) - 1);
	return found;
}

/* The body's size: what arrived, or what CONTENT_LENGTH announced. */
static unsigned long long
body_size(const struct sbx_req *req)
{
	const char *cl = env_get(req->envp, "CONTENT_LENGTH");
	unsigned long long n = 0;
	char *end;

	if (cl != NULL && *cl != '\0') {
		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno != 0 || *end != '\0')
			n = ~0ULL;
	}
	return n > req->body_len ? n : req->body_len;
}

/* Headers every answer gets, once the answer is known. */
static void
resp_finish(struct sbx_req *req)
{
	if (!headers_has(&req->resp, "X-Request-Id") && req->request_id != NULL)
		headers_add(&req->resp, "X-Request-Id", req->request_id);
	if ((req->route == NULL || !(req->route->flags & SBX_ROUTE_HTML)) &&
	    !headers_has(&req->resp, "Cache-Control"))
		headers_add(&req->resp, "Cache-Control", "no-store");
}

static int
authenticate_or_reply(const struct sbx_app *app, struct sbx_req *req)
{
	enum sbx_err err;

	if (app->authenticate == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE,
		    "route %s %s needs a user but %s has no authenticate hook",
		    req->route->method, req->route->pattern, app->name);
		sbx_reply_problem(req, 500, "internal error");
		return 0;
	}
	err = app->authenticate(req);
	if (err != SBX_OK) {
		if (!req->resp.replied)
			sbx_reply_err(req, err, "authentication failed");
		return 0;
	}
	if (req->principal == NULL) {
		sbx_log(SBX_LOG_ERROR, MODULE,
		    "authenticate hook returned ok without a principal");
		sbx_reply_problem(req, 500, "internal error");
		return 0;
	}
	if ((req->route->flags & SBX_ROUTE_ADMIN) && !req->principal->is_admin) {
		sbx_reply_problem(req, 403, "this needs an administrator");
		return 0;
	}
	if ((req->route->flags & SBX_ROUTE_PERSON) &&
	    req->principal->api_token_id != NULL) {
		sbx_reply_problem(req, 403, "this needs a signed-in person, "
		    "not an API token");
		return 0;
	}
	return 1;
}

static int
body_or_reply(struct sbx_req *req)
{
	const struct sbx_route *r = req->route;
	char detail[256];
	const char *bad = NULL;

	if (sbx_json_parse(req->body != NULL ? req->body : "", req->body_len,
	    &req->json, detail, sizeof(detail)) != SBX_OK) {
		sbx_reply_invalid(req, "body", "body is not valid JSON: %s",
		    detail);
		return 0;
	}
	if (!cJSON_IsObject(req->json)) {
		sbx_reply_invalid(req, "body", "body must be a JSON object");
		return 0;
	}
	if (sbx_json_check(req->json, r->fields, r->nfields, &bad, detail,
	    sizeof(detail)) != SBX_OK) {
		sbx_reply_invalid(req, bad != NULL ? bad : "", "%s", detail);
		return 0;
	}
	return 1;
}

static void
dispatch(const struct sbx_app *app, struct sbx_req *req)
{
	const struct sbx_route *r;
	struct sbx_params tmp;
	char allow[256];
	long long cap;

	sbx_params_fini(&req->path_params);
	r = route_find(app, req->method, req->path, &req->path_params);
	if (r == NULL && strcmp(req->method, "HEAD") == 0)
		r = route_find(app, "GET", req->path, &req->path_params);
	if (r == NULL) {
		if (!allow_list(app, req->path, allow, sizeof(allow))) {
			sbx_reply_problem(req, 404, "no such resource");
			return;
		}
		sbx_reply_problem(req, 405, "%s is not allowed here; allowed: %s",
		    req->method, allow);
		sbx_reply_header(req, "Allow", allow);
		return;
	}
	req->route = r;
	sbx_log_set_request(req->request_id, r->pattern);

	if ((r->flags & SBX_ROUTE_JSON) && (req->content_type == NULL ||
	    strcmp(req->content_type, "application/json") != 0)) {
		sbx_reply_problem(req, 415,
		    "expected Content-Type application/json");
		return;
	}
	cap = sbx_config()->max_body_bytes;
	if (cap >= 0 && body_size(req) > (unsigned long long)cap) {
		sbx_reply_problem(req, 413, "the body is larger than %lld bytes",
		    cap);
		return;
	}
	if ((r->flags & (SBX_ROUTE_AUTH | SBX_ROUTE_ADMIN | SBX_ROUTE_PERSON)) &&
	    !authenticate_or_reply(app, req))
		return;
	if (req->query_params.n == 0 && req->query[0] != '\0') {
		if (sbx_http_parse_query(req->query, &tmp) != SBX_OK) {
			sbx_reply_invalid(req, "query",
			    "the query string is malformed");
			return;
		}
		sbx_params_fini(&tmp);
	}
	if ((r->flags & SBX_ROUTE_JSON) && !body_or_reply(req))
		return;

	r->handler(req);
	if (!req->resp.replied) {
		sbx_log(SBX_LOG_ERROR, MODULE, "handler for %s %s did not reply",
		    r->method, r->pattern);
		req->resp.headers_len = 0;
		sbx_reply_problem(req, 500, "internal error");
	}
}

void
sbx_http_dispatch(const struct sbx_app *app, struct sbx_req *req)
{
	sbx_log_set_request(req->request_id, NULL);
	dispatch(app, req);
	resp_finish(req);
}

/* ------------------------------------------------------------ the loop */

static volatile sig_atomic_t stop_requested;

static void
on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
	/* Makes libfcgi's accept give up; only called while we wait in it. */
	FCGX_ShutdownPending();
}

/* Where an answer goes: a FastCGI stream or stdout in CGI mode. */
struct sink {
	FCGX_Stream *fcgi;
	FILE *file;
};

static void
sink_write(const struct sink *s, const char *buf, size_t len)
{
	size_t off = 0;
	int chunk, n;

	if (s->file != NULL) {
		if (len > 0)
			fwrite(buf, 1, len, s->file);
		return;
	}
	while (off < len) {
		chunk = len - off > 65536 ? 65536 : (int)(len - off);
		n = FCGX_PutStr(buf + off, chunk, s->fcgi);
		if (n < 0)
			return;
		off += (size_t)n;
	}
}

static void
resp_write(const struct sbx_req *req, const struct sink *s)
{
	const struct sbx_resp *r = &req->resp;
	char line[128];
	int n, status = r->status > 0 ? r->status : 500;
	int no_length = status == 204 || status == 304 || status < 200;

	n = snprintf(line, sizeof(line), "Status: %d %s\r\n", status,
	    sbx_http_reason(status));
	sink_write(s, line, (size_t)n);
	if (r->headers_len > 0)
		sink_write(s, r->headers, r->headers_len);
	if (!no_length) {
		/* Cast and %lu: FCGX_FPrintF has no %zu (REFERENCE.md). */
		n = snprintf(line, sizeof(line), "Content-Length: %lu\r\n",
		    (unsigned long)r->body_len);
		sink_write(s, line, (size_t)n);
	}
	sink_write(s, "\r\n", 2);
	if (!no_length && r->body_len > 0 && strcmp(req->method, "HEAD") != 0)
		sink_write(s, r->body, r->body_len);
	if (s->file != NULL)
		fflush(s->file);
}

static void
log_access(const struct sbx_req *req)
{
	cJSON *f = cJSON_CreateObject();
	long long us = sbx_now_us() - req->started_us;

	if (f != NULL) {
		cJSON_AddStringToObject(f, "request_id",
		    req->request_id != NULL ? req->request_id : "");
		if (req->route != NULL)
			cJSON_AddStringToObject(f, "route", req->route->pattern);
		else
			cJSON_AddNullToObject(f, "route");
		cJSON_AddStringToObject(f, "method",
		    req->method != NULL ? req->method : "");
		cJSON_AddStringToObject(f, "path",
		    req->path != NULL ? req->path : "");
		cJSON_AddNumberToObject(f, "status",
		    req->resp.status > 0 ? req->resp.status : 500);
		cJSON_AddNumberToObject(f, "duration_ms", (double)us / 1000.0);
	}
	sbx_log_fields(req->resp.status >= 500 ? SBX_LOG_WARN : SBX_LOG_INFO,
	    MODULE, "request", f);
}

/* CONTENT_LENGTH as a size; -1 when present but not a number. */
static long long
content_length(char *const *envp)
{
	const char *cl = env_get(envp, "CONTENT_LENGTH");
	long long n;
	char *end;

	if (cl == NULL || *cl == '\0')
		return 0;
	if (!isdigit((unsigned char)*cl))
		return -1;
	errno = 0;
	n = strtoll(cl, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	return n;
}

/* Reads up to want bytes; returns how many arrived. */
static size_t
body_read(FCGX_Stream *in, FILE *file, char *buf, size_t want)
{
	size_t got = 0, n;
	int chunk, r;

	while (got < want) {
		if (file != NULL) {
			n = fread(buf + got, 1, want - got, file);
			if (n == 0)
				break;
			got += n;
			continue;
		}
		chunk = want - got > 65536 ? 65536 : (int)(want - got);
		r = FCGX_GetStr(buf + got, chunk, in);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	return got;
}

static void
body_drain(FCGX_Stream *in, long long left)
{
	char buf[8192];
	int r;

	if (in == NULL)
		return;
	if (left > DRAIN_MAX)
		left = DRAIN_MAX;
	while (left > 0) {
		r = FCGX_GetStr(buf, left > (long long)sizeof(buf) ?
		    (int)sizeof(buf) : (int)left, in);
		if (r <= 0)
			break;
		left -= r;
	}
}

/*
 * One request, from parameters to access line. A body over the cap is not
 * kept: dispatch sees CONTENT_LENGTH and answers 413 at its place in the
 * order of checks (after 404/405/415).
 */
static void
serve_one(const struct sbx_app *app, char **envp, FCGX_Stream *in,
    FILE *infile, const struct sink *out)
{
	struct sbx_req req;
	long long started = sbx_now_us(), len, cap;
	char *body = NULL;
	size_t got = 0;
	int bad = 0;
	static const char oom[] = "Status: 500 Internal Server Error\r\n"
	    "Content-Length: 0\r\n\r\n";

	len = content_length(envp);
	cap = sbx_config()->max_body_bytes;
	if (len < 0) {
		bad = 1;
	} else if (len > cap) {
		body_drain(in, len);
	} else if (len > 0) {
		body = malloc((size_t)len + 1);
		if (body == NULL) {
			sink_write(out, oom, sizeof(oom) - 1);
			return;
		}
		got = body_read(in, infile, body, (size_t)len);
		body[got] = '\0';
		bad = got < (size_t)len ? 2 : 0;
	}
	if (req_init(&req, envp, body, got) != SBX_OK) {
		sbx_req_fini(&req);
		sbx_log(SBX_LOG_ERROR, MODULE, "out of memory reading a request");
		sink_write(out, oom, sizeof(oom) - 1);
		return;
	}
	req.started_us = started;
	sbx_log_set_request(req.request_id, NULL);
	if (bad) {
		sbx_reply_problem(&req, 400, bad == 1 ?
		    "Content-Length is not a number" :
		    "the body is shorter than its Content-Length");
		resp_finish(&req);
	} else {
		sbx_http_dispatch(app, &req);
	}
	resp_write(&req, out);
	/*
	 * The access line names request_id and route itself (route null for
	 * a 404), so the logger's per-request copies are cleared first.
	 */
	sbx_log_set_request(NULL, NULL);
	log_access(&req);
	sbx_req_fini(&req);
}

/* The CGI variables worth copying from environ; not the settings. */
static int
cgi_var(const char *kv)
{
	static const char *const names[] = {
		"REQUEST_METHOD=", "PATH_INFO=", "SCRIPT_NAME=",
		"QUERY_STRING=", "CONTENT_TYPE=", "CONTENT_LENGTH=",
		"REQUEST_URI=", "DOCUMENT_URI=", "REMOTE_ADDR=", "REMOTE_PORT=",
		"SERVER_NAME=", "SERVER_PORT=", "SERVER_PROTOCOL=", "HTTPS=",
		"GATEWAY_INTERFACE=",
	};
	size_t i;

	if (strncmp(kv, "HTTP_", 5) == 0)
		return 1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strncmp(kv, names[i], strlen(names[i])) == 0)
			return 1;
	return 0;
}

static int
serve_cgi(const struct sbx_app *app)
{
	struct sink out = { NULL, stdout };
	char **envp;
	size_t n = 0, i, k = 0;

	if (getenv("REQUEST_METHOD") == NULL) {
		fprintf(stderr, "%s: not started by a FastCGI server; to serve "
		    "one request by hand set the CGI variables, e.g.\n"
		    "  REQUEST_METHOD=GET PATH_INFO=/api/ %s\n",
		    app->name, app->name);
		return 2;
	}
	for (; environ[n] != NULL; n++)
		;
	envp = calloc(n + 1, sizeof(*envp));
	if (envp == NULL)
		return 1;
	for (i = 0; i < n; i++)
		if (cgi_var(environ[i]))
			envp[k++] = environ[i];
	serve_one(app, envp, NULL, stdin, &out);
	free(envp);
	return 0;
}

static int
serve_fcgi(const struct sbx_app *app)
{
	FCGX_Request fr;
	struct sigaction sa;
	sigset_t stopset;
	struct sink out;
	int rc, code = 0;

	if (FCGX_Init() != 0 ||
	    FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		sbx_log(SBX_LOG_ERROR, MODULE, "cannot initialise libfcgi");
		return 1;
	}
	/*
	 * No SA_RESTART, so a stop signal ends a blocked accept. The signals
	 * are blocked except while we wait in accept: a request in progress
	 * is finished and answered (a read or write interrupted half-way
	 * would lose it), and the stop takes effect before the next accept.
	 */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigprocmask(SIG_BLOCK, &stopset, NULL);

	sbx_log(SBX_LOG_INFO, MODULE, "%s serving", app->name);
	while (!stop_requested) {
		sigprocmask(SIG_UNBLOCK, &stopset, NULL);
		rc = FCGX_Accept_r(&fr);
		sigprocmask(SIG_BLOCK, &stopset, NULL);
		if (rc < 0) {
			if (stop_requested)
				break;
			if (errno == EINTR)
				continue;
			sbx_log(SBX_LOG_ERROR, MODULE, "accept failed: %s",
			    strerror(errno));
			code = 1;
			break;
		}
		out.fcgi = fr.out;
		out.file = NULL;
		serve_one(app, fr.envp, fr.in, NULL, &out);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	sbx_log(SBX_LOG_INFO, MODULE, "%s stopping", app->name);
	return code;
}

/*
 * The route table as JSON lines on stdout ({"method", "path", "auth",
 * "admin", "json", "person"}), for tests that must cover every route (the
 * authorisation matrix, the OpenAPI document) and for operators. It needs
 * no settings, so it runs anywhere the binary does.
 */
static int
print_routes(const struct sbx_app *app)
{
	size_t i;
	unsigned f;

	for (i = 0; i < app->nroutes; i++) {
		f = app->routes[i].flags;
		printf("{\"method\": \"%s\", \"path\": \"%s\", "
		    "\"auth\": %s, \"admin\": %s, \"json\": %s, "
		    "\"person\": %s}\n",
		    app->routes[i].method, app->routes[i].pattern,
		    (f & (SBX_ROUTE_AUTH | SBX_ROUTE_ADMIN | SBX_ROUTE_PERSON)) ?
		    "true" : "false",
		    (f & SBX_ROUTE_ADMIN) ? "true" : "false",
		    (f & SBX_ROUTE_JSON) ? "true" : "false",
		    (f & SBX_ROUTE_PERSON) ? "true" : "false");
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int
sbx_http_main(const struct sbx_app *app, int argc, char **argv)
{
	enum sbx_log_level level;
	enum sbx_err err;

	if (argc == 2 && strcmp(argv[1], "--routes") == 0)
		return print_routes(app);
	if (argc > 1) {
		fprintf(stderr, "usage: %s [--routes]\n", app->name);
		return 2;
	}
	if (sbx_config_load(app->name, app->config_needs) != SBX_OK)
		return 2;
	level = sbx_log_level_parse(sbx_config()->log_level);
	if (level != SBX_LOG__MAX)
		sbx_log_set_level(level);
	if (app->start != NULL && (err = app->start()) != SBX_OK) {
		sbx_log(SBX_LOG_ERROR, MODULE, "%s failed to start: %s",
		    app->name, sbx_strerror(err));
		return 1;
	}
	if (FCGX_IsCGI())
		return serve_cgi(app);
	/*
	 * A list answer builds a few hundred KiB on the heap and frees it.
	 * With glibc's defaults the freed top of the heap goes back to the
	 * kernel after every such request (brk down, then up again on the
	 * next), and each shrink flushes the TLB of every CPU: a quarter of
	 * a worker's time under load in perf. Keeping up to 4 MiB of free
	 * heap, and serving allocations under 1 MiB from it instead of
	 * fresh mmaps, costs at most that much resident memory, bounded.
	 */
	mallopt(M_TRIM_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	return serve_fcgi(app);
}
