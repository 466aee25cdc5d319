#!/usr/bin/python3
"""GET /api/sandboxes: a JSON array, newest first; ?status=, ?limit=,
cursor pagination by the Link rel="next" header; users see their own,
admins all and may filter by ?owner=."""

import urllib.parse

import sbxtest as t
import sbxsandbox as s


def collect(email, path):
    """Follows rel=next from path; returns the names in order and the
    number of pages."""
    names, pages = [], 0
    while path is not None:
        r = s.api("GET", path, email)
        page = t.assert_json(r, 200)
        assert isinstance(page, list), page
        for sb in page:
            s.assert_sandbox(sb)
        names += [sb["name"] for sb in page]
        pages += 1
        path = s.next_link(r)
        assert pages < 50, "pagination does not end"
    return names, pages


def test_list_paginate_filter():
    user = s.fresh_email("list")
    other = s.fresh_email("list-other")
    made = []
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            for i in range(5):
                name = s.fresh_name("l%d" % i)
                s.create(user, name)
                made.append(name)
            s.create(other, s.fresh_name("lo"))
            # An empty list for someone with none.
            empty = t.assert_json(s.api("GET", "/api/sandboxes",
                                        s.fresh_email("nobody")), 200)
            assert empty == [], empty

            # Newest first, only the caller's.
            everything = t.assert_json(s.api("GET", "/api/sandboxes", user), 200)
            assert [x["name"] for x in everything] == made[::-1], everything
            assert all(x["owner"] == user for x in everything), everything

            # Pages of 2: 2, 2, 1, linked by rel=next, nothing twice.
            r = s.api("GET", "/api/sandboxes?limit=2", user)
            first = t.assert_json(r, 200)
            assert len(first) == 2, first
            link = s.next_link(r)
            assert link and link.startswith("/api/sandboxes?"), link
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)
            assert q["limit"] == ["2"] and q["cursor"], q
            names, pages = collect(user, "/api/sandboxes?limit=2")
            assert names == made[::-1] and pages == 3, (names, pages)
            # A page that ends exactly at the end has no next link.
            r = s.api("GET", "/api/sandboxes?limit=5", user)
            assert len(t.assert_json(r, 200)) == 5 and s.next_link(r) is None, r
            r = s.api("GET", "/api/sandboxes?limit=100", user)
            assert s.next_link(r) is None, r

            # Filter by status, across pages too.
            t.assert_json(s.delete(user, made[0]), 202)
            t.assert_json(s.delete(user, made[1]), 202)
            s.wait_status(user, made[0], "TERMINATED")
            s.wait_status(user, made[1], "TERMINATED")
            dead, _ = collect(user, "/api/sandboxes?status=TERMINATED&limit=1")
            assert dead == [made[1], made[0]], dead
            live = t.assert_json(s.api("GET", "/api/sandboxes?status=PROVISIONING", user), 200)
            live += t.assert_json(s.api("GET", "/api/sandboxes?status=ACTIVE", user), 200)
            assert sorted(x["name"] for x in live) == sorted(made[2:]), live

            # A user's owner= does not show anyone else's.
            theirs = t.assert_json(s.api(
                "GET", "/api/sandboxes?owner=" + urllib.parse.quote(other), user), 200)
            assert all(x["owner"] == user for x in theirs), theirs

            # An admin sees everyone's and filters by owner (paging keeps
            # the filter).
            r = s.api("GET", "/api/sandboxes?limit=100", s.ADMIN)
            owners = {x["owner"] for x in t.assert_json(r, 200)}
            assert {user, other} <= owners or s.next_link(r), owners
            names, _ = collect(s.ADMIN, "/api/sandboxes?limit=2&owner=" +
                               urllib.parse.quote(user))
            assert names == made[::-1], names
            mine = t.assert_json(s.api(
                "GET", "/api/sandboxes?owner=" + urllib.parse.quote(other), s.ADMIN), 200)
            assert [x["owner"] for x in mine] == [other], mine
            both, _ = collect(s.ADMIN, "/api/sandboxes?limit=3&status=TERMINATED&owner=" +
                              urllib.parse.quote(user))
            assert both == [made[1], made[0]], both
        finally:
            s.cleanup(user, *made)
            for sb in t.assert_json(s.api("GET", "/api/sandboxes", other), 200):
                s.cleanup(other, sb["name"])


t.run()
