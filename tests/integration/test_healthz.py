#!/usr/bin/python3
"""/healthz is answered by nginx itself: liveness for load balancers,
without any responder or the database."""

import os
import signal
import time

import sbxtest as t


def healthz():
    r = t.get("/healthz", timeout=5)
    body = t.assert_json(r, 200)
    assert body == {"status": "ok"}, "unexpected body: %r" % body
    t.assert_security_headers(r)
    return r


def test_healthz_ok():
    r = healthz()
    assert "no-store" in r.header("Cache-Control", ""), r.header("Cache-Control")


def test_healthz_never_reaches_a_responder():
    # The access log's line for this request names no upstream.
    rid = "healthz-%d" % time.time_ns()
    t.get("/healthz", headers={"X-Request-Id": rid})
    found = t.access_log_line(rid)
    assert '"upstream":""' in found, "healthz went upstream: %s" % found


def _meta_group():
    """The process group of sbx-meta (multiwatch and its workers)."""
    with open(os.path.join(t.setting("SBX_RUN_DIR"), "sbx-meta.pid")) as f:
        return int(f.read().strip())


def test_healthz_without_responders_or_database():
    # Freeze every sbx-meta process and stop PostgreSQL: /healthz still
    # answers at once, while /readyz cannot.
    pgid = _meta_group()
    t.pg_ctl("stop", "-m", "fast")
    os.killpg(pgid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        healthz()
        assert time.monotonic() - started < 2, "healthz was slow"
    finally:
        os.killpg(pgid, signal.SIGCONT)
        t.pg_ctl("start")
    # Leave the stack ready for the next test.
    assert t.wait_until(lambda: t.get("/readyz").status == 200, timeout=30), \
        "/readyz did not come back after PostgreSQL restarted"


t.run()
