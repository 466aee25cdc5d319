#!/usr/bin/env bash
# Runs the reaper once every INTERVAL seconds, as cron would on a server
# and an EventBridge schedule does on ECS. Started by scripts/up:
#
#   reaper-loop.sh STATE_DIR INTERVAL COMMAND...
#
# STATE_DIR is only there so that the loop's command line names its stack.
# A failed run is logged and the loop goes on: the next run retries.
set -uo pipefail
interval=$2
shift 2
trap 'exit 0' TERM INT
while :; do
    "$@"
    rc=$?
    if [ "$rc" -ne 0 ]; then
        printf '{"level":"error","module":"reaper-loop","message":"sbx-reaper exited %d"}\n' "$rc" >&2
    fi
    sleep "$interval" &
    wait $!
done
