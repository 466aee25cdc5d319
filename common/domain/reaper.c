/*
 * One reaper run (see reaper.h) and the operator actions that share its
 * steps. Every change to a row goes through sandbox.h, whose conditional
 * UPDATEs are the claims; this file decides what to do with each row,
 * keeps the run's counts and records the run.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "common/io/cfn.h"
#include "common/core/config.h"
#include "common/domain/budget.h"
#include "common/domain/cost.h"
#include "common/io/db.h"
#include "common/domain/housekeeping.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/notify.h"
#include "common/domain/reaper.h"
#include "common/domain/sandbox.h"
#include "common/domain/sandbox_batch.h"

#define MODULE "reaper"

/*
 * CloudFormation failing this many times in a row (no answer, 5xx,
 * throttled after the client's own retries) ends its use for the run:
 * the rest waits for the next run rather than each row waiting out its
 * own timeouts.
 */
#define AWS_STRIKES_MAX 3

/* Ids checked per query when looking for orphans. */
#define ORPHAN_CHUNK 500

/* Webhooks sent per run at most, in multiples of the batch size. */
#define WEBHOOK_BATCHES_MAX 10

/*
 * Housekeeping batches per kind and run at most: a backlog (the first run
 * after a long pause) is worked off over a few runs instead of holding up
 * this one.
 */
#define HOUSEKEEPING_BATCHES_MAX 50

/*
 * A dry run changes nothing, so batches would return the same rows: it
 * reads each list at once, this many rows at most (reads are not bound
 * by DSQL's row limit, which is on writes).
 */
#define DRY_RUN_LIST_MAX 10000

struct run {
	const struct sbx_reaper_opts *o;
	struct sbx_reaper_result *r;
	volatile sig_atomic_t *stop;
	long batch;
	long left;		/* sandboxes --limit still allows */
	long backoff;
	long concurrency;	/* CloudFormation calls in flight at once */
	int aws_off;		/* no more CloudFormation calls this run */
	int aws_strikes;
	int aws_ok;		/* CloudFormation answered a call this run */
	enum sbx_err fatal;	/* the run cannot go on (database) */
	/* Rows already handled by the current step, so none is done twice. */
	char **seen;
	size_t nseen, capseen;
};

/* ------------------------------------------------------------ helpers */

/* Microseconds on the monotonic clock, for the run's duration. */
static long long
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
say(struct run *x, int always, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line on the run's output: dry-run lines always, others with -v. */
static void
say(struct run *x, int always, const char *fmt, ...)
{
	va_list ap;

	if (x->o->out == NULL || (!always && !x->o->verbose))
		return;
	va_start(ap, fmt);
	vfprintf(x->o->out, fmt, ap);
	va_end(ap);
	fputc('\n', x->o->out);
}

/* Has a signal asked the run to end? Then it is marked interrupted. */
static int
stopped(const struct run *x)
{
	if (x->stop != NULL && *x->stop) {
		x->r->interrupted = 1;
		return 1;
	}
	return 0;
}

static int
going(const struct run *x)
{
	return !stopped(x) && x->fatal == SBX_OK && x->left > 0;
}

static void
seen_reset(struct run *x)
{
	size_t i;

	for (i = 0; i < x->nseen; i++)
		free(x->seen[i]);
	x->nseen = 0;
}

/* 1 when id was seen in this step already; else remembers it. */
static int
seen_before(struct run *x, const char *id)
{
	size_t i;
	char **nv;

	for (i = 0; i < x->nseen; i++)
		if (strcmp(x->seen[i], id) == 0)
			return 1;
	if (x->nseen == x->capseen) {
		size_t cap = x->capseen ? x->capseen * 2 : 256;

		nv = realloc(x->seen, cap * sizeof(*nv));
		if (nv == NULL)
			return 0;	/* only costs a repeat */
		x->seen = nv;
		x->capseen = cap;
	}
	x->seen[x->nseen] = strdup(id);
	if (x->seen[x->nseen] != NULL)
		x->nseen++;
	return 0;
}

static void
count(struct run *x, enum sbx_reaper_count c)
{
	x->r->counts[c]++;
}

static void
operator_error(struct run *x, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
operator_error(struct run *x, const char *fmt, ...)
{
	va_list ap;

	x->r->operator_error = 1;
	if (x->r->error[0] != '\0')
		return;		/* the first one says most */
	va_start(ap, fmt);
	vsnprintf(x->r->error, sizeof(x->r->error), fmt, ap);
	va_end(ap);
}

/*
 * SBX_EUNAVAILABLE says "no answer" for the database and CloudFormation
 * alike; the database answers a ping or it is the one that is down.
 */
static int
db_down(enum sbx_err err)
{
	return err == SBX_EUNAVAILABLE && sbx_db_ping() != SBX_OK;
}

static void
fatal_db(struct run *x, enum sbx_err err, const char *what)
{
	x->fatal = err;
	operator_error(x, "the database failed while %s (%s): the run "
	    "stopped; see the log", what, sbx_strerror(err));
}

/*
 * What a failed CloudFormation-side call means for the run. Returns 1
 * when the caller should stop (the database is gone).
 */
static int
aws_failed(struct run *x, enum sbx_err err, const char *what)
{
	switch (err) {
	case SBX_OK:
		x->aws_strikes = 0;
		x->aws_ok = 1;
		return 0;
	case SBX_EAUTH:
		x->aws_off = 1;
		operator_error(x, "AWS refused the credentials while %s: "
		    "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the "
		    "task role", what);
		sbx_log(SBX_LOG_ERROR, MODULE, "AWS refused the credentials "
		    "while %s; no more CloudFormation calls this run", what);
		return 0;
	case SBX_ECONFIG:
		x->aws_off = 1;
		operator_error(x, "AWS is not configured (region or "
		    "endpoint) while %s", what);
		return 0;
	case SBX_EUNAVAILABLE:
		if (db_down(err)) {
			fatal_db(x, err, what);
			return 1;
		}
		/* FALLTHROUGH */
	case SBX_ETHROTTLED:
		if (++x->aws_strikes >= AWS_STRIKES_MAX && !x->aws_off) {
			x->aws_off = 1;
			sbx_log(SBX_LOG_WARN, MODULE, "CloudFormation failed "
			    "%d times in a row (%s); the rest waits for the "
			    "next run", x->aws_strikes, sbx_strerror(err));
		}
		return 0;
	default:
		return 0;
	}
}

/*
 * A row-level failure that is not CloudFormation's: a lost claim or a
 * transaction that kept conflicting is skipped; the database gone stops
 * the run; anything else is counted and logged.
 */
static int
row_failed(struct run *x, const struct sbx_sandbox *sb, enum sbx_err err,
    const char *what)
{
	if (err == SBX_ECONFLICT || err == SBX_ESERIALIZE) {
		count(x, SBX_RC_SKIPPED);
		sbx_log(SBX_LOG_DEBUG, MODULE, "sandbox %s: %s skipped (%s)",
		    sb->name, what, sbx_strerror(err));
		return 0;
	}
	if (err == SBX_EUNAVAILABLE || err == SBX_EDB) {
		if (db_down(SBX_EUNAVAILABLE)) {
			fatal_db(x, err, what);
			return 1;
		}
	}
	count(x, SBX_RC_ERRORS);
	sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s: %s failed: %s", sb->name,
	    what, sbx_strerror(err));
	return 0;
}

/* What a row that changed under a call became, for the counts. */
static void
count_outcome(struct run *x, const struct sbx_sandbox *before,
    const struct sbx_sandbox *after)
{
	if (after == NULL || after->status == before->status)
		return;
	if (after->status == SBX_SANDBOX_ACTIVE)
		count(x, SBX_RC_ACTIVE);
	else if (after->status == SBX_SANDBOX_FAILED)
		count(x, SBX_RC_STACK_FAILED);
	else if (after->status == SBX_SANDBOX_TERMINATED)
		count(x, SBX_RC_TERMINATED);
}

static const char *
when(long long t, char *buf, size_t len)
{
	sbx_time_format(t, buf, len);
	return buf;
}

/* ------------------------------------------------------------ rows */

/*
 * DeleteStack for a row this reaper holds: one it just moved to
 * TERMINATING (due 0), or a pending delete it claimed (due 1), which a
 * killed reaper may have sent already.
 */
static void
delete_row(struct run *x, const struct sbx_sandbox *sb, int due)
{
	struct sbx_sandbox *after = NULL;
	enum sbx_err err;

	err = due ? sbx_sandbox_delete_stack_due(sb, SBX_REAPER_ACTOR,
	    x->backoff, &after) : sbx_sandbox_delete_stack(sb,
	    SBX_REAPER_ACTOR, x->backoff, &after);
	if (err == SBX_OK) {
		if (after != NULL && after->status == SBX_SANDBOX_TERMINATED) {
			/* No stack had been made: nothing to delete. */
			count(x, SBX_RC_TERMINATED);
			say(x, 0, "%s: no stack exists; TERMINATED", sb->name);
		} else {
			count(x, SBX_RC_DELETE_SENT);
			say(x, 0, "%s: DeleteStack sent", sb->name);
		}
		aws_failed(x, SBX_OK, NULL);
		goto out;
	}
	if (err == SBX_ECONFLICT || err == SBX_ESERIALIZE || err == SBX_EDB) {
		row_failed(x, sb, err, "recording DeleteStack");
		goto out;
	}
	count(x, SBX_RC_DELETE_RETRY);
	say(x, 0, "%s: DeleteStack failed (%s); retry later", sb->name,
	    sbx_strerror(err));
	aws_failed(x, err, "calling DeleteStack");
out:
	sbx_sandbox_free(after);
}

/*
 * Moves sb (expired, or FAILED) to TERMINATING with a pending DeleteStack
 * (the transition is the claim), then sends it.
 */
static void
terminate_row(struct run *x, const struct sbx_sandbox *sb,
    enum sbx_reaper_count which)
{
	struct sbx_sandbox *next = NULL;
	char reason[80] = "", detail[80], t[40];
	const char *why;
	enum sbx_err err;

	if (sb->status == SBX_SANDBOX_FAILED) {
		/* The failure's reason is what people need to see. */
		why = sb->status_reason != NULL ? sb->status_reason :
		    "the stack could not be created";
		snprintf(detail, sizeof(detail), "a failed sandbox's stack is "
		    "deleted at once");
	} else {
		snprintf(reason, sizeof(reason), "expired at %s",
		    when(sb->expiry_time, t, sizeof(t)));
		why = reason;
		snprintf(detail, sizeof(detail), "expired at %s", t);
	}
	if (x->o->dry_run) {
		count(x, which);
		say(x, 1, "would terminate %s (%s%s%s): TERMINATING, then "
		    "DeleteStack %s", sb->name,
		    sbx_sandbox_status_name(sb->status),
		    which == SBX_RC_EXPIRED ? ", " : "",
		    which == SBX_RC_EXPIRED ? reason : "",
		    sb->stack_id != NULL ? sb->stack_id : sb->stack_name);
		return;
	}
	err = sbx_sandbox_transition(sb, SBX_SANDBOX_TERMINATING,
	    SBX_SANDBOX_ACTION_DELETE, why, SBX_REAPER_ACTOR, "terminating",
	    detail, &next);
	if (err != SBX_OK) {
		row_failed(x, sb, err, "moving to TERMINATING");
		return;
	}
	count(x, which);
	say(x, 0, "%s: %s -> TERMINATING (%s)", sb->name,
	    sbx_sandbox_status_name(sb->status), detail);
	/* With CloudFormation off, the DeleteStack is due after the lease. */
	if (!x->aws_off)
		delete_row(x, next, 0);
	sbx_sandbox_free(next);
}

/*
 * A PROVISIONING row an API request is still creating (its lease has
 * not passed): terminating it now would race the CreateStack in flight
 * and could leave a stack without a live row.
 */
static int
create_in_flight(const struct sbx_sandbox *sb, long long now)
{
	return sb->status == SBX_SANDBOX_PROVISIONING &&
	    sb->pending_action == SBX_SANDBOX_ACTION_CREATE &&
	    sb->next_attempt_at > now;
}

static void
create_row(struct run *x, const struct sbx_sandbox *sb)
{
	struct sbx_sandbox *claimed = NULL, *after = NULL;
	enum sbx_err err;

	if (x->o->dry_run) {
		count(x, SBX_RC_CREATE_SENT);
		say(x, 1, "would retry CreateStack for %s (stack %s, attempt "
		    "%ld)", sb->name, sb->stack_name, sb->attempts + 1);
		return;
	}
	err = sbx_sandbox_claim(sb, sbx_sandbox_lease_seconds(), &claimed);
	if (err != SBX_OK) {
		row_failed(x, sb, err, "claiming for CreateStack");
		return;
	}
	err = sbx_sandbox_create_stack(claimed, SBX_REAPER_ACTOR, x->backoff,
	    &after);
	if (err == SBX_OK) {
		count(x, SBX_RC_CREATE_SENT);
		say(x, 0, "%s: CreateStack sent", sb->name);
		aws_failed(x, SBX_OK, NULL);
	} else if (err == SBX_EREMOTE) {
		/* Refused by AWS: the row is FAILED, deleted next run. */
		count(x, SBX_RC_STACK_FAILED);
		say(x, 0, "%s: CreateStack refused; FAILED", sb->name);
	} else if (err == SBX_ECONFLICT || err == SBX_ESERIALIZE ||
	    err == SBX_EDB) {
		row_failed(x, sb, err, "recording CreateStack");
	} else {
		count(x, SBX_RC_CREATE_RETRY);
		say(x, 0, "%s: CreateStack failed (%s); retry later",
		    sb->name, sbx_strerror(err));
		aws_failed(x, err, "calling CreateStack");
	}
	sbx_sandbox_free(after);
	sbx_sandbox_free(claimed);
}

static void
delete_due_row(struct run *x, const struct sbx_sandbox *sb)
{
	struct sbx_sandbox *claimed = NULL;
	enum sbx_err err;

	if (x->o->dry_run) {
		count(x, SBX_RC_DELETE_SENT);
		say(x, 1, "would retry DeleteStack for %s (attempt %ld%s)",
		    sb->name, sb->attempts + 1, sb->stuck ? ", stuck" : "");
		return;
	}
	err = sbx_sandbox_claim(sb, sbx_sandbox_lease_seconds(), &claimed);
	if (err != SBX_OK) {
		row_failed(x, sb, err, "claiming for DeleteStack");
		return;
	}
	delete_row(x, claimed, 1);
	sbx_sandbox_free(claimed);
}

static void
poll_row(struct run *x, const struct sbx_sandbox *sb)
{
	struct sbx_sandbox *claimed = NULL, *after = NULL;
	enum sbx_err err;

	if (x->o->dry_run) {
		count(x, SBX_RC_POLLED);
		say(x, 1, "would read the stack of %s (%s) and apply its "
		    "status", sb->name, sbx_sandbox_status_name(sb->status));
		return;
	}
	/*
	 * The claim keeps other reapers from reading the same stack, and
	 * moves next_attempt_at on so that the next batch gets other rows.
	 */
	err = sbx_sandbox_claim(sb, sbx_sandbox_lease_seconds(), &claimed);
	if (err != SBX_OK) {
		row_failed(x, sb, err, "claiming for a poll");
		return;
	}
	err = sbx_sandbox_refresh(claimed, SBX_REAPER_ACTOR, &after);
	if (err == SBX_OK) {
		count(x, SBX_RC_POLLED);
		count_outcome(x, claimed, after);
		if (after != NULL && after->status != claimed->status)
			say(x, 0, "%s: %s -> %s", sb->name,
			    sbx_sandbox_status_name(claimed->status),
			    sbx_sandbox_status_name(after->status));
		else if (after != NULL &&
		    after->pending_action == SBX_SANDBOX_ACTION_DELETE &&
		    claimed->pending_action != SBX_SANDBOX_ACTION_DELETE) {
			count(x, SBX_RC_DELETE_RETRY);
			say(x, 0, "%s: DELETE_FAILED; DeleteStack again after "
			    "the backoff", sb->name);
		}
		aws_failed(x, SBX_OK, NULL);
	} else if (err == SBX_ECONFLICT || err == SBX_ESERIALIZE ||
	    err == SBX_EDB) {
		row_failed(x, sb, err, "applying the stack status");
	} else {
		say(x, 0, "%s: DescribeStacks failed (%s)", sb->name,
		    sbx_strerror(err));
		aws_failed(x, err, "calling DescribeStacks");
	}
	sbx_sandbox_free(after);
	sbx_sandbox_free(claimed);
}

static void
warn_row(struct run *x, const struct sbx_sandbox *sb)
{
	char t[40];
	enum sbx_err err;

	if (x->o->dry_run) {
		count(x, SBX_RC_WARNED);
		say(x, 1, "would warn that %s expires at %s", sb->name,
		    when(sb->expiry_time, t, sizeof(t)));
		return;
	}
	err = sbx_sandbox_warn_expiry(sb, SBX_REAPER_ACTOR);
	if (err != SBX_OK) {
		row_failed(x, sb, err, "recording the expiry warning");
		return;
	}
	count(x, SBX_RC_WARNED);
	say(x, 0, "%s: expiry warning (expires at %s)", sb->name,
	    when(sb->expiry_time, t, sizeof(t)));
}

/* ------------------------------------------------------------ steps */

enum step {
	STEP_EXPIRED,
	STEP_FAILED,
	STEP_CREATE,
	STEP_DELETE,
	STEP_POLL,
	STEP_WARN,
	STEP__MAX
};

static const struct {
	const char *name;
	enum sbx_sandbox_work work;
	int aws;		/* needs CloudFormation to do anything */
} steps[STEP__MAX] = {
	[STEP_EXPIRED] = { "expired sandboxes", SBX_WORK_EXPIRED, 0 },
	[STEP_FAILED] = { "failed sandboxes", SBX_WORK_FAILED, 0 },
	[STEP_CREATE] = { "pending creates", SBX_WORK_CREATE, 1 },
	[STEP_DELETE] = { "pending deletes", SBX_WORK_DELETE, 1 },
	[STEP_POLL] = { "stacks in progress", SBX_WORK_POLL, 1 },
	[STEP_WARN] = { "expiry warnings", SBX_WORK_EXPIRING, 0 },
};

static void
do_row(struct run *x, enum step s, const struct sbx_sandbox *sb,
    long long now)
{
	switch (s) {
	case STEP_EXPIRED:
		terminate_row(x, sb, SBX_RC_EXPIRED);
		break;
	case STEP_FAILED:
		terminate_row(x, sb, SBX_RC_FAILED);
		break;
	case STEP_CREATE:
		/* Expired meanwhile: no stack is made; it is terminated. */
		if (sb->expiry_time <= now)
			terminate_row(x, sb, SBX_RC_EXPIRED);
		else
			create_row(x, sb);
		break;
	case STEP_DELETE:
		delete_due_row(x, sb);
		break;
	case STEP_POLL:
		poll_row(x, sb);
		break;
	case STEP_WARN:
		warn_row(x, sb);
		break;
	case STEP__MAX:
		break;
	}
}

/* ------------------------------------------------------------ batches */

/*
 * The usual path of most rows (sandbox_batch.h) goes in batches: a batch
 * of rows is claimed by one statement, changed by one transaction, and
 * its CloudFormation calls are made REAPER_CONCURRENCY at a time; only
 * the outcomes that are not the usual one (a failed call, a stack in
 * another state) are recorded row by row. What is left over, and every
 * other row, goes row by row after the batches (run_step).
 *
 * Nothing is lost to a crash at any point: a claimed row is due again
 * when its lease passes; a row moved to TERMINATING has its DeleteStack
 * pending until the accepted call is recorded, and the pending-delete
 * step asks CloudFormation before it sends one again
 * (sbx_sandbox_delete_stack_due).
 */

static void shuffle(struct sbx_sandbox_list *list);

static int
by_id(const void *a, const void *b)
{
	const struct sbx_sandbox *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

#define BATCH_SPREAD 4
#define BATCH_IDLE_MAX 8

/* An ACTIVE row a batch of another reaper holds (a claim's lease). */
static int
batch_leased(const struct sbx_sandbox *sb, long long now)
{
	return sb->status == SBX_SANDBOX_ACTIVE && sb->next_attempt_at > now;
}

/*
 * How many of a batch's calls to send at once: one at a time until
 * CloudFormation has answered in this run and while it is failing, so
 * that when it is down AWS_STRIKES_MAX rows try (as row by row) and the
 * others wait for the next run; all that are left once it answers.
 */
static size_t
aws_window(const struct run *x, size_t left)
{
	return !x->aws_ok || x->aws_strikes > 0 ? 1 : left;
}

static void batch_poll(struct run *x, const struct sbx_sandbox_list *claimed);

/* A batch's rows as the DeleteStack calls it makes. */
struct delete_batch {
	struct sbx_cfn_delete *in;
	char (*tokens)[80];
	enum sbx_err *errs;
	struct sbx_cfn_error *cerrs;
	struct sbx_sandbox **ok;
	size_t nok;
};

static void
delete_batch_fini(struct delete_batch *d)
{
	free(d->in);
	free(d->tokens);
	free(d->errs);
	free(d->cerrs);
	free(d->ok);
	memset(d, 0, sizeof(*d));
}

/*
 * DeleteStack for the TERMINATING rows this reaper just moved, at once;
 * the accepted ones recorded by one statement, each failed one as a
 * failed attempt (retried after its backoff).
 */
static void
batch_delete(struct run *x, const struct sbx_sandbox_list *rows)
{
	struct delete_batch d;
	const char *role = sbx_sandbox_role_arn();
	struct sbx_sandbox_list recorded = { NULL, 0 };
	size_t i, n = rows->n, sent = 0;
	enum sbx_err err;

	memset(&d, 0, sizeof(d));
	d.in = calloc(n, sizeof(*d.in));
	d.tokens = calloc(n, sizeof(*d.tokens));
	d.errs = calloc(n, sizeof(*d.errs));
	d.cerrs = calloc(n, sizeof(*d.cerrs));
	d.ok = calloc(n, sizeof(*d.ok));
	if (d.in == NULL || d.tokens == NULL || d.errs == NULL ||
	    d.cerrs == NULL || d.ok == NULL) {
		/* Left pending: the delete step sends them after the lease. */
		count(x, SBX_RC_ERRORS);
		goto out;
	}
	for (i = 0; i < n; i++) {
		sbx_sandbox_delete_token(rows->items[i], d.tokens[i],
		    sizeof(d.tokens[i]));
		d.in[i].name_or_id = rows->items[i]->stack_id;
		d.in[i].token = d.tokens[i];
		d.in[i].role_arn = role;
	}
	for (i = 0; i < n && !x->aws_off; i++) {
		const struct sbx_sandbox *sb = rows->items[i];

		if (i == sent) {
			size_t w = aws_window(x, n - i);

			(void)sbx_cfn_delete_stacks(d.in + i, w, x->concurrency,
			    d.errs + i, d.cerrs + i);
			sent = i + w;
		}
		if (d.errs[i] == SBX_OK) {
			d.ok[d.nok++] = rows->items[i];
			sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s: DeleteStack "
			    "accepted", sb->name);
			aws_failed(x, SBX_OK, NULL);
			continue;
		}
		count(x, SBX_RC_DELETE_RETRY);
		say(x, 0, "%s: DeleteStack failed (%s); retry later", sb->name,
		    sbx_strerror(d.errs[i]));
		if (aws_failed(x, d.errs[i], "calling DeleteStack"))
			goto out;
		err = sbx_sandbox_delete_failed(sb, d.errs[i], &d.cerrs[i],
		    SBX_REAPER_ACTOR, x->backoff, NULL);
		(void)err;
	}
	/*
	 * If this fails the rows keep their pending DeleteStack: the delete
	 * step finds them accepted (DescribeStacks) and records it then.
	 */
	err = sbx_sandbox_batch_deleted(d.ok, d.nok,
	    sbx_sandbox_lease_seconds(), &recorded);
	if (err != SBX_OK) {
		if (db_down(err))
			fatal_db(x, err, "recording DeleteStack");
		else
			count(x, SBX_RC_ERRORS);
		goto out;
	}
	for (i = 0; i < d.nok; i++) {
		count(x, SBX_RC_DELETE_SENT);
		say(x, 0, "%s: DeleteStack sent", d.ok[i]->name);
	}
	x->r->counts[SBX_RC_SKIPPED] += (long)(d.nok - recorded.n);
	/* Their first poll, now (the poll step would list them again). */
	if (!x->aws_off && recorded.n > 0)
		batch_poll(x, &recorded);
out:
	sbx_sandbox_list_fini(&recorded);
	delete_batch_fini(&d);
}

/* The reason and event detail of a row moving to TERMINATING. */
struct why {
	char reason[80];
	char detail[80];
};

static void
terminate_why(const struct sbx_sandbox *sb, struct why *w,
    struct sbx_sandbox_batch_change *c)
{
	char t[40];

	c->sb = sb;
	if (sb->status == SBX_SANDBOX_FAILED) {
		c->reason = sb->status_reason != NULL ? sb->status_reason :
		    "the stack could not be created";
		snprintf(w->detail, sizeof(w->detail), "a failed sandbox's "
		    "stack is deleted at once");
	} else {
		snprintf(w->reason, sizeof(w->reason), "expired at %s",
		    when(sb->expiry_time, t, sizeof(t)));
		c->reason = w->reason;
		snprintf(w->detail, sizeof(w->detail), "expired at %s", t);
	}
	c->detail = w->detail;
}

/* Claimed rows to TERMINATING in one transaction, then their DeleteStack. */
static void
batch_terminate(struct run *x, const struct sbx_sandbox_list *claimed,
    enum sbx_reaper_count which)
{
	struct sbx_sandbox_batch_change *v = calloc(claimed->n + 1, sizeof(*v));
	struct why *w = calloc(claimed->n + 1, sizeof(*w));
	struct sbx_sandbox_list moved = { NULL, 0 };
	size_t i;
	enum sbx_err err;

	if (v == NULL || w == NULL) {
		count(x, SBX_RC_ERRORS);
		goto out;
	}
	for (i = 0; i < claimed->n; i++)
		terminate_why(claimed->items[i], &w[i], &v[i]);
	err = sbx_sandbox_batch_terminating(v, claimed->n, SBX_REAPER_ACTOR,
	    &moved);
	if (err != SBX_OK) {
		/* The claims' leases pass; the next batch or run has them. */
		if (db_down(err))
			fatal_db(x, err, "moving rows to TERMINATING");
		else
			x->r->counts[err == SBX_ESERIALIZE ? SBX_RC_SKIPPED :
			    SBX_RC_ERRORS] += (long)claimed->n;
		goto out;
	}
	x->r->counts[SBX_RC_SKIPPED] += (long)(claimed->n - moved.n);
	for (i = 0; i < moved.n; i++) {
		count(x, which);
		say(x, 0, "%s: %s -> TERMINATING", moved.items[i]->name,
		    which == SBX_RC_FAILED ? "FAILED" : "ACTIVE");
	}
	/* With CloudFormation off, the DeleteStack is due after the lease. */
	if (!x->aws_off && moved.n > 0)
		batch_delete(x, &moved);
out:
	sbx_sandbox_list_fini(&moved);
	free(w);
	free(v);
}

/* A batch of polls' answers and what becomes of each. */
struct poll_batch {
	const char **ids;
	struct sbx_cfn_stack *st;
	enum sbx_err *errs;
	struct sbx_sandbox_batch_change *gone;
	char (*details)[160];
	size_t ngone;
};

static void
poll_batch_fini(struct poll_batch *p, size_t n)
{
	size_t i;

	for (i = 0; p->st != NULL && i < n; i++)
		sbx_cfn_stack_fini(&p->st[i]);
	free(p->ids);
	free(p->st);
	free(p->errs);
	free(p->gone);
	free(p->details);
	memset(p, 0, sizeof(*p));
}

/* One polled row whose stack is not simply gone: as poll_row does. */
static void
poll_apply(struct run *x, const struct sbx_sandbox *claimed, enum sbx_err err,
    const struct sbx_cfn_stack *st)
{
	struct sbx_sandbox *after = NULL;

	if (err != SBX_OK && err != SBX_ENOTFOUND) {
		say(x, 0, "%s: DescribeStacks failed (%s)", claimed->name,
		    sbx_strerror(err));
		aws_failed(x, err, "calling DescribeStacks");
		return;
	}
	err = sbx_sandbox_refresh_apply(claimed, err, st, SBX_REAPER_ACTOR,
	    &after);
	if (err == SBX_OK) {
		count(x, SBX_RC_POLLED);
		count_outcome(x, claimed, after);
		if (after != NULL &&
		    after->pending_action == SBX_SANDBOX_ACTION_DELETE) {
			count(x, SBX_RC_DELETE_RETRY);
			say(x, 0, "%s: DELETE_FAILED; DeleteStack again after "
			    "the backoff", claimed->name);
		}
		aws_failed(x, SBX_OK, NULL);
	} else {
		row_failed(x, claimed, err, "applying the stack status");
	}
	sbx_sandbox_free(after);
}

/*
 * DescribeStacks for claimed TERMINATING rows at once; the rows whose
 * stack is gone move to TERMINATED in one transaction, the others are
 * applied one by one.
 */
static void
batch_poll(struct run *x, const struct sbx_sandbox_list *claimed)
{
	struct poll_batch p;
	struct sbx_sandbox_list moved = { NULL, 0 };
	size_t i, n = claimed->n, sent = 0;
	enum sbx_err err;

	memset(&p, 0, sizeof(p));
	p.ids = calloc(n, sizeof(*p.ids));
	p.st = calloc(n, sizeof(*p.st));
	p.errs = calloc(n, sizeof(*p.errs));
	p.gone = calloc(n, sizeof(*p.gone));
	p.details = calloc(n, sizeof(*p.details));
	if (p.ids == NULL || p.st == NULL || p.errs == NULL ||
	    p.gone == NULL || p.details == NULL) {
		count(x, SBX_RC_ERRORS);
		goto out;
	}
	for (i = 0; i < n; i++)
		p.ids[i] = claimed->items[i]->stack_id;
	for (i = 0; i < n && x->fatal == SBX_OK && !x->aws_off; i++) {
		const struct sbx_sandbox *sb = claimed->items[i];
		enum sbx_sandbox_status to = SBX_SANDBOX_TERMINATING;
		int retry = 0;
		const char *status;

		if (i == sent) {
			size_t w = aws_window(x, n - i);

			(void)sbx_cfn_describe_stacks(p.ids + i, w,
			    x->concurrency, p.st + i, p.errs + i, NULL);
			sent = i + w;
		}
		status = p.errs[i] == SBX_OK ? p.st[i].status : NULL;

		if ((p.errs[i] == SBX_OK || p.errs[i] == SBX_ENOTFOUND) &&
		    sbx_sandbox_status_from_cfn(status, &to, &retry) ==
		    SBX_OK && to == SBX_SANDBOX_TERMINATED) {
			snprintf(p.details[i], sizeof(p.details[i]),
			    "CloudFormation: %s", status != NULL ? status :
			    "stack does not exist");
			p.gone[p.ngone].sb = sb;
			p.gone[p.ngone].reason = sb->status_reason;
			p.gone[p.ngone].detail = p.details[i];
			p.ngone++;
			continue;
		}
		poll_apply(x, sb, p.errs[i], &p.st[i]);
	}
	if (p.ngone == 0 || x->fatal != SBX_OK)
		goto out;
	err = sbx_sandbox_batch_terminated(p.gone, p.ngone, SBX_REAPER_ACTOR,
	    &moved);
	if (err != SBX_OK) {
		if (db_down(err))
			fatal_db(x, err, "moving rows to TERMINATED");
		else
			x->r->counts[err == SBX_ESERIALIZE ? SBX_RC_SKIPPED :
			    SBX_RC_ERRORS] += (long)p.ngone;
		goto out;
	}
	x->r->counts[SBX_RC_SKIPPED] += (long)(p.ngone - moved.n);
	for (i = 0; i < moved.n; i++) {
		count(x, SBX_RC_POLLED);
		count(x, SBX_RC_TERMINATED);
		say(x, 0, "%s: TERMINATING -> TERMINATED", moved.items[i]->name);
	}
	aws_failed(x, SBX_OK, NULL);
out:
	sbx_sandbox_list_fini(&moved);
	poll_batch_fini(&p, n);
}

/*
 * The batches of a step, until its batch list runs dry, the limit is
 * reached, or the run must stop. Each batch is a random choice among
 * the first BATCH_SPREAD batches' worth of due rows, so that reapers
 * running at once mostly claim different rows; rows another reaper
 * claimed first leave the list with its lease. Claiming nothing
 * BATCH_IDLE_MAX times in a row ends the batches (the row-by-row step
 * takes what is left).
 */
static void
run_batches(struct run *x, enum step s)
{
	enum sbx_sandbox_batch_work work;
	int idle = 0;

	if (s == STEP_EXPIRED)
		work = SBX_BATCH_EXPIRED;
	else if (s == STEP_FAILED)
		work = SBX_BATCH_FAILED;
	else if (s == STEP_POLL)
		work = SBX_BATCH_DELETING;
	else
		return;
	while (going(x) && idle < BATCH_IDLE_MAX) {
		struct sbx_sandbox_list list = { NULL, 0 };
		struct sbx_sandbox_list claimed = { NULL, 0 };
		long want = x->batch < x->left ? x->batch : x->left;
		size_t tried = 0;
		enum sbx_err err;

		if (steps[s].aws && x->aws_off)
			break;
		/* As run_step: a row just made due to poll is polled now. */
		err = sbx_sandbox_batch_list(work, (long long)time(NULL) +
		    (s == STEP_POLL ? 1 : 0), want * BATCH_SPREAD, &list);
		if (err == SBX_OK && list.n > 0) {
			shuffle(&list);
			tried = list.n < (size_t)want ? list.n : (size_t)want;
			/* One lock order for every reaper: no deadlock. */
			qsort(list.items, tried, sizeof(*list.items), by_id);
			err = sbx_sandbox_batch_claim(list.items, tried,
			    sbx_sandbox_lease_seconds(), &claimed);
			/* Lost to another reaper: list again. */
			if (err == SBX_ESERIALIZE)
				err = SBX_OK;
		}
		if (err != SBX_OK) {
			fatal_db(x, err, "claiming a batch");
			sbx_sandbox_list_fini(&list);
			break;
		}
		x->r->counts[SBX_RC_SKIPPED] += (long)(tried - claimed.n);
		if (list.n == 0) {
			sbx_sandbox_list_fini(&list);
			break;
		}
		if (claimed.n > 0)
			idle = 0;
		else if (tried > 0)
			idle++;
		x->left -= (long)claimed.n;
		if (claimed.n > 0 && s == STEP_POLL)
			batch_poll(x, &claimed);
		else if (claimed.n > 0)
			batch_terminate(x, &claimed, s == STEP_FAILED ?
			    SBX_RC_FAILED : SBX_RC_EXPIRED);
		sbx_sandbox_list_fini(&claimed);
		sbx_sandbox_list_fini(&list);
	}
}

/*
 * Reapers running at once read the same batch (oldest first); each goes
 * through it in its own random order, so that they mostly claim
 * different rows instead of queueing on the same ones.
 */
static void
shuffle(struct sbx_sandbox_list *list)
{
	size_t i, j;
	struct sbx_sandbox *tmp;

	for (i = list->n; i > 1; i--) {
		j = (size_t)random() % i;
		tmp = list->items[i - 1];
		list->items[i - 1] = list->items[j];
		list->items[j] = tmp;
	}
}

/*
 * Runs one step over its work list in batches until the list has no row
 * this step has not handled yet (rows it skipped stay listed), the limit
 * is reached, or the run must stop. A dry run changes nothing, so it
 * reads the whole list at once instead.
 */
static void
run_step(struct run *x, enum step s)
{
	struct sbx_sandbox_list list = { NULL, 0 };
	const struct sbx_config *cfg = sbx_config();
	long long now, at;
	size_t i;
	enum sbx_err err;

	seen_reset(x);
	if (!x->o->dry_run)
		run_batches(x, s);
	while (going(x)) {
		long fresh = 0, want;

		if (steps[s].aws && x->aws_off)
			break;
		if (s == STEP_WARN && cfg->expiry_warning_minutes <= 0)
			break;
		want = x->o->dry_run ? DRY_RUN_LIST_MAX : x->batch;
		if (want > x->left)
			want = x->left;
		now = (long long)time(NULL);
		/*
		 * Lists take whole seconds. A row the database made due to
		 * poll "now" (a fraction into this second: a DeleteStack just
		 * accepted) is polled in this run; nothing else gets its
		 * second early (an expiry, a backoff).
		 */
		if (s == STEP_WARN)
			at = now + cfg->expiry_warning_minutes * 60;
		else if (s == STEP_POLL)
			at = now + 1;
		else
			at = now;
		err = sbx_sandbox_list_work(steps[s].work, at, NULL, want,
		    &list);
		if (err != SBX_OK) {
			char what[80];

			snprintf(what, sizeof(what), "reading the work list "
			    "of %s", steps[s].name);
			fatal_db(x, err, what);
			break;
		}
		if (!x->o->dry_run)
			shuffle(&list);
		for (i = 0; i < list.n && going(x); i++) {
			const struct sbx_sandbox *sb = list.items[i];

			if (steps[s].aws && x->aws_off)
				break;
			if (seen_before(x, sb->id))
				continue;
			fresh++;
			if (s == STEP_EXPIRED && (create_in_flight(sb, now) ||
			    batch_leased(sb, now)))
				continue;
			x->left--;
			do_row(x, s, sb, now);
		}
		sbx_sandbox_list_fini(&list);
		if (fresh == 0 || x->o->dry_run)
			break;
	}
	sbx_sandbox_list_fini(&list);
	seen_reset(x);
}

static void
run_webhooks(struct run *x)
{
	struct sbx_notify_counts c;
	enum sbx_err err;

	if (x->fatal != SBX_OK || (x->stop != NULL && *x->stop))
		return;
	memset(&c, 0, sizeof(c));
	err = sbx_notify_deliver((long long)time(NULL), x->batch,
	    x->batch * WEBHOOK_BATCHES_MAX, x->o->dry_run, x->stop, &c);
	x->r->counts[SBX_RC_WEBHOOKS_DELIVERED] += c.delivered;
	x->r->counts[SBX_RC_WEBHOOKS_FAILED] += c.failed;
	x->r->counts[SBX_RC_WEBHOOKS_PENDING] += c.pending;
	if (c.pending > 0)
		say(x, 1, "would send %ld webhook(s)", c.pending);
	if (err != SBX_OK)
		fatal_db(x, err, "delivering webhooks");
}

/* Is this live stack one of ours, not already on its way out? */
static int
orphan_candidate(const struct sbx_cfn_stack *s, const char *prefix)
{
	if (s->stack_name == NULL || s->stack_id == NULL)
		return 0;
	if (prefix != NULL && strncmp(s->stack_name, prefix,
	    strlen(prefix)) != 0)
		return 0;
	if (s->status != NULL && (strcmp(s->status, "DELETE_IN_PROGRESS") == 0 ||
	    strcmp(s->status, "DELETE_COMPLETE") == 0))
		return 0;
	return 1;
}

static void
orphan_found(struct run *x, const struct sbx_cfn_stack *s, const char *id)
{
	cJSON *o = cJSON_CreateObject();
	int deleted = 0;

	count(x, SBX_RC_ORPHANS);
	sbx_log(SBX_LOG_WARN, MODULE, "orphan stack %s (%s, %s): tagged "
	    "%s=%s but no live sandbox has that id", s->stack_name,
	    s->stack_id, s->status != NULL ? s->status : "?",
	    SBX_SANDBOX_TAG_ID, id != NULL ? id : "");
	if (x->o->delete_orphans && x->o->dry_run) {
		say(x, 1, "would delete orphan stack %s (%s)", s->stack_name,
		    s->stack_id);
	} else if (x->o->delete_orphans && !x->aws_off) {
		struct sbx_cfn_error ce;
		const struct sbx_config *cfg = sbx_config();
		enum sbx_err err;

		memset(&ce, 0, sizeof(ce));
		err = sbx_cfn_delete_stack(s->stack_id, NULL,
		    cfg->cfn_role_arn != NULL && cfg->cfn_role_arn[0] != '\0' ?
		    cfg->cfn_role_arn : NULL, &ce);
		if (err == SBX_OK) {
			deleted = 1;
			count(x, SBX_RC_ORPHANS_DELETED);
			sbx_log(SBX_LOG_INFO, MODULE, "orphan stack %s: "
			    "DeleteStack sent", s->stack_name);
			say(x, 0, "orphan stack %s: DeleteStack sent",
			    s->stack_name);
		} else {
			sbx_log(SBX_LOG_WARN, MODULE, "orphan stack %s: "
			    "DeleteStack failed: %s %s", s->stack_name,
			    sbx_strerror(err), ce.code);
			aws_failed(x, err, "deleting an orphan stack");
		}
	} else {
		say(x, x->o->dry_run, "orphan stack %s (%s)", s->stack_name,
		    s->stack_id);
	}
	if (o == NULL)
		return;
	cJSON_AddStringToObject(o, "stack_name", s->stack_name);
	cJSON_AddStringToObject(o, "stack_id", s->stack_id);
	sbx_json_add_str_or_null(o, "sandbox_id", id);
	sbx_json_add_str_or_null(o, "status", s->status);
	cJSON_AddBoolToObject(o, "deleted", deleted);
	cJSON_AddItemToArray(x->r->orphans, o);
}

/*
 * Stacks are listed before rows are read: a row is always committed
 * before its stack is asked for, so a stack seen first and then found
 * without a live row really has none (the other order could take a
 * sandbox being created for an orphan).
 */
static void
run_orphans(struct run *x)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_cfn_stacks stacks = { NULL, 0 };
	struct sbx_cfn_error ce;
	const struct sbx_cfn_stack **cand = NULL;
	const char **ids = NULL;
	unsigned char *live = NULL;
	size_t i, n = 0, at;
	enum sbx_err err;

	if (x->fatal != SBX_OK || x->aws_off ||
	    (x->stop != NULL && *x->stop))
		return;
	memset(&ce, 0, sizeof(ce));
	err = sbx_cfn_stacks_with_tag(SBX_SANDBOX_TAG_ID, NULL, &stacks, &ce);
	if (err != SBX_OK) {
		sbx_log(SBX_LOG_WARN, MODULE, "listing stacks for orphans "
		    "failed: %s %s", sbx_strerror(err), ce.code);
		aws_failed(x, err, "listing stacks");
		goto out;
	}
	cand = calloc(stacks.n + 1, sizeof(*cand));
	ids = calloc(stacks.n + 1, sizeof(*ids));
	live = calloc(stacks.n + 1, 1);
	if (cand == NULL || ids == NULL || live == NULL) {
		count(x, SBX_RC_ERRORS);
		goto out;
	}
	for (i = 0; i < stacks.n; i++) {
		const char *id;

		if (!orphan_candidate(&stacks.v[i], cfg->stack_name_prefix))
			continue;
		id = sbx_sandbox_stack_tagged_id(&stacks.v[i]);
		cand[n] = &stacks.v[i];
		ids[n] = id != NULL ? id : "";
		n++;
	}
	for (at = 0; at < n; at += ORPHAN_CHUNK) {
		size_t m = n - at < ORPHAN_CHUNK ? n - at : ORPHAN_CHUNK;

		err = sbx_sandbox_live_among(ids + at, m, live + at);
		if (err != SBX_OK) {
			fatal_db(x, err, "looking for orphan stacks");
			goto out;
		}
	}
	for (i = 0; i < n; i++)
		if (!live[i])
			orphan_found(x, cand[i], ids[i][0] != '\0' ? ids[i] :
			    NULL);
out:
	free(live);
	free(ids);
	free(cand);
	sbx_cfn_stacks_fini(&stacks);
}

static const enum sbx_reaper_count hk_count[SBX_HK__MAX] = {
	[SBX_HK_SESSIONS] = SBX_RC_SESSIONS_DELETED,
	[SBX_HK_IDEMPOTENCY_KEYS] = SBX_RC_IDEM_KEYS_DELETED,
	[SBX_HK_API_TOKENS] = SBX_RC_API_TOKENS_DELETED,
};

/* What a failed housekeeping statement means for the run. */
static void
housekeeping_failed(struct run *x, const char *what, enum sbx_err err)
{
	/* Another reaper deleting the same rows: the next run goes on. */
	if (err == SBX_ESERIALIZE)
		return;
	if (db_down(SBX_EUNAVAILABLE)) {
		fatal_db(x, err, "deleting old rows");
		return;
	}
	count(x, SBX_RC_ERRORS);
	sbx_log(SBX_LOG_WARN, MODULE, "housekeeping of %s failed: %s", what,
	    sbx_strerror(err));
}

/*
 * Deletes one kind of row past keeping, a batch per transaction, until a
 * batch comes back short. A dry run only counts them.
 */
static void
housekeep(struct run *x, enum sbx_housekeeping_kind k)
{
	const char *what = sbx_housekeeping_name(k);
	long n = 0, b;
	enum sbx_err err;

	for (b = 0; b < HOUSEKEEPING_BATCHES_MAX && !stopped(x); b++) {
		if (x->o->dry_run)
			err = sbx_housekeeping_count(k, &n);
		else
			err = sbx_housekeeping_delete(k, x->batch, &n);
		if (err != SBX_OK) {
			housekeeping_failed(x, what, err);
			return;
		}
		x->r->counts[hk_count[k]] += n;
		if (n > 0)
			say(x, x->o->dry_run, "%s %ld %s", x->o->dry_run ?
			    "would delete" : "deleted", n, what);
		if (x->o->dry_run || n < x->batch)
			return;
	}
}

static void
run_housekeeping(struct run *x)
{
	int k;

	for (k = 0; k < SBX_HK__MAX && x->fatal == SBX_OK; k++)
		housekeep(x, (enum sbx_housekeeping_kind)k);
}

static void
count_stuck(struct run *x)
{
	struct sbx_sandbox_list list = { NULL, 0 };

	if (x->fatal != SBX_OK)
		return;
	if (sbx_sandbox_list_work(SBX_WORK_STUCK, (long long)time(NULL), NULL,
	    DRY_RUN_LIST_MAX, &list) == SBX_OK)
		x->r->counts[SBX_RC_STUCK] = (long)list.n;
	sbx_sandbox_list_fini(&list);
}

/* ------------------------------------------------------------ the record */

static const char sql_run_start[] =
    "INSERT INTO reaper_runs (id, started_at, dry_run)"
    " VALUES ($1::uuid, to_timestamp($2::bigint), false)";

static const char sql_run_finish[] =
    "UPDATE reaper_runs SET finished_at = now(), duration_ms = $2::bigint,"
    " counts = $3, orphans = $4, ok = $5::boolean, error = $6"
    " WHERE id = $1::uuid";

static enum sbx_err
record_start(struct sbx_reaper_result *r)
{
	char t[32];
	const char *p[2] = { r->run_id, t };
	PGresult *res = NULL;
	enum sbx_err err;

	err = sbx_sandbox_uuid_new(r->run_id, sizeof(r->run_id));
	if (err != SBX_OK)
		return err;
	snprintf(t, sizeof(t), "%lld", r->started_at);
	err = sbx_db_exec("reaper_run_start", sql_run_start, 2, p, &res);
	PQclear(res);
	if (err != SBX_OK)
		r->run_id[0] = '\0';
	return err;
}

static enum sbx_err
record_finish(const struct sbx_reaper_result *r)
{
	char ms[32];
	char *counts = NULL, *orphans = NULL;
	cJSON *c = sbx_reaper_counts_json(r->counts);
	const char *p[6];
	PGresult *res = NULL;
	enum sbx_err err = SBX_ENOMEM;

	if (r->run_id[0] == '\0')
		return SBX_OK;
	counts = c != NULL ? sbx_json_print(c) : NULL;
	orphans = sbx_json_print(r->orphans);
	if (counts == NULL || orphans == NULL)
		goto out;
	snprintf(ms, sizeof(ms), "%ld", r->duration_ms);
	p[0] = r->run_id;
	p[1] = ms;
	p[2] = counts;
	p[3] = orphans;
	p[4] = r->completed && !r->operator_error ? "true" : "false";
	p[5] = r->error[0] != '\0' ? r->error : NULL;
	err = sbx_db_exec("reaper_run_finish", sql_run_finish, 6, p, &res);
	PQclear(res);
out:
	free(counts);
	free(orphans);
	cJSON_Delete(c);
	return err;
}

/* ------------------------------------------------------------ a run */

/*
 * The cost step (cost.h) before the webhooks, so that its terminations and
 * warnings go out in the same run. AWS being down is counted, not fatal.
 */
static void
run_costs(struct run *x)
{
	struct sbx_cost_counts c;
	enum sbx_err err;

	if (stopped(x))
		return;
	err = sbx_budget_reaper_step(x->o->dry_run, x->batch, x->backoff, &c);
	x->r->counts[SBX_RC_COST_REFRESHED] += c.refreshed;
	x->r->counts[SBX_RC_COST_FAILED] += c.refresh_failed;
	x->r->counts[SBX_RC_BUDGET_TERMINATED] += c.terminated;
	x->r->counts[SBX_RC_BUDGET_WARNINGS] += c.warnings;
	if (err != SBX_OK) {
		if (db_down(err))
			fatal_db(x, err, "following costs");
		else
			say(x, 1, "cost step: %s", sbx_strerror(err));
	}
}

enum sbx_err
sbx_reaper_run(const struct sbx_reaper_opts *o, volatile sig_atomic_t *stop,
    struct sbx_reaper_result *r)
{
	const struct sbx_config *cfg = sbx_config();
	struct run x;
	long long t0 = mono_us();
	int s;
	enum sbx_err err;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	srandom((unsigned)getpid() ^ (unsigned)t0);
	x.o = o;
	x.r = r;
	x.stop = stop;
	x.batch = cfg->reaper_batch_size > 0 ? cfg->reaper_batch_size : 100;
	x.left = o->limit > 0 ? o->limit : LONG_MAX;
	x.backoff = cfg->reaper_backoff_seconds;
	x.concurrency = cfg->reaper_concurrency > 0 ? cfg->reaper_concurrency :
	    8;
	r->started_at = (long long)time(NULL);
	r->orphans = cJSON_CreateArray();
	if (r->orphans == NULL)
		return SBX_ENOMEM;

	err = sbx_db_ping();
	if (err != SBX_OK) {
		operator_error(&x, "cannot reach the database: check "
		    "DATABASE_URL (and DB_AUTH), and that the server is up "
		    "and accepts connections; nothing was done");
		return SBX_EUNAVAILABLE;
	}
	if (!o->dry_run) {
		err = record_start(r);
		if (err != SBX_OK) {
			operator_error(&x, "cannot record the run in "
			    "reaper_runs (%s): is the schema migrated?",
			    sbx_strerror(err));
			return err;
		}
	}

	for (s = 0; s < STEP__MAX && x.fatal == SBX_OK; s++) {
		if (s == STEP_WARN)
			run_orphans(&x);	/* while CloudFormation is warm */
		run_step(&x, (enum step)s);
	}
	if (x.fatal == SBX_OK)
		run_costs(&x);
	run_webhooks(&x);
	run_housekeeping(&x);
	count_stuck(&x);
	r->completed = x.fatal == SBX_OK && !r->interrupted;
	r->duration_ms = (long)((mono_us() - t0) / 1000);

	if (!o->dry_run && x.fatal == SBX_OK) {
		err = record_finish(r);
		if (err != SBX_OK) {
			x.fatal = err;
			operator_error(&x, "cannot record the run's end in "
			    "reaper_runs (%s)", sbx_strerror(err));
		}
	}
	seen_reset(&x);
	free(x.seen);
	if (x.fatal != SBX_OK)
		return x.fatal;
	if (r->operator_error)
		return SBX_EAUTH;
	return SBX_OK;
}

/* ------------------------------------------------------------ history */

static const char sql_runs_recent[] =
    "SELECT id::text AS id,"
    " floor(extract(epoch FROM started_at))::bigint AS started_at,"
    " floor(extract(epoch FROM finished_at))::bigint AS finished_at,"
    " duration_ms, counts, orphans,"
    " CASE WHEN ok THEN 1 ELSE 0 END AS ok,"
    " CASE WHEN dry_run THEN 1 ELSE 0 END AS dry_run, error"
    " FROM reaper_runs ORDER BY started_at DESC, id DESC LIMIT $1::int";

static void
add_time_or_null(cJSON *o, const char *name, const char *epoch)
{
	char buf[40];

	if (epoch == NULL) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	sbx_time_format(strtoll(epoch, NULL, 10), buf, sizeof(buf));
	cJSON_AddStringToObject(o, name, buf);
}

/* A JSON text column as JSON (what we stored), or def when unreadable. */
static cJSON *
parsed_or(const char *text, cJSON *(*def)(void))
{
	cJSON *j = text != NULL ? cJSON_Parse(text) : NULL;

	return j != NULL ? j : def();
}

enum sbx_err
sbx_reaper_runs_recent(long limit, cJSON **out)
{
	char l[32];
	const char *p[1] = { l };
	PGresult *res = NULL;
	cJSON *arr = NULL;
	int i, n;
	enum sbx_err err;

	*out = NULL;
	snprintf(l, sizeof(l), "%ld", limit > 0 && limit <= 1000 ? limit : 20);
	err = sbx_db_exec("reaper_runs_recent", sql_runs_recent, 1, p, &res);
	if (err != SBX_OK)
		goto out;
	arr = cJSON_CreateArray();
	if (arr == NULL) {
		err = SBX_ENOMEM;
		goto out;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		const char *ms = sbx_db_get(res, i, "duration_ms");

		if (o == NULL) {
			err = SBX_ENOMEM;
			goto out;
		}
		cJSON_AddItemToArray(arr, o);
		sbx_json_add_str_or_null(o, "id", sbx_db_get(res, i, "id"));
		add_time_or_null(o, "started_at",
		    sbx_db_get(res, i, "started_at"));
		add_time_or_null(o, "finished_at",
		    sbx_db_get(res, i, "finished_at"));
		if (ms != NULL)
			cJSON_AddNumberToObject(o, "duration_ms",
			    (double)strtoll(ms, NULL, 10));
		else
			cJSON_AddNullToObject(o, "duration_ms");
		cJSON_AddBoolToObject(o, "ok",
		    strcmp(sbx_db_get(res, i, "ok"), "1") == 0);
		cJSON_AddBoolToObject(o, "dry_run",
		    strcmp(sbx_db_get(res, i, "dry_run"), "1") == 0);
		cJSON_AddItemToObject(o, "counts",
		    parsed_or(sbx_db_get(res, i, "counts"), cJSON_CreateObject));
		cJSON_AddItemToObject(o, "orphans",
		    parsed_or(sbx_db_get(res, i, "orphans"), cJSON_CreateArray));
		sbx_json_add_str_or_null(o, "error",
		    sbx_db_get(res, i, "error"));
	}
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ operators */

enum sbx_err
sbx_reaper_retry(const struct sbx_sandbox *sb, const char *actor,
    struct sbx_sandbox **out)
{
	struct sbx_sandbox *cur = NULL, *next = NULL, *after = NULL;
	long long now = (long long)time(NULL);
	long backoff = sbx_config()->reaper_backoff_seconds;
	enum sbx_err err;

	*out = NULL;
	if (sb->status == SBX_SANDBOX_TERMINATED)
		return SBX_ECONFLICT;
	if (sb->status == SBX_SANDBOX_ACTIVE)
		return SBX_EINVAL;	/* nothing is pending */
	err = sbx_sandbox_retry_reset(sb, sbx_sandbox_lease_seconds(), actor,
	    sb->stuck ? "retry of a stuck sandbox requested" :
	    "retry requested", &cur);
	if (err != SBX_OK)
		return err;
	sbx_log(SBX_LOG_INFO, MODULE, "sandbox %s: retry requested by %s",
	    sb->name, actor != NULL ? actor : "?");

	/* A failure of the call below is on the row; it is not ours. */
	if (cur->status == SBX_SANDBOX_FAILED ||
	    (cur->status == SBX_SANDBOX_PROVISIONING &&
	    cur->pending_action == SBX_SANDBOX_ACTION_CREATE &&
	    cur->expiry_time <= now)) {
		err = sbx_sandbox_transition(cur, SBX_SANDBOX_TERMINATING,
		    SBX_SANDBOX_ACTION_DELETE, cur->status ==
		    SBX_SANDBOX_FAILED ? cur->status_reason : "expired",
		    actor, "terminating", "retried by an operator", &next);
		if (err == SBX_OK)
			(void)sbx_sandbox_delete_stack(next, actor, backoff,
			    &after);
	} else if (cur->status == SBX_SANDBOX_PROVISIONING &&
	    cur->pending_action == SBX_SANDBOX_ACTION_CREATE) {
		(void)sbx_sandbox_create_stack(cur, actor, backoff, &after);
	} else if (cur->status == SBX_SANDBOX_TERMINATING &&
	    cur->pending_action == SBX_SANDBOX_ACTION_DELETE) {
		(void)sbx_sandbox_delete_stack(cur, actor, backoff, &after);
	} else {
		(void)sbx_sandbox_refresh(cur, actor, &after);
	}
	if (err == SBX_OK)
		err = sbx_sandbox_get(sb->id, out);
	sbx_sandbox_free(after);
	sbx_sandbox_free(next);
	sbx_sandbox_free(cur);
	return err;
}

enum sbx_err
sbx_reaper_forget(const struct sbx_sandbox *sb, const char *actor,
    const char *reason, struct sbx_sandbox **out)
{
	char why[700], detail[760];
	enum sbx_err err;

	*out = NULL;
	if (sb->status == SBX_SANDBOX_TERMINATED)
		return SBX_ECONFLICT;
	snprintf(why, sizeof(why), "forgotten by %s: %s",
	    actor != NULL ? actor : "an operator", reason);
	snprintf(detail, sizeof(detail), "marked TERMINATED without "
	    "deleting a stack (cleaned up by hand): %s", reason);
	err = sbx_sandbox_transition(sb, SBX_SANDBOX_TERMINATED,
	    SBX_SANDBOX_ACTION_NONE, why, actor, "terminated", detail, out);
	if (err == SBX_OK)
		sbx_log(SBX_LOG_WARN, MODULE, "sandbox %s (%s) forgotten by "
		    "%s; its stack %s is not deleted by us", sb->name, sb->id,
		    actor != NULL ? actor : "?",
		    sb->stack_id != NULL ? sb->stack_id : sb->stack_name);
	return err;
}
