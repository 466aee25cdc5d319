#!/usr/bin/python3
# sbx-test: no-stack
"""make check: the layering of common/ holds (tests/structure/check_layers.py).

First the check is shown to catch what it is for, on a small tree made
here with one mistake of each kind; then it runs on the checkout.
"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_layers  # noqa: E402

SRC = os.environ.get("SBX_SRC_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")

# path: (text, what the check must say about it, or None for nothing)
CASES = {
    "common/core/good.c": ('#include "common/core/err.h"\n'
                           "/* curl_easy_perform( in a comment is prose */\n"
                           '#include <openssl/evp.h>\n', None),
    "common/core/up.c": ('#include "common/io/db.h"\n',
                         "core must not include io"),
    "common/io/up.c": ('#include "common/domain/sandbox.h"\n',
                       "io must not include domain"),
    "common/domain/up.c": ('#include "common/api/http.h"\n',
                           "domain must not include api"),
    "common/api/down.c": ('#include "common/io/db.h"\n'
                          '#include "common/domain/sandbox.h"\n', None),
    "common/api/sql.c": ('static const char q[] = "SELECT id FROM t";\n',
                         "SQL text outside"),
    "common/api/pq.c": ("void f(void) { PQclear(0); }\n", "libpq"),
    "common/domain/curl.c": ("void f(void) { curl_easy_init(); }\n",
                             "libcurl"),
    "common/domain/xml.c": ("void f(void) { xmlReadMemory(0,0,0,0,0); }\n",
                            "libxml2"),
    "common/domain/ssl.c": ("#include <openssl/rand.h>\n", "OpenSSL"),
    "common/api/jwt.c": ("void f(void) { jwt_decode(0,0,0,0); }\n",
                         "libjwt"),
    "common/domain/fcgi.c": ("#include <fcgiapp.h>\n", "libfcgi"),
    "common/domain/status.c": ("struct r { int http_status; };\n",
                               "HTTP (http_status) in domain"),
    "common/domain/reply.c": ("void f(struct sbx_req *r)"
                              " { sbx_reply_empty(r, 204); }\n",
                              "HTTP (struct sbx_req) in domain"),
    "common/domain/problem.c": ('static const char t[] = '
                                '"application/problem+json";\n'
                                "/* a comment on http_status is prose */\n",
                                "problem+json text in domain"),
    "common/io/status.c": ("struct r { long http_status; };\n", None),
    "common/flat.c": ("int x;\n", "outside the layers"),
    "cron/reaper.c": ('#include "common/api/http.h"\n',
                      "cron must not include api"),
    "fcgi/resp.c": ('#include "common/api/http.h"\n', None),
    "tests/unit/t.c": ('#include "common/io/db.c"\n', "includes a .c file"),
    # Modules in a cycle: tmpl_params.c (module tmpl) includes box.h and
    # box_create.c includes tmpl.h. A private header (box_db.h) is its
    # module's; a header no file of its name implements (boxxml.h,
    # defined in box.c) depends on nothing: neither is a cycle.
    "common/domain/box.h": ("", None),
    "common/domain/box_db.h": ('#include "common/domain/box.h"\n', None),
    "common/domain/box_create.c": ('#include "common/domain/box_db.h"\n'
                                   '#include "common/domain/tmpl.h"\n',
                                   None),
    "common/domain/tmpl.h": ("", None),
    "common/domain/tmpl_params.c": ('#include "common/domain/box.h"\n',
                                    None),
    "common/io/box.h": ("", None),
    "common/io/box.c": ('#include "common/io/boxxml.h"\n', None),
    "common/io/boxxml.h": ('#include "common/io/box.h"\n', None),
}
CYCLE = ("common/domain: modules in a cycle (box -> tmpl -> box): "
         "box_create.c includes tmpl.h, tmpl_params.c includes box.h")
MAKEFILE = ("cron_sbx_reaper_LDADD = $(SBX_DOMAIN_LIBS) \\\n"
            "\t$(SBX_API_LIBS) $(SBX_CORE_LIBS)\n")


def main():
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for rel, (text, _) in CASES.items():
            path = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
        with open(os.path.join(tmp, "Makefile.am"), "w") as f:
            f.write(MAKEFILE)
        findings = check_layers.check(tmp)
    for rel, (_, want) in CASES.items():
        said = [f for f in findings if f.startswith(rel + ":")]
        if want is None and said:
            failures.append(f"{rel}: nothing expected, got {said}")
        elif want is not None and not any(want in f for f in said):
            failures.append(f"{rel}: expected '{want}', got {said}")
    cycles = [f for f in findings if "modules in a cycle" in f]
    if cycles != [CYCLE]:
        failures.append(f"cycles: expected [{CYCLE}], got {cycles}")
    if not any("cron_sbx_reaper_LDADD links the api" in f for f in findings):
        failures.append("Makefile.am: the reaper linking api not caught")
    if failures:
        print("FAIL: the check misses what it is for:")
        for f in failures:
            print("  " + f)
        return 1
    print(f"ok   the check catches each kind of mistake ({len(CASES)} files)")

    findings = check_layers.check(SRC)
    if findings:
        print("FAIL: the layering of common/ is broken:")
        for f in findings:
            print("  " + f)
        return 1
    print("ok   the checkout keeps its layers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
