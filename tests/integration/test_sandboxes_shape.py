#!/usr/bin/python3
"""The list's items are exactly the sandboxes GET /api/sandboxes/{name}
answers, and both are exactly what the database holds (issue 14: the list
is written as text straight from the query's rows, the single read by the
same writer; a drift between them, or from the rows, fails here).

A user gets sandboxes in every state and with every field variant: made
through the API (PROVISIONING with a pending create, ACTIVE with outputs
and a masked NoEcho parameter, TERMINATED) and rows written directly
(FAILED with a reason full of characters JSON escapes, TERMINATING,
outputs and parameters stored with whitespace, \\u and \\/ escapes, broken
outputs text, a null template version, a cost that accrues, one that does
not, and one not estimated yet). Then, for each item of the list (one
page, pages of 2, an admin's ?owner= view): the item equals the single
read member by member and in the same order, its bytes appear verbatim in
the single read's body, and each member equals the value computed from its
row in SQL (times formatted by PostgreSQL in UTC). Every answer is also
checked against the OpenAPI document by the helpers."""

import json
import urllib.parse

import sbxtest as t
import sbxsandbox as s

STORED_OUTPUTS = (
    ' { "Url" : "http:\\/\\/example.com\\/x" ,\n\t"Caf\\u00e9": "na\\u00efve \\"q\\" \\\\ \\n",'
    ' "Plain": "v" } ')
STORED_PARAMETERS = '{"Size": "small", "Password": "****"}'
REASON = 'failed: "quoted" \\ back\nnew line\ttab \x01 caf\u00e9 \u20ac </script>'


def raw_get(email, path):
    r = s.api("GET", path, email)
    t.assert_status(r, 200)
    assert r.header("Content-Type") == "application/json", r
    return r, r.text


# Rows written directly are a second apart, older than the API's.
_seconds = iter(range(1, 3600))


def insert_row(uid, email, name, status, **cols):
    """A sandbox row written directly; returns its id."""
    base = {
        "status_reason": None, "stack_id": None, "parameters": "{}",
        "outputs": None, "template_version": "1", "pending_action": "none",
        "terminated_at": None,
    }
    base.update(cols)
    rows = t.psql(
        "INSERT INTO sandboxes (name, owner_id, owner_email, template_name,"
        " template_version, status, status_reason, stack_name, stack_id,"
        " parameters, outputs, created_at, updated_at, expiry_time,"
        " max_expiry_time, terminated_at, pending_action, last_refresh_at,"
        " next_attempt_at)"
        " VALUES (:'name', :'uid'::uuid, :'e', 'default', :'tv'::int, :'st',"
        " NULLIF(:'reason', '<null>'), 'sbx-' || :'name',"
        " NULLIF(:'stack', '<null>'), :'params', NULLIF(:'outputs', '<null>'),"
        " now() - interval '1 hour' + make_interval(secs => :'k'::int),"
        " now(), now() + interval '3 hours', now() + interval '20 hours',"
        " NULLIF(:'term', '<null>')::timestamptz, :'pending', now(),"
        " now() + interval '1 hour')"
        " RETURNING id::text",
        name=name, uid=uid, e=email, tv=base["template_version"], st=status,
        reason=base["status_reason"] or "<null>",
        stack=base["stack_id"] or "<null>", params=base["parameters"],
        outputs=base["outputs"] if base["outputs"] is not None else "<null>",
        term=base["terminated_at"] or "<null>",
        pending=base["pending_action"], k=str(next(_seconds)))
    return rows[0][0]


def add_cost(sandbox_id, uid, hourly, accrued, accruing, unpriced, estimated):
    """The sandbox's cost row, replacing one the reaper may have made."""
    t.psql("INSERT INTO sandbox_costs (sandbox_id, owner_id, hourly_usd,"
           " unpriced, accrued_usd, accrued_at, accruing, estimated_at)"
           " VALUES (:'id'::uuid, :'uid'::uuid, NULLIF(:'h', '')::numeric,"
           " :'unp', :'acc'::numeric, now() - interval '10 minutes',"
           " :'on'::boolean, CASE WHEN :'est' = 'yes' THEN now() END)"
           " ON CONFLICT (sandbox_id) DO UPDATE SET hourly_usd ="
           " EXCLUDED.hourly_usd, unpriced = EXCLUDED.unpriced, accrued_usd ="
           " EXCLUDED.accrued_usd, accrued_at = EXCLUDED.accrued_at,"
           " accruing = EXCLUDED.accruing, estimated_at = EXCLUDED.estimated_at",
           id=sandbox_id, uid=uid, h=hourly, unp=unpriced, acc=accrued,
           on=accruing, est=estimated)


TIME = "to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"


def expected_rows(email):
    """Each of email's sandboxes as the API must show it, from SQL alone
    (cost is left to the single read: it depends on the clock)."""
    cols = ("id", "name", "owner", "template", "template_version", "status",
            "status_reason", "stack_id", "parameters", "outputs",
            "created_at", "expiry_time", "max_expiry_time", "terminated_at")
    # Every value as JSON text (to_json): psql's rows end at a newline,
    # and the reason holds some.
    rows = t.psql(
        "SELECT to_json(id), to_json(name), to_json(owner_email),"
        " to_json(template_name), to_json(NULLIF(template_version, 0)),"
        " to_json(status), to_json(status_reason), to_json(stack_id),"
        " to_json(parameters), to_json(outputs),"
        " to_json(%s), to_json(%s), to_json(%s), to_json(%s)"
        " FROM sandboxes WHERE owner_email = :'e'"
        " ORDER BY created_at DESC, id DESC" % (
            TIME % "created_at", TIME % "expiry_time",
            TIME % "max_expiry_time", TIME % "terminated_at"), e=email)
    out = []
    for r in rows:
        d = dict(zip(cols, [None if v is None else json.loads(v) for v in r]))
        for k in ("parameters", "outputs"):
            try:
                v = json.loads(d[k]) if d[k] is not None else None
            except ValueError:
                v = None
            d[k] = v if isinstance(v, dict) else None
        out.append(d)
    return out


def check_items(items, body, email, singles):
    """items (parsed list) against the single reads and the rows."""
    rows = expected_rows(email)
    assert [x["id"] for x in items] == [r["id"] for r in rows], \
        (items, rows)
    for item, row in zip(items, rows):
        s.assert_sandbox(item)
        one_text = singles[item["name"]]
        one = json.loads(one_text)
        # Member by member, in the same order.
        assert list(item.items()) == list(one.items()), (item, one)
        # The same bytes: the single read's body is a piece of the list's.
        assert one_text in body, (one_text, body)
        for k, v in row.items():
            assert item[k] == v, (k, item[k], v)


def test_list_items_are_the_single_reads_and_the_rows():
    user = s.fresh_email("shape")
    made = []
    with s.cfn_settings(create_delay=0, delete_delay=0):
        try:
            t.assert_json(s.api("GET", "/api/sandboxes", user), 200)
            uid = t.psql("SELECT id::text FROM users WHERE email = :'e'",
                         e=user)[0][0]
            # Through the API: ACTIVE with outputs, TERMINATED.
            active = s.fresh_name("sa")
            s.create(user, active)
            made.append(active)
            s.wait_status(user, active, "ACTIVE")
            # A cost that does not accrue: the reaper's estimate would
            # move between the single read and the list by the second.
            add_cost(t.assert_json(s.get(user, active), 200)["id"], uid,
                     "0.0104", "0.002", "false", "[]", "yes")
            gone = s.fresh_name("sg")
            s.create(user, gone)
            made.append(gone)
            s.wait_status(user, gone, "ACTIVE")
            t.assert_json(s.delete(user, gone), 202)
            s.wait_status(user, gone, "TERMINATED")
            # Written directly: the variants the API does not make on
            # demand. Pending work keeps a single read from asking
            # CloudFormation (it would change the row between reads).
            failed = s.fresh_name("sf")
            insert_row(uid, user, failed, "FAILED", status_reason=REASON,
                       outputs="{broken", parameters=STORED_PARAMETERS)
            made.append(failed)
            term = s.fresh_name("st")
            tid = insert_row(uid, user, term, "TERMINATING",
                             stack_id="arn:aws:cloudformation:us-east-1:"
                             "123456789012:stack/x/1",
                             outputs=STORED_OUTPUTS, pending_action="delete",
                             template_version="0")
            made.append(term)
            add_cost(tid, uid, "0.0116", "0.25", "false",
                     '["AWS::S3::Bucket"]', "yes")
            prov = s.fresh_name("sp")
            pid = insert_row(uid, user, prov, "PROVISIONING",
                             pending_action="create",
                             outputs='{"A":"1","B":"two words"}')
            made.append(prov)
            add_cost(pid, uid, "", "0", "true", "[]", "yes")
            ended = s.fresh_name("se")
            eid = insert_row(uid, user, ended, "TERMINATED",
                             terminated_at="2026-01-02T03:04:05Z",
                             status_reason="deleted by its owner")
            made.append(ended)
            add_cost(eid, uid, "", "0", "false", "[]", "no")
            # An active row whose cost accrues at a rate of 0 (the clock
            # moves it by nothing between reads).
            zero = s.fresh_name("sz")
            zid = insert_row(uid, user, zero, "ACTIVE",
                             stack_id="arn:aws:cloudformation:us-east-1:"
                             "123456789012:stack/z/1",
                             outputs='{"Ip": "203.0.113.7"}')
            made.append(zero)
            add_cost(zid, uid, "0", "1.5", "true", "[]", "yes")

            singles = {}
            for name in made:
                _, text = raw_get(user, "/api/sandboxes/" + name)
                singles[name] = text
            masked = json.loads(singles[failed])
            assert masked["parameters"] == {"Size": "small",
                                            "Password": "****"}, masked
            assert masked["outputs"] is None, masked
            assert masked["status_reason"] == REASON, masked
            assert json.loads(singles[term])["outputs"] == {
                "Url": "http://example.com/x",
                "Caf\u00e9": "na\u00efve \"q\" \\ \n", "Plain": "v"}
            assert json.loads(singles[term])["template_version"] is None
            cost = json.loads(singles[term])["cost"]
            assert cost == {"currency": "USD", "hourly": 0.0116,
                            "accrued": 0.25, "projected": 0.25,
                            "unpriced": ["AWS::S3::Bucket"],
                            "updated_at": cost["updated_at"]}, cost
            assert json.loads(singles[prov])["cost"]["hourly"] is None
            assert json.loads(singles[ended])["cost"] is None
            assert json.loads(singles[ended])["terminated_at"] == \
                "2026-01-02T03:04:05Z"

            # One page.
            r, body = raw_get(user, "/api/sandboxes?limit=100")
            assert s.next_link(r) is None
            check_items(json.loads(body), body, user, singles)
            # Pages of 2, following rel=next.
            items, path, pages = [], "/api/sandboxes?limit=2", 0
            while path is not None:
                r, body = raw_get(user, path)
                page = json.loads(body)
                for item in page:
                    assert json.dumps(item, ensure_ascii=False,
                                      separators=(",", ":")) in body
                items += page
                path = s.next_link(r)
                pages += 1
                assert pages < 10
            check_items(items, "".join(singles.values()), user, singles)
            # An admin's filtered view (the statement with every filter).
            _, body = raw_get(s.ADMIN, "/api/sandboxes?limit=100&owner=" +
                              urllib.parse.quote(user))
            check_items(json.loads(body), body, user, singles)
        finally:
            t.psql("DELETE FROM sandbox_costs WHERE owner_id IN (SELECT id"
                   " FROM users WHERE email = :'e')", e=user)
            t.psql("UPDATE sandboxes SET status = 'TERMINATED',"
                   " pending_action = 'none', terminated_at = now()"
                   " WHERE owner_email = :'e' AND name NOT IN (:'a')",
                   e=user, a=active)
            s.cleanup(user, active)


t.run()
