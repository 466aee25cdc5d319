#!/bin/sh
# sbx-test: no-stack
# The DSQL lint: fails, printing file:line and the rule, when a migration in
# schema/ uses something Aurora DSQL rejects (DESIGN.md section 3,
# REFERENCE.md) or something that would make it unsafe to re-run after a
# crash between two statements (sbx-migrate runs each statement in its own
# transaction, as DSQL requires).
#
# It reads files only: no running stack, and it ignores SBX_TEST_ENV. It
# first runs the same checker over known-bad snippets and requires each to
# be flagged, and over a tricky good one that must pass, so that it cannot
# pass vacuously.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
schema=${SBX_LINT_SCHEMA_DIR:-$here/../../schema}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

cat >"$tmp/check.py" <<'PYEOF'
"""Checks every NNN_*.sql file of a directory against DSQL's rules."""
import os
import re
import sys

I = re.I | re.S


def blank(text):
    """Two views of text, offsets kept: comments blanked (code), and
    comments plus quoted contents blanked (bare), newlines preserved."""
    code = list(text)
    bare = list(text)
    i, n = 0, len(text)

    def wipe(view, a, b):
        for k in range(a, b):
            if view[k] != "\n":
                view[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(code, i, j)
            wipe(bare, i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise ValueError((i, "unterminated comment"))
            wipe(code, i, j)
            wipe(bare, i, j)
            i = j
        elif c in "'\"":
            esc = c == "'" and i > 0 and text[i - 1] in "Ee" and (
                i < 2 or not (text[i - 2].isalnum() or text[i - 2] in "_$"))
            j = i + 1
            while True:
                if j >= n:
                    raise ValueError((i, "unterminated quote"))
                if esc and text[j] == "\\":
                    j += 2
                elif text[j] == c and j + 1 < n and text[j + 1] == c:
                    j += 2
                elif text[j] == c:
                    break
                else:
                    j += 1
            wipe(bare, i + 1, j)
            i = j + 1
        elif c == "$" and (i == 0 or not (text[i - 1].isalnum()
                                         or text[i - 1] in "_$")):
            m = re.match(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$", text[i:])
            if not m:
                i += 1
                continue
            tag = m.group(0)
            j = text.find(tag, i + len(tag))
            if j < 0:
                raise ValueError((i, "unterminated dollar quote"))
            wipe(bare, i + len(tag), j)
            i = j + len(tag)
        else:
            i += 1
    return "".join(code), "".join(bare)


def key_list(stmt, start):
    """The text inside the balanced parentheses opening at stmt[start]."""
    depth = 0
    for k in range(start, len(stmt)):
        if stmt[k] == "(":
            depth += 1
        elif stmt[k] == ")":
            depth -= 1
            if depth == 0:
                return stmt[start + 1:k]
    return stmt[start + 1:]


# (rule, pattern over the statement with quoted text blanked)
WORD_RULES = [
    ("SERIAL/BIGSERIAL column (use uuid DEFAULT gen_random_uuid())",
     r"\b(small|big)?serial[248]?\b"),
    ("CREATE TRIGGER (DSQL has no triggers)",
     r"\bcreate\s+(or\s+replace\s+)?(constraint\s+)?trigger\b"),
    ("TEMP/TEMPORARY table",
     r"\bcreate\s+((global|local)\s+)?(temp|temporary)\b"),
    ("TRUNCATE (use DELETE in batches)", r"\btruncate\b"),
    ("CREATE EXTENSION (DSQL has no extensions)",
     r"\bcreate\s+extension\b"),
    ("JSONB (keep JSON in text columns)", r"\bjsonb\b"),
    ("CREATE TYPE (not on DSQL)", r"\bcreate\s+type\b"),
    ("SAVEPOINT (not on DSQL)", r"\bsavepoint\b|\brollback\s+to\b"),
    ("DO block (PL/pgSQL)", r"^\s*do\b"),
    ("explicit transaction control (sbx-migrate runs each statement in "
     "its own transaction)",
     r"^\s*(begin|commit|end|start\s+transaction|rollback)\b"),
    ("CREATE INDEX CONCURRENTLY (write plain CREATE INDEX; sbx-migrate "
     "adds ASYNC for DSQL)", r"\bindex\s+concurrently\b"),
]

INDEX_RE = re.compile(r"^\s*create\s+(unique\s+)?index\b", I)
ON_RE = re.compile(r"\bon\s+(only\s+)?[\w.\"]+\s*(using\s+\w+\s*)?\(", I)


def check_statement(code, bare):
    """Yields (offset within the statement, rule) for each problem."""
    for rule, pat in WORD_RULES:
        for m in re.finditer(pat, bare, I | re.M if pat.startswith("^")
                             else I):
            yield m.start(), rule
            break
    m = re.search(r"\blanguage\s+'?\"?(\w+)", code, I)
    if m and m.group(1).lower() != "sql":
        yield m.start(), ("LANGUAGE %s (DSQL runs SQL functions only)"
                          % m.group(1))
    if INDEX_RE.match(bare):
        m = re.search(r"\bwhere\b", bare, I)
        if m:
            yield m.start(), "partial index (CREATE INDEX ... WHERE)"
        on = ON_RE.search(bare)
        if on is None:
            yield 0, "index without a plain key list"
        else:
            keys = key_list(bare, on.end() - 1)
            if "(" in keys:
                yield on.end(), "expression index (a '(' in the key list)"
            m = re.search(r"\b(asc|desc)\b", keys, I)
            if m:
                yield on.end() + m.start(), "ASC/DESC in index keys"
        if not re.search(r"\bindex\s+(async\s+)?if\s+not\s+exists\b",
                         bare, I):
            yield 0, "CREATE INDEX without IF NOT EXISTS (not re-runnable)"
    if re.match(r"\s*create\s+table\b(?!\s+if\s+not\s+exists)", bare, I):
        yield 0, "CREATE TABLE without IF NOT EXISTS (not re-runnable)"
    if re.match(r"\s*insert\b", bare, I) and not re.search(
            r"\bon\s+conflict\b", bare, I):
        yield 0, "INSERT without ON CONFLICT (not re-runnable)"
    if re.match(r"\s*alter\s+table\b", bare, I) and re.search(
            r"\badd\s+(?!column\b|if\b|constraint\b)\w"
            r"|\badd\s+column\s+(?!if\s+not\s+exists\b)\w", bare, I):
        yield 0, "ALTER TABLE ADD without IF NOT EXISTS (not re-runnable)"


def check_file(path, shown):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    problems = []
    try:
        code, bare = blank(text)
    except ValueError as e:
        off, why = e.args[0]
        return [(text.count("\n", 0, off) + 1, why)]
    start = 0
    for k in range(len(bare) + 1):
        if k == len(bare) or bare[k] == ";":
            seg_b, seg_c = bare[start:k], code[start:k]
            lead = len(seg_b) - len(seg_b.lstrip())
            for off, rule in check_statement(seg_c, seg_b):
                off = max(off, lead)
                line = text.count("\n", 0, start + off) + 1
                problems.append((line, rule))
            start = k + 1
    return sorted(set(problems))


def main():
    d = sys.argv[1]
    files = sorted(f for f in os.listdir(d) if re.match(r"\d{3}_.*\.sql$", f))
    if not files:
        print("%s: no NNN_*.sql migrations found" % d)
        return 2
    bad = 0
    for f in files:
        for line, rule in check_file(os.path.join(d, f), f):
            print("%s:%d: %s" % (os.path.join(d, f), line, rule))
            bad += 1
    return 1 if bad else 0


sys.exit(main())
PYEOF

py=/usr/bin/python3
fail=0

# ---- self-check: each bad snippet must be flagged with its rule.
selfcheck() {
	# $1 = what the output must mention, $2 = SQL
	rm -rf "$tmp/case" && mkdir "$tmp/case"
	printf '%s\n' "$2" >"$tmp/case/001_case.sql"
	if out=$("$py" "$tmp/check.py" "$tmp/case"); then
		echo "SELF-CHECK FAILED: not flagged ($1): $2"
		fail=1
	elif ! printf '%s\n' "$out" | grep -qi -- "$1"; then
		echo "SELF-CHECK FAILED: flagged, but not for $1: $out"
		fail=1
	fi
}
selfcheck SERIAL 'CREATE TABLE IF NOT EXISTS t (id SERIAL PRIMARY KEY);'
selfcheck SERIAL 'CREATE TABLE IF NOT EXISTS t (id bigserial);'
selfcheck TRIGGER 'CREATE TRIGGER trg BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f();'
selfcheck 'LANGUAGE plpgsql' 'CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END $$ LANGUAGE plpgsql;'
selfcheck 'DO block' 'DO $$ BEGIN PERFORM 1; END $$;'
selfcheck TEMP 'CREATE TEMP TABLE IF NOT EXISTS t (a int);'
selfcheck TEMP 'CREATE TEMPORARY TABLE IF NOT EXISTS t (a int);'
selfcheck TRUNCATE 'TRUNCATE sandboxes;'
selfcheck EXTENSION 'CREATE EXTENSION IF NOT EXISTS pgcrypto;'
selfcheck partial 'CREATE INDEX IF NOT EXISTS i ON t (a) WHERE a > 0;'
selfcheck expression 'CREATE INDEX IF NOT EXISTS i ON t (lower(email));'
selfcheck expression 'CREATE UNIQUE INDEX IF NOT EXISTS i ON t ((a + b));'
selfcheck ASC/DESC 'CREATE INDEX IF NOT EXISTS i ON t (created_at DESC);'
selfcheck ASC/DESC 'CREATE INDEX IF NOT EXISTS i ON t (a, b ASC);'
selfcheck JSONB 'CREATE TABLE IF NOT EXISTS t (doc jsonb);'
selfcheck 'CREATE TYPE' "CREATE TYPE mood AS ENUM ('a', 'b');"
selfcheck SAVEPOINT 'SAVEPOINT s1;'
selfcheck re-runnable 'CREATE TABLE t (a int);'
selfcheck re-runnable 'CREATE INDEX i ON t (a);'
selfcheck re-runnable "INSERT INTO t (a) VALUES ('x');"
selfcheck 'transaction control' 'BEGIN;'
selfcheck re-runnable 'ALTER TABLE t ADD COLUMN c text;'
selfcheck re-runnable 'ALTER TABLE t ADD c text;'
# a problem on a later line is reported on that line
selfcheck ':3:' "$(printf 'CREATE TABLE IF NOT EXISTS t (\n  a int,\n  b serial\n);')"

# ---- and a tricky, valid file must pass: the words appear only in
# comments, string literals and dollar quotes, and a semicolon sits in a
# string.
rm -rf "$tmp/case" && mkdir "$tmp/case"
cat >"$tmp/case/001_good.sql" <<'EOF'
-- no SERIAL, no TRUNCATE, no jsonb here: this is a comment
/* CREATE TRIGGER in a /* nested */ block comment */
CREATE TABLE IF NOT EXISTS t (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    note text NOT NULL DEFAULT 'serial; truncate; jsonb',
    live text GENERATED ALWAYS AS (CASE WHEN note <> 'x' THEN note END) STORED
);
CREATE UNIQUE INDEX IF NOT EXISTS t_live_key ON t (live);
CREATE INDEX IF NOT EXISTS t_note_idx ON t (note, id);
INSERT INTO t (note) VALUES ($q$CREATE TEMP TABLE x; DO $$ $$; SAVEPOINT$q$)
ON CONFLICT DO NOTHING;
INSERT INTO t (note) VALUES (E'it''s \' desc') ON CONFLICT DO NOTHING;
ALTER TABLE t ADD COLUMN IF NOT EXISTS extra text;
EOF
if ! out=$("$py" "$tmp/check.py" "$tmp/case"); then
	echo "SELF-CHECK FAILED: a valid file was flagged:"
	printf '%s\n' "$out"
	fail=1
fi

if [ "$fail" -ne 0 ]; then
	echo "FAIL: the DSQL checker does not work; schema/ not checked"
	exit 1
fi

# ---- the real schema
if ! "$py" "$tmp/check.py" "$schema"; then
	echo "FAIL: schema/ uses what Aurora DSQL rejects (see above)"
	exit 1
fi
echo "PASS: $(ls "$schema"/[0-9][0-9][0-9]_*.sql | wc -l) migration file(s) in schema/ are DSQL-compatible"
