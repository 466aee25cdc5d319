#!/usr/bin/python3
"""The welcome answer through nginx over HTTPS, the request id, the
security headers, TLS versions and the HTTP to HTTPS redirect."""

import secrets
import socket
import ssl
import warnings

import sbxtest as t

WELCOME = {"message": "Welcome to the sandbox service"}


def test_welcome_answer():
    rid = "welcome-" + secrets.token_hex(6)
    r = t.get("/api/", headers={"X-Request-Id": rid, "Accept": "application/json"})
    body = t.assert_json(r, 200)
    assert body == WELCOME, "unexpected body: %r" % body
    cache = r.headers.get_all("Cache-Control") or []
    assert len(cache) == 1 and "no-store" in cache[0], "Cache-Control: %r" % cache
    ids = r.headers.get_all("X-Request-Id") or []
    assert ids == [rid], "X-Request-Id not echoed once: %r" % ids
    t.assert_security_headers(r)


def test_request_id_made_when_absent():
    r = t.get("/api/")
    t.assert_status(r, 200)
    rid = r.header("X-Request-Id")
    assert rid and len(rid) >= 16, "no request id made: %r" % rid
    other = t.get("/api/").header("X-Request-Id")
    assert other != rid, "two requests got the same id %r" % rid


def test_unsafe_request_id_replaced():
    # A client's id ends up in logs and JSON: anything but a plain token
    # is replaced by one nginx makes.
    bad = 'x" onload="1'
    r = t.get("/api/", headers={"X-Request-Id": bad})
    t.assert_status(r, 200)
    rid = r.header("X-Request-Id")
    assert rid and rid != bad and '"' not in rid, "unsafe id echoed: %r" % rid


def test_security_headers_on_errors_too():
    r = t.get("/no-such-page")
    t.assert_problem(r, 404)
    t.assert_security_headers(r)


def test_http_redirects_to_https():
    port = int(t.setting("HTTPS_PORT"))
    r = t.get("/api/?a=1", scheme="http")
    assert r.status in (301, 308), "expected a redirect, got %r" % r
    expected = "https://localhost%s/api/?a=1" % ("" if port == 443 else ":%d" % port)
    assert r.header("Location") == expected, \
        "Location %r, expected %r" % (r.header("Location"), expected)


def test_plain_http_on_the_https_port_redirects():
    r = t.get("/api/", scheme="http", port=t.setting("HTTPS_PORT"))
    assert r.status in (301, 308), "expected a redirect, got %r" % r
    assert r.header("Location", "").startswith("https://localhost"), r.header("Location")


def _handshake(ctx):
    port = int(t.setting("HTTPS_PORT"))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            return tls.version()


def test_tls_1_2_and_up_only():
    ctx = ssl.create_default_context(cafile=t.setting("SBX_TLS_CERT"))
    version = _handshake(ctx)
    assert version in ("TLSv1.2", "TLSv1.3"), "negotiated %r" % version

    ctx = ssl.create_default_context(cafile=t.setting("SBX_TLS_CERT"))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _handshake(ctx) == "TLSv1.2"

    # The client allows TLS 1.1 (security level 0), so a failed handshake
    # is the server's refusal.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1_1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        version = _handshake(ctx)
    except (ssl.SSLError, ConnectionResetError):
        return
    raise AssertionError("the server accepted %s" % version)


def test_certificate_names_localhost():
    # The default context checks the name: this fails if the certificate
    # does not hold DNS:localhost.
    ctx = ssl.create_default_context(cafile=t.setting("SBX_TLS_CERT"))
    assert ctx.check_hostname
    _handshake(ctx)


t.run()
