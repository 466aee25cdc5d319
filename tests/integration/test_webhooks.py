#!/usr/bin/python3
"""Webhooks from the event outbox: every event of a sandbox's life is
POSTed signed (the signature verifies, here and in the receiver); with
the receiver down nothing is lost: once it is up, every event arrives."""

import contextlib
import hashlib
import hmac
import http.client
import json
import os
import secrets
import subprocess
import sys
import time

import sbxtest as t
import sbxsandbox as s
import sbxreaper as r

SECRET = "whsec-" + secrets.token_hex(16)
TYPES = {"sandbox.created", "sandbox.active", "sandbox.failed",
         "sandbox.expiring", "sandbox.extended", "sandbox.terminating",
         "sandbox.terminated", "sandbox.stuck"}


@contextlib.contextmanager
def receiver():
    """The test's webhook receiver (tests/fakes/webhook_receiver.py) on a
    free loopback port; yields its base URL."""
    path = os.path.join(t.setting("SBX_SRC_DIR"), "tests", "fakes",
                        "webhook_receiver.py")
    env = {"PATH": "/usr/bin:/bin", "WEBHOOK_SECRET": SECRET}
    proc = subprocess.Popen([sys.executable, path, "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("webhook_receiver listening on "), line
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)


def control(base, method, path, body=None):
    port = int(base.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 200, (resp.status, data)
    return data


def deliveries(base):
    return control(base, "GET", "/_fake/deliveries")["deliveries"]


def hook_env(base):
    return {"NOTIFY_WEBHOOK_URL": base + "/hooks/sbx",
            "NOTIFY_WEBHOOK_SECRET": SECRET, "REAPER_BACKOFF_SECONDS": 1,
            "EXPIRY_WARNING_MINUTES": 5}


def own_events(sandbox_id):
    """(id, action, delivery_state) of the sandbox's events."""
    return [tuple(x) for x in t.psql(
        "SELECT id::text, action, delivery_state FROM sandbox_events"
        " WHERE sandbox_id = :'id'::uuid ORDER BY time, id", id=sandbox_id)]


def quiet_outbox():
    """Earlier tests' undelivered events are not this test's business (no
    webhook was configured for them): mark them skipped, so that the
    receiver sees this test's events only."""
    t.psql("UPDATE sandbox_events SET delivery_state = 'skipped'"
           " WHERE delivery_state = 'pending'")


def verify(d):
    """Recomputes the signature of a recorded delivery as a receiver would
    (README: HMAC-SHA256 of "<timestamp>.<raw body>")."""
    mac = hmac.new(SECRET.encode(), d["timestamp"].encode() + b"." +
                   d["body"].encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + mac, d["signature"] or "")


def test_signed_deliveries_verify():
    with receiver() as base:
        quiet_outbox()
        user, name = s.fresh_email("hook"), s.fresh_name("hook")
        with s.cfn_settings(create_delay=0, delete_delay=0):
            sb = s.create(user, name)
            run = r.run_ok(**hook_env(base))
        assert run.counts()["webhooks_delivered"] >= 2, run
        got = [d for d in deliveries(base)
               if d["json"] and d["json"]["sandbox"].get("id") == sb["id"]]
        types = [d["json"]["type"] for d in got]
        assert types[:2] == ["sandbox.created", "sandbox.active"], types
        for d in got:
            assert d["answer"] == 204 and d["verified"], d
            assert verify(d), "signature does not verify: %r" % d["json"]
            body = d["json"]
            assert set(body) >= {"id", "type", "time", "sandbox"}, body
            assert body["type"] in TYPES and d["event"] == body["type"], d
            assert d["delivery"] == body["id"], d
            assert d["content_type"] == "application/json", d
            assert body["sandbox"]["name"] == name, body
            assert body["time"].endswith("Z"), body
            assert abs(int(d["timestamp"]) - time.time()) < 120, d
        # The test's own check can fail: a changed body does not verify.
        tampered = dict(got[0], body=got[0]["body"].replace(name, name + "x"))
        assert not verify(tampered)
        # Delivered once each, and marked so.
        states = {e[1]: e[2] for e in own_events(sb["id"])}
        assert states == {"created": "delivered", "active": "delivered"}, states
        again = r.run_ok(**hook_env(base))
        assert again.counts()["webhooks_delivered"] == 0, again
        with s.cfn_settings(delete_delay=0):
            s.cleanup(user, name)
            r.until_settled([sb["id"]], **hook_env(base))


def test_receiver_down_then_up_every_event_arrives():
    with receiver() as base:
        quiet_outbox()
        control(base, "POST", "/_fake/config", {"down": True})
        user, name = s.fresh_email("down"), s.fresh_name("down")
        env = hook_env(base)
        with s.cfn_settings(create_delay=0, delete_delay=0):
            sb = s.create(user, name)
            # Its life goes on while nobody listens: active, extended,
            # expiring, terminating, terminated.
            r.run_ok(**env)
            t.assert_json(s.api("PATCH", "/api/sandboxes/" + name, user,
                                {"extend_minutes": 5}), 200)
            t.psql("UPDATE sandboxes SET expiry_time = now() + interval '2 minutes'"
                   " WHERE id = :'id'", id=sb["id"])
            r.run_ok(**env)
            t.psql("UPDATE sandboxes SET expiry_time = now() - interval '1 second'"
                   " WHERE id = :'id'", id=sb["id"])
            run = r.run_ok(**env)
        assert r.statuses([sb["id"]]) == {"TERMINATED": 1}
        # Each run tried once and gave up for the run; nothing delivered.
        assert run.counts()["webhooks_failed"] == 1, run
        tried = deliveries(base)
        assert tried and all(d["answer"] == 503 for d in tried), tried
        evs = own_events(sb["id"])
        assert [e[1] for e in evs] == ["created", "active", "extended",
                                       "expiring", "terminating",
                                       "terminated"], evs
        assert all(e[2] == "pending" for e in evs), evs

        # Up again: every event arrives (retried after its backoff).
        control(base, "POST", "/_fake/config", {"down": False})

        def all_delivered():
            r.run_ok(**env)
            return all(e[2] == "delivered" for e in own_events(sb["id"]))
        assert t.wait_until(all_delivered, timeout=30, interval=0.5), own_events(sb["id"])
        ok = [d for d in deliveries(base) if d["answer"] == 204]
        ids = {d["json"]["id"] for d in ok}
        assert {e[0] for e in evs} <= ids, (evs, ids)
        assert all(d["verified"] and verify(d) for d in ok)
        types = {d["json"]["type"] for d in ok if d["json"]["id"] in {e[0] for e in evs}}
        assert types == {"sandbox.created", "sandbox.active", "sandbox.extended",
                         "sandbox.expiring", "sandbox.terminating",
                         "sandbox.terminated"}, types


def test_wrong_secret_is_refused_and_retried():
    with receiver() as base:
        quiet_outbox()
        user, name = s.fresh_email("sec"), s.fresh_name("sec")
        env = hook_env(base)
        with s.cfn_settings(create_delay=0):
            sb = s.create(user, name)
        bad = dict(env, NOTIFY_WEBHOOK_SECRET="not-the-secret")
        run = r.run_ok(**bad)
        assert run.counts()["webhooks_failed"] == 1, run
        d = deliveries(base)
        assert d and d[-1]["answer"] == 401 and not d[-1]["verified"], d
        assert own_events(sb["id"])[0][2] == "pending"

        def delivered():
            r.run_ok(**env)
            return all(e[2] == "delivered" for e in own_events(sb["id"]))
        assert t.wait_until(delivered, timeout=20, interval=0.5), own_events(sb["id"])
        with s.cfn_settings(delete_delay=0):
            s.cleanup(user, name)
            r.until_settled([sb["id"]])


t.run()
