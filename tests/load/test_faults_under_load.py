#!/usr/bin/python3
"""Faults under load: a mixed load of reads, creates, extends
and deletes by several users runs through nginx the whole time, and under
it, one after the other:

- PostgreSQL stopped for 5 s, then started: answers during the outage are
  503 problem+json (never a 500 or a hang), every responder answers again
  within 2 s of the database's return, the reaper's next run succeeds,
  and every sandbox a client was told was created exists exactly once
  with its "created" event, its owner's live count right;
- one sbx-sandboxes worker killed with SIGKILL: it is restarted, and the
  only failed answers are 502 problem+json, at most one per request that
  was in flight;
- the local CloudFormation throttling, answering 500 and stalling past
  the client's timeout (the API's and the reaper's): creates and deletes
  are retried until done, no stack is orphaned and no sandbox is
  TERMINATED while its stack exists;
- the IdP unreachable: a session token and an API token keep working, a
  new sign-in (its callback) gets 503;
- the reaper killed mid-batch four times in a row: every expired sandbox
  ends TERMINATED with exactly one DeleteStack.

It prints a table (requests, answers by status, recovery time, lost rows,
orphaned stacks). make check runs the short form (about a minute);
tests/load/run runs the long one (SBX_LOAD_LONG=1: more users, longer
phases). Loopback only; bounded in requests and time.
"""

import collections
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))

import sbxtest as t  # noqa: E402
import sbxsandbox as s  # noqa: E402
import sbxreaper as r  # noqa: E402
import authflow as a  # noqa: E402

LONG = os.environ.get("SBX_LOAD_LONG") == "1"
USERS = 6 if LONG else 3
PHASE = 12.0 if LONG else 3.0          # seconds of load around each fault
MAX_REQUESTS = 20000 if LONG else 3000  # the load's bound, all phases
REAPER_KILL_ROWS = 200 if LONG else 40
REAPER_EVERY = 2.0                     # seconds between the load's reaper runs
# A create whose CreateStack stalls takes the CloudFormation client's four
# attempts of HTTP_TIMEOUT_SECONDS (about 45 s); nginx gives up at 60 s.
CLIENT_TIMEOUT = 90
HUNG = 15        # seconds: an answer slower than this, outside the stall, hung
TAG = "ld%04x" % random.randrange(0x10000)

TABLE = []       # (phase, requests, answers by status, recovery, lost, orphans)
FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("  ! " + msg)
    sys.stdout.flush()


# ------------------------------------------------------------------ load

class Load:
    """Threads, one per user, each looping over random operations on its
    own sandboxes. Every answer is recorded with the phase it was sent
    in; every 201 is remembered as a sandbox the client was told exists."""

    def __init__(self, users):
        self.users = users
        self.phase = "warm-up"
        self.answers = []           # (phase, op, status, ctype, seconds, sent)
        self.created = {}           # id -> (email, name)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.inflight = 0
        self.inflight_of = collections.Counter()  # phase -> in flight
        self.threads = []
        self.reaper_runs = []       # (phase, exit code)

    def _send(self, email, method, path, body=None):
        h = {"Authorization": "Bearer " + s.token(email)}
        sent = time.monotonic()
        phase = self.phase
        with self.lock:
            self.inflight += 1
            self.inflight_of[phase] += 1
        try:
            resp = t.request(method, path, json_body=body, headers=h,
                             timeout=CLIENT_TIMEOUT)
            status, ctype = resp.status, resp.content_type
        except Exception:  # a hang or a dropped connection: status 0
            resp, status, ctype = None, 0, ""
        finally:
            with self.lock:
                self.inflight -= 1
                self.inflight_of[phase] -= 1
        with self.lock:
            self.answers.append((phase, method + " " + path.split("/")[2],
                                 status, ctype, time.monotonic() - sent, sent))
        return resp

    def _user(self, email, seed):
        rng = random.Random(seed)
        mine = []
        n = 0
        while not self.stop.is_set():
            with self.lock:
                if len(self.answers) >= MAX_REQUESTS:
                    break
            roll = rng.random()
            if roll < 0.3:
                self._send(email, "GET", "/api/sandboxes?limit=20")
            elif roll < 0.55 and len(mine) < 3:
                n += 1
                name = "%s-%s-%d" % (TAG, email.split("@")[0][-4:], n)
                resp = self._send(email, "POST", "/api/sandboxes",
                                  {"name": name, "ttl_minutes": 30})
                if resp is not None and resp.status == 201:
                    got = resp.json()
                    with self.lock:
                        self.created[got["id"]] = (email, name)
                    mine.append(name)
            elif roll < 0.7 and mine:
                self._send(email, "GET", "/api/sandboxes/" + rng.choice(mine))
            elif roll < 0.85 and mine:
                self._send(email, "PATCH", "/api/sandboxes/" + rng.choice(mine),
                           {"extend_minutes": 5})
            elif mine:
                name = mine.pop(rng.randrange(len(mine)))
                self._send(email, "DELETE", "/api/sandboxes/" + name)
            else:
                self._send(email, "GET", "/api/sandboxes?limit=20")
            time.sleep(rng.uniform(0.01, 0.05))

    def _reaper(self):
        """The reaper, every REAPER_EVERY seconds (the stack's loop runs
        every minute): deletes finish, so quotas free up, and each run
        after a fault must succeed again. Runs during an outage may fail;
        a run that crashes (a signal) is a failure."""
        while not self.stop.wait(REAPER_EVERY):
            run = r.run(timeout=120, REAPER_LEASE_SECONDS=1)
            with self.lock:
                self.reaper_runs.append((self.phase, run.rc))
            if run.rc < 0:
                fail("a reaper run died of signal %d" % -run.rc)

    def start(self):
        th = threading.Thread(target=self._reaper, daemon=True)
        th.start()
        self.threads.append(th)
        for i, email in enumerate(self.users):
            th = threading.Thread(target=self._user, args=(email, i),
                                  daemon=True)
            th.start()
            self.threads.append(th)

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join(CLIENT_TIMEOUT + 10)

    def of(self, phase):
        with self.lock:
            return [x for x in self.answers if x[0] == phase]


def by_status(answers):
    c = collections.Counter(x[2] for x in answers)
    return " ".join("%s:%d" % ("hang" if k == 0 else k, v)
                    for k, v in sorted(c.items()))


def check_answers(phase, answers, allowed, hung=HUNG):
    """Every answer is 2xx/4xx, or an allowed 5xx as problem+json; never a
    500 nor a hang (no answer, or one slower than hung seconds)."""
    for (_, op, status, ctype, took, _) in answers:
        if status == 0 or took > hung:
            fail("%s: %s hung or lost its connection (%.1fs)" % (phase, op, took))
        elif status >= 500 and status not in allowed:
            fail("%s: %s answered %d" % (phase, op, status))
        elif status >= 500 and ctype != "application/problem+json":
            fail("%s: %s answered %d as %s" % (phase, op, status, ctype))


# ------------------------------------------------------------ invariants

def lost_rows(load):
    """Sandboxes the clients were told were created that are missing, in
    two, without their "created" event, or half-written; and owners whose
    live count disagrees with their rows. Returns how many are wrong."""
    with load.lock:         # the load goes on: a snapshot of what it made
        created = dict(load.created)
    ids = list(created)
    bad = 0
    if ids:
        got = t.psql(
            "SELECT s.id::text, count(*) OVER (PARTITION BY s.id),"
            " s.name, s.status, s.owner_email,"
            " (s.created_at IS NOT NULL AND s.expiry_time IS NOT NULL"
            "  AND s.max_expiry_time IS NOT NULL)::text,"
            " (SELECT count(*) FROM sandbox_events e"
            "   WHERE e.sandbox_id = s.id AND e.action = 'created')"
            " FROM sandboxes s"
            " WHERE s.id = ANY(string_to_array(:'ids', ',')::uuid[])",
            ids=",".join(ids))
        seen = {row[0]: row for row in got}
        for sid, (email, name) in created.items():
            row = seen.get(sid)
            if row is None:
                fail("lost: %s (%s) was created and is gone" % (name, sid))
                bad += 1
            elif row[1] != "1" or row[2] != name or row[4] != email \
                    or row[5] != "true" or row[6] != "1":
                fail("half-written or doubled: %r" % (row,))
                bad += 1
    # Every row of the load's users has its created event (a create that
    # answered 503 after its commit would otherwise go unseen), and the
    # users' live counters match their rows.
    orphan = t.psql(
        "SELECT s.name FROM sandboxes s WHERE s.name LIKE :'p' AND NOT EXISTS"
        " (SELECT 1 FROM sandbox_events e WHERE e.sandbox_id = s.id"
        "  AND e.action = 'created')", p=TAG + "-%")
    for row in orphan:
        fail("a row without its created event: %s" % row[0])
        bad += 1
    counts = t.psql(
        "SELECT u.email, u.live_sandboxes, (SELECT count(*) FROM sandboxes s"
        "  WHERE s.owner_id = u.id AND s.status <> 'TERMINATED')"
        " FROM users u WHERE u.email = ANY(string_to_array(:'e', ','))",
        e=",".join(load.users))
    for email, counter, real in counts:
        if counter != real:
            fail("live_sandboxes of %s is %s, its rows say %s" % (email, counter, real))
            bad += 1
    return bad


def orphaned_stacks():
    """Live stacks of the load without a live sandbox, and sandboxes
    TERMINATED while their stack still exists."""
    prefix = t.setting("STACK_NAME_PREFIX", "sbx-") + TAG + "-"
    stacks = [x for x in s.cfn("GET", "/_fake/stacks")["stacks"]
              if x["name"].startswith(prefix)]
    live = {x["name"] for x in stacks if x["status"] != "DELETE_COMPLETE"}
    rows = t.psql("SELECT stack_name, status FROM sandboxes WHERE name LIKE :'p'",
                  p=TAG + "-%")
    alive = {x[0] for x in rows if x[1] != "TERMINATED"}
    bad = 0
    for name in sorted(live - alive):
        fail("orphaned stack %s (no live sandbox)" % name)
        bad += 1
    return bad


def settle(ids=None, runs=12):
    """Runs the reaper (faults off) until no work of the load is left:
    no pending create or delete, nothing in progress."""
    for _ in range(runs):
        left = t.psql(
            "SELECT count(*) FROM sandboxes WHERE name LIKE :'p' AND"
            " (pending_action <> 'none' OR status IN ('PROVISIONING',"
            "  'TERMINATING'))", p=TAG + "-%")[0][0]
        if left == "0":
            return True
        t.psql("UPDATE sandboxes SET next_attempt_at = now()"
               " WHERE name LIKE :'p' AND next_attempt_at > now()", p=TAG + "-%")
        r.run_ok(REAPER_LEASE_SECONDS=1)
        time.sleep(0.3)
    return False


def drain_others(load, phase):
    """Waits until no request sent in another phase is in flight: one sent
    before a fault and answered during it must not count against the
    phase before (the warm-up saw a 503 from a PostgreSQL just stopped)."""
    deadline = time.monotonic() + CLIENT_TIMEOUT + 5
    while time.monotonic() < deadline:
        with load.lock:
            if all(n == 0 for p, n in load.inflight_of.items() if p != phase):
                return
        time.sleep(0.02)


def run_phase(load, name, body, allowed=(503,), hung=HUNG):
    load.phase = name
    drain_others(load, name)
    started = time.monotonic()
    extra = body() or {}
    load.phase = name + " (after)"
    time.sleep(max(0.5, PHASE / 2))
    answers = load.of(name) + load.of(name + " (after)")
    check_answers(name, answers, allowed, hung)
    TABLE.append((name, len(answers), by_status(answers),
                  extra.get("recovery", "-"), extra.get("lost", "-"),
                  extra.get("orphans", "-")))
    r.note("%s: %d answers (%s) in %.1fs" % (name, len(answers),
                                              by_status(answers),
                                              time.monotonic() - started))
    refused = collections.Counter("%s %d" % (x[1], x[2]) for x in answers
                                  if x[2] >= 400)
    r.note("  refusals and errors by request: %s" % dict(refused))


# ---------------------------------------------------------------- faults

RECOVERY_ROUTES = [("sbx-meta", "GET", "/readyz", False),
                   ("sbx-sandboxes", "GET", "/api/sandboxes?limit=1", True),
                   ("sbx-jobs", "GET", "/api/jobs", True),
                   ("sbx-auth", "GET", "/auth/me", True)]


def recovered(email):
    """Seconds from now until every responder has answered 2xx (the
    slowest one's first success); then each must answer 2xx five times
    in a row (every worker has reconnected), else None."""
    t0 = time.monotonic()
    first = {}
    while len(first) < len(RECOVERY_ROUTES) and time.monotonic() - t0 < 30:
        for name, method, path, auth in RECOVERY_ROUTES:
            if name not in first and 200 <= _probe(email, method, path,
                                                   auth) < 300:
                first[name] = time.monotonic() - t0
        time.sleep(0.02)
    if len(first) < len(RECOVERY_ROUTES):
        return None
    for name, method, path, auth in RECOVERY_ROUTES:
        for _ in range(5):
            st = _probe(email, method, path, auth)
            if not 200 <= st < 300:
                fail("%s answered %d after it had recovered" % (name, st))
    return max(first.values())


# The probes come from a client of their own: nginx limits requests per
# client, and the load (all from 127.0.0.1) fills that address's bucket,
# most of all while fast 503s come back during an outage; a 429 then
# says nothing of the responders. scripts/test trusts X-Forwarded-For
# from loopback (NGINX_REAL_IP_FROM=127.0.0.1); a stack that does not
# ignores the header and the probes share the load's bucket as before.
PROBE_CLIENT = "192.0.2.80"


def _from_probe(headers):
    """headers, sent as the probe client rather than the load's."""
    return dict(headers, **{"X-Forwarded-For": PROBE_CLIENT})


def _probe(email, method, path, auth):
    h = _from_probe({"Authorization": "Bearer " + s.token(email)}
                    if auth else {})
    try:
        return t.request(method, path, headers=h, timeout=5).status
    except Exception:
        return 0


def postgres_outage(load):
    def body():
        probe = load.users[0]
        t.pg_ctl("stop", "-m", "fast")
        down = time.monotonic()
        # A reaper run during the outage fails cleanly (no crash).
        during = r.run(timeout=60)
        if during.rc not in (0, 1):
            fail("a reaper run during the outage exited %s" % during.rc)
        time.sleep(max(0.0, 5.0 - (time.monotonic() - down)))
        t.pg_ctl("start")
        rec = recovered(probe)
        if rec is None or rec > 2.0:
            fail("responders took %s s to recover (limit 2 s)" % rec)
        # The reaper's next run succeeds: the load's own runs (every
        # REAPER_EVERY s) after the return, and one more here.
        back = len(load.reaper_runs)
        r.run_ok(REAPER_LEASE_SECONDS=1)
        if not t.wait_until(lambda: any(rc == 0 for _, rc in
                                        load.reaper_runs[back:]),
                            timeout=REAPER_EVERY * 3 + 30):
            fail("no reaper run of the load succeeded after the outage")
        time.sleep(PHASE / 2)
        return {"recovery": "%.2fs" % rec if rec is not None else "never",
                "lost": lost_rows(load)}
    run_phase(load, "postgres down 5 s", body)


def worker_killed(load):
    def body():
        before = t.responder_pids("sbx-sandboxes")
        assert before, "no sbx-sandboxes worker found"
        victim = sorted(before)[0]
        with load.lock:
            inflight = load.inflight
        killed_at = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        back = t.wait_until(lambda: len(t.responder_pids("sbx-sandboxes") -
                                        {victim}) >= len(before), timeout=15)
        took = time.monotonic() - killed_at
        if not back:
            fail("the killed sbx-sandboxes worker was not restarted")
        time.sleep(PHASE / 2)
        bad = [x for x in load.of("worker SIGKILL") if x[2] == 502]
        if len(bad) > max(1, inflight):
            fail("%d answers were 502 with %d in flight" % (len(bad), inflight))
        return {"recovery": "%.2fs" % took}
    run_phase(load, "worker SIGKILL", body, allowed=(502,))


def cloudformation_faults(load):
    def body():
        timeout = int(t.setting("HTTP_TIMEOUT_SECONDS", "10"))
        faults = [{"throttle_next": 12}, {"fail_next": 12},
                  {"slow_ms": (timeout + 1) * 1000,
                   "only_actions": ["CreateStack", "DeleteStack"]}]
        for f in faults:
            with s.cfn_settings(**f):
                time.sleep(PHASE if "slow_ms" not in f else timeout + 2)
                # The reaper under the same fault, with a short client
                # timeout of its own: it retries later, it never gives up
                # a row.
                r.run(timeout=120, HTTP_TIMEOUT_SECONDS=1,
                      REAPER_LEASE_SECONDS=1)
        time.sleep(PHASE / 2)
        return {}
    run_phase(load, "CloudFormation faults", body, hung=CLIENT_TIMEOUT)


def idp_unreachable(load):
    email = s.fresh_email(TAG + "-idp")
    session = a.session_token(email)
    made = t.request("POST", "/api/tokens", json_body={"name": "load"},
                     headers=_from_probe(a.bearer(session)))
    api_token = t.assert_json(made, 201)["token"]
    login = a.Login(s.fresh_email(TAG + "-new"))
    login.start()
    login.authorize()

    def body():
        a.idp_config(down="close")
        try:
            for _ in range(3):
                t.assert_json(t.request(
                    "GET", "/api/me",
                    headers=_from_probe(a.bearer(session))), 200)
                t.assert_json(t.request(
                    "GET", "/api/sandboxes?limit=1",
                    headers=_from_probe(a.bearer(api_token))), 200)
            t.assert_problem(login.callback(), 503)
            time.sleep(PHASE / 2)
        finally:
            a.idp_config(down=False)
        return {}
    run_phase(load, "IdP unreachable", body)


def reaper_killed_four_times():
    n = REAPER_KILL_ROWS
    with s.cfn_settings(delete_delay=0, slow_ms=40):
        b = r.bulk(n, TAG + "k", per_user=5)
        for i in range(4):
            left = r.statuses(b["ids"]).get("ACTIVE", 0)
            proc = r.start(REAPER_BATCH_SIZE=max(5, n // 8),
                           REAPER_LEASE_SECONDS=1)
            t.wait_until(lambda: left - r.statuses(b["ids"]).get("ACTIVE", 0)
                         >= max(2, n // 10), timeout=60, interval=0.05)
            r.sigkill(proc)
            time.sleep(1.2)      # the dead reaper's lease
    with s.cfn_settings(delete_delay=0):
        st = r.until_settled(b["ids"], runs=10, REAPER_LEASE_SECONDS=1)
    if st != {"TERMINATED": n}:
        fail("after four kills: %s" % st)
    counts = r.delete_counts(b["stack_names"])
    twice = sorted(k for k, v in counts.items() if v != 1)
    if twice:
        fail("DeleteStack not exactly once for %d stacks: %s" % (
            len(twice), [(k, counts[k]) for k in twice[:5]]))
    live = [x for x in b["stack_names"] if s.cfn_live(x)]
    TABLE.append(("reaper SIGKILL x4", n, "%d TERMINATED" % st.get("TERMINATED", 0),
                  "-", n - st.get("TERMINATED", 0), len(live)))


# ------------------------------------------------------------------ main

def print_table():
    head = ("phase", "requests", "answers by status", "recovery",
            "lost rows", "orphaned stacks")
    rows = [head] + [tuple(str(c) for c in row) for row in TABLE]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    print()
    for k, row in enumerate(rows):
        print("| " + " | ".join(c.ljust(widths[i]) for i, c in enumerate(row)) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print()
    sys.stdout.flush()


def test_faults_under_load():
    users = [s.fresh_email(TAG + "u%d" % i) for i in range(USERS)]
    load = Load(users)
    load.start()
    started = time.monotonic()
    try:
        time.sleep(PHASE)
        postgres_outage(load)
        worker_killed(load)
        cloudformation_faults(load)
        idp_unreachable(load)
    finally:
        load.finish()
    warm = load.of("warm-up")
    check_answers("warm-up", warm, ())
    TABLE.insert(0, ("warm-up", len(warm), by_status(warm), "-", "-", "-"))
    # Everything the load left is finished by the reaper, faults off.
    if not settle():
        fail("the load's sandboxes did not settle: %r" % t.psql(
            "SELECT name, status, pending_action FROM sandboxes"
            " WHERE name LIKE :'p' AND (pending_action <> 'none' OR"
            " status IN ('PROVISIONING', 'TERMINATING'))", p=TAG + "-%"))
    lost, orphans = lost_rows(load), orphaned_stacks()
    total = load.answers
    TABLE.append(("whole load", len(total), by_status(total), "-", lost, orphans))
    reaper_killed_four_times()
    r.note("the load ran %.0fs" % (time.monotonic() - started))
    print_table()
    # Tidy up: the load's live sandboxes expire now and are reaped.
    t.psql("UPDATE sandboxes SET expiry_time = now() WHERE name LIKE :'p'"
           " AND status <> 'TERMINATED'", p=TAG + "%")
    with s.cfn_settings(delete_delay=0):
        settle()
    assert not FAILURES, "%d failures:\n%s" % (len(FAILURES), "\n".join(FAILURES))


t.run()
