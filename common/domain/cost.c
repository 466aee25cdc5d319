/*
 * The cost module's database and AWS side (see cost.h): the price cache,
 * the estimate of a stack from its real resources, the accrual split by
 * month, budgets, the reports, and the reaper's step.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "common/io/aws.h"
#include "common/io/cfn.h"
#include "common/core/config.h"
#include "common/domain/cost.h"
#include "common/io/db.h"
#include "common/io/ec2.h"
#include "common/core/log.h"
#include "common/io/pricing.h"

#define MODULE "cost"

static void
fmt_num(char *buf, size_t len, double v)
{
	snprintf(buf, len, "%.10f", v);
}

static void
fmt_ll(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld", v);
}

/*
 * A statement whose rows nobody reads, on conn inside a transaction or on
 * its own; *rows (may be NULL) gets the count it changed.
 */
static enum sbx_err
run(PGconn *conn, const char *name, const char *sql, int n,
    const char *const *p, long *rows)
{
	PGresult *res = NULL;
	enum sbx_err err;

	err = conn != NULL ? sbx_db_query(conn, name, sql, n, p, &res) :
	    sbx_db_exec(name, sql, n, p, &res);
	if (err == SBX_OK && rows != NULL)
		*rows = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ prices */

static const char sql_price_get[] =
    "SELECT usd::text AS usd, unit,"
    " CASE WHEN fetched_at > to_timestamp($4::bigint) -"
    "  make_interval(hours => $5::int) THEN 1 ELSE 0 END AS fresh"
    " FROM price_cache WHERE service = $1 AND region = $2"
    " AND attributes = $3";

static const char sql_price_put[] =
    "INSERT INTO price_cache (service, region, attributes, usd, unit,"
    " fetched_at) VALUES ($1, $2, $3, $4::numeric, $5,"
    " to_timestamp($6::bigint))"
    " ON CONFLICT (service, region, attributes) DO UPDATE SET"
    " usd = EXCLUDED.usd, unit = EXCLUDED.unit,"
    " fetched_at = EXCLUDED.fetched_at";

/* The cache key of a query: "field=value;..." without the region. */
static void
attrs_key(const struct sbx_pricing_filter *f, size_t n, char *buf,
    size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < n && off < len; i++) {
		if (strcmp(f[i].field, "regionCode") == 0)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s=%s",
		    off > 0 ? ";" : "", f[i].field, f[i].value);
	}
}

/*
 * A price: from the cache when fresh (or when cache_only), else from the
 * Price List, stored for PRICE_CACHE_HOURS. *known 0 when the Price List
 * has no such product (or, cache_only, nothing is cached). An error only
 * when the Price List or the database could not be asked.
 */
static enum sbx_err
price(const char *region, const struct sbx_pricing_filter *f, size_t n,
    int cache_only, double *usd, char *unit, size_t ulen, int *known)
{
	const struct sbx_config *cfg = sbx_config();
	struct sbx_pricing_price p;
	struct sbx_aws_error ae;
	PGresult *res = NULL;
	char key[512], now[32], hours[32], v[64];
	enum sbx_err err;

	*known = 0;
	*usd = 0;
	attrs_key(f, n, key, sizeof(key));
	/* Prices age by the wall clock, not the cost clock (cost.h). */
	fmt_ll(now, sizeof(now), (long long)time(NULL));
	snprintf(hours, sizeof(hours), "%ld", cfg->price_cache_hours);
	{
		const char *prm[5] = { "AmazonEC2", region, key, now, hours };

		err = sbx_db_exec("cost_price_get", sql_price_get, 5, prm,
		    &res);
	}
	if (err != SBX_OK)
		return err;
	if (PQntuples(res) == 1 && (cache_only ||
	    strcmp(sbx_db_get(res, 0, "fresh"), "1") == 0)) {
		if (sbx_db_get(res, 0, "usd") != NULL) {
			*usd = sbx_db_num(res, 0, "usd", 0);
			snprintf(unit, ulen, "%s", sbx_db_get(res, 0, "unit") ?
			    sbx_db_get(res, 0, "unit") : "");
			*known = 1;
		}
		PQclear(res);
		return SBX_OK;
	}
	PQclear(res);
	if (cache_only)
		return SBX_OK;
	err = sbx_pricing_get("AmazonEC2", f, n, &p, &ae);
	if (err != SBX_OK) {
		sbx_log(SBX_LOG_WARN, MODULE, "the Price List could not be "
		    "asked for %s: %s (%s)", key, sbx_strerror(err), ae.code);
		return err;
	}
	if (p.found) {
		*usd = p.usd;
		*known = 1;
		snprintf(unit, ulen, "%s", p.unit);
	}
	fmt_num(v, sizeof(v), p.usd);
	{
		const char *prm[6] = { "AmazonEC2", region, key,
		    p.found ? v : NULL, p.found ? p.unit : NULL, now };

		err = run(NULL, "cost_price_put", sql_price_put, 6, prm, NULL);
	}
	return err;
}

static enum sbx_err
instance_hourly(const char *type, const char *os, const char *tenancy,
    const char *region, int cache_only, double *usd, int *known)
{
	struct sbx_pricing_filter f[] = {
		{ "capacitystatus", "Used" },
		{ "instanceType", type },
		{ "operatingSystem", os },
		{ "preInstalledSw", "NA" },
		{ "regionCode", region },
		{ "tenancy", tenancy },
	};
	char unit[16] = "";
	enum sbx_err err;

	err = price(region, f, sizeof(f) / sizeof(f[0]), cache_only, usd,
	    unit, sizeof(unit), known);
	if (err == SBX_OK && *known && strcmp(unit, "Hrs") != 0)
		*known = 0;	/* a unit we do not know how to read */
	return err;
}

static enum sbx_err
volume_hourly(const char *api_name, long size_gib, const char *region,
    double *usd, int *known)
{
	struct sbx_pricing_filter f[] = {
		{ "productFamily", "Storage" },
		{ "regionCode", region },
		{ "volumeApiName", api_name },
	};
	char unit[16] = "";
	double per_gb_month = 0;
	enum sbx_err err;

	err = price(region, f, sizeof(f) / sizeof(f[0]), 0, &per_gb_month,
	    unit, sizeof(unit), known);
	if (err == SBX_OK && *known && strcmp(unit, "GB-Mo") != 0)
		*known = 0;
	*usd = *known ? per_gb_month * (double)size_gib /
	    SBX_COST_HOURS_PER_MONTH : 0;
	return err;
}

static const char *
region_or_default(const char *region)
{
	const struct sbx_config *cfg = sbx_config();

	if (region != NULL)
		return region;
	return cfg != NULL && cfg->aws_region != NULL ? cfg->aws_region :
	    "us-east-1";
}

enum sbx_err
sbx_cost_instance_hourly_cached(const char *instance_type, const char *region,
    double *usd, int *known)
{
	return instance_hourly(instance_type, "Linux", "Shared",
	    region_or_default(region), 1, usd, known);
}

/* The value of a template property: a string, or a {"Ref"} resolved. */
static const char *
prop_value(const cJSON *v, const cJSON *params, const cJSON *declared)
{
	const cJSON *ref, *p, *d;

	if (cJSON_IsString(v))
		return v->valuestring;
	ref = cJSON_GetObjectItemCaseSensitive(v, "Ref");
	if (!cJSON_IsString(ref))
		return NULL;
	p = cJSON_GetObjectItemCaseSensitive(params, ref->valuestring);
	if (cJSON_IsString(p))
		return p->valuestring;
	d = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(declared, ref->valuestring),
	    "Default");
	return cJSON_IsString(d) ? d->valuestring : NULL;
}

enum sbx_err
sbx_cost_template_hourly(const char *body, const cJSON *params,
    int cache_only, double *usd, int *known)
{
	cJSON *doc, *res, *r, *declared;
	const char *type, *region = region_or_default(NULL);
	double one;
	int k, instances = 0;
	enum sbx_err err = SBX_OK;

	*usd = 0;
	*known = 0;
	if (body == NULL || (doc = cJSON_Parse(body)) == NULL)
		return SBX_OK;	/* YAML, or not a template: unknown */
	res = cJSON_GetObjectItemCaseSensitive(doc, "Resources");
	declared = cJSON_GetObjectItemCaseSensitive(doc, "Parameters");
	*known = 1;
	cJSON_ArrayForEach(r, res) {
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(r, "Type");

		if (!cJSON_IsString(t) ||
		    strcmp(t->valuestring, "AWS::EC2::Instance") != 0)
			continue;
		instances++;
		type = prop_value(cJSON_GetObjectItemCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(r, "Properties"),
		    "InstanceType"), params, declared);
		/* EC2's default type when a template names none. */
		if (type == NULL)
			type = "m1.small";
		err = instance_hourly(type, "Linux", "Shared", region,
		    cache_only, &one, &k);
		if (err != SBX_OK || !k) {
			*known = 0;
			break;
		}
		*usd += one;
	}
	if (instances == 0)
		*known = 0;
	cJSON_Delete(doc);
	return err;
}

/* ------------------------------------------------------------ estimates */

/* Resource types that cost nothing by themselves. */
static int
free_type(const char *t)
{
	static const char *const free_types[] = {
		"AWS::EC2::SecurityGroup", "AWS::EC2::SecurityGroupIngress",
		"AWS::EC2::SecurityGroupEgress", "AWS::EC2::VPC",
		"AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::Route",
		"AWS::EC2::InternetGateway", "AWS::EC2::VPCGatewayAttachment",
		"AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::KeyPair",
		"AWS::EC2::VolumeAttachment", "AWS::EC2::PlacementGroup",
		"AWS::EC2::LaunchTemplate", "AWS::CloudFormation::WaitCondition",
		"AWS::CloudFormation::WaitConditionHandle",
		"AWS::SSM::Parameter", "AWS::Logs::LogGroup", NULL,
	};
	size_t i;

	if (strncmp(t, "AWS::IAM::", 10) == 0)
		return 1;
	for (i = 0; free_types[i] != NULL; i++)
		if (strcmp(t, free_types[i]) == 0)
			return 1;
	return 0;
}

static void
unpriced_add(cJSON *unpriced, const char *type)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, unpriced)
		if (cJSON_IsString(e) && strcmp(e->valuestring, type) == 0)
			return;
	cJSON_AddItemToArray(unpriced, cJSON_CreateString(type));
}

static enum sbx_err
estimate_volume(const char *id, const char *region, double *hourly,
    cJSON *unpriced)
{
	struct sbx_ec2_volume v;
	double usd;
	int known;
	enum sbx_err err;

	err = sbx_ec2_describe_volume(id, &v, NULL);
	if (err == SBX_ENOTFOUND)
		return SBX_OK;	/* gone: costs nothing any more */
	if (err != SBX_OK)
		return err;
	err = volume_hourly(v.volume_type, v.size_gib, region, &usd, &known);
	if (err == SBX_OK) {
		if (known)
			*hourly += usd;
		else
			unpriced_add(unpriced, "AWS::EC2::Volume");
	}
	sbx_ec2_volume_fini(&v);
	return err;
}

static enum sbx_err
estimate_instance(const char *id, const char *region, double *hourly,
    cJSON *unpriced)
{
	struct sbx_ec2_instance in;
	const char *os, *tenancy;
	double usd;
	size_t i;
	int known;
	enum sbx_err err;

	err = sbx_ec2_describe_instance(id, &in, NULL);
	if (err == SBX_ENOTFOUND)
		return SBX_OK;
	if (err != SBX_OK)
		return err;
	os = in.platform != NULL && strcmp(in.platform, "windows") == 0 ?
	    "Windows" : "Linux";
	tenancy = in.tenancy != NULL && strcmp(in.tenancy, "dedicated") == 0 ?
	    "Dedicated" : in.tenancy != NULL && strcmp(in.tenancy, "host") ==
	    0 ? "Host" : "Shared";
	/* Only a running (or starting) instance bills its hours. */
	if (in.state == NULL || strcmp(in.state, "running") == 0 ||
	    strcmp(in.state, "pending") == 0) {
		err = instance_hourly(in.instance_type, os, tenancy, region, 0,
		    &usd, &known);
		if (err != SBX_OK)
			goto out;
		if (known)
			*hourly += usd;
		else
			unpriced_add(unpriced, "AWS::EC2::Instance");
	}
	for (i = 0; i < in.nvolumes && err == SBX_OK; i++)
		err = estimate_volume(in.volume_ids[i], region, hourly,
		    unpriced);
out:
	sbx_ec2_instance_fini(&in);
	return err;
}

/*
 * The hourly cost of a stack's resources now. An error when CloudFormation,
 * EC2 or the Price List could not be asked: the caller keeps what it had.
 */
static enum sbx_err
estimate_stack(const char *stack, double *hourly, cJSON *unpriced)
{
	struct sbx_cfn_resources rs;
	const char *region = region_or_default(NULL);
	size_t i;
	enum sbx_err err;

	*hourly = 0;
	err = sbx_cfn_describe_stack_resources(stack, &rs, NULL);
	if (err != SBX_OK)
		return err;
	for (i = 0; i < rs.n && err == SBX_OK; i++) {
		const struct sbx_cfn_resource *r = &rs.v[i];

		if (r->status != NULL && strncmp(r->status, "DELETE_", 7) == 0 &&
		    strcmp(r->status, "DELETE_FAILED") != 0)
			continue;
		if (strcmp(r->resource_type, "AWS::EC2::Instance") == 0) {
			if (r->physical_id != NULL)
				err = estimate_instance(r->physical_id, region,
				    hourly, unpriced);
		} else if (strcmp(r->resource_type, "AWS::EC2::Volume") == 0) {
			if (r->physical_id != NULL)
				err = estimate_volume(r->physical_id, region,
				    hourly, unpriced);
		} else if (!free_type(r->resource_type)) {
			unpriced_add(unpriced, r->resource_type);
		}
	}
	sbx_cfn_resources_fini(&rs);
	return err;
}

/* ------------------------------------------------------------ accrual */

static const char sql_month_add[] =
    "INSERT INTO sandbox_cost_months (sandbox_id, month, owner_id, hours,"
    " accrued_usd) VALUES ($1::uuid, $2::date, $3::uuid, $4::numeric,"
    " $5::numeric) ON CONFLICT (sandbox_id, month) DO UPDATE SET"
    " hours = sandbox_cost_months.hours + EXCLUDED.hours,"
    " accrued_usd = sandbox_cost_months.accrued_usd + EXCLUDED.accrued_usd";

struct accrue {
	PGconn *conn;
	const char *sandbox_id, *owner_id;
	double rate;
	double total;
	enum sbx_err err;
};

static void
accrue_month(long long month, double hours, void *arg)
{
	struct accrue *a = arg;
	char m[16], h[64], usd[64];

	if (a->err != SBX_OK)
		return;
	sbx_cost_month_date(month, m, sizeof(m));
	fmt_num(h, sizeof(h), hours);
	fmt_num(usd, sizeof(usd), hours * a->rate);
	a->total += hours * a->rate;
	{
		const char *p[5] = { a->sandbox_id, m, a->owner_id, h, usd };

		a->err = run(a->conn, "cost_month_add", sql_month_add, 5, p,
		    NULL);
	}
}

static const char sql_cost_set[] =
    "UPDATE sandbox_costs SET accrued_usd = accrued_usd + $2::numeric,"
    " accrued_at = to_timestamp($3::bigint),"
    " hourly_usd = CASE WHEN $4::boolean THEN $5::numeric ELSE hourly_usd END,"
    " unpriced = CASE WHEN $4::boolean THEN $6 ELSE unpriced END,"
    " estimated_at = CASE WHEN $4::boolean THEN to_timestamp($3::bigint)"
    "  ELSE estimated_at END,"
    " attempted_at = CASE WHEN $8::boolean THEN to_timestamp($3::bigint)"
    "  ELSE attempted_at END,"
    " accruing = $9::boolean, version = version + 1"
    " WHERE sandbox_id = $1::uuid AND version = $7::bigint";

/* One settlement of a sandbox's cost row (see settle_fn). */
struct settle {
	const char *sandbox_id, *owner_id;
	long long from, to;	/* accrue [from, to) */
	double rate;		/* at this rate */
	int have_rate;
	int set_estimate;	/* store hourly/unpriced below */
	double hourly;
	const char *unpriced;
	int attempted;		/* this was a refresh attempt */
	int accruing;		/* afterwards */
	long version;
};

static enum sbx_err
settle_fn(PGconn *conn, void *arg)
{
	struct settle *s = arg;
	struct accrue a = { conn, s->sandbox_id, s->owner_id,
	    s->have_rate ? s->rate : 0, 0, SBX_OK };
	char total[64], to[32], hourly[64], version[32];
	long rows = 0;
	PGresult *res = NULL;
	enum sbx_err err;

	/*
	 * Hours count even while the rate is unknown (the month's hours
	 * ACTIVE); the money only at a known rate.
	 */
	sbx_cost_split(s->from, s->to, accrue_month, &a);
	if (a.err != SBX_OK)
		return a.err;
	fmt_num(total, sizeof(total), a.total);
	fmt_ll(to, sizeof(to), s->to > s->from ? s->to : s->from);
	fmt_num(hourly, sizeof(hourly), s->hourly);
	snprintf(version, sizeof(version), "%ld", s->version);
	{
		const char *p[9] = { s->sandbox_id, total, to,
		    s->set_estimate ? "true" : "false", hourly,
		    s->unpriced != NULL ? s->unpriced : "[]", version,
		    s->attempted ? "true" : "false",
		    s->accruing ? "true" : "false" };

		err = sbx_db_query(conn, "cost_set", sql_cost_set, 9, p, &res);
	}
	if (err == SBX_OK)
		rows = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if (err == SBX_OK && rows != 1)
		return SBX_ECONFLICT;
	return err;
}

/* ------------------------------------------------------------ the step */

static const char sql_follow[] =
    "INSERT INTO sandbox_costs (sandbox_id, owner_id, accrued_at, accruing,"
    " max_cost_usd)"
    " SELECT s.id, s.owner_id, COALESCE((SELECT min(e.time) FROM"
    "  sandbox_events e WHERE e.sandbox_id = s.id AND"
    "  e.to_status = 'ACTIVE'), s.updated_at), true, t.max_cost_usd"
    " FROM sandboxes s LEFT JOIN templates t ON t.name = s.template_name"
    "  AND t.version = s.template_version"
    " WHERE s.status = 'ACTIVE' AND NOT EXISTS (SELECT 1 FROM"
    "  sandbox_costs c WHERE c.sandbox_id = s.id)"
    " LIMIT $1::int ON CONFLICT (sandbox_id) DO NOTHING";

#define COST_ROW_COLS \
    "c.sandbox_id::text AS sandbox_id, c.owner_id::text AS owner_id," \
    " c.hourly_usd::text AS hourly_usd," \
    " floor(extract(epoch FROM c.accrued_at))::bigint AS accrued_at," \
    " c.version, s.name, s.status, COALESCE(s.stack_id, s.stack_name)" \
    " AS stack"

/* Rows that accrue but whose sandbox left ACTIVE: settle them. */
static const char sql_left[] =
    "SELECT " COST_ROW_COLS ","
    " floor(extract(epoch FROM (SELECT min(e.time) FROM sandbox_events e"
    "  WHERE e.sandbox_id = c.sandbox_id AND e.from_status = 'ACTIVE'"
    "  AND e.time >= c.accrued_at)))::bigint AS left_at"
    " FROM sandbox_costs c JOIN sandboxes s ON s.id = c.sandbox_id"
    " WHERE c.accruing AND s.status <> 'ACTIVE' LIMIT $1::int";

/* Rows due for a new estimate. */
static const char sql_due[] =
    "SELECT " COST_ROW_COLS
    " FROM sandbox_costs c JOIN sandboxes s ON s.id = c.sandbox_id"
    " WHERE c.accruing AND s.status = 'ACTIVE' AND (c.attempted_at IS NULL"
    "  OR c.attempted_at <= to_timestamp($2::bigint))"
    " ORDER BY c.attempted_at NULLS FIRST LIMIT $1::int";

static void
settle_from_row(struct settle *s, const PGresult *res, int i)
{
	memset(s, 0, sizeof(*s));
	s->sandbox_id = sbx_db_get(res, i, "sandbox_id");
	s->owner_id = sbx_db_get(res, i, "owner_id");
	s->have_rate = sbx_db_get(res, i, "hourly_usd") != NULL;
	s->rate = sbx_db_num(res, i, "hourly_usd", 0);
	s->hourly = s->rate;
	s->from = (long long)sbx_db_num(res, i, "accrued_at", 0);
	s->version = (long)sbx_db_num(res, i, "version", 0);
	s->accruing = 1;
}

static enum sbx_err
settle_left(long batch, int dry_run)
{
	const struct sbx_config *cfg = sbx_config();
	PGresult *res = NULL;
	char lim[32];
	long long now = sbx_cost_now(), left;
	struct settle s;
	int i;
	enum sbx_err err;

	snprintf(lim, sizeof(lim), "%ld", batch);
	{
		const char *p[1] = { lim };

		err = sbx_db_exec("cost_left", sql_left, 1, p, &res);
	}
	if (err != SBX_OK)
		return err;
	for (i = 0; i < PQntuples(res) && !dry_run; i++) {
		settle_from_row(&s, res, i);
		/* The event's time is the wall clock: move it onto ours. */
		left = sbx_db_get(res, i, "left_at") != NULL ?
		    (long long)sbx_db_num(res, i, "left_at", 0) +
		    cfg->cost_clock_offset_seconds : now;
		s.to = left < now ? left : now;
		if (s.to < s.from)
			s.to = s.from;
		s.accruing = 0;
		err = sbx_db_tx(settle_fn, &s);
		if (err == SBX_ECONFLICT)
			err = SBX_OK;	/* another reaper settled it */
		if (err != SBX_OK)
			break;
	}
	PQclear(res);
	return err;
}

static enum sbx_err
refresh_due(long batch, int dry_run, struct sbx_cost_counts *c)
{
	const struct sbx_config *cfg = sbx_config();
	PGresult *res = NULL;
	char lim[32], cutoff[32];
	long long now = sbx_cost_now();
	struct settle s;
	cJSON *unpriced = NULL;
	char *unpriced_text = NULL;
	double hourly;
	int i;
	enum sbx_err err, aerr;

	snprintf(lim, sizeof(lim), "%ld", batch);
	fmt_ll(cutoff, sizeof(cutoff), now - cfg->cost_refresh_seconds);
	{
		const char *p[2] = { lim, cutoff };

		err = sbx_db_exec("cost_due", sql_due, 2, p, &res);
	}
	if (err != SBX_OK)
		return err;
	for (i = 0; i < PQntuples(res) && !dry_run; i++) {
		settle_from_row(&s, res, i);
		unpriced = cJSON_CreateArray();
		if (unpriced == NULL) {
			err = SBX_ENOMEM;
			break;
		}
		aerr = estimate_stack(sbx_db_get(res, i, "stack"), &hourly,
		    unpriced);
		now = sbx_cost_now();
		s.to = now > s.from ? now : s.from;
		s.attempted = 1;
		if (aerr == SBX_OK) {
			unpriced_text = cJSON_PrintUnformatted(unpriced);
			s.set_estimate = 1;
			s.hourly = sbx_cost_round(hourly);
			s.unpriced = unpriced_text;
			/*
			 * The first estimate counts from the time the sandbox
			 * became ACTIVE: accrued is the rate times the time
			 * ACTIVE.
			 */
			if (!s.have_rate) {
				s.rate = s.hourly;
				s.have_rate = 1;
			}
			c->refreshed++;
			sbx_log(SBX_LOG_INFO, MODULE, "%s: $%.6f an hour%s",
			    sbx_db_get(res, i, "name"), s.hourly,
			    cJSON_GetArraySize(unpriced) > 0 ?
			    " (some resources unpriced)" : "");
		} else {
			c->refresh_failed++;
			sbx_log(SBX_LOG_WARN, MODULE, "%s: the cost could not "
			    "be refreshed (%s); it keeps its last value",
			    sbx_db_get(res, i, "name"), sbx_strerror(aerr));
		}
		err = sbx_db_tx(settle_fn, &s);
		free(unpriced_text);
		unpriced_text = NULL;
		cJSON_Delete(unpriced);
		unpriced = NULL;
		if (err == SBX_ECONFLICT)
			err = SBX_OK;
		if (err != SBX_OK)
			break;
	}
	PQclear(res);
	return err;
}

/* ------------------------------------------------------------ budgets */

static const char sql_budget_of[] =
    "SELECT monthly_usd::text AS monthly_usd FROM user_budgets"
    " WHERE user_id = $1::uuid";

/*
 * The amount in column col of the row that sql finds for id (its one
 * parameter): *known is 0, *v 0, when there is no such row or the column
 * is NULL.
 */
static enum sbx_err
amount_of(const char *name, const char *sql, const char *id, const char *col,
    double *v, int *known)
{
	const char *p[1] = { id };
	PGresult *res = NULL;
	enum sbx_err err;

	*known = 0;
	*v = 0;
	if ((err = sbx_db_exec(name, sql, 1, p, &res)) != SBX_OK)
		return err;
	if (PQntuples(res) == 1 && sbx_db_get(res, 0, col) != NULL) {
		*v = sbx_db_num(res, 0, col, 0);
		*known = 1;
	}
	PQclear(res);
	return SBX_OK;
}

enum sbx_err
sbx_cost_budget_of(const char *user_id, double *budget, int *has)
{
	const struct sbx_config *cfg = sbx_config();
	enum sbx_err err;

	err = amount_of("cost_budget_of", sql_budget_of, user_id,
	    "monthly_usd", budget, has);
	if (err != SBX_OK || *has)
		return err;
	if (cfg->user_monthly_budget_usd != NULL) {
		*budget = sbx_cost_usd_parse(cfg->user_monthly_budget_usd);
		*has = *budget >= 0;
	}
	return SBX_OK;
}

/*
 * A user's month: the settled rows of the month, the live part of their
 * accruing sandboxes since accrued_at (within the month), and the
 * projected rest to expiry (within the month). $2 month date, $3 month
 * start, $4 month end, $5 now (epoch seconds of the cost clock).
 */
static const char sql_user_month[] =
    "SELECT"
    " (SELECT COALESCE(sum(m.accrued_usd), 0) FROM sandbox_cost_months m"
    "  WHERE m.owner_id = $1::uuid AND m.month = $2::date)::text AS settled,"
    " (SELECT COALESCE(sum(c.hourly_usd * greatest(0, extract(epoch FROM"
    "  (least(to_timestamp($5::bigint), to_timestamp($4::bigint)) -"
    "  greatest(c.accrued_at, to_timestamp($3::bigint))))) / 3600), 0)"
    "  FROM sandbox_costs c WHERE c.owner_id = $1::uuid AND c.accruing"
    "  AND c.hourly_usd IS NOT NULL)::text AS live,"
    " (SELECT COALESCE(sum(c.hourly_usd * greatest(0, extract(epoch FROM"
    "  (least(s.expiry_time + make_interval(secs => $6::bigint),"
    "  to_timestamp($4::bigint)) - greatest(to_timestamp($5::bigint),"
    "  to_timestamp($3::bigint))))) / 3600), 0)"
    "  FROM sandbox_costs c JOIN sandboxes s ON s.id = c.sandbox_id"
    "  WHERE c.owner_id = $1::uuid AND c.accruing"
    "  AND c.hourly_usd IS NOT NULL)::text AS rest";

static enum sbx_err
user_month_at(const char *user_id, long long month, long long now,
    double *accrued, double *committed)
{
	const struct sbx_config *cfg = sbx_config();
	PGresult *res = NULL;
	char d[16], ms[32], me[32], n[32], off[32];
	enum sbx_err err;

	sbx_cost_month_date(month, d, sizeof(d));
	fmt_ll(ms, sizeof(ms), month);
	fmt_ll(me, sizeof(me), sbx_cost_month_next(month));
	fmt_ll(n, sizeof(n), now);
	fmt_ll(off, sizeof(off), cfg->cost_clock_offset_seconds);
	{
		const char *p[6] = { user_id, d, ms, me, n, off };

		err = sbx_db_exec("cost_user_month", sql_user_month, 6, p,
		    &res);
	}
	if (err != SBX_OK)
		return err;
	*accrued = sbx_db_num(res, 0, "settled", 0) + sbx_db_num(res, 0, "live", 0);
	*committed = *accrued + sbx_db_num(res, 0, "rest", 0);
	PQclear(res);
	return SBX_OK;
}

enum sbx_err
sbx_cost_user_month(const char *user_id, long long now, double *accrued,
    double *committed)
{
	return user_month_at(user_id, sbx_cost_month_start(now), now, accrued,
	    committed);
}

enum sbx_err
sbx_cost_budget_check(const char *user_id, double add, int *refused,
    char *detail, size_t detail_len)
{
	double budget, accrued, committed;
	int has;
	enum sbx_err err;

	*refused = 0;
	if ((err = sbx_cost_budget_of(user_id, &budget, &has)) != SBX_OK ||
	    !has)
		return err;
	err = sbx_cost_user_month(user_id, sbx_cost_now(), &accrued,
	    &committed);
	if (err != SBX_OK)
		return err;
	if (committed >= budget || committed + (add > 0 ? add : 0) > budget) {
		*refused = 1;
		sbx_cost_budget_detail(detail, detail_len, add, committed,
		    budget);
	}
	return SBX_OK;
}

static const char sql_budget_set[] =
    "INSERT INTO user_budgets (user_id, monthly_usd, updated_at, updated_by)"
    " SELECT u.id, $2::numeric, now(), $3 FROM users u"
    " WHERE lower(u.email) = lower($1)"
    " ON CONFLICT (user_id) DO UPDATE SET monthly_usd = EXCLUDED.monthly_usd,"
    " updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by";

static const char sql_budget_clear[] =
    "DELETE FROM user_budgets WHERE user_id IN (SELECT id FROM users"
    " WHERE lower(email) = lower($1))";

static const char sql_user_id[] =
    "SELECT id::text AS id, email FROM users WHERE lower(email) = lower($1)"
    " ORDER BY created_at LIMIT 1";

enum sbx_err
sbx_cost_user_id(const char *email, char *buf, size_t len)
{
	const char *p[1] = { email };
	PGresult *res = NULL;
	enum sbx_err err;

	if ((err = sbx_db_exec("cost_user_id", sql_user_id, 1, p, &res)) !=
	    SBX_OK)
		return err;
	err = PQntuples(res) == 1 ? SBX_OK : SBX_ENOTFOUND;
	if (err == SBX_OK)
		snprintf(buf, len, "%s", sbx_db_get(res, 0, "id"));
	PQclear(res);
	return err;
}

enum sbx_err
sbx_cost_budget_set(const char *email, double monthly_usd, const char *actor,
    cJSON **out)
{
	const char *p1[1] = { email };
	char v[64], id[40];
	double budget;
	int has;
	cJSON *o;
	enum sbx_err err;

	*out = NULL;
	if ((err = sbx_cost_user_id(email, id, sizeof(id))) != SBX_OK)
		return err;
	if (monthly_usd >= 0) {
		const char *p[3] = { email, v, actor };

		fmt_num(v, sizeof(v), monthly_usd);
		err = run(NULL, "cost_budget_set", sql_budget_set, 3, p, NULL);
	} else {
		err = run(NULL, "cost_budget_clear", sql_budget_clear, 1, p1, NULL);
	}
	if (err != SBX_OK)
		return err;
	if ((err = sbx_cost_budget_of(id, &budget, &has)) != SBX_OK)
		return err;
	if ((o = cJSON_CreateObject()) == NULL)
		return SBX_ENOMEM;
	cJSON_AddStringToObject(o, "email", email);
	if (monthly_usd >= 0)
		cJSON_AddNumberToObject(o, "monthly_usd", monthly_usd);
	else
		cJSON_AddNullToObject(o, "monthly_usd");
	if (has)
		cJSON_AddNumberToObject(o, "budget_usd", budget);
	else
		cJSON_AddNullToObject(o, "budget_usd");
	cJSON_AddBoolToObject(o, "default", monthly_usd < 0);
	*out = o;
	return SBX_OK;
}

static const char sql_sandbox_hourly[] =
    "SELECT hourly_usd::text AS hourly_usd FROM sandbox_costs"
    " WHERE sandbox_id = $1::uuid";

enum sbx_err
sbx_cost_sandbox_hourly(const char *sandbox_id, double *hourly, int *known)
{
	return amount_of("cost_sandbox_hourly", sql_sandbox_hourly, sandbox_id,
	    "hourly_usd", hourly, known);
}

/* ------------------------------------------------------------ templates */

static const char sql_tmpl_todo[] =
    "SELECT name, version, body FROM templates WHERE estimated_at IS NULL"
    " ORDER BY name, version LIMIT $1::int";

static const char sql_tmpl_set[] =
    "UPDATE templates SET estimated_hourly_usd = $3::numeric,"
    " estimated_at = now() WHERE name = $1 AND version = $2::int";

enum sbx_err
sbx_cost_templates_step(int dry_run, long batch, struct sbx_cost_counts *c)
{
	PGresult *res = NULL;
	char lim[32], v[64];
	double usd;
	int i, known;
	enum sbx_err err, perr;

	snprintf(lim, sizeof(lim), "%ld", batch);
	{
		const char *p[1] = { lim };

		err = sbx_db_exec("cost_tmpl_todo", sql_tmpl_todo, 1, p, &res);
	}
	if (err != SBX_OK)
		return err;
	for (i = 0; i < PQntuples(res) && !dry_run && err == SBX_OK; i++) {
		perr = sbx_cost_template_hourly(sbx_db_get(res, i, "body"),
		    NULL, 0, &usd, &known);
		if (perr != SBX_OK)
			continue;	/* the Price List is down: next run */
		fmt_num(v, sizeof(v), usd);
		{
			const char *p[3] = { sbx_db_get(res, i, "name"),
			    sbx_db_get(res, i, "version"), known ? v : NULL };

			err = run(NULL, "cost_tmpl_set", sql_tmpl_set, 3, p, NULL);
		}
		if (err == SBX_OK)
			c->templates++;
	}
	PQclear(res);
	return err;
}

enum sbx_err
sbx_cost_accrue_step(int dry_run, long batch, struct sbx_cost_counts *c)
{
	char lim[32];
	enum sbx_err err;

	snprintf(lim, sizeof(lim), "%ld", batch);
	if (!dry_run) {
		const char *p[1] = { lim };

		err = run(NULL, "cost_follow", sql_follow, 1, p, NULL);
		if (err != SBX_OK)
			return err;
	}
	if ((err = settle_left(batch, dry_run)) != SBX_OK)
		return err;
	return refresh_due(batch, dry_run, c);
}

/* ------------------------------------------------------------ reports */

/*
 * The month's rows per sandbox: settled hours and money, plus the live
 * part since accrued_at for sandboxes that accrue (when the month is the
 * current one). $1 month date, $2 owner (NULL: all), $3 month start,
 * $4 month end, $5 now.
 */
static const char sql_report[] =
    "SELECT s.name, s.template_name, s.owner_email, s.owner_id::text AS"
    " owner_id,"
    " (COALESCE(m.hours, 0) + CASE WHEN c.accruing THEN greatest(0,"
    "  extract(epoch FROM (least(to_timestamp($5::bigint),"
    "  to_timestamp($4::bigint)) - greatest(c.accrued_at,"
    "  to_timestamp($3::bigint))))) / 3600 ELSE 0 END)::text AS hours,"
    " (COALESCE(m.accrued_usd, 0) + CASE WHEN c.accruing THEN"
    "  COALESCE(c.hourly_usd, 0) * greatest(0, extract(epoch FROM"
    "  (least(to_timestamp($5::bigint), to_timestamp($4::bigint)) -"
    "  greatest(c.accrued_at, to_timestamp($3::bigint))))) / 3600"
    "  ELSE 0 END)::text AS accrued,"
    " (CASE WHEN c.accruing THEN COALESCE(c.hourly_usd, 0) * greatest(0,"
    "  extract(epoch FROM (least(s.expiry_time +"
    "  make_interval(secs => $6::bigint), to_timestamp($4::bigint)) -"
    "  greatest(to_timestamp($5::bigint), to_timestamp($3::bigint)))))"
    "  / 3600 ELSE 0 END)::text AS rest"
    " FROM sandbox_costs c JOIN sandboxes s ON s.id = c.sandbox_id"
    " LEFT JOIN sandbox_cost_months m ON m.sandbox_id = c.sandbox_id"
    "  AND m.month = $1::date"
    " WHERE ($2::uuid IS NULL OR c.owner_id = $2::uuid)"
    " AND (m.sandbox_id IS NOT NULL OR (c.accruing AND"
    "  c.accrued_at < to_timestamp($4::bigint)))"
    " ORDER BY s.owner_email, s.created_at, s.name";

static enum sbx_err
report_rows(long long month, const char *owner_id, PGresult **res)
{
	const struct sbx_config *cfg = sbx_config();
	char d[16], ms[32], me[32], n[32], off[32];
	const char *p[6] = { d, owner_id, ms, me, n, off };

	sbx_cost_month_date(month, d, sizeof(d));
	fmt_ll(ms, sizeof(ms), month);
	fmt_ll(me, sizeof(me), sbx_cost_month_next(month));
	fmt_ll(n, sizeof(n), sbx_cost_now());
	fmt_ll(off, sizeof(off), cfg->cost_clock_offset_seconds);
	return sbx_db_exec("cost_report", sql_report, 6, p, res);
}

/* The totals of one owner within a report. */
struct totals {
	char owner_id[40];
	char email[320];
	double accrued, projected;
};

static void
add_budget(cJSON *o, const char *owner_id)
{
	double budget;
	int has = 0;

	if (owner_id != NULL && sbx_cost_budget_of(owner_id, &budget, &has) ==
	    SBX_OK && has)
		cJSON_AddNumberToObject(o, "budget_usd", budget);
	else
		cJSON_AddNullToObject(o, "budget_usd");
}

/* Adds row i's figures to the totals of its owner. */
static int
totals_add(struct totals **t, size_t *nt, const PGresult *res, int i,
    double a, double r)
{
	const char *owner = sbx_db_get(res, i, "owner_id");
	struct totals *grown;
	size_t k;

	for (k = 0; k < *nt; k++)
		if (strcmp((*t)[k].owner_id, owner) == 0)
			break;
	if (k == *nt) {
		if ((grown = realloc(*t, (*nt + 1) * sizeof(**t))) == NULL)
			return -1;
		*t = grown;
		memset(&(*t)[k], 0, sizeof((*t)[k]));
		snprintf((*t)[k].owner_id, sizeof((*t)[k].owner_id), "%s",
		    owner);
		snprintf((*t)[k].email, sizeof((*t)[k].email), "%s",
		    sbx_db_get(res, i, "owner_email"));
		(*nt)++;
	}
	(*t)[k].accrued += a;
	(*t)[k].projected += a + r;
	return 0;
}

/* Every user's totals of the month, as the "users" array. */
static enum sbx_err
users_totals(long long month, cJSON *o)
{
	PGresult *res = NULL;
	struct totals *t = NULL;
	size_t nt = 0, k;
	cJSON *users, *u;
	double a, r;
	int i;
	enum sbx_err err;

	if ((err = report_rows(month, NULL, &res)) != SBX_OK)
		return err;
	err = SBX_ENOMEM;
	for (i = 0; i < PQntuples(res); i++) {
		a = sbx_db_num(res, i, "accrued", 0);
		r = sbx_db_num(res, i, "rest", 0);
		if (totals_add(&t, &nt, res, i, a, r) != 0)
			goto out;
	}
	if ((users = cJSON_AddArrayToObject(o, "users")) == NULL)
		goto out;
	for (k = 0; k < nt; k++) {
		if ((u = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(users, u);
		cJSON_AddStringToObject(u, "email", t[k].email);
		cJSON_AddNumberToObject(u, "accrued",
		    sbx_cost_round(t[k].accrued));
		cJSON_AddNumberToObject(u, "projected",
		    sbx_cost_round(t[k].projected));
		add_budget(u, t[k].owner_id);
	}
	err = SBX_OK;
out:
	free(t);
	PQclear(res);
	return err;
}

enum sbx_err
sbx_cost_report(long long month, const char *owner_id, int with_users,
    cJSON **out)
{
	PGresult *res = NULL;
	cJSON *o = NULL, *list, *row;
	char name[8];
	double accrued = 0, projected = 0, a, r;
	int i;
	enum sbx_err err;

	*out = NULL;
	if ((err = report_rows(month, owner_id, &res)) != SBX_OK)
		return err;
	err = SBX_ENOMEM;
	if ((o = cJSON_CreateObject()) == NULL)
		goto out;
	sbx_cost_month_name(month, name, sizeof(name));
	cJSON_AddStringToObject(o, "month", name);
	cJSON_AddStringToObject(o, "currency", "USD");
	add_budget(o, owner_id);
	if ((list = cJSON_CreateArray()) == NULL)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		a = sbx_db_num(res, i, "accrued", 0);
		r = sbx_db_num(res, i, "rest", 0);
		accrued += a;
		projected += a + r;
		if ((row = cJSON_CreateObject()) == NULL)
			goto out;
		cJSON_AddItemToArray(list, row);
		cJSON_AddStringToObject(row, "name", sbx_db_get(res, i, "name"));
		cJSON_AddStringToObject(row, "template",
		    sbx_db_get(res, i, "template_name"));
		cJSON_AddNumberToObject(row, "hours",
		    round(sbx_db_num(res, i, "hours", 0) * 1e4) / 1e4);
		cJSON_AddNumberToObject(row, "accrued", sbx_cost_round(a));
	}
	cJSON_AddNumberToObject(o, "accrued", sbx_cost_round(accrued));
	cJSON_AddNumberToObject(o, "projected", sbx_cost_round(projected));
	cJSON_AddItemToObject(o, "sandboxes", list);
	if (with_users && (err = users_totals(month, o)) != SBX_OK)
		goto out;
	*out = o;
	o = NULL;
	err = SBX_OK;
out:
	cJSON_Delete(o);
	PQclear(res);
	return err;
}

/* Appends a CSV field: quoted when it holds a comma, quote or newline. */
static int
csv_field(char **buf, size_t *len, size_t *cap, const char *s, int last)
{
	size_t need = strlen(s) * 2 + 4;
	int quote = strpbrk(s, ",\"\r\n") != NULL;
	char *p;

	if (*len + need >= *cap) {
		size_t ncap = (*cap + need) * 2;

		if ((p = realloc(*buf, ncap)) == NULL)
			return -1;
		*buf = p;
		*cap = ncap;
	}
	p = *buf + *len;
	if (quote)
		*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"')
			*p++ = '"';
		*p++ = *s;
	}
	if (quote)
		*p++ = '"';
	*p++ = last ? '\n' : ',';
	*p = '\0';
	*len = (size_t)(p - *buf);
	return 0;
}

enum sbx_err
sbx_cost_report_csv(long long month, const char *owner_id, char **out)
{
	static const char header[] =
	    "month,owner_email,sandbox,template,hours,accrued_usd\n";
	PGresult *res = NULL;
	char name[8], hours[32], usd[32], *buf;
	size_t len, cap;
	int i;
	enum sbx_err err;

	*out = NULL;
	if ((err = report_rows(month, owner_id, &res)) != SBX_OK)
		return err;
	cap = sizeof(header) + 256;
	if ((buf = malloc(cap)) == NULL) {
		PQclear(res);
		return SBX_ENOMEM;
	}
	memcpy(buf, header, sizeof(header));
	len = sizeof(header) - 1;
	sbx_cost_month_name(month, name, sizeof(name));
	for (i = 0; i < PQntuples(res); i++) {
		snprintf(hours, sizeof(hours), "%.4f", sbx_db_num(res, i, "hours", 0));
		snprintf(usd, sizeof(usd), "%.6f", sbx_db_num(res, i, "accrued", 0));
		if (csv_field(&buf, &len, &cap, name, 0) != 0 ||
		    csv_field(&buf, &len, &cap, sbx_db_get(res, i,
		    "owner_email"), 0) != 0 ||
		    csv_field(&buf, &len, &cap, sbx_db_get(res, i, "name"),
		    0) != 0 ||
		    csv_field(&buf, &len, &cap, sbx_db_get(res, i,
		    "template_name"), 0) != 0 ||
		    csv_field(&buf, &len, &cap, hours, 0) != 0 ||
		    csv_field(&buf, &len, &cap, usd, 1) != 0) {
			free(buf);
			PQclear(res);
			return SBX_ENOMEM;
		}
	}
	PQclear(res);
	*out = buf;
	return SBX_OK;
}
