/*
 * A sandbox row's CloudFormation calls (see sandbox.h): CreateStack with the
 * row's id as ClientRequestToken, DeleteStack with a token per attempt,
 * DescribeStacks applied to the row. Each call's outcome is recorded on the
 * row at once, so that a process dying after any step leaves the row saying
 * what is still to do, and the reaper can carry on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/io/cfn.h"
#include "common/core/config.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/sandbox.h"
#include "common/domain/sandbox_db.h"
#include "common/domain/template.h"

#define MODULE "sandbox"

/* Tags every stack of ours carries besides SBX_SANDBOX_TAG_ID. */
#define TAG_OWNER "sbx:owner"
#define TAG_EXPIRY "sbx:expiry"

static const char *
role_arn(void)
{
	const struct sbx_config *cfg = sbx_config();

	if (cfg == NULL || cfg->cfn_role_arn == NULL ||
	    cfg->cfn_role_arn[0] == '\0')
		return NULL;
	return cfg->cfn_role_arn;
}

static long
backoff_base(long given)
{
	const struct sbx_config *cfg = sbx_config();

	if (given > 0)
		return given;
	return cfg != NULL && cfg->reaper_backoff_seconds > 0 ?
	    cfg->reaper_backoff_seconds : 30;
}

static int
stuck_after(long attempts)
{
	const struct sbx_config *cfg = sbx_config();
	long max = cfg != NULL ? cfg->reaper_max_attempts : 8;

	return max > 0 && attempts >= max;
}

/* AWS's words when it gave any, else our code's name. */
static void
why(char *buf, size_t len, enum sbx_err err, const struct sbx_cfn_error *ce)
{
	if (ce->code[0] != '\0')
		sbx_json_fmt(buf, len, "%s: %s", ce->code, ce->message);
	else if (err == SBX_EUNAVAILABLE)
		snprintf(buf, len, "no answer from CloudFormation");
	else
		snprintf(buf, len, "%s", sbx_strerror(err));
}

/* Failures that a later attempt may cure (as opposed to AWS refusing). */
static int
transient(enum sbx_err err)
{
	switch (err) {
	case SBX_EUNAVAILABLE:
	case SBX_ETHROTTLED:
	case SBX_EAUTH:
	case SBX_EPARSE:
	case SBX_ECONFIG:
	case SBX_ENOMEM:
	case SBX_EIO:
		return 1;
	default:
		return 0;
	}
}

/* Records a failed attempt; keeps the code of the call for the caller. */
static enum sbx_err
failed_attempt(const struct sbx_sandbox *sb, const char *reason,
    const char *actor, long backoff, enum sbx_err call_err,
    struct sbx_sandbox **out)
{
	long attempts = sb->attempts + 1;
	long long next = (long long)time(NULL) +
	    sbx_sandbox_backoff_seconds(backoff_base(backoff), attempts);
	enum sbx_err err;

	err = sbx_sandbox_note_failure(sb, reason, next, stuck_after(attempts),
	    actor, out);
	if (err != SBX_OK && err != SBX_ECONFLICT)
		sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s: cannot record a "
		    "failed attempt: %s", sb->name, sbx_strerror(err));
	return call_err;
}

/*
 * The stack id is a fact once AWS gave it, whoever holds the row's
 * version: store it unconditionally, and end the pending create only if
 * the row still waits for it.
 */
static const char sql_created[] =
    "UPDATE sandboxes SET stack_id = COALESCE(stack_id, $2),"
    " stack_parameters = NULL,"
    " status_reason = CASE WHEN status = 'PROVISIONING'"
    "   AND pending_action = 'create' THEN NULL ELSE status_reason END,"
    " attempts = CASE WHEN pending_action = 'create' THEN 0 ELSE attempts END,"
    " stuck = CASE WHEN pending_action = 'create' THEN false ELSE stuck END,"
    " next_attempt_at = CASE WHEN pending_action = 'create' THEN now()"
    "   ELSE next_attempt_at END,"
    " pending_action = CASE WHEN pending_action = 'create' THEN 'none'"
    "   ELSE pending_action END,"
    " updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid"
    " RETURNING " SBX_SANDBOX_COLS;

static enum sbx_err
record_stack_id(const struct sbx_sandbox *sb, const char *stack_id,
    struct sbx_sandbox **out)
{
	const char *p[2] = { sb->id, stack_id };

	return sbx_sandbox_db_row_query(NULL, "sbx_created", sql_created, 2, p,
	    SBX_ENOTFOUND, out);
}

/* Parameters as CloudFormation's key/value list; points into obj. */
static enum sbx_err
kv_from_object(const cJSON *obj, struct sbx_cfn_kv_in **out, size_t *n)
{
	const cJSON *p;
	size_t i = 0, cap = (size_t)cJSON_GetArraySize(obj);

	*out = NULL;
	*n = 0;
	if (cap == 0)
		return SBX_OK;
	*out = calloc(cap, sizeof(**out));
	if (*out == NULL)
		return SBX_ENOMEM;
	cJSON_ArrayForEach(p, obj) {
		if (!cJSON_IsString(p))
			continue;
		(*out)[i].key = p->string;
		(*out)[i].value = p->valuestring;
		i++;
	}
	*n = i;
	return SBX_OK;
}

enum sbx_err
sbx_sandbox_create_stack(const struct sbx_sandbox *sb, const char *actor,
    long backoff_seconds, struct sbx_sandbox **out)
{
	struct sbx_template *t = NULL;
	struct sbx_cfn_create in;
	struct sbx_cfn_error ce;
	struct sbx_cfn_kv_in *params = NULL, tags[4];
	const char **caps = NULL;
	cJSON *pobj = NULL, *cobj = NULL;
	const cJSON *c;
	char expiry[40], reason[1200];
	char *stack_id = NULL;
	size_t np = 0, nc = 0;
	enum sbx_err err, cerr;

	if (out != NULL)
		*out = NULL;
	memset(&in, 0, sizeof(in));
	memset(&ce, 0, sizeof(ce));
	if (sb->status != SBX_SANDBOX_PROVISIONING)
		return SBX_EINVAL;
	err = sbx_template_get_version(sb->template_name, sb->template_version,
	    &t);
	if (err == SBX_ENOTFOUND) {
		/* Versions are never deleted; this row is broken. */
		err = sbx_sandbox_transition(sb, SBX_SANDBOX_FAILED,
		    SBX_SANDBOX_ACTION_NONE, "the template version this "
		    "sandbox was made from no longer exists", actor, "failed",
		    NULL, out);
		return err == SBX_OK ? SBX_EREMOTE : err;
	}
	if (err != SBX_OK)
		return err;

	pobj = cJSON_Parse(sb->stack_parameters != NULL ?
	    sb->stack_parameters : (sb->parameters != NULL ? sb->parameters :
	    "{}"));
	cobj = t->capabilities != NULL ? cJSON_Parse(t->capabilities) : NULL;
	if (pobj == NULL || !cJSON_IsObject(pobj)) {
		err = SBX_EINTERNAL;
		goto out;
	}
	err = kv_from_object(pobj, &params, &np);
	if (err != SBX_OK)
		goto out;
	if (cJSON_IsArray(cobj) && cJSON_GetArraySize(cobj) > 0) {
		caps = calloc((size_t)cJSON_GetArraySize(cobj), sizeof(*caps));
		if (caps == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		cJSON_ArrayForEach(c, cobj)
			if (cJSON_IsString(c))
				caps[nc++] = c->valuestring;
	}
	sbx_time_format(sb->expiry_time, expiry, sizeof(expiry));
	tags[0].key = SBX_SANDBOX_TAG_ID;
	tags[0].value = sb->id;
	tags[1].key = TAG_OWNER;
	tags[1].value = sb->owner_email;
	tags[2].key = TAG_EXPIRY;
	tags[2].value = expiry;
	tags[3].key = "Environment";
	tags[3].value = "Sandbox";

	in.stack_name = sb->stack_name;
	in.template_body = t->body;
	in.parameters = params;
	in.nparameters = np;
	in.tags = tags;
	in.ntags = 4;
	in.capabilities = caps;
	in.ncapabilities = nc;
	in.on_failure = "ROLLBACK";
	in.role_arn = role_arn();
	in.client_request_token = sb->id;

	cerr = sbx_cfn_create_stack(&in, &stack_id, &ce);
	if (cerr == SBX_OK) {
		sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s: CreateStack "
		    "accepted", sb->name);
		err = record_stack_id(sb, stack_id, out);
		goto out;
	}
	why(reason, sizeof(reason), cerr, &ce);
	if (transient(cerr)) {
		char r2[1400];

		sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s: CreateStack failed "
		    "(%s); pending a retry", sb->name, reason);
		sbx_json_fmt(r2, sizeof(r2), "the stack request is pending a "
		    "retry: CloudFormation could not be reached (%.*s)",
		    (int)sbx_json_utf8_cut(reason, 1100), reason);
		err = failed_attempt(sb, r2, actor, backoff_seconds, cerr, out);
		goto out;
	}
	/* AWS refused (validation, limits, a foreign stack of that name). */
	sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s: CreateStack refused: %s",
	    sb->name, reason);
	if (cerr == SBX_ECONFLICT) {
		char r2[1400];

		sbx_json_fmt(r2, sizeof(r2), "a stack named %s already exists "
		    "in the account (%.*s)", sb->stack_name,
		    (int)sbx_json_utf8_cut(reason, 1000), reason);
		sbx_json_fmt(reason, sizeof(reason), "%s", r2);
	}
	err = sbx_sandbox_transition(sb, SBX_SANDBOX_FAILED,
	    SBX_SANDBOX_ACTION_NONE, reason, actor, "failed", "CreateStack "
	    "refused", out);
	if (err == SBX_OK)
		err = SBX_EREMOTE;
out:
	free(stack_id);
	free(params);
	free(caps);
	sbx_template_params_free(pobj);	/* NoEcho values in clear */
	cJSON_Delete(cobj);
	sbx_template_free(t);
	return err;
}

const char *
sbx_sandbox_stack_tagged_id(const struct sbx_cfn_stack *s)
{
	size_t i;

	for (i = 0; i < s->ntags; i++)
		if (s->tags[i].key != NULL &&
		    strcmp(s->tags[i].key, SBX_SANDBOX_TAG_ID) == 0)
			return s->tags[i].value;
	return NULL;
}

/* Is the stack tagged as this sandbox's? */
static int
stack_is_ours(const struct sbx_cfn_stack *s, const char *id)
{
	const char *tagged = sbx_sandbox_stack_tagged_id(s);

	return tagged != NULL && strcmp(tagged, id) == 0;
}

void
sbx_sandbox_delete_token(const struct sbx_sandbox *sb, char *buf, size_t len)
{
	/* A fresh token per attempt: AWS would take a reused one as done. */
	snprintf(buf, len, "d-%s-%ld", sb->id, sb->version);
}

const char *
sbx_sandbox_role_arn(void)
{
	return role_arn();
}

enum sbx_err
sbx_sandbox_delete_failed(const struct sbx_sandbox *sb, enum sbx_err cerr,
    const struct sbx_cfn_error *ce, const char *actor, long backoff_seconds,
    struct sbx_sandbox **out)
{
	char reason[1200], r2[1300];

	why(reason, sizeof(reason), cerr, ce);
	sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s: DeleteStack failed "
	    "(%s); left for a retry", sb->name, reason);
	sbx_json_fmt(r2, sizeof(r2), "DeleteStack failed, pending a "
	    "retry: %s", reason);
	return failed_attempt(sb, r2, actor, backoff_seconds, cerr, out);
}

/*
 * DeleteStack accepted: the row is polled from now on. attempts and stuck
 * are kept: a stack that ends DELETE_FAILED again and again must add up
 * to REAPER_MAX_ATTEMPTS and be flagged stuck; reaching TERMINATED clears
 * them.
 */
static const char sql_deleted[] =
    "UPDATE sandboxes SET pending_action = 'none',"
    " next_attempt_at = now(),"
    " updated_at = now(), version = version + 1"
    " WHERE id = $1::uuid AND version = $2::bigint AND status = 'TERMINATING'"
    " RETURNING " SBX_SANDBOX_COLS;

/*
 * Records that DeleteStack was accepted for sb as it was read (its
 * version). Someone else moved the row on: theirs is the newer word, and
 * out gets the row as it is now.
 */
static enum sbx_err
record_deleted(const struct sbx_sandbox *sb, struct sbx_sandbox **out)
{
	enum sbx_err err;

	err = sbx_sandbox_db_row_at("sbx_deleted", sql_deleted, sb,
	    SBX_ENOTFOUND, out);
	if (err == SBX_ENOTFOUND)
		err = out != NULL ? sbx_sandbox_get(sb->id, out) : SBX_OK;
	return err;
}

enum sbx_err
sbx_sandbox_delete_stack(const struct sbx_sandbox *sb, const char *actor,
    long backoff_seconds, struct sbx_sandbox **out)
{
	struct sbx_cfn_stack st;
	struct sbx_cfn_error ce;
	struct sbx_sandbox *cur = NULL;
	char token[80], reason[1200];
	const char *target;
	enum sbx_err err, cerr;

	if (out != NULL)
		*out = NULL;
	memset(&st, 0, sizeof(st));
	memset(&ce, 0, sizeof(ce));
	if (sb->status != SBX_SANDBOX_TERMINATING)
		return SBX_EINVAL;
	target = sb->stack_id;
	if (target == NULL) {
		/*
		 * CreateStack was never acknowledged. Delete by name only a
		 * stack that carries this sandbox's tag: the name may belong
		 * to a stack that is not ours.
		 */
		cerr = sbx_cfn_describe_stack(sb->stack_name, &st, &ce);
		if (cerr == SBX_ENOTFOUND || (cerr == SBX_OK &&
		    !stack_is_ours(&st, sb->id))) {
			err = sbx_sandbox_transition(sb, SBX_SANDBOX_TERMINATED,
			    SBX_SANDBOX_ACTION_NONE, sb->status_reason, actor,
			    "terminated", "no stack was created for this "
			    "sandbox", out);
			goto out;
		}
		if (cerr != SBX_OK) {
			why(reason, sizeof(reason), cerr, &ce);
			err = failed_attempt(sb, reason, actor, backoff_seconds,
			    cerr, out);
			goto out;
		}
		err = record_stack_id(sb, st.stack_id, &cur);
		if (err != SBX_OK)
			goto out;
		sb = cur;
		target = sb->stack_id;
	}

	sbx_sandbox_delete_token(sb, token, sizeof(token));
	cerr = sbx_cfn_delete_stack(target, token, role_arn(), &ce);
	if (cerr != SBX_OK) {
		err = sbx_sandbox_delete_failed(sb, cerr, &ce, actor,
		    backoff_seconds, out);
		goto out;
	}
	sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s: DeleteStack accepted",
	    sb->name);
	err = record_deleted(sb, out);
out:
	sbx_cfn_stack_fini(&st);
	sbx_sandbox_free(cur);
	return err;
}

enum sbx_err
sbx_sandbox_delete_stack_due(const struct sbx_sandbox *sb, const char *actor,
    long backoff_seconds, struct sbx_sandbox **out)
{
	struct sbx_cfn_stack st;
	struct sbx_cfn_error ce;

	if (out != NULL)
		*out = NULL;
	if (sb->status != SBX_SANDBOX_TERMINATING || sb->stack_id == NULL)
		return sbx_sandbox_delete_stack(sb, actor, backoff_seconds, out);
	memset(&st, 0, sizeof(st));
	memset(&ce, 0, sizeof(ce));
	/*
	 * One DescribeStacks (by id: a deleted stack still answers) tells
	 * whether a DeleteStack was accepted already. If it cannot be asked,
	 * DeleteStack is sent as before: a second one is harmless to AWS,
	 * only counted by the tests' fake.
	 */
	if (sbx_cfn_describe_stack(sb->stack_id, &st, &ce) != SBX_OK ||
	    st.status == NULL || (strcmp(st.status, "DELETE_IN_PROGRESS") != 0 &&
	    strcmp(st.status, "DELETE_COMPLETE") != 0)) {
		sbx_cfn_stack_fini(&st);
		return sbx_sandbox_delete_stack(sb, actor, backoff_seconds, out);
	}
	sbx_cfn_stack_fini(&st);
	sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s: DeleteStack was accepted "
	    "before (not recorded then); not sent again", sb->name);
	return record_deleted(sb, out);
}

enum sbx_err
sbx_sandbox_refresh(const struct sbx_sandbox *sb, const char *actor,
    struct sbx_sandbox **out)
{
	struct sbx_cfn_stack st;
	struct sbx_cfn_error ce;
	enum sbx_err err;

	if (out != NULL)
		*out = NULL;
	memset(&st, 0, sizeof(st));
	memset(&ce, 0, sizeof(ce));
	if (sb->status == SBX_SANDBOX_TERMINATED)
		return out != NULL ? sbx_sandbox_get(sb->id, out) : SBX_OK;
	err = sbx_cfn_describe_stack(sb->stack_id != NULL ? sb->stack_id :
	    sb->stack_name, &st, &ce);
	err = sbx_sandbox_refresh_apply(sb, err, &st, actor, out);
	sbx_cfn_stack_fini(&st);
	return err;
}

enum sbx_err
sbx_sandbox_refresh_apply(const struct sbx_sandbox *sb, enum sbx_err err,
    const struct sbx_cfn_stack *stp, const char *actor,
    struct sbx_sandbox **out)
{
	const struct sbx_cfn_stack st = *stp;
	struct sbx_sandbox *cur = NULL;
	const char **keys = NULL, **values = NULL;
	char *outputs = NULL;
	size_t i;

	if (out != NULL)
		*out = NULL;
	if (err == SBX_ENOTFOUND) {
		err = sbx_sandbox_apply_stack(sb, NULL, NULL, NULL, actor, out);
		goto out;
	}
	if (err != SBX_OK)
		goto out;
	if (sb->stack_id == NULL) {
		/*
		 * Found by name: adopt it only when it is ours (a crash
		 * between CreateStack and storing its id); else it is some
		 * other stack and says nothing about this sandbox.
		 */
		if (!stack_is_ours(&st, sb->id)) {
			err = sbx_sandbox_apply_stack(sb, NULL, NULL, NULL,
			    actor, out);
			goto out;
		}
		err = record_stack_id(sb, st.stack_id, &cur);
		if (err != SBX_OK)
			goto out;
		sb = cur;
	}
	if (st.noutputs > 0) {
		keys = calloc(st.noutputs, sizeof(*keys));
		values = calloc(st.noutputs, sizeof(*values));
		if (keys == NULL || values == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		for (i = 0; i < st.noutputs; i++) {
			keys[i] = st.outputs[i].key;
			values[i] = st.outputs[i].value;
		}
	}
	err = sbx_sandbox_db_outputs_json(keys, values, st.noutputs, &outputs);
	if (err != SBX_OK)
		goto out;
	err = sbx_sandbox_apply_stack(sb, st.status, st.status_reason, outputs,
	    actor, out);
out:
	free(outputs);
	free(keys);
	free(values);
	sbx_sandbox_free(cur);
	return err;
}

/* How often DELETE re-reads a row that changed under it before giving up. */
#define TERMINATE_TRIES 4

enum sbx_err
sbx_sandbox_terminate(const struct sbx_sandbox *sb, const char *actor,
    const char *reason, struct sbx_sandbox **out)
{
	struct sbx_sandbox *cur = NULL, *next = NULL;
	enum sbx_err err = SBX_ECONFLICT;
	int i;

	*out = NULL;
	for (i = 0; i < TERMINATE_TRIES; i++) {
		const struct sbx_sandbox *row = cur != NULL ? cur : sb;

		if (row->status == SBX_SANDBOX_TERMINATED) {
			err = SBX_ECONFLICT;
			break;
		}
		if (row->status == SBX_SANDBOX_TERMINATING) {
			/*
			 * Asked again: answer as it stands, and send a
			 * DeleteStack that is due now rather than wait for
			 * the reaper.
			 */
			if (row->pending_action == SBX_SANDBOX_ACTION_DELETE &&
			    row->next_attempt_at <= (long long)time(NULL)) {
				err = sbx_sandbox_claim(row,
				    sbx_sandbox_lease_seconds(), &next);
				if (err == SBX_OK) {
					(void)sbx_sandbox_delete_stack(next,
					    actor, 0, out);
					if (*out == NULL)
						err = sbx_sandbox_get(row->id,
						    out);
					break;
				}
				if (err != SBX_ECONFLICT)
					break;
			} else {
				err = sbx_sandbox_get(row->id, out);
				break;
			}
		} else {
			err = sbx_sandbox_transition(row,
			    SBX_SANDBOX_TERMINATING, SBX_SANDBOX_ACTION_DELETE,
			    row->status == SBX_SANDBOX_FAILED ?
			    row->status_reason : reason, actor, "terminating",
			    reason, &next);
			if (err == SBX_OK && row->stack_id == NULL &&
			    row->pending_action == SBX_SANDBOX_ACTION_CREATE) {
				/*
				 * Its CreateStack may be in flight right now
				 * (the creating request, or a reaper holding
				 * the lease). Deciding "no stack" before that
				 * call has ended could leave a stack behind a
				 * TERMINATED row, so the look by name waits
				 * until the lease the transition set has
				 * passed: the reaper, or a DELETE then, does it.
				 */
				*out = next;
				next = NULL;
				break;
			}
			if (err == SBX_OK) {
				/* A failure here is the reaper's to retry. */
				(void)sbx_sandbox_delete_stack(next, actor, 0,
				    out);
				if (*out == NULL)
					err = sbx_sandbox_get(row->id, out);
				break;
			}
			if (err != SBX_ECONFLICT)
				break;
		}
		/* The row changed under us: read it again and decide again. */
		sbx_sandbox_free(next);
		next = NULL;
		sbx_sandbox_free(cur);
		cur = NULL;
		err = sbx_sandbox_get(sb->id, &cur);
		if (err != SBX_OK)
			break;
		err = SBX_ECONFLICT;
	}
	sbx_sandbox_free(next);
	sbx_sandbox_free(cur);
	if (err != SBX_OK) {
		sbx_sandbox_free(*out);
		*out = NULL;
	}
	return err;
}
