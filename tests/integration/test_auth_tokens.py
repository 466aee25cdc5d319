#!/usr/bin/python3
"""Bearer credentials through nginx: what is accepted (our session tokens,
the IdP's ID tokens for our client id, creating the user on first use) and
what is refused with 401 problem+json, WWW-Authenticate: Bearer, and
nothing written to users or sessions: no token, malformed, bad signature,
expired, iat in the future, wrong iss, wrong aud, alg none, HS256 keyed
with the IdP's public key, unknown kid, a session token after logout, a
session token signed with another secret, a token in the query string."""

import secrets
import time

import sbxtest as t
import authflow as a


def _rejected(headers=None, path="/api/me", email=None):
    """The request is answered 401 problem+json with WWW-Authenticate:
    Bearer, and writes no user (for email) and no session."""
    users0, sessions0 = a.all_users(), a.all_sessions()
    r = t.get(path, headers=headers or {})
    p = t.assert_problem(r, 401)
    challenge = r.header("WWW-Authenticate", "")
    assert challenge.split(" ")[0] == "Bearer", "WWW-Authenticate: %r" % challenge
    assert a.all_users() == users0, "a user row was written"
    assert a.all_sessions() == sessions0, "a session row was written"
    if email is not None:
        assert a.users_with(email) == 0, "a row for %s exists" % email
    return p


def _id_token(email, **mint):
    mint["email"] = email
    return a.mint(**mint)


def test_id_token_accepted_and_user_created_on_first_use():
    email = a.fresh_email("idtok")
    token = _id_token(email)
    assert a.users_with(email) == 0
    body = t.assert_json(a.me(token), 200)
    assert body["email"] == email and body["role"] == "user", body
    assert a.users_with(email) == 1
    assert a.sessions_of(email) == 0, "an ID token makes no session"
    # The second request finds the same user.
    t.assert_json(a.me(token, path="/api/test"), 200)
    assert a.users_with(email) == 1


def test_session_token_accepted():
    token = a.session_token(a.fresh_email("sess"))
    t.assert_json(a.me(token), 200)
    # The scheme is case-insensitive; anything else is not a bearer token.
    t.assert_json(a.me(headers={"Authorization": "bearer " + token}), 200)
    _rejected({"Authorization": "Basic " + token})
    _rejected({"Authorization": token})


def test_no_token():
    p = _rejected()
    assert p["detail"], p
    _rejected({"Authorization": "Bearer"})
    _rejected({"Authorization": "Bearer "})
    _rejected(path="/api/test")
    _rejected(path="/auth/me")


def test_malformed_token():
    for bad in ("abc", "a.b.c", "a.b", "...", "e30.e30.", "Zm9v.YmFy.YmF6.cXV4",
                "x" * 5000):
        _rejected(a.bearer(bad))


def test_bad_signature():
    email = a.fresh_email("badsig")
    _rejected(a.bearer(_id_token(email, tamper=True)), email=email)


def test_expired():
    email = a.fresh_email("expired")
    now = int(time.time())
    token = _id_token(email, claims={"iat": now - 7200, "exp": now - 3600})
    _rejected(a.bearer(token), email=email)


def test_iat_in_the_future():
    email = a.fresh_email("future")
    now = int(time.time())
    token = _id_token(email, claims={"iat": now + 3600, "exp": now + 7200})
    _rejected(a.bearer(token), email=email)


def test_lifetime_over_a_day_and_missing_times():
    email = a.fresh_email("lifetime")
    now = int(time.time())
    _rejected(a.bearer(_id_token(email, claims={"iat": now, "exp": now + 2 * 86400})),
              email=email)
    _rejected(a.bearer(_id_token(email, claims={"iat": None})), email=email)
    _rejected(a.bearer(_id_token(email, claims={"exp": None})), email=email)


def test_wrong_issuer():
    email = a.fresh_email("iss")
    token = _id_token(email, claims={"iss": "https://evil.example"})
    _rejected(a.bearer(token), email=email)


def test_wrong_audience():
    email = a.fresh_email("aud")
    token = _id_token(email, claims={"aud": "someone-else.apps.example.com"})
    _rejected(a.bearer(token), email=email)
    token = _id_token(email, claims={"aud": ["someone-else.apps.example.com"]})
    _rejected(a.bearer(token), email=email)


def test_alg_none():
    email = a.fresh_email("none")
    _rejected(a.bearer(_id_token(email, alg="none")), email=email)
    # With a kid of a real key, and with some signature bytes.
    kid = a.idp("GET", "/_fake/keys")["current"]
    token = _id_token(email, alg="none", header={"kid": kid})
    _rejected(a.bearer(token + "c2lnbmF0dXJl"), email=email)


def test_hs256_signed_with_the_public_key():
    email = a.fresh_email("confusion")
    token = _id_token(email, alg="HS256-with-public-key")
    _rejected(a.bearer(token), email=email)


def test_unknown_kid():
    email = a.fresh_email("unknownkid")
    _rejected(a.bearer(_id_token(email, key="unknown")), email=email)
    _rejected(a.bearer(_id_token(email, header={"kid": "no-such-kid"})), email=email)
    _rejected(a.bearer(_id_token(email, header={"kid": None})), email=email)


def test_session_token_after_logout():
    token = a.session_token(a.fresh_email("afterlogout"))
    r = a.auth_request("POST", "/auth/logout", headers=a.bearer(token))
    t.assert_status(r, 204)
    _rejected(a.bearer(token))
    _rejected({"Cookie": "%s=%s" % (a.SESSION_COOKIE, token)})


def test_session_token_signed_with_another_secret():
    # A real session's jti and user id, signed with another key.
    email = a.fresh_email("othersecret")
    real = a.session_token(email)
    rows = t.psql("SELECT s.id, s.user_id FROM sessions s JOIN users u "
                  "ON u.id = s.user_id WHERE u.email = :'e'", e=email)
    jti, sub = rows[0]
    forged = a.forge_session_token(secrets.token_bytes(32), jti=jti, sub=sub)
    assert forged.split(".")[0] == real.split(".")[0], "not our header shape"
    _rejected(a.bearer(forged))
    _rejected({"Cookie": "%s=%s" % (a.SESSION_COOKIE, forged)})
    # Our token with its payload swapped for another user's: also refused.
    other = a.session_token(a.fresh_email("swap"))
    spliced = ".".join([real.split(".")[0], other.split(".")[1], real.split(".")[2]])
    _rejected(a.bearer(spliced))
    t.assert_json(a.me(real), 200)


def test_token_in_the_query_string():
    token = a.session_token(a.fresh_email("query"))
    for name in ("access_token", "id_token", "token"):
        _rejected(path="/api/me?%s=%s" % (name, token))
    # Even beside a good header: a token in a URL has leaked into logs.
    r = t.get("/api/me?access_token=" + token, headers=a.bearer(token))
    t.assert_problem(r, 401)
    id_token = _id_token(a.fresh_email("queryid"))
    _rejected(path="/api/me?id_token=" + id_token)


def test_not_allowed_id_tokens_are_403_and_write_nothing():
    # Valid tokens whose holder may not sign in: refused, no row.
    outsider = a.fresh_email("outsider", domain="elsewhere.example")
    r = a.me(_id_token(outsider))
    t.assert_problem(r, 403)
    assert a.users_with(outsider) == 0
    unverified = a.fresh_email("unverified")
    r = a.me(_id_token(unverified, claims={"email_verified": False}))
    t.assert_problem(r, 403)
    assert a.users_with(unverified) == 0


t.run()
