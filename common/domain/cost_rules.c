/*
 * The pure parts of the cost module (see cost.h): the cost clock, months
 * in UTC, splitting a span at month starts, the sandbox's "cost" member,
 * and the budget refusal's wording. No SQL, no network: unit-tested.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/core/config.h"
#include "common/domain/cost.h"

long long
sbx_cost_now(void)
{
	const struct sbx_config *cfg = sbx_config();

	return (long long)time(NULL) +
	    (cfg != NULL ? cfg->cost_clock_offset_seconds : 0);
}

/* The start of the month months after t's, in UTC. */
static long long
month_add(long long t, int months)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	tm.tm_mday = 1;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mon += months;
	return (long long)timegm(&tm);	/* timegm normalises month 12 */
}

long long
sbx_cost_month_start(long long t)
{
	return month_add(t, 0);
}

long long
sbx_cost_month_next(long long month_start)
{
	return month_add(month_start, 1);
}

/* t's month in UTC: "YYYY-MM", or with first_day "YYYY-MM-01". */
static void
month_format(long long t, int first_day, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, first_day ? "%Y-%m-01" : "%Y-%m", &tm);
}

void
sbx_cost_month_name(long long t, char *buf, size_t len)
{
	month_format(t, 0, buf, len);
}

void
sbx_cost_month_date(long long t, char *buf, size_t len)
{
	month_format(t, 1, buf, len);
}

long long
sbx_cost_month_parse(const char *s)
{
	struct tm tm;
	int i;

	if (s == NULL || strlen(s) != 7 || s[4] != '-')
		return -1;
	for (i = 0; i < 7; i++)
		if (i != 4 && (s[i] < '0' || s[i] > '9'))
			return -1;
	/* Every character was checked to be a digit: read them as such. */
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0') - 1900;
	tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
	tm.tm_mday = 1;
	if (tm.tm_year < 100 || tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	return (long long)timegm(&tm);
}

void
sbx_cost_split(long long from, long long to,
    void (*fn)(long long month_start, double hours, void *arg), void *arg)
{
	long long m, next, end;

	while (from < to) {
		m = sbx_cost_month_start(from);
		next = sbx_cost_month_next(m);
		end = to < next ? to : next;
		fn(m, (double)(end - from) / 3600.0, arg);
		from = end;
	}
}

double
sbx_cost_round(double usd)
{
	return round(usd * 1e6) / 1e6;
}

double
sbx_cost_usd_parse(const char *s)
{
	char *end;
	double v;
	int dot = 0, digits = 0;
	const char *p;

	if (s == NULL || s[0] == '\0')
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (*p == '.' && !dot)
			dot = 1;
		else if (*p >= '0' && *p <= '9')
			digits++;
		else
			return -1;
	}
	if (digits == 0)
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0)
		return -1;
	return v;
}

void
sbx_cost_budget_detail(char *buf, size_t len, double add, double committed,
    double budget)
{
	if (add < 0)
		snprintf(buf, len, "this sandbox's cost is not known yet; $%.2f "
		    "of $%.2f is committed this month", committed, budget);
	else
		snprintf(buf, len, "this sandbox would add $%.2f; $%.2f of "
		    "$%.2f is committed this month", add, committed, budget);
}

static void
add_time(cJSON *o, const char *name, long long t)
{
	char buf[32];
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, name, buf);
}

cJSON *
sbx_cost_view(const char *raw, long long expiry_time, long long now)
{
	cJSON *a = NULL, *o = NULL, *h, *acc, *at, *on, *unp, *est;
	double hourly = 0, accrued = 0, projected;
	long long accrued_at;
	int known_rate, accruing;

	if (raw == NULL || (a = cJSON_Parse(raw)) == NULL ||
	    !cJSON_IsArray(a) || cJSON_GetArraySize(a) < 6)
		goto none;
	h = cJSON_GetArrayItem(a, 0);
	acc = cJSON_GetArrayItem(a, 1);
	at = cJSON_GetArrayItem(a, 2);
	on = cJSON_GetArrayItem(a, 3);
	unp = cJSON_GetArrayItem(a, 4);
	est = cJSON_GetArrayItem(a, 5);
	known_rate = cJSON_IsNumber(h);
	/* Nothing estimated yet: null, not a guess. */
	if (!cJSON_IsNumber(est))
		goto none;
	if (known_rate)
		hourly = h->valuedouble;
	accrued = cJSON_IsNumber(acc) ? acc->valuedouble : 0;
	accrued_at = cJSON_IsNumber(at) ? (long long)at->valuedouble : 0;
	accruing = cJSON_IsTrue(on);
	if (accruing && known_rate && accrued_at > 0 && now > accrued_at)
		accrued += hourly * (double)(now - accrued_at) / 3600.0;
	projected = accrued;
	if (accruing && known_rate && expiry_time > now)
		projected += hourly * (double)(expiry_time - now) / 3600.0;
	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	cJSON_AddStringToObject(o, "currency", "USD");
	if (known_rate) {
		cJSON_AddNumberToObject(o, "hourly", sbx_cost_round(hourly));
		cJSON_AddNumberToObject(o, "accrued", sbx_cost_round(accrued));
		cJSON_AddNumberToObject(o, "projected",
		    sbx_cost_round(projected));
	} else {
		cJSON_AddNullToObject(o, "hourly");
		cJSON_AddNumberToObject(o, "accrued", sbx_cost_round(accrued));
		cJSON_AddNullToObject(o, "projected");
	}
	cJSON_AddItemToObject(o, "unpriced", cJSON_IsArray(unp) ?
	    cJSON_Duplicate(unp, 1) : cJSON_CreateArray());
	add_time(o, "updated_at", (long long)est->valuedouble);
	goto out;
none:
	o = cJSON_CreateNull();
out:
	cJSON_Delete(a);
	return o;
}
