/*
 * The HTTP side of the reaper's schedule: the handlers of sbx-jobs
 * (GET /api/jobs, GET /api/jobs/reaper) and the operator routes that
 * sbx-sandboxes serves (POST /api/sandboxes/{name}/retry and /forget).
 * They turn checked requests into calls of reaper.h and sandbox.h and
 * hold no SQL.
 *
 * Every handler expects an authenticated request (req->principal set);
 * the admin-only ones are declared SBX_ROUTE_ADMIN by their responder.
 */
#ifndef SBX_JOBS_H
#define SBX_JOBS_H

#include "common/api/http.h"
#include "common/core/json.h"

/*
 * GET /api/jobs: a JSON array of the jobs of the caller's live sandboxes
 * (an admin's: everyone's), soonest first: {"id": "terminate-<name>",
 * "next_run_time", "sandbox", "action", "attempts", "stuck", "status",
 * "expiry_time", "owner"} (reaper.h, sbx_reaper_job_json).
 */
void sbx_jobs_api_list(struct sbx_req *req);

/*
 * GET /api/jobs/reaper (admins): {"runs": [the last runs, newest first],
 * "stuck": [jobs of the stuck sandboxes], "orphans": [the orphan stacks
 * the last finished run found]}. ?limit=1..100 runs (default 20).
 */
#define SBX_JOBS_API_REAPER_NINPUTS 1
extern const struct sbx_input
    sbx_jobs_api_reaper_inputs[SBX_JOBS_API_REAPER_NINPUTS];
void sbx_jobs_api_reaper(struct sbx_req *req);

/* POST /api/sandboxes/{name}/retry (admins): 202 with the sandbox. */
void sbx_jobs_api_retry(struct sbx_req *req);

/*
 * POST /api/sandboxes/{name}/forget (admins), body {"reason": "..."}
 * (required, 1..500 bytes): 200 with the sandbox, now TERMINATED.
 */
#define SBX_JOBS_API_FORGET_NFIELDS 1
extern const struct sbx_field
    sbx_jobs_api_forget_fields[SBX_JOBS_API_FORGET_NFIELDS];
void sbx_jobs_api_forget(struct sbx_req *req);

#endif
