#!/usr/bin/python3
"""GET /metrics: the expiry promise in Prometheus text, through
nginx, for loopback and the networks of METRICS_ALLOW_FROM only (scripts/
test sets 198.51.100.0/24, and NGINX_REAL_IP_FROM=127.0.0.1 so that an
X-Forwarded-For from the test stands for the client's address); and the
same figures in CloudWatch EMF in the reaper's summary line.

The figures are checked against the database itself, with the stack's
reaper loop stopped (SIGSTOP; SIGCONT at the end) so that nothing moves
between the two readings."""

import contextlib
import os
import re
import signal
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GAUGES = (
    "sbx_sandboxes",
    "sbx_sandboxes_overdue",
    "sbx_sandboxes_overdue_oldest_age_seconds",
    "sbx_sandboxes_stuck",
    "sbx_reaper_last_run_age_seconds",
    "sbx_reaper_last_run_terminated",
    "sbx_reaper_last_run_failed",
    "sbx_webhook_outbox_depth",
    "sbx_webhook_oldest_pending_age_seconds",
)
LIVE = ("PROVISIONING", "ACTIVE", "FAILED", "TERMINATING")
SAMPLE = re.compile(r'^([a-z_]+)(?:\{status="([A-Z]+)"\})? (\S+)$')


def scrape(headers=None):
    """GET /metrics as a client; returns {name or (name, status): float}
    after checking the format."""
    resp = t.get("/metrics", headers=headers or {})
    t.assert_status(resp, 200)
    assert resp.header("Content-Type") == CONTENT_TYPE, resp.headers
    text = resp.text
    assert text.endswith("\n"), text[-100:]
    values, helps, types = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            types[name] = kind
        else:
            m = SAMPLE.match(line)
            assert m, "not a sample line: %r" % line
            key = (m.group(1), m.group(2)) if m.group(2) else m.group(1)
            values[key] = float(m.group(3))
    for name in GAUGES:
        assert name in helps, "no HELP for %s" % name
        assert types.get(name) == "gauge", "%s: TYPE %r" % (name, types.get(name))
    return values


def db_int(sql, **kw):
    got = t.psql(sql, **kw)
    return int(got[0][0])


def _loop_pids():
    """The pid of this stack's reaper loop (scripts/lib/reaper-loop.sh
    STATE_DIR ...)."""
    state = t.setting("SBX_STATE_DIR").encode()
    return [pid for pid, argv in t.processes()
            if len(argv) > 2 and argv[1].endswith(b"reaper-loop.sh")
            and argv[2] == state]


def _parent_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]) if fields[0] != "Z" else None


def _reaper_running(loop):
    """True while an sbx-reaper run started by the loop lives (its other
    child, the sleep between runs, does not count)."""
    return any(_parent_of(pid) == loop and any(b"sbx-reaper" in a for a in argv)
               for pid, argv in t.processes())


@contextlib.contextmanager
def reaper_stopped():
    """The stack's own reaper loop, stopped (after the run in progress,
    if any, has ended)."""
    pids = _loop_pids()
    assert pids, "no reaper loop of this stack found"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        assert t.wait_until(lambda: not any(_reaper_running(p) for p in pids),
                            timeout=60), "the stack's reaper run did not end"
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def test_loopback_gets_the_figures():
    v = scrape()
    for st in LIVE:
        assert (("sbx_sandboxes", st)) in v, "no sbx_sandboxes{status=%s}" % st
    assert ("sbx_sandboxes", "TERMINATED") not in v
    for name in GAUGES[1:]:
        assert name in v, "no sample of %s" % name
    # No authentication: a scraper has no session.
    resp = t.get("/metrics")
    assert resp.header("WWW-Authenticate") is None


def test_client_outside_the_allow_list_is_refused():
    # Without these two settings the checks below would prove nothing.
    assert t.setting("NGINX_REAL_IP_FROM") == "127.0.0.1"
    assert "198.51.100.0/24" in t.setting("METRICS_ALLOW_FROM").split(",")
    for addr in ("203.0.113.7", "10.1.2.3", "198.51.101.1"):
        resp = t.get("/metrics", headers={"X-Forwarded-For": addr})
        p = t.assert_problem(resp, 403)
        assert p["type"] == "urn:sbx:problem:forbidden", p
        assert b"sbx_" not in resp.body
    # The rest of the API is not affected.
    t.assert_json(t.get("/api/", headers={"X-Forwarded-For": "203.0.113.7"}), 200)


def test_client_inside_the_allow_list_gets_them():
    v = scrape({"X-Forwarded-For": "198.51.100.9"})
    assert "sbx_sandboxes_overdue" in v


def test_figures_match_the_database():
    with reaper_stopped():
        started = time.monotonic()
        v = scrape()
        last = t.psql("SELECT floor(extract(epoch FROM now() - finished_at))::bigint"
                      " FROM reaper_runs WHERE ok ORDER BY started_at DESC LIMIT 1")
        # psql is slow to start on a busy machine: the age grew meanwhile.
        slack = time.monotonic() - started + 1
        assert last, "the stack's reaper never completed a run"
        age = v["sbx_reaper_last_run_age_seconds"]
        assert int(last[0][0]) - slack <= age <= int(last[0][0]) + 1, (age, last, slack)
        for st in LIVE:
            n = db_int("SELECT count(*) FROM sandboxes WHERE status = :'st'", st=st)
            assert v[("sbx_sandboxes", st)] == n, (st, v[("sbx_sandboxes", st)], n)
        assert v["sbx_sandboxes_stuck"] == db_int(
            "SELECT count(*) FROM sandboxes WHERE stuck AND status <> 'TERMINATED'")
        assert v["sbx_webhook_outbox_depth"] == db_int(
            "SELECT count(*) FROM sandbox_events WHERE delivery_state = 'pending'")


def test_overdue_sandbox_shows_with_the_reaper_stopped():
    user = s.fresh_email("ovd")
    late, fresh = s.fresh_name("ovd"), s.fresh_name("ovd")
    grace = int(t.setting("METRICS_OVERDUE_GRACE_SECONDS", "300"))
    with reaper_stopped():
        with s.cfn_settings(create_delay=0, delete_delay=0):
            a = s.create(user, late)
            b = s.create(user, fresh)
            s.wait_status(user, late, "ACTIVE")
            s.wait_status(user, fresh, "ACTIVE")
        before = scrape()
        # The pending sandbox.created events are in the outbox meanwhile.
        assert before["sbx_webhook_outbox_depth"] >= 2, before
        # One past its expiry by more than the grace, one within it.
        t.psql("UPDATE sandboxes SET expiry_time = now() - :'late'::interval"
               " WHERE id = :'id'", late="%d seconds" % (grace + 600), id=a["id"])
        t.psql("UPDATE sandboxes SET expiry_time = now() - :'soon'::interval"
               " WHERE id = :'id'", soon="%d seconds" % max(grace - 120, 0), id=b["id"])
        after = scrape()
        assert after["sbx_sandboxes_overdue"] >= 1, after
        assert after["sbx_sandboxes_overdue"] == before["sbx_sandboxes_overdue"] + 1, \
            (before["sbx_sandboxes_overdue"], after["sbx_sandboxes_overdue"])
        assert after["sbx_sandboxes_overdue_oldest_age_seconds"] >= grace + 600, after
        # Stuck is counted as the database says.
        t.psql("UPDATE sandboxes SET stuck = true WHERE id = :'id'", id=b["id"])
        assert scrape()["sbx_sandboxes_stuck"] == before["sbx_sandboxes_stuck"] + 1
        t.psql("UPDATE sandboxes SET stuck = false WHERE id = :'id'", id=b["id"])

        # One reaper run keeps the promise again: the overdue one is
        # terminated, and the figures say so.
        with s.cfn_settings(delete_delay=0):
            run = r.run_ok()
        assert run.counts()["terminated"] >= 1, run
        done = scrape()
        assert s.row(a["id"])["status"] == "TERMINATED", s.row(a["id"])
        assert done["sbx_sandboxes_overdue"] <= before["sbx_sandboxes_overdue"], done
        assert done["sbx_sandboxes_overdue"] == db_int(
            "SELECT count(*) FROM sandboxes WHERE status <> 'TERMINATED'"
            " AND expiry_time < now() - :'g'::interval", g="%d seconds" % grace)
        assert done["sbx_reaper_last_run_age_seconds"] <= 5, done
        assert done["sbx_reaper_last_run_terminated"] == run.counts()["terminated"], \
            (done, run.counts())
    s.cleanup(user, late, fresh)


def test_reaper_summary_carries_the_same_figures_in_emf():
    with reaper_stopped():
        run = r.run_ok(METRICS_NAMESPACE="Sbx/test-metrics")
        v = scrape()
    sm = run.summary
    aws = sm.get("_aws")
    assert isinstance(aws, dict), sm
    assert isinstance(aws.get("Timestamp"), int), aws
    assert abs(aws["Timestamp"] / 1000 - time.time()) < 120, aws
    directives = aws.get("CloudWatchMetrics")
    assert isinstance(directives, list) and len(directives) == 1, aws
    d = directives[0]
    assert d["Namespace"] == "Sbx/test-metrics", d
    assert d["Dimensions"] == [[]], d
    names = [m["Name"] for m in d["Metrics"]]
    assert sorted(names) == sorted(GAUGES[1:]), names
    for m in d["Metrics"]:
        assert m["Unit"] in ("Count", "Seconds"), m
        value = sm.get(m["Name"])
        assert isinstance(value, (int, float)), (m["Name"], value)
        if m["Name"].endswith("_age_seconds"):
            assert abs(value - v[m["Name"]]) <= 5, (m["Name"], value, v[m["Name"]])
        else:
            assert value == v[m["Name"]], (m["Name"], value, v[m["Name"]])
    assert sm["sbx_reaper_last_run_terminated"] == sm["counts"]["terminated"]
    # The default namespace, and none for a dry run.
    assert r.run_ok().summary["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Sbx"
    dry = r.run_ok("--dry-run").summary
    assert "_aws" not in dry and "sbx_sandboxes_overdue" not in dry, dry


def test_database_down_is_503_not_zeros():
    """A scrape that cannot read the figures must not say 0 overdue."""
    before = t.responder_pids("sbx-meta")
    t.pg_ctl("stop", "-m", "fast")
    try:
        for _ in range(4):  # enough to reach every worker
            resp = t.get("/metrics")
            p = t.assert_problem(resp, 503)
            assert b"sbx_sandboxes_overdue" not in resp.body, p
    finally:
        t.pg_ctl("start")
    assert t.wait_until(lambda: t.get("/metrics").status == 200, timeout=30, interval=0.5), \
        "/metrics not 200 within 30 s of PostgreSQL starting again"
    assert t.responder_pids("sbx-meta") == before, "sbx-meta workers were replaced"


t.run()
