#!/usr/bin/python3
"""Sign-in and admin no longer hang on the email alone. A user row is bound to
the IdP's (issuer, subject): another account carrying a known user's email
(another subject, or the same subject from another issuer) is refused with
403 problem+json, logged, and gets no row or session; name and picture are
refreshed on every sign-in and every ID-token use; migration 030 binds rows
from before it to the configured issuer; ALLOWED_HD refuses an address at a
Workspace domain without hd."""

import os
import secrets
import subprocess

import sbxtest as t
import authflow as a

ADMIN = "admin@example.com"


def row(email):
    rows = t.psql("SELECT oidc_iss, oidc_sub, name, picture FROM users "
                  "WHERE email = lower(:'e')", e=email)
    assert len(rows) <= 1, rows
    return rows[0] if rows else None


def log_has(name, needle):
    path = os.path.join(t.setting("SBX_LOG_DIR"), name)
    return t.wait_until(lambda: needle in open(path, encoding="utf-8",
                                               errors="replace").read(),
                        timeout=5)


def test_id_token_of_another_account_with_the_same_email_is_refused():
    email = a.fresh_email("twin")
    t.assert_json(a.me(a.mint(email=email)), 200)
    first = row(email)
    assert first[0] == t.setting("OIDC_ISSUER"), first
    impostor = "imp" + secrets.token_hex(6)
    r = a.me(a.mint(email=email, claims={"sub": impostor}))
    p = t.assert_problem(r, 403)
    assert "another account" in p["detail"], p
    assert row(email) == first, "the row changed"
    assert a.count("SELECT count(*) FROM users WHERE oidc_sub = :'s'",
                   s=impostor) == 0
    assert log_has("sbx-meta.log", "refused the account %s" % impostor)


def test_racing_first_uses_of_one_account_all_pass():
    # A new account's first requests at once (a CI job's parallel calls):
    # each inserts the user; the losers hit the UNIQUE email index, not
    # the subject's ON CONFLICT, and were refused with 403 as if another
    # account held the address. Several rounds, since a race may not show.
    import sbxsandbox as s
    for _ in range(3):
        email = a.fresh_email("race")
        token = a.mint(email=email)
        results = s.parallel(12, lambda i: a.me(token))
        got = [r.status if not isinstance(r, Exception) else repr(r)
               for r in results]
        assert got == [200] * 12, got
        assert a.count("SELECT count(*) FROM users WHERE email = :'e'",
                       e=email) == 1


def test_the_admin_email_from_another_account_gets_nothing():
    # The admin's row exists (other tests use it); an impostor with the
    # admin's address must not become, or reach, the admin.
    t.assert_json(a.me(a.mint(email=ADMIN)), 200)
    before = row(ADMIN)
    sessions = a.sessions_of(ADMIN)
    impostor = "imp" + secrets.token_hex(6)
    r = t.request("GET", "/api/jobs/reaper",
                  headers=a.bearer(a.mint(email=ADMIN,
                                          claims={"sub": impostor})))
    t.assert_problem(r, 403)
    # The sign-in flow refuses it too, and issues no session.
    a.idp_user(ADMIN, sub=impostor)
    try:
        r = a.sign_in(ADMIN)
        p = t.assert_problem(r, 403)
        assert "another account" in p["detail"], p
        assert a.LOGIN_COOKIE in a.set_cookies(r)
        assert a.SESSION_COOKIE not in a.set_cookies(r)
    finally:
        a.idp_user(ADMIN, sub="")
    assert row(ADMIN) == before
    assert a.sessions_of(ADMIN) == sessions
    assert log_has("sbx-auth.log", "refused the account %s" % impostor)


def test_same_subject_from_another_issuer_is_refused():
    email = a.fresh_email("iss")
    t.assert_json(a.me(a.mint(email=email)), 200)
    sub = row(email)[1]
    # As if the row had been made by another IdP for this subject.
    t.psql("UPDATE users SET oidc_iss = 'https://other-idp.example' "
           "WHERE oidc_sub = :'s'", s=sub)
    t.assert_problem(a.me(a.mint(email=email)), 403)
    assert row(email)[0] == "https://other-idp.example"
    t.assert_problem(a.sign_in(email), 403)


def test_name_and_picture_refreshed_on_each_use():
    email = a.fresh_email("fresh")
    t.assert_json(a.me(a.mint(email=email)), 200)
    me = t.assert_json(a.me(a.mint(email=email, claims={
        "name": "Renamed Once", "picture": "https://p.example/one"})), 200)
    assert me["name"] == "Renamed Once", me
    assert row(email)[2:] == ["Renamed Once", "https://p.example/one"]
    # A token without them clears them, as the IdP says.
    me = t.assert_json(a.me(a.mint(email=email, claims={
        "name": None, "picture": None})), 200)
    assert row(email)[2:] == [None, None], row(email)
    # Sign-in refreshes too.
    a.idp_user(email, name="Signed In Name", picture="https://p.example/two")
    body = t.assert_json(a.sign_in(email), 200)
    assert body["user"]["name"] == "Signed In Name", body
    assert row(email)[2:] == ["Signed In Name", "https://p.example/two"]


def test_migration_binds_rows_to_the_configured_issuer():
    email = a.fresh_email("mig")
    t.assert_json(a.me(a.mint(email=email)), 200)
    t.psql("UPDATE users SET oidc_iss = NULL WHERE email = :'e'", e=email)
    t.psql("DELETE FROM schema_migrations WHERE version = '030'")
    env = {k: v for k, v in t.SETTINGS.items() if k.isupper()}
    done = subprocess.run(
        [os.path.join(t.setting("SBX_BUILD_DIR"), "schema", "sbx-migrate")],
        env=env, cwd="/", capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    assert "030_users_issuer" in done.stdout, done.stdout
    assert row(email)[0] == t.setting("OIDC_ISSUER"), row(email)
    assert t.psql("SELECT count(*) FROM users WHERE oidc_iss IS NULL") == [["0"]]
    assert t.psql("SELECT 1 FROM schema_migrations WHERE version = '030'")
    t.assert_json(a.me(a.mint(email=email)), 200)


def cgi_me(token, **settings):
    """GET /api/me by sbx-meta run by hand, with these settings changed:
    the same binary and database as the stack's."""
    done = t.run_cgi("sbx-meta", "/api/me", authorization="Bearer " + token,
                     settings=settings)
    assert done.returncode == 0, done.stderr[-500:]
    return done.status, done.body


def test_allowed_hd_needs_the_hd_claim():
    email = a.fresh_email("hd")
    status, body = cgi_me(a.mint(email=email), ALLOWED_HD="example.com")
    assert status == 403 and "hd" in body, (status, body)
    assert a.users_with(email) == 0
    status, body = cgi_me(a.mint(email=email, claims={"hd": "example.com"}),
                          ALLOWED_HD="example.com")
    assert status == 200, (status, body)
    # Without the setting, hd is not required (the stack's default).
    status, _ = cgi_me(a.mint(email=a.fresh_email("hd")))
    assert status == 200


t.run()
