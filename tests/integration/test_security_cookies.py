#!/usr/bin/python3
"""One malformed cookie neither signs the user out nor blocks sign-in.
Any application on the same site can set a cookie the browser then sends
us; the pair is skipped and the others are read."""

import urllib.parse

import sbxtest as t
import authflow as a

# Each of these once made the whole Cookie header unreadable.
BAD_PAIRS = [
    'junk="x',              # an unterminated quote
    'junk="x"y"',           # an inner quote
    'junk=a\x7fb',          # a control character
    'junk=""x',
]


def signed_in_browser_cookies(email):
    """Signs in (JSON variant) and returns (session cookie, csrf cookie)."""
    r = a.sign_in(email)
    t.assert_json(r, 200)
    c = a.set_cookies(r)
    return (a.cookie_value(c[a.SESSION_COOKIE]),
            a.cookie_value(c[a.CSRF_COOKIE]))


def test_session_cookie_read_beside_a_malformed_one():
    email = a.fresh_email("cookie")
    session, csrf = signed_in_browser_cookies(email)
    for bad in BAD_PAIRS:
        for header in (
                "%s; %s=%s" % (bad, a.SESSION_COOKIE, session),
                "%s=%s; %s" % (a.SESSION_COOKIE, session, bad),
                "a=1; %s; %s=%s; %s=%s" % (bad, a.CSRF_COOKIE, csrf,
                                           a.SESSION_COOKIE, session)):
            r = t.get("/api/me", headers={"Cookie": header})
            body = t.assert_json(r, 200)
            assert body["email"] == email, body
    # Without the session pair it is still a 401, not a 400.
    t.assert_problem(t.get("/api/me", headers={"Cookie": BAD_PAIRS[0]}), 401)


def test_unsafe_method_with_cookie_and_malformed_pair():
    email = a.fresh_email("cookiecsrf")
    session, csrf = signed_in_browser_cookies(email)
    header = 'junk="x; %s=%s; %s=%s' % (a.CSRF_COOKIE, csrf,
                                        a.SESSION_COOKIE, session)
    r = a.auth_request("POST", "/auth/logout",
                       headers={"Cookie": header, "X-CSRF-Token": csrf})
    t.assert_status(r, 204)
    rows = t.psql("SELECT count(*) FROM sessions s JOIN users u "
                  "ON u.id = s.user_id WHERE u.email = :'e' "
                  "AND s.revoked_at IS NOT NULL", e=email)
    assert rows == [["1"]], rows


def test_callback_reads_the_login_cookie_beside_a_malformed_one():
    email = a.fresh_email("cookielogin")
    login = a.Login(email)
    login.start()
    login.authorize()
    q = urllib.parse.urlencode({"code": login.code, "state": login.state})
    header = 'junk="x; %s=%s; other="a"b"' % (a.LOGIN_COOKIE,
                                              login.login_cookie)
    r = a.auth_request("GET", "/auth/callback?" + q,
                       headers={"Cookie": header,
                                "Accept": "application/json"})
    body = t.assert_json(r, 200)
    assert body["user"]["email"] == email, body
    assert a.users_with(email) == 1


t.run()
