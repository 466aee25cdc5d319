# shellcheck shell=bash
# nginx for one stack: renders the templates in nginx/ and runs nginx
# with its prefix, pid, logs and temporary files in the state directory.
# Sourced by scripts/up; the container image may run it as a command:
#
#   bash scripts/lib/nginx.sh render TEMPLATE_DIR CONF_DIR PREFIX
#
# with the settings below in the environment.

# Renders nginx/*.conf.in from template_dir into conf_dir. Reads:
# NGINX_USER (and NGINX_GROUP, default its primary group),
# NGINX_WORKER_PROCESSES, NGINX_LISTEN_ADDRESS, HTTP_PORT,
# HTTPS_PORT, RATE_LIMIT_API[_BURST], RATE_LIMIT_AUTH[_BURST],
# RATE_LIMIT_READYZ[_BURST],
# NGINX_KEEPALIVE_TIMEOUT, NGINX_REAL_IP_FROM, METRICS_ALLOW_FROM,
# SBX_LOG_DIR, SBX_RUN_DIR, SBX_TLS_CERT, SBX_TLS_KEY, AVATAR_HOSTS.
sbx_nginx_render() {
    local tmpl_dir=$1 conf_dir=$2 prefix=$3
    local user=${NGINX_USER:-www-data}
    local -A v=(
        [NGINX_USER]=$user
        [NGINX_GROUP]=${NGINX_GROUP:-$(id -gn "$user" 2>/dev/null || echo "$user")}
        [NGINX_WORKER_PROCESSES]=${NGINX_WORKER_PROCESSES:-auto}
        [NGINX_PREFIX]=$prefix
        [CONF_DIR]=$conf_dir
        [LOG_DIR]=$SBX_LOG_DIR
        [RUN_DIR]=$SBX_RUN_DIR
        [TLS_CERT]=$SBX_TLS_CERT
        [TLS_KEY]=$SBX_TLS_KEY
        [LISTEN_ADDRESS]=${NGINX_LISTEN_ADDRESS:-127.0.0.1}
        [HTTP_PORT]=$HTTP_PORT
        [HTTPS_PORT]=$HTTPS_PORT
        [RATE_LIMIT_API]=${RATE_LIMIT_API:-50r/s}
        [RATE_LIMIT_API_BURST]=${RATE_LIMIT_API_BURST:-100}
        [RATE_LIMIT_AUTH]=${RATE_LIMIT_AUTH:-5r/s}
        [RATE_LIMIT_AUTH_BURST]=${RATE_LIMIT_AUTH_BURST:-20}
        [RATE_LIMIT_READYZ]=${RATE_LIMIT_READYZ:-5r/s}
        [RATE_LIMIT_READYZ_BURST]=${RATE_LIMIT_READYZ_BURST:-10}
        [NGINX_KEEPALIVE_TIMEOUT]=${NGINX_KEEPALIVE_TIMEOUT:-75s}
        [WWW_DIR]=$tmpl_dir/www
    )
    if ! [[ ${v[NGINX_KEEPALIVE_TIMEOUT]} =~ ^[0-9]+(ms|s|m)?$ ]]; then
        printf 'nginx: NGINX_KEEPALIVE_TIMEOUT must be an nginx time such as 75s: %s\n' \
            "${v[NGINX_KEEPALIVE_TIMEOUT]}" >&2
        return 1
    fi
    # The page's assets are served under /v/<ASSET_VERSION>/ for a year:
    # the version is a digest of their content, so a change is a new URL.
    v[ASSET_VERSION]=$(sbx_nginx_asset_version "$tmpl_dir/www/assets") || return 1
    # Redirects name the port only when it is not the default one.
    if [ "$HTTPS_PORT" = 443 ]; then v[HTTPS_PORT_SUFFIX]=""; else v[HTTPS_PORT_SUFFIX]=":$HTTPS_PORT"; fi

    local script="" key val f out
    for key in "${!v[@]}"; do
        val=${v[$key]}
        # Values end up in nginx syntax: refuse what would change its
        # meaning rather than quote it.
        case "$val" in
            *[[:space:]\;\{\}\'\"\\\$]*)
                printf 'nginx: %s holds a character nginx would misread: %s\n' "$key" "$val" >&2
                return 1 ;;
        esac
        val=${val//&/\\&}
        val=${val//|/\\|}
        script+="s|@$key@|$val|g;"
    done
    mkdir -p "$conf_dir"
    sbx_nginx_realip "$conf_dir/realip.conf" || return 1
    sbx_nginx_metrics_allow "$conf_dir/metrics-allow.conf" || return 1
    sbx_nginx_avatar "$conf_dir/avatar.conf" || return 1
    for f in "$tmpl_dir"/*.conf.in; do
        out="$conf_dir/$(basename "$f" .in)"
        sed -e "$script" "$f" > "$out.tmp"
        if grep -n '@[A-Z_]*@' "$out.tmp" >&2; then
            printf 'nginx: unrendered placeholder in %s\n' "$f" >&2
            rm -f "$out.tmp"
            return 1
        fi
        mv "$out.tmp" "$out"
    done
}

# Prints the networks of the setting named $1 (comma-separated IPv4/IPv6
# addresses or CIDR blocks; spaces ignored), one a line; fails naming the
# setting on anything else (the shape only: nginx -t checks the rest).
sbx_nginx_nets() {
    local name=$1 net
    local -a nets
    IFS=, read -r -a nets <<< "${!name:-}"
    for net in "${nets[@]}"; do
        net=${net//[[:space:]]/}
        [ -n "$net" ] || continue
        if ! [[ $net =~ ^[0-9A-Fa-f.:]+(/[0-9]{1,3})?$ ]]; then
            printf 'nginx: %s: not an address or CIDR block: %s\n' "$name" "$net" >&2
            return 1
        fi
        printf '%s\n' "$net"
    done
}

# Writes the access rules of GET /metrics: loopback and the networks of
# METRICS_ALLOW_FROM (empty: loopback only), then deny all, which nginx
# answers with 403 (the problem+json of @problem_403).
sbx_nginx_metrics_allow() {
    local out=$1 nets net
    nets=$(sbx_nginx_nets METRICS_ALLOW_FROM) || return 1
    {
        printf 'allow 127.0.0.0/8;\nallow ::1;\n'
        for net in $nets; do printf 'allow %s;\n' "$net"; done
        printf 'deny all;\n'
    } > "$out.tmp"
    mv "$out.tmp" "$out"
}

# Writes the realip directives for NGINX_REAL_IP_FROM (the load
# balancer's networks); an empty file when it is unset, so that locally
# $remote_addr is the peer itself.
sbx_nginx_realip() {
    local out=$1 nets net
    nets=$(sbx_nginx_nets NGINX_REAL_IP_FROM) || return 1
    : > "$out.tmp"
    for net in $nets; do printf 'set_real_ip_from %s;\n' "$net" >> "$out.tmp"; done
    if [ -s "$out.tmp" ]; then
        printf 'real_ip_header X-Forwarded-For;\nreal_ip_recursive on;\n' >> "$out.tmp"
    fi
    mv "$out.tmp" "$out"
}

# The first 16 hex digits of a SHA-256 over the assets' names and contents.
sbx_nginx_asset_version() {
    local dir=$1
    [ -d "$dir" ] || { printf 'nginx: no page assets in %s\n' "$dir" >&2; return 1; }
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) \
        | sha256sum | cut -c1-16
}

# Writes $sbx_avatar_hosts, the hosts the page may load pictures from
# (AVATAR_HOSTS: comma-separated CSP host sources, default Google's): the
# page's Content-Security-Policy names them in img-src, and index.html gets
# them (sub_filter) so that the page shows initials instead of a picture
# the policy would block.
sbx_nginx_avatar() {
    local out=$1 host hosts=""
    local -a list
    IFS=, read -r -a list <<< "${AVATAR_HOSTS-https://*.googleusercontent.com}"
    for host in "${list[@]}"; do
        host=${host//[[:space:]]/}
        [ -n "$host" ] || continue
        if ! [[ $host =~ ^https://(\*\.)?[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$ ]]; then
            printf 'nginx: AVATAR_HOSTS: not an https host source (https://host or https://*.domain): %s\n' "$host" >&2
            return 1
        fi
        hosts+="${hosts:+ }$host"
    done
    printf 'map $host $sbx_avatar_hosts {\n    default "%s";\n}\n' "$hosts" > "$out.tmp"
    mv "$out.tmp" "$out"
}

# The directories nginx writes, in the state directory. Temporary
# directories are made by nginx itself, owned by the worker user.
sbx_nginx_prepare() {
    SBX_NGINX_PREFIX="$SBX_STATE_DIR/nginx"
    SBX_NGINX_CONF="$SBX_NGINX_PREFIX/conf/sbx.conf"
    mkdir -p "$SBX_NGINX_PREFIX/conf" "$SBX_NGINX_PREFIX/tmp" "$SBX_NGINX_PREFIX/logs"
    sbx_nginx_render "$SBX_SRC_DIR/nginx" "$SBX_NGINX_PREFIX/conf" "$SBX_NGINX_PREFIX" \
        || sbx_die "could not render the nginx configuration"
    sbx_nginx_cmd -t -q 2> "$SBX_LOG_DIR/nginx-check.log" \
        || { cat "$SBX_LOG_DIR/nginx-check.log" >&2; sbx_die "nginx rejects its configuration ($SBX_NGINX_CONF)"; }
}

sbx_nginx_cmd() {
    /usr/sbin/nginx -p "$SBX_NGINX_PREFIX/" -c "$SBX_NGINX_CONF" \
        -e "$SBX_LOG_DIR/nginx-error.log" "$@"
}

# Starts nginx in the foreground of its own session (the master runs as
# root to bind and read the key; workers run as NGINX_USER).
sbx_nginx_start() {
    local port
    for port in "$HTTPS_PORT" "$HTTP_PORT"; do
        sbx_port_busy "$port" && sbx_die "port $port is in use; set HTTPS_PORT/HTTP_PORT to free ports"
    done
    sbx_say "starting nginx on https://localhost:$HTTPS_PORT (and http on $HTTP_PORT)"
    sbx_spawn nginx PATH=/usr/sbin:/usr/bin:/bin -- \
        /usr/sbin/nginx -p "$SBX_NGINX_PREFIX/" -c "$SBX_NGINX_CONF" \
        -e "$SBX_LOG_DIR/nginx-error.log"
    sbx_wait_for 10 sbx_port_busy "$HTTPS_PORT" \
        || sbx_die "nginx did not listen on $HTTPS_PORT; see $SBX_LOG_DIR/nginx-error.log"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        render) shift; sbx_nginx_render "$@" ;;
        *) echo "usage: $0 render TEMPLATE_DIR CONF_DIR PREFIX" >&2; exit 2 ;;
    esac
fi
