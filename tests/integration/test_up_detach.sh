#!/usr/bin/env bash
# scripts/up --detach starts a second, throwaway stack (its own state
# directory and free ports, the binaries of the stack under test) and
# returns once /readyz answers; scripts/up --stop then leaves no process
# of it behind, and frees its ports.
set -euo pipefail

src=${SBX_SRC_DIR:?}
build=${SBX_BUILD_DIR:?}
state=$(mktemp -d /var/tmp/sbx-detach-test.XXXXXX)
out=$(mktemp)

# The processes of the throwaway stack: SBX_INSTANCE=<state> in their
# environment, or the state directory in their command line. Python, so
# that the state path is in no command line of the search itself.
instance_pids() {
    STATE=$state /usr/bin/python3 - <<'EOF'
import os
state = os.environ["STATE"]
mine = set()
p = os.getpid()
while p > 1:                      # this process and its ancestors
    mine.add(p)
    with open("/proc/%d/status" % p) as f:
        p = int(next(l for l in f if l.startswith("PPid:")).split()[1])
marker = ("SBX_INSTANCE=" + state).encode()
for e in os.listdir("/proc"):
    if not e.isdigit() or int(e) in mine:
        continue
    try:
        cmd = open("/proc/%s/cmdline" % e, "rb").read()
        env = open("/proc/%s/environ" % e, "rb").read().split(b"\0")
    except OSError:
        continue
    if state.encode() in cmd or marker in env:
        print(e, cmd.replace(b"\0", b" ").decode(errors="replace")[:120])
EOF
}

up() {
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        SBX_STATE_DIR="$state" SBX_BUILD_DIR="$build" SBX_SKIP_BUILD=1 \
        SBX_NO_VAR_LINK=1 HTTPS_PORT="$https" HTTP_PORT="$http" PG_PORT="$pg" \
        FAKE_IDP_PORT="$idp" FAKE_CFN_PORT="$cfn" FAKE_EC2_PORT="$ec2" \
        FAKE_PRICING_PORT="$pricing" SBX_WORKERS=1 \
        ${ASAN_OPTIONS:+ASAN_OPTIONS="$ASAN_OPTIONS"} \
        ${UBSAN_OPTIONS:+UBSAN_OPTIONS="$UBSAN_OPTIONS"} \
        bash "$src/scripts/up" "$@"
}

cleanup() {
    if [ -n "$(instance_pids)" ]; then up --stop > /dev/null 2>&1 || true; fi
    rm -rf "$state" "$out"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- scripts/up said:"; cat "$out"; exit 1; }

# Free ports, distinct, away from the stack under test, and below the
# kernel's ephemeral range (32768-60999), where an outgoing connection
# could take one between the check and the bind.
taken=" "
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        case "$taken" in *" $p "*) continue ;; esac
        if ! ss -Htln "sport = :$p" | grep -q .; then echo "$p"; return; fi
    done
}
https=$(free_port); taken+="$https "
http=$(free_port); taken+="$http "
pg=$(free_port); taken+="$pg "
idp=$(free_port); taken+="$idp "
cfn=$(free_port); taken+="$cfn "
ec2=$(free_port); taken+="$ec2 "
pricing=$(free_port); taken+="$pricing "

var_before=$(readlink "$src/var" 2>/dev/null || true)

up --detach > "$out" 2>&1 || fail "scripts/up --detach exited $?"
echo "ok   scripts/up --detach returned"

code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$state/tls/cert.pem" \
    --resolve "localhost:$https:127.0.0.1" "https://localhost:$https/readyz") || true
[ "$code" = 200 ] || fail "/readyz answered $code right after --detach"
echo "ok   /readyz is 200 once --detach returns"

[ "$(stat -c '%a %U' "$state/up.env")" = "640 root" ] \
    || fail "up.env is $(stat -c '%a %U:%G' "$state/up.env"), expected 640 root:<run group>"
grep -q "^HTTPS_PORT=$https\$" "$state/up.env" || fail "up.env does not hold HTTPS_PORT=$https"
[ "$(readlink "$src/var" 2>/dev/null || true)" = "$var_before" ] || fail "var/ was relinked"
echo "ok   up.env written 0640, var/ untouched"

# Responder sockets: only the run user and nginx's workers may connect.
sock="$state/run/sbx-meta.sock"
ngroup=$(id -gn www-data)
[ "$(stat -c '%a %U %G' "$sock")" = "660 sbx $ngroup" ] \
    || fail "sbx-meta.sock is $(stat -c '%a %U %G' "$sock"), expected 660 sbx $ngroup"
connect_as() {
    setpriv --reuid="$1" --regid="$2" --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    sys.exit(3)
' "$sock"
}
rc=0; connect_as nobody nogroup || rc=$?
[ "$rc" = 3 ] || fail "user nobody could connect to $sock (rc $rc)"
connect_as www-data "$ngroup" || fail "nginx's user cannot connect to $sock"
echo "ok   responder sockets: 0660 sbx:$ngroup; nobody is refused, www-data connects"

# PostgreSQL: loopback only, and a password is required.
listen=$(ss -Htln "sport = :$pg" | awk '{print $4}' | sort -u | tr '\n' ' ')
[ "$listen" = "127.0.0.1:$pg " ] || fail "PostgreSQL listens on: $listen"
rc=0
PGPASSWORD=wrong PGCONNECT_TIMEOUT=5 psql -X -q -h 127.0.0.1 -p "$pg" -U sbx -d sbx \
    -c 'SELECT 1' > /dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "PostgreSQL accepted a wrong password"
# The password from DATABASE_URL (postgresql://sbx:PASSWORD@host:port/sbx)
# goes in the environment, not on a command line.
url=$(sed -n 's/^DATABASE_URL=//p' "$state/up.env")
pw=${url#*://*:}
pw=${pw%%@*}
PGPASSWORD=$pw psql -X -q -At -h 127.0.0.1 -p "$pg" -U sbx -d sbx -c 'SELECT 1' 2>/dev/null \
    | grep -qx 1 || fail "the password in up.env's DATABASE_URL does not connect"
echo "ok   PostgreSQL on 127.0.0.1 only, with password authentication"

# The search must see the stack while it runs, or its silence below
# would prove nothing.
running=$(instance_pids)
for what in nginx postgres spawn-fcgi\|multiwatch\|sbx-meta; do
    echo "$running" | grep -qE "$what" || fail "no $what process found while running: $running"
done
echo "ok   $(echo "$running" | wc -l) processes of the stack found while it runs"

# --detach twice: the first instance is stopped and a new one started.
up --detach > "$out" 2>&1 || fail "a second scripts/up --detach exited $?"
echo "ok   a second --detach over a running stack works"

up --stop > "$out" 2>&1 || fail "scripts/up --stop exited $?"
left=$(instance_pids)
[ -z "$left" ] || fail "processes left after --stop: $left"
for p in "$https" "$http" "$pg" "$idp" "$cfn"; do
    if ss -Htln "sport = :$p" | grep -q .; then fail "port $p still listened on"; fi
done
echo "ok   --stop leaves no process and no listening port"

up --stop > "$out" 2>&1 || fail "a second --stop exited $?"
echo "ok   --stop on a stopped stack is fine"
