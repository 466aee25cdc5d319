#!/usr/bin/python3
"""NoEcho template defaults never reach a signed-in user.
GET /api/templates/{name} gives the body to admins only, and
the declared parameters show "****" for the default of every NoEcho
parameter, however NoEcho and Default are spelled. The same reader
decides what CreateStack is sent, so the default still reaches the stack."""

import json

import sbxtest as t
import sbxsandbox as s

RESOURCES = {"Thing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}
SECRET = "hunter2-noecho-default"

# Declarations in our array shape under the spellings an admin may use.
SPELLINGS = [
    {"NoEcho": True, "Default": SECRET},
    {"no_echo": "true", "default": SECRET},
    {"NoEcho": "True", "default": SECRET},
    {"noEcho": "TRUE", "Default": SECRET},
    {"no_echo": True, "DEFAULT": SECRET},
]


def doc_with(names):
    return {"AWSTemplateFormatVersion": "2010-09-09", "Resources": RESOURCES,
            "Parameters": {n: {"Type": "String"} for n in names}}


def put(name, body):
    return t.assert_json(s.api("PUT", "/api/templates/" + name, s.ADMIN,
                               body), 201)


def assert_redacted(tpl, names):
    text = json.dumps(tpl)
    assert SECRET not in text, "a NoEcho default is shown: %s" % text
    by = {p["name"]: p for p in tpl["parameters"]}
    for n in names:
        defaults = [v for k, v in by[n].items() if k.lower() == "default"]
        assert defaults == ["****"], by[n]


def test_spellings_of_our_declaration():
    tname = s.fresh_name("ne")
    user = s.fresh_email("ne")
    names = ["P%d" % i for i in range(len(SPELLINGS))]
    params = [dict(name=n, **d) for n, d in zip(names, SPELLINGS)]
    params.append({"name": "Plain", "default": "shown"})
    put(tname, {"template": doc_with(names + ["Plain"]), "parameters": params})
    try:
        one = t.assert_json(s.api("GET", "/api/templates/" + tname, user), 200)
        assert "body" not in one, "a user got the template body"
        assert_redacted(one, names)
        assert {p["name"]: p for p in one["parameters"]}["Plain"]["default"] \
            == "shown", one
        listed = [x for x in t.assert_json(s.api("GET", "/api/templates", user), 200)
                  if x["name"] == tname]
        assert len(listed) == 1, listed
        assert_redacted(listed[0], names)
        # An admin reads the body as written.
        full = t.assert_json(s.api("GET", "/api/templates/" + tname, s.ADMIN), 200)
        assert "Resources" in full["body"], full
        assert_redacted(full, names)
        # The defaults are the values CreateStack gets: the reader that
        # redacts is the one that decides them.
        n = s.fresh_name("ne")
        with s.cfn_settings(create_delay=0, delete_delay=0):
            sb = s.create(user, n, template=tname)
            try:
                assert SECRET not in json.dumps(sb), sb
                stack = s.cfn_live(s.stack_name(n))[0]
                for p in names:
                    assert stack["parameters"].get(p) == SECRET, p
            finally:
                s.cleanup(user, n)
    finally:
        s.api("DELETE", "/api/templates/" + tname, s.ADMIN)


def test_cloudformation_parameters_with_string_noecho():
    # No "parameters": they are read from the template with the same rules.
    tname = s.fresh_name("necfn")
    user = s.fresh_email("necfn")
    doc = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": RESOURCES,
           "Parameters": {
               "A": {"Type": "String", "NoEcho": "True", "Default": SECRET},
               "B": {"Type": "String", "NoEcho": True, "Default": SECRET},
               "C": {"Type": "String", "NoEcho": "true", "Default": SECRET}}}
    put(tname, {"template": doc})
    try:
        one = t.assert_json(s.api("GET", "/api/templates/" + tname, user), 200)
        assert "body" not in one
        assert_redacted(one, ["A", "B", "C"])
        by = {p["name"]: p for p in one["parameters"]}
        assert all(by[n]["no_echo"] is True for n in "ABC"), by
    finally:
        s.api("DELETE", "/api/templates/" + tname, s.ADMIN)


def test_two_spellings_of_one_member_refused():
    tname = s.fresh_name("nedup")
    r = s.api("PUT", "/api/templates/" + tname, s.ADMIN, {
        "template": doc_with(["A"]),
        "parameters": [{"name": "A", "no_echo": True, "default": "x",
                        "Default": SECRET}]})
    s.assert_invalid(r, "parameters")
    assert not t.psql("SELECT 1 FROM templates WHERE name = :'n'", n=tname)


t.run()
