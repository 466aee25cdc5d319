/*
 * The pure rules of the sandbox domain: status names and the lifecycle,
 * the mapping from CloudFormation's StackStatus, names, the TTL check and
 * expiry arithmetic, and the API's JSON shape of a sandbox. No I/O here,
 * so tests/unit/test_sandbox_rules.c covers it all without a database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/domain/cost.h"
#include "common/core/json.h"
#include "common/core/util.h"
#include "common/domain/sandbox.h"
#include "common/domain/template.h"

static const char *const status_names[SBX_SANDBOX_STATUS__MAX] = {
	[SBX_SANDBOX_PROVISIONING] = "PROVISIONING",
	[SBX_SANDBOX_ACTIVE] = "ACTIVE",
	[SBX_SANDBOX_FAILED] = "FAILED",
	[SBX_SANDBOX_TERMINATING] = "TERMINATING",
	[SBX_SANDBOX_TERMINATED] = "TERMINATED",
};

static const char *const action_names[SBX_SANDBOX_ACTION__MAX] = {
	[SBX_SANDBOX_ACTION_NONE] = "none",
	[SBX_SANDBOX_ACTION_CREATE] = "create",
	[SBX_SANDBOX_ACTION_DELETE] = "delete",
};

const char *
sbx_sandbox_status_name(enum sbx_sandbox_status st)
{
	if ((unsigned)st >= SBX_SANDBOX_STATUS__MAX)
		return "UNKNOWN";
	return status_names[st];
}

enum sbx_err
sbx_sandbox_status_parse(const char *name, enum sbx_sandbox_status *out)
{
	size_t i;

	if (name == NULL)
		return SBX_EINVAL;
	for (i = 0; i < SBX_SANDBOX_STATUS__MAX; i++) {
		if (strcmp(name, status_names[i]) == 0) {
			*out = (enum sbx_sandbox_status)i;
			return SBX_OK;
		}
	}
	return SBX_EINVAL;
}

const char *
sbx_sandbox_action_name(enum sbx_sandbox_action a)
{
	if ((unsigned)a >= SBX_SANDBOX_ACTION__MAX)
		return "none";
	return action_names[a];
}

int
sbx_sandbox_status_live(enum sbx_sandbox_status st)
{
	return st != SBX_SANDBOX_TERMINATED;
}

static int
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

enum sbx_err
sbx_sandbox_status_from_cfn(const char *stack_status,
    enum sbx_sandbox_status *out, int *retry_delete)
{
	int retry = 0;
	enum sbx_sandbox_status st;

	if (stack_status == NULL) {
		st = SBX_SANDBOX_TERMINATED;
	} else if (strcmp(stack_status, "CREATE_IN_PROGRESS") == 0 ||
	    strcmp(stack_status, "REVIEW_IN_PROGRESS") == 0) {
		st = SBX_SANDBOX_PROVISIONING;
	} else if (strcmp(stack_status, "CREATE_COMPLETE") == 0) {
		st = SBX_SANDBOX_ACTIVE;
	} else if (strcmp(stack_status, "CREATE_FAILED") == 0 ||
	    has_prefix(stack_status, "ROLLBACK_")) {
		st = SBX_SANDBOX_FAILED;
	} else if (strcmp(stack_status, "DELETE_IN_PROGRESS") == 0) {
		st = SBX_SANDBOX_TERMINATING;
	} else if (strcmp(stack_status, "DELETE_FAILED") == 0) {
		st = SBX_SANDBOX_TERMINATING;
		retry = 1;
	} else if (strcmp(stack_status, "DELETE_COMPLETE") == 0) {
		st = SBX_SANDBOX_TERMINATED;
	} else {
		return SBX_EINVAL;
	}
	*out = st;
	if (retry_delete != NULL)
		*retry_delete = retry;
	return SBX_OK;
}

/*
 * The lifecycle of DESIGN.md section 4, plus two repairs: PROVISIONING
 * may go straight to TERMINATING (deleted or expired before the stack was
 * complete) or to TERMINATED (the create never reached AWS and the
 * sandbox expired, or CloudFormation says the stack is gone); FAILED may
 * become ACTIVE only never. Every live status may be terminated.
 */
int
sbx_sandbox_transition_valid(enum sbx_sandbox_status from,
    enum sbx_sandbox_status to)
{
	switch (from) {
	case SBX_SANDBOX_PROVISIONING:
		return to == SBX_SANDBOX_ACTIVE || to == SBX_SANDBOX_FAILED ||
		    to == SBX_SANDBOX_TERMINATING ||
		    to == SBX_SANDBOX_TERMINATED;
	case SBX_SANDBOX_ACTIVE:
		return to == SBX_SANDBOX_TERMINATING ||
		    to == SBX_SANDBOX_TERMINATED;
	case SBX_SANDBOX_FAILED:
		return to == SBX_SANDBOX_TERMINATING ||
		    to == SBX_SANDBOX_TERMINATED;
	case SBX_SANDBOX_TERMINATING:
		return to == SBX_SANDBOX_TERMINATED;
	case SBX_SANDBOX_TERMINATED:
	case SBX_SANDBOX_STATUS__MAX:
		break;
	}
	return 0;
}

int
sbx_sandbox_name_valid(const char *name)
{
	return sbx_util_chars_valid(name, 3, 63, SBX_UTIL_LOWER,
	    SBX_UTIL_LOWER SBX_UTIL_DIGITS "-");
}

enum sbx_err
sbx_sandbox_ttl_check(const struct sbx_ttl_bounds *b, long long requested,
    int given, long *ttl, char *detail, size_t detail_len)
{
	if (!given) {
		*ttl = b->default_minutes;
		return SBX_OK;
	}
	if (requested < 1 || requested > b->max_minutes) {
		snprintf(detail, detail_len,
		    "ttl_minutes must be an integer from 1 to %ld",
		    b->max_minutes);
		return SBX_EINVAL;
	}
	*ttl = (long)requested;
	return SBX_OK;
}

long long
sbx_sandbox_expiry(long long created_at, long ttl_minutes)
{
	return created_at + (long long)ttl_minutes * 60;
}

long long
sbx_sandbox_max_expiry(long long created_at, long lifetime_minutes)
{
	return created_at + (long long)lifetime_minutes * 60;
}

/* A year in minutes: any extension beyond it is nonsense, not arithmetic. */
#define EXTEND_MINUTES_CAP (366LL * 24 * 60)

enum sbx_err
sbx_sandbox_new_expiry(long long now, long long cur_expiry,
    long long max_expiry, long long new_expiry, long long extend_minutes,
    long long *out, char *detail, size_t detail_len)
{
	long long want;

	if (new_expiry > 0) {
		if (new_expiry <= now) {
			snprintf(detail, detail_len,
			    "expiry_time must be in the future");
			return SBX_EINVAL;
		}
		want = new_expiry;
	} else {
		if (extend_minutes < 1 || extend_minutes > EXTEND_MINUTES_CAP) {
			snprintf(detail, detail_len,
			    "extend_minutes must be a positive integer");
			return SBX_EINVAL;
		}
		want = cur_expiry + extend_minutes * 60;
	}
	if (want > max_expiry) {
		char buf[40];

		sbx_time_format(max_expiry, buf, sizeof(buf));
		snprintf(detail, detail_len,
		    "the expiry cannot be later than max_expiry_time %s", buf);
		return SBX_ECONFLICT;
	}
	*out = want;
	return SBX_OK;
}

static void
add_time(cJSON *obj, const char *name, long long t)
{
	char buf[40];

	if (t <= 0) {
		cJSON_AddNullToObject(obj, name);
		return;
	}
	sbx_time_format(t, buf, sizeof(buf));
	cJSON_AddStringToObject(obj, name, buf);
}

/* A time member's value: null when not set, else RFC 3339 UTC. */
static void
buf_time(struct sbx_util_buf *b, long long t)
{
	char buf[40];

	if (t <= 0) {
		sbx_util_buf_addn(b, "null", 4);
		return;
	}
	sbx_time_format(t, buf, sizeof(buf));
	sbx_json_buf_str(b, buf);
}

/* ,"name": -- every member but the first. */
#define MEMBER(b, name) sbx_util_buf_addn((b), ",\"" name "\":", \
	sizeof(name) + 3)

int
sbx_sandbox_json_write(struct sbx_util_buf *b, const struct sbx_sandbox *sb,
    long long now, int retries)
{
	char num[32];
	cJSON *cost;

	sbx_util_buf_addn(b, "{\"id\":", 6);
	sbx_json_buf_str(b, sb->id);
	MEMBER(b, "name");
	sbx_json_buf_str(b, sb->name);
	MEMBER(b, "owner");
	sbx_json_buf_str(b, sb->owner_email);
	MEMBER(b, "template");
	sbx_json_buf_str(b, sb->template_name);
	MEMBER(b, "template_version");
	if (sb->template_version > 0) {
		snprintf(num, sizeof(num), "%ld", sb->template_version);
		sbx_util_buf_add(b, num);
	} else
		sbx_util_buf_addn(b, "null", 4);
	MEMBER(b, "status");
	sbx_json_buf_str(b, sbx_sandbox_status_name(sb->status));
	MEMBER(b, "status_reason");
	sbx_json_buf_str(b, sb->status_reason);
	MEMBER(b, "stack_id");
	sbx_json_buf_str(b, sb->stack_id);
	MEMBER(b, "parameters");
	if (sb->parameters != NULL)
		sbx_json_buf_object_text(b, sb->parameters);
	else
		sbx_util_buf_addn(b, "{}", 2);
	MEMBER(b, "outputs");
	sbx_json_buf_object_text(b, sb->outputs);
	MEMBER(b, "created_at");
	buf_time(b, sb->created_at);
	MEMBER(b, "expiry_time");
	buf_time(b, sb->expiry_time);
	MEMBER(b, "max_expiry_time");
	buf_time(b, sb->max_expiry_time);
	MEMBER(b, "terminated_at");
	buf_time(b, sb->terminated_at);
	/* null until the reaper has estimated it (cost.h). */
	MEMBER(b, "cost");
	if (sb->cost == NULL)
		sbx_util_buf_addn(b, "null", 4);
	else {
		cost = sbx_cost_view(sb->cost, sb->expiry_time, now);
		if (cost == NULL && b->err == SBX_OK)
			b->err = SBX_ENOMEM;
		if (cost != NULL)
			sbx_json_buf_item(b, cost);
		cJSON_Delete(cost);
	}
	if (retries) {
		MEMBER(b, "attempts");
		snprintf(num, sizeof(num), "%ld", sb->attempts);
		sbx_util_buf_add(b, num);
		MEMBER(b, "stuck");
		if (sb->stuck)
			sbx_util_buf_addn(b, "true", 4);
		else
			sbx_util_buf_addn(b, "false", 5);
	}
	return sbx_util_buf_addn(b, "}", 1);
}

/*
 * The tree form parses the text form, so that the two cannot drift apart:
 * the text writer above is the only place that knows the shape.
 */
cJSON *
sbx_sandbox_to_json(const struct sbx_sandbox *sb)
{
	struct sbx_util_buf b = { 0 };
	cJSON *o = NULL;

	if (sbx_sandbox_json_write(&b, sb, sbx_cost_now(), 0) == 0)
		o = cJSON_Parse(b.p);
	sbx_util_buf_fini(&b);
	return o;
}

void
sbx_sandbox_free(struct sbx_sandbox *sb)
{
	if (sb == NULL)
		return;
	free(sb->id);
	free(sb->name);
	free(sb->owner_id);
	free(sb->owner_email);
	free(sb->template_name);
	free(sb->status_reason);
	free(sb->stack_name);
	free(sb->stack_id);
	free(sb->parameters);
	sbx_util_wipe_free(sb->stack_parameters);
	free(sb->outputs);
	free(sb->cost);
	free(sb);
}

void
sbx_sandbox_list_fini(struct sbx_sandbox_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		sbx_sandbox_free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

static void
event_fini(struct sbx_sandbox_event *ev)
{
	free(ev->id);
	free(ev->sandbox_id);
	free(ev->actor);
	free(ev->action);
	free(ev->from_status);
	free(ev->to_status);
	free(ev->detail);
}

void
sbx_sandbox_event_list_fini(struct sbx_sandbox_event_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++)
		event_fini(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->n = 0;
}

cJSON *
sbx_sandbox_event_to_json(const struct sbx_sandbox_event *ev)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	add_time(o, "time", ev->time);
	sbx_json_add_str_or_null(o, "actor", ev->actor);
	sbx_json_add_str_or_null(o, "action", ev->action);
	sbx_json_add_str_or_null(o, "from_status", ev->from_status);
	sbx_json_add_str_or_null(o, "to_status", ev->to_status);
	sbx_json_add_str_or_null(o, "detail", ev->detail);
	return o;
}

long
sbx_sandbox_backoff_seconds(long base, long attempts)
{
	long s = base > 0 ? base : 1;
	long i;

	for (i = 1; i < attempts && s < SBX_SANDBOX_BACKOFF_CAP_SECONDS; i++)
		s *= 2;
	return s > SBX_SANDBOX_BACKOFF_CAP_SECONDS ?
	    SBX_SANDBOX_BACKOFF_CAP_SECONDS : s;
}

int
sbx_sandbox_uuid_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != 36)
		return 0;
	for (i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

enum sbx_err
sbx_sandbox_uuid_new(char *buf, size_t len)
{
	unsigned char b[16];
	size_t got = 0;

	if (len < 37)
		return SBX_EINVAL;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n <= 0)
			return SBX_EIO;
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return SBX_OK;
}
