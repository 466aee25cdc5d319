/*
 * The HTTP side of every responder, its loop: the order of checks of
 * http.h (dispatch), the FastCGI accept loop and CGI mode, writing the
 * answer, the access log and --routes. Parsing is in http_parse.c, the
 * request in http_req.c, answers in http_resp.c.
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
#include "common/api/http_internal.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/core/util.h"

#define MODULE "http"

/*
 * A body over the cap is still read and thrown away up to this many bytes,
 * so that the server that sent it sees its request consumed and reads our
 * 413 instead of a reset connection. nginx caps bodies itself (1 MiB), so
 * this bound only matters for a misconfigured front.
 */
#define DRAIN_MAX (8L * 1024 * 1024)

extern char **environ;

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
	const char *cl = sbx_http_env_get(req->envp, "CONTENT_LENGTH");
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
	if (!sbx_http_headers_has(&req->resp, "X-Request-Id") && req->request_id != NULL)
		sbx_http_headers_add(&req->resp, "X-Request-Id", req->request_id);
	if ((req->route == NULL || !(req->route->flags & SBX_ROUTE_HTML)) &&
	    !sbx_http_headers_has(&req->resp, "Cache-Control"))
		sbx_http_headers_add(&req->resp, "Cache-Control", "no-store");
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

/* The route's query and path inputs (http_input.c): 400, or 403. */
static int
inputs_or_reply(struct sbx_req *req)
{
	const struct sbx_route *r = req->route;
	const char *bad = NULL;
	char detail[256];
	enum sbx_err err;

	if (r->ninputs > SBX_ROUTE_INPUTS_MAX) {
		sbx_reply_problem(req, 500, "internal error");
		return 0;
	}
	err = sbx_http_inputs_check(r->inputs, r->ninputs, &req->query_params,
	    &req->path_params, req->principal != NULL &&
	    req->principal->is_admin, req->args, &bad, detail, sizeof(detail));
	if (err == SBX_EFORBIDDEN)
		sbx_reply_problem(req, 403, "%s", detail);
	else if (err != SBX_OK)
		sbx_reply_invalid(req, bad != NULL ? bad : "query", "%s",
		    detail);
	return err == SBX_OK;
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
	if (r->ninputs > 0 && !inputs_or_reply(req))
		return;
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
		/*
		 * Built with snprintf and written raw; unsigned long, not
		 * size_t's modifier, as everywhere an answer is formatted
		 * (libfcgi's FCGX_FPrintF lacks it: REFERENCE.md).
		 */
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
	long long us = sbx_now_us() - req->started_us;
	struct sbx_log_kv kv[] = {
		{ "request_id", req->request_id != NULL ? req->request_id : "",
		    0, 0 },
		{ "route", req->route != NULL ? req->route->pattern : NULL,
		    0, 0 },
		{ "method", req->method != NULL ? req->method : "", 0, 0 },
		{ "path", req->path != NULL ? req->path : "", 0, 0 },
		{ "status", NULL, req->resp.status > 0 ? req->resp.status : 500,
		    1 },
		{ "duration_ms", NULL, (double)us / 1000.0, 1 },
	};

	sbx_log_kv(req->resp.status >= 500 ? SBX_LOG_WARN : SBX_LOG_INFO,
	    MODULE, "request", kv, sizeof(kv) / sizeof(kv[0]));
}

/* CONTENT_LENGTH as a size; -1 when present but not a number. */
static long long
content_length(char *const *envp)
{
	const char *cl = sbx_http_env_get(envp, "CONTENT_LENGTH");
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
 * order of checks (after 404/405/415). Returns 1 when the body CONTENT_LENGTH
 * announced (none, for most requests) was read to its end.
 */
static int
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
			return 0;
		}
		got = body_read(in, infile, body, (size_t)len);
		body[got] = '\0';
		bad = got < (size_t)len ? 2 : 0;
	}
	if (sbx_http_req_init(&req, envp, body, got) != SBX_OK) {
		sbx_req_fini(&req);
		sbx_log(SBX_LOG_ERROR, MODULE, "out of memory reading a request");
		sink_write(out, oom, sizeof(oom) - 1);
		return 0;
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
	return len == 0 || (len > 0 && len <= cap && !bad);
}

/*
 * Whether nginx has nothing more to send on this connection: the body was
 * read to its end and the record that ends the input follows (libfcgi has
 * it in its buffer already when nginx sent the request in one go, as it
 * does for a request without a body). Then the connection can simply be
 * closed. Otherwise libfcgi's close half-closes it and reads until nginx
 * closes its end, so that nginx never meets a reset while it still sends
 * (a body ending near a buffer boundary did, as a 502, without it).
 */
static int
input_done(FCGX_Stream *in, int body_read_fully)
{
	return body_read_fully && FCGX_GetChar(in) == EOF &&
	    FCGX_HasSeenEOF(in) == EOF;
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
	(void)serve_one(app, envp, NULL, stdin, &out);
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
		/*
		 * libfcgi's close otherwise waits, every request, for nginx
		 * to close its end first: three system calls and a sleep
		 * during which this worker serves no one.
		 */
		if (input_done(fr.in, serve_one(app, fr.envp, fr.in, NULL,
		    &out)))
			FCGX_Detach(&fr);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 1);
	sbx_log(SBX_LOG_INFO, MODULE, "%s stopping", app->name);
	return code;
}

/* A route's inputs as --routes prints them (JSON Schema words). */
static cJSON *
inputs_json(const struct sbx_route *r)
{
	static const char *const types[] = { "string", "integer", "string" };
	const struct sbx_input *in;
	cJSON *arr = cJSON_CreateArray(), *o, *e;
	size_t i, k;

	for (i = 0; arr != NULL && i < r->ninputs; i++) {
		in = &r->inputs[i];
		if ((o = cJSON_CreateObject()) == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
		cJSON_AddStringToObject(o, "name", in->name);
		cJSON_AddStringToObject(o, "in", in->flags & SBX_I_PATH ?
		    "path" : "query");
		cJSON_AddStringToObject(o, "type", types[in->type]);
		cJSON_AddBoolToObject(o, "required",
		    (in->flags & (SBX_I_REQUIRED | SBX_I_PATH)) != 0);
		if (in->type == SBX_I_INT) {
			cJSON_AddNumberToObject(o, "minimum", (double)in->min);
			cJSON_AddNumberToObject(o, "maximum", (double)in->max);
		} else if (in->type == SBX_I_STRING &&
		    (in->min != 0 || in->max != 0)) {
			cJSON_AddNumberToObject(o, "minLength", (double)in->min);
			cJSON_AddNumberToObject(o, "maxLength", (double)in->max);
		} else if (in->type == SBX_I_ENUM &&
		    (e = cJSON_AddArrayToObject(o, "enum")) != NULL) {
			for (k = 0; in->choices[k] != NULL; k++)
				cJSON_AddItemToArray(e,
				    cJSON_CreateString(in->choices[k]));
		}
		if (in->flags & (SBX_I_ADMIN | SBX_I_ADMIN_ONLY))
			cJSON_AddBoolToObject(o, "admin", 1);
	}
	return arr;
}

/*
 * The route table as JSON lines on stdout ({"method", "path", "auth",
 * "admin", "json", "person", "inputs"}), for tests that must cover every
 * route (the authorisation matrix, the OpenAPI document) and for
 * operators. It needs no settings, so it runs anywhere the binary does.
 */
static int
print_routes(const struct sbx_app *app)
{
	size_t i;
	unsigned f;
	cJSON *o;
	char *line;

	for (i = 0; i < app->nroutes; i++) {
		f = app->routes[i].flags;
		o = cJSON_CreateObject();
		if (o == NULL)
			return 1;
		cJSON_AddStringToObject(o, "method", app->routes[i].method);
		cJSON_AddStringToObject(o, "path", app->routes[i].pattern);
		cJSON_AddBoolToObject(o, "auth", (f & (SBX_ROUTE_AUTH |
		    SBX_ROUTE_ADMIN | SBX_ROUTE_PERSON)) != 0);
		cJSON_AddBoolToObject(o, "admin", (f & SBX_ROUTE_ADMIN) != 0);
		cJSON_AddBoolToObject(o, "json", (f & SBX_ROUTE_JSON) != 0);
		cJSON_AddBoolToObject(o, "person", (f & SBX_ROUTE_PERSON) != 0);
		cJSON_AddItemToObject(o, "inputs", inputs_json(&app->routes[i]));
		line = sbx_json_print(o);
		cJSON_Delete(o);
		if (line == NULL)
			return 1;
		printf("%s\n", line);
		free(line);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

int
sbx_http_main(const struct sbx_app *app, int argc, char **argv)
{
	enum sbx_log_level level;
	enum sbx_err err;
	char why[256];

	if (!sbx_http_routes_check(app->routes, app->nroutes, why,
	    sizeof(why))) {
		fprintf(stderr, "%s: route table: %s\n", app->name, why);
		return 1;
	}
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
