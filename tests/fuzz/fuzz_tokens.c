/*
 * Fuzz target for the parsers of sign-in, which all read attacker input:
 * base64url decoding, session-token verification, sealed-cookie
 * unsealing, the JWS header parser, the next= check and the ID-token claim
 * checks. The first byte of an input picks the parser; the rest is its
 * text. Besides the sanitizers' checks, it asserts the contracts: a
 * decoded base64url string encodes back to itself (one spelling per byte
 * string), nothing forged verifies under the fuzzer's key, refusals leave
 * no output behind, and accepted claims name a subject and an email.
 *
 * Built two ways (Makefile.am, fuzzing): with libFuzzer by tests/fuzz/run,
 * or with replay_main.c as a plain driver that replays the files named on
 * its command line (`make fuzz-replay`).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/core/b64url.h"
#include "common/io/oidc.h"
#include "common/domain/session.h"
#include "fuzz.h"

/* A key the fuzzer cannot sign with: nothing it makes may verify. */
static const char key[] = "fuzz-key-that-is-at-least-32-bytes-long!";

static void
fuzz_b64url(const char *text)
{
	unsigned char *dec = NULL;
	char *enc = NULL;
	size_t n = 0;

	if (sbx_b64url_decode(text, strlen(text), &dec, &n) != SBX_OK) {
		CHECK(dec == NULL && n == 0);
		return;
	}
	CHECK(sbx_b64url_encode(dec, n, &enc) == SBX_OK);
	CHECK(strcmp(enc, text) == 0);
	free(enc);
	free(dec);
}

static void
fuzz_session(const char *text)
{
	struct sbx_session_claims c;
	const char *why = NULL;

	CHECK(sbx_session_verify(key, sizeof(key) - 1, text, 1700000000LL, &c,
	    &why) == SBX_EAUTH);
	CHECK(why != NULL && c.jti[0] == '\0' && c.sub[0] == '\0');
}

static void
fuzz_unseal(const char *text)
{
	char *v = (char *)"x";

	CHECK(sbx_session_unseal(key, sizeof(key) - 1, "login", text,
	    1700000000LL, &v) == SBX_EAUTH);
	CHECK(v == NULL);
}

static void
fuzz_header(const char *text)
{
	char *alg = NULL, *kid = NULL;
	enum sbx_err err = sbx_oidc_parse_header(text, &alg, &kid);

	if (err != SBX_OK) {
		CHECK(alg == NULL && kid == NULL);
		return;
	}
	CHECK(alg != NULL);
	free(alg);
	free(kid);
}

static void
fuzz_claims(const char *text)
{
	struct sbx_oidc_expect ex = { "https://idp.example", "client-1", "n-1",
	    "example.com,other.example", 1700000000LL, "example.com" };
	struct sbx_oidc_identity id;
	cJSON *claims = cJSON_Parse(text);
	enum sbx_err err;

	(void)sbx_session_next_ok(text);
	if (claims == NULL)
		return;
	err = sbx_oidc_check_claims(claims, &ex, &id, NULL);
	if (err == SBX_OK) {
		CHECK(id.sub != NULL && id.sub[0] != '\0');
		CHECK(id.email != NULL && strchr(id.email, '@') != NULL);
	} else {
		CHECK(err == SBX_EAUTH || err == SBX_EFORBIDDEN ||
		    err == SBX_ENOMEM);
		CHECK(id.sub == NULL && id.email == NULL);
	}
	sbx_oidc_identity_fini(&id);
	cJSON_Delete(claims);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const fuzz_text_fn fns[] = {
		fuzz_b64url, fuzz_session, fuzz_unseal, fuzz_header,
		fuzz_claims,
	};

	return fuzz_pick(data, size, fns, sizeof(fns) / sizeof(fns[0]));
}
