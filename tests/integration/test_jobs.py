#!/usr/bin/python3
"""GET /api/jobs (sbx-jobs) lists exactly the caller's live sandboxes with
their expiry (an admin's: everyone's); GET /api/jobs/reaper is the admins'
view of the last runs, stuck sandboxes and orphans."""

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r


def _jobs(email):
    jobs = t.assert_json(s.api("GET", "/api/jobs", email), 200)
    assert isinstance(jobs, list), jobs
    return jobs


def test_jobs_lists_exactly_the_callers_live_sandboxes():
    alice, bob = s.fresh_email("alice"), s.fresh_email("bob")
    a1, a2, a3 = (s.fresh_name("ja") for _ in range(3))
    b1 = s.fresh_name("jb")
    with s.cfn_settings(create_delay=0, delete_delay=0):
        s.create(alice, a1)
        s.create(alice, a2, ttl_minutes=30)
        s.create(alice, a3)
        s.create(bob, b1)
        for who, n in ((alice, a1), (alice, a2), (alice, a3), (bob, b1)):
            s.wait_status(who, n, "ACTIVE")
        # One of alice's is gone: not a job any more.
        t.assert_json(s.delete(alice, a3), 202)
        s.wait_status(alice, a3, "TERMINATED")
    try:
        jobs = _jobs(alice)
        assert sorted(j["sandbox"] for j in jobs) == sorted([a1, a2]), jobs
        for j in jobs:
            sb = t.assert_json(s.get(alice, j["sandbox"]), 200)
            # The original tool's shape, and the expiry it will act at.
            assert j["id"] == "terminate-" + j["sandbox"], j
            assert j["next_run_time"] == sb["expiry_time"], (j, sb)
            assert j["expiry_time"] == sb["expiry_time"], (j, sb)
            assert j["action"] == "terminate" and j["status"] == "ACTIVE", j
            assert j["attempts"] == 0 and j["stuck"] is False, j
            assert j["owner"] == alice, j
        # Soonest first.
        assert [j["sandbox"] for j in jobs] == [a1, a2], jobs

        assert [j["sandbox"] for j in _jobs(bob)] == [b1]
        # Someone with no sandbox has no jobs.
        assert _jobs(s.fresh_email("nobody")) == []
        # An admin sees everyone's.
        every = {j["sandbox"]: j for j in _jobs(s.ADMIN)}
        assert {a1, a2, b1} <= set(every) and a3 not in every, sorted(every)
        assert every[b1]["owner"] == bob, every[b1]

        # A job follows its sandbox: extended, then being deleted.
        t.assert_json(s.api("PATCH", "/api/sandboxes/" + a1, alice,
                            {"extend_minutes": 10}), 200)
        sb = t.assert_json(s.get(alice, a1), 200)
        j = {x["sandbox"]: x for x in _jobs(alice)}[a1]
        assert j["next_run_time"] == sb["expiry_time"], (j, sb)
        with s.cfn_settings(delete_delay=30):
            t.assert_json(s.delete(alice, a1), 202)
            j = {x["sandbox"]: x for x in _jobs(alice)}[a1]
            assert j["status"] == "TERMINATING" and j["action"] == "refresh", j
    finally:
        with s.cfn_settings(delete_delay=0):
            s.cleanup(alice, a1, a2)
            s.cleanup(bob, b1)


def test_jobs_needs_a_signed_in_caller():
    t.assert_problem(t.get("/api/jobs"), 401)
    t.assert_problem(t.get("/api/jobs", headers={"Authorization": "Bearer nope"}), 401)
    t.assert_problem(t.get("/api/jobs/reaper"), 401)
    # GET only.
    r_ = s.api("POST", "/api/jobs", s.fresh_email("m"), {})
    assert r_.status == 405, r_


def test_reaper_page_for_admins():
    user = s.fresh_email("notadmin")
    t.assert_problem(s.api("GET", "/api/jobs/reaper", user), 403)
    run = r.run_ok()
    rep = t.assert_json(s.api("GET", "/api/jobs/reaper?limit=50", s.ADMIN), 200)
    assert set(rep) >= {"runs", "stuck", "orphans"}, rep.keys()
    assert isinstance(rep["stuck"], list) and isinstance(rep["orphans"], list)
    runs = {x["id"]: x for x in rep["runs"]}
    assert run.summary["run_id"] in runs, list(runs)[:5]
    mine = runs[run.summary["run_id"]]
    assert mine["ok"] is True and mine["finished_at"] and mine["started_at"], mine
    assert mine["counts"] == run.counts(), (mine, run.summary)
    assert isinstance(mine["duration_ms"], int), mine
    # Newest first.
    starts = [x["started_at"] for x in rep["runs"]]
    assert starts == sorted(starts, reverse=True), starts
    t.assert_problem(s.api("GET", "/api/jobs/reaper?limit=0", s.ADMIN), 400)
    t.assert_problem(s.api("GET", "/api/jobs/reaper?limit=abc", s.ADMIN), 400)
    few = t.assert_json(s.api("GET", "/api/jobs/reaper?limit=1", s.ADMIN), 200)
    assert len(few["runs"]) == 1, few


t.run()
