/*
 * The metrics snapshot written out: the Prometheus text (every name with
 * HELP and TYPE, +Inf before the first reaper run) and the CloudWatch EMF
 * members of the reaper's summary (the same names and values, a valid
 * directive), and what "failed" of a run's counts adds up.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/domain/metrics.h"

static const char *const names[] = {
	"sbx_sandboxes_overdue",
	"sbx_sandboxes_overdue_oldest_age_seconds",
	"sbx_sandboxes_stuck",
	"sbx_reaper_last_run_age_seconds",
	"sbx_reaper_last_run_terminated",
	"sbx_reaper_last_run_failed",
	"sbx_webhook_outbox_depth",
	"sbx_webhook_oldest_pending_age_seconds",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void
sample(struct sbx_metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->by_status[SBX_SANDBOX_ACTIVE] = 7;
	m->by_status[SBX_SANDBOX_TERMINATING] = 2;
	m->overdue = 3;
	m->overdue_oldest_age = 901;
	m->stuck = 1;
	m->have_last_run = 1;
	m->last_run_age = 42;
	m->last_run_terminated = 5;
	m->last_run_failed = 4;
	m->outbox_depth = 11;
	m->outbox_oldest_age = 60;
}

/* The line "name value" of text, or NULL. */
static const char *
sample_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return p;
		p += n;
	}
	return NULL;
}

static void
test_prometheus(void **state)
{
	struct sbx_metrics m;
	char *t, line[256];
	size_t i;

	(void)state;
	sample(&m);
	t = sbx_metrics_prometheus(&m);
	assert_non_null(t);
	assert_non_null(sample_line(t, "# TYPE sbx_sandboxes gauge"));
	assert_non_null(strstr(t, "# HELP sbx_sandboxes "));
	assert_non_null(sample_line(t, "sbx_sandboxes{status=\"ACTIVE\"} 7"));
	assert_non_null(sample_line(t,
	    "sbx_sandboxes{status=\"TERMINATING\"} 2"));
	assert_non_null(sample_line(t,
	    "sbx_sandboxes{status=\"PROVISIONING\"} 0"));
	assert_non_null(sample_line(t, "sbx_sandboxes{status=\"FAILED\"} 0"));
	assert_null(strstr(t, "status=\"TERMINATED\""));
	for (i = 0; i < NNAMES; i++) {
		snprintf(line, sizeof(line), "# TYPE %s gauge", names[i]);
		assert_non_null(sample_line(t, line));
		snprintf(line, sizeof(line), "# HELP %s ", names[i]);
		assert_non_null(strstr(t, line));
	}
	assert_non_null(sample_line(t, "sbx_sandboxes_overdue 3"));
	assert_non_null(sample_line(t,
	    "sbx_sandboxes_overdue_oldest_age_seconds 901"));
	assert_non_null(sample_line(t, "sbx_sandboxes_stuck 1"));
	assert_non_null(sample_line(t, "sbx_reaper_last_run_age_seconds 42"));
	assert_non_null(sample_line(t, "sbx_reaper_last_run_terminated 5"));
	assert_non_null(sample_line(t, "sbx_reaper_last_run_failed 4"));
	assert_non_null(sample_line(t, "sbx_webhook_outbox_depth 11"));
	assert_non_null(sample_line(t,
	    "sbx_webhook_oldest_pending_age_seconds 60"));
	/* The format wants the text to end with a line feed. */
	assert_int_equal(t[strlen(t) - 1], '\n');
	free(t);

	m.have_last_run = 0;
	t = sbx_metrics_prometheus(&m);
	assert_non_null(t);
	assert_non_null(sample_line(t,
	    "sbx_reaper_last_run_age_seconds +Inf"));
	free(t);
}

static void
test_emf(void **state)
{
	struct sbx_metrics m;
	cJSON *o, *aws, *d, *list, *item;
	size_t i;
	int n;

	(void)state;
	sample(&m);
	o = cJSON_CreateObject();
	assert_non_null(o);
	assert_int_equal(sbx_metrics_emf_add(o, &m, "Sbx/test",
	    1764151230123LL), SBX_OK);
	aws = cJSON_GetObjectItemCaseSensitive(o, "_aws");
	assert_true(cJSON_IsObject(aws));
	assert_true(cJSON_GetObjectItem(aws, "Timestamp")->valuedouble ==
	    1764151230123.0);
	d = cJSON_GetArrayItem(cJSON_GetObjectItem(aws, "CloudWatchMetrics"),
	    0);
	assert_non_null(d);
	assert_string_equal(cJSON_GetObjectItem(d, "Namespace")->valuestring,
	    "Sbx/test");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(d,
	    "Dimensions")), 1);
	list = cJSON_GetObjectItem(d, "Metrics");
	assert_int_equal(cJSON_GetArraySize(list), (int)NNAMES);
	for (i = 0; i < NNAMES; i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, names[i]);

		assert_true(cJSON_IsNumber(v));
		n = 0;
		cJSON_ArrayForEach(item, list)
			if (strcmp(cJSON_GetObjectItem(item,
			    "Name")->valuestring, names[i]) == 0)
				n++;
		assert_int_equal(n, 1);
	}
	assert_int_equal(cJSON_GetObjectItem(o,
	    "sbx_sandboxes_overdue")->valueint, 3);
	assert_int_equal(cJSON_GetObjectItem(o,
	    "sbx_reaper_last_run_age_seconds")->valueint, 42);
	cJSON_Delete(o);

	/* Before any completed run the age is left out, not a fake number. */
	m.have_last_run = 0;
	o = cJSON_CreateObject();
	assert_int_equal(sbx_metrics_emf_add(o, &m, "Sbx", 1), SBX_OK);
	assert_null(cJSON_GetObjectItem(o, "sbx_reaper_last_run_age_seconds"));
	list = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(
	    cJSON_GetObjectItem(o, "_aws"), "CloudWatchMetrics"), 0), "Metrics");
	assert_int_equal(cJSON_GetArraySize(list), (int)NNAMES - 1);
	cJSON_Delete(o);
}

static void
test_failed_of_counts(void **state)
{
	cJSON *c = cJSON_Parse("{\"delete_retry\": 2, \"create_retry\": 1,"
	    " \"errors\": 3, \"failed\": 9, \"terminated\": 4}");

	(void)state;
	assert_int_equal(sbx_metrics_failed_of_counts(c), 6);
	cJSON_Delete(c);
	assert_int_equal(sbx_metrics_failed_of_counts(NULL), 0);
	c = cJSON_Parse("[1, 2]");
	assert_int_equal(sbx_metrics_failed_of_counts(c), 0);
	cJSON_Delete(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_emf),
		cmocka_unit_test(test_failed_of_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
