/*
 * Fuzz target for the AWS credential parsers (common/io/aws.c): the ECS
 * container endpoint's JSON (sbx_aws_creds_parse_container) and the
 * shared credentials file (sbx_aws_creds_parse_ini, for the profiles
 * "default" and "dev"). The first byte picks the parser; the rest is the
 * text, passed with its length and no NUL after it.
 *
 * Contracts, besides the sanitizers': the container parser answers OK,
 * EPARSE or ENOMEM, the file parser OK, ENOTFOUND, EPARSE or ENOMEM; a
 * refusal leaves no strings behind; accepted credentials, from either
 * source, have a non-empty key id and secret, a key id that cannot break
 * out of SigV4's "Credential=<id>/<scope>" (no '/', ',', '=', blank or
 * line break) and a session token, when there is one, that is non-empty
 * and holds no line break (it is sent as a header).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/io/aws.h"
#include "fuzz.h"

static void
check_creds(enum sbx_err err, const struct sbx_aws_creds *c)
{
	if (err != SBX_OK) {
		CHECK(c->access_key_id == NULL && c->secret_access_key == NULL &&
		    c->session_token == NULL);
		return;
	}
	CHECK(c->access_key_id != NULL && c->access_key_id[0] != '\0');
	CHECK(c->secret_access_key != NULL &&
	    c->secret_access_key[0] != '\0');
	CHECK(strpbrk(c->access_key_id, "/ \t\r\n,=") == NULL);
	CHECK(c->session_token == NULL || (c->session_token[0] != '\0' &&
	    strpbrk(c->session_token, "\r\n") == NULL));
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sbx_aws_creds c;
	enum sbx_err err;
	char *text;
	size_t len;

	if ((text = fuzz_body(data, size, &len)) == NULL)
		return 0;
	memset(&c, 0, sizeof(c));
	switch (data[0] % 3) {
	case 0:
		err = sbx_aws_creds_parse_container(text, len, &c);
		CHECK(err == SBX_OK || err == SBX_EPARSE || err == SBX_ENOMEM);
		check_creds(err, &c);
		break;
	default:
		err = sbx_aws_creds_parse_ini(text, len,
		    data[0] % 3 == 1 ? "default" : "dev", &c);
		CHECK(err == SBX_OK || err == SBX_ENOTFOUND ||
		    err == SBX_EPARSE || err == SBX_ENOMEM);
		check_creds(err, &c);
		break;
	}
	sbx_aws_creds_fini(&c);
	free(text);
	return 0;
}
