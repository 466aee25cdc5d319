#!/usr/bin/python3
"""The reaper's housekeeping: sessions that ended (expired or were revoked)
more than a day ago, and idempotency keys older than 24 hours, are deleted
in batches of REAPER_BATCH_SIZE; the fresh ones stay; the counts are in
the run's summary and record; --dry-run counts them and deletes nothing.
Rows are inserted straight into the database with their times in the
past: no test waits a day."""

import json
import re
import secrets

import sbxtest as t
import sbxreaper as r

BATCH = 3

# (label, expires_at, revoked_at) as intervals from now; None: NULL.
SESSIONS_OLD = [
    ("exp-2d", "-2 days", None),
    ("exp-25h", "-25 hours", None),
    ("rev-2d", "+1 hour", "-2 days"),
    ("rev-2d-exp-3h", "-3 hours", "-2 days"),
    ("rev-26h-exp-30h", "-30 hours", "-26 hours"),
] + [("exp-%dd" % d, "-%d days" % d, None) for d in range(3, 8)]
SESSIONS_FRESH = [
    ("live", "+1 hour", None),
    ("exp-23h", "-23 hours", None),
    ("exp-1m", "-1 minute", None),
    ("rev-1h", "+1 hour", "-1 hour"),
    ("rev-23h-exp-2h", "-2 hours", "-23 hours"),
]
# (label, created_at) as an interval from now.
IDEM_OLD = [("25h", "-25 hours"), ("3d", "-3 days")] + \
    [("%dd" % d, "-%d days" % d) for d in range(4, 8)]
IDEM_FRESH = [("23h", "-23 hours"), ("now", "-0 seconds"), ("1h", "-1 hour")]


def _insert(tag):
    """This test's rows, for a new user; returns (user id, prefix)."""
    uid, _ = r.new_user(tag)
    prefix = "hk-%s-%s-" % (tag, secrets.token_hex(4))
    for label, exp, rev in SESSIONS_OLD + SESSIONS_FRESH:
        t.psql("INSERT INTO sessions (id, user_id, created_at, expires_at,"
               " revoked_at) VALUES (:'id', :'uid', now() - interval '9 days',"
               " now() + :'exp'::interval,"
               " now() + NULLIF(:'rev', '')::interval)",
               id=prefix + label, uid=uid, exp=exp, rev=rev or "")
    for label, created in IDEM_OLD + IDEM_FRESH:
        t.psql("INSERT INTO idempotency_keys (user_id, key, request_hash,"
               " created_at) VALUES (:'uid', :'key', 'hash',"
               " now() + :'created'::interval)",
               uid=uid, key=prefix + label, created=created)
    return uid, prefix


def _left(uid, prefix):
    """The labels of this test's rows still in the database:
    (sessions, idempotency keys), each a set."""
    sessions = t.psql("SELECT id FROM sessions WHERE user_id = :'uid'",
                      uid=uid)
    keys = t.psql("SELECT key FROM idempotency_keys WHERE user_id = :'uid'",
                  uid=uid)
    return ({x[0][len(prefix):] for x in sessions},
            {x[0][len(prefix):] for x in keys})


def _labels(rows):
    return {x[0] for x in rows}


ALL = (_labels(SESSIONS_OLD + SESSIONS_FRESH), _labels(IDEM_OLD + IDEM_FRESH))
FRESH = (_labels(SESSIONS_FRESH), _labels(IDEM_FRESH))


def _batches(run, what):
    """The sizes of the batches a verbose run said it deleted."""
    return [int(n) for n in re.findall(r"^deleted (\d+) %s$" % what, run.out,
                                       re.MULTILINE)]


def _cleanup(uid):
    t.psql("DELETE FROM sessions WHERE user_id = :'uid';"
           " DELETE FROM idempotency_keys WHERE user_id = :'uid'", uid=uid)


@r.isolated
def test_dry_run_counts_and_deletes_nothing():
    uid, prefix = _insert("hkdry")
    try:
        assert _left(uid, prefix) == ALL
        run = r.run("--dry-run", REAPER_BATCH_SIZE=BATCH)
        assert run.rc == 0 and run.summary["dry_run"] is True, run
        assert _left(uid, prefix) == ALL, "the dry run deleted rows"
        c = run.counts()
        assert c["sessions_deleted"] >= len(SESSIONS_OLD), run
        assert c["idempotency_keys_deleted"] >= len(IDEM_OLD), run
        # It said what it would do, all at once (a count, not batches).
        m = re.search(r"^would delete (\d+) sessions$", run.out, re.MULTILINE)
        assert m and int(m.group(1)) == c["sessions_deleted"], run
        m = re.search(r"^would delete (\d+) idempotency keys$", run.out,
                      re.MULTILINE)
        assert m and int(m.group(1)) == c["idempotency_keys_deleted"], run
    finally:
        _cleanup(uid)


@r.isolated
def test_old_rows_deleted_in_batches_fresh_ones_stay():
    uid, prefix = _insert("hkrun")
    try:
        run = r.run_ok("--verbose", REAPER_BATCH_SIZE=BATCH)
        assert _left(uid, prefix) == FRESH, run
        c = run.counts()
        assert c["sessions_deleted"] >= len(SESSIONS_OLD), run
        assert c["idempotency_keys_deleted"] >= len(IDEM_OLD), run
        # In batches of at most REAPER_BATCH_SIZE rows, one after another
        # until none was left; the counts add them up.
        for what, key, old in (("sessions", "sessions_deleted", SESSIONS_OLD),
                               ("idempotency keys", "idempotency_keys_deleted",
                                IDEM_OLD)):
            sizes = _batches(run, what)
            assert sizes and max(sizes) <= BATCH, (what, sizes, run)
            assert len(sizes) >= -(-len(old) // BATCH), (what, sizes, run)
            assert sum(sizes) == c[key], (what, sizes, c)
        # The run record has the same counts.
        rec = t.psql("SELECT counts FROM reaper_runs WHERE id = :'id'",
                     id=run.summary["run_id"])
        assert json.loads(rec[0][0]) == c, (rec, c)
        # The next run finds nothing of ours to delete.
        r.run_ok(REAPER_BATCH_SIZE=BATCH)
        assert _left(uid, prefix) == FRESH
    finally:
        _cleanup(uid)


t.run()
