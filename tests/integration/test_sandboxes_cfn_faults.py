#!/usr/bin/python3
"""CloudFormation misbehaving while sandboxes are made and deleted: down
during create and during delete, throttling and 500s. The answer is
still the right one, the row says what is left to do (for the reaper),
and no stack ever exists without a row."""

import threading

import sbxtest as t
import sbxsandbox as s


def assert_every_stack_has_a_row(*names):
    """Each live stack of these names carries the id of a live row."""
    for n in names:
        for st in s.cfn_live(s.stack_name(n)):
            sid = st["tags"].get("sbx:sandbox-id")
            assert sid, "stack without our tag: %r" % st
            rows = t.psql("SELECT status FROM sandboxes WHERE id = :'id'", id=sid)
            assert rows and rows[0][0] != "TERMINATED", \
                "stack %s has no live row: %r" % (st["name"], rows)


def test_cloudformation_down_during_create():
    user = s.fresh_email("down-c")
    name = s.fresh_name("downc")
    try:
        with s.cfn_settings(down=True):
            r = s.api("POST", "/api/sandboxes", user, {"name": name})
            sb = s.assert_sandbox(t.assert_json(r, 201))
            assert r.header("Location") == "/api/sandboxes/" + name, r
            assert sb["status"] == "PROVISIONING", sb
            assert sb["stack_id"] is None, sb
            assert "pending a retry" in (sb["status_reason"] or ""), sb
            # The row is committed and says the create is still to do.
            row = s.row(sb["id"])
            assert row["status"] == "PROVISIONING", row
            assert row["pending_action"] == "create" and row["attempts"] == "1", row
            assert row["stack_id"] is None, row
            # Reading it does not pretend anything.
            got = t.assert_json(s.get(user, name), 200)
            assert got["status"] == "PROVISIONING" and got["stack_id"] is None, got
            # The name is held by the row.
            t.assert_problem(s.api("POST", "/api/sandboxes", s.fresh_email("x"),
                                   {"name": name}), 409)
        assert s.cfn_stacks(s.stack_name(name)) == [], "a stack was made"
        # Deleted before the create ever reached AWS. A CreateStack might
        # still be in flight, so the row waits out its lease TERMINATING
        # (with the delete to do) before anyone decides there is no stack.
        with s.cfn_settings(create_delay=0, delete_delay=0):
            gone = s.assert_sandbox(t.assert_json(s.delete(user, name), 202))
            assert gone["status"] == "TERMINATING", gone
            row = s.row(sb["id"])
            assert row["pending_action"] == "delete", row
            # Once the lease has passed (moved here; the reaper's setting
            # in a real run), a DELETE looks, finds no stack, and ends it.
            t.psql("UPDATE sandboxes SET next_attempt_at = now() - "
                   "interval '1 second' WHERE id = :'id'", id=sb["id"])
            t.assert_json(s.delete(user, name), 202)
            s.wait_status(user, name, "TERMINATED")
        assert s.cfn_stacks(s.stack_name(name)) == [], "a stack was made"
        assert s.cfn_count(s.stack_name(name), "DeleteStack") == 0
        assert s.live_count(user) == 0
    finally:
        s.cleanup(user, name)


def test_cloudformation_down_during_delete():
    user = s.fresh_email("down-d")
    name = s.fresh_name("downd")
    stack = s.stack_name(name)
    try:
        with s.cfn_settings(create_delay=0, delete_delay=0):
            sb = s.create(user, name)
            s.wait_status(user, name, "ACTIVE")
        with s.cfn_settings(down=True, only_actions=["DeleteStack"]):
            r = s.delete(user, name)
            gone = s.assert_sandbox(t.assert_json(r, 202))
            assert gone["status"] == "TERMINATING", gone
            assert "DeleteStack failed" in (gone["status_reason"] or ""), gone
            row = s.row(sb["id"])
            assert row["status"] == "TERMINATING", row
            assert row["pending_action"] == "delete" and row["attempts"] == "1", row
            # The stack is still there, and so is its row.
            assert len(s.cfn_live(stack)) == 1
            assert_every_stack_has_a_row(name)
            # Asked again before the retry is due: 202, no new call.
            calls = s.cfn_count(stack, "DeleteStack")
            again = t.assert_json(s.delete(user, name), 202)
            assert again["status"] == "TERMINATING", again
            assert s.cfn_count(stack, "DeleteStack") == calls
            # Reading it stays TERMINATING (the delete is not sent yet).
            got = t.assert_json(s.get(user, name), 200)
            assert got["status"] == "TERMINATING", got
        # CloudFormation is back and the retry is due (the reaper's
        # backoff, shortened here by moving the due time): DELETE sends
        # it now.
        t.psql("UPDATE sandboxes SET next_attempt_at = now() - interval '1 second' "
               "WHERE id = :'id'", id=sb["id"])
        with s.cfn_settings(delete_delay=0):
            t.assert_json(s.delete(user, name), 202)
            done = s.wait_status(user, name, "TERMINATED")
        assert done["terminated_at"], done
        assert s.cfn_live(stack) == [], "the stack outlived its row"
        ok = s.cfn_calls()["stacks_ok"].get(stack, {})
        assert ok.get("DeleteStack") == 1, ok
    finally:
        s.cleanup(user, name)


def test_throttling_and_500s_are_retried():
    user = s.fresh_email("thr")
    names = [s.fresh_name("thr"), s.fresh_name("err")]
    try:
        with s.cfn_settings(create_delay=0, delete_delay=0, throttle_next=2):
            sb = s.create(user, names[0])
            assert sb["stack_id"] and sb["status_reason"] is None, sb
        with s.cfn_settings(create_delay=0, delete_delay=0, fail_next=2):
            sb = s.create(user, names[1])
            assert sb["stack_id"] and sb["status_reason"] is None, sb
        for n in names:
            assert len(s.cfn_live(s.stack_name(n))) == 1
            assert s.cfn_calls()["stacks_ok"][s.stack_name(n)]["CreateStack"] == 1
        assert_every_stack_has_a_row(*names)
    finally:
        s.cleanup(user, *names)


def test_throttled_throughout_is_pending_not_failed():
    user = s.fresh_email("thr-all")
    name = s.fresh_name("thrall")
    try:
        with s.cfn_settings(throttle_next=1000, only_actions=["CreateStack"]):
            sb = t.assert_json(s.api("POST", "/api/sandboxes", user, {"name": name}), 201)
            assert sb["status"] == "PROVISIONING" and sb["stack_id"] is None, sb
            assert "pending a retry" in (sb["status_reason"] or ""), sb
            assert s.row(sb["id"])["pending_action"] == "create"
        assert s.cfn_live(s.stack_name(name)) == []
    finally:
        with s.cfn_settings(create_delay=0, delete_delay=0):
            s.cleanup(user, name)


def test_foreign_stack_with_the_name_is_not_touched():
    # A stack of that name exists in the account but is not ours (no row):
    # the create fails, and deleting the sandbox leaves that stack alone.
    user = s.fresh_email("foreign")
    name = s.fresh_name("foreign")
    stack = s.stack_name(name)
    s.cfn("POST", "/_fake/stacks", {"name": stack, "tags": {"owner": "someone"}})
    try:
        sb = t.assert_json(s.api("POST", "/api/sandboxes", user, {"name": name}), 201)
        assert sb["status"] == "FAILED", sb
        assert "already exists" in (sb["status_reason"] or ""), sb
        with s.cfn_settings(delete_delay=0):
            t.assert_json(s.delete(user, name), 202)
            s.wait_status(user, name, "TERMINATED")
        assert s.cfn_count(stack, "DeleteStack") == 0
        live = s.cfn_live(stack)
        assert len(live) == 1 and live[0]["tags"].get("owner") == "someone", live
    finally:
        s.cleanup(user, name)


def test_delete_while_create_is_in_flight():
    # DELETE arrives while the POST's CreateStack is still on its way: the
    # row must not end TERMINATED with a stack left behind it.
    user = s.fresh_email("inflight")
    name = s.fresh_name("inflight")
    stack = s.stack_name(name)
    result = {}
    try:
        with s.cfn_settings(create_delay=0, delete_delay=0, slow_ms=1500,
                            only_actions=["CreateStack"]):
            th = threading.Thread(target=lambda: result.setdefault(
                "r", s.api("POST", "/api/sandboxes", user, {"name": name})))
            th.start()
            assert t.wait_until(lambda: t.psql(
                "SELECT 1 FROM sandboxes WHERE name = :'n'", n=name), timeout=10)
            gone = t.assert_json(s.delete(user, name), 202)
            assert gone["status"] == "TERMINATING", gone
            th.join(30)
        created = t.assert_json(result["r"], 201)
        row = s.row(created["id"])
        # The stack exists now, and its row is still there to delete it.
        assert len(s.cfn_live(stack)) == 1
        assert row["status"] == "TERMINATING" and row["stack_id"], row
        assert row["pending_action"] == "delete", row
        assert_every_stack_has_a_row(name)
        t.psql("UPDATE sandboxes SET next_attempt_at = now() - "
               "interval '1 second' WHERE id = :'id'", id=created["id"])
        with s.cfn_settings(delete_delay=0):
            t.assert_json(s.delete(user, name), 202)
            s.wait_status(user, name, "TERMINATED")
        assert s.cfn_live(stack) == []
    finally:
        s.cleanup(user, name)


t.run()
