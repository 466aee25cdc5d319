#!/usr/bin/python3
"""Least knowledge. Only sbx-auth loads, and only its
workers hold, GOOGLE_CLIENT_SECRET; the other responders start and serve
without it. Numbers in template declarations are range-checked before
any cast: a max_length of 1e300 is refused, a default of 1e300 reaches
CloudFormation as text."""


import sbxtest as t
import sbxsandbox as s

SECRET_KEY = "GOOGLE_CLIENT_SECRET"
OTHERS = ("sbx-meta", "sbx-sandboxes", "sbx-jobs")


def environ_keys(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return {e.split(b"=", 1)[0].decode() for e in f.read().split(b"\0") if e}


def test_only_sbx_auth_workers_hold_the_client_secret():
    auth = t.responder_pids("sbx-auth")
    assert auth, "no sbx-auth workers found"
    for pid in auth:
        assert SECRET_KEY in environ_keys(pid), "sbx-auth lacks the secret"
    for name in OTHERS:
        pids = t.responder_pids(name)
        assert pids, "no %s workers found" % name
        for pid in pids:
            assert SECRET_KEY not in environ_keys(pid), \
                "%s (pid %d) holds %s" % (name, pid, SECRET_KEY)


def test_responders_start_without_the_client_secret():
    authz = "Bearer " + s.token(s.fresh_email("least"))
    for name, path in (("sbx-meta", "/api/me"),
                       ("sbx-sandboxes", "/api/templates"),
                       ("sbx-jobs", "/api/jobs")):
        done = t.run_cgi(name, path, authorization=authz,
                         without=[SECRET_KEY])
        assert done.returncode == 0, "%s: %s" % (name, done.stderr[-500:])
        assert done.status == 200, "%s: %s" % (name, done.body[:300])
    # sbx-auth runs the code exchange: without the secret it refuses to
    # start, naming the variable.
    done = t.run_cgi("sbx-auth", "/auth/me", without=[SECRET_KEY])
    assert done.returncode != 0
    assert SECRET_KEY.encode() in done.stderr, done.stderr[-500:]


RESOURCES = {"Thing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}


def put(name, params):
    doc = {"Resources": RESOURCES,
           "Parameters": {p["name"]: {"Type": "String"} for p in params}}
    return s.api("PUT", "/api/templates/" + name, s.ADMIN,
                 {"template": doc, "parameters": params})


def test_huge_max_length_refused():
    tname = s.fresh_name("num")
    for bad in (1e300, -1e300, 4097, 2.5, "99999999999999999999999", "1e3"):
        r = put(tname, [{"name": "N", "max_length": bad}])
        p = s.assert_invalid(r, "parameters")
        assert "max_length" in p["detail"], p
    assert not t.psql("SELECT 1 FROM templates WHERE name = :'n'", n=tname)


def test_huge_default_reaches_the_stack_as_text():
    tname = s.fresh_name("num")
    user = s.fresh_email("num")
    t.assert_json(put(tname, [{"name": "N", "default": 1e300,
                               "allowed_values": [1e300, -1e300]}]), 201)
    n = s.fresh_name("num")
    try:
        with s.cfn_settings(create_delay=0, delete_delay=0):
            sb = s.create(user, n, template=tname)
            assert sb["parameters"]["N"] == "1.0000000000000001e+300", sb
            stack = s.cfn_live(s.stack_name(n))[0]
            assert stack["parameters"]["N"] == "1.0000000000000001e+300", stack
            s.cleanup(user, n)
    finally:
        s.api("DELETE", "/api/templates/" + tname, s.ADMIN)


t.run()
