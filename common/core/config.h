/*
 * Settings. Every setting of DESIGN.md section 6 is described once, in the
 * table in config.c (name, type, default, bounds, which binaries need it),
 * read from the environment (and the KEY=VALUE file SBX_ENV_FILE names, for
 * keys the environment does not set) and validated at start-up. A binary
 * asks only for the groups it uses; a missing required or malformed value
 * is refused with a message naming the variable.
 */
#ifndef SBX_CONFIG_H
#define SBX_CONFIG_H

#include <stddef.h>

#include "common/core/err.h"

/* Groups of settings; a binary passes the ones it needs as a mask. */
enum sbx_config_need {
	SBX_NEED_DB = 1u << 0,		/* DATABASE_URL, DB_AUTH, ... */
	SBX_NEED_SESSION = 1u << 1,	/* SESSION_SECRET_KEY, ... */
	SBX_NEED_OIDC = 1u << 2,	/* client id, issuer, who may sign in */
	SBX_NEED_SIGNIN = 1u << 3,	/* BASE_URL, client secret: sbx-auth */
	SBX_NEED_AWS = 1u << 4,		/* AWS_REGION, endpoints, CFN_ROLE_ARN */
	SBX_NEED_SANDBOX = 1u << 5,	/* TTLs, quota, stack prefix */
	SBX_NEED_REAPER = 1u << 6,	/* intervals, backoff, attempts */
	SBX_NEED_NOTIFY = 1u << 7	/* webhook URL and secret */
};

struct sbx_config {
	/* logging and HTTP */
	char *log_level;
	long max_body_bytes;
	long http_timeout_seconds;
	long http_connect_timeout_seconds;

	/* database */
	char *database_url;
	char *db_auth;			/* "password" or "dsql-iam" */
	long db_max_conn_age_seconds;
	long db_connect_timeout_seconds;
	long db_tx_max_attempts;
	long db_tx_backoff_ms;
	/* sbx-migrate --dialect dsql: the application's database role */
	char *dsql_app_role;
	char *dsql_app_role_iam_arns;	/* comma-separated IAM role ARNs */

	/* web sign-in and sessions */
	char *base_url;
	char *google_client_id;
	char *google_client_secret;
	char *oidc_issuer;
	char *session_secret_key;
	long session_ttl_seconds;
	long oidc_jwks_min_refresh_seconds;
	char *allowed_email_domains;	/* comma-separated, or "*" */
	char *admin_emails;		/* comma-separated */
	char *allowed_hd;		/* Workspace domains that need hd */

	/* AWS */
	char *aws_region;
	char *aws_endpoint_url;
	char *aws_endpoint_url_cloudformation;
	char *cfn_role_arn;

	/* sandboxes */
	long sandbox_default_ttl_minutes;
	long sandbox_max_ttl_minutes;
	long sandbox_max_lifetime_minutes;
	long sandbox_max_per_user;
	char *stack_name_prefix;
	long sandbox_refresh_seconds;

	/* reaper */
	long reaper_interval_seconds;
	long reaper_backoff_seconds;
	long reaper_max_attempts;
	long reaper_batch_size;
	long reaper_lease_seconds;	/* how long a claim keeps others off */
	long reaper_concurrency;	/* CloudFormation calls in flight at once */

	/* notifications */
	char *notify_webhook_url;
	char *notify_webhook_secret;
	long expiry_warning_minutes;

	/* cost and budgets */
	long cost_refresh_seconds;	/* a sandbox's estimate, at most every */
	long price_cache_hours;		/* a cached price is fresh for */
	char *user_monthly_budget_usd;	/* NULL: no budget */
	long cost_clock_offset_seconds;	/* tests: the cost clock runs ahead */

	/* metrics (GET /metrics, the reaper's EMF summary) */
	long metrics_overdue_grace_seconds;
	char *metrics_namespace;	/* CloudWatch namespace of the EMF */
};

/*
 * Reads and validates every setting into cfg (which the caller owns and
 * releases with sbx_config_fini). get(name, ctx) returns a setting's raw
 * value or NULL; pass sbx_config_getenv for the process environment. On
 * failure, err holds one line naming the variable, and SBX_ECONFIG is
 * returned. Secrets (the client secret, the session key, the webhook
 * secret) are read only when needs includes a group that uses them, and
 * are NULL otherwise; an empty text value counts as not set.
 */
enum sbx_err sbx_config_parse(struct sbx_config *cfg, unsigned needs,
    const char *(*get)(const char *name, void *ctx), void *ctx,
    char *err, size_t errlen);

/*
 * get() for sbx_config_parse: the environment, then SBX_ENV_FILE. The
 * string returned is valid until the next sbx_config_fini.
 */
const char *sbx_config_getenv(const char *name, void *ctx);

/* Wipes the secrets and frees the strings of cfg; cfg may be NULL. */
void sbx_config_fini(struct sbx_config *cfg);

/*
 * The process-wide settings, loaded once at start-up by sbx_config_load()
 * (which mains call; it reports a failure on stderr and returns
 * SBX_ECONFIG). sbx_config() is valid after a successful load.
 */
enum sbx_err sbx_config_load(const char *prog, unsigned needs);
const struct sbx_config *sbx_config(void);

/*
 * True when item is in the comma-separated list (ASCII case-insensitive,
 * surrounding spaces ignored).
 */
int sbx_config_list_has(const char *list, const char *item);

#endif
