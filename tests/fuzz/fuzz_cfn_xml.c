/*
 * Fuzz target for the readers of CloudFormation's answers in
 * common/io/cfn.c (CreateStack, DescribeStacks, DescribeStackEvents,
 * ListStacks and ErrorResponse documents), which parse whatever the
 * endpoint sends. The first byte of an input picks the reader (its value
 * modulo 5; the seeds use 'A' create, 'B' describe, 'C' events, 'D' list,
 * 'E' error); the rest is the body, passed with its length and no NUL, so
 * the sanitizers see any read past it.
 *
 * Besides the sanitizers' checks, it asserts the contracts of cfn.h: a
 * refused answer leaves no stack id and no NextToken behind; a NextToken
 * is never empty; every listed stack and summary has its id, name and
 * status, every output and tag a key and a value; reading the same page
 * again appends the same members (the pager relies on appending); an
 * error's code and message are NUL-terminated within their buffers and
 * are not cut inside a UTF-8 sequence.
 *
 * Built two ways (Makefile.am, fuzzing): with libFuzzer by tests/fuzz/run,
 * or with replay_main.c as a plain driver that replays the files named on
 * its command line (`make fuzz-replay`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io/cfn.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "fuzz_cfn_xml: %s:%d: %s\n", __FILE__, __LINE__, \
	    #cond); \
	abort(); } } while (0)

/* Set before each call: a reader that forgets an out-parameter fails a
 * CHECK (it is neither NULL nor a non-empty string). */
static char untouched[1];

/* NULL and NULL, or two equal strings. */
static int
same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What every reader may answer, and what a page leaves behind. */
static void
check_page(enum sbx_err err, const char *next)
{
	CHECK(err == SBX_OK || err == SBX_EPARSE || err == SBX_ENOMEM);
	if (err != SBX_OK)
		CHECK(next == NULL);
	else
		CHECK(next == NULL || next[0] != '\0');
}

static void
check_kvs(const struct sbx_cfn_kv *v, size_t n)
{
	size_t i;

	CHECK((n == 0) == (v == NULL));
	for (i = 0; i < n; i++)
		CHECK(v[i].key != NULL && v[i].value != NULL);
}

/* No sequence is cut short, and nothing continues what did not start. */
static int
utf8_whole(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int more;

	while (*p != '\0') {
		if (*p < 0x80)
			more = 0;
		else if ((*p & 0xE0) == 0xC0)
			more = 1;
		else if ((*p & 0xF0) == 0xE0)
			more = 2;
		else if ((*p & 0xF8) == 0xF0)
			more = 3;
		else
			return 0;
		for (p++; more > 0; more--, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

static void
fuzz_create(const char *xml, size_t len)
{
	char *id = untouched;
	enum sbx_err err = sbx_cfn_parse_create(xml, len, &id);

	check_page(err, NULL);
	if (err != SBX_OK) {
		CHECK(id == NULL);
		return;
	}
	CHECK(id != NULL && id[0] != '\0');
	free(id);
}

static void
fuzz_describe(const char *xml, size_t len)
{
	struct sbx_cfn_stacks l = { 0 };
	const struct sbx_cfn_stack *s;
	char *next = untouched;
	enum sbx_err err;
	size_t i, n;

	err = sbx_cfn_parse_describe(xml, len, &l, &next);
	check_page(err, next);
	n = l.n;
	for (i = 0; err == SBX_OK && i < n; i++) {
		s = &l.v[i];
		CHECK(s->stack_id != NULL && s->stack_name != NULL &&
		    s->status != NULL);
		check_kvs(s->outputs, s->noutputs);
		check_kvs(s->tags, s->ntags);
	}
	CHECK(sbx_cfn_parse_describe(xml, len, &l, NULL) == err);
	CHECK(l.n == 2 * n);
	for (i = 0; i < n; i++)
		CHECK(same(l.v[i].stack_id, l.v[n + i].stack_id) &&
		    l.v[i].ntags == l.v[n + i].ntags);
	sbx_cfn_stacks_fini(&l);
	CHECK(l.v == NULL && l.n == 0);
	free(next);
}

static void
fuzz_events(const char *xml, size_t len)
{
	struct sbx_cfn_events l = { 0 };
	char *next = untouched;
	enum sbx_err err;
	size_t i, n;

	err = sbx_cfn_parse_events(xml, len, &l, &next);
	check_page(err, next);
	n = l.n;
	CHECK(sbx_cfn_parse_events(xml, len, &l, NULL) == err);
	CHECK(l.n == 2 * n);
	for (i = 0; i < n; i++)
		CHECK(same(l.v[i].event_id, l.v[n + i].event_id) &&
		    same(l.v[i].status_reason, l.v[n + i].status_reason));
	sbx_cfn_events_fini(&l);
	CHECK(l.v == NULL && l.n == 0);
	free(next);
}

static void
fuzz_list(const char *xml, size_t len)
{
	struct sbx_cfn_summaries l = { 0 };
	const struct sbx_cfn_summary *s;
	char *next = untouched;
	enum sbx_err err;
	size_t i, n;

	err = sbx_cfn_parse_list(xml, len, &l, &next);
	check_page(err, next);
	n = l.n;
	for (i = 0; err == SBX_OK && i < n; i++) {
		s = &l.v[i];
		CHECK(s->stack_id != NULL && s->stack_name != NULL &&
		    s->status != NULL);
	}
	CHECK(sbx_cfn_parse_list(xml, len, &l, NULL) == err);
	CHECK(l.n == 2 * n);
	for (i = 0; i < n; i++)
		CHECK(same(l.v[i].stack_name, l.v[n + i].stack_name));
	sbx_cfn_summaries_fini(&l);
	CHECK(l.v == NULL && l.n == 0);
	free(next);
}

static void
fuzz_error(const char *xml, size_t len)
{
	static const long statuses[] = { 0, 400, 403, 429, 500 };
	struct sbx_cfn_error e;
	enum sbx_err err, mapped;
	size_t i;

	memset(&e, 0, sizeof(e));
	err = sbx_cfn_parse_error(xml, len, &e);
	check_page(err, NULL);
	CHECK(memchr(e.code, '\0', sizeof(e.code)) != NULL);
	CHECK(memchr(e.message, '\0', sizeof(e.message)) != NULL);
	if (err != SBX_OK) {
		CHECK(e.code[0] == '\0' && e.message[0] == '\0');
		return;
	}
	CHECK(e.code[0] != '\0');
	CHECK(utf8_whole(e.code) && utf8_whole(e.message));
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		mapped = sbx_cfn_map_error(statuses[i], e.code, e.message);
		CHECK(mapped == SBX_ETHROTTLED || mapped == SBX_ENOTFOUND ||
		    mapped == SBX_EINVAL || mapped == SBX_ECONFLICT ||
		    mapped == SBX_EAUTH || mapped == SBX_EUNAVAILABLE ||
		    mapped == SBX_EREMOTE);
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *xml;
	size_t len;

	if (size < 1)
		return 0;
	/* A copy of exactly the body's length: no NUL after it to lean on. */
	len = size - 1;
	if ((xml = malloc(len > 0 ? len : 1)) == NULL)
		return 0;
	memcpy(xml, data + 1, len);
	switch (data[0] % 5) {
	case 0:
		fuzz_create(xml, len);
		break;
	case 1:
		fuzz_describe(xml, len);
		break;
	case 2:
		fuzz_events(xml, len);
		break;
	case 3:
		fuzz_list(xml, len);
		break;
	default:
		fuzz_error(xml, len);
		break;
	}
	free(xml);
	return 0;
}
