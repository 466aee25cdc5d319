#!/usr/bin/python3
"""Who may do what: one table over every route and method of every
responder.

The routes come from the responders themselves: each binary in
$SBX_BUILD_DIR/fcgi prints its route table with --routes. A route with no
row here, or a row for a route that no longer exists, fails the test, so
a route added later cannot escape the table.

Each row names, for every caller, the status it must get through nginx:
  anon      no credentials
  user_a    a signed-in user acting on their own things
  user_b    another user, on user A's sandbox or token
  disabled  a user an admin has disabled
  admin     an address in ADMIN_EMAILS
  token_a   user A's personal API token (POST /api/tokens)
Where the answer is a refusal (401, 403, 404 for someone else's thing),
the test also checks that the database did not change: the rows of the
test's users, their sessions and API tokens, the two sandboxes the rows
act on and their events, every template, and the row counts of users,
sandboxes, templates and API tokens.

A request a caller is allowed to make acts on a thing made for it
(a fresh sandbox, token or template) when it destroys what it acts on, so
that the rows that follow still find theirs.
"""

import hashlib
import json
import os
import subprocess
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as rp

ACTORS = ("anon", "user_a", "user_b", "disabled", "admin", "token_a")
REFUSED = (401, 403, 404)


# ------------------------------------------------------------ the routes

def route_table():
    """{(method, path)} of every route of every responder binary."""
    fcgi = os.path.join(t.setting("SBX_BUILD_DIR"), "fcgi")
    routes, binaries = set(), []
    for name in sorted(os.listdir(fcgi)):
        path = os.path.join(fcgi, name)
        if not name.startswith("sbx-") or "." in name or \
                not os.path.isfile(path) or not os.access(path, os.X_OK):
            continue
        binaries.append(name)
        done = subprocess.run([path, "--routes"], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, "%s --routes: %s" % (name, done.stderr)
        for line in done.stdout.splitlines():
            r = json.loads(line)
            routes.add((r["method"], r["path"]))
    assert len(binaries) >= 4, "responders found: %r" % binaries
    return routes


# ------------------------------------------------------------ the callers

class World:
    """The callers and the things the rows act on."""

    def __init__(self):
        self.email = {
            "user_a": s.fresh_email("mxa"),
            "user_b": s.fresh_email("mxb"),
            "disabled": s.fresh_email("mxd"),
            "admin": s.ADMIN,
        }
        self.victim = s.fresh_email("mxv")     # disabled/enabled by rows
        self.db = Psql()
        for e in list(self.email.values()) + [self.victim]:
            t.assert_json(s.api("GET", "/api/me", e), 200)
        self.token_a = self.make_token("user_a")
        self.sandbox_a = self.make_sandbox("user_a", settled=True)
        self.sandbox_b = self.make_sandbox("user_b", settled=True)
        self.token_a_id = self.token_ids("user_a")[0]
        t.assert_status(s.api("POST", "/api/users/%s/disable" %
                              self.email["disabled"], s.ADMIN), 200)

    def headers(self, actor):
        if actor == "anon":
            return {}
        if actor == "token_a":
            return {"Authorization": "Bearer " + self.token_a}
        return {"Authorization": "Bearer " + s.token(self.email[actor])}

    def make_token(self, actor):
        body = t.assert_json(s.api("POST", "/api/tokens", self.email[actor],
                                   {"name": "matrix"}), 201)
        return body["token"]

    def token_ids(self, actor):
        got = t.assert_json(s.api("GET", "/api/tokens", self.email[actor]), 200)
        return [x["id"] for x in got if x.get("revoked_at") is None]

    def fresh_token_id(self):
        before = set(self.token_ids("user_a"))
        self.make_token("user_a")
        return (set(self.token_ids("user_a")) - before).pop()

    def make_sandbox(self, actor, settled=False):
        """A fresh sandbox of actor's; settled: ACTIVE, so that the
        reaper has nothing to do with it while the rows run."""
        # Deleted ones count towards the quota until the reaper sees
        # their stacks gone: let it, when room runs short.
        if s.live_count(self.email[actor]) >= 4:
            rp.run_ok("--once")
        name = s.fresh_name("mx")
        s.create(self.email[actor], name, ttl_minutes=60)
        if settled:
            s.wait_status(self.email[actor], name, "ACTIVE")
        return name

    def make_template(self):
        name = s.fresh_name("mxt")
        t.assert_json(s.api("PUT", "/api/templates/" + name, s.ADMIN,
                            template_body()), 201)
        return name

    def user_ids(self):
        return list(self.email.values()) + [self.victim]


def template_body():
    return {"template": {"Resources": {"Thing": {
        "Type": "AWS::CloudFormation::WaitConditionHandle"}}}}


# ------------------------------------------------------------ the database

FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT count(*) FROM users), (SELECT count(*) FROM sandboxes),
  (SELECT count(*) FROM templates), (SELECT count(*) FROM api_tokens),
  (SELECT string_agg(concat_ws(':', u.id, u.oidc_iss, u.oidc_sub, u.email,
       u.name, u.picture, u.disabled_at, u.last_login_at), ','
       ORDER BY u.id) FROM users u
     WHERE u.email = ANY(string_to_array(:'emails', ','))),
  (SELECT string_agg(x::text, ',' ORDER BY x.id) FROM sessions x
     JOIN users u ON u.id = x.user_id
     WHERE u.email = ANY(string_to_array(:'emails', ','))),
  (SELECT string_agg(concat_ws(':', k.id, k.name, k.revoked_at,
       k.expires_at), ',' ORDER BY k.id) FROM api_tokens k
     JOIN users u ON u.id = k.user_id
     WHERE u.email = ANY(string_to_array(:'emails', ','))),
  (SELECT string_agg(b::text, ',' ORDER BY b.id) FROM sandboxes b
     WHERE b.name = ANY(string_to_array(:'names', ','))),
  (SELECT count(*) FROM sandbox_events e JOIN sandboxes b
     ON b.id = e.sandbox_id
     WHERE b.name = ANY(string_to_array(:'names', ','))),
  (SELECT string_agg(concat_ws(':', name, version, enabled, is_default,
       md5(body), md5(parameters)), ',' ORDER BY name, version)
     FROM templates)))
"""


class Psql:
    """One psql session for the many fingerprints (a connection costs
    more than the query). A query ends with an \\echo of a marker, and
    its answer is what comes before the marker."""

    MARK = "--matrix-end--"

    def __init__(self):
        self.proc = subprocess.Popen(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
            env=t._pg_env(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True)

    def query(self, sql, **variables):
        for name, value in variables.items():
            assert "'" not in value and "\n" not in value, value
            self.proc.stdin.write("\\set %s '%s'\n" % (name, value))
        self.proc.stdin.write(sql.strip() + ";\n\\echo %s\n" % self.MARK)
        self.proc.stdin.flush()
        lines = []
        while True:
            line = self.proc.stdout.readline()
            assert line, "psql ended"
            if line.rstrip("\n") == self.MARK:
                return "\n".join(lines)
            lines.append(line.rstrip("\n"))

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def fingerprint(world):
    """What a refused request must not change. Users leave out their
    count of live sandboxes (and its version): the stack's reaper loop
    lowers it when a sandbox deleted by an earlier row is gone; the two
    sandboxes refused rows act on are compared whole. API tokens leave out
    last_used_at: bookkeeping of a good token's use, written before the
    route's own checks refuse (e.g. an admin route)."""
    return world.db.query(FINGERPRINT, emails=",".join(world.user_ids()),
                          names=",".join([world.sandbox_a, world.sandbox_b]))


# ------------------------------------------------------------ the table

def same(status):
    return {a: status for a in ACTORS}


def signed_in(ok, **over):
    """anon 401, disabled 403, everyone else ok (unless over says)."""
    row = {a: ok for a in ACTORS}
    row.update(anon=401, disabled=403)
    row.update(over)
    return row


def admin_only(ok):
    return signed_in(403, admin=ok)


def owner_or_admin(ok):
    """User A's thing: A, A's token and admins; B does not see it."""
    return signed_in(ok, user_b=404)


# Each row: (method, path) -> (status per actor, request(world, actor)),
# where request returns (path, JSON body or None). An allowed request that
# destroys its target gets a fresh one.
def sandbox_path(suffix=""):
    return lambda w, a, ok: ("/api/sandboxes/%s%s" % (
        w.make_sandbox("user_a") if ok else w.sandbox_a, suffix), None)


MATRIX = {
    ("GET", "/auth/login"): (same(302), lambda w, a, ok: ("/auth/login", None)),
    # No state and no login cookie: refused before anything is read.
    ("GET", "/auth/callback"): (same(400),
                                lambda w, a, ok: ("/auth/callback", None)),
    # A bearer ID or API token has no session of ours: logging out ends
    # nothing, and says so with 204.
    ("POST", "/auth/logout"): (signed_in(204),
                               lambda w, a, ok: ("/auth/logout", None)),
    ("GET", "/auth/me"): (signed_in(200), lambda w, a, ok: ("/auth/me", None)),

    ("GET", "/api/users"): (admin_only(200),
                            lambda w, a, ok: ("/api/users", None)),
    ("POST", "/api/users/{email}/disable"): (
        admin_only(200),
        lambda w, a, ok: ("/api/users/%s/disable" % w.victim, None)),
    ("POST", "/api/users/{email}/enable"): (
        admin_only(200),
        lambda w, a, ok: ("/api/users/%s/enable" % w.victim, None)),

    # A user's monthly budget: null puts back the default.
    ("PUT", "/api/users/{email}/budget"): (
        admin_only(200),
        lambda w, a, ok: ("/api/users/%s/budget" % w.victim,
                          {"monthly_usd": None})),

    # Making a token needs a person: not another token.
    ("POST", "/api/tokens"): (signed_in(201, token_a=403),
                              lambda w, a, ok: ("/api/tokens",
                                                {"name": "matrix-" + a})),
    ("GET", "/api/tokens"): (signed_in(200),
                             lambda w, a, ok: ("/api/tokens", None)),
    ("DELETE", "/api/tokens/{id}"): (
        owner_or_admin(204),
        lambda w, a, ok: ("/api/tokens/%s" % (
            w.fresh_token_id() if ok else w.token_a_id), None)),

    ("GET", "/api/costs"): (signed_in(200),
                            lambda w, a, ok: ("/api/costs", None)),
    ("GET", "/api/jobs"): (signed_in(200), lambda w, a, ok: ("/api/jobs", None)),
    ("GET", "/api/jobs/reaper"): (admin_only(200),
                                  lambda w, a, ok: ("/api/jobs/reaper", None)),

    ("GET", "/api/"): (same(200), lambda w, a, ok: ("/api/", None)),
    ("GET", "/api"): (same(200), lambda w, a, ok: ("/api", None)),
    ("GET", "/readyz"): (same(200), lambda w, a, ok: ("/readyz", None)),
    # Loopback (the test) is inside the allow list; see test_metrics.
    ("GET", "/metrics"): (same(200), lambda w, a, ok: ("/metrics", None)),
    ("GET", "/api/test"): (signed_in(200), lambda w, a, ok: ("/api/test", None)),
    ("GET", "/api/me"): (signed_in(200), lambda w, a, ok: ("/api/me", None)),

    ("GET", "/api/sandboxes"): (signed_in(200),
                                lambda w, a, ok: ("/api/sandboxes", None)),
    ("POST", "/api/sandboxes"): (
        signed_in(201),
        lambda w, a, ok: ("/api/sandboxes", {"name": s.fresh_name("mxc"),
                                             "ttl_minutes": 5})),
    ("GET", "/api/sandboxes/{name}"): (
        owner_or_admin(200),
        lambda w, a, ok: ("/api/sandboxes/" + w.sandbox_a, None)),
    ("PATCH", "/api/sandboxes/{name}"): (
        owner_or_admin(200),
        lambda w, a, ok: ("/api/sandboxes/" + w.sandbox_a,
                          {"extend_minutes": 1})),
    ("DELETE", "/api/sandboxes/{name}"): (owner_or_admin(202), sandbox_path()),
    ("GET", "/api/sandboxes/{name}/events"): (
        owner_or_admin(200),
        lambda w, a, ok: ("/api/sandboxes/%s/events" % w.sandbox_a, None)),
    # Not stuck: the admin passes and the rule answers 409.
    ("POST", "/api/sandboxes/{name}/retry"): (
        admin_only(409),
        lambda w, a, ok: ("/api/sandboxes/%s/retry" % w.sandbox_a, None)),
    ("POST", "/api/sandboxes/{name}/forget"): (
        admin_only(200),
        lambda w, a, ok: (sandbox_path("/forget")(w, a, ok)[0],
                          {"reason": "matrix"})),

    ("GET", "/api/templates"): (signed_in(200),
                                lambda w, a, ok: ("/api/templates", None)),
    ("GET", "/api/templates/{name}"): (
        signed_in(200), lambda w, a, ok: ("/api/templates/default", None)),
    ("PUT", "/api/templates/{name}"): (
        admin_only(201),
        lambda w, a, ok: ("/api/templates/" + s.fresh_name("mxt"),
                          template_body())),
    ("DELETE", "/api/templates/{name}"): (
        admin_only(204),
        lambda w, a, ok: ("/api/templates/" + (
            w.make_template() if ok else "default"), None)),
}


def call(method, path, headers, body):
    """One request; a 429 (nginx's rate limits, answered before any
    responder) is waited out and sent again."""
    for _ in range(60):
        if body is None:
            r = t.request(method, path, headers=headers)
        else:
            r = t.request(method, path, headers=headers, json_body=body)
        if r.status != 429:
            return r
        time.sleep(0.5)
    raise AssertionError("%s %s: still rate limited" % (method, path))


def test_every_route_has_a_row():
    routes = route_table()
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, "routes without a row in the matrix: %r" % missing
    assert not stale, "rows for routes that do not exist: %r" % stale


def test_matrix():
    routes = route_table()
    failures = []
    with s.cfn_settings(create_delay=0, delete_delay=0):
        w = World()
        try:
            for key in sorted(MATRIX, key=lambda k: (k[1], k[0])):
                if key not in routes:
                    continue
                method = key[0]
                want, make = MATRIX[key]
                last = None
                # Refusals first: they must find everything as it was.
                for actor in sorted(ACTORS, key=lambda a: want[a] not in REFUSED):
                    refused = want[actor] in REFUSED
                    path, body = make(w, actor, not refused)
                    if refused and last is None:
                        last = fingerprint(w)
                    before, last = last, None
                    r = call(method, path, w.headers(actor), body)
                    if r.status != want[actor]:
                        failures.append("%s %s as %s: %d, want %d (%s)" % (
                            method, key[1], actor, r.status, want[actor],
                            t.redact(r.body[:200])))
                        continue
                    if refused:
                        if r.content_type != "application/problem+json":
                            failures.append("%s %s as %s: %d is not a "
                                            "problem" % (method, key[1],
                                                         actor, r.status))
                        # Nothing but this request ran since before:
                        # after stands as the next refusal's before.
                        last = after = fingerprint(w)
                        if after != before:
                            failures.append("%s %s as %s: refused with %d "
                                            "but the database changed" % (
                                                method, key[1], actor,
                                                r.status))
        finally:
            w.db.close()
            # The victim is enabled again; sandboxes made here go away.
            s.api("POST", "/api/users/%s/enable" % w.victim, s.ADMIN)
            for e in (w.email["user_a"], w.email["user_b"], s.ADMIN):
                for sb in t.assert_json(s.api("GET", "/api/sandboxes", e), 200):
                    if sb["name"].startswith("t-mx") and \
                            sb["status"] not in ("TERMINATED", "TERMINATING"):
                        s.delete(e, sb["name"])
    assert not failures, "\n".join(failures)


t.run()
