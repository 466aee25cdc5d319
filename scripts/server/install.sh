#!/bin/sh
# make install / make uninstall for what automake does not install by
# itself: the migrations, the nginx templates and the page (nginx/www,
# the whole tree, so a file added there needs no edit here), the nginx
# renderer, the settings example, the crontab, the systemd units and the
# sysusers.d/tmpfiles.d entries. Makefile.am calls it as
#
#   install.sh install|uninstall|list key=value...
#
# with the installation directories (bindir=..., sysconfdir=...), DESTDIR,
# srcdir and the responders' names. `list` prints every path install
# puts in place (without DESTDIR), one a line: tests/integration/
# test_install.sh compares it with what it finds installed. Templates
# (*.in) get the directories written in at install time, as the autoconf
# manual recommends (they may be changed on make's command line).
set -eu

action=${1:?usage: install.sh install|uninstall|list key=value...}
shift
for arg in "$@"; do
    case "$arg" in
        *=*) eval "cfg_${arg%%=*}=\${arg#*=}" ;;
        *) echo "install.sh: not key=value: $arg" >&2; exit 2 ;;
    esac
done
DESTDIR=${cfg_DESTDIR-}
srcdir=${cfg_srcdir:?}
INSTALL=${cfg_INSTALL:-install}
MKDIR_P=${cfg_MKDIR_P:-mkdir -p}
unitdir=${cfg_systemdsystemunitdir:-no}
sbxdatadir=$cfg_sbxdatadir
sbxconfdir=$cfg_sbxconfdir
sbxlibexecdir=$cfg_sbxlibexecdir
crondir=$cfg_sysconfdir/cron.d
sysusersdir=$cfg_sysusersdir
tmpfilesdir=$cfg_tmpfilesdir
# The programs' names (automake hands over fcgi/sbx-meta and the like).
responders=
for p in $cfg_responders; do responders="$responders ${p##*/}"; done

# systemd makes the socket directory when it is under /run (RuntimeDirectory=
# is relative to /run); elsewhere (a test's throwaway tree) it must exist.
case "$cfg_SBX_RUN_DIR" in
    /run/?*) runtime_directory="RuntimeDirectory=${cfg_SBX_RUN_DIR#/run/}" ;;
    *) runtime_directory="# SBX_RUN_DIR=$cfg_SBX_RUN_DIR is not under /run: it must exist" ;;
esac

# The one edit every template gets.
edit() {
    sed -e "s|@bindir@|$cfg_bindir|g" \
        -e "s|@sbindir@|$cfg_sbindir|g" \
        -e "s|@sbxlibexecdir@|$sbxlibexecdir|g" \
        -e "s|@sbxdatadir@|$sbxdatadir|g" \
        -e "s|@sbxconfdir@|$sbxconfdir|g" \
        -e "s|@SBX_LOG_DIR@|$cfg_SBX_LOG_DIR|g" \
        -e "s|@SBX_RUN_DIR@|$cfg_SBX_RUN_DIR|g" \
        -e "s|@RUNTIME_DIRECTORY@|$runtime_directory|g" \
        -e "s|@SBX_VAR_DIR@|$cfg_SBX_VAR_DIR|g" \
        -e "s|@SBX_USER@|$cfg_SBX_USER|g" \
        -e "s|@NGINX@|$cfg_NGINX|g" \
        -e "s|@SPAWN_FCGI@|$cfg_SPAWN_FCGI|g" \
        -e "s|@MULTIWATCH@|$cfg_MULTIWATCH|g" \
        -e "s|@FLOCK@|$cfg_FLOCK|g" \
        -e "s|@RESPONDER_UNITS@|$(printf '%s.service ' $responders | sed 's/ $//')|g" \
        "$@"
}

# Every file: "MODE SOURCE DEST", SOURCE relative to srcdir, a leading
# "=" meaning "through edit()", "@NAME" the responder unit of NAME.
manifest() {
    for f in "$srcdir"/schema/[0-9]*.sql; do
        if [ -f "$f" ]; then echo "0644 schema/${f##*/} $sbxdatadir/schema/${f##*/}"; fi
    done
    for f in "$srcdir"/nginx/*.conf.in; do
        if [ -f "$f" ]; then echo "0644 nginx/${f##*/} $sbxdatadir/nginx/${f##*/}"; fi
    done
    if [ -d "$srcdir/nginx/www" ]; then
        (cd "$srcdir/nginx" && find www -type f ! -name '.*' | LC_ALL=C sort) |
            while IFS= read -r f; do
                echo "0644 nginx/$f $sbxdatadir/nginx/$f"
            done
    fi
    echo "0644 scripts/lib/nginx.sh $sbxlibexecdir/nginx.sh"
    echo "0755 =scripts/server/sbx-nginx-config.in $cfg_sbindir/sbx-nginx-config"
    echo "0644 =scripts/server/sbx.env.example.in $sbxconfdir/sbx.env.example"
    echo "0644 =cron/sbx-reaper.cron $crondir/sbx-reaper"
    echo "0644 =scripts/server/sysusers.conf.in $sysusersdir/sbx.conf"
    echo "0644 =scripts/server/tmpfiles.conf.in $tmpfilesdir/sbx.conf"
    if [ "$unitdir" != no ]; then
        for n in $responders; do
            echo "0644 @$n $unitdir/$n.service"
        done
        echo "0644 =scripts/server/sbx-nginx.service.in $unitdir/sbx-nginx.service"
        echo "0644 =scripts/server/sbx.target.in $unitdir/sbx.target"
        echo "0644 =cron/sbx-reaper.service.in $unitdir/sbx-reaper.service"
        echo "0644 =cron/sbx-reaper.timer.in $unitdir/sbx-reaper.timer"
    fi
}

# The crontab in the checkout names the usual paths; the installed one
# names this installation's.
cron_edit() {
    sed -e "s|^PATH=.*|PATH=$cfg_bindir:/usr/bin:/bin|" \
        -e "s|^SBX_ENV_FILE=.*|SBX_ENV_FILE=$sbxconfdir/sbx.env|" \
        -e "s|^SBX_REAPER_LOG=.*|SBX_REAPER_LOG=$cfg_SBX_LOG_DIR/reaper.log|" \
        -e "s|^\(\* \* \* \* \*\) sbx |\1 $cfg_SBX_USER |" "$1"
}

tmp=
cleanup() { [ -z "$tmp" ] || rm -f "$tmp"; }
trap cleanup EXIT

do_install() {
    local_mode=$1 src=$2 dst=$DESTDIR$3
    $MKDIR_P "${dst%/*}"
    case "$src" in
        @*)
            tmp=$(mktemp)
            # Only the sign-in responder gets the OAuth client secret.
            if [ "${src#@}" = sbx-auth ]; then
                unset_signin='# (sbx-auth signs people in: it keeps GOOGLE_CLIENT_SECRET)'
            else
                unset_signin='UnsetEnvironment=GOOGLE_CLIENT_SECRET'
            fi
            edit -e "s|@NAME@|${src#@}|g" -e "s|@UNSET_SIGNIN@|$unset_signin|" \
                "$srcdir/scripts/server/sbx-responder.service.in" > "$tmp"
            $INSTALL -m "$local_mode" "$tmp" "$dst" ;;
        =cron/sbx-reaper.cron)
            tmp=$(mktemp)
            cron_edit "$srcdir/cron/sbx-reaper.cron" > "$tmp"
            $INSTALL -m "$local_mode" "$tmp" "$dst" ;;
        =*)
            tmp=$(mktemp)
            edit "$srcdir/${src#=}" > "$tmp"
            $INSTALL -m "$local_mode" "$tmp" "$dst" ;;
        *)
            $INSTALL -m "$local_mode" "$srcdir/$src" "$dst" ;;
    esac
    cleanup
    tmp=
}

case "$action" in
    list)
        manifest | while read -r _ _ dst; do echo "$dst"; done
        # The settings file proper, when install made it.
        echo "$sbxconfdir/sbx.env" ;;
    install)
        manifest | while read -r mode src dst; do
            do_install "$mode" "$src" "$dst"
        done
        # The real settings file: made from the example only when there
        # is none (never overwritten), 0600 as it will hold secrets.
        # tmpfiles.d gives it to the service user (its `z` line).
        env=$DESTDIR$sbxconfdir/sbx.env
        if [ ! -e "$env" ]; then
            (umask 077 && cp "$DESTDIR$sbxconfdir/sbx.env.example" "$env")
            chmod 0600 "$env"
            echo "install.sh: made $sbxconfdir/sbx.env (mode 0600) from the example: fill it in"
        fi ;;
    uninstall)
        # The settings file goes only when nobody changed it.
        env=$DESTDIR$sbxconfdir/sbx.env
        if [ -f "$env" ] && cmp -s "$env" "$DESTDIR$sbxconfdir/sbx.env.example"; then
            rm -f "$env"
        elif [ -e "$env" ]; then
            echo "install.sh: kept $sbxconfdir/sbx.env (it was changed)"
        fi
        manifest | while read -r _ _ dst; do
            rm -f "$DESTDIR$dst"
        done
        # Directories that are ours alone, when empty now.
        for d in "$sbxdatadir/nginx/www" "$sbxdatadir/nginx" "$sbxdatadir/schema" \
            "$sbxdatadir" "$sbxlibexecdir" "$sbxconfdir"; do
            if [ -d "$DESTDIR$d" ]; then
                find "$DESTDIR$d" -depth -type d -empty -exec rmdir {} + 2>/dev/null || true
            fi
        done ;;
    *) echo "install.sh: unknown action $action" >&2; exit 2 ;;
esac
