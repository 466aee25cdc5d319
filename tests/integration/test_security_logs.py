#!/usr/bin/python3
"""No query string reaches any log: nginx's access
and error logs, the responders' logs, the fakes' and PostgreSQL's. The
test sends a fresh random OAuth code and state to /auth/callback past
the /auth rate limit (nginx's error log once quoted the request line of
every rejection), a body too large with the code in the query, and API
calls with it, then searches every file under SBX_LOG_DIR for it."""

import os
import secrets
import time
import urllib.parse

import sbxtest as t
import sbxsandbox as s


def log_files():
    root = t.setting("SBX_LOG_DIR")
    for d, _, files in os.walk(root):
        for f in files:
            yield os.path.join(d, f)


def files_holding(needle):
    found = []
    for path in log_files():
        try:
            with open(path, "rb") as f:
                if needle in f.read():
                    found.append(path)
        except OSError:
            pass
    return found


def access_log_count(route, status):
    path = os.path.join(t.setting("SBX_LOG_DIR"), "nginx-access.log")
    with open(path, "rb") as f:
        return sum(1 for line in f
                   if b'"route":"%s"' % route.encode() in line and
                   b'"status":%d' % status in line)


def test_no_log_holds_a_query():
    code = "c0de" + secrets.token_hex(16)
    state = "57a7e" + secrets.token_hex(16)
    q = urllib.parse.urlencode({"code": code, "state": state})
    before = access_log_count("/auth/callback", 429)

    # Past the /auth limit: burst RATE_LIMIT_AUTH_BURST, then 429s.
    conn = t.connection()
    statuses = [t.get("/auth/callback?" + q, conn=conn).status
                for _ in range(int(t.setting("RATE_LIMIT_AUTH_BURST", "20")) + 15)]
    conn.close()
    assert 429 in statuses, statuses
    assert any(st != 429 for st in statuses), statuses

    # A body over nginx's 1 MiB cap, the code in the query (nginx logs
    # "client intended to send too large body" with the request line).
    big = t.request("POST", "/api/sandboxes?" + q, body=b"x" * (1024 * 1024 + 10),
                    headers={"Content-Type": "application/json"})
    t.assert_problem(big, 413)
    # Responders see queries too (sbx-sandboxes, sbx-meta, sbx-jobs).
    user = s.fresh_email("logs")
    for path in ("/api/sandboxes?status=ACTIVE&" + q, "/api/me?" + q,
                 "/api/jobs?" + q, "/api/templates?" + q):
        r = s.api("GET", path, user)
        assert r.status in (200, 400), r

    time.sleep(0.5)         # nginx writes its logs at once; margin for disk
    assert access_log_count("/auth/callback", 429) > before, \
        "the rejections are not in the access log"
    for needle in (code, state):
        held = files_holding(needle.encode())
        assert not held, "a query value is in %s" % ", ".join(held)

    # Let the /auth bucket drain for the tests that follow.
    rate = float(t.setting("RATE_LIMIT_AUTH", "5r/s")[:-3])
    time.sleep(int(t.setting("RATE_LIMIT_AUTH_BURST", "20")) / rate + 0.5)


t.run()
