#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/packages.txt that dpkg says
# are missing. apt-get update runs only when something must be installed.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# `deps.sh --list SECTION` only prints the packages of one "# [SECTION]"
# of packages.txt (e.g. runtime, for a server), one a line.
if [ "${1:-}" = --list ]; then
    section=${2:?usage: deps.sh [--list SECTION]}
    awk -v want="# [$section]" '
        /^# \[/ { on = ($0 == want); next }
        on && $0 != "" && $0 !~ /^#/ { print }' "$here/packages.txt"
    exit 0
fi
missing=()
while read -r pkg; do
    case "$pkg" in ''|'#'*) continue ;; esac
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done < "$here/packages.txt"
if [ "${#missing[@]}" -gt 0 ]; then
    echo "deps: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    # Two runs at once (a test beside scripts/up) wait for each other's
    # dpkg lock instead of failing.
    apt_wait=(-o DPkg::Lock::Timeout=600)
    apt-get "${apt_wait[@]}" update -qq
    # The server packages must not start a cluster or nginx of their own:
    # the project runs private instances under scripts/up.
    made_policy=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        made_policy=1
    fi
    apt-get "${apt_wait[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2
    [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
