#!/bin/sh
# sbx-migrate --dialect dsql makes sure of the application's database role
# on every run. DSQL itself is not here, so this
# checks what --dry-run shows against the stack's PostgreSQL:
#   1. after the pending migrations (none: the stack is migrated), the
#      role is created WITH LOGIN unless it exists, mapped with AWS IAM
#      GRANT to each ARN of DSQL_APP_ROLE_IAM_ARNS unless mapped, then
#      USAGE on the schema and the table grants, in that order, exactly;
#   2. DSQL_APP_ROLE names the role; the dry run creates nothing;
#   3. without ARNs it warns that no IAM role can connect;
#   4. the postgres dialect shows no grants (AWS IAM GRANT is DSQL's);
#   5. an ARN with a quote, another kind of ARN, the role admin and a
#      role name that needs quoting are refused, naming the setting.
set -eu

fail() { echo "FAIL: $*"; exit 1; }

[ -n "${DATABASE_URL:-}" ] || fail "DATABASE_URL is not set (run through tests/integration/run-one with SBX_TEST_ENV)"
mig=${SBX_BUILD_DIR:-.}/schema/sbx-migrate
[ -x "$mig" ] || fail "$mig is not built"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

role=sbx_grants_test_$$
a1=arn:aws:iam::123456789012:role/sbx-app
a2=arn:aws:iam::123456789012:role/service/sbx-reaper

# ---- 1 and 2
DSQL_APP_ROLE=$role DSQL_APP_ROLE_IAM_ARNS="$a1, $a2" \
    "$mig" --dialect dsql --dry-run >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "--dialect dsql --dry-run failed"; }
sed -n '/^-- the application role/,$p' "$tmp/out" >"$tmp/grants"
cat >"$tmp/want" <<EOT
-- the application role $role (DSQL_APP_ROLE), re-applied on every run
CREATE ROLE $role WITH LOGIN;  -- unless the role exists
AWS IAM GRANT $role TO '$a1';  -- unless already mapped
AWS IAM GRANT $role TO '$a2';  -- unless already mapped
GRANT USAGE ON SCHEMA public TO $role;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO $role;
EOT
diff -u "$tmp/want" "$tmp/grants" || fail "the dry run's grants differ from the expected ones"
grep -q '^nothing to apply$' "$tmp/out" || fail "the migrated stack should have nothing to apply: $(head -3 "$tmp/out")"
[ ! -s "$tmp/err" ] || { cat "$tmp/err"; fail "a warning with ARNs given"; }
exists=$(psql "$DATABASE_URL" -X -A -t -q -c "SELECT count(*) FROM pg_roles WHERE rolname = '$role'")
[ "$exists" = 0 ] || fail "the dry run created the role $role"
echo "ok   the dry run shows the role, its IAM mappings and grants, in order, and creates nothing"

# ---- 3: the default role, no ARNs
env -u DSQL_APP_ROLE -u DSQL_APP_ROLE_IAM_ARNS "$mig" --dialect dsql --dry-run >"$tmp/out" 2>"$tmp/err" \
    || { cat "$tmp/err"; fail "dry run without ARNs failed"; }
grep -q '^CREATE ROLE sbx_app WITH LOGIN;' "$tmp/out" || fail "the default role is not sbx_app"
if grep -q 'AWS IAM GRANT' "$tmp/out"; then fail "an IAM mapping without ARNs"; fi
grep -q '^GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO sbx_app;$' "$tmp/out" \
    || fail "no table grants without ARNs"
grep -q 'DSQL_APP_ROLE_IAM_ARNS is empty' "$tmp/err" || fail "no warning without ARNs"
echo "ok   without ARNs: the default role sbx_app, its grants, and a warning"

# ---- 4
DSQL_APP_ROLE_IAM_ARNS=$a1 "$mig" --dry-run >"$tmp/out" 2>"$tmp/err" || fail "postgres dry run failed"
[ "$(cat "$tmp/out")" = "nothing to apply" ] || { cat "$tmp/out"; fail "the postgres dialect shows more than 'nothing to apply'"; }
echo "ok   the postgres dialect has no grants"

# ---- 5
refused() {
    if env "$@" "$mig" --dialect dsql --dry-run >"$tmp/out" 2>"$tmp/err"; then
        fail "accepted: $*"
    fi
    name=${1%%=*}
    grep -q "$name" "$tmp/err" || fail "the refusal of $* does not name $name: $(cat "$tmp/err")"
    if grep -q 'GRANT' "$tmp/out"; then fail "grants printed despite $*"; fi
}
refused "DSQL_APP_ROLE_IAM_ARNS=arn:aws:iam::123456789012:role/x';DROP TABLE users;--"
refused "DSQL_APP_ROLE_IAM_ARNS=arn:aws:iam::123456789012:user/alice"
refused "DSQL_APP_ROLE_IAM_ARNS=arn:aws:iam::12345:role/short-account"
refused "DSQL_APP_ROLE=admin"
refused "DSQL_APP_ROLE=Sbx-App"
refused "DSQL_APP_ROLE=sbx_app;drop"
echo "ok   malformed role names and ARNs are refused, naming the setting"
