# shellcheck shell=bash
# The service's own processes: the build, the migration, the FastCGI
# responders, the local fakes and the reaper loop. Sourced by scripts/up
# after common.sh, settings.sh and procs.sh.

SBX_RESPONDERS=(sbx-meta sbx-auth sbx-sandboxes sbx-jobs)

# Builds out of tree in SBX_BUILD_DIR. autoreconf runs only when the
# generated files are missing or older than their sources (other people
# may be editing the checkout), configure only when the build directory
# is new or SBX_CONFIGURE_FLAGS changed. SBX_SKIP_BUILD=1 uses the build
# directory as it is (a test starting a second stack from the same build).
sbx_build() {
    local log="$SBX_LOG_DIR/build.log" flags=${SBX_CONFIGURE_FLAGS:-}
    if [ "${SBX_SKIP_BUILD:-0}" = 1 ]; then
        [ -x "$SBX_BUILD_DIR/fcgi/sbx-meta" ] \
            || sbx_die "SBX_SKIP_BUILD=1 but $SBX_BUILD_DIR/fcgi/sbx-meta is not built"
        return 0
    fi
    : > "$log"
    if sbx_need_autoreconf; then
        sbx_say "autoreconf -fi in $SBX_SRC_DIR"
        (cd "$SBX_SRC_DIR" && autoreconf -fi) >> "$log" 2>&1 \
            || sbx_build_failed "autoreconf"
    fi
    mkdir -p "$SBX_BUILD_DIR"
    if [ ! -f "$SBX_BUILD_DIR/Makefile" ] \
        || [ "$(cat "$SBX_BUILD_DIR/.sbx-configure-flags" 2>/dev/null)" != "$flags" ]; then
        sbx_say "configuring in $SBX_BUILD_DIR ${flags:+($flags)}"
        # shellcheck disable=SC2086 # flags is a list of words by design
        (cd "$SBX_BUILD_DIR" && "$SBX_SRC_DIR/configure" -q $flags) >> "$log" 2>&1 \
            || sbx_build_failed "configure"
        printf '%s' "$flags" > "$SBX_BUILD_DIR/.sbx-configure-flags"
    fi
    sbx_say "building (make -j2; log in $log)"
    make -C "$SBX_BUILD_DIR" -j2 >> "$log" 2>&1 || sbx_build_failed "make"
}

sbx_need_autoreconf() {
    local src=$SBX_SRC_DIR
    [ -x "$src/configure" ] && [ -f "$src/Makefile.in" ] || return 0
    [ "$src/configure.ac" -nt "$src/configure" ] && return 0
    [ "$src/Makefile.am" -nt "$src/Makefile.in" ] && return 0
    return 1
}

sbx_build_failed() {
    tail -n 40 "$SBX_LOG_DIR/build.log" >&2
    sbx_die "$1 failed; the whole log is $SBX_LOG_DIR/build.log"
}

# The environment every process of the service gets: the settings of
# up.env and little else. The OAuth client secret is left out of it and
# only in SBX_SIGNIN_ENV, for sbx-auth (the code exchange) and the local
# IdP: no other process has it to leak.
sbx_service_env() {
    SBX_SERVICE_ENV=(PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 TZ=UTC)
    SBX_SIGNIN_ENV=()
    local line
    while IFS= read -r line; do
        case $line in
            GOOGLE_CLIENT_SECRET=*) SBX_SIGNIN_ENV+=("$line") ;;
            *) SBX_SERVICE_ENV+=("$line") ;;
        esac
    done < <(sbx_env_words)
    SBX_SIGNIN_ENV=("${SBX_SERVICE_ENV[@]}" "${SBX_SIGNIN_ENV[@]}")
}

# Applies the schema with sbx-migrate (as root: it reads schema/ from the
# checkout, which the run user may not be able to read).
sbx_migrate() {
    local bin="$SBX_BUILD_DIR/schema/sbx-migrate" log="$SBX_LOG_DIR/migrate.log"
    if [ ! -x "$bin" ]; then
        sbx_warn "schema/sbx-migrate is not built: the database is NOT migrated"
        return 0
    fi
    sbx_say "migrating the database"
    if ! (cd "$SBX_STATE_DIR" && env -i "${SBX_SERVICE_ENV[@]}" "$bin" --dialect postgres) \
        >> "$log" 2>&1 9>&-; then
        tail -n 20 "$log" >&2
        sbx_die "sbx-migrate failed; see $log"
    fi
}

# Starts each responder that is built, as N workers (SBX_WORKERS) under
# spawn-fcgi + multiwatch on $SBX_RUN_DIR/<name>.sock. The socket is
# owned by the run user and group-owned by nginx's worker group, mode
# 0660: nginx's workers and the responders can connect, nobody else.
# multiwatch passes a stop on to the workers as TERM (-s TERM): its
# default, USR1, is libfcgi's "stop after the next request", which a
# worker blocked in accept never reaches.
sbx_responders_start() {
    local name bin sock ngroup started=0
    local -a env
    ngroup=$(id -gn "$NGINX_USER") || sbx_die "no user $NGINX_USER (NGINX_USER)"
    for name in "${SBX_RESPONDERS[@]}"; do
        bin="$SBX_BUILD_DIR/fcgi/$name"
        sock="$SBX_RUN_DIR/$name.sock"
        rm -f "$sock"
        if [ ! -x "$bin" ]; then
            sbx_warn "fcgi/$name is not built: its routes answer 502"
            continue
        fi
        env=("${SBX_SERVICE_ENV[@]}")
        [ "$name" != sbx-auth ] || env=("${SBX_SIGNIN_ENV[@]}")
        sbx_spawn "$name" "${env[@]}" -- \
            /usr/bin/spawn-fcgi -n -s "$sock" -M 0660 \
            -u "$SBX_RUN_USER" -U "$SBX_RUN_USER" -G "$ngroup" -- \
            /usr/bin/multiwatch -f "$SBX_WORKERS" -s TERM -- "$bin"
        sbx_wait_for 5 test -S "$sock" \
            || sbx_die "$name did not bind $sock; see $SBX_LOG_DIR/$name.log"
        started=$((started + 1))
    done
    sbx_say "started $started responder(s), $SBX_WORKERS worker(s) each"
}

# Runs cmd... as the run user (setpriv execs, so the pid stays the one
# sbx_spawn recorded).
sbx_setpriv() {
    printf '%s\n' setpriv "--reuid=$SBX_RUN_USER" "--regid=$SBX_RUN_GROUP" --init-groups --
}

# Starts the local IdP and the local AWS services (CloudFormation, EC2,
# the Price List) from tests/fakes when they are used (no real settings
# given) and present. They are copied into the state directory first:
# the run user may not be able to read the checkout.
sbx_fakes_start() {
    local dst="$SBX_STATE_DIR/fakes" data="$SBX_STATE_DIR/fakes-data"
    rm -rf "$dst"
    mkdir -p "$dst"
    cp -R "$SBX_SRC_DIR/tests/fakes/." "$dst/" 2>/dev/null || true
    chmod -R a+rX "$dst"
    sbx_mkdir "$data" "$SBX_RUN_USER:$SBX_RUN_GROUP" 0700

    if [ "$SBX_USE_FAKE_IDP" = 1 ]; then
        # The fake reads its client secret from the environment (it has
        # up.env's settings), not from its command line (ps).
        sbx_fake_start fake-idp fake_idp.py FAKE_IDP "local IdP" \
            "sign-in will not work" SBX_SIGNIN_ENV \
            --client-id "$GOOGLE_CLIENT_ID" --client-secret-env GOOGLE_CLIENT_SECRET \
            --key-dir "$data" --redirect-uri "$BASE_URL/auth/callback"
    fi
    if [ "$SBX_USE_FAKE_CFN" = 1 ]; then
        sbx_fake_aws_start fake-cfn fake_cfn.py FAKE_CFN "local CloudFormation" \
            "sandboxes cannot be created"
        # The cost estimates read EC2 and the Price List.
        sbx_fake_aws_start fake-ec2 fake_ec2.py FAKE_EC2 "local EC2" \
            "sandbox costs stay unknown" --cfn-url "$FAKE_CFN_URL"
        sbx_fake_aws_start fake-pricing fake_pricing.py FAKE_PRICING \
            "local Price List" "sandbox costs stay unknown"
    fi
}

# Starts one local fake from the state directory's copy, as the run user
# with the environment ENV (the name of an array), and waits until it
# listens on ${PREFIX}_PORT (its URL is ${PREFIX}_URL):
#   sbx_fake_start COMPONENT SCRIPT PREFIX WHAT IF_MISSING ENV [ARGS...]
# Without the script it only warns "tests/fakes/SCRIPT is missing:
# IF_MISSING".
sbx_fake_start() {
    local name=$1 script=$2 port_var=$3_PORT url_var=$3_URL what=$4 missing=$5
    local env_words="$6[@]"
    local dst="$SBX_STATE_DIR/fakes" port
    local -a as_user
    shift 6
    port=${!port_var}
    if [ ! -f "$dst/$script" ]; then
        sbx_warn "tests/fakes/$script is missing: $missing"
        return 0
    fi
    mapfile -t as_user < <(sbx_setpriv)
    sbx_port_busy "$port" && sbx_die "port $port ($port_var) is in use"
    sbx_say "starting the $what on ${!url_var}"
    sbx_spawn "$name" "${!env_words}" -- "${as_user[@]}" \
        /usr/bin/python3 "$dst/$script" --port "$port" "$@"
    sbx_wait_for 30 sbx_port_busy "$port" \
        || sbx_die "the $what did not listen; see $SBX_LOG_DIR/$name.log"
}

# A local AWS service: sbx_fake_start with the service's environment and
# the credentials and region the service itself uses.
#   sbx_fake_aws_start COMPONENT SCRIPT PREFIX WHAT IF_MISSING [ARGS...]
sbx_fake_aws_start() {
    local name=$1 script=$2 prefix=$3 what=$4 missing=$5
    shift 5
    sbx_fake_start "$name" "$script" "$prefix" "$what" "$missing" SBX_SERVICE_ENV \
        --access-key-id "$AWS_ACCESS_KEY_ID" \
        --secret-access-key "$AWS_SECRET_ACCESS_KEY" --region "$AWS_REGION" "$@"
}

# Runs cron/sbx-reaper --once every REAPER_INTERVAL_SECONDS, when built.
sbx_reaper_start() {
    local bin="$SBX_BUILD_DIR/cron/sbx-reaper"
    local -a as_user
    if [ ! -x "$bin" ]; then
        sbx_warn "cron/sbx-reaper is not built: nothing reaps expired sandboxes"
        return 0
    fi
    mapfile -t as_user < <(sbx_setpriv)
    sbx_say "starting the reaper loop (every ${REAPER_INTERVAL_SECONDS}s)"
    sbx_spawn reaper "${SBX_SERVICE_ENV[@]}" -- \
        /bin/bash "$SBX_SRC_DIR/scripts/lib/reaper-loop.sh" "$SBX_STATE_DIR" \
        "$REAPER_INTERVAL_SECONDS" "${as_user[@]}" "$bin" --once
}
