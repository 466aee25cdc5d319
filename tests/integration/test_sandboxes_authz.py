#!/usr/bin/python3
"""Who may do what: user A cannot see, extend or delete user B's sandbox
(404, as if it did not exist); an admin can, and the events record the
admin as the actor."""

import sbxtest as t
import sbxsandbox as s


def test_other_users_sandbox_is_invisible():
    a = s.fresh_email("own-a")
    b = s.fresh_email("own-b")
    name = s.fresh_name("own")
    with s.cfn_settings(create_delay=0, delete_delay=0):
        sb = s.create(b, name)
    try:
        path = "/api/sandboxes/" + name
        # A: not found, whatever the method, and nothing changed.
        t.assert_problem(s.api("GET", path, a), 404)
        t.assert_problem(s.api("GET", path + "/events", a), 404)
        t.assert_problem(s.api("PATCH", path, a, {"extend_minutes": 10}), 404)
        t.assert_problem(s.api("DELETE", path, a), 404)
        assert t.assert_json(s.api("GET", "/api/sandboxes", a), 200) == []
        cur = t.assert_json(s.get(b, name), 200)
        assert cur["expiry_time"] == sb["expiry_time"], cur
        assert cur["status"] in ("PROVISIONING", "ACTIVE"), cur
        assert s.cfn_count(s.stack_name(name), "DeleteStack") == 0

        # The admin sees it, extends it and deletes it.
        got = t.assert_json(s.api("GET", path, s.ADMIN), 200)
        assert got["id"] == sb["id"] and got["owner"] == b, got
        ext = t.assert_json(s.api("PATCH", path, s.ADMIN, {"extend_minutes": 10}), 200)
        assert ext["expiry_time"] != sb["expiry_time"], ext
        gone = t.assert_json(s.api("DELETE", path, s.ADMIN), 202)
        assert gone["status"] == "TERMINATING", gone
        # The owner sees what the admin did, and who did it.
        evs = t.assert_json(s.api("GET", path + "/events", b), 200)
        by = {e["action"]: e["actor"] for e in evs}
        assert by.get("created") == b, evs
        assert by.get("extended") == s.ADMIN, evs
        assert by.get("terminating") == s.ADMIN, evs
        admin_evs = t.assert_json(s.api("GET", path + "/events", s.ADMIN), 200)
        assert admin_evs == evs, admin_evs
    finally:
        s.cleanup(b, name)


def test_templates_admin_only():
    user = s.fresh_email("tpl-user")
    r = s.api("PUT", "/api/templates/user-made", user,
              {"body": '{"Resources": {"W": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}'})
    t.assert_problem(r, 403)
    t.assert_problem(s.api("DELETE", "/api/templates/default", user), 403)
    # Templates are listed for everyone signed in.
    tpls = t.assert_json(s.api("GET", "/api/templates", user), 200)
    assert any(x["name"] == "default" for x in tpls), tpls
    assert not t.psql("SELECT 1 FROM templates WHERE name = 'user-made'")


t.run()
