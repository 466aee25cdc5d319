/*
 * Fuzz target for the request parsers of common/api/http.c: the query string,
 * the Cookie header, percent-decoding, route matching and Accept
 * negotiation. The first byte of an input picks the parser; the rest is
 * its text. Besides the sanitizers' checks, it asserts the parsers'
 * contracts: a refused input leaves no parameters behind, a decoded value
 * never grows, a matched {param} never holds '/', and cookie names and
 * values hold no separator.
 *
 * Built two ways (Makefile.am, fuzzing): with libFuzzer by tests/fuzz/run,
 * or with replay_main.c as a plain driver that replays the files named on
 * its command line (`make fuzz-replay`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/api/http.h"
#include "fuzz.h"

static const char *const patterns[] = {
	"/api/",
	"/api/sandboxes/{name}",
	"/api/sandboxes/{name}/events",
	"/api/users/{email}/disable",
	"/t/{a}/{b}/{c}",
};

static void
check_params(const struct sbx_params *p, enum sbx_err err)
{
	size_t i;

	if (err != SBX_OK) {
		CHECK(p->n == 0 && p->items == NULL);
		return;
	}
	for (i = 0; i < p->n; i++)
		CHECK(p->items[i].name != NULL && p->items[i].value != NULL);
}

static void
fuzz_query(const char *text)
{
	struct sbx_params p;
	enum sbx_err err = sbx_http_parse_query(text, &p);
	size_t i;

	check_params(&p, err);
	for (i = 0; err == SBX_OK && i < p.n; i++) {
		CHECK(p.items[i].name[0] != '\0');
		CHECK(strlen(p.items[i].value) <= strlen(text));
	}
	sbx_params_fini(&p);
}

static void
fuzz_cookies(const char *text)
{
	struct sbx_params p;
	enum sbx_err err = sbx_http_parse_cookies(text, &p);
	size_t i;

	check_params(&p, err);
	/* Forgiving: a malformed pair is skipped, the header never refused. */
	CHECK(err == SBX_OK || err == SBX_ENOMEM);
	for (i = 0; err == SBX_OK && i < p.n; i++) {
		CHECK(p.items[i].name[0] != '\0');
		CHECK(strpbrk(p.items[i].name, ";=") == NULL);
		CHECK(strpbrk(p.items[i].value, ";\"\r\n\x7f") == NULL);
	}
	sbx_params_fini(&p);
}

static void
fuzz_unescape(const char *text, int plus)
{
	char *copy = strdup(text);
	size_t len = strlen(text);

	if (copy == NULL)
		return;
	if (sbx_http_unescape(copy, plus) == SBX_OK)
		CHECK(strlen(copy) <= len);
	free(copy);
}

static void
fuzz_unescape_path(const char *text)
{
	fuzz_unescape(text, 0);
}

/* As a form or query value: '+' is a space. */
static void
fuzz_unescape_form(const char *text)
{
	fuzz_unescape(text, 1);
}

static void
fuzz_match(const char *text)
{
	struct sbx_params p;
	size_t i, k;

	for (i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		if (!sbx_http_match(patterns[i], text, &p)) {
			CHECK(p.n == 0 && p.items == NULL);
			continue;
		}
		for (k = 0; k < p.n; k++) {
			CHECK(p.items[k].value[0] != '\0');
			CHECK(strchr(p.items[k].value, '/') == NULL);
		}
		sbx_params_fini(&p);
	}
}

static void
fuzz_accept(const char *text)
{
	struct sbx_req req;
	char *env[4] = { "REQUEST_METHOD=GET", "PATH_INFO=/", NULL, NULL };
	char *hdr = fuzz_pair("HTTP_ACCEPT", text);

	if (hdr == NULL)
		return;
	env[2] = hdr;
	if (sbx_req_init_env(&req, env, NULL, 0) == SBX_OK) {
		(void)sbx_req_wants_json(&req);
		sbx_req_fini(&req);
	}
	free(hdr);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const fuzz_text_fn fns[] = {
		fuzz_query, fuzz_cookies, fuzz_unescape_path,
		fuzz_unescape_form, fuzz_match, fuzz_accept,
	};

	return fuzz_pick(data, size, fns, sizeof(fns) / sizeof(fns[0]));
}
