#!/usr/bin/python3
"""Templates: the list, an admin's PUT adding versions (validated, body at
most 51,200 bytes), its TTL bounds and declared parameters (NoEcho never
echoed), a sandbox recording the version it was built from, and DELETE
disabling a name."""

import calendar
import json
import time

import sbxtest as t
import sbxsandbox as s

RESOURCES = {"Thing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}


def template_doc(**extra):
    doc = {"AWSTemplateFormatVersion": "2010-09-09",
           "Description": "a test template", "Resources": RESOURCES,
           "Outputs": {"Url": {"Value": "http://example.com/"}}}
    doc.update(extra)
    return doc


def secs(text):
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def put(name, body, email=s.ADMIN):
    return s.api("PUT", "/api/templates/" + name, email, body)


def test_list_shows_the_default():
    tpls = t.assert_json(s.api("GET", "/api/templates", s.fresh_email("tl")), 200)
    d = [x for x in tpls if x["name"] == "default"]
    assert len(d) == 1, tpls
    d = d[0]
    for k in ("name", "version", "description", "parameters",
              "default_ttl_minutes", "max_ttl_minutes"):
        assert k in d, d
    assert d["default"] is True and isinstance(d["parameters"], list), d
    assert "body" not in d, "the list carries template bodies"


def test_put_versions_ttls_parameters_and_disable():
    tname = s.fresh_name("tpl")
    user = s.fresh_email("tpl")
    params = [
        {"name": "Size", "default": "small", "allowed_values": ["small", "large"]},
        {"name": "Secret", "no_echo": True},
    ]
    doc = template_doc(Parameters={
        "Size": {"Type": "String", "Default": "small"},
        "Secret": {"Type": "String", "NoEcho": "true"}})
    r = put(tname, {"template": doc, "parameters": params,
                    "description": "v1", "default_ttl_minutes": 5,
                    "max_ttl_minutes": 30})
    v1 = t.assert_json(r, 201)
    assert r.header("Location") == "/api/templates/" + tname, r
    assert v1["version"] == 1 and v1["default"] is False, v1
    assert v1["default_ttl_minutes"] == 5 and v1["max_ttl_minutes"] == 30, v1
    # A second PUT adds version 2, as text this time.
    v2 = t.assert_json(put(tname, {"body": json.dumps(doc),
                                   "parameters": params,
                                   "description": "v2",
                                   "default_ttl_minutes": 5,
                                   "max_ttl_minutes": 30}), 201)
    assert v2["version"] == 2, v2
    listed = [x for x in t.assert_json(s.api("GET", "/api/templates", user), 200)
              if x["name"] == tname]
    assert len(listed) == 1 and listed[0]["version"] == 2, listed
    one = t.assert_json(s.api("GET", "/api/templates/" + tname, s.ADMIN), 200)
    assert one["version"] == 2 and "Resources" in one["body"], one
    # The body is the admin's text: not for everyone.
    one = t.assert_json(s.api("GET", "/api/templates/" + tname, user), 200)
    assert one["version"] == 2 and "body" not in one, one

    names = []
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            # The template's TTLs win: default 5, maximum 30.
            n = s.fresh_name("tv")
            names.append(n)
            sb = s.create(user, n, template=tname,
                          parameters={"Secret": "hunter2-s3cret"})
            assert sb["template"] == tname and sb["template_version"] == 2, sb
            stacks = s.cfn_live(s.stack_name(n))
            assert len(stacks) == 1, stacks
            # The stack got the value; the API never shows it.
            assert stacks[0]["parameters"].get("Secret") == "hunter2-s3cret", stacks
            assert "hunter2" not in json.dumps(sb), sb
            assert sb["parameters"].get("Size") == "small", sb
            got = t.assert_json(s.get(user, n), 200)
            assert "hunter2" not in json.dumps(got), got
            rows = t.psql("SELECT parameters, COALESCE(stack_parameters, '') "
                          "FROM sandboxes WHERE id = :'id'", id=sb["id"])
            assert "hunter2" not in rows[0][0], "a NoEcho value was stored in clear"
            assert rows[0][1] == "", "stack_parameters kept after CreateStack"
            evs = t.assert_json(s.api("GET", "/api/sandboxes/%s/events" % n, user), 200)
            assert "hunter2" not in json.dumps(evs), evs
            assert secs(sb["expiry_time"]) - secs(sb["created_at"]) == 5 * 60, sb
            # ttl above the template's max: 400 naming ttl_minutes.
            p = s.assert_invalid(s.api("POST", "/api/sandboxes", user,
                                       {"name": s.fresh_name("tv"),
                                        "template": tname, "ttl_minutes": 31,
                                        "parameters": {"Secret": "x"}}),
                                 "ttl_minutes")
            assert "30" in p["detail"], p
            # Parameters checked against the declaration.
            s.assert_invalid(s.api("POST", "/api/sandboxes", user,
                                   {"name": s.fresh_name("tv"), "template": tname}),
                             "parameters.Secret")
            s.assert_invalid(s.api("POST", "/api/sandboxes", user,
                                   {"name": s.fresh_name("tv"), "template": tname,
                                    "parameters": {"Secret": "x", "Size": "huge"}}),
                             "parameters.Size")
            # Disabled: no new sandboxes from it; existing ones keep it.
            r = s.api("DELETE", "/api/templates/" + tname, s.ADMIN)
            t.assert_status(r, 204)
            listed = [x for x in t.assert_json(s.api("GET", "/api/templates", user), 200)
                      if x["name"] == tname]
            assert listed == [], listed
            s.assert_invalid(s.api("POST", "/api/sandboxes", user,
                                   {"name": s.fresh_name("tv"), "template": tname,
                                    "parameters": {"Secret": "x"}}), "template")
            still = t.assert_json(s.get(user, n), 200)
            assert still["template_version"] == 2, still
            t.assert_problem(s.api("DELETE", "/api/templates/no-such-tpl", s.ADMIN), 404)
        finally:
            s.cleanup(user, *names)


def test_put_validation():
    tname = s.fresh_name("tbad")
    big = json.dumps(template_doc(Description="x" * 52000))
    s.assert_invalid(put(tname, {"body": big}), "body")
    s.assert_invalid(put(tname, {"body": ""}), "body")
    s.assert_invalid(put(tname, {}), "body")
    s.assert_invalid(put(tname, {"body": "{not json"}), "body")
    s.assert_invalid(put(tname, {"body": '{"Description": "no resources"}'}), "body")
    s.assert_invalid(put(tname, {"body": 5}), "body")
    s.assert_invalid(put(tname, {"template": template_doc(), "body": "x"}), "body")
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "parameters": [{"name": "bad name"}]}), "parameters")
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "parameters": "Size"}), "parameters")
    # Declared, but not a parameter the template takes.
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "parameters": [{"name": "Size"}]}), "parameters")
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "capabilities": ["CAPABILITY_EVERYTHING"]}),
                     "capabilities")
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "max_ttl_minutes": 0}), "max_ttl_minutes")
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "max_ttl_minutes": 10 ** 6}), "max_ttl_minutes")
    s.assert_invalid(put(tname, {"template": template_doc(),
                                 "default_ttl_minutes": 40,
                                 "max_ttl_minutes": 30}), "default_ttl_minutes")
    s.assert_invalid(put(tname, {"template": template_doc(), "colour": "red"}), "colour")
    s.assert_invalid(put("Bad_Name", {"template": template_doc()}), "name")
    assert not t.psql("SELECT 1 FROM templates WHERE name = :'n'", n=tname)


def test_parameters_read_from_the_template():
    # Without "parameters", they come from the template's own Parameters.
    tname = s.fresh_name("tcfn")
    doc = template_doc(Parameters={"Colour": {"Type": "String", "Default": "blue",
                                              "AllowedValues": ["blue", "red"]},
                                   "Token": {"Type": "String", "NoEcho": "true"}})
    v = t.assert_json(put(tname, {"template": doc}), 201)
    by = {p["name"]: p for p in v["parameters"]}
    assert set(by) == {"Colour", "Token"}, v
    assert by["Token"]["no_echo"] is True and "default" not in by["Token"], v
    user = s.fresh_email("tcfn")
    s.assert_invalid(s.api("POST", "/api/sandboxes", user,
                           {"name": s.fresh_name("tc"), "template": tname,
                            "parameters": {"Colour": "green", "Token": "t"}}),
                     "parameters.Colour")
    t.assert_status(s.api("DELETE", "/api/templates/" + tname, s.ADMIN), 204)


t.run()
