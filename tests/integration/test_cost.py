"""Costs and budgets against the stack: live costs from the stack's real resources
(local CloudFormation, EC2 and Price List), budgets that refuse, warn and
stop, the month's rollover, and /api/costs in JSON and CSV. Clocks are
shortened through settings: the reaper runs here with
COST_REFRESH_SECONDS=0, and COST_CLOCK_OFFSET_SECONDS moves its cost
clock to a month's end."""

import csv
import io
import json
import os
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r

ADMIN = t.setting("ADMIN_EMAILS").split(",")[0]
PRICES = json.load(open(os.path.join(t.setting("SBX_SRC_DIR"), "tests",
                                     "fakes", "prices.json")))


def table(**attrs):
    for p in PRICES["products"]:
        if all(p["attributes"].get(k) == v for k, v in attrs.items()):
            return float(p["usd"])
    raise AssertionError("no price for %r" % attrs)


T3_MICRO = table(instanceType="t3.micro", regionCode="us-east-1",
                 operatingSystem="Linux", capacitystatus="Used")
GP3 = table(volumeApiName="gp3", regionCode="us-east-1")
# The default template's instance and its 8 GiB gp3 root volume (fake_ec2).
DEFAULT_HOURLY = round(T3_MICRO + 8 * GP3 / 730.0, 6)


def reap(**over):
    over.setdefault("COST_REFRESH_SECONDS", "0")
    return r.run_ok("--once", **over)


def ec2(method, path, body=None):
    return s._control("FAKE_EC2_URL", method, path, body)


def pricing(method, path, body=None):
    return s._control("FAKE_PRICING_URL", method, path, body)


def active(tag, email=None, **fields):
    email = email or s.fresh_email(tag)
    name = s.fresh_name(tag)
    s.create(email, name, **fields)
    s.wait_status(email, name, "ACTIVE")
    return email, name


def cost_of(email, name):
    return t.assert_json(s.get(email, name), 200)["cost"]


def instance_of(name):
    res = s.cfn("GET", "/_fake/resources")["resources"]
    ids = [x["physical_id"] for x in res if x["stack_name"] ==
           s.stack_name(name) and x["type"] == "AWS::EC2::Instance"]
    assert len(ids) == 1, res
    return ids[0]


def set_budget(email, usd):
    resp = s.api("PUT", "/api/users/%s/budget" % email, ADMIN,
                 {"monthly_usd": usd})
    return t.assert_json(resp, 200)


def test_cost_is_null_until_known_then_hourly_from_the_table():
    email = s.fresh_email("cost")
    name = s.fresh_name("cost")
    made = s.create(email, name)
    assert "cost" in made and made["cost"] is None, made
    s.wait_status(email, name, "ACTIVE")
    reap()
    c = cost_of(email, name)
    assert c is not None, c
    assert c["currency"] == "USD" and c["unpriced"] == [], c
    assert abs(c["hourly"] - DEFAULT_HOURLY) < 2e-6, (c, DEFAULT_HOURLY)
    assert c["projected"] >= c["accrued"] >= 0, c
    first = c["accrued"]
    time.sleep(1.5)
    later = cost_of(email, name)["accrued"]
    assert later > first, (first, later)
    rows = t.psql("SELECT hourly_usd, accruing FROM sandbox_costs c JOIN"
                  " sandboxes s ON s.id = c.sandbox_id WHERE s.name = :'n'",
                  n=name)
    assert abs(float(rows[0][0]) - DEFAULT_HOURLY) < 2e-6 and \
        rows[0][1] == "t", rows
    # The list shows it too.
    listed = t.assert_json(s.api("GET", "/api/sandboxes", email), 200)
    items = listed["items"] if isinstance(listed, dict) else listed
    assert items[0]["cost"]["hourly"] == c["hourly"], listed
    s.cleanup(email, name)


def test_unknown_instance_type_is_unpriced():
    email, name = active("unpriced")
    iid = instance_of(name)
    ec2("POST", "/_fake/instances", {"instance_id": iid,
                                     "instance_type": "x9.mega"})
    try:
        reap()
        c = cost_of(email, name)
        assert c["unpriced"] == ["AWS::EC2::Instance"], c
        # Only the root volume is priced: never a guess for the rest.
        assert abs(c["hourly"] - round(8 * GP3 / 730.0, 6)) < 2e-6, c
    finally:
        ec2("POST", "/_fake/instances", {"instance_id": iid,
                                         "remove": True})
        s.cleanup(email, name)


def test_price_list_down_keeps_the_last_value():
    email, name = active("pldown")
    reap()
    before = cost_of(email, name)
    assert abs(before["hourly"] - DEFAULT_HOURLY) < 2e-6, before
    pricing("POST", "/_fake/config", {"down": True})
    try:
        # PRICE_CACHE_HOURS=0: every price must be asked again.
        run = reap(PRICE_CACHE_HOURS="0")
        assert run.summary["counts"]["cost_failed"] >= 1, run.summary
        after = cost_of(email, name)
        assert after["hourly"] == before["hourly"], (before, after)
        assert after["accrued"] >= before["accrued"], (before, after)
        # Sandboxes still work: a create and a delete.
        other = s.fresh_name("pldown")
        s.create(email, other)
        t.assert_status(s.delete(email, other), 202) \
            if s.delete(email, other).status == 202 else None
    finally:
        pricing("POST", "/_fake/config", {"down": False})
        s.cleanup(email, name)


def test_budget_route_is_admin_only_and_checked():
    email = s.fresh_email("bgt")
    t.assert_json(s.api("GET", "/api/sandboxes", email), 200)
    resp = s.api("PUT", "/api/users/%s/budget" % email, email,
                 {"monthly_usd": 5})
    t.assert_problem(resp, 403)
    for bad in ({"monthly_usd": -1}, {"monthly_usd": "5"}, {},
                {"monthly_usd": 5, "x": 1}):
        resp = s.api("PUT", "/api/users/%s/budget" % email, ADMIN, bad)
        body = t.assert_problem(resp, 400)
        assert body.get("field") in ("monthly_usd", "x"), body
    got = set_budget(email, 7.5)
    assert got["monthly_usd"] == 7.5 and got["budget_usd"] == 7.5, got
    got = set_budget(email, None)
    assert got["monthly_usd"] is None, got
    resp = s.api("PUT", "/api/users/nobody-%s/budget" % email, ADMIN,
                 {"monthly_usd": 1})
    t.assert_problem(resp, 404)


def test_budget_refuses_a_create_and_an_extend_with_the_figures():
    email, name = active("refuse")
    reap()
    # A tiny budget: the next create would go over it.
    set_budget(email, 0.001)
    resp = s.create(email, s.fresh_name("refuse"), expect=None)
    body = t.assert_problem(resp, 409)
    assert body["type"] == "urn:sbx:problem:budget-exceeded", body
    assert "$" in body["detail"] and "of $0.00" in body["detail"], body
    # Room for the sandbox as it is, not for three more hours of it.
    c = cost_of(email, name)
    set_budget(email, round(c["projected"] + 0.002, 6))
    resp = s.api("PATCH", "/api/sandboxes/" + name, email,
                 {"extend_minutes": 180})
    body = t.assert_problem(resp, 409)
    assert body["type"] == "urn:sbx:problem:budget-exceeded", body
    assert "would add $0.03" in body["detail"], body
    # The quota keeps its own type.
    set_budget(email, None)
    s.cleanup(email, name)


def test_unknown_estimate_counts_as_zero_but_not_at_the_budget():
    email = s.fresh_email("unknown")
    t.assert_json(s.api("GET", "/api/sandboxes", email), 200)
    tmpl = "nocost-" + s.fresh_name("u")[-8:]
    body = json.dumps({"Resources": {"Bucket": {"Type": "AWS::S3::Bucket"}}})
    t.assert_json(s.api("PUT", "/api/templates/" + tmpl, ADMIN,
                        {"body": body}), 201)
    try:
        # Nothing committed, a budget above it: the unknown counts as 0.
        set_budget(email, 0.01)
        name = s.fresh_name("unknown")
        s.create(email, name, template=tmpl)
        s.cleanup(email, name)
        # A budget of 0: nothing more, whatever the estimate.
        set_budget(email, 0)
        resp = s.create(email, s.fresh_name("unknown"), expect=None,
                        template=tmpl)
        body = t.assert_problem(resp, 409)
        assert body["type"] == "urn:sbx:problem:budget-exceeded", body
        assert "not known yet" in body["detail"] and "of $0.00" in \
            body["detail"], body
    finally:
        set_budget(email, None)
        s.api("DELETE", "/api/templates/" + tmpl, ADMIN)


def _assert_budget_terminated(run, email, name, why):
    """run terminated email's sandbox name for its cost, with one
    budget_terminated event whose detail says why."""
    assert run.summary["counts"]["budget_terminated"] >= 1, run.summary
    got = t.assert_json(s.get(email, name), 200)
    assert got["status"] in ("TERMINATING", "TERMINATED"), got
    ev = t.psql("SELECT detail FROM sandbox_events e JOIN sandboxes s ON"
                " s.id = e.sandbox_id WHERE s.name = :'n' AND e.action ="
                " 'budget_terminated'", n=name)
    assert len(ev) == 1 and why in ev[0][0], ev


@r.isolated
def test_owner_budget_reached_terminates_their_sandboxes():
    email, name = active("owner")
    reap()
    time.sleep(1)
    # Less than what has accrued already: the month's budget is spent.
    set_budget(email, 0.000001)
    _assert_budget_terminated(reap(), email, name, "reached the budget")
    set_budget(email, None)
    s.cleanup(email, name)


def test_each_threshold_fires_once():
    email, name = active("warn")
    reap()
    c = cost_of(email, name)
    committed = c["projected"]
    # 60 % committed: the 50 % warning only.
    set_budget(email, round(committed / 0.6, 6))
    reap()
    reap()
    uid = t.psql("SELECT id::text FROM users WHERE email = :'e'",
                 e=email)[0][0]
    fired = t.psql("SELECT threshold FROM budget_warnings WHERE user_id ="
                   " :'u' ORDER BY threshold", u=uid)
    assert fired == [["50"]], fired
    # Over 100 % committed: 80 and 100 fire, 50 not again.
    set_budget(email, round(committed * 0.9, 6))
    reap()
    reap()
    fired = t.psql("SELECT threshold FROM budget_warnings WHERE user_id ="
                   " :'u' ORDER BY threshold", u=uid)
    assert fired == [["50"], ["80"], ["100"]], fired
    events = t.psql("SELECT detail FROM sandbox_events e JOIN sandboxes s"
                    " ON s.id = e.sandbox_id WHERE s.owner_email = :'e'"
                    " AND e.action = 'budget_warning' ORDER BY e.time",
                    e=email)
    assert len(events) == 3, events
    assert events[0][0].startswith("50% of the monthly budget"), events
    set_budget(email, None)
    s.cleanup(email, name)


@r.isolated
def test_max_cost_terminates_the_sandbox():
    tmpl = "capped-" + s.fresh_name("m")[-8:]
    body = json.dumps({"Resources": {"Instance": {
        "Type": "AWS::EC2::Instance",
        "Properties": {"InstanceType": "t3.micro",
                       "ImageId": "ami-12345678"}}}})
    resp = s.api("PUT", "/api/templates/" + tmpl, ADMIN,
                 {"body": body, "description": "capped"})
    assert resp.status in (200, 201), resp.text
    t.psql("UPDATE templates SET max_cost_usd = 0.0000001 WHERE name ="
           " :'n'", n=tmpl)
    email, name = active("maxc", template=tmpl)
    time.sleep(1)
    _assert_budget_terminated(reap(), email, name, "max_cost_usd")
    s.cleanup(email, name)


def test_month_rolls_over_at_utc_midnight():
    email, name = active("month")
    reap()
    # The cost clock is the reaper's, for every sandbox: only this one may
    # accrue while it runs ahead (the others are set aside, then back).
    others = [x[0] for x in t.psql(
        "UPDATE sandbox_costs SET accruing = false WHERE accruing AND"
        " sandbox_id NOT IN (SELECT id FROM sandboxes WHERE name = :'n')"
        " RETURNING sandbox_id::text", n=name)]
    try:
        month_rollover(email, name)
    finally:
        if others:
            t.psql("UPDATE sandbox_costs SET accruing = true WHERE"
                   " sandbox_id::text = ANY(string_to_array(:'ids', ','))",
                   ids=",".join(others))


def month_rollover(email, name):
    now = int(time.time())
    rows = t.psql("SELECT floor(extract(epoch FROM date_trunc('month',"
                  " now() AT TIME ZONE 'UTC') + interval '1 month'))::bigint")
    next_month = int(rows[0][0])
    # The cost clock half an hour before midnight, then half an hour after.
    reap(COST_CLOCK_OFFSET_SECONDS=str(next_month - 1800 - now))
    now = int(time.time())
    reap(COST_CLOCK_OFFSET_SECONDS=str(next_month + 1800 - now))
    months = t.psql("SELECT to_char(m.month, 'YYYY-MM'), m.hours FROM"
                    " sandbox_cost_months m JOIN sandboxes s ON s.id ="
                    " m.sandbox_id WHERE s.name = :'n' ORDER BY m.month",
                    n=name)
    assert len(months) == 2, months
    assert abs(float(months[1][1]) - 0.5) < 0.02, months
    assert float(months[0][1]) >= 0.49, months
    nm = months[1][0]
    rep = t.assert_json(s.api("GET", "/api/costs?month=" + nm, email), 200)
    assert rep["month"] == nm and len(rep["sandboxes"]) == 1, rep
    assert abs(rep["sandboxes"][0]["hours"] - 0.5) < 0.02, rep
    # Settle back onto the wall clock for the tests after this one.
    t.psql("DELETE FROM sandbox_costs WHERE sandbox_id IN (SELECT id FROM"
           " sandboxes WHERE name = :'n')", n=name)
    s.cleanup(email, name)


def test_costs_report_json_and_csv():
    email, name = active("report")
    reap()
    time.sleep(2)  # a report counts whole seconds
    rep = t.assert_json(s.api("GET", "/api/costs", email), 200)
    assert set(rep) >= {"month", "currency", "budget_usd", "accrued",
                        "projected", "sandboxes"}, rep
    assert "users" not in rep, rep
    assert [x["name"] for x in rep["sandboxes"]] == [name], rep
    row = rep["sandboxes"][0]
    assert row["template"] == "default" and row["hours"] > 0, row
    assert rep["projected"] >= rep["accrued"] >= row["accrued"] * 0.99, rep
    resp = s.api("GET", "/api/costs?format=csv", email)
    assert resp.status == 200, resp.status
    assert resp.header("Content-Type") == "text/csv; charset=utf-8", \
        resp.headers
    text = resp.text
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0] == ["month", "owner_email", "sandbox", "template",
                        "hours", "accrued_usd"], lines
    assert [ln[1:4] for ln in lines[1:]] == [[email, name, "default"]], lines
    assert lines[1][0] == rep["month"], lines
    # An admin: every user's totals, ?owner=, and CSV for everyone.
    adm = t.assert_json(s.api("GET", "/api/costs", ADMIN), 200)
    assert any(u["email"] == email for u in adm["users"]), adm
    own = t.assert_json(s.api("GET", "/api/costs?owner=" + email, ADMIN),
                        200)
    assert [x["name"] for x in own["sandboxes"]] == [name], own
    allcsv = s.api("GET", "/api/costs?format=csv", ADMIN).text
    assert email in allcsv, allcsv
    # Bad input, and a user naming an owner.
    t.assert_problem(s.api("GET", "/api/costs?month=2026-13", email), 400)
    body = t.assert_problem(s.api("GET", "/api/costs?month=x", email), 400)
    assert body["field"] == "month", body
    t.assert_problem(s.api("GET", "/api/costs?format=xml", email), 400)
    t.assert_problem(s.api("GET", "/api/costs?owner=" + ADMIN, email), 403)
    s.cleanup(email, name)


def test_templates_show_max_cost_and_estimate():
    reap()  # fills the seeded default's estimate, and the price cache
    d = t.assert_json(s.api("GET", "/api/templates/default",
                            s.fresh_email("tpl")), 200)
    assert abs(d["estimated_hourly_usd"] - T3_MICRO) < 1e-9, d
    assert d["max_cost_usd"] is None, d
    tmpl = "priced-" + s.fresh_name("p")[-8:]
    body = json.dumps({
        "Parameters": {"Size": {"Type": "String", "Default": "m5.large"}},
        "Resources": {
            "A": {"Type": "AWS::EC2::Instance",
                  "Properties": {"InstanceType": "t3.micro"}},
            "B": {"Type": "AWS::EC2::Instance",
                  "Properties": {"InstanceType": {"Ref": "Size"}}}}})
    # m5.large is not cached yet: the PUT does not ask the Price List.
    t.psql("DELETE FROM price_cache WHERE attributes LIKE"
           " '%instanceType=m5.large;%'")
    got = t.assert_json(s.api("PUT", "/api/templates/" + tmpl, ADMIN,
                              {"body": body, "max_cost_usd": 0.5}), 201)
    assert got["max_cost_usd"] == 0.5, got
    assert got["estimated_hourly_usd"] is None, got
    reap()
    got = t.assert_json(s.api("GET", "/api/templates/" + tmpl, ADMIN), 200)
    m5 = table(instanceType="m5.large", regionCode="us-east-1",
               operatingSystem="Linux", tenancy="Shared")
    assert abs(got["estimated_hourly_usd"] - (T3_MICRO + m5)) < 1e-9, got
    # Now cached: the next version is priced at once.
    got = t.assert_json(s.api("PUT", "/api/templates/" + tmpl, ADMIN,
                              {"body": body}), 201)
    assert abs(got["estimated_hourly_usd"] - (T3_MICRO + m5)) < 1e-9, got
    for bad in (-1, "1", True):
        resp = s.api("PUT", "/api/templates/" + tmpl, ADMIN,
                     {"body": body, "max_cost_usd": bad})
        assert t.assert_problem(resp, 400)["field"] == "max_cost_usd"
    t.assert_status(s.api("DELETE", "/api/templates/" + tmpl, ADMIN), 204)


if __name__ == "__main__":
    t.run()
