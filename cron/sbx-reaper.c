/*
 * sbx-reaper: keeps the promise that nothing outlives its expiry. A thin
 * main over common/domain/reaper.h: reads the command line and the settings,
 * runs once (or every --loop seconds), prints one JSON line per run on
 * stdout, and exits 0 when the run completed or 1 when an operator must
 * look. Linked without libfcgi.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/core/config.h"
#include "common/core/json.h"
#include "common/core/log.h"
#include "common/domain/metrics.h"
#include "common/domain/reaper.h"

#define PROG "sbx-reaper"

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t stop_flag;

static void
on_signal(int sig)
{
	stop_signal = sig;
	stop_flag = 1;
}

/* TERM and INT end a --loop (after the row at hand), not mid-statement. */
static void
catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The figures of GET /metrics, read again after the run and added to the
 * summary in CloudWatch Embedded Metric Format (namespace
 * METRICS_NAMESPACE): in the cloud the summary line goes to CloudWatch
 * Logs, which turns them into metrics with no API call of ours. Not for
 * a dry run (an operator's look, not a run), nor when the database is
 * out of reach (the summary's "ok": false says so, and the missing
 * points are what the alarms treat as breaching).
 */
static void
add_emf(cJSON *sum)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_metrics m;
	struct timeval tv;

	if (sbx_metrics_collect(cfg->metrics_overdue_grace_seconds, &m) !=
	    SBX_OK)
		return;
	gettimeofday(&tv, NULL);
	if (sbx_metrics_emf_add(sum, &m, cfg->metrics_namespace,
	    (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000) != SBX_OK)
		sbx_log(SBX_LOG_ERROR, "reaper", "out of memory adding the "
		    "metrics to the summary");
}

static int
one_run(const struct sbx_reaper_args *a)
{
	struct sbx_reaper_opts o;
	struct sbx_reaper_result r;
	cJSON *sum;
	char *line = NULL;
	enum sbx_err err;

	memset(&o, 0, sizeof(o));
	o.dry_run = a->dry_run;
	o.limit = a->limit;
	o.delete_orphans = a->delete_orphans;
	o.verbose = a->verbose;
	o.out = stdout;
	err = sbx_reaper_run(&o, &stop_flag, &r);
	if (r.operator_error)
		fprintf(stderr, PROG ": %s\n", r.error);
	sum = sbx_reaper_summary(&r, a->dry_run);
	if (sum != NULL && !a->dry_run && err != SBX_EUNAVAILABLE)
		add_emf(sum);
	line = sum != NULL ? sbx_json_print(sum) : NULL;
	if (line != NULL)
		printf("%s\n", line);
	else
		printf("{\"ok\": false, \"error\": \"out of memory\"}\n");
	fflush(stdout);
	cJSON_free(line);
	cJSON_Delete(sum);
	sbx_reaper_result_fini(&r);
	return err == SBX_OK ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct sbx_reaper_args a;
	char err[256];
	int rc;

	if (sbx_reaper_parse_args(argc, argv, &a, err, sizeof(err)) !=
	    SBX_OK) {
		fprintf(stderr, PROG ": %s (see " PROG " --help)\n", err);
		return 1;
	}
	if (a.help) {
		sbx_reaper_usage(stdout);
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sbx_config_load(PROG, SBX_NEED_DB | SBX_NEED_AWS |
	    SBX_NEED_SANDBOX | SBX_NEED_REAPER | SBX_NEED_NOTIFY) != SBX_OK)
		return 1;
	if (a.verbose)
		sbx_log_set_level(SBX_LOG_DEBUG);
	catch_signals();

	rc = one_run(&a);
	while (a.loop_seconds > 0 && !stop_flag) {
		struct timespec ts = { a.loop_seconds, 0 };

		/* A signal cuts the sleep short (no SA_RESTART). */
		while (nanosleep(&ts, &ts) != 0 && !stop_flag)
			;
		if (stop_flag)
			break;
		rc = one_run(&a);
	}
	if (stop_signal != 0)
		sbx_log(SBX_LOG_INFO, "reaper", "stopped by signal %d",
		    (int)stop_signal);
	return rc;
}
