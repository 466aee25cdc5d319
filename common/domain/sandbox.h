/*
 * Layer domain (common/domain/): sandboxes, templates, users, sessions,
 * API tokens, costs and budgets, webhooks, the reaper, housekeeping and
 * the metrics snapshot, with all their SQL. It uses io and core; it must
 * not know HTTP (no request struct, no status codes, no problem+json, no
 * header names) nor call libcurl, libxml2, OpenSSL or libfcgi itself. A
 * refusal is an enum sbx_err plus a structured reason (which field, what
 * is wrong, what it conflicts with) that the api layer maps to a status.
 * Its modules call downwards only: the reaper, budget, notify and metrics
 * above sandbox; sandbox above template and cost; tokens above users.
 *
 * The sandbox domain: the lifecycle state machine, the rules (names, TTLs,
 * lifetime, quota), and all SQL about sandboxes, their events (the audit
 * trail, which doubles as the webhook outbox) and idempotency keys.
 *
 * Nothing here knows HTTP: the responder (fcgi/sbx-sandboxes.c, through
 * common/api/sandbox_api.c) and the reaper (cron/) both build on this header.
 *
 * Concurrency. Every row carries a version. Each change is a conditional
 * UPDATE "... WHERE id = $1 AND version = $2" that bumps the version, so a
 * caller holding a stale copy gets SBX_ECONFLICT and must re-read (the
 * reaper skips the row for this run). Each status change writes exactly one
 * sandbox_events row with from/to status and actor in the same
 * transaction, and changes users.live_sandboxes in that transaction when a
 * sandbox enters or leaves the live set, so the per-user quota holds under
 * concurrent creates (DSQL serialises them with 40001; sbx_db_tx retries).
 *
 * Pending actions. A row says what CloudFormation work it still needs in
 * pending_action: CREATE (PROVISIONING whose CreateStack has not been
 * acknowledged: the reaper retries it with ClientRequestToken = sandbox
 * id), DELETE (TERMINATING whose DeleteStack has not been acknowledged, or
 * that ended DELETE_FAILED), or NONE (nothing to send; PROVISIONING and
 * TERMINATING rows with NONE are polled with DescribeStacks). attempts and
 * next_attempt_at schedule retries; stuck flags a row an operator must see.
 *
 * Memory: every struct sbx_sandbox handed out is heap-allocated and owned
 * by the caller, who releases it with sbx_sandbox_free (NULL is fine).
 * Lists are released with sbx_sandbox_list_fini. Times are seconds since
 * the epoch, UTC; 0 means "not set" (SQL NULL).
 */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "common/core/err.h"

enum sbx_sandbox_status {
	SBX_SANDBOX_PROVISIONING,
	SBX_SANDBOX_ACTIVE,
	SBX_SANDBOX_FAILED,
	SBX_SANDBOX_TERMINATING,
	SBX_SANDBOX_TERMINATED,
	SBX_SANDBOX_STATUS__MAX
};

enum sbx_sandbox_action {
	SBX_SANDBOX_ACTION_NONE,	/* poll with DescribeStacks if not final */
	SBX_SANDBOX_ACTION_CREATE,	/* CreateStack not acknowledged yet */
	SBX_SANDBOX_ACTION_DELETE,	/* DeleteStack not acknowledged / failed */
	SBX_SANDBOX_ACTION__MAX
};

struct sbx_sandbox {
	char *id;			/* uuid; also the CreateStack token */
	char *name;
	char *owner_id;			/* users.id */
	char *owner_email;
	char *template_name;
	long template_version;
	enum sbx_sandbox_status status;
	char *status_reason;		/* NULL when none */
	char *stack_name;		/* STACK_NAME_PREFIX + name */
	char *stack_id;			/* NULL until CreateStack answered */
	char *parameters;		/* JSON object text, NoEcho values masked */
	/*
	 * The parameters CreateStack is sent (NoEcho values in clear), kept
	 * only while the create is pending (so that a retry can send them)
	 * and erased once CloudFormation has the request. Never shown.
	 */
	char *stack_parameters;
	char *outputs;			/* JSON object text, NULL until ACTIVE */
	char *cost;			/* raw cost (cost.h sbx_cost_view), or NULL */
	long long created_at;
	long long expiry_time;
	long long max_expiry_time;
	long long terminated_at;
	long long updated_at;
	long long refreshed_at;		/* last DescribeStacks applied */
	long version;
	enum sbx_sandbox_action pending_action;
	long attempts;			/* failed attempts of pending work */
	long long next_attempt_at;	/* earliest time to retry/poll */
	int stuck;
};

struct sbx_sandbox_list {
	struct sbx_sandbox **items;
	size_t n;
};

void sbx_sandbox_free(struct sbx_sandbox *sb);
void sbx_sandbox_list_fini(struct sbx_sandbox_list *list);

/*
 * A caller that moves a row into a state with pending work (CREATE,
 * DELETE) is about to do that work itself; the row is not due for others
 * (the reaper) until this lease has passed, so the two do not both call
 * CloudFormation for one step.
 */
#define SBX_SANDBOX_LEASE_SECONDS 30

/*
 * The actor of a status change that CloudFormation reported to a read of
 * the sandbox: the reader only looked, so the event must not name them.
 */
#define SBX_SANDBOX_ACTOR_CLOUDFORMATION "cloudformation"

/* Cap of the retry backoff: one hour. */
#define SBX_SANDBOX_BACKOFF_CAP_SECONDS 3600

/*
 * The lease in force: REAPER_LEASE_SECONDS when the settings are loaded
 * and set it, else SBX_SANDBOX_LEASE_SECONDS (tests shorten it so that a
 * killed reaper's claims pass quickly).
 */
long sbx_sandbox_lease_seconds(void);

/* ------------------------------------------------------------ pure rules */

/*
 * Seconds to wait before retry number attempts + 1 after `attempts`
 * failures: base * 2^(attempts - 1), capped at
 * SBX_SANDBOX_BACKOFF_CAP_SECONDS; base for attempts <= 1.
 */
long sbx_sandbox_backoff_seconds(long base, long attempts);

/* A canonical lower-case UUID text (8-4-4-4-12 hex digits). */
int sbx_sandbox_uuid_valid(const char *s);
/* A new random (version 4) UUID into buf (at least 37 bytes). */
enum sbx_err sbx_sandbox_uuid_new(char *buf, size_t len);

/* "PROVISIONING", ...; never NULL ("UNKNOWN" out of range). */
const char *sbx_sandbox_status_name(enum sbx_sandbox_status st);
/* Exact, upper-case names; SBX_EINVAL otherwise. */
enum sbx_err sbx_sandbox_status_parse(const char *name,
    enum sbx_sandbox_status *out);
/* "none", "create", "delete". */
const char *sbx_sandbox_action_name(enum sbx_sandbox_action a);
/* True for every status but TERMINATED. */
int sbx_sandbox_status_live(enum sbx_sandbox_status st);

/*
 * What a CloudFormation StackStatus means for a sandbox:
 * CREATE_IN_PROGRESS, REVIEW_IN_PROGRESS -> PROVISIONING;
 * CREATE_COMPLETE -> ACTIVE; CREATE_FAILED, ROLLBACK_* -> FAILED;
 * DELETE_IN_PROGRESS, DELETE_FAILED -> TERMINATING (with *retry_delete set
 * for DELETE_FAILED: the reaper sends DeleteStack again);
 * DELETE_COMPLETE -> TERMINATED. A NULL stack_status means the stack does
 * not exist (DescribeStacks said "does not exist"): TERMINATED.
 * Anything else (UPDATE_*, IMPORT_*, unknown) is SBX_EINVAL. retry_delete
 * may be NULL.
 */
enum sbx_err sbx_sandbox_status_from_cfn(const char *stack_status,
    enum sbx_sandbox_status *out, int *retry_delete);

/* Is a state change allowed by the lifecycle (DESIGN.md section 4)? */
int sbx_sandbox_transition_valid(enum sbx_sandbox_status from,
    enum sbx_sandbox_status to);

/* ^[a-z][a-z0-9-]{2,62}$ */
int sbx_sandbox_name_valid(const char *name);

/*
 * Checks a requested TTL (given 0: none asked, use the default) against
 * its template's bounds (template.h, sbx_template_ttl_bounds); SBX_EINVAL
 * with a sentence in detail when out of 1..max. *ttl gets the minutes to
 * use.
 */
struct sbx_ttl_bounds;
enum sbx_err sbx_sandbox_ttl_check(const struct sbx_ttl_bounds *b,
    long long requested, int given, long *ttl, char *detail,
    size_t detail_len);

/* created_at + ttl, created_at + max lifetime (seconds). */
long long sbx_sandbox_expiry(long long created_at, long ttl_minutes);
long long sbx_sandbox_max_expiry(long long created_at, long lifetime_minutes);

/*
 * A new expiry asked by PATCH: either an absolute time (new_expiry > 0) or
 * extend_minutes added to the current expiry. SBX_EINVAL (with detail)
 * when it is not in the future or extends by < 1 minute; SBX_ECONFLICT
 * when it lies past max_expiry. *out gets the new expiry.
 */
enum sbx_err sbx_sandbox_new_expiry(long long now, long long cur_expiry,
    long long max_expiry, long long new_expiry, long long extend_minutes,
    long long *out, char *detail, size_t detail_len);

/*
 * The sandbox as the API shows it: every field, null when unknown,
 * RFC 3339 UTC times. Caller cJSON_Delete()s. NULL on ENOMEM.
 */
cJSON *sbx_sandbox_to_json(const struct sbx_sandbox *sb);

/*
 * The same object written as text onto b (the one place that knows the
 * shape; sbx_sandbox_to_json parses what it writes), cost seen at `now`
 * (sbx_cost_now()). With retries, "attempts" and "stuck" follow (the
 * operators' view). 0, or -1 when b failed (b->err).
 */
struct sbx_util_buf;
int sbx_sandbox_json_write(struct sbx_util_buf *b,
    const struct sbx_sandbox *sb, long long now, int retries);

/* ------------------------------------------------------------ reads */

/* By id; SBX_ENOTFOUND when no row. */
enum sbx_err sbx_sandbox_get(const char *id, struct sbx_sandbox **out);

/*
 * By name: the live sandbox of that name, else the most recently
 * terminated one. With owner_id non-NULL only that user's sandboxes are
 * considered (another user's sandbox is SBX_ENOTFOUND, as if absent).
 */
enum sbx_err sbx_sandbox_find(const char *name, const char *owner_id,
    struct sbx_sandbox **out);

/* ------------------------------------------------------------ changes */

/*
 * Moves sb to status `to` with a conditional UPDATE on (id, version):
 * sets status_reason (NULL: none), pending_action, resets attempts and
 * stuck, sets next_attempt_at (now + SBX_SANDBOX_LEASE_SECONDS with a
 * pending action, now for a row to poll, NULL otherwise), sets terminated_at
 * on TERMINATED, decrements the owner's live count when leaving the live
 * set, and appends one event {actor, action, from, to, detail} in the same
 * transaction. SBX_ECONFLICT when the row changed since sb was read;
 * SBX_EINVAL when the lifecycle forbids the change. On SBX_OK and *out
 * non-NULL, *out holds the updated row (caller frees).
 */
enum sbx_err sbx_sandbox_transition(const struct sbx_sandbox *sb,
    enum sbx_sandbox_status to, enum sbx_sandbox_action pending,
    const char *reason, const char *actor, const char *action,
    const char *detail, struct sbx_sandbox **out);

/*
 * Claims sb for lease_seconds without a status change: bumps the version
 * and sets next_attempt_at = now + lease_seconds, conditionally on
 * (id, version). Two reapers claiming the same row: one gets SBX_OK, the
 * other SBX_ECONFLICT. *out (optional) gets the claimed row.
 */
enum sbx_err sbx_sandbox_claim(const struct sbx_sandbox *sb,
    long lease_seconds, struct sbx_sandbox **out);

/*
 * Records a failed attempt at sb's pending work (no status change):
 * attempts + 1, next_attempt_at, stuck, status_reason, conditionally on
 * (id, version). When stuck becomes 1 for the first time an event
 * ("stuck") is appended. *out optional.
 */
enum sbx_err sbx_sandbox_note_failure(const struct sbx_sandbox *sb,
    const char *reason, long long next_attempt_at, int stuck,
    const char *actor, struct sbx_sandbox **out);

/*
 * Applies what CloudFormation says about sb's stack: stack_status NULL
 * means the stack does not exist. PROVISIONING -> ACTIVE (outputs_json,
 * a JSON object text, stored), -> FAILED (reason stored); TERMINATING ->
 * TERMINATED on DELETE_COMPLETE or gone; DELETE_FAILED keeps TERMINATING
 * with the reason and pending DELETE (the caller schedules the retry with
 * sbx_sandbox_note_failure). A status that does not change anything only
 * stamps refreshed_at. Conditional on (id, version): SBX_ECONFLICT when
 * someone else changed the row. *out optional.
 */
enum sbx_err sbx_sandbox_apply_stack(const struct sbx_sandbox *sb,
    const char *stack_status, const char *stack_reason,
    const char *outputs_json, const char *actor, struct sbx_sandbox **out);

/*
 * CloudFormation calls for a row (common/domain/sandbox_cfn.c). Both
 * record the outcome on the row (conditional on version) and return the
 * updated row in *out (optional):
 *
 * sbx_sandbox_create_stack: CreateStack with ClientRequestToken = sb->id,
 * the template version the row records, its parameters, tags
 * sbx:sandbox-id / sbx:owner / sbx:expiry / Environment=Sandbox, RoleARN
 * when CFN_ROLE_ARN is set, OnFailure=ROLLBACK. On success stores stack_id
 * and clears the pending action. When CloudFormation cannot be reached or
 * throttles, keeps pending CREATE, records the failure (attempts,
 * next_attempt_at = now + backoff_seconds) with a reason saying the stack
 * request is pending a retry, and returns SBX_EUNAVAILABLE/SBX_ETHROTTLED.
 * A refusal (validation, limits) moves the row to FAILED with AWS's
 * message and returns SBX_EREMOTE.
 *
 * sbx_sandbox_delete_stack: DeleteStack (a fresh ClientRequestToken per
 * attempt) for a TERMINATING row. On success clears the pending action
 * (the row is then polled); on failure keeps pending DELETE and records
 * the failure like create. A row that never got a stack (pending CREATE
 * never acknowledged) is checked by name and, when none exists, moved to
 * TERMINATED.
 *
 * sbx_sandbox_delete_stack_due: the same for a delete that is due again
 * (the reaper's pending deletes), where a previous attempt may have been
 * accepted by CloudFormation without being recorded (its reaper was
 * killed in between): when the stack already says DELETE_IN_PROGRESS or
 * DELETE_COMPLETE, that delete is recorded as accepted and no second
 * DeleteStack is sent; otherwise as sbx_sandbox_delete_stack.
 *
 * sbx_sandbox_refresh: DescribeStacks (by stack id when known, else by
 * stack name) and sbx_sandbox_apply_stack. SBX_EUNAVAILABLE etc. when
 * CloudFormation did not answer (nothing changed).
 */
enum sbx_err sbx_sandbox_create_stack(const struct sbx_sandbox *sb,
    const char *actor, long backoff_seconds, struct sbx_sandbox **out);
enum sbx_err sbx_sandbox_delete_stack(const struct sbx_sandbox *sb,
    const char *actor, long backoff_seconds, struct sbx_sandbox **out);
enum sbx_err sbx_sandbox_delete_stack_due(const struct sbx_sandbox *sb,
    const char *actor, long backoff_seconds, struct sbx_sandbox **out);
enum sbx_err sbx_sandbox_refresh(const struct sbx_sandbox *sb,
    const char *actor, struct sbx_sandbox **out);

/*
 * The halves of those calls that follow CloudFormation's answer, for the
 * reaper, which makes the calls of a batch at once (cfn.h):
 * sbx_sandbox_refresh_apply applies a DescribeStacks that returned err
 * and *st (as sbx_sandbox_refresh does after its call);
 * sbx_sandbox_delete_failed records a DeleteStack that failed with err
 * (AWS's words in ce) as a failed attempt and returns err;
 * sbx_sandbox_delete_token is the ClientRequestToken of a DeleteStack
 * for the row as it stands; sbx_sandbox_role_arn is CFN_ROLE_ARN or NULL.
 */
struct sbx_cfn_stack;
struct sbx_cfn_error;
enum sbx_err sbx_sandbox_refresh_apply(const struct sbx_sandbox *sb,
    enum sbx_err err, const struct sbx_cfn_stack *st, const char *actor,
    struct sbx_sandbox **out);
enum sbx_err sbx_sandbox_delete_failed(const struct sbx_sandbox *sb,
    enum sbx_err err, const struct sbx_cfn_error *ce, const char *actor,
    long backoff_seconds, struct sbx_sandbox **out);
void sbx_sandbox_delete_token(const struct sbx_sandbox *sb, char *buf,
    size_t len);
const char *sbx_sandbox_role_arn(void);

/* The tag that ties a stack to its sandbox row: its value is the id. */
#define SBX_SANDBOX_TAG_ID "sbx:sandbox-id"

/*
 * The sandbox id a stack (cfn.h) is tagged with, pointing into s; NULL
 * when it carries no SBX_SANDBOX_TAG_ID.
 */
struct sbx_cfn_stack;
const char *sbx_sandbox_stack_tagged_id(const struct sbx_cfn_stack *s);

/* ------------------------------------------------------------ reaper work */

enum sbx_sandbox_work {
	SBX_WORK_EXPIRED,	/* ACTIVE or PROVISIONING past expiry_time */
	SBX_WORK_FAILED,	/* FAILED (to be deleted at once) */
	SBX_WORK_CREATE,	/* PROVISIONING, pending CREATE, due */
	SBX_WORK_DELETE,	/* TERMINATING, pending DELETE, due */
	SBX_WORK_POLL,		/* PROVISIONING/TERMINATING, no pending, due */
	SBX_WORK_STUCK,		/* stuck rows (for operators) */
	SBX_WORK_LIVE,		/* every live row (e.g. /api/jobs) */
	/*
	 * ACTIVE rows not yet expired whose expiry_time is at or before
	 * `now` (the caller passes the current time plus the warning
	 * window) and that have had no warning for this expiry_time.
	 */
	SBX_WORK_EXPIRING,
	SBX_WORK__MAX
};

/*
 * Up to limit rows needing the given work at time now, oldest due first.
 * With owner_id non-NULL, only that user's (SBX_WORK_LIVE for /api/jobs).
 * Read-only: claim a row (sbx_sandbox_claim or a transition) before acting.
 */
enum sbx_err sbx_sandbox_list_work(enum sbx_sandbox_work work, long long now,
    const char *owner_id, long limit, struct sbx_sandbox_list *out);

/* ------------------------------------------------------------ events */

struct sbx_sandbox_event {
	char *id;
	char *sandbox_id;
	long long time;
	char *actor;
	char *action;		/* "create", "active", "terminate", ... */
	char *from_status;	/* NULL when not a status change */
	char *to_status;
	char *detail;
	long delivery_attempts;
};

struct sbx_sandbox_event_list {
	struct sbx_sandbox_event *items;
	size_t n;
};

void sbx_sandbox_event_list_fini(struct sbx_sandbox_event_list *list);

/*
 * Appends an event that is not a status change (e.g. "expiring",
 * "extended"); from/to may be NULL.
 */
enum sbx_err sbx_sandbox_event_append(const char *sandbox_id,
    const char *actor, const char *action, const char *from_status,
    const char *to_status, const char *detail);

/* A sandbox's events, oldest first. */
enum sbx_err sbx_sandbox_events(const char *sandbox_id,
    struct sbx_sandbox_event_list *out);

/*
 * The webhook outbox: undelivered events due at now, oldest first; a
 * delivered one is marked so; a failed delivery is rescheduled.
 */
enum sbx_err sbx_sandbox_outbox_pending(long long now, long limit,
    struct sbx_sandbox_event_list *out);
enum sbx_err sbx_sandbox_outbox_delivered(const char *event_id);
enum sbx_err sbx_sandbox_outbox_failed(const char *event_id,
    long long next_attempt_at);
/*
 * Claims a pending event that is due for lease_seconds (next_delivery_at
 * moves on), so that two reapers do not both send it; a sender killed
 * mid-delivery leaves it due again once the lease has passed.
 * SBX_ECONFLICT when another claimed it or it is no longer pending.
 */
enum sbx_err sbx_sandbox_outbox_claim(const char *event_id,
    long lease_seconds);
/* An event that is not sent (no webhook type): state "skipped". */
enum sbx_err sbx_sandbox_outbox_skipped(const char *event_id);
/*
 * Marks up to limit pending events older than `before` as skipped (used
 * when no webhook is configured, so the outbox does not grow without
 * end); *n gets how many.
 */
enum sbx_err sbx_sandbox_outbox_skip_older(long long before, long limit,
    long *n);

/* ------------------------------------------------------------ reaper extras */

/*
 * The expiry warning, once per sandbox and expiry_time: records that
 * sb's current expiry_time was warned about and appends an "expiring"
 * event in one transaction. SBX_ECONFLICT when it was already warned
 * about (by another reaper), the expiry changed or the row is no longer
 * ACTIVE. The row's version is not bumped: the mark is independent of
 * the state machine, and must not make a user's concurrent change fail.
 */
enum sbx_err sbx_sandbox_warn_expiry(const struct sbx_sandbox *sb,
    const char *actor);

/*
 * An operator's "retry now": resets attempts and stuck, claims the row
 * for lease_seconds and appends a "retry" event (detail may be NULL),
 * conditionally on (id, version). The caller then does the pending work.
 * *out (optional) gets the row.
 */
enum sbx_err sbx_sandbox_retry_reset(const struct sbx_sandbox *sb,
    long lease_seconds, const char *actor, const char *detail,
    struct sbx_sandbox **out);

/*
 * For each of the n ids (any text), live[i] = 1 when a row with that id
 * exists and is not TERMINATED (orphan stacks are those whose tag names
 * no live row). Ids that are not UUIDs are simply not live.
 */
enum sbx_err sbx_sandbox_live_among(const char *const *ids, size_t n,
    unsigned char *live);

/* JSON {time, actor, action, from_status, to_status, detail}. */
cJSON *sbx_sandbox_event_to_json(const struct sbx_sandbox_event *ev);

/* ------------------------------------------------------------ API flows */

/*
 * A create as a client asks it (common/api/sandbox_api.c decodes the
 * request into this). owner_email is recorded for display and tags.
 */
struct sbx_sandbox_create {
	const char *owner_id;
	const char *owner_email;
	const char *actor;
	const char *name;
	const char *template_name;	/* NULL: the default template */
	long long ttl_minutes;
	int ttl_given;
	const cJSON *parameters;	/* object or NULL */
	/*
	 * The client's idempotency key (NULL: none) and a digest of its
	 * request, which a second request with that key must match. With a
	 * key, the answer to a create is stored as answer_status (chosen by
	 * the caller, stored and given back as is) and the created sandbox's
	 * sbx_sandbox_to_json text, so that the caller answers a created
	 * sandbox with exactly that.
	 */
	const char *idem_key;
	const char *request_hash;
	int answer_status;
};

/*
 * Why a create was refused. SBX_EINVAL comes with INVALID, every other
 * reason with SBX_ECONFLICT.
 */
enum sbx_sandbox_refusal {
	SBX_SANDBOX_REFUSED_NONE,
	SBX_SANDBOX_REFUSED_INVALID,	/* field holds a bad value */
	SBX_SANDBOX_REFUSED_NAME_TAKEN,	/* a live sandbox has the name */
	SBX_SANDBOX_REFUSED_QUOTA,	/* SANDBOX_MAX_PER_USER live already */
	SBX_SANDBOX_REFUSED_BUDGET,	/* the owner's budget would be exceeded */
	SBX_SANDBOX_REFUSED_KEY_BUSY,	/* the key's first create still runs */
	SBX_SANDBOX_REFUSED_KEY_REUSED,	/* the key came with another request */
	SBX_SANDBOX_REFUSED__MAX
};

/*
 * The outcome of a create: the new sandbox; or, for a key seen before,
 * the answer stored for it (replay_body non-NULL, replay_status); or a
 * refusal with the field it concerns (NULL when none) and a sentence in
 * detail (empty for the KEY_* reasons).
 */
struct sbx_sandbox_create_result {
	struct sbx_sandbox *sandbox;	/* created: the row */
	int replay_status;		/* replayed: the stored answer_status */
	char *replay_body;		/* replayed: the stored body text */
	enum sbx_sandbox_refusal refusal;
	const char *field;
	char detail[256];
	char field_buf[160];		/* storage field may point to */
};

void sbx_sandbox_create_result_fini(struct sbx_sandbox_create_result *r);

/*
 * Runs a create: validates against the template and rules, commits the
 * PROVISIONING row, its event, the owner's live count and the idempotency
 * key in one transaction, then calls CreateStack (sbx_sandbox_create_stack)
 * and stores its answer. SBX_OK with res->sandbox (created) or
 * res->replay_body (replayed); SBX_EINVAL or SBX_ECONFLICT with
 * res->refusal saying why; any other code (database down, ENOMEM) leaves
 * res->refusal NONE. CloudFormation being down is not an error here: the
 * sandbox is created with its CreateStack pending.
 */
enum sbx_err sbx_sandbox_create_run(const struct sbx_sandbox_create *req,
    struct sbx_sandbox_create_result *res);

/*
 * A page of sandboxes, newest first (created_at, id descending), appended
 * to out as a JSON array of sbx_sandbox_json_write objects (costs seen at
 * `now`). owner_id NULL: every owner (admins); owner_email filters by
 * email instead. status may be NULL. cursor is the opaque text
 * *next_cursor gave for the previous page (NULL for the first);
 * *next_cursor (caller frees) is NULL on the last page. SBX_EINVAL for an
 * owner_id or cursor that is no UUID.
 */
enum sbx_err sbx_sandbox_list_json(const char *owner_id,
    const char *owner_email, const char *status, const char *cursor,
    long limit, long long now, struct sbx_util_buf *out, char **next_cursor);
/* Validates a cursor given by a client: 1 when well-formed. */
int sbx_sandbox_cursor_valid(const char *cursor);

/*
 * Sets a new expiry (already checked with sbx_sandbox_new_expiry) on an
 * ACTIVE or PROVISIONING row, conditionally on version, with an
 * "extended" event. SBX_ECONFLICT when the row changed or is not in one of
 * those states.
 */
enum sbx_err sbx_sandbox_set_expiry(const struct sbx_sandbox *sb,
    long long new_expiry, const char *actor, struct sbx_sandbox **out);

/*
 * DELETE: a live, non-TERMINATING row moves to TERMINATING with pending
 * DELETE (one event), then DeleteStack is called at once; its failure is
 * left on the row for the reaper. A row whose CreateStack was never
 * acknowledged is only moved: that CreateStack may still be in flight,
 * so the look for its stack waits for the lease (the reaper, or a DELETE
 * after it, does it). A TERMINATING row is answered as is (and
 * DeleteStack is re-sent when a retry is due). SBX_ECONFLICT when the
 * row is TERMINATED. *out gets the row after all that.
 */
enum sbx_err sbx_sandbox_terminate(const struct sbx_sandbox *sb,
    const char *actor, const char *reason, struct sbx_sandbox **out);

#endif
