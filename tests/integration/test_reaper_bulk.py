#!/usr/bin/python3
"""The reaper at scale and under failure: 1,000 expired sandboxes and four
reapers started together (each exits 0, every sandbox ends TERMINATED, the
fake saw exactly one DeleteStack per sandbox); a reaper killed with SIGKILL
in the middle of a batch, after which the next runs finish the work and no
row is ever TERMINATING without a pending action."""

import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r

N = 1000
REAPERS = 4


@r.isolated
def test_four_reapers_one_thousand_sandboxes():
    with s.cfn_settings(delete_delay=0):
        t0 = time.monotonic()
        # Five per owner, as the per-user quota would have it.
        b = r.bulk(N, "bulk", per_user=5)
        made = time.monotonic() - t0
        assert r.statuses(b["ids"]) == {"ACTIVE": N}
        # The default lease (30 s): far longer than any call here, as in
        # production; batches of 100 rows.
        t1 = time.monotonic()
        procs = [r.start(REAPER_BATCH_SIZE=100, REAPER_LEASE_SECONDS=30)
                 for _ in range(REAPERS)]
        runs = [r.finish(p, timeout=120) for p in procs]
        took = time.monotonic() - t1
    for run in runs:
        assert run.rc == 0 and run.summary and run.summary["ok"], run
    st = r.statuses(b["ids"])
    r.note("made %d sandboxes in %.1fs; %d reapers took %.1fs; %s" % (
        N, made, REAPERS, took, st))
    for k in ("expired", "delete_sent", "terminated", "polled", "skipped"):
        r.note("%s per reaper: %s" % (k, [x.counts()[k] for x in runs]))
    assert st == {"TERMINATED": N}, st
    # Exactly one DeleteStack per sandbox, whichever reaper sent it.
    counts = r.delete_counts(b["stack_names"])
    wrong = {n: c for n, c in counts.items() if c != 1}
    assert not wrong, "DeleteStack counts other than 1: %r" % dict(
        list(wrong.items())[:10])
    # The work was shared out, not done twice: their expiries add up to N
    # (the stack's own reaper loop may have taken a few).
    assert sum(x.counts()["expired"] for x in runs) <= N
    assert sum(x.counts()["delete_sent"] for x in runs) <= N
    # The owners' live counts went down once per sandbox.
    live = t.psql("SELECT sum(live_sandboxes)::text, count(*)::text FROM users"
                  " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
                  ids=",".join(b["user_ids"]))
    assert live == [["0", str(N // 5)]], live
    # Each sandbox has exactly one terminating and one terminated event.
    ev = t.psql("SELECT action, count(*)::text FROM sandbox_events"
                " WHERE sandbox_id = ANY(string_to_array(:'ids', ',')::uuid[])"
                " GROUP BY action ORDER BY action", ids=",".join(b["ids"]))
    assert ev == [["terminated", str(N)], ["terminating", str(N)]], ev
    assert took < 60, "four reapers took %.1fs" % took


@r.isolated
def test_sigkill_mid_batch_then_next_run_finishes():
    n = 60
    with s.cfn_settings(delete_delay=0, slow_ms=40):
        b = r.bulk(n, "kill", per_user=5)
        proc = r.start(REAPER_BATCH_SIZE=30, REAPER_LEASE_SECONDS=1)
        # Kill it once part of the first batch is done.
        moved = t.wait_until(
            lambda: n - r.statuses(b["ids"]).get("ACTIVE", 0) >= 8,
            timeout=60, interval=0.05)
        killed = r.sigkill(proc)
    assert moved, (r.statuses(b["ids"]), killed)
    assert killed.rc == -9, killed
    st = r.statuses(b["ids"])
    r.note("after SIGKILL: %s" % st)
    assert st.get("ACTIVE", 0) > 0, "killed too late to test anything: %s" % st

    # Whatever instant it died at, a TERMINATING row says what is left:
    # a DeleteStack to send, or a delete CloudFormation has accepted
    # (then it is polled).
    rows = [x for x in r.rows(b["ids"]) if x["status"] == "TERMINATING"]
    stacks = {}
    for x in rows:
        if x["pending_action"] == "delete":
            continue
        assert x["pending_action"] == "none", x
        st_ = s.cfn_stacks(t.setting("STACK_NAME_PREFIX", "sbx-") + x["name"])
        stacks[x["name"]] = st_[-1]["status"]
        assert st_[-1]["status"] in ("DELETE_IN_PROGRESS", "DELETE_COMPLETE"), (x, st_)
    r.note("TERMINATING after the kill: %d pending delete, %d deleting" % (
        sum(1 for x in rows if x["pending_action"] == "delete"), len(stacks)))

    # The next runs finish the work (once the dead reaper's lease of one
    # second has passed).
    time.sleep(1.2)
    with s.cfn_settings(delete_delay=0):
        st = r.until_settled(b["ids"], runs=6, REAPER_LEASE_SECONDS=1)
    assert st == {"TERMINATED": n}, st
    counts = r.delete_counts(b["stack_names"])
    # Every stack deleted; a DeleteStack the killed reaper sent but never
    # recorded may be sent once more (harmless: AWS ignores it).
    assert all(1 <= c <= 2 for c in counts.values()), counts
    r.note("DeleteStack sent twice for %d of %d" % (
        sum(1 for c in counts.values() if c == 2), n))
    assert sum(1 for c in counts.values() if c == 2) <= 1, counts
    live = t.psql("SELECT sum(live_sandboxes)::text FROM users"
                  " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
                  ids=",".join(b["user_ids"]))
    assert live == [["0"]], live


t.run()
