#!/usr/bin/python3
"""A sandbox's life through nginx against the local CloudFormation:
create -> PROVISIONING -> ACTIVE with outputs, get, events, extend within
and beyond its bounds, delete -> TERMINATING -> TERMINATED with the stack
gone, names in use and reuse of a terminated name, a failed stack ending
FAILED with its reason."""

import calendar
import time

import sbxtest as t
import sbxsandbox as s


def parse_time(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def test_create_provisioning_then_active_with_outputs():
    user = s.fresh_email("life")
    name = s.fresh_name("life")
    with s.cfn_settings(create_delay=0.5):
        r = s.api("POST", "/api/sandboxes", user, {"name": name})
        sb = s.assert_sandbox(t.assert_json(r, 201))
    try:
        assert r.header("Location") == "/api/sandboxes/" + name, r
        assert sb["status"] == "PROVISIONING", sb
        assert sb["name"] == name and sb["owner"] == user, sb
        assert sb["template"] == "default" and sb["template_version"] == 1, sb
        assert sb["stack_id"] and sb["stack_id"].startswith("arn:aws:cloudformation:"), sb
        assert sb["outputs"] is None and sb["terminated_at"] is None, sb
        assert isinstance(sb["parameters"], dict), sb
        created = parse_time(sb["created_at"])
        # The default TTL (15) and lifetime (1440), as RFC 3339 UTC.
        ttl = int(t.setting("SANDBOX_DEFAULT_TTL_MINUTES", "15"))
        assert parse_time(sb["expiry_time"]) - created == ttl * 60, sb
        life = int(t.setting("SANDBOX_MAX_LIFETIME_MINUTES", "1440"))
        assert parse_time(sb["max_expiry_time"]) - created == life * 60, sb
        for k in ("created_at", "expiry_time", "max_expiry_time"):
            assert sb[k].endswith("Z") and "T" in sb[k], sb

        # The stack exists with our token and tags.
        stacks = s.cfn_live(s.stack_name(name))
        assert len(stacks) == 1, stacks
        st = stacks[0]
        assert st["stack_id"] == sb["stack_id"], st
        assert st["client_request_token"] == sb["id"], st
        assert st["tags"].get("sbx:sandbox-id") == sb["id"], st
        assert st["tags"].get("sbx:owner") == user, st
        assert st["tags"].get("sbx:expiry") == sb["expiry_time"], st
        assert st["tags"].get("Environment") == "Sandbox", st
        assert st["on_failure"] == "ROLLBACK", st

        active = s.wait_status(user, name, "ACTIVE")
        s.assert_sandbox(active)
        assert active["id"] == sb["id"], active
        assert active["outputs"] and active["outputs"].get("InstanceId", "").startswith("i-"), active
        assert "PublicIp" in active["outputs"], active

        # It is in the owner's list.
        lst = t.assert_json(s.api("GET", "/api/sandboxes", user), 200)
        assert [x["name"] for x in lst] == [name], lst
    finally:
        s.cleanup(user, name)


def test_events_and_delete_to_terminated():
    user = s.fresh_email("del")
    name = s.fresh_name("del")
    with s.cfn_settings(create_delay=0, delete_delay=0.5):
        sb = s.create(user, name)
        s.wait_status(user, name, "ACTIVE")
        r = s.delete(user, name)
        gone = s.assert_sandbox(t.assert_json(r, 202))
        assert gone["status"] == "TERMINATING", gone
        # Asked again while it is going: 202 again, one DeleteStack.
        again = t.assert_json(s.delete(user, name), 202)
        assert again["status"] == "TERMINATING", again
        assert s.cfn_count(s.stack_name(name), "DeleteStack") == 1
        done = s.wait_status(user, name, "TERMINATED")
    assert done["terminated_at"], done
    # The stack is gone in the fake.
    stacks = s.cfn_stacks(s.stack_name(name))
    assert stacks and all(x["status"] == "DELETE_COMPLETE" for x in stacks), stacks
    # A terminated sandbox cannot be deleted again.
    t.assert_problem(s.delete(user, name), 409)
    # Its audit trail, oldest first, one event per status change.
    evs = t.assert_json(s.api("GET", "/api/sandboxes/%s/events" % name, user), 200)
    changes = [(e["from_status"], e["to_status"]) for e in evs
               if e["to_status"] is not None]
    assert changes == [(None, "PROVISIONING"), ("PROVISIONING", "ACTIVE"),
                       ("ACTIVE", "TERMINATING"),
                       ("TERMINATING", "TERMINATED")], evs
    for e in evs:
        assert set(e) == {"time", "actor", "action", "from_status",
                          "to_status", "detail"}, e
        assert e["time"].endswith("Z"), e
    assert evs[0]["actor"] == user and evs[2]["actor"] == user, evs
    # CloudFormation's own changes never name the user who happened to
    # read the sandbox (a read refreshes it) as their actor.
    for e in (evs[1], evs[3]):
        assert e["actor"] in ("cloudformation", "reaper"), evs
    times = [e["time"] for e in evs]
    assert times == sorted(times), evs
    # The database agrees: no pending work, and the owner's count is 0.
    assert s.row(sb["id"])["status"] == "TERMINATED"
    assert s.live_count(user) == 0
    counter = t.psql("SELECT live_sandboxes FROM users WHERE email = :'e'", e=user)
    assert counter == [["0"]], counter


def test_unknown_sandbox_is_404():
    user = s.fresh_email("none")
    for method in ("GET", "DELETE"):
        t.assert_problem(s.api(method, "/api/sandboxes/no-such-sandbox", user), 404)
    t.assert_problem(s.api("PATCH", "/api/sandboxes/no-such-sandbox", user,
                           {"extend_minutes": 5}), 404)
    t.assert_problem(s.api("GET", "/api/sandboxes/no-such-sandbox/events", user), 404)


def test_extend_within_and_beyond_bounds():
    user = s.fresh_email("ext")
    name = s.fresh_name("ext")
    with s.cfn_settings(create_delay=0):
        sb = s.create(user, name, ttl_minutes=10)
    try:
        path = "/api/sandboxes/" + name
        exp0 = parse_time(sb["expiry_time"])
        max_exp = parse_time(sb["max_expiry_time"])
        # extend_minutes adds to the current expiry.
        r = s.api("PATCH", path, user, {"extend_minutes": 30})
        got = s.assert_sandbox(t.assert_json(r, 200))
        assert parse_time(got["expiry_time"]) == exp0 + 1800, got
        # An absolute time within the lifetime.
        want = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max_exp - 60))
        got = t.assert_json(s.api("PATCH", path, user, {"expiry_time": want}), 200)
        assert got["expiry_time"] == want, got
        # Exactly the maximum is allowed...
        got = t.assert_json(s.api("PATCH", path, user, {"expiry_time": sb["max_expiry_time"]}), 200)
        assert got["expiry_time"] == sb["max_expiry_time"], got
        # ...one minute more is not: 409, and nothing changed.
        t.assert_problem(s.api("PATCH", path, user, {"extend_minutes": 1}), 409)
        beyond = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(max_exp + 3600))
        t.assert_problem(s.api("PATCH", path, user, {"expiry_time": beyond}), 409)
        cur = t.assert_json(s.get(user, name), 200)
        assert cur["expiry_time"] == sb["max_expiry_time"], cur
        # Nonsense is a 400 naming the field.
        s.assert_invalid(s.api("PATCH", path, user, {"extend_minutes": 0}), "extend_minutes")
        s.assert_invalid(s.api("PATCH", path, user, {"extend_minutes": -5}), "extend_minutes")
        s.assert_invalid(s.api("PATCH", path, user, {"extend_minutes": 1.5}), "extend_minutes")
        s.assert_invalid(s.api("PATCH", path, user, {"extend_minutes": "5"}), "extend_minutes")
        s.assert_invalid(s.api("PATCH", path, user, {"expiry_time": "tomorrow"}), "expiry_time")
        s.assert_invalid(s.api("PATCH", path, user, {"expiry_time": "2001-01-01T00:00:00Z"}), "expiry_time")
        p = t.assert_problem(s.api("PATCH", path, user, {}), 400)
        assert p.get("field") in ("expiry_time", "extend_minutes"), p
        p = t.assert_problem(s.api("PATCH", path, user, {"extend_minutes": 5, "expiry_time": want}), 400)
        assert p.get("field") in ("expiry_time", "extend_minutes"), p
        s.assert_invalid(s.api("PATCH", path, user, {"ttl_minutes": 5}), "ttl_minutes")
        # The extension is in the audit trail.
        evs = t.assert_json(s.api("GET", path + "/events", user), 200)
        assert sum(1 for e in evs if e["action"] == "extended") == 3, evs
        assert all(e["from_status"] is None for e in evs if e["action"] == "extended"), evs
    finally:
        s.cleanup(user, name)
    # Not once it is going or gone (cleanup deleted it).
    r = s.api("PATCH", "/api/sandboxes/" + name, user, {"extend_minutes": 5})
    t.assert_problem(r, 409)


def test_name_in_use_and_reuse_after_termination():
    alice = s.fresh_email("name-a")
    bob = s.fresh_email("name-b")
    name = s.fresh_name("name")
    with s.cfn_settings(create_delay=0, delete_delay=0):
        first = s.create(alice, name)
        # Live names are global: bob cannot take it, nor alice twice.
        t.assert_problem(s.api("POST", "/api/sandboxes", bob, {"name": name}), 409)
        t.assert_problem(s.api("POST", "/api/sandboxes", alice, {"name": name}), 409)
        assert len(s.cfn_live(s.stack_name(name))) == 1
        t.assert_json(s.delete(alice, name), 202)
        s.wait_status(alice, name, "TERMINATED")
        # Once terminated, anyone may use the name again.
        second = s.create(bob, name)
    try:
        assert second["id"] != first["id"], second
        assert second["status"] == "PROVISIONING", second
        # Each owner sees their own sandbox of that name.
        mine = t.assert_json(s.get(bob, name), 200)
        assert mine["id"] == second["id"], mine
        old = t.assert_json(s.get(alice, name), 200)
        assert old["id"] == first["id"] and old["status"] == "TERMINATED", old
        # A new stack with a new token; the old one stays deleted.
        stacks = s.cfn_stacks(s.stack_name(name))
        assert [x["client_request_token"] for x in stacks] == [first["id"], second["id"]], stacks
    finally:
        s.cleanup(bob, name)


def test_failed_stack_creation_ends_failed_with_reason():
    user = s.fresh_email("fail")
    name = s.fresh_name("fail")
    stack = s.stack_name(name)
    with s.cfn_settings(create_delay=0, delete_delay=0, fail_create=[stack]):
        s.create(user, name)
        failed = s.wait_status(user, name, "FAILED")
    try:
        assert "failed to create" in (failed["status_reason"] or ""), failed
        assert failed["outputs"] is None, failed
        evs = t.assert_json(s.api("GET", "/api/sandboxes/%s/events" % name, user), 200)
        assert ("PROVISIONING", "FAILED") in [(e["from_status"], e["to_status"]) for e in evs], evs
        # It still counts as live: the name stays taken until it is deleted.
        t.assert_problem(s.api("POST", "/api/sandboxes", s.fresh_email("o"), {"name": name}), 409)
        # Deleting a FAILED one keeps its reason and removes the stack.
        gone = t.assert_json(s.delete(user, name), 202)
        assert gone["status"] == "TERMINATING", gone
        assert "failed to create" in (gone["status_reason"] or ""), gone
        s.wait_status(user, name, "TERMINATED")
    finally:
        s.cleanup(user, name)


t.run()
