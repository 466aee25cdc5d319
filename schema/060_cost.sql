-- 060_cost: what each sandbox costs while it runs, and budgets.
--
-- The DSQL rules of 001_init hold here too (tests/integration/
-- test_schema_dsql.sh checks them): uuid keys, no foreign keys, JSON in
-- text, plain indexes, one statement per transaction, each safe to run
-- again. Money is numeric (USD); months are the date of their first day,
-- UTC. Only the reaper writes prices and sandbox costs; the API reads them.

-- Prices from the AWS Price List (GetProducts), cached per (service,
-- region, attributes) for PRICE_CACHE_HOURS. attributes is the canonical
-- filter set ("instanceType=t3.micro;operatingSystem=Linux;..."). usd
-- NULL means the Price List answered and has no such product: the
-- resource is listed as unpriced, never guessed, and not asked again
-- until the entry is stale.
CREATE TABLE IF NOT EXISTS price_cache (
    service     text NOT NULL,
    region      text NOT NULL,
    attributes  text NOT NULL,
    usd         numeric,
    unit        text,
    fetched_at  timestamptz NOT NULL,
    PRIMARY KEY (service, region, attributes)
);

-- One row per sandbox whose cost is known or being followed. hourly_usd
-- is the last estimate from the stack's real resources (NULL until one);
-- unpriced the JSON array of resource types it could not price.
-- accrued_usd is what the sandbox has cost up to accrued_at: the reaper
-- adds hourly_usd * (now - accrued_at) at each refresh (and the API adds
-- the same for the time since, while accruing), so a change of rate
-- counts from the moment it was seen. accruing is true while the
-- sandbox is ACTIVE. estimated_at is the cost's updated_at; attempted_at
-- the last refresh tried (COST_REFRESH_SECONDS apart). max_cost_usd is
-- the template's cap, copied at create.
CREATE TABLE IF NOT EXISTS sandbox_costs (
    sandbox_id    uuid PRIMARY KEY,
    owner_id      uuid NOT NULL,
    hourly_usd    numeric,
    unpriced      text NOT NULL DEFAULT '[]',
    accrued_usd   numeric NOT NULL DEFAULT 0,
    accrued_at    timestamptz,
    accruing      boolean NOT NULL DEFAULT false,
    estimated_at  timestamptz,
    attempted_at  timestamptz,
    max_cost_usd  numeric,
    version       bigint NOT NULL DEFAULT 1
);

CREATE INDEX IF NOT EXISTS sandbox_costs_owner_idx ON sandbox_costs (owner_id, accruing);
CREATE INDEX IF NOT EXISTS sandbox_costs_attempted_idx ON sandbox_costs (accruing, attempted_at);

-- The accrued cost split by calendar month (UTC): hours ACTIVE and USD
-- within that month. The monthly totals, /api/costs and the budgets read
-- these rows (plus the live part since accrued_at).
CREATE TABLE IF NOT EXISTS sandbox_cost_months (
    sandbox_id   uuid NOT NULL,
    month        date NOT NULL,
    owner_id     uuid NOT NULL,
    hours        numeric NOT NULL DEFAULT 0,
    accrued_usd  numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (sandbox_id, month)
);

CREATE INDEX IF NOT EXISTS sandbox_cost_months_month_idx ON sandbox_cost_months (month, owner_id);

-- A user's own monthly budget, set by an admin (PUT /api/users/{email}/
-- budget); no row means USER_MONTHLY_BUDGET_USD applies.
CREATE TABLE IF NOT EXISTS user_budgets (
    user_id      uuid PRIMARY KEY,
    monthly_usd  numeric NOT NULL CHECK (monthly_usd >= 0),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    updated_by   text
);

-- The budget warnings sent: one row per (user, month, threshold %), so
-- that each threshold fires once per month (INSERT ... ON CONFLICT DO
-- NOTHING decides, under concurrency too).
CREATE TABLE IF NOT EXISTS budget_warnings (
    user_id        uuid NOT NULL,
    month          date NOT NULL,
    threshold      integer NOT NULL,
    fired_at       timestamptz NOT NULL DEFAULT now(),
    committed_usd  numeric,
    budget_usd     numeric,
    PRIMARY KEY (user_id, month, threshold)
);

-- Templates: a per-sandbox cost cap, and the estimate of the hourly cost
-- of the instance types the template names (literal or parameter
-- default), priced from the cache. estimated_at NULL means "not tried
-- yet": the reaper fills those versions (the seeded default included).
ALTER TABLE templates ADD COLUMN IF NOT EXISTS max_cost_usd numeric;

ALTER TABLE templates ADD COLUMN IF NOT EXISTS estimated_hourly_usd numeric;

ALTER TABLE templates ADD COLUMN IF NOT EXISTS estimated_at timestamptz;
