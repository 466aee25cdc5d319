/*
 * Fuzz target for the SBX_ENV_FILE reader (common/core/config.c): the input
 * is the file's content, read by sbx_config_parse with every group of
 * settings asked for, so each line reaches the reader and each value the
 * validation of its setting.
 *
 * Contracts, besides the sanitizers': the parse answers OK, ECONFIG or
 * ENOMEM; a refusal says why in one line that names a variable; a
 * refusal about a secret (DATABASE_URL, which may hold a password, the
 * client secret, the session key, the webhook secret) never quotes its
 * value; a value the reader hands out holds no line break.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/core/config.h"
#include "fuzz.h"

static const char *const secrets[] = {
	"DATABASE_URL", "GOOGLE_CLIENT_SECRET", "SESSION_SECRET_KEY",
	"NOTIFY_WEBHOOK_SECRET",
};

static char path[64];
static int fd = -1;

static void
setup(void)
{
	const char *dir = getenv("TMPDIR");

	if (fd >= 0)
		return;
	/* Only the file: no setting may come from the environment. */
	snprintf(path, sizeof(path), "%s/fuzz_envfile.XXXXXX",
	    dir != NULL && strlen(dir) < 32 ? dir : "/tmp");
	CHECK(clearenv() == 0);
	CHECK((fd = mkstemp(path)) >= 0);
	CHECK(setenv("SBX_ENV_FILE", path, 1) == 0);
}

static void
rewrite_file(const unsigned char *data, size_t size)
{
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
}

static void
check_refusal(const char *err)
{
	const char *v;
	size_t i, n;

	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	CHECK(strchr(err, ':') != NULL);
	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
		n = strlen(secrets[i]);
		if (strncmp(err, secrets[i], n) != 0 || err[n] != ':')
			continue;
		/*
		 * Read the value as the reader read it, then forget it. A
		 * short value can be a word of the refusal's own text ("must",
		 * "placeholder", which the fuzzer learns from the placeholder
		 * check's comparisons) without any leak: only values of 16
		 * bytes or more, longer than any such word, are looked for.
		 */
		v = sbx_config_getenv(secrets[i], NULL);
		if (v != NULL && strlen(v) >= 16)
			CHECK(strstr(err + n + 1, v) == NULL);
		sbx_config_fini(NULL);
	}
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct sbx_config cfg;
	char err[512];
	const char *v;
	enum sbx_err rc;
	size_t i;

	setup();
	rewrite_file(data, size);
	sbx_config_fini(NULL);		/* forget the last file read */
	rc = sbx_config_parse(&cfg, ~0u, sbx_config_getenv, NULL, err,
	    sizeof(err));
	CHECK(rc == SBX_OK || rc == SBX_ECONFIG || rc == SBX_ENOMEM);
	if (rc == SBX_OK) {
		CHECK(cfg.database_url != NULL && cfg.aws_region != NULL);
		for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++) {
			v = sbx_config_getenv(secrets[i], NULL);
			CHECK(v == NULL || strpbrk(v, "\n") == NULL);
		}
		sbx_config_fini(&cfg);
	} else if (rc == SBX_ECONFIG) {
		check_refusal(err);
	}
	return 0;
}
