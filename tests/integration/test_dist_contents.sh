#!/bin/bash
# sbx-test: no-stack
# `make dist` ships every file git tracks (so a file someone adds can not
# silently miss the release tarball, where make distcheck would only
# notice it if the build needed it), and none of a checkout's left-overs
# (byte code, Terraform state, programs, objects, test logs). It runs
# `make distdir` into a temporary directory and compares it with
# `git ls-files`. Outside a git checkout
# (in the tarball itself, under make distcheck) there is nothing to
# compare with: it says so and skips.
#
# Runs from the top build directory (make check); needs no stack.
set -euo pipefail

build=$PWD
src=${SBX_SRC_DIR:?run-one sets SBX_SRC_DIR}
if ! command -v git > /dev/null \
    || [ "$(git -C "$src" rev-parse --show-toplevel 2>/dev/null)" != "$(cd "$src" && pwd -P)" ]; then
    echo "SKIP: $src is not a git checkout (a release tarball): nothing to compare with"
    exit 77
fi
tmp=$(mktemp -d /tmp/sbx-dist-test.XXXXXX)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# Not release material: git's own files.
not_shipped='^\.gitignore$|(^|/)\.gitattributes$'

env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$build" --no-print-directory distdir distdir="$tmp/d" > "$tmp/distdir.log" 2>&1 \
    || { cat "$tmp/distdir.log" >&2; echo "FAIL: make distdir" >&2; exit 1; }

missing=0
while IFS= read -r f; do
    [ -e "$src/$f" ] || continue          # deleted in the working tree
    if [ ! -e "$tmp/d/$f" ]; then
        echo "FAIL: $f is tracked by git but not in the tarball (add it, or its directory, to EXTRA_DIST in Makefile.am)" >&2
        missing=$((missing + 1))
    fi
done < <(git -C "$src" ls-files | grep -vE "$not_shipped")

junk=$(cd "$tmp/d" && find . \( -name __pycache__ -o -name '*.pyc' -o -name .terraform -o -name '*.tfstate' \
    -o -name '*.o' -o -name '*.a' -o -name .deps -o -name '*.log' -o -name '*.trs' \) -print)
# Programs the build made (the build tree's copy of a directory in EXTRA_DIST).
junk+=$(cd "$tmp/d" && find . -type f -size +3c -exec sh -c 'head -c 4 "$1" | grep -q "ELF"' _ {} \; -print)
if [ -n "$junk" ]; then
    echo "FAIL: the tarball carries left-overs of the checkout: $junk" >&2
    missing=$((missing + 1))
fi
[ "$missing" = 0 ] || exit 1
echo "PASS: the tarball holds all $(git -C "$src" ls-files | grep -cvE "$not_shipped") tracked files"
