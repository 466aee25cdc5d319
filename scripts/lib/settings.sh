# shellcheck shell=bash disable=SC2034 # globals set here are read by the other files
# Settings of one local stack: defaults, generated secrets, and the env file
# (var/up.env) that records every setting the stack runs with. Sourced by
# scripts/up after common.sh.
#
# Rule: a setting given in the environment always wins over its default.
# Generated values (passwords, keys, fake credentials) are made once and
# kept in $SBX_STATE_DIR/secrets, so a restart keeps sessions and data.

# Keys written to up.env, in order.
SBX_ENV_KEYS=()

# Settings of DESIGN.md section 6 that have no local default here: they are
# written to up.env (and so reach the responders) only when the environment
# gives them. The names in common/core/config.c's table are added at run time,
# so a setting added there later is passed through without an edit here.
SBX_PASSTHROUGH_KEYS=(
    LOG_LEVEL MAX_BODY_BYTES HTTP_TIMEOUT_SECONDS HTTP_CONNECT_TIMEOUT_SECONDS
    DB_MAX_CONN_AGE_SECONDS DB_CONNECT_TIMEOUT_SECONDS DB_TX_MAX_ATTEMPTS
    DB_TX_BACKOFF_MS SESSION_TTL_SECONDS OIDC_JWKS_MIN_REFRESH_SECONDS
    AWS_ENDPOINT_URL AWS_SESSION_TOKEN AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE
    AWS_CONFIG_FILE CFN_ROLE_ARN
    SANDBOX_DEFAULT_TTL_MINUTES SANDBOX_MAX_TTL_MINUTES
    SANDBOX_MAX_LIFETIME_MINUTES SANDBOX_MAX_PER_USER STACK_NAME_PREFIX
    SANDBOX_REFRESH_SECONDS REAPER_BACKOFF_SECONDS REAPER_MAX_ATTEMPTS
    REAPER_BATCH_SIZE NOTIFY_WEBHOOK_URL NOTIFY_WEBHOOK_SECRET
    EXPIRY_WARNING_MINUTES
    # Sanitizer settings, so that scripts/test's choice reaches every binary.
    ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
)

# Sets KEY to the environment's value when given, else to the default, and
# records it for up.env. A value given as empty counts as given.
sbx_set() {
    local key=$1 default=$2
    if [ -z "${!key+x}" ]; then
        printf -v "$key" '%s' "$default"
    fi
    export "${key?}"
    sbx_record "$key"
}

# Records KEY (already set) for up.env, once.
sbx_record() {
    local k
    for k in "${SBX_ENV_KEYS[@]}"; do
        [ "$k" != "$1" ] || return 0
    done
    SBX_ENV_KEYS+=("$1")
}

# True when the environment gave KEY a non-empty value.
sbx_given() {
    [ -n "${!1:-}" ]
}

# Prints the secret kept under name, making it (n random bytes, hex) the
# first time. The directory is root-only.
sbx_secret() {
    local bytes=$2 file="$SBX_STATE_DIR/secrets/$1"
    if [ ! -s "$file" ]; then
        (umask 077 && sbx_random_hex "$bytes" > "$file.tmp" && mv "$file.tmp" "$file")
    fi
    cat "$file"
}

# Setting names from common/core/config.c's table, when that file exists.
sbx_config_c_keys() {
    local f="$SBX_SRC_DIR/common/core/config.c"
    [ -r "$f" ] || return 0
    grep -oE '"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+"' "$f" | tr -d '"' | sort -u
}

# Decides every setting. Needs SBX_STATE_DIR, SBX_BUILD_DIR, SBX_RUN_USER.
sbx_settings_init() {
    sbx_mkdir "$SBX_STATE_DIR/secrets" root:root 0700

    sbx_record SBX_SRC_DIR
    sbx_record SBX_STATE_DIR
    sbx_record SBX_BUILD_DIR
    sbx_record SBX_RUN_USER
    sbx_set SBX_LOG_DIR "$SBX_STATE_DIR/log"
    sbx_set SBX_RUN_DIR "$SBX_STATE_DIR/run"
    sbx_set SBX_TLS_CERT "$SBX_STATE_DIR/tls/cert.pem"
    sbx_set SBX_TLS_KEY "$SBX_STATE_DIR/tls/key.pem"
    sbx_set SBX_WORKERS 2
    # The checkout's migrations (sbx-migrate's own default is the
    # installed copy, $(datadir)/sbx/schema).
    sbx_set SBX_SCHEMA_DIR "$SBX_SRC_DIR/schema"

    # Ports. Every one is a setting so that scripts/test can run beside a
    # stack that already holds the defaults.
    sbx_set HTTPS_PORT 8443
    sbx_set HTTP_PORT 8080
    sbx_set PG_PORT 55432
    sbx_set FAKE_IDP_PORT 9011
    sbx_set FAKE_CFN_PORT 9012
    sbx_set FAKE_EC2_PORT 9013
    sbx_set FAKE_PRICING_PORT 9014

    # nginx: the worker user, the address it binds (loopback locally; the
    # container image binds all) and the per-client rate limits.
    sbx_set NGINX_USER www-data
    sbx_set NGINX_LISTEN_ADDRESS 127.0.0.1
    sbx_set RATE_LIMIT_API 50r/s
    sbx_set RATE_LIMIT_API_BURST 100
    sbx_set RATE_LIMIT_AUTH 5r/s
    sbx_set RATE_LIMIT_AUTH_BURST 20
    sbx_set RATE_LIMIT_READYZ 5r/s
    sbx_set RATE_LIMIT_READYZ_BURST 10
    # The load balancer's networks, whose X-Forwarded-For nginx trusts.
    sbx_set NGINX_REAL_IP_FROM ""
    # Above a load balancer's idle timeout; networks besides loopback
    # allowed to GET /metrics.
    sbx_set NGINX_KEEPALIVE_TIMEOUT 75s
    sbx_set METRICS_ALLOW_FROM ""
    # Hosts the page may load profile pictures from (its img-src).
    sbx_set AVATAR_HOSTS "https://*.googleusercontent.com"

    sbx_set BASE_URL "https://localhost:$HTTPS_PORT"

    # The database: the private cluster unless DATABASE_URL is given.
    if sbx_given DATABASE_URL; then
        SBX_MANAGE_PG=0
    else
        SBX_MANAGE_PG=1
        sbx_set PG_BIN /usr/lib/postgresql/15/bin
        # Not taken from the environment: a PGDATA left in an operator's
        # shell must never make us take over another cluster.
        PGDATA="$SBX_STATE_DIR/pg/data"
        PG_SOCKET_DIR="$SBX_STATE_DIR/pg/run"
        export PGDATA PG_SOCKET_DIR
        sbx_record PGDATA
        sbx_record PG_SOCKET_DIR
        SBX_PG_PASSWORD=$(sbx_secret pg_password 24)
        SBX_PG_SUPERPASSWORD=$(sbx_secret pg_superuser_password 24)
    fi
    sbx_set DATABASE_URL "postgresql://sbx:${SBX_PG_PASSWORD:-}@127.0.0.1:$PG_PORT/sbx"
    sbx_set DB_AUTH password

    # Sign-in: the local IdP unless a real provider is configured.
    if sbx_given OIDC_ISSUER || sbx_given GOOGLE_CLIENT_ID || sbx_given GOOGLE_CLIENT_SECRET; then
        SBX_USE_FAKE_IDP=0
        sbx_set OIDC_ISSUER https://accounts.google.com
        sbx_set GOOGLE_CLIENT_ID ""
        sbx_set GOOGLE_CLIENT_SECRET ""
        sbx_set FAKE_IDP_URL ""
    else
        SBX_USE_FAKE_IDP=1
        sbx_set FAKE_IDP_URL "http://127.0.0.1:$FAKE_IDP_PORT"
        sbx_set OIDC_ISSUER "$FAKE_IDP_URL"
        sbx_set GOOGLE_CLIENT_ID "sbx-local.apps.example.com"
        sbx_set GOOGLE_CLIENT_SECRET "$(sbx_secret fake_client_secret 24)"
    fi
    sbx_set SESSION_SECRET_KEY "$(sbx_secret session_secret_key 32)"
    sbx_set ALLOWED_EMAIL_DOMAINS example.com
    sbx_set ADMIN_EMAILS admin@example.com
    # Workspace domains whose accounts must carry their hd claim (none).
    sbx_set ALLOWED_HD ""

    # AWS: the local CloudFormation unless a real endpoint or real
    # credentials are given.
    sbx_set AWS_REGION us-east-1
    if sbx_given AWS_ENDPOINT_URL_CLOUDFORMATION || sbx_given AWS_ACCESS_KEY_ID \
        || sbx_given AWS_PROFILE || sbx_given AWS_CONTAINER_CREDENTIALS_FULL_URI \
        || sbx_given AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; then
        SBX_USE_FAKE_CFN=0
        sbx_set FAKE_CFN_URL ""
        local k
        for k in AWS_ENDPOINT_URL_CLOUDFORMATION AWS_ENDPOINT_URL_EC2 AWS_ENDPOINT_URL_PRICING \
            AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; do
            if sbx_given "$k"; then sbx_record "$k"; fi
        done
    else
        SBX_USE_FAKE_CFN=1
        sbx_set FAKE_CFN_URL "http://127.0.0.1:$FAKE_CFN_PORT"
        sbx_set AWS_ENDPOINT_URL_CLOUDFORMATION "$FAKE_CFN_URL"
        # The local EC2 and Price List beside it (the cost estimates).
        sbx_set FAKE_EC2_URL "http://127.0.0.1:$FAKE_EC2_PORT"
        sbx_set AWS_ENDPOINT_URL_EC2 "$FAKE_EC2_URL"
        sbx_set FAKE_PRICING_URL "http://127.0.0.1:$FAKE_PRICING_PORT"
        sbx_set AWS_ENDPOINT_URL_PRICING "$FAKE_PRICING_URL"
        sbx_set AWS_ACCESS_KEY_ID "AKIA$(sbx_secret fake_access_key_id 8 | tr a-f A-F)"
        sbx_set AWS_SECRET_ACCESS_KEY "$(sbx_secret fake_secret_access_key 20)"
    fi

    sbx_set REAPER_INTERVAL_SECONDS 60

    # Everything else the environment gives is passed on as is.
    local key
    for key in "${SBX_PASSTHROUGH_KEYS[@]}" $(sbx_config_c_keys); do
        if [ -n "${!key+x}" ]; then
            export "${key?}"
            sbx_record "$key"
        fi
    done
}

# A value must survive three readers: the shell (`. var/up.env`), the C
# env-file parser and the Python test helper. None of them unquotes, so
# refuse what only quoting would carry.
sbx_check_value() {
    local key=$1 value=$2
    case "$value" in
        *[[:space:]\'\"\\\$\`]*)
            sbx_die "$key holds a space, quote, backslash, \$ or backtick, which var/up.env cannot carry; remove it" ;;
    esac
}

# Writes up.env: every setting, one KEY=value a line. Mode 0640 root:<run
# group>, as it holds the database password and the session key.
sbx_write_env() {
    local file="$SBX_STATE_DIR/up.env" key
    for key in "${SBX_ENV_KEYS[@]}"; do
        sbx_check_value "$key" "${!key}"
    done
    (
        umask 027
        {
            printf '# Written by scripts/up; every setting this stack runs with.\n'
            printf '# Load it with: set -a; . var/up.env; set +a\n'
            for key in "${SBX_ENV_KEYS[@]}"; do
                printf '%s=%s\n' "$key" "${!key}"
            done
        } > "$file.tmp"
    )
    chown "root:$SBX_RUN_GROUP" "$file.tmp"
    chmod 0640 "$file.tmp"
    mv "$file.tmp" "$file"
}

# The KEY=value words of up.env, for `env -i` (comments skipped).
sbx_env_words() {
    grep -E '^[A-Za-z_][A-Za-z0-9_]*=' "$SBX_STATE_DIR/up.env"
}
