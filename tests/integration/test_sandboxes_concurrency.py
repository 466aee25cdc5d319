#!/usr/bin/python3
"""Creates that race: the per-user quota, alone and under concurrent
creates; Idempotency-Key replays, reuse with another body, and concurrent
requests with one key; concurrent creates of one name."""

import json

import sbxtest as t
import sbxsandbox as s

QUOTA = int(t.setting("SANDBOX_MAX_PER_USER", "5"))


def statuses(results):
    out = []
    for r in results:
        assert not isinstance(r, Exception), "request failed: %r" % r
        out.append(r.status)
    return out


def test_quota():
    user = s.fresh_email("quota")
    names = [s.fresh_name("q%d" % i) for i in range(QUOTA + 1)]
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            for n in names[:QUOTA]:
                s.create(user, n)
            p = t.assert_problem(s.api("POST", "/api/sandboxes", user,
                                       {"name": names[QUOTA]}), 409)
            assert "SANDBOX_MAX_PER_USER" in p["detail"], p
            assert s.cfn_stacks(s.stack_name(names[QUOTA])) == []
            # A TERMINATING sandbox still counts; a TERMINATED one does not.
            t.assert_json(s.delete(user, names[0]), 202)
            s.wait_status(user, names[0], "TERMINATED")
            s.create(user, names[QUOTA])
            assert s.live_count(user) == QUOTA
            counter = t.psql("SELECT live_sandboxes FROM users WHERE email = :'e'", e=user)
            assert counter == [[str(QUOTA)]], counter
        finally:
            s.cleanup(user, *names)


def test_quota_under_concurrent_creates():
    user = s.fresh_email("qpar")
    n = QUOTA * 2
    names = [s.fresh_name("qp%d" % i) for i in range(n)]
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            results = s.parallel(n, lambda i: s.api(
                "POST", "/api/sandboxes", user, {"name": names[i]}))
            got = statuses(results)
            assert sorted(got) == [201] * QUOTA + [409] * (n - QUOTA), got
            made = [names[i] for i in range(n) if got[i] == 201]
            assert s.live_count(user) == QUOTA
            counter = t.psql("SELECT live_sandboxes FROM users WHERE email = :'e'", e=user)
            assert counter == [[str(QUOTA)]], counter
            # A stack for each 201, none for a 409.
            for i in range(n):
                want = 1 if got[i] == 201 else 0
                assert len(s.cfn_stacks(s.stack_name(names[i]))) == want, names[i]
            assert len(made) == QUOTA
        finally:
            s.cleanup(user, *names)


def test_idempotent_replay_and_other_body():
    user = s.fresh_email("idem")
    name = s.fresh_name("idem")
    key = "key-" + s.fresh_name("k")
    body = {"name": name, "ttl_minutes": 20}
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            first = s.api("POST", "/api/sandboxes", user, body,
                          headers={"Idempotency-Key": key})
            sb = t.assert_json(first, 201)
            # The same body again (other whitespace, other member order):
            # the first answer, status and body, and nothing new.
            raw = json.dumps({"ttl_minutes": 20, "name": name}, indent=2)
            again = s.api("POST", "/api/sandboxes", user, raw=raw,
                          content_type="application/json",
                          headers={"Idempotency-Key": key})
            assert again.status == 201, again
            assert again.json() == sb, (again.json(), sb)
            assert again.header("Location") == first.header("Location"), again
            assert again.header("Idempotent-Replayed") == "true", again
            # Even after the sandbox moved on, the first answer stands.
            s.wait_status(user, name, "ACTIVE")
            third = s.api("POST", "/api/sandboxes", user, body,
                          headers={"Idempotency-Key": key})
            assert third.status == 201 and third.json() == sb, third
            # The same key with another body: 422, nothing made.
            other = s.fresh_name("idem2")
            r = s.api("POST", "/api/sandboxes", user, {"name": other},
                      headers={"Idempotency-Key": key})
            t.assert_problem(r, 422)
            assert s.cfn_stacks(s.stack_name(other)) == []
            assert s.live_count(user) == 1
            assert s.cfn_count(s.stack_name(name), "CreateStack") == 1
            # Keys are per user: another user's same key is theirs.
            user2 = s.fresh_email("idem-b")
            name2 = s.fresh_name("idemb")
            r = s.api("POST", "/api/sandboxes", user2, {"name": name2},
                      headers={"Idempotency-Key": key})
            t.assert_json(r, 201)
            s.cleanup(user2, name2)
            # A refused request is not remembered: after a 409 for a taken
            # name, the key still works for a later success.
            key2 = "key-" + s.fresh_name("k2")
            r = s.api("POST", "/api/sandboxes", user2, {"name": name},
                      headers={"Idempotency-Key": key2})
            t.assert_problem(r, 409)
        finally:
            s.cleanup(user, name)


def test_concurrent_requests_with_one_key():
    user = s.fresh_email("idem-par")
    name = s.fresh_name("idpar")
    key = "par-" + s.fresh_name("k")
    n = 6
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            results = s.parallel(n, lambda i: s.api(
                "POST", "/api/sandboxes", user, {"name": name},
                headers={"Idempotency-Key": key}))
            got = statuses(results)
            assert got == [201] * n, got
            ids = {r.json()["id"] for r in results}
            assert len(ids) == 1, ids
            rows = t.psql("SELECT count(*) FROM sandboxes WHERE name = :'n'", n=name)
            assert rows == [["1"]], rows
            assert len(s.cfn_stacks(s.stack_name(name))) == 1
            assert s.cfn_count(s.stack_name(name), "CreateStack") == 1
        finally:
            s.cleanup(user, name)


def test_concurrent_creates_of_one_name():
    name = s.fresh_name("race")
    users = [s.fresh_email("race%d" % i) for i in range(6)]
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            results = s.parallel(len(users), lambda i: s.api(
                "POST", "/api/sandboxes", users[i], {"name": name}))
            got = statuses(results)
            assert sorted(got) == [201] + [409] * (len(users) - 1), got
            winner = users[got.index(201)]
            assert len(s.cfn_stacks(s.stack_name(name))) <= 1
            assert len(s.cfn_live(s.stack_name(name))) == 1
            rows = t.psql("SELECT owner_email FROM sandboxes WHERE name = :'n'", n=name)
            assert rows == [[winner]], rows
            for u in users:
                if u != winner:
                    assert s.live_count(u) == 0, u
        finally:
            for u in users:
                s.cleanup(u, name)


t.run()
