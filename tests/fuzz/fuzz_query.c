/*
 * Fuzz target for query strings: sbx_http_parse_query on the whole
 * input, the request's lookups (sbx_req_init_env with QUERY_STRING), and
 * the checks of the values: the sandbox list's declared inputs
 * (?status=, ?limit=, ?cursor=, ?owner=) and ?next= of sign-in.
 *
 * Contracts, besides the sanitizers': a refused query leaves nothing
 * behind and the request has no query parameters; names are non-empty;
 * percent-encoding every parsed byte and parsing again gives the same
 * pairs; the request's lookups agree with the parser; an accepted limit
 * is 1 to 100 written in digits, an accepted status is one of the names,
 * an accepted next is a same-site path.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/api/http.h"
#include "common/domain/sandbox.h"
#include "common/api/sandbox_api.h"
#include "common/domain/session.h"
#include "fuzz.h"
#include "fuzz_params.h"

static const char *const looked_up[] = {
	"status", "limit", "cursor", "owner", "next", "code", "state",
};

static char *
rewrite(const struct sbx_params *p)
{
	size_t i, len = 1;
	char *s, *w;

	for (i = 0; i < p->n; i++)
		len += 3 * (strlen(p->items[i].name) +
		    strlen(p->items[i].value)) + 2;
	if ((s = malloc(len)) == NULL)
		return NULL;
	w = s;
	*w = '\0';
	for (i = 0; i < p->n; i++) {
		if (i > 0)
			*w++ = '&';
		w = fuzz_pct(w, p->items[i].name);
		*w++ = '=';
		w = fuzz_pct(w, p->items[i].value);
		*w = '\0';
	}
	return s;
}

/*
 * The sandbox list's declared inputs (sbx_http_inputs_check) over the
 * pairs of the input: when they pass, the limit is 1 to 100 written in
 * digits and the status one of the names; when not, one of them is named.
 */
static void
check_inputs(const unsigned char *data, size_t size)
{
	struct sbx_arg args[SBX_SANDBOX_API_LIST_NINPUTS];
	struct sbx_params p;
	const char *bad = NULL;
	char detail[256], *text;
	enum sbx_err err;

	if ((text = malloc(size + 1)) == NULL)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	if (sbx_http_parse_query(text, &p) != SBX_OK)
		goto out;
	err = sbx_http_inputs_check(sbx_sandbox_api_list_inputs,
	    SBX_SANDBOX_API_LIST_NINPUTS, &p, NULL, 1, args, &bad, detail,
	    sizeof(detail));
	CHECK(err == SBX_OK || err == SBX_EINVAL);
	if (err != SBX_OK) {
		CHECK(bad != NULL && detail[0] != '\0');
	} else {
		CHECK(args[1].num >= 1 && args[1].num <= 100);
		CHECK(args[1].str == NULL ||
		    strspn(args[1].str, "0123456789") == strlen(args[1].str));
		CHECK(args[0].str == NULL || strcmp(args[0].str,
		    sbx_sandbox_status_name((enum sbx_sandbox_status)
		    args[0].num)) == 0);
	}
	sbx_params_fini(&p);
out:
	free(text);
}

static void
check_pair(const struct sbx_param *q)
{
	enum sbx_sandbox_status st;

	CHECK(q->name[0] != '\0');
	if (strcmp(q->name, "status") == 0 &&
	    sbx_sandbox_status_parse(q->value, &st) == SBX_OK)
		CHECK(strcmp(sbx_sandbox_status_name(st), q->value) == 0);
	if (strcmp(q->name, "cursor") == 0)
		(void)sbx_sandbox_cursor_valid(q->value);
	if (strcmp(q->name, "next") == 0 && sbx_session_next_ok(q->value)) {
		CHECK(q->value[0] == '/' && q->value[1] != '/' &&
		    q->value[1] != '\\');
		CHECK(strpbrk(q->value, "\\ \t\r\n") == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const struct fuzz_params_target t = {
		sbx_http_parse_query, check_pair, rewrite, "QUERY_STRING",
		offsetof(struct sbx_req, query_params), sbx_req_query,
		looked_up, sizeof(looked_up) / sizeof(looked_up[0]),
	};

	fuzz_params_one(&t, data, size);
	check_inputs(data, size);
	return 0;
}
