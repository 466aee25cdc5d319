-- 001_init: the first schema (DESIGN.md section 3) and the default template.
--
-- It must run unchanged on PostgreSQL and on Aurora DSQL, so (and
-- tests/integration/test_schema_dsql.sh checks it):
--   * keys are uuid DEFAULT gen_random_uuid(), never SERIAL;
--   * no triggers, PL/pgSQL, TEMP tables, TRUNCATE, extensions, CREATE TYPE;
--   * JSON lives in text columns;
--   * indexes are plain "CREATE [UNIQUE] INDEX IF NOT EXISTS name ON t (cols)"
--     (sbx-migrate --dialect dsql rewrites them to CREATE INDEX ASYNC), with
--     no ASC/DESC, no WHERE and no expressions;
--   * no foreign keys: DSQL has long refused them, and the domain code keeps
--     the references (owner_id, sandbox_id, user_id) consistent itself;
--   * sbx-migrate runs every statement in its own transaction (DSQL allows
--     one DDL per transaction, never mixed with DML), so each one must be
--     safe to run again after a crash between two of them: IF NOT EXISTS on
--     every CREATE, ON CONFLICT DO NOTHING on every INSERT.
-- Times are timestamptz. Rows that change under concurrency carry a
-- version, bumped by every conditional UPDATE ("... AND version = $n").

-- People who signed in. live_sandboxes counts their sandboxes in any status
-- but TERMINATED; it changes in the same transaction as the sandbox, so the
-- per-user quota holds under optimistic concurrency.
CREATE TABLE IF NOT EXISTS users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    oidc_sub        text NOT NULL UNIQUE,
    email           text NOT NULL,
    name            text,
    picture         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_login_at   timestamptz,
    disabled_at     timestamptz,
    live_sandboxes  integer NOT NULL DEFAULT 0 CHECK (live_sandboxes >= 0),
    version         bigint NOT NULL DEFAULT 1
);

CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);

-- One row per session token issued (id = the token's jti). A token is good
-- while its row exists, is not revoked and has not expired.
CREATE TABLE IF NOT EXISTS sessions (
    id          text PRIMARY KEY,
    user_id     uuid NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    csrf_hash   text
);

CREATE INDEX IF NOT EXISTS sessions_user_id_idx ON sessions (user_id);
CREATE INDEX IF NOT EXISTS sessions_expires_at_idx ON sessions (expires_at);

-- CloudFormation templates, one row per version; PUT adds a version and
-- DELETE disables the name. parameters is a JSON array of the declared
-- parameters: [{"name", "type"?, "description"?, "default"?, "no_echo"?,
-- "allowed_values"?, "max_length"?, "required"?}] (common/template.h).
-- capabilities is a JSON array of strings. A NULL TTL means "use the
-- global setting".
CREATE TABLE IF NOT EXISTS templates (
    name                 text NOT NULL,
    version              integer NOT NULL,
    description          text NOT NULL DEFAULT '',
    body                 text NOT NULL,
    parameters           text NOT NULL DEFAULT '[]',
    default_ttl_minutes  integer,
    max_ttl_minutes      integer,
    capabilities         text NOT NULL DEFAULT '[]',
    enabled              boolean NOT NULL DEFAULT true,
    is_default           boolean NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text,
    PRIMARY KEY (name, version)
);

-- The default template: what the original tool built, one t3.micro EC2
-- instance, its AMI resolved from AWS's public SSM parameter so that it
-- works in any region, tagged Environment=Sandbox.
INSERT INTO templates (name, version, description, body, parameters,
                       capabilities, enabled, is_default, created_by)
VALUES (
    'default', 1,
    'One t3.micro EC2 instance running the latest Amazon Linux 2023.',
    $cfn${
  "AWSTemplateFormatVersion": "2010-09-09",
  "Description": "Sandbox: one t3.micro EC2 instance",
  "Parameters": {
    "ImageId": {
      "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
      "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
      "Description": "The AMI, read from a public SSM parameter so that it resolves in every region"
    }
  },
  "Resources": {
    "Instance": {
      "Type": "AWS::EC2::Instance",
      "Properties": {
        "ImageId": { "Ref": "ImageId" },
        "InstanceType": "t3.micro",
        "Tags": [
          { "Key": "Name", "Value": { "Ref": "AWS::StackName" } },
          { "Key": "Environment", "Value": "Sandbox" }
        ]
      }
    }
  },
  "Outputs": {
    "InstanceId": {
      "Description": "The instance's id",
      "Value": { "Ref": "Instance" }
    },
    "PublicIp": {
      "Description": "The instance's public IPv4 address",
      "Value": { "Fn::GetAtt": ["Instance", "PublicIp"] }
    }
  }
}
$cfn$,
    '[{"name": "ImageId", "type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64", "description": "The AMI, as an SSM parameter name", "no_echo": false}]',
    '[]', true, true, 'sbx-migrate'
)
ON CONFLICT (name, version) DO NOTHING;

-- Sandboxes. "Live" is any status but TERMINATED; a name is unique among
-- live sandboxes through live_name, NULL once terminated (NULLs do not
-- collide in a unique index), so a terminated name can be used again.
-- pending_action is the CloudFormation work the row still needs
-- (none|create|delete|refresh), retried at next_attempt_at with attempts
-- counted; stuck marks a row an operator must look at. parameters and
-- outputs are JSON object text (NoEcho values masked before storage).
-- warned_expiry is the expiry_time an expiry warning was last sent for,
-- so that an extension earns a new warning.
CREATE TABLE IF NOT EXISTS sandboxes (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name              text NOT NULL,
    owner_id          uuid NOT NULL,
    owner_email       text NOT NULL,
    template_name     text NOT NULL,
    template_version  integer NOT NULL,
    status            text NOT NULL,
    status_reason     text,
    stack_name        text NOT NULL,
    stack_id          text,
    parameters        text NOT NULL DEFAULT '{}',
    outputs           text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    expiry_time       timestamptz NOT NULL,
    max_expiry_time   timestamptz NOT NULL,
    terminated_at     timestamptz,
    version           bigint NOT NULL DEFAULT 1,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    stuck             boolean NOT NULL DEFAULT false,
    last_refresh_at   timestamptz,
    pending_action    text NOT NULL DEFAULT 'none',
    warned_expiry     timestamptz,
    live_name         text GENERATED ALWAYS AS
                          (CASE WHEN status <> 'TERMINATED' THEN name END) STORED
);

CREATE UNIQUE INDEX IF NOT EXISTS sandboxes_live_name_key ON sandboxes (live_name);
CREATE INDEX IF NOT EXISTS sandboxes_owner_id_idx ON sandboxes (owner_id, created_at);
CREATE INDEX IF NOT EXISTS sandboxes_owner_email_idx ON sandboxes (owner_email);
CREATE INDEX IF NOT EXISTS sandboxes_name_idx ON sandboxes (name);
CREATE INDEX IF NOT EXISTS sandboxes_created_at_idx ON sandboxes (created_at);
CREATE INDEX IF NOT EXISTS sandboxes_status_next_attempt_idx ON sandboxes (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS sandboxes_expiry_time_idx ON sandboxes (expiry_time);

-- Idempotency-Key: the first answer to a POST, replayed for the same key
-- and body (request_hash) for 24 hours. status_code is NULL while the
-- first request is still being served.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id        uuid NOT NULL,
    key            text NOT NULL,
    request_hash   text NOT NULL,
    status_code    integer,
    response_body  text,
    sandbox_id     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

CREATE INDEX IF NOT EXISTS idempotency_keys_created_at_idx ON idempotency_keys (created_at);

-- The audit trail of each sandbox, append-only, which doubles as the
-- webhook outbox: delivery_state is pending|delivered|failed|skipped, and
-- a pending event is (re)sent at next_delivery_at.
CREATE TABLE IF NOT EXISTS sandbox_events (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    sandbox_id         uuid NOT NULL,
    time               timestamptz NOT NULL DEFAULT now(),
    actor              text NOT NULL,
    action             text NOT NULL,
    from_status        text,
    to_status          text,
    detail             text,
    delivery_state     text NOT NULL DEFAULT 'pending',
    delivery_attempts  integer NOT NULL DEFAULT 0,
    next_delivery_at   timestamptz,
    delivered_at       timestamptz
);

CREATE INDEX IF NOT EXISTS sandbox_events_sandbox_time_idx ON sandbox_events (sandbox_id, time);
CREATE INDEX IF NOT EXISTS sandbox_events_delivery_idx ON sandbox_events (delivery_state, next_delivery_at);

-- One row per reaper run. counts is a JSON object of what the run did
-- (e.g. {"expired": 3, "deleted": 3, ...}); orphans a JSON array of the
-- stacks found tagged with no live row.
CREATE TABLE IF NOT EXISTS reaper_runs (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    duration_ms  bigint,
    counts       text NOT NULL DEFAULT '{}',
    orphans      text NOT NULL DEFAULT '[]',
    ok           boolean NOT NULL DEFAULT false,
    dry_run      boolean NOT NULL DEFAULT false,
    error        text
);

CREATE INDEX IF NOT EXISTS reaper_runs_started_at_idx ON reaper_runs (started_at);
