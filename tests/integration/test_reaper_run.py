#!/usr/bin/python3
"""The reaper's runs against the stack: an expired sandbox terminated end
to end by one run; a --loop keeping every sandbox within one interval of
its expiry; the run record; orphan stacks reported, and deleted only with
--delete-orphans."""

import json
import signal
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r


def iso_epoch(text):
    """'2026-11-26T03:24:07.496Z' -> seconds since the epoch."""
    import calendar
    whole, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + \
        (float("0." + frac) if frac else 0.0)


@r.isolated
def test_expired_sandbox_terminated_by_one_run():
    user = s.fresh_email("exp")
    name = s.fresh_name("exp")
    with s.cfn_settings(create_delay=0, delete_delay=0):
        sb = s.create(user, name)
        s.wait_status(user, name, "ACTIVE")
        # Its time is up (set in the database: no test waits 15 minutes).
        t.psql("UPDATE sandboxes SET expiry_time = now() - interval '5 seconds'"
               " WHERE id = :'id'", id=sb["id"])
        started = time.time()
        run = r.run_ok()
    c = run.counts()
    assert c["expired"] >= 1 and c["delete_sent"] >= 1, run
    assert c["terminated"] >= 1, run
    got = t.assert_json(s.get(user, name), 200)
    assert got["status"] == "TERMINATED", got
    assert got["terminated_at"], got
    assert "expired at" in (got["status_reason"] or ""), got
    # Its stack is gone, deleted once.
    assert s.cfn_live(s.stack_name(name)) == [], s.cfn_stacks(s.stack_name(name))
    assert s.cfn_count(s.stack_name(name), "DeleteStack") == 1
    # The events tell the story, each step by the reaper.
    ev = r.events(sb["id"])
    acts = [e[0] for e in ev]
    assert acts[-2:] == ["terminating", "terminated"], ev
    assert ev[-2][1] == "reaper" and ev[-1][1] == "reaper", ev
    assert s.live_count(user) == 0
    # The run is recorded with its counts and duration, and said so on
    # stdout in one JSON line.
    rid = run.summary["run_id"]
    rec = t.psql("SELECT ok::text, duration_ms::text, counts, finished_at"
                 " IS NOT NULL, dry_run::text FROM reaper_runs"
                 " WHERE id = :'id'", id=rid)
    assert rec and rec[0][0] == "true" and rec[0][3] == "t", rec
    assert int(rec[0][1]) >= 0 and rec[0][4] == "false", rec
    assert json.loads(rec[0][2]) == c, (rec, c)
    assert run.summary["duration_ms"] <= (time.time() - started) * 1000 + 1000
    assert len(run.lines) == 1, run


def _duration(line):
    """A run's duration in seconds from its JSON summary line, else 0."""
    try:
        return float(json.loads(line).get("duration_ms") or 0) / 1000
    except (ValueError, AttributeError, TypeError):
        return 0.0


@r.isolated
def test_loop_keeps_expiry_within_one_interval():
    """With --loop I (REAPER_INTERVAL_SECONDS's role: the pause between
    runs) and a delete delay D in the fake, no sandbox stays ACTIVE more
    than I past its expiry, its stack is gone by expiry + I + D, and the
    row is TERMINATED by the run after that (within 2I + D). A slack of
    one run's own duration is allowed (the longest run's, as it reported
    it, and at least 1.5 s): on a loaded machine a run takes longer."""
    interval, delay = 2, 1
    with s.cfn_settings(delete_delay=delay):
        b = r.bulk(3, "loop", expiry="+1 second")
        # Staggered expiries: each lands at another point of the cycle.
        t.psql("UPDATE sandboxes SET expiry_time = now() +"
               " (CASE name WHEN :'a' THEN 1 WHEN :'b' THEN 2 ELSE 3 END)"
               " * interval '1.3 seconds'"
               " WHERE owner_id = :'uid'::uuid",
               a=b["names"][0], b=b["names"][1], uid=b["user_id"])
        proc = r.start("--loop", str(interval), REAPER_LEASE_SECONDS=1)
        try:
            ok = t.wait_until(lambda: r.statuses(b["ids"]).get("TERMINATED")
                              == 3, timeout=30, interval=0.3)
        finally:
            proc.send_signal(signal.SIGTERM)
            done = r.finish(proc, timeout=30)
    assert ok, (r.rows(b["ids"]), done)
    # SIGTERM ends the loop cleanly, after a complete run.
    assert done.rc == 0, done
    assert len(done.lines) >= 2, done
    slack = max([1.5] + [_duration(x) + 0.5 for x in done.lines])
    rows = t.psql(
        "SELECT s.name, extract(epoch FROM s.expiry_time)::text,"
        " extract(epoch FROM e.time)::text,"
        " extract(epoch FROM s.terminated_at)::text"
        " FROM sandboxes s JOIN sandbox_events e ON e.sandbox_id = s.id"
        " AND e.action = 'terminating'"
        " WHERE s.owner_id = :'uid'::uuid ORDER BY s.name", uid=b["user_id"])
    assert len(rows) == 3, rows
    stacks = {st["name"]: st for n in b["stack_names"]
              for st in s.cfn_stacks(n)}
    for name, exp, left_active, terminated in rows:
        exp, left_active, terminated = float(exp), float(left_active), float(terminated)
        st = stacks[t.setting("STACK_NAME_PREFIX", "sbx-") + name]
        gone = iso_epoch(st["deleted"]) + delay
        r.note("%s: ACTIVE %.2fs past expiry, stack gone %.2fs after, "
               "TERMINATED %.2fs after" % (name, left_active - exp,
                                           gone - exp, terminated - exp))
        assert left_active - exp <= interval + slack, (name, rows)
        assert gone - exp <= interval + delay + slack, (name, st)
        assert terminated - exp <= 2 * interval + delay + 2 * slack, (name, rows)
    assert all(v == 1 for v in r.delete_counts(b["stack_names"]).values())


@r.isolated
def test_orphans_reported_then_deleted_only_when_asked():
    prefix = t.setting("STACK_NAME_PREFIX", "sbx-")
    # A stack tagged with an id no row has; one whose row is TERMINATED;
    # and a live sandbox's stack, which is no orphan.
    lost = r.bulk(1, "orph", stacks=True, status="TERMINATED")
    live = r.bulk(1, "live", expiry="+1 hour")
    stray_name = prefix + s.fresh_name("stray")
    stray = s.cfn("POST", "/_fake/stacks", {
        "name": stray_name, "tags": {"sbx:sandbox-id": "0f8fad5b-d9cb-469f-a165-70867728950e"},
        "status": "CREATE_COMPLETE"})
    # Tagged, but not ours by name: another deployment's; never reported.
    other_name = "other-" + s.fresh_name("x")
    s.cfn("POST", "/_fake/stacks", {
        "name": other_name, "tags": {"sbx:sandbox-id": "not-a-uuid"},
        "status": "CREATE_COMPLETE"})
    orphans = {lost["stack_names"][0], stray_name}
    with s.cfn_settings(delete_delay=0):
        run = r.run_ok()
        found = set(run.summary["orphans"])
        assert orphans <= found, run
        assert live["stack_names"][0] not in found and other_name not in found, run
        assert run.counts()["orphans"] >= 2 and run.counts()["orphans_deleted"] == 0, run
        # Reported in the run record, and still there.
        rec = json.loads(t.psql("SELECT orphans FROM reaper_runs WHERE id = :'id'",
                                id=run.summary["run_id"])[0][0])
        by_name = {o["stack_name"]: o for o in rec}
        assert orphans <= set(by_name), rec
        assert by_name[stray_name]["stack_id"] == stray["stack_id"], rec
        assert by_name[stray_name]["sandbox_id"] == "0f8fad5b-d9cb-469f-a165-70867728950e", rec
        assert by_name[stray_name]["deleted"] is False, rec
        for n in orphans:
            assert len(s.cfn_live(n)) == 1, s.cfn_stacks(n)
            assert s.cfn_count(n, "DeleteStack") == 0, n

        # --delete-orphans deletes them, and only them.
        run = r.run_ok("--delete-orphans")
        assert orphans <= set(run.summary["orphans"]), run
        assert run.counts()["orphans_deleted"] >= 2, run
        for n in orphans:
            assert s.cfn_live(n) == [], s.cfn_stacks(n)
            assert s.cfn_count(n, "DeleteStack") == 1, n
        assert len(s.cfn_live(live["stack_names"][0])) == 1
        assert len(s.cfn_live(other_name)) == 1

        # Gone: no longer reported.
        run = r.run_ok()
        assert not orphans & set(run.summary["orphans"]), run
    # Tidy: the live one goes with its expiry.
    t.psql("UPDATE sandboxes SET expiry_time = now() WHERE id = :'id'",
           id=live["ids"][0])
    with s.cfn_settings(delete_delay=0):
        r.until_settled(live["ids"])


t.run()
