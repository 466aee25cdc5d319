#!/usr/bin/python3
"""Errors are application/problem+json, whether a responder or nginx
answers them: 404, 405 with Allow, 413 for a body over 1 MiB, 429 from the
rate limit, 400 for a malformed request; never HTML.

415 (a JSON route sent another media type) needs a route that takes a JSON
body; sbx-meta has none. It is asserted with the sandboxes routes
(POST /api/sandboxes), in their integration tests."""

import socket
import time

import sbxtest as t

MIB = 1024 * 1024


def test_unknown_api_route_from_the_responder():
    rid = "errors-404-%d" % time.time_ns()
    r = t.get("/api/no-such-route", headers={"X-Request-Id": rid})
    p = t.assert_problem(r, 404, request_id=rid)
    # The responder's answer, not nginx's: its Cache-Control comes once.
    assert (r.headers.get_all("Cache-Control") or []) == ["no-store"], \
        r.headers.get_all("Cache-Control")
    assert p["title"] == "Not Found", p
    # "/api" without the slash reaches sbx-meta too: JSON, not nginx's
    # HTML redirect to "/api/".
    r = t.get("/api")
    assert r.status in (200, 404) and r.content_type.endswith("json"), r


def test_unknown_path_from_nginx():
    # "/" is the page (test_page_static.py); nothing else outside /api is.
    for path in ("/no-such-page", "/index.html", "/static/app.js"):
        r = t.get(path)
        p = t.assert_problem(r, 404)
        assert "<html" not in r.text.lower(), r
        assert p["type"].endswith("not-found"), p


def test_wrong_method_is_405_with_allow():
    r = t.post("/api/", json_body={})
    t.assert_problem(r, 405)
    allow = r.header("Allow", "")
    methods = {m.strip() for m in allow.split(",")}
    assert "GET" in methods, "Allow: %r" % allow
    assert "POST" not in methods, "Allow: %r" % allow


def _post_headers_only(length):
    """Sends POST /api/ announcing a body of `length` bytes without
    sending it: nginx must answer from the headers alone."""
    conn = t.connection()
    try:
        conn.putrequest("POST", "/api/", skip_host=True)
        conn.putheader("Host", "localhost:%s" % t.setting("HTTPS_PORT"))
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(length))
        conn.endheaders()
        resp = conn.getresponse()
        return t.Response(resp.status, resp.reason, resp.headers, resp.read())
    finally:
        conn.close()


def test_body_over_1_mib_is_413_from_nginx():
    r = _post_headers_only(MIB + 1)
    p = t.assert_problem(r, 413)
    assert "1 MiB" in p["detail"], p
    r = _post_headers_only(50 * MIB)
    t.assert_problem(r, 413)


def test_body_of_1_mib_passes_nginx():
    # Exactly the limit reaches the responder, which refuses the method.
    r = t.post("/api/", body=b" " * MIB,
               headers={"Content-Type": "application/json"})
    t.assert_problem(r, 405)


def test_malformed_request_is_400_problem():
    ctx = t._tls_context()
    port = int(t.setting("HTTPS_PORT"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /api/ HTTP/1.1\r\nHost: localhost\r\n"
                      b"this is not a header\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n")[0]
    assert status_line.startswith(b"HTTP/1.1 400"), status_line
    assert b"application/problem+json" in head.lower(), head
    assert b'"status":400' in body, body


def test_rate_limit_on_auth_is_429_problem():
    # limit_req runs before the request reaches sbx-auth, so this holds
    # whether sbx-auth runs or not. One keep-alive connection sends the
    # burst much faster than the rate refills.
    burst = int(t.setting("RATE_LIMIT_AUTH_BURST", "20"))
    conn = t.connection()
    statuses = []
    limited = None
    try:
        for _ in range(burst + 15):
            r = t.request("GET", "/auth/rate-limit-probe", conn=conn)
            statuses.append(r.status)
            if r.status == 429 and limited is None:
                limited = r
    finally:
        conn.close()
    assert limited is not None, "no 429 after %d requests: %r" % (len(statuses), statuses)
    # Not the exact count: a test just before may have left some excess.
    assert statuses.index(429) >= burst // 2, \
        "limited long before the burst of %d was used: %r" % (burst, statuses)
    t.assert_problem(limited, 429)
    assert limited.header("Retry-After"), "429 without Retry-After"
    t.assert_security_headers(limited)

    # The API has a zone of its own.
    t.assert_status(t.get("/api/"), 200)

    # Let the bucket drain so that later tests start from a fresh limit:
    # first until a request passes, then the time the rest takes to leak.
    assert t.wait_until(
        lambda: t.get("/auth/rate-limit-probe").status != 429,
        timeout=30, interval=1), "/auth/ still limited after 30s"
    time.sleep(burst / _per_second(t.setting("RATE_LIMIT_AUTH", "5r/s")))


def _per_second(rate):
    """nginx's rate syntax: "5r/s" or "30r/m"."""
    n, _, unit = rate.partition("r/")
    return float(n) / (60.0 if unit == "m" else 1.0)


t.run()
