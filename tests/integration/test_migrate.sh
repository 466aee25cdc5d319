#!/bin/sh
# sbx-migrate against the running stack's PostgreSQL (DATABASE_URL and
# SBX_BUILD_DIR come from the env file run-one loads):
#   1. on the stack's database, a second run applies nothing and leaves
#      schema_migrations and the catalog exactly as they were;
#   2. --dry-run on an up-to-date database says "nothing to apply";
#   3. in a fresh, empty schema: --dialect dsql --dry-run prints every index
#      as CREATE INDEX ASYNC (no plain CREATE INDEX) and creates nothing;
#      a real run applies everything, a second run changes nothing;
#   4. a failing statement exits 1 naming the file and statement, records
#      nothing for that file, and the next run (fixed file) completes it;
#   5. an unreachable database exits 1 quickly with a clear message.
#
# The fresh databases are schemas (CREATE SCHEMA, dropped at the end), not
# CREATE DATABASE: the service's role owns its database but may not create
# databases. Each sbx-migrate run is pointed at one with
# options=-csearch_path=<schema> in the URL.
set -eu

fail() {
	echo "FAIL: $*"
	exit 1
}

[ -n "${DATABASE_URL:-}" ] || fail "DATABASE_URL is not set (run through tests/integration/run-one with SBX_TEST_ENV)"
mig=${SBX_BUILD_DIR:-.}/schema/sbx-migrate
[ -x "$mig" ] || fail "$mig is not built (SBX_BUILD_DIR=${SBX_BUILD_DIR:-unset})"
command -v psql >/dev/null || fail "psql is missing"

tmp=$(mktemp -d)
s1=sbx_migtest_$$_a
s2=sbx_migtest_$$_b
q() {
	psql "$DATABASE_URL" -X -A -t -q -v ON_ERROR_STOP=1 "$@"
}
cleanup() {
	q -c "DROP SCHEMA IF EXISTS $s1 CASCADE" -c "DROP SCHEMA IF EXISTS $s2 CASCADE" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

q -c "SELECT 1" >/dev/null || fail "cannot reach the database with psql"

# The URL with a search_path, so that sbx-migrate works inside schema $1.
url_in() {
	case $DATABASE_URL in
	*\?*) printf '%s&options=-csearch_path%%3D%s' "$DATABASE_URL" "$1" ;;
	*) printf '%s?options=-csearch_path%%3D%s' "$DATABASE_URL" "$1" ;;
	esac
}

# Everything a migration run could change in schema $1.
dump() {
	q -c "SELECT version, name, applied_at FROM $1.schema_migrations ORDER BY version" \
	  -c "SELECT table_name, column_name, ordinal_position, data_type, is_nullable,
	             coalesce(column_default, ''), is_generated,
	             coalesce(generation_expression, '')
	        FROM information_schema.columns WHERE table_schema = '$1'
	       ORDER BY table_name, ordinal_position" \
	  -c "SELECT tablename, indexname, indexdef FROM pg_indexes
	       WHERE schemaname = '$1' ORDER BY tablename, indexname" \
	  -c "SELECT conrelid::regclass, conname, pg_get_constraintdef(oid)
	        FROM pg_constraint WHERE connamespace = '$1'::regnamespace
	       ORDER BY 1, 2" \
	  -c "SELECT name, version, md5(body), parameters, is_default
	        FROM $1.templates ORDER BY name, version"
}

# ---- 1 and 2: the stack's own database
main_schema=$(q -c "SELECT current_schema()")
"$mig" >"$tmp/run1.out" 2>"$tmp/run1.err" || { cat "$tmp/run1.err"; fail "first run on the stack's database failed"; }
dump "$main_schema" >"$tmp/before" || fail "cannot read the catalog of $main_schema"
[ -s "$tmp/before" ] || fail "the catalog dump of $main_schema is empty"
grep -q '^001|' "$tmp/before" || fail "schema_migrations does not list 001"
"$mig" >"$tmp/run2.out" 2>"$tmp/run2.err" || { cat "$tmp/run2.err"; fail "second run on the stack's database failed"; }
[ "$(cat "$tmp/run2.out")" = "nothing to apply" ] || { cat "$tmp/run2.out"; fail "second run did not say exactly 'nothing to apply'"; }
dump "$main_schema" >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" || { diff "$tmp/before" "$tmp/after" || true; fail "the second run changed schema_migrations or the catalog"; }
"$mig" --dry-run >"$tmp/dry.out" 2>"$tmp/dry.err" || { cat "$tmp/dry.err"; fail "--dry-run failed"; }
[ "$(cat "$tmp/dry.out")" = "nothing to apply" ] || { cat "$tmp/dry.out"; fail "--dry-run on an up-to-date database did not say 'nothing to apply'"; }
echo "ok: stack database: second run and --dry-run apply nothing; catalog unchanged"

# ---- 3: a fresh schema
q -c "CREATE SCHEMA $s1" >/dev/null
u1=$(url_in "$s1")
DATABASE_URL=$u1 "$mig" --dialect dsql --dry-run >"$tmp/dsql.out" 2>"$tmp/dsql.err" \
	|| { cat "$tmp/dsql.err"; fail "--dialect dsql --dry-run failed"; }
grep -q '^CREATE INDEX ASYNC IF NOT EXISTS ' "$tmp/dsql.out" || { cat "$tmp/dsql.out"; fail "dsql dry run printed no CREATE INDEX ASYNC"; }
grep -q '^CREATE UNIQUE INDEX ASYNC IF NOT EXISTS ' "$tmp/dsql.out" || fail "dsql dry run printed no CREATE UNIQUE INDEX ASYNC"
if grep -Ei 'CREATE +(UNIQUE +)?INDEX' "$tmp/dsql.out" | grep -Eiv 'INDEX +ASYNC'; then
	fail "dsql dry run printed a plain CREATE INDEX"
fi
grep -q '^CREATE TABLE IF NOT EXISTS sandboxes' "$tmp/dsql.out" || fail "dsql dry run did not list the sandboxes table"
n=$(q -c "SELECT count(*) FROM information_schema.tables WHERE table_schema = '$s1'")
[ "$n" = 0 ] || fail "--dry-run created $n table(s)"
DATABASE_URL=$u1 "$mig" --dry-run >"$tmp/pgdry.out" 2>/dev/null || fail "postgres dry run failed"
if grep -qi 'ASYNC' "$tmp/pgdry.out"; then fail "postgres dry run printed ASYNC"; fi
echo "ok: fresh schema: dsql dry run prints CREATE INDEX ASYNC only and changes nothing"

DATABASE_URL=$u1 "$mig" >"$tmp/fresh1.out" 2>"$tmp/fresh1.err" || { cat "$tmp/fresh1.err"; fail "migrating a fresh schema failed"; }
grep -q '^applied 001_init' "$tmp/fresh1.out" || { cat "$tmp/fresh1.out"; fail "no 'applied 001_init' line"; }
[ "$(q -c "SELECT count(*) FROM $s1.templates WHERE is_default")" = 1 ] || fail "the default template was not seeded"
[ "$(q -c "SELECT count(*) FROM $s1.sandboxes")" = 0 ] || fail "sandboxes is not empty"
dump "$s1" >"$tmp/fbefore"
DATABASE_URL=$u1 "$mig" >"$tmp/fresh2.out" 2>"$tmp/fresh2.err" || { cat "$tmp/fresh2.err"; fail "second run on the fresh schema failed"; }
[ "$(cat "$tmp/fresh2.out")" = "nothing to apply" ] || fail "second run on the fresh schema applied something"
dump "$s1" >"$tmp/fafter"
cmp -s "$tmp/fbefore" "$tmp/fafter" || { diff "$tmp/fbefore" "$tmp/fafter" || true; fail "the second run changed the fresh schema"; }
# Every statement is re-runnable: forgetting the version and applying the
# whole file again over the existing objects must work and change nothing
# but the record's time (what a crash before the record would cause).
q -c "DELETE FROM $s1.schema_migrations" >/dev/null
DATABASE_URL=$u1 "$mig" >"$tmp/fresh3.out" 2>"$tmp/fresh3.err" || { cat "$tmp/fresh3.err"; fail "re-applying 001 over existing objects failed"; }
dump "$s1" | grep -v '^[0-9][0-9][0-9]|' >"$tmp/fagain"
grep -v '^[0-9][0-9][0-9]|' "$tmp/fbefore" | cmp -s - "$tmp/fagain" || fail "re-applying 001 changed the catalog or duplicated the seed"
# The generated live_name enforces one live sandbox per name.
q -c "INSERT INTO $s1.sandboxes (name, owner_id, owner_email, template_name, template_version, status, stack_name, expiry_time, max_expiry_time)
      VALUES ('box', gen_random_uuid(), 'a@example.com', 'default', 1, 'TERMINATED', 'sbx-box', now(), now()),
             ('box', gen_random_uuid(), 'a@example.com', 'default', 1, 'ACTIVE', 'sbx-box', now(), now())" >/dev/null \
	|| fail "a live and a terminated sandbox could not share a name"
if q -c "INSERT INTO $s1.sandboxes (name, owner_id, owner_email, template_name, template_version, status, stack_name, expiry_time, max_expiry_time)
         VALUES ('box', gen_random_uuid(), 'b@example.com', 'default', 1, 'PROVISIONING', 'sbx-box', now(), now())" >/dev/null 2>&1; then
	fail "two live sandboxes got the same name"
fi
echo "ok: fresh schema: applied once, re-runnable, second run changes nothing; live names unique"

# ---- 4: a failure names the file and statement; the rerun completes it
q -c "CREATE SCHEMA $s2" >/dev/null
u2=$(url_in "$s2")
mkdir "$tmp/dir"
printf -- '-- first\nCREATE TABLE IF NOT EXISTS t1 (a text);\n' >"$tmp/dir/001_one.sql"
printf 'CREATE TABLE IF NOT EXISTS t2 (a text DEFAULT $$x;y$$);\n\nCREATE TABLE IF NOT EXISTS t3 (a no_such_type);\n' >"$tmp/dir/002_two.sql"
if DATABASE_URL=$u2 "$mig" --dir "$tmp/dir" >"$tmp/bad.out" 2>"$tmp/bad.err"; then
	fail "a failing statement did not make sbx-migrate exit non-zero"
fi
grep -q '002_two.sql: statement 2 (line 3) failed' "$tmp/bad.err" || { cat "$tmp/bad.err"; fail "the failure message does not name the file, statement and line"; }
[ "$(q -c "SELECT string_agg(version, ',' ORDER BY version) FROM $s2.schema_migrations")" = 001 ] \
	|| fail "after the failure schema_migrations should hold 001 only"
sed -i 's/no_such_type/text/' "$tmp/dir/002_two.sql"
DATABASE_URL=$u2 "$mig" --dir "$tmp/dir" >"$tmp/fix.out" 2>"$tmp/fix.err" || { cat "$tmp/fix.err"; fail "the run after fixing the file failed"; }
[ "$(cat "$tmp/fix.out")" = "applied 002_two (2 statements)" ] || { cat "$tmp/fix.out"; fail "the rerun should apply 002 only"; }
[ "$(q -c "SELECT column_default FROM information_schema.columns WHERE table_schema = '$s2' AND table_name = 't2'")" = "'x;y'::text" ] \
	|| fail "a semicolon inside a dollar quote was split"
echo "ok: a failing statement is named; the rerun completes the file"

# ---- 5: usage and an unreachable database
"$mig" --help >/dev/null || fail "--help did not exit 0"
if "$mig" --dialect mysql >/dev/null 2>&1; then fail "--dialect mysql was accepted"; fi
start=$(date +%s)
if DATABASE_URL="postgresql://nobody:x@127.0.0.1:1/none" DB_CONNECT_TIMEOUT_SECONDS=2 "$mig" >/dev/null 2>"$tmp/down.err"; then
	fail "an unreachable database did not make sbx-migrate fail"
fi
grep -q 'cannot reach the database' "$tmp/down.err" || { cat "$tmp/down.err"; fail "no clear message for an unreachable database"; }
[ $(( $(date +%s) - start )) -lt 10 ] || fail "sbx-migrate took too long to give up on an unreachable database"
echo "ok: usage errors and an unreachable database exit 1"
echo "PASS"
