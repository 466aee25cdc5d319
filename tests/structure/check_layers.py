#!/usr/bin/python3
"""The layering of common/, checked from the source text.

    check_layers.py [SRCDIR]

common/ holds four layers, each a folder: core, io, domain, api. A file
may include headers of its own layer and of the layers below it:

    api -> domain -> io -> core        (api may use io and core directly)

The programs sit on top: fcgi/ (the responders) may use every layer;
cron/ (the reaper) and schema/ (sbx-migrate) may use every layer but api.
Each external library belongs to layers of its own, and a call to it (or
its header) anywhere else is an error:

    libpq and SQL text   io, domain   (the db module; the domain's statements)
    libcurl              io           (the outgoing HTTP client)
    libxml2              io           (CloudFormation's answers)
    libjwt               io           (OIDC)
    OpenSSL              core, io     (core/crypto; SigV4, JWKs)
    libfcgi              api          (the FastCGI server)

The domain knows no HTTP: it refuses with an enum sbx_err and a reason
of its own, and the api layer chooses the status. So in domain code an
HTTP status member (http_status), the server's request, reply or problem
API (struct sbx_req, sbx_reply_*, sbx_http_*) and problem+json text are
errors too; its webhooks go through io's client (sbx_httpclient_*).

Within a layer, the modules form no cycle: a module is a header and the
files named after it (sandbox.h: sandbox.c, sandbox_rules.c,
sandbox_db.h, ...; the longest such name wins), and a file including
another module's header makes its module depend on that one. A header
that no file of its own name implements (awsxml.h, defined in awsapi.c)
adds no dependency of its own. So template code never includes sandbox.h
while sandbox code includes template.h.

It also fails on a source file directly in common/ (outside a layer), on a
#include of a .c file, and on a reaper or sbx-migrate link line in
Makefile.am that names the api library. Prints one line per finding;
exits 1 if there is any. Comments are not read, so prose may name any
function; string literals are read only for SQL.
"""
import os
import re
import sys

LAYERS = ("core", "io", "domain", "api")
RANK = {name: i for i, name in enumerate(LAYERS)}

# The layers each place may include (besides its own).
PROGRAM_USES = {
    "fcgi": set(LAYERS),
    "cron": {"core", "io", "domain"},
    "schema": {"core", "io", "domain"},
}

# library: (layers allowed, header pattern, call/type pattern)
LIBRARIES = {
    "libpq": (
        {"io", "domain"},
        re.compile(r"^libpq-fe\.h$|^libpq/"),
        re.compile(r"\bPQ[a-z]\w*\s*\(|\bPG(?:conn|result)\b"),
    ),
    "libcurl": (
        {"io"},
        re.compile(r"^curl/"),
        re.compile(r"\bcurl_\w+\s*\(|\bCURL\w*\b"),
    ),
    "libxml2": (
        {"io"},
        re.compile(r"^libxml/"),
        re.compile(r"\bxml[A-Z]\w*\s*\("),
    ),
    "libjwt": (
        {"io"},
        re.compile(r"^jwt\.h$"),
        re.compile(r"\bjwt_\w+\s*\("),
    ),
    "OpenSSL": (
        {"core", "io"},
        re.compile(r"^openssl/"),
        re.compile(r"\b(?:EVP|HMAC|RAND|CRYPTO|OPENSSL|BIO|BN|PEM|OSSL|ERR)_\w+"
                   r"|\bHMAC\s*\("),
    ),
    "libfcgi": (
        {"api"},
        re.compile(r"^fcgi(?:app|_stdio|os|_config)\.h$"),
        re.compile(r"\bFCGX_\w+|\bFCGI_\w+\s*\("),
    ),
}

# What only the HTTP side may name: (layers it is barred from, code
# pattern, string literal pattern).
HTTP_ONLY = (
    {"domain"},
    re.compile(r"\bhttp_status\b|\bstruct\s+sbx_req\b|\bsbx_reply_\w+"
               r"|\bsbx_http_\w+|\bsbx_principal\b"),
    re.compile(r"problem\+json|urn:sbx:problem"),
)

# A string literal that starts a statement: SQL text.
SQL_TEXT = re.compile(
    r"^(?:SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS"
    r"|CREATE\s+(?:TABLE|INDEX|UNIQUE)|ALTER\s+TABLE|CALL\s)\b", re.I)

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)
TOKENS = re.compile(r'''
    (?P<comment>/\*.*?\*/|//[^\n]*)
  | (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<char>'(?:\\.|[^'\\\n])*')
''', re.S | re.X)


def split_source(text):
    """Returns (code, strings): the text without comments or literals
    (each replaced by a space, newlines kept so line numbers hold), and
    the string literals with their line numbers."""
    code = []
    strings = []
    pos = 0
    for m in TOKENS.finditer(text):
        code.append(text[pos:m.start()])
        piece = m.group(0)
        if m.group("string") is not None:
            strings.append((text.count("\n", 0, m.start()) + 1, piece[1:-1]))
        code.append(" " + "\n" * piece.count("\n"))
        pos = m.end()
    code.append(text[pos:])
    return "".join(code), strings


def place_of(rel):
    """The layer (or program folder) a file belongs to, None for files
    the check does not govern (tests), or "" for a file in common/
    outside any layer."""
    parts = rel.split("/")
    if parts[0] == "common":
        if len(parts) == 2:
            return ""
        return parts[1] if parts[1] in RANK else ""
    if parts[0] in PROGRAM_USES:
        return parts[0]
    return None


def may_include(place, target_layer):
    if place in RANK:
        return RANK[target_layer] <= RANK[place]
    return target_layer in PROGRAM_USES[place]


def line_of(text, index):
    return text.count("\n", 0, index) + 1


def check_file(src, rel, findings):
    with open(os.path.join(src, rel), encoding="utf-8", errors="replace") as f:
        text = f.read()
    place = place_of(rel)
    for m in INCLUDE.finditer(text):
        kind, name = m.group(1), m.group(2)
        ln = line_of(text, m.start())
        if kind == '"' and name.endswith(".c"):
            findings.append(f"{rel}:{ln}: includes a .c file ({name}): "
                            "link the module's library instead")
        if place is None:
            continue
        if kind == '"' and name.startswith("common/"):
            parts = name.split("/")
            if len(parts) < 3 or parts[1] not in RANK:
                findings.append(f"{rel}:{ln}: includes {name}, outside the "
                                "layers (common/{core,io,domain,api}/)")
            elif place and not may_include(place, parts[1]):
                findings.append(f"{rel}:{ln}: {place} must not include "
                                f"{parts[1]} ({name})")
        elif kind == "<" and place:
            for lib, (allowed, header, _) in LIBRARIES.items():
                if header.search(name) and place not in allowed:
                    findings.append(f"{rel}:{ln}: {lib} header <{name}> "
                                    f"outside {'/'.join(sorted(allowed))}")
    if place is None:
        return
    if place == "":
        findings.append(f"{rel}: a source file outside the layers: move it "
                        "into common/{core,io,domain,api}/")
        return
    code, strings = split_source(text)
    for lib, (allowed, _, calls) in LIBRARIES.items():
        if place in allowed:
            continue
        for m in calls.finditer(code):
            findings.append(f"{rel}:{line_of(code, m.start())}: {lib} "
                            f"({m.group(0).strip()}) outside "
                            f"{'/'.join(sorted(allowed))}")
    barred, http_code, http_text = HTTP_ONLY
    if place in barred:
        for m in http_code.finditer(code):
            findings.append(f"{rel}:{line_of(code, m.start())}: HTTP "
                            f"({m.group(0).strip()}) in {place}: return an "
                            "enum sbx_err and a reason; api maps it")
        for ln, s in strings:
            if http_text.search(s):
                findings.append(f"{rel}:{ln}: problem+json text in "
                                f"{place}: \"{s[:40]}\"")
    if place not in LIBRARIES["libpq"][0]:
        for ln, s in strings:
            if SQL_TEXT.search(s):
                findings.append(f"{rel}:{ln}: SQL text outside io/domain: "
                                f"\"{s[:40]}\"")


LAYER_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"common/(\w+)/(\w+)\.h"',
                           re.M)


def check_cycles(src, findings):
    """No cycle among the modules of a layer (see the docstring)."""
    for layer in LAYERS:
        d = os.path.join(src, "common", layer)
        if not os.path.isdir(d):
            continue
        files = sorted(f for f in os.listdir(d) if f.endswith((".c", ".h")))
        stems = {f[:-2] for f in files if f.endswith(".h")}
        implemented = {f[:-2] for f in files if f.endswith(".c")}

        def module(base):
            owners = [m for m in stems if base == m or base.startswith(m + "_")]
            return min(owners, key=len) if owners else base

        deps = {}
        for f in files:
            base = f[:-2]
            if f.endswith(".h") and not any(
                    c == base or c.startswith(base + "_") for c in implemented):
                continue
            with open(os.path.join(d, f), encoding="utf-8",
                      errors="replace") as fh:
                text = fh.read()
            for m in LAYER_INCLUDE.finditer(text):
                if m.group(1) != layer:
                    continue
                a, b = module(base), module(m.group(2))
                if a != b:
                    deps.setdefault(a, {}).setdefault(b, f)
        # Depth-first search; a back edge closes a cycle.
        state = {}
        for start in sorted(deps):
            stack = [(start, iter(sorted(deps.get(start, {}))))]
            path = [start]
            state[start] = 1
            while stack:
                node, it = stack[-1]
                nxt = next(it, None)
                if nxt is None:
                    state[node] = 2
                    stack.pop()
                    path.pop()
                elif state.get(nxt) == 1:
                    cyc = path[path.index(nxt):] + [nxt]
                    how = ", ".join(f"{deps[x][y]} includes {y}.h"
                                    for x, y in zip(cyc, cyc[1:]))
                    findings.append(f"common/{layer}: modules in a cycle "
                                    f"({' -> '.join(cyc)}): {how}")
                elif state.get(nxt) is None:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, iter(sorted(deps.get(nxt, {})))))


def check_makefile(src, findings):
    """The reaper and sbx-migrate must not link the api library."""
    path = os.path.join(src, "Makefile.am")
    if not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as f:
        text = f.read().replace("\\\n", " ")
    for prog in ("cron_sbx_reaper_LDADD", "schema_sbx_migrate_LDADD"):
        for m in re.finditer(r"^%s\s*\+?=(.*)$" % prog, text, re.M):
            if re.search(r"SBX_API_LIBS|libsbx_api\.a", m.group(1)):
                findings.append(f"Makefile.am: {prog} links the api library")


def sources(src):
    for top in ("common", "fcgi", "cron", "schema", "tests"):
        base = os.path.join(src, top)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, name), src)


def check(src):
    findings = []
    for rel in sources(src):
        check_file(src, rel, findings)
    check_cycles(src, findings)
    check_makefile(src, findings)
    return findings


def main(argv):
    src = argv[1] if len(argv) > 1 else os.environ.get(
        "SBX_SRC_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    findings = check(src)
    for line in findings:
        print(line)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
