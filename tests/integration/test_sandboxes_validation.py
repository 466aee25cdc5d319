#!/usr/bin/python3
"""Bad input to POST /api/sandboxes (and the list's query): names, TTLs,
parameters, templates, JSON and content types. Each is a 4xx
problem+json naming the field, and none creates a row or a stack."""

import json

import sbxtest as t
import sbxsandbox as s

USER = s.fresh_email("valid")


def post(body=None, raw=None, content_type="application/json", headers=None):
    if raw is not None:
        return s.api("POST", "/api/sandboxes", USER, raw=raw,
                     content_type=content_type, headers=headers)
    return s.api("POST", "/api/sandboxes", USER, body, headers=headers)


def assert_nothing_made(name=None):
    assert s.live_count(USER) == 0, "a row was made"
    if name is not None:
        assert s.cfn_stacks(s.stack_name(name)) == [], "a stack was made"


def test_invalid_names():
    for bad in ("ab", "", "1abc", "-abc", "Abc", "abC", "ab_c", "ab c",
                "ab.c", "a" * 64, "ab\u00e9c", "abc\n", "../x",
                "abc;drop"):
        s.assert_invalid(post({"name": bad}), "name")
    for bad in (5, None, True, ["abc"], {"n": "abc"}):
        s.assert_invalid(post({"name": bad}), "name")
    s.assert_invalid(post({}), "name")
    s.assert_invalid(post({"template": "default"}), "name")
    assert_nothing_made()


def test_invalid_ttls():
    name = s.fresh_name("ttl")
    max_ttl = int(t.setting("SANDBOX_MAX_TTL_MINUTES", "240"))
    for bad in (0, -1, -15, max_ttl + 1, 10 ** 6, 10 ** 30, 2 ** 63,
                -(2 ** 63) - 1, 1.5, 0.1, 15.000001, "15", "abc", "",
                None, True, [15], {"m": 15}):
        p = s.assert_invalid(post({"name": name, "ttl_minutes": bad}),
                             "ttl_minutes")
        assert "ttl_minutes" in p["detail"], p
    assert_nothing_made(name)


def test_ttl_bounds_accepted():
    # Another user: these are made, and then deleted.
    user = s.fresh_email("ttlok")
    with s.cfn_settings(create_delay=0, delete_delay=0):
        max_ttl = int(t.setting("SANDBOX_MAX_TTL_MINUTES", "240"))
        for ttl in (1, max_ttl, 15.0):
            name = s.fresh_name("ttlok")
            sb = s.create(user, name, ttl_minutes=ttl)
            s.cleanup(user, name)
            assert sb["status"] == "PROVISIONING", sb


def test_invalid_parameters():
    name = s.fresh_name("prm")
    s.assert_invalid(post({"name": name, "parameters": {"Nope": "x"}}),
                     "parameters.Nope")
    s.assert_invalid(post({"name": name, "parameters": {"ImageId": 5}}),
                     "parameters.ImageId")
    s.assert_invalid(post({"name": name, "parameters": {"ImageId": None}}),
                     "parameters.ImageId")
    s.assert_invalid(post({"name": name, "parameters": {"ImageId": ["a"]}}),
                     "parameters.ImageId")
    for bad in ("x", 5, ["ImageId"], None):
        s.assert_invalid(post({"name": name, "parameters": bad}),
                         "parameters")
    assert_nothing_made(name)


def test_invalid_templates():
    name = s.fresh_name("tpl")
    for bad in ("no-such-template", "NoSuch", "x", 5, None, ["default"]):
        s.assert_invalid(post({"name": name, "template": bad}), "template")
    assert_nothing_made(name)


def test_unknown_fields_refused():
    name = s.fresh_name("unk")
    s.assert_invalid(post({"name": name, "owner": "x@example.com"}), "owner")
    s.assert_invalid(post({"name": name, "status": "ACTIVE"}), "status")
    assert_nothing_made(name)


def test_bad_json():
    name = s.fresh_name("json")
    for raw in ('{"name": ', "{name: 'x'}", "", "nul", '{"name":"%s"} x' % name,
                '{"name":"%s",}' % name, "\xff\xfe"):
        s.assert_invalid(post(raw=raw), "body")
    # Not an object.
    for raw in ('["%s"]' % name, '"%s"' % name, "42", "null"):
        s.assert_invalid(post(raw=raw), "body")
    # Deeply nested, in a field and as the body.
    deep = '{"name":"%s","parameters":%s1%s}' % (name, '{"a":' * 100, "}" * 100)
    p = t.assert_problem(post(raw=deep), 400)
    assert p.get("field") in ("body", "parameters"), p
    s.assert_invalid(post(raw="[" * 10000 + "]" * 10000), "body")
    # A duplicate member must not smuggle a second value past the check.
    s.assert_invalid(post(raw='{"name":"%s","name":5}' % name), "name")
    assert_nothing_made(name)


def test_content_types():
    name = s.fresh_name("ct")
    body = json.dumps({"name": name})
    for ct in ("text/plain", "application/x-www-form-urlencoded",
               "multipart/form-data; boundary=x", "application/jsonx"):
        t.assert_problem(post(raw=body, content_type=ct), 415)
    t.assert_problem(post(raw=body, content_type=None), 415)
    # application/json with a charset is fine (another user; then deleted).
    user = s.fresh_email("ct")
    with s.cfn_settings(create_delay=0, delete_delay=0):
        r = s.api("POST", "/api/sandboxes", user, raw=body,
                  content_type="application/json; charset=utf-8")
        t.assert_json(r, 201)
        s.cleanup(user, name)


def test_bad_idempotency_key():
    name = s.fresh_name("idk")
    s.assert_invalid(post({"name": name}, headers={"Idempotency-Key": "x" * 256}),
                     "Idempotency-Key")
    s.assert_invalid(post({"name": name}, headers={"Idempotency-Key": "a b"}),
                     "Idempotency-Key")
    assert_nothing_made(name)


def test_list_query_validation():
    for q, field in (("status=active", "status"), ("status=BOGUS", "status"),
                     ("limit=0", "limit"), ("limit=101", "limit"),
                     ("limit=-1", "limit"), ("limit=abc", "limit"),
                     ("limit=1.5", "limit"), ("cursor=nope", "cursor"),
                     ("cursor=%27%3B--", "cursor")):
        s.assert_invalid(s.api("GET", "/api/sandboxes?" + q, USER), field)


def test_unauthenticated_is_401():
    for method, path in (("GET", "/api/sandboxes"), ("POST", "/api/sandboxes"),
                         ("GET", "/api/sandboxes/abc"),
                         ("DELETE", "/api/sandboxes/abc"),
                         ("GET", "/api/templates")):
        r = t.request(method, path, json_body={} if method == "POST" else None)
        t.assert_problem(r, 401)
    r = t.request("GET", "/api/sandboxes",
                  headers={"Authorization": "Bearer not-a-token"})
    t.assert_problem(r, 401)


def test_method_not_allowed():
    r = s.api("PUT", "/api/sandboxes", USER, {"name": "abc"})
    t.assert_problem(r, 405)
    assert "POST" in (r.header("Allow") or ""), r


t.run()
