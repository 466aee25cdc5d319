/*
 * Settings: defaults, every kind of malformed value (each message names
 * the variable and never echoes a secret), settings required by a group,
 * weak session keys, cross checks, lists, and the SBX_ENV_FILE reader.
 * Most cases go through a fake get() so the process environment (which
 * make check may fill with a running stack's settings) cannot leak in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/core/config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define ALL_NEEDS (SBX_NEED_DB | SBX_NEED_SESSION | SBX_NEED_OIDC | \
    SBX_NEED_SIGNIN | SBX_NEED_AWS | SBX_NEED_SANDBOX | SBX_NEED_REAPER | \
    SBX_NEED_NOTIFY)

/* Made up for these tests; random-looking so the weak-key checks pass. */
#define GOOD_KEY "q8Zt3vN1xY7bK2mR5wP0sL9dF4gH6jC1eA8uT3oI"

/* ------------------------------------------------------------ fake env */

struct kv {
	const char *k;
	const char *v;
};

static struct kv fake[64];
static size_t nfake;

static void
env_reset(void)
{
	nfake = 0;
}

/* Sets (or, with v NULL, unsets) a variable; the last call wins. */
static void
env_set(const char *k, const char *v)
{
	assert_true(nfake < N(fake));
	fake[nfake].k = k;
	fake[nfake].v = v;
	nfake++;
}

static const char *
fake_get(const char *name, void *ctx)
{
	size_t i;

	(void)ctx;
	for (i = nfake; i > 0; i--)
		if (strcmp(fake[i - 1].k, name) == 0)
			return fake[i - 1].v;
	return NULL;
}

/* Everything every group requires, valid. */
static void
env_full(void)
{
	env_reset();
	env_set("DATABASE_URL", "postgres://sbx:pw@127.0.0.1:5432/sbx");
	env_set("BASE_URL", "https://localhost:8443/");
	env_set("GOOGLE_CLIENT_ID", "client-123.apps.googleusercontent.com");
	env_set("GOOGLE_CLIENT_SECRET", "test-client-secret");
	env_set("SESSION_SECRET_KEY", GOOD_KEY);
	env_set("ALLOWED_EMAIL_DOMAINS", "example.com, example.org");
	env_set("ADMIN_EMAILS", "admin@example.com");
	env_set("AWS_REGION", "us-east-1");
	env_set("NOTIFY_WEBHOOK_URL", "https://hooks.example.com/sbx");
	env_set("NOTIFY_WEBHOOK_SECRET", "test-webhook-secret");
}

static enum sbx_err
parse(struct sbx_config *cfg, unsigned needs, char *err, size_t errlen)
{
	return sbx_config_parse(cfg, needs, fake_get, NULL, err, errlen);
}

/*
 * Parses with the current fake env and expects a refusal whose message
 * starts with "var:", contains want (if any) and, when secret, does not
 * contain the value.
 */
static void
expect_refused(unsigned needs, const char *var, const char *value,
    const char *want, int secret)
{
	struct sbx_config cfg;
	char err[512], prefix[128];

	if (parse(&cfg, needs, err, sizeof(err)) != SBX_ECONFIG)
		fail_msg("%s=%s: accepted", var, secret ? "(secret)" : value);
	snprintf(prefix, sizeof(prefix), "%s: ", var);
	if (strncmp(err, prefix, strlen(prefix)) != 0)
		fail_msg("%s: message does not name it: %s", var, err);
	if (want != NULL && strstr(err, want) == NULL)
		fail_msg("%s: message lacks \"%s\": %s", var, want, err);
	if (strchr(err, '\n') != NULL)
		fail_msg("%s: message is not one line", var);
	if (secret && value != NULL && *value != '\0' &&
	    strstr(err, value) != NULL)
		fail_msg("%s: message echoes the secret", var);
	/* A refused parse leaves nothing to free. */
	assert_null(cfg.log_level);
	assert_null(cfg.database_url);
	assert_null(cfg.session_secret_key);
	sbx_config_fini(&cfg);
}

/* The full env, with var set to value (NULL: unset), is refused. */
static void
refused_with(unsigned needs, const char *var, const char *value,
    const char *want, int secret)
{
	env_full();
	env_set(var, value);
	expect_refused(needs, var, value, want, secret);
}

/* Parses with the current fake env and expects it accepted. */
static void
expect_accepted(unsigned needs, const char *what, size_t i)
{
	struct sbx_config cfg;
	char err[512];

	if (parse(&cfg, needs, err, sizeof(err)) != SBX_OK)
		fail_msg("%s %zu refused: %s", what, i, err);
	sbx_config_fini(&cfg);
}

/* ------------------------------------------------------------ tests */

static void
test_defaults(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	env_reset();
	assert_int_equal(parse(&cfg, 0, err, sizeof(err)), SBX_OK);
	assert_string_equal(cfg.log_level, "info");
	assert_int_equal(cfg.max_body_bytes, 1048576);
	assert_int_equal(cfg.http_timeout_seconds, 10);
	assert_int_equal(cfg.http_connect_timeout_seconds, 3);
	assert_null(cfg.database_url);
	assert_string_equal(cfg.db_auth, "password");
	assert_int_equal(cfg.db_max_conn_age_seconds, 3300);
	assert_int_equal(cfg.db_connect_timeout_seconds, 5);
	assert_int_equal(cfg.db_tx_max_attempts, 8);
	assert_int_equal(cfg.db_tx_backoff_ms, 20);
	assert_null(cfg.base_url);
	assert_null(cfg.google_client_id);
	assert_null(cfg.google_client_secret);
	assert_string_equal(cfg.oidc_issuer, "https://accounts.google.com");
	assert_null(cfg.session_secret_key);
	assert_int_equal(cfg.session_ttl_seconds, 43200);
	assert_int_equal(cfg.oidc_jwks_min_refresh_seconds, 60);
	assert_null(cfg.allowed_email_domains);
	assert_null(cfg.admin_emails);
	assert_null(cfg.aws_region);
	assert_null(cfg.aws_endpoint_url);
	assert_null(cfg.aws_endpoint_url_cloudformation);
	assert_null(cfg.cfn_role_arn);
	assert_int_equal(cfg.sandbox_default_ttl_minutes, 15);
	assert_int_equal(cfg.sandbox_max_ttl_minutes, 240);
	assert_int_equal(cfg.sandbox_max_lifetime_minutes, 1440);
	assert_int_equal(cfg.sandbox_max_per_user, 5);
	assert_string_equal(cfg.stack_name_prefix, "sbx-");
	assert_int_equal(cfg.sandbox_refresh_seconds, 5);
	assert_int_equal(cfg.reaper_interval_seconds, 60);
	assert_int_equal(cfg.reaper_backoff_seconds, 30);
	assert_int_equal(cfg.reaper_max_attempts, 8);
	assert_int_equal(cfg.reaper_batch_size, 100);
	assert_null(cfg.notify_webhook_url);
	assert_null(cfg.notify_webhook_secret);
	assert_int_equal(cfg.expiry_warning_minutes, 5);
	sbx_config_fini(&cfg);
	sbx_config_fini(NULL);
}

static void
test_full(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	env_full();
	env_set("LOG_LEVEL", "WARN");
	env_set("DB_AUTH", "dsql-iam");
	env_set("DB_MAX_CONN_AGE_SECONDS", "3000");
	env_set("AWS_ENDPOINT_URL", "http://127.0.0.1:4566//");
	env_set("SANDBOX_MAX_PER_USER", "0");
	env_set("REAPER_BATCH_SIZE", "1000");
	env_set("REAPER_BACKOFF_SECONDS", "0");
	env_set("SANDBOX_MAX_TTL_MINUTES", "015");
	env_set("CFN_ROLE_ARN", "arn:aws:iam::123456789012:role/sbx-cfn");
	env_set("STACK_NAME_PREFIX", "Dev-sbx-");
	if (parse(&cfg, ALL_NEEDS, err, sizeof(err)) != SBX_OK)
		fail_msg("refused: %s", err);
	assert_string_equal(cfg.log_level, "warn");
	assert_string_equal(cfg.db_auth, "dsql-iam");
	assert_int_equal(cfg.db_max_conn_age_seconds, 3000);
	/* Trailing slashes go, so "<base>/path" never has two. */
	assert_string_equal(cfg.base_url, "https://localhost:8443");
	assert_string_equal(cfg.aws_endpoint_url, "http://127.0.0.1:4566");
	/* The webhook URL is used as given. */
	assert_string_equal(cfg.notify_webhook_url,
	    "https://hooks.example.com/sbx");
	assert_true(strcmp(cfg.session_secret_key, GOOD_KEY) == 0);
	assert_non_null(cfg.google_client_secret);
	assert_non_null(cfg.notify_webhook_secret);
	assert_int_equal(cfg.sandbox_max_per_user, 0);
	assert_int_equal(cfg.reaper_batch_size, 1000);
	assert_int_equal(cfg.reaper_backoff_seconds, 0);
	assert_int_equal(cfg.sandbox_max_ttl_minutes, 15);
	assert_string_equal(cfg.stack_name_prefix, "Dev-sbx-");
	assert_string_equal(cfg.aws_region, "us-east-1");
	sbx_config_fini(&cfg);
	assert_null(cfg.session_secret_key);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *var;
		const char *value;
		const char *want;	/* in the message */
	} cases[] = {
		{ "SANDBOX_MAX_TTL_MINUTES", "abc",
		    "must be an integer between 1 and 100000, got \"abc\"" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "15m", "got \"15m\"" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "", "got \"\"" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", " 15", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "15 ", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "+15", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "-1", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "0x10", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "1e3", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "1.5", "integer" },
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "0", "between 1 and" },
		{ "SANDBOX_MAX_LIFETIME_MINUTES", "100001", "and 100000" },
		{ "SANDBOX_MAX_LIFETIME_MINUTES", "99999999999999999999999",
		    "integer" },
		{ "REAPER_BATCH_SIZE", "1001", "between 1 and 1000" },
		{ "DB_MAX_CONN_AGE_SECONDS", "0", "between 1 and" },
		{ "SBX_MAX_BODY_BYTES", "1MB", "integer" },
		{ "HTTP_TIMEOUT_SECONDS", "ten", "integer" },
		{ "SESSION_TTL_SECONDS", "12h", "integer" },
		{ "LOG_LEVEL", "verbose", "debug/info/warn/error" },
		{ "LOG_LEVEL", "", "one of" },
		{ "DB_AUTH", "iam", "password/dsql-iam" },
		{ "BASE_URL", "ftp://example.com", "URL" },
		{ "BASE_URL", "https://", "URL" },
		{ "BASE_URL", "localhost:8443", "URL" },
		{ "BASE_URL", "https://example.com/?next=/", "no query" },
		{ "BASE_URL", "https://exa mple.com", "URL" },
		{ "OIDC_ISSUER", "accounts.google.com", "URL" },
		{ "AWS_ENDPOINT_URL", "http://user:pw@127.0.0.1", "URL" },
		{ "AWS_ENDPOINT_URL_CLOUDFORMATION", "127.0.0.1:4566", "URL" },
		{ "NOTIFY_WEBHOOK_URL", "hooks.example.com", "URL" },
		{ "CFN_ROLE_ARN", "role/sbx", "arn:" },
		{ "CFN_ROLE_ARN", "arn:aws:iam::1:role/a b", "arn:" },
		{ "STACK_NAME_PREFIX", "1sbx", "starting with a letter" },
		{ "STACK_NAME_PREFIX", "sbx_", "letters, digits" },
		{ "STACK_NAME_PREFIX", "abcdefghijklmnopqrstuvwxyz0123456",
		    "at most 32" },
		{ "ALLOWED_EMAIL_DOMAINS", "example.com,,example.org",
		    "no empty items" },
		{ "ALLOWED_EMAIL_DOMAINS", "*,example.com", "domains" },
		{ "ALLOWED_EMAIL_DOMAINS", "exa mple.com", "domains" },
		{ "ALLOWED_EMAIL_DOMAINS", "@example.com", "domains" },
		{ "ALLOWED_HD", "*", "Workspace domains" },
		{ "ALLOWED_HD", "exa mple.com", "Workspace domains" },
		{ "ADMIN_EMAILS", "alice", "email" },
		{ "ADMIN_EMAILS", "a@b@c", "email" },
		{ "ADMIN_EMAILS", "a@example.com,", "no empty items" },
		{ "AWS_REGION", "US_EAST_1", "region" },
		{ "AWS_REGION", "us-east-1.evil.com/", "region" },
		{ "GOOGLE_CLIENT_ID", "has space", "printable" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		refused_with(ALL_NEEDS, cases[i].var, cases[i].value,
		    cases[i].want, 0);
}

/* Values that may hold a password are named, never quoted. */
static void
test_malformed_secret_values(void **state)
{
	static const struct {
		const char *var;
		const char *value;
	} cases[] = {
		{ "DATABASE_URL", "mysql://root:hunter2@db/x" },
		{ "DATABASE_URL", "dbname=sbx password=hunter2" },
		{ "DATABASE_URL", "postgres://u:hunter2@h/db\nx" },
		{ "GOOGLE_CLIENT_SECRET", "" },
		{ "SESSION_SECRET_KEY", "hunter2" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		refused_with(ALL_NEEDS, cases[i].var, cases[i].value, NULL, 1);
}

static void
test_database_url_forms(void **state)
{
	static const char *const ok[] = {
		"postgres://sbx:pw@127.0.0.1:5432/sbx",
		"postgresql:///sbx?host=/var/run/postgresql",
		"host=localhost dbname=sbx",
		"dbname=sbx host = 127.0.0.1 port=5432",
		"hostaddr=127.0.0.1 port=5432",
	};
	static const char *const bad[] = {
		"dbname=sbx",
		"myhost=x",
		"localhost",
		"POSTGRES://x",
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(ok); i++) {
		env_reset();
		env_set("DATABASE_URL", ok[i]);
		expect_accepted(SBX_NEED_DB, "DATABASE_URL form", i);
	}
	for (i = 0; i < N(bad); i++) {
		env_reset();
		env_set("DATABASE_URL", bad[i]);
		expect_refused(SBX_NEED_DB, "DATABASE_URL", bad[i], NULL, 1);
	}
}

static void
test_required(void **state)
{
	static const struct {
		unsigned needs;
		const char *var;
		const char *want;
	} cases[] = {
		{ SBX_NEED_DB, "DATABASE_URL", "is required" },
		{ SBX_NEED_SIGNIN, "BASE_URL", "is required" },
		{ SBX_NEED_SIGNIN, "GOOGLE_CLIENT_SECRET", "is required" },
		{ SBX_NEED_OIDC, "ALLOWED_EMAIL_DOMAINS", "is required" },
		{ SBX_NEED_OIDC, "GOOGLE_CLIENT_ID", "is required" },
		{ SBX_NEED_SESSION, "SESSION_SECRET_KEY", "is required" },
		{ SBX_NEED_AWS, "AWS_REGION", "AWS_DEFAULT_REGION" },
		{ SBX_NEED_NOTIFY, "NOTIFY_WEBHOOK_SECRET",
		    "when NOTIFY_WEBHOOK_URL is set" },
	};
	struct sbx_config cfg;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		/* Missing, for a binary that needs it: refused. */
		refused_with(cases[i].needs, cases[i].var, NULL,
		    cases[i].want, 0);
		/* Empty is the same as missing. */
		refused_with(cases[i].needs, cases[i].var, "",
		    cases[i].want, 0);
		/* Missing, for a binary that does not need it: fine. */
		env_full();
		env_set(cases[i].var, NULL);
		expect_accepted(ALL_NEEDS & ~cases[i].needs,
		    "required without its group: case", i);
	}

	/* No webhook URL: no webhook secret needed. */
	env_full();
	env_set("NOTIFY_WEBHOOK_URL", NULL);
	env_set("NOTIFY_WEBHOOK_SECRET", NULL);
	assert_int_equal(parse(&cfg, SBX_NEED_NOTIFY, err, sizeof(err)),
	    SBX_OK);
	assert_null(cfg.notify_webhook_url);
	sbx_config_fini(&cfg);
}

/* A binary holds only the secrets its groups use. */
static void
test_secrets_only_where_needed(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	env_full();
	env_set("SESSION_SECRET_KEY", "short");		/* not even valid */
	assert_int_equal(parse(&cfg, SBX_NEED_DB | SBX_NEED_REAPER |
	    SBX_NEED_AWS, err, sizeof(err)), SBX_OK);
	assert_null(cfg.session_secret_key);
	assert_null(cfg.google_client_secret);
	assert_null(cfg.notify_webhook_secret);
	assert_non_null(cfg.database_url);
	sbx_config_fini(&cfg);

	/*
	 * What the responders other than sbx-auth load (authentication,
	 * sandboxes, jobs): everything to check a caller, never the OAuth
	 * client secret, which only the code exchange in sbx-auth uses.
	 */
	env_full();
	assert_int_equal(parse(&cfg, SBX_NEED_DB | SBX_NEED_SESSION |
	    SBX_NEED_OIDC | SBX_NEED_AWS | SBX_NEED_SANDBOX | SBX_NEED_REAPER,
	    err, sizeof(err)), SBX_OK);
	assert_null(cfg.google_client_secret);
	assert_non_null(cfg.allowed_email_domains);
	assert_non_null(cfg.admin_emails);
	sbx_config_fini(&cfg);
	env_set("GOOGLE_CLIENT_SECRET", NULL);
	assert_int_equal(parse(&cfg, SBX_NEED_DB | SBX_NEED_SESSION |
	    SBX_NEED_OIDC, err, sizeof(err)), SBX_OK);
	sbx_config_fini(&cfg);
}

static void
test_aws_default_region(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	env_reset();
	env_set("AWS_DEFAULT_REGION", "eu-west-1");
	assert_int_equal(parse(&cfg, SBX_NEED_AWS, err, sizeof(err)), SBX_OK);
	assert_string_equal(cfg.aws_region, "eu-west-1");
	sbx_config_fini(&cfg);

	env_set("AWS_REGION", "us-east-2");
	assert_int_equal(parse(&cfg, SBX_NEED_AWS, err, sizeof(err)), SBX_OK);
	assert_string_equal(cfg.aws_region, "us-east-2");
	sbx_config_fini(&cfg);

	/* A bad fallback is reported under the name it came from. */
	env_reset();
	env_set("AWS_DEFAULT_REGION", "Nowhere 1");
	expect_refused(SBX_NEED_AWS, "AWS_DEFAULT_REGION", "Nowhere 1",
	    "region", 0);
}

static void
test_session_key(void **state)
{
	static const char *const weak[] = {
		"short",
		"q8Zt3vN1xY7bK2mR5wP0sL9dF4gH6jC",		/* 31 bytes */
		"changemechangemechangemechangeme!",
		"CHANGEME-please-0123456789abcdefgh",
		"change-me-to-a-long-random-value-in-prod",
		"change_me_0123456789abcdefghijklmnop",
		"your-secret-key-0123456789abcdefghijkl",
		"please-replace-me-0123456789abcdefghij",
		"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		"00000000000000000000000000000000",
		"secretsecretsecretsecretsecretsecret",
		"0123456789abcdef0123456789abcdef",
		"abababababababababababababababababab",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaabcd",		/* 4 bytes used */
		"placeholder-for-the-real-session-key",
	};
	static const char *const strong[] = {
		GOOD_KEY,
		"3f9a1c0e7b52d846a1f0c93e5d7b2a4c",		/* 32 hex */
		"tZ4p/9wQ+Vm1kLr7Yx2sB8nC3eF6hJ0aG5dU1oI2qWc=",
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(weak); i++)
		refused_with(SBX_NEED_SESSION, "SESSION_SECRET_KEY", weak[i],
		    NULL, 1);
	for (i = 0; i < N(strong); i++) {
		env_full();
		env_set("SESSION_SECRET_KEY", strong[i]);
		expect_accepted(SBX_NEED_SESSION, "strong key", i);
	}
}

static void
test_cross_checks(void **state)
{
	static const struct {
		const char *var1, *val1, *var2, *val2;
		const char *named;
	} cases[] = {
		{ "SANDBOX_DEFAULT_TTL_MINUTES", "300",
		    "SANDBOX_MAX_TTL_MINUTES", "240",
		    "SANDBOX_DEFAULT_TTL_MINUTES" },
		{ "SANDBOX_MAX_TTL_MINUTES", "2000",
		    "SANDBOX_MAX_LIFETIME_MINUTES", "1440",
		    "SANDBOX_MAX_TTL_MINUTES" },
		{ "HTTP_CONNECT_TIMEOUT_SECONDS", "20",
		    "HTTP_TIMEOUT_SECONDS", "10",
		    "HTTP_CONNECT_TIMEOUT_SECONDS" },
		{ "DB_AUTH", "dsql-iam", "DB_MAX_CONN_AGE_SECONDS", "3600",
		    "DB_MAX_CONN_AGE_SECONDS" },
	};
	struct sbx_config cfg;
	char err[512];
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++) {
		env_full();
		env_set(cases[i].var1, cases[i].val1);
		env_set(cases[i].var2, cases[i].val2);
		expect_refused(ALL_NEEDS, cases[i].named, NULL, NULL, 0);
	}
	/* Equal is allowed all the way up. */
	env_full();
	env_set("SANDBOX_DEFAULT_TTL_MINUTES", "60");
	env_set("SANDBOX_MAX_TTL_MINUTES", "60");
	env_set("SANDBOX_MAX_LIFETIME_MINUTES", "60");
	assert_int_equal(parse(&cfg, ALL_NEEDS, err, sizeof(err)), SBX_OK);
	sbx_config_fini(&cfg);
}

static void
test_empty_means_unset(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	env_reset();
	env_set("OIDC_ISSUER", "");
	env_set("ADMIN_EMAILS", "");
	env_set("AWS_ENDPOINT_URL", "");
	env_set("STACK_NAME_PREFIX", "");
	assert_int_equal(parse(&cfg, 0, err, sizeof(err)), SBX_OK);
	assert_string_equal(cfg.oidc_issuer, "https://accounts.google.com");
	assert_null(cfg.admin_emails);
	assert_null(cfg.aws_endpoint_url);
	assert_string_equal(cfg.stack_name_prefix, "sbx-");
	sbx_config_fini(&cfg);
}

static void
test_list_has(void **state)
{
	static const struct {
		const char *list, *item;
		int has;
	} cases[] = {
		{ "example.com", "example.com", 1 },
		{ "example.com,example.org", "example.org", 1 },
		{ " example.com , example.org ", "example.com", 1 },
		{ "example.com, example.org", " Example.ORG ", 1 },
		{ "Admin@Example.com", "admin@example.com", 1 },
		{ "example.com", "example.co", 0 },
		{ "example.com", "xample.com", 0 },
		{ "example.com", "example.com.evil", 0 },
		{ "example.com,,", "", 0 },
		{ "a,b", "a,b", 0 },
		{ "", "", 0 },
		{ "*", "example.com", 0 },
		{ "*", "*", 1 },
		{ NULL, "x", 0 },
		{ "x", NULL, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < N(cases); i++)
		if (sbx_config_list_has(cases[i].list, cases[i].item) !=
		    cases[i].has)
			fail_msg("list_has(\"%s\", \"%s\") != %d",
			    cases[i].list ? cases[i].list : "(null)",
			    cases[i].item ? cases[i].item : "(null)",
			    cases[i].has);
}

/* ------------------------------------------------------------ env file */

/*
 * Every variable the table reads, so that the env-file tests (which use
 * the real environment) start clean whatever make check inherited.
 */
static const char *const all_vars[] = {
	"LOG_LEVEL", "SBX_MAX_BODY_BYTES", "HTTP_TIMEOUT_SECONDS",
	"HTTP_CONNECT_TIMEOUT_SECONDS", "DATABASE_URL", "DB_AUTH",
	"DB_MAX_CONN_AGE_SECONDS", "DB_CONNECT_TIMEOUT_SECONDS",
	"DB_TX_MAX_ATTEMPTS", "DB_TX_BACKOFF_MS", "BASE_URL",
	"GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET", "OIDC_ISSUER",
	"SESSION_SECRET_KEY", "SESSION_TTL_SECONDS",
	"OIDC_JWKS_MIN_REFRESH_SECONDS", "ALLOWED_EMAIL_DOMAINS",
	"ADMIN_EMAILS", "ALLOWED_HD", "AWS_REGION", "AWS_DEFAULT_REGION",
	"AWS_ENDPOINT_URL",
	"AWS_ENDPOINT_URL_CLOUDFORMATION", "CFN_ROLE_ARN",
	"SANDBOX_DEFAULT_TTL_MINUTES", "SANDBOX_MAX_TTL_MINUTES",
	"SANDBOX_MAX_LIFETIME_MINUTES", "SANDBOX_MAX_PER_USER",
	"STACK_NAME_PREFIX", "SANDBOX_REFRESH_SECONDS",
	"REAPER_INTERVAL_SECONDS", "REAPER_BACKOFF_SECONDS",
	"REAPER_MAX_ATTEMPTS", "REAPER_BATCH_SIZE", "NOTIFY_WEBHOOK_URL",
	"NOTIFY_WEBHOOK_SECRET", "EXPIRY_WARNING_MINUTES", "SBX_ENV_FILE",
	"SBX_TEST_ONLY_A", "SBX_TEST_ONLY_B",
};

static char envpath[64];

static int
setup_env(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < N(all_vars); i++)
		unsetenv(all_vars[i]);
	envpath[0] = '\0';
	return 0;
}

static int
teardown_env(void **state)
{
	(void)state;
	if (envpath[0] != '\0')
		unlink(envpath);
	unsetenv("SBX_ENV_FILE");
	sbx_config_fini(NULL);
	return 0;
}

/* Writes text to a new temporary file and points SBX_ENV_FILE at it. */
static void
write_env_file(const char *text)
{
	int fd;
	size_t len = strlen(text);

	if (envpath[0] != '\0')
		unlink(envpath);
	snprintf(envpath, sizeof(envpath), "/tmp/sbx-test-env.XXXXXX");
	fd = mkstemp(envpath);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	assert_int_equal(setenv("SBX_ENV_FILE", envpath, 1), 0);
	sbx_config_fini(NULL);		/* forget any file read before */
}

static void
test_env_file(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	write_env_file(
	    "# settings of a test stack\n"
	    "\n"
	    "   # an indented comment\n"
	    "SANDBOX_MAX_PER_USER=7\n"
	    "export REAPER_BATCH_SIZE=50\n"
	    "STACK_NAME_PREFIX=\"dev-\"\n"
	    "ADMIN_EMAILS='a@example.com, b@example.com'\n"
	    "SANDBOX_REFRESH_SECONDS=9\r\n"
	    "SBX_TEST_ONLY_A=first\n"
	    "SBX_TEST_ONLY_A=second\n"
	    "SBX_TEST_ONLY_B=has=equals \"inside\"\n"
	    "EXPIRY_WARNING_MINUTES=3\n");

	assert_string_equal(sbx_config_getenv("SANDBOX_MAX_PER_USER", NULL),
	    "7");
	assert_string_equal(sbx_config_getenv("STACK_NAME_PREFIX", NULL),
	    "dev-");
	assert_string_equal(sbx_config_getenv("ADMIN_EMAILS", NULL),
	    "a@example.com, b@example.com");
	assert_string_equal(sbx_config_getenv("SANDBOX_REFRESH_SECONDS", NULL),
	    "9");
	assert_string_equal(sbx_config_getenv("SBX_TEST_ONLY_A", NULL),
	    "second");
	assert_string_equal(sbx_config_getenv("SBX_TEST_ONLY_B", NULL),
	    "has=equals \"inside\"");
	assert_null(sbx_config_getenv("SBX_TEST_NOT_THERE", NULL));

	/* The environment wins over the file. */
	assert_int_equal(setenv("EXPIRY_WARNING_MINUTES", "4", 1), 0);
	assert_string_equal(sbx_config_getenv("EXPIRY_WARNING_MINUTES", NULL),
	    "4");

	if (sbx_config_parse(&cfg, SBX_NEED_SANDBOX | SBX_NEED_REAPER,
	    sbx_config_getenv, NULL, err, sizeof(err)) != SBX_OK)
		fail_msg("refused: %s", err);
	assert_int_equal(cfg.sandbox_max_per_user, 7);
	assert_int_equal(cfg.reaper_batch_size, 50);
	assert_int_equal(cfg.sandbox_refresh_seconds, 9);
	assert_int_equal(cfg.expiry_warning_minutes, 4);
	assert_string_equal(cfg.stack_name_prefix, "dev-");
	assert_true(sbx_config_list_has(cfg.admin_emails, "b@example.com"));
	sbx_config_fini(&cfg);
	unsetenv("EXPIRY_WARNING_MINUTES");

	/* A file changed and read again after fini gives the new values. */
	write_env_file("SANDBOX_MAX_PER_USER=8\n");
	assert_string_equal(sbx_config_getenv("SANDBOX_MAX_PER_USER", NULL),
	    "8");
	assert_null(sbx_config_getenv("REAPER_BATCH_SIZE", NULL));
}

/* Settings read with the env file holding text are refused; err says why. */
static void
env_file_refused(const char *text, char *err, size_t len)
{
	struct sbx_config cfg;

	write_env_file(text);
	assert_int_equal(sbx_config_parse(&cfg, 0, sbx_config_getenv, NULL,
	    err, len), SBX_ECONFIG);
}

static void
test_env_file_errors(void **state)
{
	struct sbx_config cfg;
	char err[512];

	(void)state;
	/* A value from the file is validated like any other. */
	env_file_refused("SANDBOX_MAX_PER_USER=lots\n", err, sizeof(err));
	assert_non_null(strstr(err, "SANDBOX_MAX_PER_USER: "));

	/* A line that is not KEY=VALUE is reported with its number. */
	env_file_refused("A=1\n\nthis is not a setting\n", err, sizeof(err));
	assert_true(strncmp(err, "SBX_ENV_FILE: ", 14) == 0);
	assert_non_null(strstr(err, "line 3"));

	env_file_refused("1BAD=x\n", err, sizeof(err));
	assert_non_null(strstr(err, "line 1"));

	/* A file that was named but is missing is an error, not nothing. */
	unlink(envpath);
	envpath[0] = '\0';
	assert_int_equal(setenv("SBX_ENV_FILE", "/nonexistent/sbx.env", 1), 0);
	assert_int_equal(sbx_config_parse(&cfg, 0, sbx_config_getenv, NULL,
	    err, sizeof(err)), SBX_ECONFIG);
	assert_true(strncmp(err, "SBX_ENV_FILE: cannot read", 25) == 0);
	assert_null(sbx_config_getenv("SANDBOX_MAX_PER_USER", NULL));
}

/* sbx_config_load reports "<prog>: configuration error: <message>". */
static void
test_load(void **state)
{
	char out[1024];
	FILE *tmp;
	int saved;
	size_t n;

	(void)state;
	assert_int_equal(setenv("SANDBOX_MAX_PER_USER", "6", 1), 0);
	assert_int_equal(setenv("LOG_LEVEL", "debug", 1), 0);
	assert_int_equal(sbx_config_load("sbx-test", SBX_NEED_SANDBOX), SBX_OK);
	assert_int_equal(sbx_config()->sandbox_max_per_user, 6);
	assert_string_equal(sbx_config()->log_level, "debug");

	/* A failed load leaves the loaded settings as they were. */
	assert_int_equal(setenv("SANDBOX_MAX_PER_USER", "six", 1), 0);
	tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	assert_int_equal(sbx_config_load("sbx-test", SBX_NEED_SANDBOX),
	    SBX_ECONFIG);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, sizeof(out) - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	assert_string_equal(out, "sbx-test: configuration error: "
	    "SANDBOX_MAX_PER_USER: must be an integer between 0 and 10000, "
	    "got \"six\"\n");
	assert_int_equal(sbx_config()->sandbox_max_per_user, 6);

	unsetenv("SANDBOX_MAX_PER_USER");
	unsetenv("LOG_LEVEL");
	/* Release the process-wide settings so the leak checker is quiet. */
	sbx_config_fini((struct sbx_config *)(uintptr_t)sbx_config());
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_secret_values),
		cmocka_unit_test(test_database_url_forms),
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_secrets_only_where_needed),
		cmocka_unit_test(test_aws_default_region),
		cmocka_unit_test(test_session_key),
		cmocka_unit_test(test_cross_checks),
		cmocka_unit_test(test_empty_means_unset),
		cmocka_unit_test(test_list_has),
		cmocka_unit_test_setup_teardown(test_env_file, setup_env,
		    teardown_env),
		cmocka_unit_test_setup_teardown(test_env_file_errors,
		    setup_env, teardown_env),
		cmocka_unit_test_setup_teardown(test_load, setup_env,
		    teardown_env),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
