#!/bin/bash
# The installed service serves: `make install` into a throwaway
# prefix and sysconfdir (no DESTDIR: the paths in the units and the
# configuration are the real ones), sbx.env filled with the running
# stack's database and sign-in settings, sbx-nginx-config renders nginx,
# then each unit's commands run as systemd would run them (no systemd is
# PID 1 here, so this test reads ExecStartPre=, ExecStart=, Environment=,
# EnvironmentFile= and UnsetEnvironment= itself). Checked: /readyz (the
# database), /api/ and the page through the installed nginx; each socket
# belongs to sbx and nginx's group, mode 0660; the workers run as sbx;
# GOOGLE_CLIENT_SECRET reaches sbx-auth's workers only; the reaper runs
# from the installed tree as sbx with the settings file. Needs root (as
# scripts/test runs it) and the stack.
set -euo pipefail

build=$PWD
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (spawn-fcgi switches to sbx)" >&2; exit 1; }
id sbx > /dev/null 2>&1 || { echo "FAIL: no user sbx (scripts/up makes it)" >&2; exit 1; }
: "${SBX_TEST_ENV:?run-one sets it}"
T=$(mktemp -d /tmp/sbx-serve-test.XXXXXX)
chmod 0755 "$T"
pgids=()
vars=(prefix="$T/usr" sysconfdir="$T/etc" SBX_RUN_DIR="$T/run" SBX_LOG_DIR="$T/log" SBX_VAR_DIR="$T/var")
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$build" --no-print-directory "$@"; }
cleanup() {
    local g
    for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2> /dev/null || true; done
    sleep 1
    for g in "${pgids[@]}"; do kill -KILL -- "-$g" 2> /dev/null || true; done
    mk uninstall "${vars[@]}" > /dev/null 2>&1 || true
    rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        (exec 3<> "/dev/tcp/127.0.0.1/$p") 2> /dev/null || { echo "$p"; return; }
    done
}
https=$(free_port)
http=$(free_port)

mk install "${vars[@]}" > "$T/install.log" 2>&1 || { cat "$T/install.log" >&2; exit 1; }
units=$T/usr/lib/systemd/system
envf=$T/etc/sbx/sbx.env
# The stack's settings, then this nginx's ports (the last line wins).
{ grep -E '^[A-Z][A-Z0-9_]*=' "$SBX_TEST_ENV"
  printf 'HTTPS_PORT=%s\nHTTP_PORT=%s\nNGINX_LISTEN_ADDRESS=127.0.0.1\nSBX_WORKERS=1\n' "$https" "$http"
} >> "$envf"
chown sbx:sbx "$envf"
mkdir -p "$T/run" "$T/log" "$T/var/nginx/tmp"

env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$T/usr/sbin/sbx-nginx-config" > "$T/render.log" 2>&1 \
    || { cat "$T/render.log" >&2; fail "sbx-nginx-config"; exit 1; }

# Starts a unit's ExecStartPre= then ExecStart= in a session of its own,
# with the unit's environment; prints the session id.
run_unit() {
    /usr/bin/python3 - "$1" "$2" <<'PYEOF'
import os, re, shlex, subprocess, sys
unit, log = sys.argv[1:]
env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
pre, start = [], None
for line in open(unit, encoding="utf-8"):
    line = line.strip()
    key, _, val = line.partition("=")
    if key == "Environment":
        for w in shlex.split(val):
            k, v = w.split("=", 1)
            env[k] = v
    elif key == "EnvironmentFile":
        for l in open(val.lstrip("-"), encoding="utf-8"):
            l = l.strip()
            if l and l[0] not in "#;" and "=" in l:
                k, v = l.split("=", 1)
                env[k] = v
    elif key == "UnsetEnvironment":
        for k in val.split():
            env.pop(k, None)
    elif key == "ExecStartPre":
        pre.append(val)
    elif key == "ExecStart":
        start = val
def argv(cmd):
    return shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), ""), cmd))
for c in pre:
    subprocess.run(argv(c), env=env, check=True)
out = open(log, "ab")
p = subprocess.Popen(argv(start), env=env, stdin=subprocess.DEVNULL, stdout=out,
                     stderr=out, start_new_session=True)
print(p.pid)
PYEOF
}

names=$(cd "$units" && ls sbx-*.service | grep -vE '^sbx-(nginx|reaper)\.service$' | sed 's/\.service$//')
for n in $names; do
    pgids+=("$(run_unit "$units/$n.service" "$T/log/$n.out")")
done
pgids+=("$(run_unit "$units/sbx-nginx.service" "$T/log/nginx.out")")

for _ in $(seq 1 100); do
    curl -sk -o /dev/null "https://127.0.0.1:$https/healthz" && break
    sleep 0.1
done
ready=$(curl -sk -w ' %{http_code}' "https://127.0.0.1:$https/readyz" || true)
[ "$ready" = '{"status":"ready"} 200' ] && ok "/readyz through the installed nginx and sbx-meta" \
    || fail "/readyz: $ready ($(tail -n 5 "$T/log/nginx-error.log" "$T"/log/*.out 2>/dev/null))"
api=$(curl -sk "https://127.0.0.1:$https/api/" || true)
[ "$api" = '{"message":"Welcome to the sandbox service"}' ] && ok "/api/" || fail "/api/: $api"
page=$(curl -sk -o /dev/null -w '%{http_code} %{content_type}' "https://127.0.0.1:$https/" || true)
case "$page" in "200 text/html"*) ok "the page from the installed nginx/www" ;; *) fail "/: $page" ;; esac

for n in $names; do
    sock=$T/run/$n.sock
    got=$(stat -c '%U:%G %a %F' "$sock" 2>/dev/null || echo missing)
    [ "$got" = "sbx:www-data 660 socket" ] || fail "$n.sock is $got, not sbx:www-data 660"
    pids=$(pgrep -f "^$T/usr/libexec/sbx/$n\$" || true)
    [ -n "$pids" ] || { fail "no worker of $n"; continue; }
    for pid in $pids; do
        [ "$(ps -o user= -p "$pid")" = sbx ] || fail "a worker of $n runs as $(ps -o user= -p "$pid")"
        if tr '\0' '\n' < "/proc/$pid/environ" | grep -q '^GOOGLE_CLIENT_SECRET='; then
            [ "$n" = sbx-auth ] || fail "$n's worker holds GOOGLE_CLIENT_SECRET"
        else
            [ "$n" != sbx-auth ] || fail "sbx-auth's worker lacks GOOGLE_CLIENT_SECRET"
        fi
    done
done
[ "$fails" = 0 ] && ok "sockets sbx:www-data 0660, workers as sbx, the client secret in sbx-auth only ($names)"

# The reaper from the installed tree, as cron runs it: sbx, the settings file.
if out=$(runuser -u sbx -- env -i PATH="$T/usr/bin:/usr/bin:/bin" SBX_ENV_FILE="$envf" \
    sbx-reaper --dry-run 2>&1) && printf '%s' "$out" | grep -q '"ok":true'; then
    ok "sbx-reaper --dry-run as sbx with $envf"
else
    fail "sbx-reaper --dry-run: $out"
fi

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo PASS
