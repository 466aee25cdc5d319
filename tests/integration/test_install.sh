#!/bin/bash
# sbx-test: no-stack
# make install for a server, into a DESTDIR: the tree holds
# what it should (binaries where operators and units expect them, every
# migration, the nginx templates and the whole page, the settings example
# with every setting and its default, the crontab, the units), every
# responder has a unit, a place in sbx.target and a socket nginx routes
# to; the units pass `systemd-analyze verify`; sbx-nginx-config renders a
# configuration `nginx -t` accepts; make uninstall removes what install
# put, keeps a settings file someone changed, and honours prefix and
# sysconfdir given to make.
#
# Runs from the top build directory (make check); needs no stack.
set -euo pipefail

build=$PWD
src=${SBX_SRC_DIR:?run-one sets SBX_SRC_DIR}
tmp=$(mktemp -d /tmp/sbx-install-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
# A make of its own: not a job of the make running the tests (its
# jobserver and command-line variables stay out).
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$build" --no-print-directory "$@"; }

eval "$(mk print-sbx-server)"
names=""
for p in $responders; do names+="${p##*/} "; done
names=${names% }

dest=$tmp/dest
mk install DESTDIR="$dest" > "$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "make install"; exit 1; }

# ---- the tree: exactly the manifest plus the programs
{
    mk list-sbx-server DESTDIR="$dest"
    for p in $bin_programs; do echo "$bindir/${p##*/}"; done
    for n in $names; do echo "$sbxlibexecdir/$n"; done
} | LC_ALL=C sort -u > "$tmp/expected"
(cd "$dest" && find . -type f -o -type l) | sed 's|^\.||' | LC_ALL=C sort > "$tmp/found"
if diff -u "$tmp/expected" "$tmp/found" > "$tmp/tree.diff"; then
    ok "the installed tree is the manifest ($(wc -l < "$tmp/found") files)"
else
    cat "$tmp/tree.diff" >&2; fail "installed files differ from the manifest (- missing, + unexpected)"
fi

for p in sbx-reaper sbx-migrate; do
    [ -x "$dest$bindir/$p" ] && ok "$bindir/$p" || fail "$bindir/$p is not installed"
done
# Every responder in fcgi/ is installed under libexec, none in bin, and
# the other lists of responders (scripts/up, the container) agree.
for c in "$src"/fcgi/sbx-*.c; do
    n=$(basename "$c" .c)
    [ -x "$dest$sbxlibexecdir/$n" ] || fail "responder $n is not installed in $sbxlibexecdir (add it to sbxlibexec_PROGRAMS, not bin_PROGRAMS)"
    [ ! -e "$dest$bindir/$n" ] || fail "responder $n is installed in $bindir"
done
from_src=$(ls "$src"/fcgi/sbx-*.c | sed 's|.*/||; s|\.c$||' | LC_ALL=C sort | tr '\n' ' ')
for f in scripts/lib/services.sh scripts/container-start; do
    listed=$(grep -oE '^ *(SBX_RESPONDERS|responders)=\(.*\)' "$src/$f" | sed 's/.*(//; s/).*//' | tr ' ' '\n' | LC_ALL=C sort | tr '\n' ' ')
    [ "$listed" = "$from_src" ] && ok "$f lists every responder" || fail "$f lists '$listed', fcgi/ has '$from_src'"
done

# Every migration and every file of the page.
for f in "$src"/schema/[0-9]*.sql; do
    cmp -s "$f" "$dest$sbxdatadir/schema/${f##*/}" || fail "migration ${f##*/} is not installed"
done
if [ -d "$src/nginx/www" ]; then
    n=0
    while IFS= read -r f; do
        cmp -s "$src/nginx/$f" "$dest$sbxdatadir/nginx/$f" || fail "nginx/$f is not installed"
        n=$((n + 1))
    done < <(cd "$src/nginx" && find www -type f ! -name '.*')
    ok "the page: $n files"
fi

# Modes: the settings file holds secrets.
mode() { stat -c %a "$dest$1"; }
[ "$(mode "$sbxconfdir/sbx.env")" = 600 ] && ok "sbx.env is 0600" || fail "sbx.env is $(mode "$sbxconfdir/sbx.env")"
[ "$(mode "$sbxconfdir/sbx.env.example")" = 644 ] || fail "sbx.env.example is $(mode "$sbxconfdir/sbx.env.example")"
[ -x "$dest$sbindir/sbx-nginx-config" ] || fail "sbx-nginx-config is not executable"

# The sysusers.d and tmpfiles.d entries, applied to the DESTDIR as to a
# root: the user appears, the log directory is made, sbx.env stays 0600.
if command -v systemd-sysusers > /dev/null && command -v systemd-tmpfiles > /dev/null; then
    mkdir -p "$dest/etc"
    systemd-sysusers --root="$dest" "$dest$prefix/lib/sysusers.d/sbx.conf" > "$tmp/sysusers.log" 2>&1 \
        || { cat "$tmp/sysusers.log" >&2; fail "systemd-sysusers"; }
    grep -q '^sbx:x:[0-9]*:[0-9]*:.*:/usr/sbin/nologin$' "$dest/etc/passwd" 2>/dev/null \
        && ok "sysusers.d makes the sbx user" || fail "sysusers.d made no sbx user"
    systemd-tmpfiles --root="$dest" --create "$dest$prefix/lib/tmpfiles.d/sbx.conf" > "$tmp/tmpfiles.log" 2>&1 \
        || { cat "$tmp/tmpfiles.log" >&2; fail "systemd-tmpfiles --create"; }
    [ "$(stat -c %a "$dest$SBX_LOG_DIR" 2>/dev/null)" = 750 ] && [ "$(mode "$sbxconfdir/sbx.env")" = 600 ] \
        && ok "tmpfiles.d makes $SBX_LOG_DIR and keeps sbx.env 0600" || fail "tmpfiles.d: $SBX_LOG_DIR or sbx.env"
else
    echo "systemd-sysusers/systemd-tmpfiles are not installed: their entries are not checked"
fi

# Templates were filled in.
left=$(grep -lE '@[A-Za-z_]+@' "$dest$sbxconfdir"/sbx.env.example "$dest$sysconfdir/cron.d/sbx-reaper" \
    "$dest$sbindir/sbx-nginx-config" "$dest$prefix"/lib/sysusers.d/sbx.conf \
    "$dest$prefix"/lib/tmpfiles.d/sbx.conf ${unitdir:+$( [ "$unitdir" = no ] || echo "$dest$unitdir"/*)} || true)
[ -z "$left" ] && ok "no placeholder left" || fail "placeholders left in: $left"

# ---- the settings example: every setting of common/core/config.c's table,
# with its default, and every setting of README.md's table.
example=$dest$sbxconfdir/sbx.env.example
config_c=$(find "$src/common" -name config.c | head -n 1)
python3 - "$config_c" "$src/README.md" "$example" <<'PYEOF' || fail "sbx.env.example"
import re, sys
config_c, readme, example = sys.argv[1:]
text = open(config_c, encoding="utf-8").read()
table = {}
for m in re.finditer(r'\{\s*"([A-Z][A-Z0-9_]+)",\s*(?:NULL|"[A-Z0-9_]+"),\s*S_[A-Z]+,\s*'
                     r'OFF\([a-z_0-9]+\),\s*(NULL|"[^"]*")', text):
    table[m.group(1)] = None if m.group(2) == "NULL" else m.group(2)[1:-1]
assert len(table) > 20, "could not read the settings table of %s" % config_c
lines = {}
for line in open(example, encoding="utf-8"):
    m = re.match(r"^#?([A-Z][A-Z0-9_]+)=(.*)$", line.rstrip("\n"))
    if m:
        lines.setdefault(m.group(1), m.group(2))
bad = []
for name, default in sorted(table.items()):
    if name not in lines:
        bad.append("%s (common/core/config.c) is missing" % name)
    elif default is not None and lines[name] != default:
        bad.append("%s shows %r, its default is %r" % (name, lines[name], default))
# README's Settings table; the ones only scripts/up reads (its database,
# the local fakes' ports, its state) are not for a server.
dev_only = {"PG_PORT", "FAKE_IDP_PORT", "FAKE_CFN_PORT", "SBX_STATE_DIR", "SBX_ENV_FILE"}
section = open(readme, encoding="utf-8").read().split("\n## Settings", 1)[1].split("\n## ", 1)[0]
for row in section.splitlines():
    if row.startswith("| `"):
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1]):
            if name not in lines and name not in dev_only and not name.startswith("FAKE_"):
                bad.append("%s (README's Settings table) is missing" % name)
for b in bad:
    print("sbx.env.example: " + b, file=sys.stderr)
if bad:
    print("(add each to scripts/server/sbx.env.example.in: commented, with its default)",
          file=sys.stderr)
print("ok: sbx.env.example has the %d settings of config.c with their defaults" % len(table))
sys.exit(1 if bad else 0)
PYEOF

# ---- the crontab: this installation's paths, as the service user, under flock
cron=$dest$sysconfdir/cron.d/sbx-reaper
grep -qx "PATH=$bindir:/usr/bin:/bin" "$cron" || fail "crontab PATH does not start with $bindir"
grep -qx "SBX_ENV_FILE=$sbxconfdir/sbx.env" "$cron" || fail "crontab SBX_ENV_FILE is not $sbxconfdir/sbx.env"
grep -qE '^\* \* \* \* \* sbx flock -n "\$SBX_REAPER_LOCK" sbx-reaper --once' "$cron" \
    && ok "crontab: every minute, as sbx, under flock" || fail "crontab job line"

# ---- the units
if [ "$unitdir" = no ]; then
    echo "units: configured --without-systemdsystemunitdir; not checked"
else
    for n in $names; do
        u=$dest$unitdir/$n.service
        [ -f "$u" ] || { fail "no unit for responder $n"; continue; }
        grep -q "^ExecStart=.*spawn-fcgi -n -s $SBX_RUN_DIR/$n.sock -M 0660 -u sbx -U sbx .*multiwatch -f \${SBX_WORKERS} -s TERM -- $sbxlibexecdir/$n\$" "$u" \
            || fail "$n.service does not run $n under spawn-fcgi + multiwatch as sbx"
        grep -q "^Wants=.*\b$n\.service\b" "$dest$unitdir/sbx.target" || fail "sbx.target does not want $n.service"
        # Least knowledge (as scripts/up): the client secret reaches sbx-auth only.
        if grep -q '^UnsetEnvironment=.*\bGOOGLE_CLIENT_SECRET\b' "$u"; then
            [ "$n" != sbx-auth ] || fail "sbx-auth.service drops GOOGLE_CLIENT_SECRET, which it needs"
        else
            [ "$n" = sbx-auth ] || fail "$n.service keeps GOOGLE_CLIENT_SECRET"
        fi
    done
    # Verify copies whose paths into this installation point into DESTDIR,
    # so that verify also checks that every program they run exists.
    vdir=$tmp/units
    mkdir -p "$vdir"
    for u in "$dest$unitdir"/*; do
        sed -e "s|$sbxlibexecdir/|$dest$sbxlibexecdir/|g" -e "s|$bindir/|$dest$bindir/|g" \
            -e "s|$sbindir/|$dest$sbindir/|g" -e "s|$sbxconfdir/|$dest$sbxconfdir/|g" \
            "$u" > "$vdir/${u##*/}"
    done
    if ! command -v systemd-analyze > /dev/null; then
        echo "units: systemd-analyze is not installed: only the checks above ran"
    else
        rc=0
        (cd "$vdir" && SYSTEMD_LOG_COLOR=0 systemd-analyze verify --man=no ./*) > "$tmp/verify.log" 2>&1 || rc=$?
        # verify also loads the host's units; only lines about ours count.
        ours=$(grep -E "$vdir|sbx" "$tmp/verify.log" || true)
        if [ "$rc" = 0 ] && [ -z "$ours" ]; then
            ok "systemd-analyze verify: $(ls "$vdir" | tr '\n' ' ')"
        elif grep -qiE 'Failed to (connect to bus|initialize manager)|System has not been booted with systemd' "$tmp/verify.log" && [ -z "$ours" ]; then
            echo "units: systemd-analyze verify cannot run here (no systemd manager); the checks above ran"
        else
            cat "$tmp/verify.log" >&2; fail "systemd-analyze verify (exit $rc)"
        fi
    fi
fi

# ---- nginx: render the installed templates from the settings file, nginx -t
envf=$dest$sbxconfdir/sbx.env
printf 'HTTPS_PORT=%s\nNGINX_LISTEN_ADDRESS=127.0.0.1\n' 8443 >> "$envf"
# (A clean environment: the stack's settings, which run-one exports, would win.)
if env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$dest$sbindir/sbx-nginx-config" --root "$dest" > "$tmp/render.log" 2>&1; then
    ok "sbx-nginx-config rendered and nginx -t accepted it"
else
    cat "$tmp/render.log" >&2; fail "sbx-nginx-config --root (render + nginx -t)"
fi
conf=$dest$sbxconfdir/nginx/sbx.conf
if [ -f "$conf" ]; then
    grep -q "listen 127.0.0.1:8443 ssl" "$conf" && ok "the settings file's HTTPS_PORT is used" \
        || fail "sbx.conf does not listen on the settings file's port"
    for n in $names; do
        grep -q "unix:$dest$SBX_RUN_DIR/$n.sock" "$dest$sbxconfdir"/nginx/*.conf \
            || fail "nginx routes nothing to $n ($SBX_RUN_DIR/$n.sock)"
    done
    # Every directory nginx serves files from exists in the installed tree.
    # (A path with an nginx variable: its part before the variable.)
    while read -r dir; do
        case "$dir" in *'$'*) dir=${dir%%\$*}; dir=${dir%/*} ;; esac
        [ -d "$dir" ] || [ -f "$dir" ] || fail "nginx serves from $dir, which is not installed"
    done < <(grep -hoE '^\s*(root|alias)\s+[^;]+' "$dest$sbxconfdir"/nginx/*.conf | awk '{print $2}')
fi

# ---- uninstall: what install put goes, a changed sbx.env stays
mk uninstall DESTDIR="$dest" > "$tmp/uninstall.log" 2>&1 || { cat "$tmp/uninstall.log" >&2; fail "make uninstall"; }
while IFS= read -r f; do
    [ ! -e "$dest$f" ] || fail "make uninstall left $f"
done < <(grep -v "^$sbxconfdir/sbx.env\$" "$tmp/expected")
[ -f "$envf" ] && ok "uninstall kept the changed sbx.env" || fail "uninstall removed a changed sbx.env"

# A fresh install with prefix and sysconfdir given to make: everything
# lands under them, and uninstall leaves no file at all.
dest2=$tmp/dest2
mk install DESTDIR="$dest2" prefix=/opt/sbx-t sysconfdir=/etc/sbx-t > "$tmp/install2.log" 2>&1 \
    || { cat "$tmp/install2.log" >&2; fail "make install prefix=... sysconfdir=..."; }
outside=$(cd "$dest2" && find . -type f | grep -vE '^\./(opt/sbx-t|etc/sbx-t)/' || true)
[ -z "$outside" ] && ok "prefix and sysconfdir are honoured" || fail "installed outside prefix/sysconfdir: $outside"
[ -f "$dest2/etc/sbx-t/cron.d/sbx-reaper" ] || fail "no cron.d/sbx-reaper under the given sysconfdir"
[ -x "$dest2/opt/sbx-t/libexec/sbx/sbx-meta" ] || fail "no responder under the given prefix"
mk uninstall DESTDIR="$dest2" prefix=/opt/sbx-t sysconfdir=/etc/sbx-t > "$tmp/uninstall2.log" 2>&1 \
    || { cat "$tmp/uninstall2.log" >&2; fail "make uninstall prefix=..."; }
left=$(cd "$dest2" && find . -type f -o -type l)
[ -z "$left" ] && ok "make uninstall removed every file" || fail "make uninstall left: $left"

[ "$fails" = 0 ] || { echo "$fails failure(s)" >&2; exit 1; }
echo "PASS"
