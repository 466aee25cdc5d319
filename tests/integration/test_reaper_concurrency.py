#!/usr/bin/python3
"""The reaper's CloudFormation calls in flight at once: never more than
REAPER_CONCURRENCY (and more than one when it allows more), as the local
CloudFormation counts them; one call failing among many in flight leaves
the others done and its row retried later; reapers running at once, each
with calls in flight, still send exactly one DeleteStack per stack; a
reaper killed while its calls are in flight leaves rows the next run
finishes without a second DeleteStack."""

import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r


def _max_in_flight(action):
    return s.cfn_calls().get("max_in_flight", {}).get(action, 0)


def _reset_in_flight():
    s.cfn("POST", "/_fake/calls", {})


@r.isolated
def test_calls_in_flight_bounded_by_the_setting():
    n = 24
    b = r.bulk(n, "conc", per_user=5)
    # Each call takes 150 ms at the fake, so that calls sent together
    # are seen together.
    with s.cfn_settings(delete_delay=0, slow_ms=150,
                        only_actions=["DeleteStack", "DescribeStacks"]):
        _reset_in_flight()
        run = r.run_ok(REAPER_CONCURRENCY=4)
        top = _max_in_flight("DeleteStack")
        top_describe = _max_in_flight("DescribeStacks")
    c = run.counts()
    # At least this test's rows: the run also takes whatever else was due
    # on the stack. The rows and calls checked below are this test's own.
    assert c["expired"] >= n and c["delete_sent"] >= n, run
    assert c["terminated"] >= n, run
    r.note("REAPER_CONCURRENCY=4: at most %d DeleteStack, %d DescribeStacks "
           "in flight" % (top, top_describe))
    assert 1 < top <= 4, top
    assert 1 < top_describe <= 4, top_describe
    assert r.statuses(b["ids"]) == {"TERMINATED": n}
    counts = r.delete_counts(b["stack_names"])
    assert all(x == 1 for x in counts.values()), counts

    # REAPER_CONCURRENCY=1: one call at a time.
    b = r.bulk(6, "conc1")
    with s.cfn_settings(delete_delay=0, slow_ms=100,
                        only_actions=["DeleteStack", "DescribeStacks"]):
        _reset_in_flight()
        run = r.run_ok(REAPER_CONCURRENCY=1)
        top = _max_in_flight("DeleteStack")
    assert run.counts()["delete_sent"] >= 6, run
    assert top == 1, top
    assert r.statuses(b["ids"]) == {"TERMINATED": 6}


@r.isolated
def test_one_call_failing_among_many_in_flight():
    n = 12
    b = r.bulk(n, "onefail", per_user=4)
    bad = b["stack_names"][5]
    bad_id = b["ids"][5]
    # Every call about that one stack answers 500 (each of the client's
    # four attempts); the others are slow enough to overlap.
    with s.cfn_settings(delete_delay=0, slow_ms=100,
                        only_actions=["DeleteStack"],
                        unavailable_stacks=[bad]):
        _reset_in_flight()
        # The backoff outlasts the run: a retry of the failed row within
        # this same run (due again after 1 s on a slow machine) would be
        # counted as a second attempt of this one.
        run = r.run_ok(REAPER_CONCURRENCY=4, REAPER_BACKOFF_SECONDS=6)
        top = _max_in_flight("DeleteStack")
    # The run's counts take in whatever else was due on the stack (rows
    # earlier tests left retrying; a first try of this test when it is run
    # again): at least this test's rows. The rows and the calls below are
    # this test's own, and exact.
    c = run.counts()
    assert c["expired"] >= n, run
    assert c["delete_sent"] >= n - 1 and c["delete_retry"] >= 1, run
    assert c["terminated"] >= n - 1, run
    assert top > 1, "the calls did not overlap (%d at most)" % top
    rows = {x["name"]: x for x in r.rows(b["ids"])}
    failed = rows[b["names"][5]]
    assert failed["status"] == "TERMINATING", failed
    assert failed["pending_action"] == "delete", failed
    assert failed["attempts"] == "1", failed
    assert "pending a retry" in failed["status_reason"], failed
    assert r.statuses([i for i in b["ids"] if i != bad_id]) == {
        "TERMINATED": n - 1}
    assert s.cfn_count(bad, "DeleteStack") == 4
    assert s.cfn_live(bad) != []

    # Once CloudFormation takes it again, a run after the backoff ends it.
    time.sleep(max(0.0, float(r.rows([bad_id])[0]["next_in"])) + 0.2)
    with s.cfn_settings(delete_delay=0):
        run = r.run_ok()
    assert run.counts()["delete_sent"] >= 1, run
    assert r.statuses(b["ids"]) == {"TERMINATED": n}
    assert s.cfn_count(bad, "DeleteStack") == 5
    assert s.cfn_live(bad) == []


@r.isolated
def test_reapers_at_once_each_with_calls_in_flight():
    n, reapers = 200, 4
    b = r.bulk(n, "conc4", per_user=5)
    with s.cfn_settings(delete_delay=0, slow_ms=20,
                        only_actions=["DeleteStack"]):
        _reset_in_flight()
        procs = [r.start(REAPER_CONCURRENCY=8, REAPER_BATCH_SIZE=25,
                         REAPER_LEASE_SECONDS=30) for _ in range(reapers)]
        runs = [r.finish(p, timeout=120) for p in procs]
        top = _max_in_flight("DeleteStack")
    for run in runs:
        assert run.rc == 0 and run.summary and run.summary["ok"], run
    r.note("%d reapers: delete_sent %s; %d DeleteStack in flight at most" % (
        reapers, [x.counts()["delete_sent"] for x in runs], top))
    assert top > 1, top
    assert r.statuses(b["ids"]) == {"TERMINATED": n}
    counts = r.delete_counts(b["stack_names"])
    wrong = {k: v for k, v in counts.items() if v != 1}
    assert not wrong, "DeleteStack counts other than 1: %r" % dict(
        list(wrong.items())[:10])
    assert sum(x.counts()["delete_sent"] for x in runs) >= n
    ev = t.psql("SELECT action, count(*)::text FROM sandbox_events"
                " WHERE sandbox_id = ANY(string_to_array(:'ids', ',')::uuid[])"
                " GROUP BY action ORDER BY action", ids=",".join(b["ids"]))
    assert ev == [["terminated", str(n)], ["terminating", str(n)]], ev
    live = t.psql("SELECT sum(live_sandboxes)::text FROM users"
                  " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
                  ids=",".join(b["user_ids"]))
    assert live == [["0"]], live


@r.isolated
def test_killed_with_calls_in_flight_then_next_run_finishes():
    n = 40
    b = r.bulk(n, "killfl", per_user=5)
    with s.cfn_settings(delete_delay=0, slow_ms=300,
                        only_actions=["DeleteStack"]):
        _reset_in_flight()
        proc = r.start(REAPER_CONCURRENCY=8, REAPER_LEASE_SECONDS=1)
        # Killed once calls are in flight: the first one alone, then eight.
        busy = t.wait_until(lambda: _max_in_flight("DeleteStack") >= 4,
                            timeout=60, interval=0.05)
        killed = r.sigkill(proc)
    assert busy, "no calls in flight before the kill"
    assert killed.rc == -9, killed
    st = r.statuses(b["ids"])
    r.note("after SIGKILL with calls in flight: %s" % st)
    # Nothing is lost: every row not yet TERMINATED still says what is
    # left (a DeleteStack pending, or one accepted, then polled), or is
    # still ACTIVE.
    for x in r.rows(b["ids"]):
        if x["status"] == "TERMINATING":
            assert x["pending_action"] in ("delete", "none"), x
        else:
            assert x["status"] in ("ACTIVE", "TERMINATED"), x
    time.sleep(1.2)
    with s.cfn_settings(delete_delay=0):
        st = r.until_settled(b["ids"], runs=6, REAPER_LEASE_SECONDS=1)
    assert st == {"TERMINATED": n}, st
    # A DeleteStack the killed reaper had in flight is found accepted
    # (DescribeStacks) and not sent again.
    counts = r.delete_counts(b["stack_names"])
    assert all(x == 1 for x in counts.values()), counts
    live = t.psql("SELECT sum(live_sandboxes)::text FROM users"
                  " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
                  ids=",".join(b["user_ids"]))
    assert live == [["0"]], live


t.run()
