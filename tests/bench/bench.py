#!/usr/bin/python3
"""Seeding and reading for tests/bench/run (stdlib only; /usr/bin/python3).

The settings of the stack come from the env file SBX_TEST_ENV names (as for
the integration tests, whose helpers in tests/integration/lib are reused
here: sbxtest.psql passes the database password in the environment, never
on a command line). Rows are written straight into the database, shaped as
common/domain/sandbox.c writes them (every NOT NULL column, stack_name = prefix +
name, users.live_sandboxes kept equal to the live rows), and the stacks of
the reaper's rows straight into the local CloudFormation through its
control API (POST /_fake/stacks), tagged as common/domain/sandbox_cfn.c tags them.

    bench.py seed-list EMAIL N       N ACTIVE sandboxes, not expiring soon,
                                     for the user EMAIL (signed in already);
                                     prints their tag (names TAG-0001...)
    bench.py drop-list EMAIL         removes them again
    bench.py seed-reaper N           N expired ACTIVE sandboxes of N/5 new
                                     users, each with a live stack; prints
                                     the run's tag
    bench.py statuses TAG            {status: count} of that tag's rows
    bench.py cfn-config JSON         POST /_fake/config; prints the same
                                     keys' values from before, as JSON (pass
                                     that back to restore them)
    bench.py summary FILE            the reaper's counts from the JSON line
                                     it printed last ("k=v k=v")
    bench.py owner-id EMAIL          the user id of EMAIL
    bench.py id-token EMAIL          an ID token for EMAIL minted by the
                                     local IdP (stdout: capture it)
    bench.py api-token EMAIL         a new personal API token of EMAIL
                                     (made with an ID token; stdout)
    bench.py pairs TAG N THREADS     N create + delete (+ GET until
                                     TERMINATED) cycles through nginx, one
                                     user per thread; prints a BENCH line
                                     as report.lua does, latency per cycle
    bench.py timed OUT ERR CMD...    runs CMD (stdout to OUT, stderr to
                                     ERR); prints "rc wall_s cpu_s maxrss_kB"
                                     of CMD alone (its own rusage)
    bench.py delete-counts TAG       how many stacks of the tag saw 0, 1, 2+
                                     DeleteStack calls ("once=N other=M")
"""

import json
import os
import secrets
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration", "lib"))
import sbxtest as t  # noqa: E402
import sbxsandbox as sb  # noqa: E402

PER_USER = 5        # live sandboxes per owner, as the default quota has it
THREADS = 8         # parallel POST /_fake/stacks


def fail(msg):
    sys.stderr.write("bench.py: %s\n" % msg)
    sys.exit(1)


def cfn_control(method, path, body=None):
    """A call to the local CloudFormation's control API (loopback only)."""
    try:
        status, raw = t.fake_call("FAKE_CFN_URL", method, path, body)
    except AssertionError:
        fail("FAKE_CFN_URL is not a local CloudFormation on loopback: "
             "the reaper benchmark needs the fake")
    if status != 200:
        fail("%s %s: %d %s" % (method, path, status, t.redact(raw[:300])))
    return json.loads(raw.decode("utf-8"))


def seed_list(email, n):
    got = t.psql("SELECT id::text FROM users WHERE email = :'e'", e=email)
    if len(got) != 1:
        fail("expected one user %s (signed in first), found %d" % (email, len(got)))
    uid = got[0][0]
    tag = "bench-%s" % secrets.token_hex(3)
    # created_at a second apart, so the list's order (created_at DESC, id
    # DESC) is that of real use; expiry far enough ahead that no reaper
    # touches them while the benchmark runs.
    t.psql(
        "INSERT INTO sandboxes (name, owner_id, owner_email, template_name,"
        " template_version, status, stack_name, stack_id, parameters,"
        " outputs, created_at, updated_at, expiry_time, max_expiry_time,"
        " last_refresh_at)"
        " SELECT :'tag' || '-' || lpad(i::text, 4, '0'), :'uid'::uuid, :'e',"
        "  'default', 1, 'ACTIVE', :'prefix' || :'tag' || '-' || lpad(i::text, 4, '0'),"
        "  'arn:aws:cloudformation:' || :'region' || ':123456789012:stack/'"
        "   || :'prefix' || :'tag' || '-' || lpad(i::text, 4, '0') || '/'"
        "   || gen_random_uuid()::text,"
        "  '{}', '{\"InstanceId\": \"i-0123456789abcdef0\","
        " \"PublicIp\": \"203.0.113.10\"}',"
        "  now() - make_interval(secs => :n - i), now(),"
        "  now() + interval '4 hours', now() + interval '20 hours', now()"
        " FROM generate_series(1, :n) AS i;"
        " UPDATE users SET live_sandboxes = live_sandboxes + :n,"
        "  version = version + 1 WHERE id = :'uid'::uuid",
        tag=tag, uid=uid, e=email, n=n,
        prefix=t.setting("STACK_NAME_PREFIX", "sbx-"),
        region=t.setting("AWS_REGION", "us-east-1"))
    print(tag)


def drop_list(email):
    t.psql(
        "DELETE FROM sandbox_events WHERE sandbox_id IN (SELECT id FROM"
        " sandboxes WHERE owner_id IN (SELECT id FROM users WHERE email = :'e'));"
        " DELETE FROM sandboxes WHERE owner_id IN"
        "  (SELECT id FROM users WHERE email = :'e');"
        " UPDATE users SET live_sandboxes = 0, version = version + 1"
        "  WHERE email = :'e'", e=email)


def make_stacks(names, ids, emails, expiry):
    """One CREATE_COMPLETE stack per name in the fake; their stack ids."""
    out = [None] * len(names)
    errors = []

    def work(k):
        for i in range(k, len(names), THREADS):
            try:
                out[i] = cfn_control("POST", "/_fake/stacks", {
                    "name": names[i],
                    "tags": {"sbx:sandbox-id": ids[i], "sbx:owner": emails[i],
                             "sbx:expiry": expiry, "Environment": "Sandbox"},
                    "outputs": {"InstanceId": "i-0123456789abcdef0"},
                    "status": "CREATE_COMPLETE",
                })["stack_id"]
            except BaseException as e:  # reported below (fail() raises SystemExit)
                errors.append(e)

    ths = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if errors:
        fail("making stacks failed: %r" % errors[:3])
    return out


def seed_reaper(n):
    tag = "bench-r%s" % secrets.token_hex(3)
    prefix = t.setting("STACK_NAME_PREFIX", "sbx-")
    nusers = (n + PER_USER - 1) // PER_USER
    uids = [str(uuid.uuid4()) for _ in range(nusers)]
    emails = ["%s-%03d@example.com" % (tag, k) for k in range(nusers)]
    ids = [str(uuid.uuid4()) for _ in range(n)]
    names = ["%s-%05d" % (tag, i) for i in range(1, n + 1)]
    # Expired a minute ago, created a quarter of an hour before that.
    expiry = int(time.time()) - 60
    stack_ids = make_stacks([prefix + x for x in names], ids,
                            [emails[i // PER_USER] for i in range(n)],
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expiry)))
    # In chunks of whole users: psql takes each variable as one argument,
    # and an argument may not pass 128 KiB.
    step = PER_USER * 200
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        ulo, uhi = lo // PER_USER, (hi + PER_USER - 1) // PER_USER
        seed_chunk(tag, prefix, uids[ulo:uhi], emails[ulo:uhi], ids[lo:hi],
                   stack_ids[lo:hi], lo, expiry)
    print(tag)


def seed_chunk(tag, prefix, uids, emails, ids, stack_ids, off, expiry):
    """Rows off + 1 .. off + len(ids) of seed_reaper, and their users."""
    t.psql(
        "INSERT INTO users (id, oidc_sub, email, name, live_sandboxes)"
        " SELECT u::uuid, 'bench-' || u, e, 'Bench User', 0"
        " FROM unnest(string_to_array(:'uids', ','),"
        "  string_to_array(:'emails', ',')) AS x(u, e);"
        " INSERT INTO sandboxes (id, name, owner_id, owner_email,"
        " template_name, template_version, status, stack_name, stack_id,"
        " parameters, outputs, created_at, updated_at, expiry_time,"
        " max_expiry_time, last_refresh_at)"
        " SELECT (string_to_array(:'ids', ','))[i]::uuid,"
        "  :'tag' || '-' || lpad((:off + i)::text, 5, '0'),"
        "  (string_to_array(:'uids', ','))[(i - 1) / :per + 1]::uuid,"
        "  (string_to_array(:'emails', ','))[(i - 1) / :per + 1],"
        "  'default', 1, 'ACTIVE', :'prefix' || :'tag' || '-' || lpad((:off + i)::text, 5, '0'),"
        "  (string_to_array(:'sids', ','))[i], '{}',"
        "  '{\"InstanceId\": \"i-0123456789abcdef0\"}',"
        "  to_timestamp(:exp - 900), to_timestamp(:exp - 900),"
        "  to_timestamp(:exp), to_timestamp(:exp - 900) + interval '1 day',"
        "  to_timestamp(:exp - 900)"
        " FROM generate_series(1, :n) AS i;"
        " UPDATE users u SET live_sandboxes = (SELECT count(*) FROM sandboxes s"
        "  WHERE s.owner_id = u.id AND s.status <> 'TERMINATED')"
        " WHERE u.id = ANY(string_to_array(:'uids', ',')::uuid[])",
        uids=",".join(uids), emails=",".join(emails), ids=",".join(ids),
        tag=tag, per=PER_USER, prefix=prefix, sids=",".join(stack_ids),
        exp=expiry, n=len(ids), off=off)


def statuses(tag):
    got = t.psql("SELECT status, count(*)::text FROM sandboxes"
                 " WHERE name LIKE :'pat' GROUP BY status ORDER BY status",
                 pat=tag + "-%")
    print(" ".join("%s=%s" % (r[0], r[1]) for r in got) or "none")


def cfn_config(body):
    want = json.loads(body)
    before = cfn_control("GET", "/_fake/config")
    cfn_control("POST", "/_fake/config", want)
    print(json.dumps({k: before.get(k) for k in want if k in before}))


def summary(path):
    with open(path, encoding="utf-8") as f:
        lines = [x for x in f.read().splitlines() if x.strip()]
    for line in reversed(lines):
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "counts" in obj:
            counts = obj.get("counts") or {}
            print(" ".join("%s=%s" % (k, v) for k, v in sorted(counts.items())
                           if v) + (" ok=%s" % obj.get("ok")))
            return
    print("no summary")


def owner_id(email):
    got = t.psql("SELECT id::text FROM users WHERE email = :'e'", e=email)
    if len(got) != 1:
        fail("expected one user %s, found %d" % (email, len(got)))
    print(got[0][0])


def id_token(email):
    print(sb.token(email))


def api_token(email):
    resp = sb.api("POST", "/api/tokens", email, {"name": "bench"})
    if resp.status != 201:
        fail("POST /api/tokens answered %d" % resp.status)
    print(resp.json()["token"])


def pairs(tag, n, threads):
    """Latency of whole cycles: POST /api/sandboxes, DELETE it, then GET it
    until TERMINATED (with the local CloudFormation's delays at 0 the first
    GET sees it), so that the owner's quota is free again."""
    lat, bad, errors = [], [], []
    lock = threading.Lock()

    def one(email, name):
        t0 = time.monotonic()
        r = sb.create(email, name, expect=None)
        if r.status != 201:
            return None, "POST %d" % r.status
        r = sb.delete(email, name)
        if r.status != 202:
            return None, "DELETE %d" % r.status
        for _ in range(100):
            r = sb.get(email, name)
            if r.status != 200:
                return None, "GET %d" % r.status
            if r.json().get("status") == "TERMINATED":
                return time.monotonic() - t0, None
            time.sleep(0.05)
        return None, "not TERMINATED"

    def work(k):
        email = "%s-%d@example.com" % (tag, k)
        for i in range(k, n, threads):
            try:
                took, why = one(email, "%s-%d" % (tag, i))
            except BaseException as e:  # reported below
                with lock:
                    errors.append(repr(e))
                continue
            with lock:
                if why:
                    bad.append(why)
                else:
                    lat.append(took)

    t0 = time.monotonic()
    ths = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    dur = time.monotonic() - t0
    lat.sort()

    def pct(q):
        return int(lat[min(len(lat) - 1, int(q * len(lat)))] * 1e6) if lat else 0
    if bad or errors:
        sys.stderr.write("bench.py pairs: %s\n" % (bad + errors)[:5])
    print("BENCH requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d "
          "socket_errors=%d" % (len(lat), int(dur * 1e6), pct(0.5),
                                pct(0.99), len(bad), len(errors)))


def timed(out, err, cmd):
    t0 = time.monotonic()
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    rc = os.waitstatus_to_exitcode(status)
    print("%d %.2f %.2f %d" % (rc, wall, ru.ru_utime + ru.ru_stime,
                               ru.ru_maxrss))


def delete_counts(tag):
    calls = cfn_control("GET", "/_fake/calls")["stacks"]
    prefix = t.setting("STACK_NAME_PREFIX", "sbx-") + tag + "-"
    n = t.psql("SELECT count(*)::text FROM sandboxes WHERE name LIKE :'p'",
               p=tag + "-%")[0][0]
    once = sum(1 for k, v in calls.items()
               if k.startswith(prefix) and v.get("DeleteStack") == 1)
    print("once=%d other=%d" % (once, int(n) - once))


def main(argv):
    cmds = {
        "seed-list": (2, lambda a: seed_list(a[0], int(a[1]))),
        "drop-list": (1, lambda a: drop_list(a[0])),
        "seed-reaper": (1, lambda a: seed_reaper(int(a[0]))),
        "statuses": (1, lambda a: statuses(a[0])),
        "cfn-config": (1, lambda a: cfn_config(a[0])),
        "summary": (1, lambda a: summary(a[0])),
        "owner-id": (1, lambda a: owner_id(a[0])),
        "id-token": (1, lambda a: id_token(a[0])),
        "api-token": (1, lambda a: api_token(a[0])),
        "pairs": (3, lambda a: pairs(a[0], int(a[1]), int(a[2]))),
        "delete-counts": (1, lambda a: delete_counts(a[0])),
    }
    if len(argv) > 4 and argv[1] == "timed":
        timed(argv[2], argv[3], argv[4:])
        return 0
    if len(argv) < 2 or argv[1] not in cmds or len(argv) - 2 != cmds[argv[1]][0]:
        sys.stderr.write(__doc__)
        return 2
    try:
        cmds[argv[1]][1](argv[2:])
    except AssertionError as e:   # sbxtest's helpers fail this way
        fail(str(e))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
