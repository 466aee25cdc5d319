#!/usr/bin/env bash
# A responder started by hand with CGI variables serves that one request
# on stdout and exits, as README shows operators:
#   set -a; . var/up.env; REQUEST_METHOD=GET PATH_INFO=/api/ fcgi/sbx-meta
# run-one has loaded the stack's env file (SBX_TEST_ENV) into the
# environment.
set -euo pipefail

bin="${SBX_BUILD_DIR:?SBX_BUILD_DIR is not set}/fcgi/sbx-meta"
[ -x "$bin" ] || { echo "FAIL: $bin is not built"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$work/out"; echo "--- stderr"; cat "$work/err"; exit 1; }

# A response is "Header: value" lines, an empty line, then the body. CRLF
# or LF line ends are both valid CGI.
run_cgi() {
    rc=0
    (cd / && env REQUEST_METHOD="$1" PATH_INFO="$2" QUERY_STRING="" \
        HTTP_X_REQUEST_ID=cgi-test-1 "$bin") < /dev/null > "$work/out" 2> "$work/err" || rc=$?
    tr -d '\r' < "$work/out" > "$work/out.lf"
    sed -n '1,/^$/p' "$work/out.lf" > "$work/head"
    sed '1,/^$/d' "$work/out.lf" > "$work/body"
}

# GET /api/: 200 and the welcome message.
run_cgi GET /api/
[ "$rc" = 0 ] || fail "sbx-meta exited $rc in CGI mode"
grep -qiE '^Status: 200( |$)' "$work/head" || fail "no 'Status: 200' header"
grep -qiE '^Content-Type: application/json' "$work/head" || fail "not application/json"
/usr/bin/python3 - "$work/body" <<'EOF' || fail "wrong body"
import json, sys
body = json.load(open(sys.argv[1]))
assert body == {"message": "Welcome to the sandbox service"}, body
EOF
echo "ok   GET /api/ as CGI: Status 200 and the welcome body"

# An unknown route: a 404 problem, and still a clean exit.
run_cgi GET /api/no-such-route
[ "$rc" = 0 ] || fail "sbx-meta exited $rc in CGI mode"
grep -qiE '^Status: 404( |$)' "$work/head" || fail "no 'Status: 404' header"
grep -qiE '^Content-Type: application/problem\+json' "$work/head" || fail "not problem+json"
grep -q '"request_id":"cgi-test-1"' "$work/body" || fail "request id not in the problem"
echo "ok   GET /api/no-such-route as CGI: a 404 problem"
