/*
 * Settings: one table describes every setting of DESIGN.md section 6, and
 * one loop reads and validates them all. Adding a setting is one line in
 * the table and one member in struct sbx_config; nothing else reads the
 * environment for a service setting.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/core/config.h"
#include "common/core/log.h"
#include "common/core/util.h"

enum stype {
	S_STRING,	/* free text, checked by .check when given */
	S_INT,		/* decimal digits only, within [min, max] */
	S_URL,		/* http:// or https:// with a host */
	S_LIST,		/* comma-separated items, none empty */
	S_ENUM,		/* one of .choices, stored in its canonical case */
	S_SECRET	/* never echoed, read only by the groups using it */
};

/* Required as soon as a binary needs any of the setting's groups. */
#define F_REQUIRED	0x1u
/* Never quote the value in a message (it holds a password or a key). */
#define F_NOECHO	0x2u
/* Drop trailing '/' so that "<url>/path" never has a double slash. */
#define F_TRIM_SLASH	0x4u

struct setting {
	const char *name;
	const char *alt;		/* read when name is unset */
	enum stype type;
	size_t off;			/* of the member in struct sbx_config */
	const char *def;		/* as text, parsed like a given value */
	long min, max;			/* int: the value; text: its length */
	unsigned groups;		/* enum sbx_config_need: who uses it */
	unsigned flags;
	const char *choices;		/* S_ENUM: "a|b|c" */
	int (*check)(const char *value);
	const char *hint;		/* "must be <hint>" when check fails */
};

static int check_database_url(const char *);
static int check_base_url(const char *);
static int check_token(const char *);
static int check_domains(const char *);
static int check_hd_domains(const char *);
static int check_emails(const char *);
static int check_region(const char *);
static int check_arn(const char *);
static int check_stack_prefix(const char *);
static int check_not_placeholder(const char *);
static int check_cw_namespace(const char *);
static int check_pg_role(const char *);
static int check_iam_role_arns(const char *);
static int check_usd(const char *);

#define OFF(member) offsetof(struct sbx_config, member)

/*
 * Integer bounds are there to catch a typo (an extra zero, minutes given
 * as seconds) before it becomes an outage, not to second-guess operators;
 * the lower ones allow 0 where a test wants no waiting at all.
 */
static const struct setting settings[] = {
	/* logging and HTTP: every binary */
	{ "LOG_LEVEL", NULL, S_ENUM, OFF(log_level), "info", 0, 0,
	    0, 0, "debug|info|warn|error", NULL, NULL },
	{ "SBX_MAX_BODY_BYTES", NULL, S_INT, OFF(max_body_bytes), "1048576",
	    1, 64L * 1024 * 1024, 0, 0, NULL, NULL, NULL },
	{ "HTTP_TIMEOUT_SECONDS", NULL, S_INT, OFF(http_timeout_seconds),
	    "10", 1, 600, 0, 0, NULL, NULL, NULL },
	{ "HTTP_CONNECT_TIMEOUT_SECONDS", NULL, S_INT,
	    OFF(http_connect_timeout_seconds), "3", 1, 600, 0, 0, NULL, NULL,
	    NULL },

	/* database */
	{ "DATABASE_URL", NULL, S_STRING, OFF(database_url), NULL, 1, 8192,
	    SBX_NEED_DB, F_REQUIRED | F_NOECHO, NULL, check_database_url,
	    "a postgres:// or postgresql:// URL, or a key=value conninfo "
	    "string with host=" },
	{ "DB_AUTH", NULL, S_ENUM, OFF(db_auth), "password", 0, 0,
	    SBX_NEED_DB, 0, "password|dsql-iam", NULL, NULL },
	{ "DB_MAX_CONN_AGE_SECONDS", NULL, S_INT, OFF(db_max_conn_age_seconds),
	    "3300", 1, 86400, SBX_NEED_DB, 0, NULL, NULL, NULL },
	{ "DB_CONNECT_TIMEOUT_SECONDS", NULL, S_INT,
	    OFF(db_connect_timeout_seconds), "5", 1, 600, SBX_NEED_DB, 0,
	    NULL, NULL, NULL },
	{ "DB_TX_MAX_ATTEMPTS", NULL, S_INT, OFF(db_tx_max_attempts), "8",
	    1, 100, SBX_NEED_DB, 0, NULL, NULL, NULL },
	{ "DB_TX_BACKOFF_MS", NULL, S_INT, OFF(db_tx_backoff_ms), "20",
	    0, 60000, SBX_NEED_DB, 0, NULL, NULL, NULL },
	/* sbx-migrate --dialect dsql: they end up in SQL as an identifier
	 * and literals, so their checks leave nothing to quote. */
	{ "DSQL_APP_ROLE", NULL, S_STRING, OFF(dsql_app_role), "sbx_app",
	    1, 63, SBX_NEED_DB, 0, NULL, check_pg_role,
	    "a role name of a-z, 0-9 and _, starting with a letter, not admin" },
	{ "DSQL_APP_ROLE_IAM_ARNS", NULL, S_LIST, OFF(dsql_app_role_iam_arns),
	    NULL, 1, 8192, SBX_NEED_DB, 0, NULL, check_iam_role_arns,
	    "a comma-separated list of IAM role ARNs "
	    "(arn:aws:iam::123456789012:role/name)" },

	/* web sign-in and sessions */
	{ "BASE_URL", NULL, S_URL, OFF(base_url), NULL, 1, 2048,
	    SBX_NEED_SIGNIN, F_REQUIRED | F_TRIM_SLASH, NULL, check_base_url,
	    "an http:// or https:// URL with no query or fragment" },
	{ "GOOGLE_CLIENT_ID", NULL, S_STRING, OFF(google_client_id), NULL,
	    1, 512, SBX_NEED_OIDC, F_REQUIRED, NULL, check_token,
	    "printable ASCII with no spaces" },
	{ "GOOGLE_CLIENT_SECRET", NULL, S_SECRET, OFF(google_client_secret),
	    NULL, 1, 1024, SBX_NEED_SIGNIN, F_REQUIRED | F_NOECHO, NULL, NULL,
	    NULL },
	{ "OIDC_ISSUER", NULL, S_URL, OFF(oidc_issuer),
	    "https://accounts.google.com", 1, 2048, SBX_NEED_OIDC, 0, NULL,
	    NULL, NULL },
	{ "SESSION_SECRET_KEY", NULL, S_SECRET, OFF(session_secret_key), NULL,
	    32, 4096, SBX_NEED_SESSION, F_REQUIRED | F_NOECHO, NULL,
	    check_not_placeholder,
	    "a random key, not a placeholder (e.g. openssl rand -base64 48)" },
	{ "SESSION_TTL_SECONDS", NULL, S_INT, OFF(session_ttl_seconds),
	    "43200", 1, 30L * 86400, SBX_NEED_SESSION, 0, NULL, NULL, NULL },
	{ "OIDC_JWKS_MIN_REFRESH_SECONDS", NULL, S_INT,
	    OFF(oidc_jwks_min_refresh_seconds), "60", 0, 86400, SBX_NEED_OIDC,
	    0, NULL, NULL, NULL },
	{ "ALLOWED_EMAIL_DOMAINS", NULL, S_LIST, OFF(allowed_email_domains),
	    NULL, 1, 8192, SBX_NEED_OIDC, F_REQUIRED, NULL, check_domains,
	    "a comma-separated list of domains, or *" },
	{ "ADMIN_EMAILS", NULL, S_LIST, OFF(admin_emails), NULL, 1, 8192,
	    SBX_NEED_OIDC, 0, NULL, check_emails,
	    "a comma-separated list of email addresses" },
	{ "ALLOWED_HD", NULL, S_LIST, OFF(allowed_hd), NULL, 1, 8192,
	    SBX_NEED_OIDC, 0, NULL, check_hd_domains,
	    "a comma-separated list of Workspace domains (no *)" },

	/* AWS */
	{ "AWS_REGION", "AWS_DEFAULT_REGION", S_STRING, OFF(aws_region), NULL,
	    1, 64, SBX_NEED_AWS, F_REQUIRED, NULL, check_region,
	    "a region name such as us-east-1" },
	{ "AWS_ENDPOINT_URL", NULL, S_URL, OFF(aws_endpoint_url), NULL, 1, 2048,
	    SBX_NEED_AWS, F_TRIM_SLASH, NULL, NULL, NULL },
	{ "AWS_ENDPOINT_URL_CLOUDFORMATION", NULL, S_URL,
	    OFF(aws_endpoint_url_cloudformation), NULL, 1, 2048, SBX_NEED_AWS,
	    F_TRIM_SLASH, NULL, NULL, NULL },
	{ "CFN_ROLE_ARN", NULL, S_STRING, OFF(cfn_role_arn), NULL, 1, 2048,
	    SBX_NEED_AWS, 0, NULL, check_arn, "an ARN (arn:...)" },

	/* sandboxes */
	{ "SANDBOX_DEFAULT_TTL_MINUTES", NULL, S_INT,
	    OFF(sandbox_default_ttl_minutes), "15", 1, 100000, SBX_NEED_SANDBOX,
	    0, NULL, NULL, NULL },
	{ "SANDBOX_MAX_TTL_MINUTES", NULL, S_INT, OFF(sandbox_max_ttl_minutes),
	    "240", 1, 100000, SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },
	{ "SANDBOX_MAX_LIFETIME_MINUTES", NULL, S_INT,
	    OFF(sandbox_max_lifetime_minutes), "1440", 1, 100000,
	    SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },
	{ "SANDBOX_MAX_PER_USER", NULL, S_INT, OFF(sandbox_max_per_user), "5",
	    0, 10000, SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },
	{ "STACK_NAME_PREFIX", NULL, S_STRING, OFF(stack_name_prefix), "sbx-",
	    1, 32, SBX_NEED_SANDBOX, 0, NULL, check_stack_prefix,
	    "letters, digits and '-', starting with a letter" },
	{ "SANDBOX_REFRESH_SECONDS", NULL, S_INT, OFF(sandbox_refresh_seconds),
	    "5", 0, 3600, SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },

	/* reaper */
	{ "REAPER_INTERVAL_SECONDS", NULL, S_INT, OFF(reaper_interval_seconds),
	    "60", 1, 86400, SBX_NEED_REAPER, 0, NULL, NULL, NULL },
	{ "REAPER_BACKOFF_SECONDS", NULL, S_INT, OFF(reaper_backoff_seconds),
	    "30", 0, 86400, SBX_NEED_REAPER, 0, NULL, NULL, NULL },
	{ "REAPER_MAX_ATTEMPTS", NULL, S_INT, OFF(reaper_max_attempts), "8",
	    1, 1000, SBX_NEED_REAPER, 0, NULL, NULL, NULL },
	{ "REAPER_BATCH_SIZE", NULL, S_INT, OFF(reaper_batch_size), "100",
	    1, 1000, SBX_NEED_REAPER, 0, NULL, NULL, NULL },
	{ "REAPER_LEASE_SECONDS", NULL, S_INT, OFF(reaper_lease_seconds),
	    "30", 1, 3600, SBX_NEED_REAPER, 0, NULL, NULL, NULL },
	{ "REAPER_CONCURRENCY", NULL, S_INT, OFF(reaper_concurrency),
	    "8", 1, 64, SBX_NEED_REAPER, 0, NULL, NULL, NULL },

	/* notifications */
	{ "NOTIFY_WEBHOOK_URL", NULL, S_URL, OFF(notify_webhook_url), NULL,
	    1, 2048, SBX_NEED_NOTIFY, 0, NULL, NULL, NULL },
	{ "NOTIFY_WEBHOOK_SECRET", NULL, S_SECRET, OFF(notify_webhook_secret),
	    NULL, 1, 1024, SBX_NEED_NOTIFY, F_NOECHO, NULL, NULL, NULL },
	{ "EXPIRY_WARNING_MINUTES", NULL, S_INT, OFF(expiry_warning_minutes),
	    "5", 0, 100000, SBX_NEED_NOTIFY, 0, NULL, NULL, NULL },

	/* cost and budgets */
	{ "COST_REFRESH_SECONDS", NULL, S_INT, OFF(cost_refresh_seconds),
	    "600", 0, 86400, SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },
	{ "PRICE_CACHE_HOURS", NULL, S_INT, OFF(price_cache_hours), "24",
	    0, 8760, SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },
	{ "USER_MONTHLY_BUDGET_USD", NULL, S_STRING,
	    OFF(user_monthly_budget_usd), NULL, 1, 32, SBX_NEED_SANDBOX, 0,
	    NULL, check_usd, "an amount in USD >= 0, such as 25 or 9.50" },
	{ "COST_CLOCK_OFFSET_SECONDS", NULL, S_INT,
	    OFF(cost_clock_offset_seconds), "0", 0, 400L * 86400,
	    SBX_NEED_SANDBOX, 0, NULL, NULL, NULL },

	/* metrics: sbx-meta (GET /metrics) and the reaper (EMF) */
	{ "METRICS_OVERDUE_GRACE_SECONDS", NULL, S_INT,
	    OFF(metrics_overdue_grace_seconds), "300", 0, 86400, 0, 0, NULL,
	    NULL, NULL },
	{ "METRICS_NAMESPACE", NULL, S_STRING, OFF(metrics_namespace), "Sbx",
	    1, 255, 0, 0, NULL, check_cw_namespace,
	    "a CloudWatch namespace: letters, digits and . - _ / # :, "
	    "not starting with AWS/" },
};

#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

/* ------------------------------------------------------------ helpers */

/* ASCII classes: locale-independent, unlike <ctype.h>. */
static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_space(int c)
{
	return c == ' ' || c == '\t';
}

/* Printable ASCII other than space. */
static int
is_graph(int c)
{
	return c > 0x20 && c < 0x7f;
}

static char **
str_member(struct sbx_config *cfg, const struct setting *s)
{
	return (char **)(void *)((char *)cfg + s->off);
}

static long *
long_member(struct sbx_config *cfg, const struct setting *s)
{
	return (long *)(void *)((char *)cfg + s->off);
}

/*
 * Quotes a value for a message: at most 64 bytes, anything but printable
 * ASCII shown as '?', so that the message stays one readable line.
 */
static void
quote(char *buf, size_t len, const char *value)
{
	size_t i, o = 0;

	if (len < 8) {
		if (len > 0)
			buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (i = 0; i < 64 && value[i] != '\0' && o + 5 < len; i++) {
		unsigned char c = (unsigned char)value[i];

		buf[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	if (value[i] != '\0') {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/*
 * Each item of a comma-separated list, spaces around it ignored, to
 * fn(item, len, arg). Stops at the first nonzero answer and returns it.
 */
static int
list_each(const char *list, int (*fn)(const char *, size_t, const void *),
    const void *arg)
{
	const char *p = list, *end;
	size_t len;
	int rc;

	for (;;) {
		while (is_space(*p))
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && is_space(p[len - 1]))
			len--;
		if ((rc = fn(p, len, arg)) != 0)
			return rc;
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* ------------------------------------------------------------ checks */

static int
url_ok(const char *v)
{
	const char *p;
	size_t host, i;

	if (strncasecmp(v, "https://", 8) == 0)
		p = v + 8;
	else if (strncasecmp(v, "http://", 7) == 0)
		p = v + 7;
	else
		return 0;
	host = strcspn(p, "/?#");
	if (host == 0)
		return 0;
	/* A host, an IPv6 literal or a port; no user:password@. */
	for (i = 0; i < host; i++)
		if (!is_alpha(p[i]) && !is_digit(p[i]) &&
		    strchr(".-_:[]", p[i]) == NULL)
			return 0;
	for (; p[i] != '\0'; i++)
		if (!is_graph((unsigned char)p[i]))
			return 0;
	return 1;
}

static int
check_base_url(const char *v)
{
	return strpbrk(v, "?#") == NULL;
}

/* True when the conninfo string v has the keyword kw (host, hostaddr). */
static int
conninfo_has(const char *v, const char *kw)
{
	size_t n = strlen(kw);
	const char *p;

	for (p = v; (p = strstr(p, kw)) != NULL; p += n) {
		const char *q = p + n;

		if (p != v && !is_space(p[-1]))
			continue;
		while (is_space(*q))
			q++;
		if (*q == '=')
			return 1;
	}
	return 0;
}

static int
check_database_url(const char *v)
{
	const char *p;

	for (p = v; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	if (strncmp(v, "postgres://", 11) == 0 ||
	    strncmp(v, "postgresql://", 13) == 0)
		return 1;
	return conninfo_has(v, "host") || conninfo_has(v, "hostaddr");
}

static int
check_token(const char *v)
{
	for (; *v != '\0'; v++)
		if (!is_graph((unsigned char)*v))
			return 0;
	return 1;
}

static int
domain_bad(const char *item, size_t len, const void *arg)
{
	size_t i;

	(void)arg;
	if (len == 0 || len > 253 || item[0] == '.' || item[0] == '-')
		return 1;
	for (i = 0; i < len; i++)
		if (!is_alpha(item[i]) && !is_digit(item[i]) &&
		    item[i] != '.' && item[i] != '-')
			return 1;
	return 0;
}

static int
check_domains(const char *v)
{
	const char *p = v;
	size_t len;

	while (is_space(*p))
		p++;
	len = strlen(p);
	while (len > 0 && is_space(p[len - 1]))
		len--;
	if (len == 1 && p[0] == '*')
		return 1;
	return list_each(v, domain_bad, NULL) == 0;
}

/* ALLOWED_HD names domains; "*" would mean nothing sensible there. */
static int
check_hd_domains(const char *v)
{
	return list_each(v, domain_bad, NULL) == 0;
}

static int
email_bad(const char *item, size_t len, const void *arg)
{
	const char *at;
	size_t i;

	(void)arg;
	if (len == 0 || len > 320)
		return 1;
	for (i = 0; i < len; i++)
		if (!is_graph((unsigned char)item[i]) || item[i] == ',')
			return 1;
	at = memchr(item, '@', len);
	if (at == NULL || at == item || at == item + len - 1 ||
	    memchr(at + 1, '@', len - (size_t)(at - item) - 1) != NULL)
		return 1;
	return 0;
}

static int
check_emails(const char *v)
{
	return list_each(v, email_bad, NULL) == 0;
}

/* The region becomes part of host names, so only [a-z0-9-]. */
/* A USD amount: digits with at most one '.', >= 0 (no sign, no exponent). */
static int
check_usd(const char *v)
{
	int dot = 0, digits = 0;

	for (; *v != '\0'; v++) {
		if (*v == '.' && !dot)
			dot = 1;
		else if (is_digit((unsigned char)*v))
			digits++;
		else
			return 0;
	}
	return digits > 0;
}

static int
check_region(const char *v)
{
	if (!(v[0] >= 'a' && v[0] <= 'z'))
		return 0;
	for (; *v != '\0'; v++)
		if (!(*v >= 'a' && *v <= 'z') && !is_digit(*v) && *v != '-')
			return 0;
	return 1;
}

static int
check_arn(const char *v)
{
	return strncmp(v, "arn:", 4) == 0 && check_token(v);
}

static int
check_stack_prefix(const char *v)
{
	if (!is_alpha(v[0]))
		return 0;
	for (; *v != '\0'; v++)
		if (!is_alpha(*v) && !is_digit(*v) && *v != '-')
			return 0;
	return 1;
}

/*
 * Refuses the keys people paste from examples: a well-known placeholder
 * anywhere in it, a short pattern repeated ("xxxx...", "secretsecret..."),
 * or a key made of a handful of distinct bytes. A key from a random
 * source passes all three with overwhelming probability.
 */
static int
check_not_placeholder(const char *v)
{
	static const char *const words[] = {
		"changeme", "change-me", "change_me", "replaceme",
		"replace-me", "replace_me", "your-secret", "your_secret",
		"yoursecret", "placeholder",
	};
	char lower[4097];
	size_t len = strlen(v), i, p, distinct = 0;
	unsigned char seen[256] = { 0 };

	if (len >= sizeof(lower))
		return 0;
	for (i = 0; i <= len; i++) {
		char c = v[i];

		lower[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]) != NULL)
			goto refuse;
	for (p = 1; p <= len / 2; p++) {
		for (i = p; i < len && v[i] == v[i - p]; i++)
			;
		if (i == len)
			goto refuse;
	}
	for (i = 0; i < len; i++)
		if (!seen[(unsigned char)v[i]]++)
			distinct++;
	if (distinct < 6)
		goto refuse;
	explicit_bzero(lower, sizeof(lower));
	return 1;
refuse:
	explicit_bzero(lower, sizeof(lower));
	return 0;
}

/* A plain lower-case identifier, so that it needs no quoting in SQL. */
static int
check_pg_role(const char *v)
{
	const char *p;

	if (!(v[0] >= 'a' && v[0] <= 'z') || strcmp(v, "admin") == 0 ||
	    strncmp(v, "pg_", 3) == 0)
		return 0;
	for (p = v; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !is_digit(*p) && *p != '_')
			return 0;
	return 1;
}

/*
 * arn:<partition>:iam::<12 digits>:role/<path and name>, with IAM's own
 * characters for names (letters, digits, + = , . @ _ - and the path's /):
 * no quote, so that it can stand in a SQL literal as is.
 */
static int
iam_role_arn_bad(const char *item, size_t len, const void *arg)
{
	const char *p = item, *end = item + len, *q;
	size_t i;

	(void)arg;
	if (len < 4 || strncmp(p, "arn:", 4) != 0)
		return 1;
	p += 4;
	q = memchr(p, ':', (size_t)(end - p));
	if (q == NULL || q - p < 3 || strncmp(p, "aws", 3) != 0)
		return 1;
	for (; p < q; p++)
		if (!(*p >= 'a' && *p <= 'z') && *p != '-')
			return 1;
	p = q + 1;
	if ((size_t)(end - p) < 5 || strncmp(p, "iam::", 5) != 0)
		return 1;
	p += 5;
	for (i = 0; i < 12; i++, p++)
		if (p >= end || !is_digit(*p))
			return 1;
	if ((size_t)(end - p) < 7 || strncmp(p, ":role/", 6) != 0)
		return 1;
	for (p += 6; p < end; p++)
		if (!is_alpha(*p) && !is_digit(*p) &&
		    strchr("+=,.@_-/", *p) == NULL)
			return 1;
	return end[-1] == '/';
}

static int
check_iam_role_arns(const char *v)
{
	return list_each(v, iam_role_arn_bad, NULL) == 0;
}

/* CloudWatch's namespace rules; "AWS/" is reserved for AWS's own. */
static int
check_cw_namespace(const char *v)
{
	if (strncmp(v, "AWS/", 4) == 0)
		return 0;
	for (; *v != '\0'; v++)
		if (!is_alpha(*v) && !is_digit(*v) &&
		    strchr(".-_/#:", *v) == NULL)
			return 0;
	return 1;
}

/* ------------------------------------------------------------ parsing */

/* Decimal digits only: no sign, no spaces, no suffix. */
static int
parse_long(const char *v, long min, long max, long *out)
{
	const char *p;
	char *end;
	long n;

	if (*v == '\0')
		return 0;
	for (p = v; *p != '\0'; p++)
		if (!is_digit(*p))
			return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return 0;
	*out = n;
	return 1;
}

static int
item_empty(const char *item, size_t len, const void *arg)
{
	(void)item;
	(void)arg;
	return len == 0;
}

/*
 * Validates one value and stores it. name is the variable it came from
 * (the alternative one when the value came from there).
 */
static enum sbx_err
set_one(struct sbx_config *cfg, const struct setting *s, const char *name,
    const char *v, char *err, size_t errlen)
{
	char q[80], *copy = NULL;
	const char *c, *canon = NULL;
	size_t len, n;
	long l;
	int echo = !(s->flags & F_NOECHO) && s->type != S_SECRET;

	if (echo)
		quote(q, sizeof(q), v);
	else
		q[0] = '\0';

	switch (s->type) {
	case S_INT:
		if (!parse_long(v, s->min, s->max, &l)) {
			snprintf(err, errlen,
			    "%s: must be an integer between %ld and %ld, got %s",
			    name, s->min, s->max, q);
			return SBX_ECONFIG;
		}
		*long_member(cfg, s) = l;
		return SBX_OK;
	case S_ENUM:
		for (c = s->choices; *c != '\0'; c += n + (c[n] == '|')) {
			n = strcspn(c, "|");
			if (strlen(v) == n && strncasecmp(v, c, n) == 0) {
				canon = c;
				break;
			}
		}
		if (canon == NULL) {
			char list[128];
			size_t i;

			snprintf(list, sizeof(list), "%s", s->choices);
			for (i = 0; list[i] != '\0'; i++)
				if (list[i] == '|')
					list[i] = '/';
			snprintf(err, errlen, "%s: must be one of %s, got %s",
			    name, list, q);
			return SBX_ECONFIG;
		}
		if ((copy = strndup(canon, n)) == NULL)
			goto oom;
		break;
	default:
		len = strlen(v);
		if ((s->min != 0 || s->max != 0) &&
		    (len < (size_t)s->min || len > (size_t)s->max)) {
			if (len < (size_t)s->min)
				snprintf(err, errlen,
				    "%s: must be at least %ld bytes long%s%s",
				    name, s->min, echo ? ", got " : "", q);
			else
				snprintf(err, errlen,
				    "%s: must be at most %ld bytes long",
				    name, s->max);
			return SBX_ECONFIG;
		}
		if (s->type == S_URL && !url_ok(v)) {
			snprintf(err, errlen,
			    "%s: must be an http:// or https:// URL%s%s",
			    name, echo ? ", got " : "", q);
			return SBX_ECONFIG;
		}
		if (s->type == S_LIST && list_each(v, item_empty, NULL)) {
			snprintf(err, errlen,
			    "%s: must be a comma-separated list with no empty "
			    "items%s%s", name, echo ? ", got " : "", q);
			return SBX_ECONFIG;
		}
		if (s->check != NULL && !s->check(v)) {
			snprintf(err, errlen, "%s: must be %s%s%s", name,
			    s->hint != NULL ? s->hint : "valid",
			    echo ? ", got " : "", q);
			return SBX_ECONFIG;
		}
		if ((copy = strdup(v)) == NULL)
			goto oom;
		if (s->flags & F_TRIM_SLASH) {
			/* Keep the "scheme://host" part whole. */
			char *host = strstr(copy, "://");
			size_t keep = host != NULL ?
			    (size_t)(host - copy) + 4 : 1;

			len = strlen(copy);
			while (len > keep && copy[len - 1] == '/')
				copy[--len] = '\0';
		}
		break;
	}
	sbx_util_wipe_free(*str_member(cfg, s));
	*str_member(cfg, s) = copy;
	return SBX_OK;
oom:
	snprintf(err, errlen, "%s: out of memory", name);
	return SBX_ENOMEM;
}

/* Integer settings that must not exceed another one, in this order. */
static const struct {
	const char *name, *limit;
	size_t off, limit_off;
} not_above[] = {
	{ "SANDBOX_DEFAULT_TTL_MINUTES", "SANDBOX_MAX_TTL_MINUTES",
	    OFF(sandbox_default_ttl_minutes), OFF(sandbox_max_ttl_minutes) },
	{ "SANDBOX_MAX_TTL_MINUTES", "SANDBOX_MAX_LIFETIME_MINUTES",
	    OFF(sandbox_max_ttl_minutes), OFF(sandbox_max_lifetime_minutes) },
	{ "HTTP_CONNECT_TIMEOUT_SECONDS", "HTTP_TIMEOUT_SECONDS",
	    OFF(http_connect_timeout_seconds), OFF(http_timeout_seconds) },
};

/* Checks that hold between settings, once each is valid on its own. */
static enum sbx_err
cross_check(const struct sbx_config *cfg, unsigned needs, char *err,
    size_t errlen)
{
	const char *base = (const char *)cfg;
	long v, limit;
	size_t i;

	for (i = 0; i < sizeof(not_above) / sizeof(not_above[0]); i++) {
		v = *(const long *)(const void *)(base + not_above[i].off);
		limit = *(const long *)(const void *)(base +
		    not_above[i].limit_off);
		if (v > limit) {
			snprintf(err, errlen, "%s: must not exceed %s "
			    "(%ld > %ld)", not_above[i].name,
			    not_above[i].limit, v, limit);
			return SBX_ECONFIG;
		}
	}
	/* Aurora DSQL closes every connection after 60 minutes. */
	if (strcmp(cfg->db_auth, "dsql-iam") == 0 &&
	    cfg->db_max_conn_age_seconds >= 3600) {
		snprintf(err, errlen, "DB_MAX_CONN_AGE_SECONDS: must be below "
		    "3600 with DB_AUTH=dsql-iam (DSQL closes connections after "
		    "60 minutes), got %ld", cfg->db_max_conn_age_seconds);
		return SBX_ECONFIG;
	}
	if ((needs & SBX_NEED_NOTIFY) && cfg->notify_webhook_url != NULL &&
	    cfg->notify_webhook_secret == NULL) {
		snprintf(err, errlen, "NOTIFY_WEBHOOK_SECRET: is required when "
		    "NOTIFY_WEBHOOK_URL is set");
		return SBX_ECONFIG;
	}
	return SBX_OK;
}

/* ------------------------------------------------------------ env file */

/*
 * The KEY=VALUE file SBX_ENV_FILE names, read once and kept until
 * sbx_config_fini (the pointers sbx_config_getenv hands out stay valid
 * until then). It is the file scripts/up writes for shells to source, so
 * "export " prefixes and one pair of surrounding quotes are understood.
 */
static struct {
	char *path;
	char **keys;
	char **values;
	size_t n;
	int loaded;
	int err;		/* errno of a failed read */
	unsigned long bad_line;	/* first line that is not KEY=VALUE */
} envfile;

static void
envfile_forget(void)
{
	size_t i;

	for (i = 0; i < envfile.n; i++) {
		free(envfile.keys[i]);
		sbx_util_wipe_free(envfile.values[i]);
	}
	free(envfile.keys);
	free(envfile.values);
	free(envfile.path);
	memset(&envfile, 0, sizeof(envfile));
}

static int
env_key_ok(const char *k, size_t len)
{
	size_t i;

	if (len == 0 || is_digit(k[0]))
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alpha(k[i]) && !is_digit(k[i]) && k[i] != '_')
			return 0;
	return 1;
}

/* Parses one line; 0 when it is blank or a comment, -1 when malformed. */
static int
envfile_line(char *line)
{
	char *p = line, *eq, *v, *key = NULL, *val = NULL;
	char **keys, **values;
	size_t len;

	len = strlen(p);
	while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		p[--len] = '\0';
	while (is_space(*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	if (strncmp(p, "export", 6) == 0 && is_space(p[6])) {
		p += 6;
		while (is_space(*p))
			p++;
	}
	if ((eq = strchr(p, '=')) == NULL || !env_key_ok(p, (size_t)(eq - p)))
		return -1;
	v = eq + 1;
	len = strlen(v);
	if (len >= 2 && (v[0] == '"' || v[0] == '\'') && v[len - 1] == v[0]) {
		v++;
		len -= 2;
	} else {
		while (len > 0 && is_space(v[len - 1]))
			len--;
	}
	if ((key = strndup(p, (size_t)(eq - p))) == NULL ||
	    (val = strndup(v, len)) == NULL)
		goto oom;
	keys = realloc(envfile.keys, (envfile.n + 1) * sizeof(*keys));
	if (keys == NULL)
		goto oom;
	envfile.keys = keys;
	values = realloc(envfile.values, (envfile.n + 1) * sizeof(*values));
	if (values == NULL)
		goto oom;
	envfile.values = values;
	envfile.keys[envfile.n] = key;
	envfile.values[envfile.n] = val;
	envfile.n++;
	return 0;
oom:
	free(key);
	sbx_util_wipe_free(val);
	errno = ENOMEM;
	return -2;
}

/* Reads the file path names, unless it is the one already read. */
static void
envfile_load(const char *path)
{
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	int rc;

	if (envfile.loaded && strcmp(envfile.path, path) == 0)
		return;
	envfile_forget();
	envfile.loaded = 1;
	if ((envfile.path = strdup(path)) == NULL) {
		envfile.loaded = 0;
		return;
	}
	if ((f = fopen(path, "re")) == NULL) {
		envfile.err = errno;
		goto out;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		rc = envfile_line(line);
		if (rc == -1 && envfile.bad_line == 0)
			envfile.bad_line = lineno;
		else if (rc == -2) {
			envfile.err = ENOMEM;
			goto out;
		}
	}
	if (ferror(f))
		envfile.err = EIO;
out:
	if (line != NULL) {
		explicit_bzero(line, cap);
		free(line);
	}
	if (f != NULL)
		fclose(f);
}

const char *
sbx_config_getenv(const char *name, void *ctx)
{
	const char *v, *path;
	size_t i;

	(void)ctx;
	if ((v = getenv(name)) != NULL)
		return v;
	if ((path = getenv("SBX_ENV_FILE")) == NULL || *path == '\0')
		return NULL;
	envfile_load(path);
	/* The last assignment wins, as when a shell sources the file. */
	for (i = envfile.n; i > 0; i--)
		if (strcmp(envfile.keys[i - 1], name) == 0)
			return envfile.values[i - 1];
	return NULL;
}

/* ------------------------------------------------------------ public */

enum sbx_err
sbx_config_parse(struct sbx_config *cfg, unsigned needs,
    const char *(*get)(const char *name, void *ctx), void *ctx,
    char *err, size_t errlen)
{
	const struct setting *s;
	const char *v, *name, *path;
	enum sbx_err rc = SBX_OK;
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	if (errlen > 0)
		err[0] = '\0';

	/* A file that was named but cannot be read must not pass unnoticed. */
	if (get == sbx_config_getenv &&
	    (path = getenv("SBX_ENV_FILE")) != NULL && *path != '\0') {
		envfile_load(path);
		if (!envfile.loaded || envfile.err != 0) {
			snprintf(err, errlen, "SBX_ENV_FILE: cannot read %s: %s",
			    path, strerror(envfile.loaded ? envfile.err :
			    ENOMEM));
			rc = SBX_ECONFIG;
			goto out;
		}
		if (envfile.bad_line != 0) {
			snprintf(err, errlen, "SBX_ENV_FILE: %s line %lu: "
			    "expected KEY=VALUE", path, envfile.bad_line);
			rc = SBX_ECONFIG;
			goto out;
		}
	}

	for (i = 0; i < NSETTINGS; i++) {
		s = &settings[i];
		/*
		 * A binary holds only the secrets it uses: the reaper never
		 * sees the client secret or the session key.
		 */
		if (s->type == S_SECRET && !(s->groups & needs))
			continue;
		name = s->name;
		v = get(name, ctx);
		if ((v == NULL || *v == '\0') && s->alt != NULL &&
		    (v = get(s->alt, ctx)) != NULL && *v != '\0')
			name = s->alt;
		/*
		 * An empty text value is the same as none: env files and
		 * shells write KEY= to mean "not set". An empty number or
		 * choice, though, is a mistake.
		 */
		if (v != NULL && *v == '\0' && s->type != S_INT &&
		    s->type != S_ENUM)
			v = NULL;
		if (v == NULL)
			v = s->def;
		if (v == NULL) {
			if ((s->flags & F_REQUIRED) && (s->groups & needs)) {
				if (s->alt != NULL)
					snprintf(err, errlen, "%s: is required "
					    "(or %s)", s->name, s->alt);
				else
					snprintf(err, errlen, "%s: is required",
					    s->name);
				rc = SBX_ECONFIG;
				goto out;
			}
			continue;
		}
		if ((rc = set_one(cfg, s, name, v, err, errlen)) != SBX_OK)
			goto out;
	}
	rc = cross_check(cfg, needs, err, errlen);
out:
	if (rc != SBX_OK) {
		sbx_config_fini(cfg);
		if (rc != SBX_ENOMEM)
			rc = SBX_ECONFIG;
	}
	return rc;
}

void
sbx_config_fini(struct sbx_config *cfg)
{
	size_t i;

	envfile_forget();
	if (cfg == NULL)
		return;
	for (i = 0; i < NSETTINGS; i++) {
		if (settings[i].type == S_INT)
			continue;
		sbx_util_wipe_free(*str_member(cfg, &settings[i]));
	}
	explicit_bzero(cfg, sizeof(*cfg));
}

static struct sbx_config current;

enum sbx_err
sbx_config_load(const char *prog, unsigned needs)
{
	struct sbx_config next;
	char err[512];
	enum sbx_err rc;

	rc = sbx_config_parse(&next, needs, sbx_config_getenv, NULL, err,
	    sizeof(err));
	if (rc != SBX_OK) {
		fprintf(stderr, "%s: configuration error: %s\n",
		    prog != NULL ? prog : "sbx", err);
		return SBX_ECONFIG;
	}
	sbx_config_fini(&current);
	current = next;
	sbx_log_set_level(sbx_log_level_parse(current.log_level));
	return SBX_OK;
}

const struct sbx_config *
sbx_config(void)
{
	return &current;
}

struct list_match {
	const char *item;
	size_t len;
};

static int
item_matches(const char *item, size_t len, const void *arg)
{
	const struct list_match *m = arg;

	return len > 0 && len == m->len && strncasecmp(item, m->item, len) == 0;
}

int
sbx_config_list_has(const char *list, const char *item)
{
	struct list_match m;

	if (list == NULL || item == NULL)
		return 0;
	while (is_space(*item))
		item++;
	m.item = item;
	m.len = strlen(item);
	while (m.len > 0 && is_space(item[m.len - 1]))
		m.len--;
	if (m.len == 0 || memchr(item, ',', m.len) != NULL)
		return 0;
	return list_each(list, item_matches, &m);
}
