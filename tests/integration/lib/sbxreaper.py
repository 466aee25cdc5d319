"""Helpers for the reaper, jobs and webhook integration tests (stdlib only).

- The reaper binary ($SBX_BUILD_DIR/cron/sbx-reaper) is run by the test
  itself with the stack's settings (run-one exported them) and short
  overrides: REAPER_BACKOFF_SECONDS=1, REAPER_LEASE_SECONDS=2, and a
  fast retry base for the CloudFormation client.
- Many sandboxes are made fast: stacks straight in the local
  CloudFormation (POST /_fake/stacks) and rows straight in PostgreSQL
  (one INSERT ... SELECT over generate_series), owned by a user row
  made for them.
- The stack's own reaper loop (scripts/up, every REAPER_INTERVAL_SECONDS)
  may run during a test. Rows are claimed in the database, so it never
  breaks what these tests check; a test that compares states before and
  after (the dry run) checks that no such run overlapped.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import sbxtest as t
import sbxsandbox as s

# Short settings for the reaper under test.
SHORT = {
    "REAPER_BACKOFF_SECONDS": "1",
    "REAPER_LEASE_SECONDS": "2",
    "CFN_RETRY_BASE_MS": "10",
    "LOG_LEVEL": "info",
}


def binary():
    path = os.path.join(t.setting("SBX_BUILD_DIR"), "cron", "sbx-reaper")
    assert os.access(path, os.X_OK), "%s is not built" % path
    return path


def reaper_env(**over):
    """The stack's settings, the short ones above, then over (None
    removes a setting). Webhooks are off unless over sets them."""
    env = dict(os.environ)
    for k in ("NOTIFY_WEBHOOK_URL", "NOTIFY_WEBHOOK_SECRET"):
        env.pop(k, None)
    env.update(SHORT)
    for k, v in over.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


# The run ids of the reapers this test ran (the others are the stack's).
MINE = set()


class Run:
    """One finished reaper process: rc, out, err, lines (stdout lines),
    summary (the last stdout line as JSON, or None)."""

    def __init__(self, rc, out, err):
        self.rc = rc
        self.out = out
        self.err = err
        self.lines = [x for x in out.splitlines() if x.strip()]
        self.summary = None
        for line in reversed(self.lines):
            try:
                self.summary = json.loads(line)
                break
            except ValueError:
                continue
        for line in self.lines:
            try:
                rid = json.loads(line).get("run_id")
            except (ValueError, AttributeError):
                continue
            if rid:
                MINE.add(rid)

    def counts(self):
        assert self.summary is not None, "no JSON summary: %r" % self
        return self.summary["counts"]

    def __repr__(self):
        return "<reaper rc=%s\n--- stdout\n%s\n--- stderr (tail)\n%s>" % (
            self.rc, t.redact(self.out[-3000:]), t.redact(self.err[-3000:]))


def run(*args, timeout=120, **over):
    """Runs the reaper with args to its end; returns a Run."""
    done = subprocess.run([binary()] + list(args), env=reaper_env(**over),
                          capture_output=True, text=True, timeout=timeout)
    return Run(done.returncode, done.stdout, done.stderr)


def run_ok(*args, **over):
    r = run(*args, **over)
    assert r.rc == 0 and r.summary is not None and r.summary["ok"], r
    return r


def start(*args, **over):
    """Starts the reaper; the caller waits on it with finish() (or kills
    it). Its output goes to files, not pipes: a reaper must never stall on
    a full pipe nobody reads while another one is being waited for."""
    out = tempfile.TemporaryFile(mode="w+")
    err = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([binary()] + list(args), env=reaper_env(**over),
                            stdout=out, stderr=err, text=True)
    proc.sbx_files = (out, err)
    return proc


def finish(proc, timeout=120):
    proc.wait(timeout=timeout)
    texts = []
    for f in proc.sbx_files:
        f.seek(0)
        texts.append(f.read())
        f.close()
    return Run(proc.returncode, texts[0], texts[1])


# ------------------------------------------------------------ the database

def new_users(tag, n=1):
    """n user rows (as if they had signed in), in one statement; returns
    [(id, email)]."""
    users = [(str(uuid.uuid4()), s.fresh_email(tag)) for _ in range(n)]
    t.psql("INSERT INTO users (id, oidc_sub, email, name)"
           " SELECT u::uuid, 'test-' || u, e, 'Test User'"
           " FROM unnest(string_to_array(:'ids', ','),"
           "  string_to_array(:'emails', ',')) AS x(u, e)",
           ids=",".join(u[0] for u in users),
           emails=",".join(u[1] for u in users))
    return users


def new_user(tag):
    """A user row (as if they had signed in); returns (id, email)."""
    return new_users(tag)[0]


def api_user(tag):
    """A user made by signing in through the API (so that the API knows
    them as the owner of rows made for them); returns (id, email)."""
    email = s.fresh_email(tag)
    t.assert_json(s.api("GET", "/api/sandboxes", email), 200)
    got = t.psql("SELECT id::text FROM users WHERE email = :'e'", e=email)
    assert len(got) == 1, got
    return got[0][0], email


def _post_stack(name, sandbox_id, email, status):
    return s.cfn("POST", "/_fake/stacks", {
        "name": name,
        "tags": {"sbx:sandbox-id": sandbox_id, "sbx:owner": email,
                 "Environment": "Sandbox"},
        "outputs": {"InstanceId": "i-0123456789abcdef0"},
        "status": status,
    })


def make_stacks(names, ids, email, status="CREATE_COMPLETE", threads=8):
    """Stacks in the fake, one per name, tagged with the ids; returns
    their stack ids in order."""
    out = [None] * len(names)
    errors = []

    def work(k):
        for i in range(k, len(names), threads):
            try:
                out[i] = _post_stack(names[i], ids[i], email,
                                     status)["stack_id"]
            except Exception as e:  # reported below
                errors.append(e)

    ths = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(120)
    assert not errors, "making stacks failed: %r" % errors[:3]
    return out


def bulk(n, tag, expiry="-1 minute", status="ACTIVE", stacks=True,
         pending="none", next_attempt=None, stack_status="CREATE_COMPLETE",
         reason=None, per_user=None, owner=None):
    """n sandboxes, straight in the database (and their stacks in the fake
    unless stacks is False), of one new user, or of n / per_user new users
    (as the per-user quota would have it). expiry is an interval from now
    ("-1 minute", "+2 seconds"). Returns a dict: user_id, email (the
    first owner's), user_ids, names, ids, stack_names, stack_ids."""
    per_user = per_user or n
    owners = ([owner] if owner is not None else
              new_users(tag, (n + per_user - 1) // per_user))
    uid, email = owners[0]
    run_tag = "t-%s-%s" % (tag, secrets.token_hex(3))
    names = ["%s-%05d" % (run_tag, i) for i in range(1, n + 1)]
    ids = [str(uuid.uuid4()) for _ in range(n)]
    prefix = t.setting("STACK_NAME_PREFIX", "sbx-")
    stack_names = [prefix + x for x in names]
    stack_ids = (make_stacks(stack_names, ids, email, stack_status)
                 if stacks else [""] * n)
    t.psql(
        "INSERT INTO sandboxes (id, name, owner_id, owner_email,"
        " template_name, template_version, status, status_reason,"
        " stack_name, stack_id, parameters, expiry_time, max_expiry_time,"
        " pending_action, next_attempt_at)"
        " SELECT (string_to_array(:'ids', ','))[i]::uuid,"
        "  :'tag' || '-' || lpad(i::text, 5, '0'),"
        "  (string_to_array(:'uids', ','))[(i - 1) / :per + 1]::uuid,"
        "  (string_to_array(:'emails', ','))[(i - 1) / :per + 1],"
        "  'default', 1, :'status', NULLIF(:'reason', ''),"
        "  :'prefix' || :'tag' || '-' || lpad(i::text, 5, '0'),"
        "  NULLIF((string_to_array(:'sids', ','))[i], ''), '{}',"
        "  now() + :'expiry'::interval, now() + interval '1 day',"
        "  :'pending', now() + NULLIF(:'next', '')::interval"
        " FROM generate_series(1, :n) AS i;"
        " UPDATE users u SET live_sandboxes = live_sandboxes +"
        "  (SELECT count(*) FROM sandboxes s WHERE s.owner_id = u.id"
        "   AND s.status <> 'TERMINATED')"
        " WHERE u.id = ANY(string_to_array(:'uids', ',')::uuid[])",
        ids=",".join(ids), tag=run_tag, uids=",".join(o[0] for o in owners),
        emails=",".join(o[1] for o in owners), per=per_user, status=status,
        reason=reason or "", prefix=prefix, sids=",".join(stack_ids),
        expiry=expiry, pending=pending, next=next_attempt or "", n=n)
    return {"user_id": uid, "email": email,
            "user_ids": [o[0] for o in owners], "names": names, "ids": ids,
            "stack_names": stack_names, "stack_ids": stack_ids,
            "tag": run_tag}


ROW_COLS = ("name", "status", "pending_action", "attempts", "stuck",
            "status_reason", "stack_id", "next_in", "version", "backoff")


def rows(ids):
    """The rows of these ids as dicts (ROW_COLS; next_in = seconds from
    now to next_attempt_at; backoff = seconds from the row's last change
    to next_attempt_at), in the order of ids."""
    got = t.psql(
        "SELECT id::text, name, status, pending_action, attempts::text,"
        " stuck::text, status_reason, stack_id,"
        " extract(epoch FROM next_attempt_at - now())::text, version::text,"
        " extract(epoch FROM next_attempt_at - updated_at)::text"
        " FROM sandboxes WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])",
        ids=",".join(ids))
    by_id = {r[0]: dict(zip(ROW_COLS, r[1:])) for r in got}
    return [by_id.get(i) for i in ids]


def statuses(ids):
    """{status: count} over these ids."""
    got = t.psql(
        "SELECT status, count(*)::text FROM sandboxes"
        " WHERE id = ANY(string_to_array(:'ids', ',')::uuid[])"
        " GROUP BY status", ids=",".join(ids))
    return {r[0]: int(r[1]) for r in got}


def events(sandbox_id):
    """The sandbox's events: [(action, actor, from, to, detail,
    delivery_state)], oldest first."""
    return [tuple(r) for r in t.psql(
        "SELECT action, actor, from_status, to_status, detail, delivery_state"
        " FROM sandbox_events WHERE sandbox_id = :'id'::uuid"
        " ORDER BY time, id", id=sandbox_id)]


def runs_since(epoch, dry=False):
    """reaper_runs rows started at or after epoch (seconds)."""
    return t.psql(
        "SELECT id::text, ok::text FROM reaper_runs"
        " WHERE started_at >= to_timestamp(:'t') AND dry_run = :'dry'",
        t=str(epoch), dry="true" if dry else "false")


def until_settled(ids, want="TERMINATED", runs=10, pause=0.5, **over):
    """Runs the reaper until every id is in status want (at most runs
    times); returns the statuses."""
    st = statuses(ids)
    for _ in range(runs):
        if st.get(want, 0) == len(ids):
            break
        run_ok(**over)
        st = statuses(ids)
        if st.get(want, 0) != len(ids):
            time.sleep(pause)
    return st


def delete_counts(stack_names):
    """{stack name: DeleteStack requests the fake received}."""
    calls = s.cfn_calls().get("stacks", {})
    return {n: calls.get(n, {}).get("DeleteStack", 0) for n in stack_names}


def sigkill(proc):
    """SIGKILL to a reaper this test started; returns its Run."""
    os.kill(proc.pid, signal.SIGKILL)
    return finish(proc, 30)


def note(msg):
    """A measurement for the test's log."""
    print("  # " + msg)
    sys.stdout.flush()


def foreign_runs(since, until):
    """Reaper runs (not dry) that overlapped [since, until] and that this
    test did not start: the stack's own reaper loop. A run that never
    finished counts only if it started within the last ten minutes: a
    reaper another test killed leaves finished_at empty for ever, and
    would otherwise read as an overlap with every later test."""
    got = t.psql(
        "SELECT id::text FROM reaper_runs WHERE NOT dry_run"
        " AND started_at <= to_timestamp(:'until')"
        " AND (finished_at >= to_timestamp(:'since')"
        "      OR (finished_at IS NULL AND started_at >="
        "          to_timestamp(:'since') - interval '10 minutes'))",
        since=str(since - 1), until=str(until + 1))
    return [x[0] for x in got if x[0] not in MINE]


def isolated(fn):
    """For a test whose checks assume no other reaper acts meanwhile: when
    it fails and the stack's own reaper loop ran during it, it is run
    again (up to three times in all); a failure without such an overlap
    is a failure."""
    def wrapper():
        for attempt in range(3):
            since = time.time()
            try:
                return fn()
            except AssertionError:
                others = foreign_runs(since, time.time())
                if not others or attempt == 2:
                    raise
                note("the stack's reaper loop ran meanwhile (%s): again"
                     % ", ".join(others))
    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper
