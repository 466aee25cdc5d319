/*
 * The pure parts of the reaper (see reaper.h): the command line, the run
 * summary, and what job a sandbox stands for. No I/O here, so
 * tests/unit/test_reaper.c covers it without a database.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/core/json.h"
#include "common/domain/reaper.h"
#include "common/domain/sandbox.h"

static const char *const count_names[SBX_RC__MAX] = {
	[SBX_RC_EXPIRED] = "expired",
	[SBX_RC_FAILED] = "failed",
	[SBX_RC_DELETE_SENT] = "delete_sent",
	[SBX_RC_DELETE_RETRY] = "delete_retry",
	[SBX_RC_CREATE_SENT] = "create_sent",
	[SBX_RC_CREATE_RETRY] = "create_retry",
	[SBX_RC_POLLED] = "polled",
	[SBX_RC_ACTIVE] = "active",
	[SBX_RC_STACK_FAILED] = "stack_failed",
	[SBX_RC_TERMINATED] = "terminated",
	[SBX_RC_STUCK] = "stuck",
	[SBX_RC_WARNED] = "warned",
	[SBX_RC_WEBHOOKS_DELIVERED] = "webhooks_delivered",
	[SBX_RC_WEBHOOKS_FAILED] = "webhooks_failed",
	[SBX_RC_WEBHOOKS_PENDING] = "webhooks_pending",
	[SBX_RC_ORPHANS] = "orphans",
	[SBX_RC_ORPHANS_DELETED] = "orphans_deleted",
	[SBX_RC_SESSIONS_DELETED] = "sessions_deleted",
	[SBX_RC_IDEM_KEYS_DELETED] = "idempotency_keys_deleted",
	[SBX_RC_API_TOKENS_DELETED] = "api_tokens_deleted",
	[SBX_RC_SKIPPED] = "skipped",
	[SBX_RC_ERRORS] = "errors",
	[SBX_RC_COST_REFRESHED] = "cost_refreshed",
	[SBX_RC_COST_FAILED] = "cost_failed",
	[SBX_RC_BUDGET_TERMINATED] = "budget_terminated",
	[SBX_RC_BUDGET_WARNINGS] = "budget_warnings",
};

const char *
sbx_reaper_count_name(enum sbx_reaper_count c)
{
	if ((unsigned)c >= SBX_RC__MAX)
		return "unknown";
	return count_names[c];
}

/* ------------------------------------------------------------ command line */

void
sbx_reaper_usage(FILE *f)
{
	fputs(
"usage: sbx-reaper [--once | --loop SECONDS] [--dry-run] [--limit N]\n"
"                  [--delete-orphans] [--verbose]\n"
"\n"
"Terminates expired sandboxes, retries pending CloudFormation work, polls\n"
"stacks, sends expiry warnings and webhooks, reports orphan stacks,\n"
"deletes sessions and idempotency keys past keeping, and records the\n"
"run (reaper_runs). Settings come from the environment (and\n"
"SBX_ENV_FILE): DATABASE_URL, AWS_REGION, REAPER_BATCH_SIZE,\n"
"REAPER_BACKOFF_SECONDS, REAPER_MAX_ATTEMPTS, REAPER_LEASE_SECONDS,\n"
"REAPER_CONCURRENCY, EXPIRY_WARNING_MINUTES, NOTIFY_WEBHOOK_URL,\n"
"NOTIFY_WEBHOOK_SECRET, ...\n"
"\n"
"  --once            one run, then exit (the default)\n"
"  --loop SECONDS    a run every SECONDS until SIGTERM or SIGINT\n"
"  --dry-run         print what would be done; change nothing, call no\n"
"                    mutating AWS action, record nothing\n"
"  --limit N         act on at most N sandboxes in a run\n"
"  --delete-orphans  delete orphan stacks (tagged sbx:sandbox-id, no live\n"
"                    sandbox); without it they are only reported\n"
"  --verbose, -v     print each action, and log at debug level\n"
"  --help, -h        this text\n"
"\n"
"Prints one JSON line summing up each run on stdout. Exit status: 0 when\n"
"the run completed (even with sandboxes left for a retry), 1 when an\n"
"operator must look (database unreachable, settings wrong, AWS refused\n"
"the credentials).\n", f);
}

/* A positive decimal within [1, max]. */
static int
parse_count(const char *s, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 1 || v > max)
		return 0;
	*out = v;
	return 1;
}

enum sbx_err
sbx_reaper_parse_args(int argc, char *const *argv, struct sbx_reaper_args *a,
    char *err, size_t err_len)
{
	int i, once = 0;

	memset(a, 0, sizeof(*a));
	if (err_len > 0)
		err[0] = '\0';
	for (i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		char name[32];
		size_t n;

		if (strcmp(arg, "-h") == 0)
			arg = "--help";
		else if (strcmp(arg, "-v") == 0)
			arg = "--verbose";
		if (strncmp(arg, "--", 2) != 0) {
			snprintf(err, err_len, "unexpected argument: %.64s",
			    arg);
			return SBX_EINVAL;
		}
		eq = strchr(arg, '=');
		n = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		if (n >= sizeof(name)) {
			snprintf(err, err_len, "unknown option: %.64s", arg);
			return SBX_EINVAL;
		}
		memcpy(name, arg, n);
		name[n] = '\0';
		if (strcmp(name, "--loop") == 0 ||
		    strcmp(name, "--limit") == 0) {
			if (eq != NULL)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				snprintf(err, err_len, "%s needs a value",
				    name);
				return SBX_EINVAL;
			}
		} else if (eq != NULL) {
			snprintf(err, err_len, "%s takes no value", name);
			return SBX_EINVAL;
		}
		if (strcmp(name, "--help") == 0)
			a->help = 1;
		else if (strcmp(name, "--once") == 0)
			once = 1;
		else if (strcmp(name, "--dry-run") == 0)
			a->dry_run = 1;
		else if (strcmp(name, "--delete-orphans") == 0)
			a->delete_orphans = 1;
		else if (strcmp(name, "--verbose") == 0)
			a->verbose = 1;
		else if (strcmp(name, "--loop") == 0) {
			if (!parse_count(val, 86400, &a->loop_seconds)) {
				snprintf(err, err_len, "--loop: SECONDS must "
				    "be a whole number from 1 to 86400");
				return SBX_EINVAL;
			}
		} else if (strcmp(name, "--limit") == 0) {
			if (!parse_count(val, 100000000, &a->limit)) {
				snprintf(err, err_len, "--limit: N must be a "
				    "whole number from 1 to 100000000");
				return SBX_EINVAL;
			}
		} else {
			snprintf(err, err_len, "unknown option: %.64s", name);
			return SBX_EINVAL;
		}
	}
	if (once && a->loop_seconds > 0) {
		snprintf(err, err_len, "--once and --loop exclude each other");
		return SBX_EINVAL;
	}
	return SBX_OK;
}

/* ------------------------------------------------------------ summary */

void
sbx_reaper_result_fini(struct sbx_reaper_result *r)
{
	if (r == NULL)
		return;
	cJSON_Delete(r->orphans);
	r->orphans = NULL;
}

cJSON *
sbx_reaper_counts_json(const long counts[SBX_RC__MAX])
{
	cJSON *o = cJSON_CreateObject();
	int i;

	if (o == NULL)
		return NULL;
	for (i = 0; i < SBX_RC__MAX; i++) {
		if (cJSON_AddNumberToObject(o, count_names[i],
		    (double)counts[i]) == NULL) {
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

cJSON *
sbx_reaper_summary(const struct sbx_reaper_result *r, int dry_run)
{
	cJSON *o = cJSON_CreateObject(), *c, *names;
	const cJSON *orphan;
	char when[40];

	if (o == NULL)
		return NULL;
	sbx_json_add_str_or_null(o, "run_id",
	    r->run_id[0] != '\0' ? r->run_id : NULL);
	if (r->started_at > 0) {
		sbx_time_format(r->started_at, when, sizeof(when));
		cJSON_AddStringToObject(o, "started_at", when);
	} else {
		cJSON_AddNullToObject(o, "started_at");
	}
	cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
	cJSON_AddBoolToObject(o, "ok", r->completed && !r->operator_error);
	cJSON_AddBoolToObject(o, "dry_run", dry_run != 0);
	cJSON_AddBoolToObject(o, "interrupted", r->interrupted != 0);
	c = sbx_reaper_counts_json(r->counts);
	names = cJSON_CreateArray();
	if (c == NULL || names == NULL) {
		cJSON_Delete(c);
		cJSON_Delete(names);
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(o, "counts", c);
	cJSON_ArrayForEach(orphan, r->orphans) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(orphan,
		    "stack_name");

		if (cJSON_IsString(n))
			cJSON_AddItemToArray(names,
			    cJSON_CreateString(n->valuestring));
	}
	cJSON_AddItemToObject(o, "orphans", names);
	sbx_json_add_str_or_null(o, "error",
	    r->error[0] != '\0' ? r->error : NULL);
	if (cJSON_GetObjectItemCaseSensitive(o, "error") == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ------------------------------------------------------------ jobs */

const char *
sbx_reaper_job_action(const struct sbx_sandbox *sb, long long now,
    long long *next_run)
{
	long long due = sb->next_attempt_at > 0 ? sb->next_attempt_at : now;

	switch (sb->status) {
	case SBX_SANDBOX_ACTIVE:
		*next_run = sb->expiry_time;
		return "terminate";
	case SBX_SANDBOX_FAILED:
		*next_run = due;
		return "terminate";
	case SBX_SANDBOX_PROVISIONING:
		if (sb->expiry_time > 0 && sb->expiry_time <= now) {
			*next_run = sb->expiry_time;
			return "terminate";
		}
		*next_run = due;
		return sb->pending_action == SBX_SANDBOX_ACTION_CREATE ?
		    "retry-create" : "refresh";
	case SBX_SANDBOX_TERMINATING:
		*next_run = due;
		return sb->pending_action == SBX_SANDBOX_ACTION_DELETE ?
		    "retry-delete" : "refresh";
	case SBX_SANDBOX_TERMINATED:
	case SBX_SANDBOX_STATUS__MAX:
		break;
	}
	*next_run = 0;
	return NULL;
}

cJSON *
sbx_reaper_job_json(const struct sbx_sandbox *sb, long long now)
{
	long long next = 0;
	const char *action = sbx_reaper_job_action(sb, now, &next);
	cJSON *o;
	char id[96], when[40];

	if (action == NULL)
		return NULL;
	o = cJSON_CreateObject();
	if (o == NULL)
		return NULL;
	snprintf(id, sizeof(id), "terminate-%s", sb->name);
	cJSON_AddStringToObject(o, "id", id);
	if (next > 0) {
		sbx_time_format(next, when, sizeof(when));
		cJSON_AddStringToObject(o, "next_run_time", when);
	} else {
		cJSON_AddNullToObject(o, "next_run_time");
	}
	sbx_json_add_str_or_null(o, "sandbox", sb->name);
	cJSON_AddStringToObject(o, "action", action);
	cJSON_AddNumberToObject(o, "attempts", (double)sb->attempts);
	cJSON_AddBoolToObject(o, "stuck", sb->stuck != 0);
	cJSON_AddStringToObject(o, "status", sbx_sandbox_status_name(sb->status));
	if (sb->expiry_time > 0) {
		sbx_time_format(sb->expiry_time, when, sizeof(when));
		cJSON_AddStringToObject(o, "expiry_time", when);
	} else {
		cJSON_AddNullToObject(o, "expiry_time");
	}
	sbx_json_add_str_or_null(o, "owner", sb->owner_email);
	if (cJSON_GetObjectItemCaseSensitive(o, "owner") == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}
