#!/usr/bin/python3
"""Personal API tokens through nginx and sbx-auth: making,
listing and revoking them, using them as bearer tokens (never from a
cookie or the query string), their limits, last_used_at at most once a
minute, and the reaper's housekeeping of ended ones.

People sign in with ID tokens from the local IdP (sbxsandbox.token);
admin@example.com is the stack's admin. A token's secret is never put in
an assertion message: messages go through sbxtest.redact()."""

import concurrent.futures
import datetime
import hashlib
import re

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r

PREFIX = "sbx_pat_"
FORM = re.compile(r"^sbx_pat_[A-Za-z0-9_-]{43}$")
LISTED = {"id", "name", "created_at", "expires_at", "last_used_at",
          "revoked_at"}
MADE = {"id", "name", "token", "created_at", "expires_at"}
MAX_LIVE = 20


def _time(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def _pat(token, method, path, body=None, headers=None):
    """A request authenticated by API token `token`."""
    h = {"Authorization": "Bearer " + token}
    h.update(headers or {})
    if body is not None:
        return t.request(method, path, json_body=body, headers=h)
    return t.request(method, path, headers=h)


def _make(email, expect=201, **body):
    """POST /api/tokens as the person `email`; the parsed answer."""
    body.setdefault("name", "ci")
    resp = s.api("POST", "/api/tokens", email, body)
    if expect is None:
        return resp
    return t.assert_json(resp, expect)


def _list(email, query=""):
    return t.assert_json(s.api("GET", "/api/tokens" + query, email), 200)


def _row(token_id):
    """The api_tokens row of id as a dict of text values."""
    cols = ["id", "user_id", "name", "token_hash", "created_at",
            "expires_at", "last_used_at", "revoked_at"]
    rows = t.psql("SELECT " + ", ".join(c + "::text" for c in cols) +
                  " FROM api_tokens WHERE id = :'id'", id=token_id)
    return dict(zip(cols, rows[0])) if rows else None


def _user_id(email):
    return t.psql("SELECT id FROM users WHERE email = :'e'", e=email)[0][0]


def _shown(made):
    """made without its secret, for assertion messages."""
    return {k: ("<redacted>" if k == "token" else v) for k, v in made.items()}


def _assert_401(resp):
    p = t.assert_problem(resp, 401)
    assert "Bearer" in (resp.header("WWW-Authenticate") or ""), resp
    return p


# ------------------------------------------------------------------ making

def test_make_answers_the_token_once_and_stores_only_its_hash():
    email = s.fresh_email("tokmake")
    before = datetime.datetime.now(datetime.timezone.utc)
    made = _make(email, name="laptop CLI")
    assert set(made) == MADE, sorted(made)
    token = made["token"]
    assert FORM.match(token), "token has not the documented form"
    assert made["name"] == "laptop CLI"
    # The default lifetime is 90 days.
    created, expires = _time(made["created_at"]), _time(made["expires_at"])
    assert abs((created - before).total_seconds()) < 60, _shown(made)
    assert expires - created == datetime.timedelta(days=90), _shown(made)
    # Only the SHA-256 of the token is stored; no column holds the token.
    row = _row(made["id"])
    assert row is not None and row["user_id"] == _user_id(email)
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    dump = "".join(t.psql("SELECT t::text FROM api_tokens t WHERE id = :'id'",
                          id=made["id"])[0])
    assert token not in dump and token[len(PREFIX):] not in dump, \
        "the token itself is in the database"
    # It is never shown again: the list has no secret.
    listed = t.assert_json(s.api("GET", "/api/tokens", email), 200)
    assert [x["id"] for x in listed] == [made["id"]]
    raw = s.api("GET", "/api/tokens", email).text
    assert token[len(PREFIX):] not in raw and "token\"" not in raw, \
        "the list shows a secret"


def test_two_tokens_differ():
    email = s.fresh_email("tokdiff")
    a, b = _make(email, name="a"), _make(email, name="b")
    assert a["token"] != b["token"] and a["id"] != b["id"]


def test_expires_in_days_bounds():
    email = s.fresh_email("tokdays")
    for days in (1, 365):
        made = _make(email, name="d%d" % days, expires_in_days=days)
        span = _time(made["expires_at"]) - _time(made["created_at"])
        assert span == datetime.timedelta(days=days), (days, _shown(made))
    for bad in (0, 366, -1, 1.5, "30", True, None, 10 ** 30):
        resp = _make(email, expect=None, expires_in_days=bad)
        s.assert_invalid(resp, "expires_in_days")
    assert len(_list(email)) == 2, "a refused request made a token"


def test_name_rules():
    email = s.fresh_email("tokname")
    ok = ["x", "a" * 64, "CI: deploy (prod) #1", "caf\u00e9 \u2603" * 8,
          "\U0001F511" * 64]
    for name in ok:
        made = _make(email, name=name)
        assert made["name"] == name
        s.api("DELETE", "/api/tokens/" + made["id"], email)
    bad = ["", "a" * 65, "\U0001F511" * 65, "tab\there", "new\nline",
           "del\u007f", "c1\u0085", 5, None, ["x"], {"a": 1}]
    for name in bad:
        resp = _make(email, expect=None, name=name)
        s.assert_invalid(resp, "name")
    # A NUL never reaches the name check: the body's parser refuses it.
    s.assert_invalid(_make(email, expect=None, name="nul\u0000"), "body")
    # Missing, and an unknown member.
    resp = s.api("POST", "/api/tokens", email, {"expires_in_days": 5})
    s.assert_invalid(resp, "name")
    resp = s.api("POST", "/api/tokens", email, {"name": "x", "scope": "all"})
    s.assert_invalid(resp, "scope")
    assert all(x["revoked_at"] for x in _list(email)), \
        "a refused request made a token"


def test_body_must_be_json():
    email = s.fresh_email("tokjson")
    resp = s.api("POST", "/api/tokens", email, raw="name=x",
                 content_type="application/x-www-form-urlencoded")
    t.assert_problem(resp, 415)
    resp = s.api("POST", "/api/tokens", email, raw="{",
                 content_type="application/json")
    s.assert_invalid(resp, "body")


def test_signed_out_is_401():
    _assert_401(t.post("/api/tokens", json_body={"name": "x"}))
    _assert_401(t.get("/api/tokens"))
    _assert_401(t.request("DELETE", "/api/tokens/"
                          "00000000-0000-4000-8000-000000000000"))


# ------------------------------------------------------------- using one

def test_token_authenticates_as_its_user_on_every_responder():
    email = s.fresh_email("tokuse")
    token = _make(email)["token"]
    me = t.assert_json(_pat(token, "GET", "/api/me"), 200)
    assert me["email"] == email and me["role"] == "user", me
    me = t.assert_json(_pat(token, "GET", "/auth/me"), 200)
    assert me["email"] == email, me
    t.assert_json(_pat(token, "GET", "/api/sandboxes"), 200)
    t.assert_json(_pat(token, "GET", "/api/jobs"), 200)
    t.assert_json(_pat(token, "GET", "/api/tokens"), 200)
    # The scheme is case-insensitive, as for session tokens.
    resp = t.get("/api/me", headers={"Authorization": "bearer " + token})
    t.assert_json(resp, 200)


def test_admins_token_is_an_admin():
    token = _make(s.ADMIN, name="admin ci")["token"]
    try:
        me = t.assert_json(_pat(token, "GET", "/api/me"), 200)
        assert me["role"] == "admin", me
        t.assert_json(_pat(token, "GET", "/api/jobs/reaper"), 200)
    finally:
        s.api("DELETE", "/api/tokens/" + _id_of(s.ADMIN, "admin ci"), s.ADMIN)


def _id_of(email, name):
    return [x["id"] for x in _list(email) if x["name"] == name][0]


def test_never_from_a_cookie_or_the_query_string():
    email = s.fresh_email("tokwhere")
    token = _make(email)["token"]
    for cookie in ("sbx_session", "__Host-sbx_session", "token", "api_token"):
        resp = t.get("/api/me", headers={"Cookie": "%s=%s" % (cookie, token)})
        _assert_401(resp)
    for name in ("access_token", "token", "api_token"):
        resp = t.get("/api/me?%s=%s" % (name, token))
        _assert_401(resp)
        # Not even beside a good header.
        resp = _pat(token, "GET", "/api/me?%s=%s" % (name, token))
        _assert_401(resp)
    t.assert_json(_pat(token, "GET", "/api/me"), 200)


def test_malformed_and_unknown_tokens_are_401():
    email = s.fresh_email("tokbad")
    token = _make(email)["token"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (PREFIX, PREFIX + "x", token + "A", token[:-1], flipped,
                PREFIX + "*" * 43, token.upper()):
        _assert_401(_pat(bad, "GET", "/api/me"))


def test_a_token_cannot_make_tokens():
    email = s.fresh_email("tokmint")
    made = _make(email)
    resp = _pat(made["token"], "POST", "/api/tokens", {"name": "child"})
    p = t.assert_problem(resp, 403)
    assert "API token" in p["detail"], p
    assert len(_list(email)) == 1, "a token made a token"
    # Even with a body that would be refused: the caller is refused first.
    resp = _pat(made["token"], "POST", "/api/tokens", {"nope": 1})
    t.assert_problem(resp, 403)


def test_expired_token_is_401():
    email = s.fresh_email("tokexp")
    made = _make(email)
    t.assert_json(_pat(made["token"], "GET", "/api/me"), 200)
    t.psql("UPDATE api_tokens SET expires_at = now() - interval '1 second'"
           " WHERE id = :'id'", id=made["id"])
    _assert_401(_pat(made["token"], "GET", "/api/me"))


def test_disabled_users_tokens_are_401_until_enabled():
    email = s.fresh_email("tokdis")
    token = _make(email)["token"]
    t.assert_json(_pat(token, "GET", "/api/me"), 200)
    t.assert_json(s.api("POST", "/api/users/%s/disable" % email, s.ADMIN), 200)
    try:
        _assert_401(_pat(token, "GET", "/api/me"))
        _assert_401(_pat(token, "GET", "/api/sandboxes"))
    finally:
        t.assert_json(s.api("POST", "/api/users/%s/enable" % email, s.ADMIN),
                      200)
    t.assert_json(_pat(token, "GET", "/api/me"), 200)


# ------------------------------------------------------------ last_used_at

def test_last_used_at_is_written_at_most_once_a_minute():
    email = s.fresh_email("tokused")
    made = _make(email)
    assert _row(made["id"])["last_used_at"] is None
    assert _list(email)[0]["last_used_at"] is None
    t.assert_json(_pat(made["token"], "GET", "/api/me"), 200)
    first = _row(made["id"])["last_used_at"]
    assert first is not None, "a use was not recorded"
    listed = _list(email)[0]["last_used_at"]
    assert listed is not None
    # More uses within the minute write nothing.
    for _ in range(3):
        t.assert_json(_pat(made["token"], "GET", "/api/me"), 200)
    assert _row(made["id"])["last_used_at"] == first
    # Once the last write is over a minute old, the next use writes.
    t.psql("UPDATE api_tokens SET last_used_at = now() - interval '61 seconds'"
           " WHERE id = :'id'", id=made["id"])
    old = _row(made["id"])["last_used_at"]
    t.assert_json(_pat(made["token"], "GET", "/api/me"), 200)
    new = _row(made["id"])["last_used_at"]
    assert new is not None and new != old, (old, new)
    fresh = t.psql("SELECT last_used_at > now() - interval '30 seconds'"
                   " FROM api_tokens WHERE id = :'id'", id=made["id"])
    assert fresh == [["t"]], fresh
    # At 50 seconds it is still too early (a margin for a slow machine).
    t.psql("UPDATE api_tokens SET last_used_at = now() - interval '50 seconds'"
           " WHERE id = :'id'", id=made["id"])
    old = _row(made["id"])["last_used_at"]
    t.assert_json(_pat(made["token"], "GET", "/api/me"), 200)
    assert _row(made["id"])["last_used_at"] == old


# ------------------------------------------------------------------ listing

def test_list_is_own_newest_first_with_every_field():
    alice, bob = s.fresh_email("tokla"), s.fresh_email("toklb")
    ids = [_make(alice, name="a%d" % i)["id"] for i in range(3)]
    bob_id = _make(bob, name="b")["id"]
    s.api("DELETE", "/api/tokens/" + ids[0], alice)
    got = _list(alice)
    assert [x["id"] for x in got] == ids[::-1], got
    for x in got:
        assert set(x) == LISTED, sorted(x)
    assert got[-1]["revoked_at"] is not None and got[0]["revoked_at"] is None
    assert bob_id not in [x["id"] for x in got]
    # A user's owner= is ignored: still their own.
    got = _list(alice, "?owner=" + bob)
    assert [x["id"] for x in got] == ids[::-1], got


def test_admin_lists_anyones_tokens_with_owner():
    bob = s.fresh_email("tokadm")
    bob_id = _make(bob, name="b")["id"]
    got = _list(s.ADMIN, "?owner=" + bob)
    assert [x["id"] for x in got] == [bob_id], got
    got = _list(s.ADMIN, "?owner=" + bob.upper())
    assert [x["id"] for x in got] == [bob_id], got
    assert _list(s.ADMIN, "?owner=nobody-" + bob) == []
    own = [x["id"] for x in _list(s.ADMIN)]
    assert bob_id not in own


# ---------------------------------------------------------------- revoking

def test_revoke_at_once():
    email = s.fresh_email("tokrev")
    made = _make(email)
    t.assert_json(_pat(made["token"], "GET", "/api/me"), 200)
    resp = s.api("DELETE", "/api/tokens/" + made["id"], email)
    t.assert_status(resp, 204)
    assert resp.body == b""
    _assert_401(_pat(made["token"], "GET", "/api/me"))
    row = _row(made["id"])
    assert row["revoked_at"] is not None
    # Again: still 204, the first time kept.
    t.assert_status(s.api("DELETE", "/api/tokens/" + made["id"], email), 204)
    assert _row(made["id"])["revoked_at"] == row["revoked_at"]


def test_a_token_may_revoke_itself():
    email = s.fresh_email("tokself")
    made = _make(email)
    t.assert_status(_pat(made["token"], "DELETE", "/api/tokens/" + made["id"]),
                    204)
    _assert_401(_pat(made["token"], "GET", "/api/me"))


def test_revoke_unknown_or_anothers_is_404():
    alice, bob = s.fresh_email("tok4a"), s.fresh_email("tok4b")
    bobs = _make(bob)
    for tid in (bobs["id"], "00000000-0000-4000-8000-000000000000",
                "not-a-uuid", bobs["id"].upper() + "0", "%20"):
        t.assert_problem(s.api("DELETE", "/api/tokens/" + tid, alice), 404)
    assert _row(bobs["id"])["revoked_at"] is None
    t.assert_json(_pat(bobs["token"], "GET", "/api/me"), 200)
    # An admin may revoke it.
    t.assert_status(s.api("DELETE", "/api/tokens/" + bobs["id"], s.ADMIN), 204)
    _assert_401(_pat(bobs["token"], "GET", "/api/me"))


def test_wrong_methods_are_405():
    email = s.fresh_email("tok405")
    resp = s.api("PUT", "/api/tokens", email, {"name": "x"})
    t.assert_problem(resp, 405)
    assert set(resp.header("Allow").replace(" ", "").split(",")) >= \
        {"GET", "POST"}, resp.header("Allow")
    resp = s.api("GET", "/api/tokens/00000000-0000-4000-8000-000000000000",
                 email)
    t.assert_problem(resp, 405)


# ------------------------------------------------------------------ limits

def test_at_most_twenty_live_tokens():
    email = s.fresh_email("toklim")
    ids = [_make(email, name="t%d" % i)["id"] for i in range(MAX_LIVE)]
    p = t.assert_problem(_make(email, expect=None, name="one too many"), 409)
    assert str(MAX_LIVE) in p["detail"], p
    assert len(_list(email)) == MAX_LIVE
    # A revoked one frees a place; so does an expired one.
    t.assert_status(s.api("DELETE", "/api/tokens/" + ids[0], email), 204)
    _make(email, name="after revoke")
    t.assert_problem(_make(email, expect=None, name="again"), 409)
    t.psql("UPDATE api_tokens SET expires_at = now() - interval '1 second'"
           " WHERE id = :'id'", id=ids[1])
    _make(email, name="after expiry")
    t.assert_problem(_make(email, expect=None, name="again"), 409)
    live = t.psql("SELECT count(*) FROM api_tokens WHERE user_id = :'u'"
                  " AND revoked_at IS NULL AND expires_at > now()",
                  u=_user_id(email))
    assert live == [[str(MAX_LIVE)]], live


def test_limit_holds_under_concurrent_requests():
    email = s.fresh_email("tokrace")
    for i in range(MAX_LIVE - 4):
        _make(email, name="pre%d" % i)

    def one(i):
        return _make(email, expect=None, name="race%d" % i).status

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(one, range(12)))
    assert statuses.count(201) == 4, statuses
    assert all(x in (201, 409, 503) for x in statuses), statuses
    live = t.psql("SELECT count(*) FROM api_tokens WHERE user_id = :'u'"
                  " AND revoked_at IS NULL AND expires_at > now()",
                  u=_user_id(email))
    assert live == [[str(MAX_LIVE)]], live


# ------------------------------------------------------------ housekeeping

# (label, expires_at, revoked_at) as intervals from now; None: NULL.
OLD = [("exp-31d", "-31 days", None), ("exp-40d", "-40 days", None),
       ("rev-31d", "+10 days", "-31 days"),
       ("rev-35d-exp-32d", "-32 days", "-35 days")]
FRESH = [("live", "+10 days", None), ("exp-29d", "-29 days", None),
         ("rev-29d", "+10 days", "-29 days"), ("rev-1h", "+1 day", "-1 hour")]


@r.isolated
def test_housekeeping_deletes_tokens_ended_over_30_days_ago():
    uid, _ = r.new_user("tokhk")
    for label, exp, rev in OLD + FRESH:
        t.psql("INSERT INTO api_tokens (user_id, name, token_hash, created_at,"
               " expires_at, revoked_at) VALUES (:'uid', :'name', :'hash',"
               " now() - interval '400 days', now() + :'exp'::interval,"
               " now() + NULLIF(:'rev', '')::interval)",
               uid=uid, name=label, hash="hk-" + uid + "-" + label, exp=exp,
               rev=rev or "")

    def left():
        return {x[0] for x in t.psql(
            "SELECT name FROM api_tokens WHERE user_id = :'uid'", uid=uid)}

    everything = {x[0] for x in OLD + FRESH}
    try:
        run = r.run("--dry-run", REAPER_BATCH_SIZE=3)
        assert run.rc == 0, run
        assert run.counts()["api_tokens_deleted"] >= len(OLD), run
        assert left() == everything, "the dry run deleted tokens"
        run = r.run_ok("--verbose", REAPER_BATCH_SIZE=3)
        assert left() == {x[0] for x in FRESH}, run
        assert run.counts()["api_tokens_deleted"] >= len(OLD), run
        assert re.search(r"^deleted \d+ API tokens$", run.out, re.MULTILINE), \
            run
    finally:
        t.psql("DELETE FROM api_tokens WHERE user_id = :'uid'", uid=uid)


t.run()
