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
#include "fuzz.h"


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

/*
 * The contract of a paged reader, written once for its three list types
 * (C has no generics): the page is refused whole (check_page) or every
 * member passes member_ok; reading the same page again appends members
 * for which same_ok(first, again) holds (the pager relies on appending);
 * fini empties the list.
 */
#define FUZZ_PAGE(type, parse, fini, member_ok, same_ok, xml, len) do {	\
	struct type l_ = { 0 };						\
	char *next_ = untouched;					\
	enum sbx_err err_;						\
	size_t i_, n_;							\
									\
	err_ = parse((xml), (len), &l_, &next_);			\
	check_page(err_, next_);					\
	n_ = l_.n;							\
	for (i_ = 0; err_ == SBX_OK && i_ < n_; i_++)			\
		CHECK(member_ok(&l_.v[i_]));				\
	CHECK(parse((xml), (len), &l_, NULL) == err_);			\
	CHECK(l_.n == 2 * n_);						\
	for (i_ = 0; i_ < n_; i_++)					\
		CHECK(same_ok(&l_.v[i_], &l_.v[n_ + i_]));		\
	fini(&l_);							\
	CHECK(l_.v == NULL && l_.n == 0);				\
	free(next_);							\
} while (0)

static int
stack_ok(const struct sbx_cfn_stack *s)
{
	check_kvs(s->outputs, s->noutputs);
	check_kvs(s->tags, s->ntags);
	return s->stack_id != NULL && s->stack_name != NULL &&
	    s->status != NULL;
}

static int
stack_same(const struct sbx_cfn_stack *a, const struct sbx_cfn_stack *b)
{
	return same(a->stack_id, b->stack_id) && a->ntags == b->ntags;
}

/* Of an event only the appending is checked: cfn.h requires no member. */
static int
event_ok(const struct sbx_cfn_event *e)
{
	(void)e;
	return 1;
}

static int
event_same(const struct sbx_cfn_event *a, const struct sbx_cfn_event *b)
{
	return same(a->event_id, b->event_id) &&
	    same(a->status_reason, b->status_reason);
}

static int
summary_ok(const struct sbx_cfn_summary *s)
{
	return s->stack_id != NULL && s->stack_name != NULL &&
	    s->status != NULL;
}

static int
summary_same(const struct sbx_cfn_summary *a, const struct sbx_cfn_summary *b)
{
	return same(a->stack_name, b->stack_name);
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

	if ((xml = fuzz_body(data, size, &len)) == NULL)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_create(xml, len);
		break;
	case 1:
		FUZZ_PAGE(sbx_cfn_stacks, sbx_cfn_parse_describe,
		    sbx_cfn_stacks_fini, stack_ok, stack_same, xml, len);
		break;
	case 2:
		FUZZ_PAGE(sbx_cfn_events, sbx_cfn_parse_events,
		    sbx_cfn_events_fini, event_ok, event_same, xml, len);
		break;
	case 3:
		FUZZ_PAGE(sbx_cfn_summaries, sbx_cfn_parse_list,
		    sbx_cfn_summaries_fini, summary_ok, summary_same, xml, len);
		break;
	default:
		fuzz_error(xml, len);
		break;
	}
	free(xml);
	return 0;
}
