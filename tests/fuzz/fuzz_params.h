/*
 * What the targets of the request's name=value parsers share (cookies,
 * query strings): the whole run of an input (fuzz_params_one), in which
 * parsing the pairs written back must give the same pairs, and a request
 * built with the text must look up what the parser found; each target
 * brings its own checks of a pair and its own way of writing them back.
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
	struct sbx_req req;
	char *kv = fuzz_pair(var, text);
	size_t i;

	if (kv == NULL)
		return;
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

/* One parser of name=value text and how its target checks it. */
struct fuzz_params_target {
	fuzz_parse_fn parse;
	void (*check)(const struct sbx_param *);	/* each parsed pair */
	char *(*rewrite)(const struct sbx_params *);	/* NULL: no memory */
	const char *var;		/* the CGI variable that carries it */
	size_t member;			/* its pairs in struct sbx_req */
	fuzz_lookup_fn lookup;
	const char *const *names;	/* what the handlers look up */
	size_t nnames;
};

/*
 * The whole input (no selector byte) is the text: what any parse may
 * answer, a refusal leaving nothing behind, t->check on every pair, the
 * pairs written back parsing the same, and a request built with the text
 * agreeing with the parser.
 */
static inline void
fuzz_params_one(const struct fuzz_params_target *t, const unsigned char *data,
    size_t size)
{
	struct sbx_params p;
	char *text;
	enum sbx_err err;
	size_t i;

	if ((text = fuzz_copy(data, size, 1)) == NULL)
		return;
	err = t->parse(text, &p);
	CHECK(err == SBX_OK || err == SBX_EPARSE || err == SBX_ENOMEM);
	if (err != SBX_OK)
		CHECK(p.n == 0 && p.items == NULL);
	for (i = 0; err == SBX_OK && i < p.n; i++)
		t->check(&p.items[i]);
	if (err == SBX_OK)
		fuzz_params_reparse(t->parse, t->rewrite(&p), &p);
	fuzz_params_request(t->var, text, &p, err, t->member, t->lookup,
	    t->names, t->nnames);
	sbx_params_fini(&p);
	free(text);
}

#endif
