/*
 * The handlers of GET /api/jobs, GET /api/jobs/reaper and the operator
 * routes retry and forget (see jobs.h).
 */
#include <time.h>

#include "common/api/jobs.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/reaper.h"
#include "common/domain/sandbox.h"
#include "common/api/sandbox_api.h"

#define MODULE "jobs"

/* Live sandboxes listed at most (a user has a handful; admins see all). */
#define JOBS_MAX 5000

const struct sbx_field sbx_jobs_api_forget_fields[SBX_JOBS_API_FORGET_NFIELDS] = {
	{ "reason", SBX_F_STRING, 1, 1, 500, NULL,
	    "why the sandbox is marked terminated (1 to 500 bytes)" },
};

static cJSON *
jobs_array(const struct sbx_sandbox_list *list, long long now)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; arr != NULL && i < list->n; i++) {
		cJSON *j = sbx_reaper_job_json(list->items[i], now);

		if (j == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, j);
	}
	return arr;
}

void
sbx_jobs_api_list(struct sbx_req *req)
{
	struct sbx_sandbox_list list = { NULL, 0 };
	long long now = (long long)time(NULL);
	cJSON *arr;
	enum sbx_err err;

	err = sbx_sandbox_list_work(SBX_WORK_LIVE, now,
	    req->principal->is_admin ? NULL : req->principal->user_id,
	    JOBS_MAX, &list);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "reading the jobs");
		return;
	}
	arr = jobs_array(&list, now);
	sbx_sandbox_list_fini(&list);
	if (arr == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "jobs JSON");
		return;
	}
	sbx_reply_json(req, 200, arr);
}

const struct sbx_input sbx_jobs_api_reaper_inputs[SBX_JOBS_API_REAPER_NINPUTS] = {
	{ "limit", SBX_I_INT, 0, 1, 100, 20, NULL, NULL,
	    "limit must be a whole number from 1 to 100" },
};

void
sbx_jobs_api_reaper(struct sbx_req *req)
{
	struct sbx_sandbox_list stuck = { NULL, 0 };
	long long now = (long long)time(NULL);
	cJSON *o = NULL, *runs = NULL, *jobs = NULL, *orphans = NULL;
	const cJSON *run;
	long limit = (long)sbx_req_arg(req, "limit")->num;
	size_t i;
	enum sbx_err err;

	err = sbx_reaper_runs_recent(limit, &runs);
	if (err == SBX_OK)
		err = sbx_sandbox_list_work(SBX_WORK_STUCK, now, NULL, JOBS_MAX,
		    &stuck);
	if (err != SBX_OK) {
		sbx_reply_err(req, err, "reading the reaper's state");
		goto out;
	}
	jobs = jobs_array(&stuck, now);
	/* The orphans the last finished run saw (an unfinished one saw none yet). */
	cJSON_ArrayForEach(run, runs) {
		const cJSON *fin = cJSON_GetObjectItemCaseSensitive(run,
		    "finished_at");

		if (cJSON_IsString(fin)) {
			orphans = cJSON_Duplicate(
			    cJSON_GetObjectItemCaseSensitive(run, "orphans"), 1);
			break;
		}
	}
	if (orphans == NULL)
		orphans = cJSON_CreateArray();
	o = cJSON_CreateObject();
	if (o == NULL || jobs == NULL || orphans == NULL) {
		sbx_reply_err(req, SBX_ENOMEM, "reaper JSON");
		goto out;
	}
	/* The stuck ones also say why. */
	for (i = 0; i < stuck.n; i++)
		sbx_json_add_str_or_null(cJSON_GetArrayItem(jobs, (int)i),
		    "status_reason", stuck.items[i]->status_reason);
	cJSON_AddItemToObject(o, "runs", runs);
	cJSON_AddItemToObject(o, "stuck", jobs);
	cJSON_AddItemToObject(o, "orphans", orphans);
	runs = jobs = orphans = NULL;
	sbx_reply_json(req, 200, o);
	o = NULL;
out:
	cJSON_Delete(o);
	cJSON_Delete(runs);
	cJSON_Delete(jobs);
	cJSON_Delete(orphans);
	sbx_sandbox_list_fini(&stuck);
}


void
sbx_jobs_api_retry(struct sbx_req *req)
{
	struct sbx_sandbox *sb, *after = NULL;
	enum sbx_err err;

	/* Admins only (the route says so): found whoever owns it. */
	sb = sbx_sandbox_api_find_or_reply(req);
	if (sb == NULL)
		return;
	err = sbx_reaper_retry(sb, req->principal->email, &after);
	if (err == SBX_EINVAL) {
		sbx_reply_problem(req, 409, "nothing to retry: %s is %s with no "
		    "pending action", sb->name,
		    sbx_sandbox_status_name(sb->status));
	} else if (err == SBX_ECONFLICT || err == SBX_ESERIALIZE) {
		sbx_reply_problem(req, 409, "%s is terminated, or changed "
		    "while being retried; read it again", sb->name);
	} else if (err != SBX_OK) {
		sbx_reply_err(req, err, "retrying a sandbox");
	} else {
		sbx_sandbox_api_reply(req, 202, after, 1);
	}
	sbx_sandbox_free(after);
	sbx_sandbox_free(sb);
}

void
sbx_jobs_api_forget(struct sbx_req *req)
{
	const char *reason = sbx_json_str(req->json, "reason", NULL);
	struct sbx_sandbox *sb = NULL, *after = NULL;
	size_t i;
	enum sbx_err err;

	/* The table checked length and type; blank is not a reason. */
	for (i = 0; reason != NULL && reason[i] == ' '; i++)
		;
	if (reason == NULL || reason[i] == '\0') {
		sbx_reply_invalid(req, "reason", "reason must say why the "
		    "sandbox is marked terminated");
		return;
	}
	sb = sbx_sandbox_api_find_or_reply(req);
	if (sb == NULL)
		return;
	err = sbx_reaper_forget(sb, req->principal->email, reason, &after);
	if (err == SBX_ECONFLICT || err == SBX_ESERIALIZE)
		sbx_reply_problem(req, 409, "%s is already terminated, or "
		    "changed meanwhile; read it again", sb->name);
	else if (err != SBX_OK)
		sbx_reply_err(req, err, "forgetting a sandbox");
	else
		sbx_sandbox_api_reply(req, 200, after, 1);
	sbx_sandbox_free(after);
	sbx_sandbox_free(sb);
}
