/*
 * A request as a handler sees it (see http.h): built from the FastCGI or
 * CGI parameters, its headers, query, cookies and path parameters, what it
 * accepts, its request id, and releasing it (wiping what may hold a token
 * or a cookie).
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

/* Longest X-Request-Id accepted from nginx; a longer one is replaced. */
#define REQUEST_ID_MAX 64

/* ------------------------------------------------------------ requests */

const char *
sbx_req_header(const struct sbx_req *req, const char *name)
{
	char key[128];
	size_t i, o = 0;

	if (strcasecmp(name, "Content-Type") == 0)
		return sbx_http_env_get(req->envp, "CONTENT_TYPE");
	if (strcasecmp(name, "Content-Length") == 0)
		return sbx_http_env_get(req->envp, "CONTENT_LENGTH");
	if (strlen(name) + 6 > sizeof(key))
		return NULL;
	memcpy(key, "HTTP_", 5);
	o = 5;
	for (i = 0; name[i] != '\0'; i++)
		key[o++] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	key[o] = '\0';
	return sbx_http_env_get(req->envp, key);
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
		for (s = p; s < end && sbx_http_is_ows(*s); s++)
			;
		for (e = semi != NULL ? semi : end; e > s && sbx_http_is_ows(e[-1]); e--)
			;
		if ((size_t)(e - s) == tlen && strncasecmp(s, type, tlen) == 0) {
			q = 1.0;
			while (semi != NULL && semi < end) {
				for (s = semi + 1; s < end && sbx_http_is_ows(*s); s++)
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
	for (s = header; sbx_http_is_ows(*s); s++)
		;
	e = strchr(s, ';');
	if (e == NULL)
		e = s + strlen(s);
	while (e > s && sbx_http_is_ows(e[-1]))
		e--;
	out = sbx_http_strndup(s, (size_t)(e - s));
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
enum sbx_err
sbx_http_req_init(struct sbx_req *req, char **envp, char *body,
    size_t body_len)
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

	v = sbx_http_env_get(req->envp, "REQUEST_METHOD");
	req->method = strdup(v != NULL ? v : "");
	v = sbx_http_env_get(req->envp, "PATH_INFO");
	if (v == NULL || *v == '\0')
		v = sbx_http_env_get(req->envp, "SCRIPT_NAME");
	req->path = strdup(v != NULL ? v : "");
	v = sbx_http_env_get(req->envp, "QUERY_STRING");
	req->query = strdup(v != NULL ? v : "");
	req->content_type = media_type(sbx_http_env_get(req->envp, "CONTENT_TYPE"));
	v = sbx_http_env_get(req->envp, "HTTP_X_REQUEST_ID");
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
	err = sbx_http_parse_cookies(sbx_http_env_get(req->envp, "HTTP_COOKIE"),
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
		copy = sbx_http_strndup(body, body_len);
		if (copy == NULL) {
			memset(req, 0, sizeof(*req));
			return SBX_ENOMEM;
		}
	}
	err = sbx_http_req_init(req, envp, copy, body_len);
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

