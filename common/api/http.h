/*
 * Layer api (common/api/): the FastCGI server (this module), the
 * authenticate hook, the sign-in routes and the handlers. It may use every
 * layer below (domain, io, core); it holds no business rule and no SQL:
 * a handler decodes the request, calls the domain and maps the result to
 * a status. Only the responders (fcgi/) include it; the reaper and
 * sbx-migrate never link it.
 *
 * The HTTP side of a responder: the FastCGI accept loop (or one request in
 * CGI mode when started by hand), request parsing, the route table with
 * path parameters, the order of checks every request goes through, and
 * responses, including problem+json errors.
 *
 * Order of checks for each request (STYLE.md): route and method (404, 405
 * with Allow), content type (415), body size (413), authentication (401,
 * 403), the query and path inputs (400), the body's fields (400), then the
 * handler. A handler therefore sees only a request that passed its
 * route's declarations.
 *
 * A response is built in memory and written once the handler returns, so
 * the status is known for the access log and a failing handler can still
 * be answered with a clean 500 problem.
 */
#ifndef SBX_HTTP_H
#define SBX_HTTP_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"
#include "common/core/json.h"

struct sbx_req;

typedef void (*sbx_handler_fn)(struct sbx_req *req);

enum sbx_route_flag {
	SBX_ROUTE_AUTH = 1u << 0,	/* needs a signed-in user */
	SBX_ROUTE_ADMIN = 1u << 1,	/* needs an admin (implies AUTH) */
	SBX_ROUTE_JSON = 1u << 2,	/* body must be a JSON object */
	SBX_ROUTE_HTML = 1u << 3,	/* not an API answer (e.g. redirects) */
	/*
	 * Needs a person: refused (403) to a request authenticated by an
	 * API token, e.g. making API tokens (implies AUTH).
	 */
	SBX_ROUTE_PERSON = 1u << 4
};

/*
 * The query and path parameters a route declares, as its body fields are
 * declared (json.h): dispatch checks each one before the handler runs and
 * hands the handler the parsed value (sbx_req_arg), the way kcgi hands a
 * page validated pairs. A bad value is answered 400 problem+json naming
 * the parameter. A query parameter the route does not declare is ignored.
 */
enum sbx_itype {
	SBX_I_STRING,	/* min..max bytes (both 0: any), then valid() */
	SBX_I_INT,	/* decimal digits only, no sign, min..max */
	SBX_I_ENUM	/* exactly one of choices; num is its index */
};

enum sbx_iflag {
	SBX_I_PATH = 1u << 0,		/* a {name} of the pattern, else query */
	SBX_I_REQUIRED = 1u << 1,
	SBX_I_EMPTY_ABSENT = 1u << 2,	/* "?x=" counts as no x */
	SBX_I_LOWER = 1u << 3,		/* ASCII lower-cased once valid */
	SBX_I_ADMIN = 1u << 4,		/* an admin's filter: absent for others */
	SBX_I_ADMIN_ONLY = 1u << 5	/* others naming it are refused 403 */
};

struct sbx_input {
	const char *name;
	enum sbx_itype type;
	unsigned flags;			/* enum sbx_iflag */
	long long min;			/* SBX_I_INT: value; STRING: bytes */
	long long max;
	long long def;			/* SBX_I_INT: num when absent */
	const char *const *choices;	/* SBX_I_ENUM: NULL-terminated */
	int (*valid)(const char *value);	/* SBX_I_STRING, optional */
	const char *detail;		/* the 400's detail for a bad value */
};

/* Inputs a route may declare; sbx_http_routes_check enforces it. */
#define SBX_ROUTE_INPUTS_MAX 8

struct sbx_route {
	const char *method;		/* "GET", "POST", ... */
	const char *pattern;		/* "/api/sandboxes/{name}/events" */
	sbx_handler_fn handler;
	unsigned flags;			/* enum sbx_route_flag */
	const struct sbx_field *fields;	/* body fields, with SBX_ROUTE_JSON */
	size_t nfields;
	const struct sbx_input *inputs;	/* query and path parameters */
	size_t ninputs;
};

/*
 * A declared input as the handler receives it: str is the decoded value
 * (NULL when absent; owned by the request), num the integer of SBX_I_INT
 * (def when absent) or the index of the choice of SBX_I_ENUM (-1 absent),
 * 0 for SBX_I_STRING.
 */
struct sbx_arg {
	const char *str;
	long long num;
};

/* A name/value pair: a query, cookie or path parameter. */
struct sbx_param {
	char *name;
	char *value;
};

struct sbx_params {
	struct sbx_param *items;
	size_t n;
};

/* Who is calling; filled in by the application's authenticate hook. */
struct sbx_principal {
	char *user_id;
	char *email;
	char *name;
	char *picture;
	char *session_id;	/* jti of the session token, NULL for ID tokens */
	char *api_token_id;	/* id of the API token, NULL for the others */
	int is_admin;
	int via_cookie;		/* authenticated by the session cookie */
};

struct sbx_resp {
	int status;
	char *headers;		/* "Name: value\r\n" lines */
	size_t headers_len;
	char *body;
	size_t body_len;
	int replied;		/* a handler or check has set the answer */
};

/* One request and its answer; freed after the answer is written. */
struct sbx_req {
	char *method;
	char *path;		/* PATH_INFO, as received */
	char *query;		/* QUERY_STRING, as received, never NULL */
	char *content_type;	/* media type, lower case, no parameters */
	char *request_id;	/* from X-Request-Id, else made */
	char *body;		/* NUL-terminated copy; NULL when empty */
	size_t body_len;
	struct sbx_params query_params;	/* percent-decoded */
	struct sbx_params cookies;
	struct sbx_params path_params;	/* from the route's {names} */
	const struct sbx_route *route;
	struct sbx_arg args[SBX_ROUTE_INPUTS_MAX];	/* route->inputs' */
	cJSON *json;			/* the parsed body, SBX_ROUTE_JSON */
	struct sbx_principal *principal;
	char **envp;			/* the CGI/FastCGI parameters */
	long long started_us;
	struct sbx_resp resp;
};

/*
 * What a responder binary is: its name, routes, the settings it needs and
 * how it authenticates. authenticate() returns SBX_OK after setting
 * req->principal; on any other code it has already replied (401, 403, 503).
 */
struct sbx_app {
	const char *name;
	const struct sbx_route *routes;
	size_t nroutes;
	unsigned config_needs;		/* enum sbx_config_need mask */
	enum sbx_err (*authenticate)(struct sbx_req *req);
	/* Optional, run once after the settings load (e.g. warm a cache). */
	enum sbx_err (*start)(void);
};

/*
 * Runs a responder: loads the settings, then serves FastCGI requests on
 * fd 0 until it is told to stop, or one CGI request when fd 0 is not a
 * listening socket. `--routes` prints the route table as JSON lines and
 * exits. Returns the process exit code.
 */
int sbx_http_main(const struct sbx_app *app, int argc, char **argv);

/*
 * Serves one request already parsed into req (used by the loop, and by
 * unit tests that build a request by hand with sbx_req_init_env).
 */
void sbx_http_dispatch(const struct sbx_app *app, struct sbx_req *req);

/*
 * Builds a request from CGI-style parameters ("NAME=value" strings, as
 * FastCGI passes them) and a body (copied; may be NULL). The parameters
 * are copied too. Release with sbx_req_fini.
 */
enum sbx_err sbx_req_init_env(struct sbx_req *req, char **envp,
    const char *body, size_t body_len);
void sbx_req_fini(struct sbx_req *req);

/*
 * Request accessors. Returned strings belong to req. sbx_req_query and
 * sbx_req_param are the raw parameters (for checks of the request as
 * such); handlers read their declared inputs with sbx_req_arg.
 */
const char *sbx_req_header(const struct sbx_req *req, const char *name);
const char *sbx_req_query(const struct sbx_req *req, const char *name);
const char *sbx_req_cookie(const struct sbx_req *req, const char *name);
const char *sbx_req_param(const struct sbx_req *req, const char *name);
/*
 * The checked value of the input the route declares as name; never NULL.
 * A name the route does not declare is a programming error: it is logged
 * and reads as absent.
 */
const struct sbx_arg *sbx_req_arg(const struct sbx_req *req,
    const char *name);
/* True when the Accept header prefers application/json. */
int sbx_req_wants_json(const struct sbx_req *req);

/*
 * Pure parsers, exposed for unit tests and fuzzing. They fill params
 * (release with sbx_params_fini). The query parser returns SBX_EPARSE on
 * malformed input; the cookie parser skips a malformed pair and keeps the
 * others (only SBX_ENOMEM fails it).
 */
enum sbx_err sbx_http_parse_query(const char *query, struct sbx_params *out);
enum sbx_err sbx_http_parse_cookies(const char *header, struct sbx_params *out);
/* Percent-decodes in place; returns SBX_EPARSE on a bad escape or NUL. */
enum sbx_err sbx_http_unescape(char *s, int plus_is_space);
void sbx_params_fini(struct sbx_params *params);
const char *sbx_params_get(const struct sbx_params *params, const char *name);

/*
 * Matches path against pattern; on a match fills out with the {names}
 * (decoded) and returns 1. Patterns match whole segments; "{x}" matches
 * one non-empty segment.
 */
int sbx_http_match(const char *pattern, const char *path,
    struct sbx_params *out);

/*
 * Checks the inputs decl[0..n) against the query and path parameters and
 * fills args[0..n) (pointing into the parameters; SBX_I_LOWER lower-cases
 * a value in place). is_admin decides SBX_I_ADMIN and SBX_I_ADMIN_ONLY.
 * Returns SBX_OK; SBX_EINVAL (a 400) or SBX_EFORBIDDEN (a 403) with
 * *bad naming the input (the table's string) and a sentence in detail.
 * A parameter given twice, a required one missing, an empty one (unless
 * SBX_I_EMPTY_ABSENT) and an out-of-range or overflowing integer are
 * refused. Pure: no allocation, no I/O.
 */
enum sbx_err sbx_http_inputs_check(const struct sbx_input *decl, size_t n,
    struct sbx_params *query, struct sbx_params *path, int is_admin,
    struct sbx_arg *args, const char **bad, char *detail, size_t detail_len);

/*
 * Checks a route table: at most SBX_ROUTE_INPUTS_MAX inputs a route, each
 * {name} of a pattern declared SBX_I_PATH and each SBX_I_PATH input in the
 * pattern, names unique, and an enum with choices. Returns 1 when sound;
 * otherwise 0 with the first fault in why.
 */
int sbx_http_routes_check(const struct sbx_route *routes, size_t n,
    char *why, size_t why_len);

/* Responses. Each sets req->resp; the last call wins. */
/* Adds a response header (name and value must not hold CR or LF). */
void sbx_reply_header(struct sbx_req *req, const char *name, const char *value);
/* Answers JSON; takes ownership of body and frees it. */
void sbx_reply_json(struct sbx_req *req, int status, cJSON *body);
/*
 * Answers a body that is not a cJSON tree (e.g. the Prometheus text of
 * GET /metrics, or JSON already written as text: a page of sandboxes)
 * with the given Content-Type; takes ownership of body
 * (heap, NUL-terminated), which may be NULL only on ENOMEM (then 500).
 */
void sbx_reply_text(struct sbx_req *req, int status, const char *type,
    char *body);
/* Answers with no body (204, 202 without content, redirects). */
void sbx_reply_empty(struct sbx_req *req, int status);
void sbx_reply_redirect(struct sbx_req *req, const char *location);
/*
 * Answers application/problem+json with type, title, status, detail and
 * request_id; title comes from the status. detail is printf-formatted.
 */
void sbx_reply_problem(struct sbx_req *req, int status, const char *detail_fmt,
    ...) __attribute__((format(printf, 3, 4)));
/*
 * A problem of its own cause: type "urn:sbx:problem:<slug>" (e.g.
 * "budget-exceeded"), with "field" when field is non-NULL.
 */
void sbx_reply_problem_type(struct sbx_req *req, int status, const char *slug,
    const char *field, const char *detail_fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A 400 problem with a "field" member naming the offending input. */
void sbx_reply_invalid(struct sbx_req *req, const char *field,
    const char *detail_fmt, ...) __attribute__((format(printf, 3, 4)));
/* Maps an error code to its usual problem (404, 409, 503, 500...). */
void sbx_reply_err(struct sbx_req *req, enum sbx_err err, const char *detail);

/* Reason phrase for a status code ("Not Found"). */
const char *sbx_http_reason(int status);

/* Frees a principal and its strings; NULL is fine. */
void sbx_principal_free(struct sbx_principal *p);

/* Microseconds on the monotonic clock. */
long long sbx_now_us(void);

#endif
