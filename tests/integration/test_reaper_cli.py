#!/usr/bin/python3
"""sbx-reaper as an operator runs it: --help and bad options, exit 1 with
a clear message when the database is unreachable, the settings are wrong
or AWS refuses the credentials; --dry-run changes nothing (database and
fake compared before and after); --limit; the crontab line under flock
(two at once: one skips); expiry warnings once per expiry time."""

import json
import os
import re
import shlex
import subprocess
import tempfile
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r


def test_help_and_bad_options():
    run = r.run("--help")
    assert run.rc == 0 and "usage: sbx-reaper" in run.out, run
    for opt in ("--once", "--loop", "--dry-run", "--limit", "--delete-orphans",
                "--verbose"):
        assert opt in run.out, (opt, run)
    for args, says in ((["--bogus"], "unknown option"),
                       (["--loop", "0"], "--loop"),
                       (["--limit", "x"], "--limit"),
                       (["--once", "--loop", "5"], "exclude")):
        run = r.run(*args)
        assert run.rc == 1 and says in run.err, (args, run)
        assert run.out == "", run


def test_database_unreachable_exits_1_with_a_clear_message():
    # Nothing listens on port 1 of loopback.
    run = r.run(DATABASE_URL="postgresql://sbx:unused@127.0.0.1:1/sbx",
                DB_CONNECT_TIMEOUT_SECONDS=2)
    assert run.rc == 1, run
    assert "sbx-reaper: cannot reach the database" in run.err, run
    assert "DATABASE_URL" in run.err, run
    assert run.summary is not None and run.summary["ok"] is False, run
    assert "cannot reach the database" in run.summary["error"], run
    assert "unused" not in run.err + run.out, "the password was printed"


def test_settings_wrong_exit_1_naming_the_setting():
    run = r.run(REAPER_BATCH_SIZE=5000)
    assert run.rc == 1 and "REAPER_BATCH_SIZE" in run.err, run
    run = r.run(REAPER_BACKOFF_SECONDS="soon")
    assert run.rc == 1 and "REAPER_BACKOFF_SECONDS" in run.err, run
    run = r.run(NOTIFY_WEBHOOK_URL="http://127.0.0.1:9/hook",
                NOTIFY_WEBHOOK_SECRET=None)
    assert run.rc == 1 and "NOTIFY_WEBHOOK_SECRET" in run.err, run


def test_aws_credentials_refused_exit_1():
    run = r.run(AWS_SECRET_ACCESS_KEY="wrong" + "0" * 35)
    assert run.rc == 1, run
    assert "AWS refused the credentials" in run.err, run
    assert run.summary["ok"] is False, run
    # The run is recorded as failed, with the reason.
    rec = t.psql("SELECT ok::text, error FROM reaper_runs WHERE id = :'id'",
                 id=run.summary["run_id"])
    assert rec[0][0] == "false" and "credentials" in rec[0][1], rec


def _snapshot(ids, stack_names):
    rows = t.psql(
        "SELECT row_to_json(s)::text FROM sandboxes s"
        " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[]) ORDER BY id",
        ids=",".join(ids))
    counts = t.psql(
        "SELECT (SELECT count(*) FROM sandbox_events)::text,"
        " (SELECT count(*) FROM sandbox_events WHERE delivery_state = 'pending')::text,"
        " (SELECT count(*) FROM reaper_runs)::text,"
        " (SELECT string_agg(id::text || ':' || live_sandboxes, ',' ORDER BY id)"
        "  FROM users)")
    stacks = [(st["name"], st["stack_id"], st["status"], st["deleted"])
              for n in stack_names for st in s.cfn_stacks(n)]
    calls = s.cfn_calls()["actions"]
    mutating = {k: calls.get(k, 0) for k in ("CreateStack", "DeleteStack")}
    return rows, counts, stacks, mutating


@r.isolated
def test_dry_run_changes_nothing():
    expired = r.bulk(3, "dry")
    failed = r.bulk(1, "dryf", status="FAILED", expiry="+1 hour",
                    stack_status="ROLLBACK_COMPLETE",
                    reason="The following resource(s) failed to create")
    pending = r.bulk(1, "dryc", status="PROVISIONING", stacks=False,
                     expiry="+1 hour", pending="create",
                     next_attempt="-1 second")
    soon = r.bulk(1, "dryw", expiry="+2 minutes")
    orphan = t.setting("STACK_NAME_PREFIX", "sbx-") + s.fresh_name("dryo")
    s.cfn("POST", "/_fake/stacks", {
        "name": orphan, "tags": {"sbx:sandbox-id": "9b2e4f1a-7c3d-4e5f-8a9b-0c1d2e3f4a5b"}})
    ids = expired["ids"] + failed["ids"] + pending["ids"] + soon["ids"]
    names = (expired["stack_names"] + failed["stack_names"] +
             pending["stack_names"] + soon["stack_names"] + [orphan])
    before = _snapshot(ids, names)
    run = r.run("--dry-run", "--delete-orphans", EXPIRY_WARNING_MINUTES=5)
    after = _snapshot(ids, names)
    assert run.rc == 0 and run.summary["dry_run"] is True, run
    assert run.summary["run_id"] is None, run
    assert before == after, "the dry run changed something:\n%r\n%r" % (before, after)
    # It said what it would do.
    out = run.out
    for n in expired["names"]:
        assert re.search(r"would terminate %s \(ACTIVE, expired at " % n, out), run
    assert "would terminate %s (FAILED)" % failed["names"][0] in out, run
    assert "would retry CreateStack for %s" % pending["names"][0] in out, run
    assert "would warn that %s expires at" % soon["names"][0] in out, run
    assert "would delete orphan stack %s" % orphan in out, run
    c = run.counts()
    assert c["expired"] >= 3 and c["failed"] >= 1 and c["create_sent"] >= 1, run
    assert c["warned"] >= 1 and c["orphans"] >= 1 and c["orphans_deleted"] == 0, run

    # A real run then does what the dry run announced.
    with s.cfn_settings(create_delay=0, delete_delay=0):
        run = r.run_ok("--delete-orphans", EXPIRY_WARNING_MINUTES=5)
        assert r.statuses(expired["ids"]) == {"TERMINATED": 3}
        assert r.statuses(failed["ids"]) == {"TERMINATED": 1}
        assert r.statuses(pending["ids"]) == {"ACTIVE": 1}
        assert s.cfn_live(orphan) == []
        assert [e[0] for e in r.events(soon["ids"][0])] == ["expiring"]
        t.psql("UPDATE sandboxes SET expiry_time = now()"
               " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
               ids=",".join(pending["ids"] + soon["ids"]))
        r.until_settled(pending["ids"] + soon["ids"])


@r.isolated
def test_limit_bounds_the_sandboxes_acted_on():
    b = r.bulk(5, "lim")
    with s.cfn_settings(delete_delay=0):
        run = r.run_ok("--limit", "2")
        assert run.counts()["expired"] == 2, run
        st = r.statuses(b["ids"])
        assert st.get("ACTIVE") == 3, st
        r.until_settled(b["ids"])


@r.isolated
def test_expiry_warning_once_per_expiry_time():
    b = r.bulk(1, "warn", expiry="+3 minutes")
    sid = b["ids"][0]
    r.run_ok(EXPIRY_WARNING_MINUTES=5)
    r.run_ok(EXPIRY_WARNING_MINUTES=5)
    ev = [e for e in r.events(sid) if e[0] == "expiring"]
    assert len(ev) == 1, r.events(sid)
    assert ev[0][1] == "reaper" and "expires at" in ev[0][4], ev
    # Not warned when the warning window is shorter than what is left.
    b2 = r.bulk(1, "nowarn", expiry="+10 minutes")
    r.run_ok(EXPIRY_WARNING_MINUTES=5)
    assert r.events(b2["ids"][0]) == []
    # A new expiry time earns a new warning.
    t.psql("UPDATE sandboxes SET expiry_time = expiry_time + interval '1 minute',"
           " version = version + 1 WHERE id = :'id'", id=sid)
    r.run_ok(EXPIRY_WARNING_MINUTES=5)
    r.run_ok(EXPIRY_WARNING_MINUTES=5)
    ev = [e for e in r.events(sid) if e[0] == "expiring"]
    assert len(ev) == 2, r.events(sid)
    t.psql("UPDATE sandboxes SET expiry_time = now()"
           " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
           ids=",".join([sid, b2["ids"][0]]))
    with s.cfn_settings(delete_delay=0):
        r.until_settled([sid, b2["ids"][0]])


def _cron_line():
    """The crontab's environment lines and the command of its job line."""
    path = os.path.join(t.setting("SBX_SRC_DIR"), "cron", "sbx-reaper.cron")
    env, cmd = {}, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^([A-Z_][A-Z0-9_]*)=(.*)$", line)
            if m:
                env[m.group(1)] = m.group(2)
                continue
            fields = line.split(None, 6)
            # minute hour day month weekday user command
            assert fields[:5] == ["*"] * 5, "not every minute: %r" % line
            cmd = fields[6]
    assert cmd and "flock -n" in cmd and "sbx-reaper --once" in cmd, cmd
    return env, cmd


def test_crontab_line_under_flock_two_at_once_one_skips():
    env, cmd = _cron_line()
    tmp = tempfile.mkdtemp(prefix="sbx-cron-")
    try:
        run_env = r.reaper_env()
        # As cron would: its variables, with paths of this machine.
        run_env.update(env)
        run_env["PATH"] = os.path.dirname(r.binary()) + ":/usr/bin:/bin"
        run_env["SBX_REAPER_LOCK"] = os.path.join(tmp, "reaper.lock")
        run_env["SBX_REAPER_LOG"] = os.path.join(tmp, "reaper.log")
        run_env.pop("SBX_ENV_FILE", None)   # the stack's settings are in the environment
        # A slow CloudFormation makes each run last long enough to overlap.
        with s.cfn_settings(slow_ms=1500):
            procs = [subprocess.Popen(["/bin/sh", "-c", cmd], env=run_env)
                     for _ in range(2)]
            rcs = sorted(p.wait(60) for p in procs)
        # flock -n exits 1 for the one that found the lock taken.
        assert rcs == [0, 1], rcs
        with open(run_env["SBX_REAPER_LOG"], encoding="utf-8") as f:
            log = f.read()
        summaries = [json.loads(x) for x in log.splitlines() if x.startswith('{"run_id"')]
        assert len(summaries) == 1 and summaries[0]["ok"], log[-2000:]
        # The lock is free again: the next minute's run runs.
        done = subprocess.run(["/bin/sh", "-c", cmd], env=run_env, timeout=60)
        assert done.returncode == 0
    finally:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


t.run()
