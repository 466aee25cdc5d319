#!/usr/bin/python3
"""/readyz follows the database: 200, then 503 problem+json while
PostgreSQL is stopped, then 200 again once it is back, with the same
sbx-meta worker processes throughout (no responder restart)."""

import time

import sbxtest as t


def readyz():
    return t.get("/readyz", timeout=15)


def all_ready(n=6):
    """n answers in a row are 200: every worker has its connection back
    (nginx spreads requests over the workers). Paced below /readyz's own
    rate limit (RATE_LIMIT_READYZ, 5r/s), so polling never turns into 429s."""
    for i in range(n):
        if i:
            time.sleep(0.25)
        if readyz().status != 200:
            return False
    return True


def test_ready_then_not_then_ready_again():
    r = readyz()
    t.assert_status(r, 200)
    assert r.content_type == "application/json", r
    assert "no-store" in r.header("Cache-Control", ""), r.header("Cache-Control")

    before = t.responder_pids("sbx-meta")
    assert before, "no sbx-meta workers of this stack found"

    t.pg_ctl("stop", "-m", "fast")
    try:
        # Each worker notices on its next query; ask enough times to hit
        # them all, and every answer must be the 503 problem.
        for _ in range(6):
            t.assert_problem(readyz(), 503)
    finally:
        t.pg_ctl("start")

    assert t.wait_until(all_ready, timeout=30, interval=0.5), \
        "/readyz not 200 within 30s of PostgreSQL starting again"

    after = t.responder_pids("sbx-meta")
    assert after == before, \
        "sbx-meta workers changed: %r before, %r after" % (sorted(before), sorted(after))


def test_readyz_has_request_id():
    r = readyz()
    t.assert_status(r, 200)
    assert r.header("X-Request-Id"), "no X-Request-Id"


t.run()
