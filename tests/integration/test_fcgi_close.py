#!/usr/bin/python3
"""How a responder ends a FastCGI connection (common/api/http.c).

When the request's input has been read to its end, the worker closes the
connection at once instead of libfcgi's lingering close (half-close, then
read until nginx closes its end), which kept it from the next request
until nginx got round to closing. Were it to close while nginx still had
a body to send, nginx would meet a reset and answer 502: request bodies
that end around libfcgi's and the socket's buffer sizes must all get the
responder's own answer."""

import sbxsandbox as s
import sbxtest as t

# Near 8, 16 and 64 KiB, and the 1 MiB cap; a reset showed at 16380-16395
# and 65530-65541 when the worker closed without looking at its input.
SIZES = (list(range(8184, 8200, 2)) + list(range(16376, 16400)) +
         list(range(65526, 65546, 2)) + [1024 * 1024 - 64])

# A client of its own (X-Forwarded-For, trusted from loopback where the
# stack sets NGINX_REAL_IP_FROM), so that nginx's per-client limit does
# not meet other tests' requests.
CLIENT = "192.0.2.81"


def test_every_body_size_gets_the_responders_answer():
    email = s.fresh_email("fcgiclose")
    seen = {}
    for n in SIZES:
        # A JSON body of exactly n bytes whose name is far too long: the
        # responder reads all of it and refuses it (400, its own problem).
        body = '{"name":"%s"}' % ("x" * (n - 11))
        assert len(body) == n
        r = s.api("POST", "/api/sandboxes", email, raw=body,
                  content_type="application/json",
                  headers={"X-Forwarded-For": CLIENT})
        seen[n] = r.status
        if r.status != 429:
            t.assert_problem(r, 400)
    bad = {n: st for n, st in seen.items() if st not in (400, 429)}
    assert not bad, "not the responder's answer: %r" % bad
    assert list(seen.values()).count(400) >= len(SIZES) // 2, seen


def test_requests_without_a_body_in_a_row():
    # The common case, closed at once: answers stay whole and in order.
    conn = t.connection()
    try:
        for _ in range(20):
            r = t.request("GET", "/api/", conn=conn,
                          headers={"X-Forwarded-For": CLIENT})
            assert t.assert_json(r, 200) == {
                "message": "Welcome to the sandbox service"}
    finally:
        conn.close()
