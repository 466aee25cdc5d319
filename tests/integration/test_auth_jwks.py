#!/usr/bin/python3
"""The IdP's signing keys through nginx: a token signed by a key the IdP
has just rotated to is accepted after a refetch of its JWKS; a flood of
tokens naming unknown kids does not make a JWKS fetch per request (at most
one per worker per OIDC_JWKS_MIN_REFRESH_SECONDS); the IdP being down
breaks no session token. scripts/test sets OIDC_JWKS_MIN_REFRESH_SECONDS
to 2 so that the rotation test takes seconds; with the default (60) it
passes too, in about two minutes.

The fake IdP counts its JWKS answers (/_fake/stats "jwks")."""

import time

import sbxtest as t
import authflow as a


def _refresh():
    """OIDC_JWKS_MIN_REFRESH_SECONDS of the stack (default 60)."""
    return int(t.setting("OIDC_JWKS_MIN_REFRESH_SECONDS", "60"))


def _workers():
    return int(t.setting("SBX_WORKERS", "2"))


def _jwks_fetches():
    return a.idp_stats().get("jwks", 0)


def test_rotated_key_accepted_after_a_refetch():
    email = a.fresh_email("rotate")
    old = a.mint(email=email)
    t.assert_json(a.me(old), 200)

    rotated = a.idp("POST", "/_fake/rotate", {})
    assert len(rotated["kids"]) >= 2, "the old key should still be published"
    new = a.mint(email=email)
    before = _jwks_fetches()
    started = time.monotonic()

    # Each worker refetches once the refetch window allows; until then a
    # worker says 401 for the unknown kid. Poll (never sleep blindly).
    def accepted():
        return a.me(new).status == 200
    assert t.wait_until(accepted, timeout=10 * _refresh() + 20, interval=0.2), \
        "a token signed by the new key was never accepted"
    # Both workers of sbx-meta must know the key: every request succeeds.
    assert t.wait_until(lambda: all(a.me(new).status == 200 for _ in range(6)),
                        timeout=10 * _refresh() + 20, interval=0.2)
    elapsed = time.monotonic() - started
    fetched = _jwks_fetches() - before
    limit = _workers() * (int(elapsed / _refresh()) + 2)
    assert 1 <= fetched <= limit, \
        "%d JWKS fetches in %.1fs (at most %d expected)" % (fetched, elapsed, limit)
    # The old key is still published, so its tokens still work.
    t.assert_json(a.me(old), 200)

    # Once the old key is dropped from the JWKS, its tokens stop working
    # at the next refetch (e.g. prompted by an unknown kid).
    a.idp("POST", "/_fake/rotate", {"drop_old": True})
    newest = a.mint(email=email)

    # The workers take connections in turn, so alternating new and old
    # tokens would show each worker only one of them: first the newest
    # token to every worker (each refetches on its unknown kid), then the
    # old one to every worker.
    def switched():
        return (all(a.me(newest).status == 200 for _ in range(6))
                and all(a.me(old).status == 401 for _ in range(6)))
    assert t.wait_until(switched, timeout=10 * _refresh() + 20, interval=0.2), \
        "the dropped key's token is still accepted"
    t.assert_problem(a.me(old), 401)


def test_flood_of_unknown_kids_does_not_refetch_each_time():
    email = a.fresh_email("flood")
    tokens = [a.mint(email=email, header={"kid": "flood-%d-%s" % (i, email)})
              for i in range(60)]
    before = _jwks_fetches()
    started = time.monotonic()
    for tok in tokens:
        r = a.me(tok)
        t.assert_problem(r, 401)
    elapsed = time.monotonic() - started
    fetched = _jwks_fetches() - before
    limit = _workers() * (int(elapsed / _refresh()) + 2)
    assert fetched <= limit, \
        "%d JWKS fetches for %d unknown kids in %.1fs (at most %d expected)" % (
            fetched, len(tokens), elapsed, limit)
    assert fetched < len(tokens) / 3, "%d fetches for %d requests" % (
        fetched, len(tokens))
    assert a.users_with(email) == 0


def test_idp_down_does_not_break_session_tokens():
    email = a.fresh_email("idpdown")
    token = a.session_token(email)
    b = a.Browser()
    status, _, _, _ = b.open("/auth/login?login_hint=%s&next=/api/me" % email)
    assert status == 200
    try:
        a.idp_config(down="close")
        for _ in range(6):      # every worker, whatever its caches hold
            t.assert_json(a.me(token), 200)
            t.assert_json(a.me(token, path="/api/test"), 200)
            status, _, _, _ = b.open("/api/me")
            assert status == 200
        # A new sign-in cannot start (or, with discovery cached, cannot
        # get past the IdP), and says so with a 503, not a 500.
        r = a.auth_request("GET", "/auth/login?login_hint=" + email)
        if r.status != 302:
            t.assert_problem(r, 503)
        # Logout needs no IdP either.
        r = a.auth_request("POST", "/auth/logout", headers=a.bearer(token))
        t.assert_status(r, 204)
        t.assert_problem(a.me(token), 401)
    finally:
        a.idp_config(down=False)


t.run()
