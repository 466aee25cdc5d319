#!/usr/bin/python3
"""Error answers never carry invalid UTF-8. A field
name a client sent is quoted in the problem's detail and field; where a
buffer shortens it, the cut falls between characters. Each case puts
3-byte characters where a cut by bytes would split one."""

import sbxtest as t
import sbxsandbox as s

USER = s.fresh_email("utf8")
EURO = "\u20ac"


def strict_problem(resp, status):
    """The answer's bytes decode as UTF-8 with no error; returns it."""
    try:
        resp.body.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise AssertionError("the answer is not UTF-8 (%s): %r" % (e, resp))
    return t.assert_problem(resp, status)


def test_unknown_field_name_cut_in_detail():
    # The body check's detail buffer holds 255 bytes: "a" then 3-byte
    # characters puts the byte cut inside one.
    key = "a" + EURO * 100
    r = s.api("POST", "/api/sandboxes", USER, {"name": "abc", key: 1})
    p = strict_problem(r, 400)
    assert p["detail"].startswith("a" + EURO * 10), p
    assert p["field"] == key, p


def test_parameter_name_cut_in_field_and_detail():
    # "parameters." is 11 bytes: the field buffer (159) and the detail's
    # 100-byte share both end inside a character.
    key = EURO * 60
    r = s.api("POST", "/api/sandboxes", USER,
              {"name": s.fresh_name("utf"), "parameters": {key: "x"}})
    p = strict_problem(r, 400)
    assert p["field"].startswith("parameters." + EURO * 10), p
    assert len(p["field"].encode()) <= 159, p
    assert p["detail"].startswith("parameters." + EURO), p
    assert s.live_count(USER) == 0


t.run()
