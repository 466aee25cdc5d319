#!/usr/bin/env bash
# sbx-test: no-stack
# scripts/lib/nginx.sh render, as scripts/up and the container run it:
#   - keepalive_timeout comes from NGINX_KEEPALIVE_TIMEOUT, 75s by
#     default (above an ALB's idle timeout), and a
#     value nginx would misread is refused;
#   - GET /metrics is allowed from loopback and METRICS_ALLOW_FROM, then
#     denied to all; a malformed network is refused naming the setting;
#   - the result passes `nginx -t`.
set -euo pipefail

src=${SBX_SRC_DIR:?SBX_SRC_DIR is not set}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

render() {
    rm -rf "$work/conf"
    env -i PATH="$PATH" SBX_LOG_DIR="$work" SBX_RUN_DIR="$work" \
        SBX_TLS_CERT="$work/cert.pem" SBX_TLS_KEY="$work/key.pem" \
        HTTPS_PORT=18443 HTTP_PORT=18080 NGINX_USER=root "$@" \
        bash "$src/scripts/lib/nginx.sh" render "$src/nginx" "$work/conf" "$work" \
        2> "$work/err"
}

render || fail "default render failed: $(cat "$work/err")"
grep -q '^    keepalive_timeout 75s;$' "$work/conf/sbx.conf" || fail "default keepalive_timeout is not 75s"
[ "$(cat "$work/conf/metrics-allow.conf")" = "$(printf 'allow 127.0.0.0/8;\nallow ::1;\ndeny all;')" ] \
    || fail "metrics-allow.conf without METRICS_ALLOW_FROM: $(cat "$work/conf/metrics-allow.conf")"
grep -q 'include .*/metrics-allow.conf;' "$work/conf/sbx.conf" || fail "/metrics does not include its allow list"
echo "ok   defaults: keepalive 75s, /metrics for loopback only"

render NGINX_KEEPALIVE_TIMEOUT=90s METRICS_ALLOW_FROM=" 10.0.0.0/8, 2001:db8::/32" \
    || fail "render failed: $(cat "$work/err")"
grep -q '^    keepalive_timeout 90s;$' "$work/conf/sbx.conf" || fail "NGINX_KEEPALIVE_TIMEOUT=90s not rendered"
grep -q '^allow 10.0.0.0/8;$' "$work/conf/metrics-allow.conf" || fail "10.0.0.0/8 not allowed"
grep -q '^allow 2001:db8::/32;$' "$work/conf/metrics-allow.conf" || fail "2001:db8::/32 not allowed"
[ "$(tail -n 1 "$work/conf/metrics-allow.conf")" = "deny all;" ] || fail "deny all is not last"
mkdir -p "$work/tmp"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=t -keyout "$work/key.pem" \
    -out "$work/cert.pem" 2>/dev/null
/usr/sbin/nginx -t -q -p "$work/" -c "$work/conf/sbx.conf" -e "$work/nginx-t.log" 2>"$work/t.err" \
    || fail "nginx -t rejects the rendered configuration: $(cat "$work/t.err")"
echo "ok   NGINX_KEEPALIVE_TIMEOUT and METRICS_ALLOW_FROM rendered; nginx -t passes"

if render NGINX_KEEPALIVE_TIMEOUT="75s; evil"; then fail "a keepalive value with ';' was accepted"; fi
grep -q NGINX_KEEPALIVE_TIMEOUT "$work/err" || fail "the refusal does not name NGINX_KEEPALIVE_TIMEOUT"
if render NGINX_KEEPALIVE_TIMEOUT=soon; then fail "NGINX_KEEPALIVE_TIMEOUT=soon was accepted"; fi
if render METRICS_ALLOW_FROM="10.0.0.0/8,all"; then fail "METRICS_ALLOW_FROM=all was accepted"; fi
grep -q 'METRICS_ALLOW_FROM: not an address or CIDR block: all' "$work/err" \
    || fail "the refusal does not name METRICS_ALLOW_FROM: $(cat "$work/err")"
echo "ok   malformed values are refused, naming the setting"
