#!/usr/bin/python3
"""CloudFormation failing under the reaper: throttling and 500s retried
with backoff; DELETE_FAILED retried, then flagged stuck (retried at the
one-hour cap), then the admin routes retry and forget; a create that never
reached AWS completed, or not made when the sandbox expired meanwhile."""

import json
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r


# The backoff base of these runs: long enough that the run right after a
# failed one comes before it even on a loaded machine (3 s was not, at load
# 20), short enough to wait out.
BACKOFF = 8


def _fault_then_recovery(fault):
    """One expired sandbox; DeleteStack answers `fault` (4 times: every
    attempt of the client's own retries) and then works."""
    b = r.bulk(1, "fault")
    sid, stack = b["ids"][0], b["stack_names"][0]
    with s.cfn_settings(delete_delay=0, only_actions=["DeleteStack"], **fault):
        run = r.run_ok(REAPER_BACKOFF_SECONDS=BACKOFF)
    c = run.counts()
    assert c["expired"] == 1 and c["delete_retry"] == 1 and c["delete_sent"] == 0, run
    row = r.rows([sid])[0]
    # Still TERMINATING, the DeleteStack pending, one failed attempt, the
    # next one after the backoff base (BACKOFF here), and it says why.
    assert row["status"] == "TERMINATING" and row["pending_action"] == "delete", row
    assert row["attempts"] == "1" and row["stuck"] == "false", row
    assert BACKOFF - 1 <= float(row["backoff"]) <= BACKOFF + 1, row
    assert "pending a retry" in row["status_reason"], row
    # The client's own retries (4 attempts) all met the fault.
    assert s.cfn_count(stack, "DeleteStack") == 4, s.cfn_calls()["stacks"].get(stack)
    # Not before its time: a run now leaves it alone.
    run = r.run_ok()
    assert s.cfn_count(stack, "DeleteStack") == 4
    time.sleep(max(0.0, float(r.rows([sid])[0]["next_in"])) + 0.2)
    with s.cfn_settings(delete_delay=0):
        run = r.run_ok()
    assert run.counts()["delete_sent"] == 1 and run.counts()["terminated"] == 1, run
    row = r.rows([sid])[0]
    assert row["status"] == "TERMINATED", row
    assert s.cfn_count(stack, "DeleteStack") == 5
    assert s.cfn_live(stack) == []
    return row


@r.isolated
def test_throttling_retried_with_backoff():
    _fault_then_recovery({"throttle_next": 4})


@r.isolated
def test_server_errors_retried_with_backoff():
    _fault_then_recovery({"fail_next": 4})


@r.isolated
def test_cloudformation_down_ends_its_use_for_the_run():
    """Down: a few rows try (and are rescheduled); the rest are moved to
    TERMINATING and wait for the next run instead of each waiting out its
    own timeouts; the run still exits 0."""
    b = r.bulk(8, "down")
    with s.cfn_settings(down=True):
        t0 = time.monotonic()
        run = r.run_ok()
        took = time.monotonic() - t0
    c = run.counts()
    assert c["expired"] == 8 and c["delete_retry"] == 3 and c["delete_sent"] == 0, run
    assert r.statuses(b["ids"]) == {"TERMINATING": 8}
    rows = r.rows(b["ids"])
    assert sum(1 for x in rows if x["attempts"] == "1") == 3, rows
    assert all(x["pending_action"] == "delete" for x in rows), rows
    r.note("8 expired with CloudFormation down: %.1fs" % took)
    # Up again: the next runs (after lease and backoff) finish.
    time.sleep(2.2)
    with s.cfn_settings(delete_delay=0):
        st = r.until_settled(b["ids"], runs=6, pause=1.0)
    assert st == {"TERMINATED": 8}, st


def _admin(method, path, body=None, **kw):
    return s.api(method, path, s.ADMIN, body, **kw)


@r.isolated
def test_delete_failed_then_stuck_then_retry_and_forget():
    b = r.bulk(2, "stuck", owner=r.api_user("stuck"))
    (a_id, f_id), (a_name, f_name) = b["ids"], b["names"]
    a_stack, f_stack = b["stack_names"]
    over = {"REAPER_MAX_ATTEMPTS": 3, "REAPER_BACKOFF_SECONDS": 1,
            "REAPER_LEASE_SECONDS": 1}
    with s.cfn_settings(delete_delay=0, fail_delete=[a_stack, f_stack]):
        # DELETE_FAILED, retried after the backoff, again and again; the
        # third failure flags them stuck. (The backoff's length is the
        # throttling tests' business: here each run finds them due.)
        def stuck():
            r.run_ok(**over)
            rows = r.rows(b["ids"])
            t.psql("UPDATE sandboxes SET next_attempt_at = now()"
                   " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])"
                   " AND NOT stuck", ids=",".join(b["ids"]))
            return all(x["stuck"] == "true" for x in rows)
        assert t.wait_until(stuck, timeout=30, interval=0.1), r.rows(b["ids"])
        rows = r.rows(b["ids"])
        for x in rows:
            assert x["status"] == "TERMINATING", x
            assert x["pending_action"] == "delete" and x["attempts"] == "3", x
            # Retries go on, at the cap (one hour).
            assert 3500 <= float(x["next_in"]) <= 3600, x
            assert "stuck after 3 attempts" in x["status_reason"], x
            assert "failed to delete" in x["status_reason"], x
        assert s.cfn_count(a_stack, "DeleteStack") == 3
        # One "stuck" event each (a webhook sandbox.stuck).
        for sid in b["ids"]:
            assert [e[0] for e in r.events(sid)].count("stuck") == 1, r.events(sid)
        # A run now does not touch them.
        run = r.run_ok(**over)
        assert run.counts()["stuck"] >= 2, run
        assert s.cfn_count(a_stack, "DeleteStack") == 3

        # Operators see them.
        rep = t.assert_json(_admin("GET", "/api/jobs/reaper"), 200)
        stuck_jobs = {j["sandbox"]: j for j in rep["stuck"]}
        for n in (a_name, f_name):
            assert n in stuck_jobs, rep["stuck"]
            j = stuck_jobs[n]
            assert j["stuck"] is True and j["action"] == "retry-delete", j
            assert j["attempts"] == 3 and "stuck" in j["status_reason"], j
        # The owner sees the job as stuck too; users cannot see the
        # reaper's page, nor retry or forget.
        user = b["email"]
        mine = t.assert_json(s.api("GET", "/api/jobs", user), 200)
        assert {j["sandbox"] for j in mine} == {a_name, f_name}, mine
        assert all(j["stuck"] for j in mine), mine
        t.assert_problem(s.api("GET", "/api/jobs/reaper", user), 403)
        t.assert_problem(s.api("POST", "/api/sandboxes/%s/retry" % a_name,
                               user), 403)
        t.assert_problem(s.api("POST", "/api/sandboxes/%s/forget" % f_name,
                               user, {"reason": "x"}), 403)

    # The cause is fixed by hand (fail_delete over): retry now.
    with s.cfn_settings(delete_delay=0):
        resp = _admin("POST", "/api/sandboxes/%s/retry" % a_name)
        got = t.assert_json(resp, 202)
        assert got["name"] == a_name and got["stuck"] is False, got
        assert got["attempts"] == 0, got
        assert s.cfn_count(a_stack, "DeleteStack") == 4
        r.until_settled([a_id], runs=3, **over)
    assert r.rows([a_id])[0]["status"] == "TERMINATED"
    ev = r.events(a_id)
    retry = [e for e in ev if e[0] == "retry"]
    assert len(retry) == 1 and retry[0][1] == s.ADMIN, ev
    # Nothing left to retry.
    t.assert_problem(_admin("POST", "/api/sandboxes/%s/retry" % a_name), 409)

    # The other stack was cleaned up by hand: forget it, saying why.
    path = "/api/sandboxes/%s/forget" % f_name
    t.assert_problem(_admin("POST", path, raw="", content_type="application/json"), 400)
    s.assert_invalid(_admin("POST", path, {}), "reason")
    s.assert_invalid(_admin("POST", path, {"reason": "   "}), "reason")
    s.assert_invalid(_admin("POST", path, {"reason": "x" * 501}), "reason")
    s.assert_invalid(_admin("POST", path, {"reason": "ok", "force": True}), "force")
    calls = s.cfn_count(f_stack, "DeleteStack")
    got = t.assert_json(_admin("POST", path, {"reason": "stack removed by hand, ticket OPS-42"}), 200)
    assert got["status"] == "TERMINATED" and got["terminated_at"], got
    assert "OPS-42" in got["status_reason"], got
    last = r.events(f_id)[-1]
    assert last[0] == "terminated" and last[1] == s.ADMIN, last
    assert last[2] == "TERMINATING" and last[3] == "TERMINATED", last
    assert "OPS-42" in last[4], last
    # Forgetting calls no CloudFormation, and is done once.
    assert s.cfn_count(f_stack, "DeleteStack") == calls
    t.assert_problem(_admin("POST", path, {"reason": "again"}), 409)
    t.assert_problem(_admin("POST", "/api/sandboxes/t-no-such-box/forget",
                            {"reason": "x"}), 404)
    live = t.psql("SELECT live_sandboxes FROM users WHERE id = :'id'",
                  id=b["user_id"])
    assert live == [["0"]], live


def _create_pending(tag, expiry, **cfn):
    """One PROVISIONING sandbox whose CreateStack was never sent (no
    stack), due now, and a reaper run over it with CloudFormation set to
    cfn: (its id, its stack's name, the run)."""
    b = r.bulk(1, tag, status="PROVISIONING", stacks=False,
               expiry=expiry, pending="create", next_attempt="-1 second")
    sid, stack = b["ids"][0], b["stack_names"][0]
    with s.cfn_settings(**cfn):
        run = r.run_ok()
    return sid, stack, run


@r.isolated
def test_create_that_never_reached_aws_is_completed():
    # The row was committed, then the process died before CreateStack.
    sid, stack, run = _create_pending("crt", "+10 minutes", create_delay=0)
    assert run.counts()["create_sent"] == 1 and run.counts()["active"] == 1, run
    row = r.rows([sid])[0]
    assert row["status"] == "ACTIVE" and row["pending_action"] == "none", row
    stacks = s.cfn_stacks(stack)
    assert len(stacks) == 1, stacks
    # Made with the sandbox's id as ClientRequestToken, and its tags.
    assert stacks[0]["client_request_token"] == sid, stacks
    assert stacks[0]["tags"]["sbx:sandbox-id"] == sid, stacks
    assert row["stack_id"] == stacks[0]["stack_id"], (row, stacks)
    assert s.cfn_count(stack, "CreateStack") == 1
    assert [e[0] for e in r.events(sid)][-1] == "active"
    # Tidy up.
    t.psql("UPDATE sandboxes SET expiry_time = now() WHERE id = :'id'", id=sid)
    with s.cfn_settings(delete_delay=0):
        r.until_settled([sid])


@r.isolated
def test_create_not_made_when_the_sandbox_expired_meanwhile():
    sid, stack, run = _create_pending("crx", "-1 minute", create_delay=0)
    assert run.counts()["create_sent"] == 0 and run.counts()["terminated"] == 1, run
    row = r.rows([sid])[0]
    assert row["status"] == "TERMINATED", row
    # CloudFormation was asked whether a stack exists (none), never to
    # make one.
    assert s.cfn_stacks(stack) == []
    assert s.cfn_count(stack, "CreateStack") == 0
    assert s.cfn_count(stack, "DescribeStacks") >= 1
    acts = [e[0] for e in r.events(sid)]
    assert acts[-2:] == ["terminating", "terminated"], acts


@r.isolated
def test_create_retried_after_an_outage():
    sid, stack, run = _create_pending("cro", "+10 minutes", create_delay=0,
                                      fail_next=4,
                                      only_actions=["CreateStack"])
    assert run.counts()["create_retry"] == 1, run
    row = r.rows([sid])[0]
    assert row["status"] == "PROVISIONING" and row["pending_action"] == "create", row
    assert row["attempts"] == "1" and "pending a retry" in row["status_reason"], row
    time.sleep(1.2)
    with s.cfn_settings(create_delay=0):
        run = r.run_ok()
    assert run.counts()["create_sent"] == 1, run
    assert r.rows([sid])[0]["status"] == "ACTIVE"
    # The failed attempts never reached the stage of making a stack:
    # exactly one exists, with the sandbox's token.
    live = s.cfn_live(stack)
    assert len(live) == 1 and live[0]["client_request_token"] == sid, live
    t.psql("UPDATE sandboxes SET expiry_time = now() WHERE id = :'id'", id=sid)
    with s.cfn_settings(delete_delay=0):
        r.until_settled([sid])


t.run()
