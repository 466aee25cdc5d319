#!/usr/bin/python3
"""Sign-in through nginx with the local IdP: the browser flow (a real HTTP
client following redirects with a cookie jar), the JSON variant giving a
bearer token, cookies and their attributes, next, logout, CSRF with the
session cookie, roles, disabling and re-enabling a user, and every way a
callback can fail (4xx with no session row written; 503 when the IdP
cannot be reached)."""

import json
import urllib.parse

import sbxtest as t
import authflow as a

ADMIN = "admin@example.com"          # ADMIN_EMAILS of the test stack


def _user_json_ok(user, email, role="user"):
    assert set(user) == {"email", "name", "picture", "role"}, \
        "user members: %r" % sorted(user)
    assert user["email"] == email, "email %r, expected %r" % (user["email"], email)
    assert user["role"] == role, "role %r, expected %r" % (user["role"], role)
    assert isinstance(user["name"], str) and user["name"], "no name: %r" % user
    assert isinstance(user["picture"], str) and user["picture"].startswith("https://")


# ------------------------------------------------------------- the flows

def test_browser_flow_follows_redirects():
    email = a.fresh_email("browser")
    users0, sessions0 = a.users_with(email), a.all_sessions()
    b = a.Browser()
    q = urllib.parse.urlencode({"login_hint": email, "next": "/api/me"})
    status, final, _, body = b.open("/auth/login?" + q)

    # login -> IdP -> callback -> next, then the answer of /api/me.
    assert status == 200, "ended with %d at %s: %s" % (
        status, final.split("?")[0], t.redact(body))
    assert urllib.parse.urlsplit(final).path == "/api/me", final.split("?")[0]
    hops = [(urllib.parse.urlsplit(u).path, code) for u, code, _ in b.recorder.hops]
    assert [p for p, _ in hops] == ["/auth/login", "/authorize", "/auth/callback"], hops
    assert all(code == 302 for _, code in hops), hops
    _user_json_ok(json.loads(body), email)

    # The cookies the callback set, as a browser received them.
    cb_headers = b.recorder.hops[2][2]
    lines = {l.split("=", 1)[0]: l for l in cb_headers.get_all("Set-Cookie")}
    sess = a.cookie_attrs(lines[a.SESSION_COOKIE])
    for attr in ("secure", "httponly", "samesite", "path"):
        assert attr in sess, "session cookie lacks %s" % attr
    assert sess["samesite"].lower() == "lax" and sess["path"] == "/", sess
    csrf = a.cookie_attrs(lines[a.CSRF_COOKIE])
    assert "secure" in csrf and "httponly" not in csrf, \
        "CSRF cookie must be readable by scripts: %r" % csrf
    assert csrf["samesite"].lower() == "lax" and csrf["path"] == "/", csrf
    login = a.cookie_attrs(lines[a.LOGIN_COOKIE])
    assert login.get("max-age") == "0", "login cookie not cleared: %r" % login
    # The login cookie itself was HttpOnly and short-lived.
    login_set = {l.split("=", 1)[0]: l for l in
                 b.recorder.hops[0][2].get_all("Set-Cookie")}[a.LOGIN_COOKIE]
    la = a.cookie_attrs(login_set)
    assert "httponly" in la and "secure" in la and la["samesite"].lower() == "lax", la
    assert 0 < int(la["max-age"]) <= 900, la

    # One user, one session row; the cookie opens /api/test too.
    assert a.users_with(email) == users0 + 1
    assert a.sessions_of(email) == 1
    assert a.all_sessions() == sessions0 + 1
    status, _, _, body = b.open("/api/test", headers={"Accept": "application/json"})
    assert status == 200, t.redact(body)
    doc = json.loads(body)
    assert doc["message"] == "Here are your sandboxes!", doc
    _user_json_ok(doc["user"], email)
    status, _, _, body = b.open("/auth/me")
    assert status == 200
    _user_json_ok(json.loads(body), email)


def test_browser_flow_default_next_is_root():
    email = a.fresh_email("root")
    login = a.Login(email)
    login.start()
    login.authorize()
    r = login.callback(json_answer=False)
    t.assert_status(r, 302)
    assert r.header("Location") == "/", r.header("Location")
    assert a.SESSION_COOKIE in a.set_cookies(r)


def test_json_variant_gives_a_bearer_token():
    email = a.fresh_email("json")
    r = a.sign_in(email)
    body = t.assert_json(r, 200)
    assert body["token_type"] == "Bearer", body.get("token_type")
    assert body["expires_in"] == int(t.setting("SESSION_TTL_SECONDS", "43200"))
    token = body["access_token"]
    assert token.count(".") == 2
    _user_json_ok(body["user"], email)
    assert a.SESSION_COOKIE in a.set_cookies(r)
    assert r.header("Cache-Control") == "no-store", r.header("Cache-Control")

    for path in ("/api/me", "/auth/me"):
        doc = t.assert_json(a.me(token, path=path), 200)
        _user_json_ok(doc, email)
    doc = t.assert_json(a.me(token, path="/api/test"), 200)
    assert doc["message"] == "Here are your sandboxes!"
    _user_json_ok(doc["user"], email)


def test_admin_role_from_admin_emails():
    token = a.session_token(ADMIN)
    _user_json_ok(t.assert_json(a.me(token), 200), ADMIN, role="admin")
    other = a.session_token(a.fresh_email("plain"))
    assert t.assert_json(a.me(other), 200)["role"] == "user"


def test_signing_in_again_updates_the_same_user():
    email = a.fresh_email("again")
    a.session_token(email)
    a.idp_user(email, name="Renamed Person")
    token = a.session_token(email)
    assert t.assert_json(a.me(token), 200)["name"] == "Renamed Person"
    assert a.users_with(email) == 1
    assert a.sessions_of(email) == 2


def test_next_must_be_a_same_site_path():
    for bad in ("//evil.example/x", "https://evil.example/", "/\\evil.example",
                "evil", "javascript:alert(1)", "/a b"):
        r = a.auth_request("GET", "/auth/login?" + urllib.parse.urlencode(
            {"next": bad}))
        p = t.assert_problem(r, 400)
        assert a.LOGIN_COOKIE not in a.set_cookies(r), "cookie set for next=%r" % bad
        assert "next" in p["detail"] or p.get("field") == "next", p
    login = a.Login(a.fresh_email("next"), next_path="/api/test?x=1")
    login.start()
    params = login.authorize_params()
    assert params["scope"] == "openid email profile", params["scope"]
    assert params["code_challenge_method"] == "S256"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == t.setting("BASE_URL") + "/auth/callback"
    assert len(params["code_challenge"]) == 43 and params["state"] and params["nonce"]
    login.authorize()
    r = login.callback(json_answer=False)
    t.assert_status(r, 302)
    assert r.header("Location") == "/api/test?x=1", r.header("Location")


def test_logout_revokes_at_once():
    email = a.fresh_email("logout")
    token = a.session_token(email)
    t.assert_json(a.me(token), 200)
    r = a.auth_request("POST", "/auth/logout", headers=a.bearer(token))
    t.assert_status(r, 204)
    cleared = a.set_cookies(r)
    for name in (a.SESSION_COOKIE, a.CSRF_COOKIE):
        assert a.cookie_attrs(cleared[name]).get("max-age") == "0", cleared.get(name)
    p = t.assert_problem(a.me(token), 401)
    assert a.me(token).header("WWW-Authenticate", "").startswith("Bearer"), p
    rows = t.psql("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id "
                  "WHERE u.email = :'e' AND s.revoked_at IS NOT NULL", e=email)
    assert rows == [["1"]], rows
    # Logging out again with the dead token: 401, nothing changes.
    t.assert_problem(a.auth_request("POST", "/auth/logout", headers=a.bearer(token)), 401)


def test_cookie_auth_needs_csrf_on_unsafe_methods():
    email = a.fresh_email("csrf")
    b = a.Browser()
    status, _, _, body = b.open("/auth/login?" + urllib.parse.urlencode(
        {"login_hint": email, "next": "/api/me"}))
    assert status == 200, t.redact(body)
    csrf = b.cookie(a.CSRF_COOKIE).value

    # DELETE with the cookie but without the header: refused before the
    # route's own checks (the sandbox does not even exist).
    status, _, _, body = b.open("/api/sandboxes/no-such-sandbox", method="DELETE")
    assert status == 403, "DELETE without X-CSRF-Token: %d %s" % (status, t.redact(body))
    status, _, _, _ = b.open("/api/sandboxes/no-such-sandbox", method="DELETE",
                             headers={"X-CSRF-Token": "not-the-token"})
    assert status == 403
    status, _, _, body = b.open("/api/sandboxes/no-such-sandbox", method="DELETE",
                                headers={"X-CSRF-Token": csrf})
    assert status == 404, "with the CSRF header: %d %s" % (status, t.redact(body))

    # Logout is a change too.
    status, _, _, _ = b.open("/auth/logout", method="POST", data=b"")
    assert status == 403
    status, _, _, _ = b.open("/api/me")
    assert status == 200, "the session must still work"
    status, _, _, _ = b.open("/auth/logout", method="POST", data=b"",
                             headers={"X-CSRF-Token": csrf})
    assert status == 204
    status, _, _, _ = b.open("/api/me")
    assert status == 401

    # A bearer token needs no CSRF header (a browser does not send it).
    token = a.session_token(a.fresh_email("bearer"))
    r = t.request("DELETE", "/api/sandboxes/no-such-sandbox", headers=a.bearer(token))
    t.assert_problem(r, 404)


def test_disable_and_enable_a_user():
    bob = a.fresh_email("bob")
    bob_token = a.session_token(bob)
    bob_cookie_browser = a.Browser()
    status, _, _, _ = bob_cookie_browser.open("/auth/login?" + urllib.parse.urlencode(
        {"login_hint": bob, "next": "/api/me"}))
    assert status == 200
    admin = a.session_token(ADMIN)

    # Only an admin may.
    r = t.post("/api/users/%s/disable" % bob, headers=a.bearer(bob_token))
    t.assert_problem(r, 403)
    r = t.post("/api/users/nobody-%s/disable" % bob, headers=a.bearer(admin))
    t.assert_problem(r, 404)

    # An ID token in use before: the responders remember its verification
    # (every worker that served it), never the user's disabled state.
    bob_id = a.mint(email=bob)
    for _ in range(6):
        t.assert_json(a.me(bob_id), 200)

    r = t.post("/api/users/%s/disable" % bob, headers=a.bearer(admin))
    body = t.assert_json(r, 200)
    assert body["disabled"] is True and body["email"] == bob, body
    assert body["sessions_revoked"] == 2, body
    # At once: the bearer token and the cookie session both stop working.
    t.assert_problem(a.me(bob_token), 401)
    status, _, _, _ = bob_cookie_browser.open("/api/me")
    assert status == 401
    # Signing in again is refused and writes no session.
    before = a.sessions_of(bob)
    r = a.sign_in(bob)
    p = t.assert_problem(r, 403)
    assert "disabled" in p["detail"], p
    assert a.sessions_of(bob) == before
    # An ID token of theirs is refused too, the one already in use
    # included, on every request.
    t.assert_problem(a.me(a.mint(email=bob)), 403)
    for _ in range(6):
        t.assert_problem(a.me(bob_id), 403)

    r = t.post("/api/users/%s/enable" % bob, headers=a.bearer(admin))
    assert t.assert_json(r, 200)["disabled"] is False
    t.assert_json(a.me(bob_id), 200)
    # Their old sessions stay revoked; they sign in again.
    t.assert_problem(a.me(bob_token), 401)
    token = a.session_token(bob)
    t.assert_json(a.me(token), 200)

    # An admin cannot lock themselves out.
    r = t.post("/api/users/%s/disable" % ADMIN, headers=a.bearer(admin))
    t.assert_problem(r, 409)


# ----------------------------------------------------- callback failures

def _assert_failed(r, status, email):
    t.assert_problem(r, status)
    assert a.SESSION_COOKIE not in a.set_cookies(r), "a session cookie was set"
    assert a.sessions_of(email) == 0, "a session row was written"


def test_callback_missing_or_forged_state():
    email = a.fresh_email("state")
    login = a.Login(email)
    login.start()
    login.authorize()
    _assert_failed(login.callback(state=False), 400, email)
    _assert_failed(login.callback(state="forged-" + login.state[:10]), 400, email)
    _assert_failed(login.callback(code=False), 400, email)
    # Without the login cookie, or with one that was tampered with.
    _assert_failed(login.callback(cookie=""), 400, email)
    c = login.login_cookie
    _assert_failed(login.callback(cookie=c[:-3] + ("AAA" if c[-3:] != "AAA" else "BBB")),
                   400, email)
    # Another login's cookie does not fit this state either.
    other = a.Login(email)
    other.start()
    _assert_failed(login.callback(cookie=other.login_cookie), 400, email)
    # The code was never spent: the real callback still works.
    t.assert_json(login.callback(), 200)


def test_callback_reused_code():
    email = a.fresh_email("reuse")
    login = a.Login(email)
    login.start()
    login.authorize()
    t.assert_json(login.callback(), 200)
    n = a.sessions_of(email)
    r = login.callback()
    t.assert_problem(r, 400)
    assert a.sessions_of(email) == n


def _assert_sign_in_refused(email, status, **authorize_params):
    """A sign-in of email, with authorize_params changed on the way to the
    IdP, is refused with status at the callback: no session, no user."""
    login = a.Login(email)
    login.start()
    for name, value in authorize_params.items():
        login.set_authorize_param(name, value)
    login.authorize()
    _assert_failed(login.callback(), status, email)
    assert a.users_with(email) == 0


def test_callback_wrong_pkce_verifier():
    # The IdP is given a challenge that is not our verifier's.
    _assert_sign_in_refused(a.fresh_email("pkce"), 400,
                            code_challenge=a.b64url(b"x" * 32))


def test_callback_nonce_mismatch():
    _assert_sign_in_refused(a.fresh_email("nonce"), 401,
                            nonce="not-the-login-nonce")


def test_callback_unverified_email():
    email = a.fresh_email("unverified")
    a.idp_user(email, email_verified=False)
    _assert_sign_in_refused(email, 403)


def test_callback_domain_not_allowed():
    _assert_sign_in_refused(
        a.fresh_email("outsider", domain="elsewhere.example"), 403)


def test_callback_denied_at_the_idp():
    email = a.fresh_email("denied")
    a.idp_user(email, deny=True)
    login = a.Login(email)
    login.start()
    q = login.authorize()
    assert q.get("error") == "access_denied"
    r = login.callback(code=False, extra_query={"error": "access_denied"})
    _assert_failed(r, 403, email)


def test_callback_idp_unreachable_is_503():
    email = a.fresh_email("down")
    login = a.Login(email)
    login.start()
    login.authorize()
    try:
        a.idp_config(down="close")
        r = login.callback()
        t.assert_problem(r, 503)
        assert a.sessions_of(email) == 0
        a.idp_config(down="503")
        t.assert_problem(login.callback(), 503)
    finally:
        a.idp_config(down=False)
    # The IdP failing (500 at its token endpoint) is no 500 of ours.
    login = a.Login(email)
    login.start()
    login.authorize()
    try:
        a.idp_config(fail=["token"])
        t.assert_problem(login.callback(), 503)
    finally:
        a.idp_config(fail=[])
    assert a.sessions_of(email) == 0


t.run()
