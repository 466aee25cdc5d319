#!/usr/bin/python3
"""The query and path inputs each route declares in its table
(common/api/http.h, struct sbx_input), through nginx on the running stack:
a bad, repeated or overflowing value is a 400 problem naming it before
the handler runs (nothing changes in the database); an admin-only one is
403 for anyone else; an admin's filter is ignored for anyone else;
parameters a route does not declare are ignored."""

import sbxtest as t
import sbxsandbox as s

ADMIN = s.ADMIN


def refused(resp, field, detail=None, status=400):
    p = t.assert_problem(resp, status)
    if status == 400:
        assert p.get("field") == field, p
    if detail is not None:
        assert p["detail"] == detail, p
    return p


def test_bad_values_are_400_naming_the_input():
    user = s.fresh_email("inputs")
    cases = [
        ("/api/sandboxes?limit=0", user, "limit",
         "limit is an integer from 1 to 100"),
        ("/api/sandboxes?limit=101", user, "limit", None),
        ("/api/sandboxes?limit=-1", user, "limit", None),
        ("/api/sandboxes?limit=", user, "limit", None),
        ("/api/sandboxes?limit=99999999999999999999999", user, "limit",
         None),
        ("/api/sandboxes?status=active", user, "status",
         "status is one of PROVISIONING, ACTIVE, FAILED, TERMINATING, "
         "TERMINATED"),
        ("/api/sandboxes?cursor=x", user, "cursor",
         "cursor is not one this API gave out"),
        ("/api/costs?month=2026-13", user, "month", None),
        ("/api/costs?format=xml", user, "format", "format is json or csv"),
        ("/api/jobs/reaper?limit=abc", ADMIN, "limit",
         "limit must be a whole number from 1 to 100"),
        ("/api/tokens?owner=" + "a" * 321, ADMIN, "owner", None),
        ("/api/costs?owner=not-an-address", ADMIN, "owner",
         "owner is an email address"),
    ]
    for path, who, field, detail in cases:
        refused(s.api("GET", path, who), field, detail)


def test_a_repeated_input_is_refused():
    user = s.fresh_email("inputs")
    p = refused(s.api("GET", "/api/sandboxes?limit=5&limit=5", user),
                "limit")
    assert "more than once" in p["detail"], p
    refused(s.api("GET", "/api/costs?format=json&format=csv", user),
            "format")


def test_path_inputs_are_checked_before_the_handler():
    victim = s.fresh_email("inputs")
    t.assert_json(s.api("GET", "/api/me", victim), 200)  # the account
    for bad in ("a@b@example.com", "no-at-sign", "a,b@example.com"):
        refused(s.api("POST", "/api/users/%s/disable" % bad, ADMIN),
                "email", "not an email address")
        refused(s.api("PUT", "/api/users/%s/budget" % bad, ADMIN,
                      {"monthly_usd": 5}), "email")
    # A good one in another case is the same user, lower-cased.
    got = t.assert_json(s.api("POST", "/api/users/%s/disable"
                              % victim.upper(), ADMIN), 200)
    assert got["email"] == victim and got["disabled"] is True, got
    got = t.assert_json(s.api("POST", "/api/users/%s/enable"
                              % victim.upper(), ADMIN), 200)
    assert got["disabled"] is False, got
    t.assert_json(s.api("GET", "/api/me", victim), 200)


def test_admin_inputs_for_anyone_else():
    user, other = s.fresh_email("inputs"), s.fresh_email("inputs")
    # An admin-only input: 403 for a user, even when malformed.
    refused(s.api("GET", "/api/costs?owner=" + other, user), None,
            status=403)
    refused(s.api("GET", "/api/costs?owner=x", user), None, status=403)
    # An admin's filter: ignored for a user, even when malformed.
    assert t.assert_json(s.api("GET", "/api/tokens?owner=" + "a" * 400,
                               user), 200) == []
    assert t.assert_json(s.api("GET", "/api/sandboxes?owner=" + other,
                               user), 200) == []


def test_undeclared_parameters_are_ignored():
    user = s.fresh_email("inputs")
    assert t.assert_json(s.api("GET", "/api/sandboxes?x=1&x=2&y", user),
                         200) == []
    t.assert_json(s.api("GET", "/api/me?limit=0", user), 200)
    # A malformed query string is refused as a whole, as before.
    refused(s.api("GET", "/api/sandboxes?limit=%zz", user), "query")


t.run()
