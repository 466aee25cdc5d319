# shellcheck shell=bash
# The private PostgreSQL cluster of one stack: created once in
# $SBX_STATE_DIR/pg, run as the unprivileged user (PostgreSQL refuses
# root), listening on loopback TCP with password (SCRAM) authentication so
# that any local client, root included, can connect with DATABASE_URL.
# Sourced by scripts/up after common.sh and settings.sh.

# Creates the cluster when it does not exist. The bootstrap superuser is
# "postgres" with its own password; the service connects as "sbx", which
# owns its database but is not a superuser.
sbx_pg_init() {
    sbx_mkdir "$SBX_STATE_DIR/pg" "$SBX_RUN_USER:$SBX_RUN_GROUP" 0700
    sbx_mkdir "$PG_SOCKET_DIR" "$SBX_RUN_USER:$SBX_RUN_GROUP" 0700
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
        sbx_say "creating the PostgreSQL cluster in $PGDATA"
        local pwfile="$SBX_STATE_DIR/pg/.pwfile"
        (umask 077 && printf '%s\n' "$SBX_PG_SUPERPASSWORD" > "$pwfile")
        chown "$SBX_RUN_USER:$SBX_RUN_GROUP" "$pwfile"
        if ! sbx_as_user "$PG_BIN/initdb" -D "$PGDATA" -U postgres \
            --pwfile="$pwfile" --auth-local=scram-sha-256 \
            --auth-host=scram-sha-256 -E UTF8 --locale=C \
            > "$SBX_LOG_DIR/initdb.log" 2>&1; then
            rm -f "$pwfile"
            sbx_die "initdb failed; see $SBX_LOG_DIR/initdb.log"
        fi
        rm -f "$pwfile"
    fi
    # Our settings live in a file of their own, rewritten on every start,
    # so that a changed PG_PORT applies and pg_ctl start (as the tests use
    # it) needs no options.
    local conf="$PGDATA/postgresql.conf"
    grep -qxF "include_if_exists = 'sbx.conf'" "$conf" \
        || printf "\ninclude_if_exists = 'sbx.conf'\n" >> "$conf"
    cat > "$PGDATA/sbx.conf" <<EOF
# Written by scripts/up on every start.
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCKET_DIR'
password_encryption = 'scram-sha-256'
EOF
    chown "$SBX_RUN_USER:$SBX_RUN_GROUP" "$PGDATA/sbx.conf" "$conf"
}

# pg_ctl as the run user, carrying our instance marker; the postmaster
# keeps no fd of ours (see sbx_close_fds).
sbx_pg_ctl() {
    (sbx_close_fds; sbx_as_user env -i "SBX_INSTANCE=$SBX_STATE_DIR" PATH=/usr/bin:/bin \
        LANG=C.UTF-8 "$PG_BIN/pg_ctl" -D "$PGDATA" "$@")
}

sbx_pg_running() {
    [ -s "$PGDATA/postmaster.pid" ] && sbx_pg_ctl status >/dev/null 2>&1
}

# Starts the cluster (a cluster left running by a crashed run has been
# stopped before, by sbx_stop_all) and waits until it accepts connections.
sbx_pg_start() {
    local log="$SBX_LOG_DIR/postgres.log"
    touch "$log"
    chown "$SBX_RUN_USER:$SBX_RUN_GROUP" "$log"
    chmod 0640 "$log"
    sbx_port_busy "$PG_PORT" && sbx_die "port $PG_PORT (PG_PORT) is in use; set PG_PORT to a free port"
    sbx_say "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    sbx_pg_ctl -l "$log" -w -t 60 start >/dev/null \
        || sbx_die "PostgreSQL did not start; see $log"
}

sbx_pg_stop() {
    if [ -n "${PGDATA:-}" ] && sbx_pg_running; then
        sbx_say "stopping PostgreSQL"
        sbx_pg_ctl -w -t 60 -m fast stop >/dev/null \
            || sbx_warn "pg_ctl stop failed; see $SBX_LOG_DIR/postgres.log"
    fi
}

# Creates the role and the database of the service, and sets the role's
# password to the one kept in secrets (so a changed secret file applies).
# The SQL goes on stdin, so the password never shows in a command line.
sbx_pg_provision() {
    PGPASSWORD=$SBX_PG_SUPERPASSWORD "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -f - >/dev/null <<EOF \
        || sbx_die "could not create the database role and database"
SELECT 'CREATE ROLE sbx LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sbx')\gexec
ALTER ROLE sbx WITH LOGIN NOSUPERUSER PASSWORD '$SBX_PG_PASSWORD';
SELECT 'CREATE DATABASE sbx OWNER sbx' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'sbx')\gexec
EOF
}
