# shellcheck shell=bash disable=SC2034 # globals set here are read by the other files
# Shared helpers for scripts/up and scripts/test: messages, paths, running a
# command as the unprivileged user. Sourced, never run; expects bash with
# `set -euo pipefail` already on.

# Messages go to stderr so that a caller can capture stdout if it wants to.
sbx_say() { printf '%s: %s\n' "${SBX_PROG:-up}" "$*" >&2; }
sbx_warn() { printf '%s: warning: %s\n' "${SBX_PROG:-up}" "$*" >&2; }
sbx_die() { printf '%s: error: %s\n' "${SBX_PROG:-up}" "$*" >&2; exit 1; }

# The checkout this script belongs to (scripts/lib/..).
SBX_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

# The default state directory is keyed by the checkout path, so that two
# checkouts on one machine never share a database, and it lives under
# /var/tmp so that the unprivileged user can reach it even when the
# checkout sits in a 0700 home directory.
sbx_default_state_dir() {
    local key
    key=$(printf '%s' "$SBX_SRC_DIR" | sha256sum | cut -c1-12)
    printf '/var/tmp/sbx-%s\n' "$key"
}

# Runs a command as the run user, from a directory that user can enter:
# initdb and pg_ctl refuse to run when they cannot read their working
# directory, which they cannot when the caller stands in a 0700 checkout.
sbx_as_user() {
    (cd / && runuser -u "$SBX_RUN_USER" -- "$@")
}

# Creates the unprivileged system user (and its group) that owns the
# database files and runs the responders, the fakes and the reaper.
sbx_ensure_user() {
    if ! getent passwd "$SBX_RUN_USER" >/dev/null; then
        sbx_say "creating system user $SBX_RUN_USER"
        useradd --system --user-group --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin "$SBX_RUN_USER"
    fi
    SBX_RUN_GROUP=$(id -gn "$SBX_RUN_USER")
}

# Creates a directory with the given owner and mode (mkdir -m only applies
# to the last component and not to an existing directory, hence chmod).
sbx_mkdir() {
    local dir=$1 owner=$2 mode=$3
    mkdir -p "$dir"
    chown "$owner" "$dir"
    chmod "$mode" "$dir"
}

# True when something listens on the TCP port on any local address.
sbx_port_busy() {
    ss -Htln "sport = :$1" 2>/dev/null | grep -q .
}

# Waits until cmd... succeeds, at most $1 seconds (checked every 0.2 s).
sbx_wait_for() {
    local seconds=$1; shift
    local tries=$((seconds * 5))
    while [ "$tries" -gt 0 ]; do
        if "$@"; then return 0; fi
        sleep 0.2
        tries=$((tries - 1))
    done
    return 1
}

# A random hex secret of n bytes.
sbx_random_hex() {
    openssl rand -hex "$1"
}
