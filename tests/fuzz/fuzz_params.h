/*
 * What the targets of the request's name=value parsers share (cookies,
 * query strings): parsing the pairs written back must give the same
 * pairs, and a request built with the text must look up what the parser
 * found.
 */
#ifndef SBX_TESTS_FUZZ_PARAMS_H
#define SBX_TESTS_FUZZ_PARAMS_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/api/http.h"
#include "fuzz.h"

typedef enum sbx_err (*fuzz_parse_fn)(const char *, struct sbx_params *);
typedef const char *(*fuzz_lookup_fn)(const struct sbx_req *, const char *);

/* back (the pairs p written back; freed here) parses to p again. */
static inline void
fuzz_params_reparse(fuzz_parse_fn parse, char *back,
    const struct sbx_params *p)
{
	struct sbx_params again;
	size_t i;

	if (back == NULL)
		return;		/* ENOMEM */
	CHECK(parse(back, &again) == SBX_OK);
	CHECK(again.n == p->n);
	for (i = 0; i < p->n; i++) {
		CHECK(strcmp(again.items[i].name, p->items[i].name) == 0);
		CHECK(strcmp(again.items[i].value, p->items[i].value) == 0);
	}
	sbx_params_fini(&again);
	free(back);
}

/*
 * A GET request with the CGI variable var set to text: a refused text
 * (err) leaves the request's pairs (at offset `member` of struct
 * sbx_req) empty; otherwise lookup() of each of names agrees with p.
 */
static inline void
fuzz_params_request(const char *var, const char *text,
    const struct sbx_params *p, enum sbx_err err, size_t member,
    fuzz_lookup_fn lookup, const char *const *names, size_t nnames)
{
	char *env[4] = { "REQUEST_METHOD=GET", "PATH_INFO=/", NULL, NULL };
	size_t n = strlen(var) + strlen(text) + 2, i;
	struct sbx_req req;
	char *kv = malloc(n);

	if (kv == NULL)
		return;
	snprintf(kv, n, "%s=%s", var, text);
	env[2] = kv;
	if (sbx_req_init_env(&req, env, NULL, 0) == SBX_OK) {
		if (err != SBX_OK)
			CHECK(((const struct sbx_params *)
			    ((const char *)&req + member))->n == 0);
		for (i = 0; err == SBX_OK && i < nnames; i++) {
			const char *a = lookup(&req, names[i]);
			const char *b = sbx_params_get(p, names[i]);

			CHECK((a == NULL) == (b == NULL));
			CHECK(a == NULL || strcmp(a, b) == 0);
		}
		sbx_req_fini(&req);
	}
	free(kv);
}

#endif
