/*
 * What the pieces of the FastCGI server (http.c, http_parse.c,
 * http_req.c, http_resp.c) share with each other and with no one else.
 * Handlers include http.h only.
 */
#ifndef SBX_HTTP_INTERNAL_H
#define SBX_HTTP_INTERNAL_H

#include <stddef.h>

#include "common/api/http.h"

/* A copy of the n bytes at s, NUL-terminated (heap; NULL on ENOMEM). */
char *sbx_http_strndup(const char *s, size_t n);

/* True for HTTP's optional white space (space, tab). */
int sbx_http_is_ows(char c);

/* A CGI parameter's value in a "NAME=value" array, or NULL. */
const char *sbx_http_env_get(char *const *envp, const char *name);

/* Fills req from the CGI parameters envp and the body (see http_req.c). */
enum sbx_err sbx_http_req_init(struct sbx_req *req, char **envp, char *body,
    size_t body_len);

/* Does the response already carry header name (case-insensitive)? */
int sbx_http_headers_has(const struct sbx_resp *resp, const char *name);

/* Adds a header to the response (a copy of name and value). */
void sbx_http_headers_add(struct sbx_resp *resp, const char *name,
    const char *value);

#endif
