#!/usr/bin/python3
"""/readyz has a per-client rate limit of its own:
RATE_LIMIT_READYZ (5r/s) with RATE_LIMIT_READYZ_BURST (10); beyond it
nginx answers 429 problem+json before sbx-meta (and its database round
trip) is reached. The /api/ limit is separate: /api/me still answers."""

import time

import sbxtest as t
import sbxsandbox as s


def rate():
    value = t.setting("RATE_LIMIT_READYZ", "5r/s")
    assert value.endswith("r/s"), value
    return float(value[:-3])


def test_readyz_is_limited_per_client():
    burst = int(t.setting("RATE_LIMIT_READYZ_BURST", "10"))
    n = burst * 4
    conn = t.connection()
    started = time.monotonic()
    answers = [t.get("/readyz", conn=conn) for _ in range(n)]
    elapsed = time.monotonic() - started
    conn.close()
    ok = [r for r in answers if r.status == 200]
    limited = [r for r in answers if r.status == 429]
    assert len(ok) + len(limited) == n, [r.status for r in answers]
    # The burst passes, then at most the rate over the time it took.
    assert len(ok) >= burst, [r.status for r in answers]
    assert len(ok) <= burst + 1 + rate() * elapsed + 1, \
        "%d of %d passed in %.2fs" % (len(ok), n, elapsed)
    assert limited, "no 429 in %d requests within %.2fs" % (n, elapsed)
    for r in limited[:3]:
        p = t.assert_problem(r, 429)
        assert r.header("Retry-After"), r
        assert p["type"].endswith("too-many-requests"), p

    # Another limit: /api/ still answers while /readyz is throttled.
    me = s.api("GET", "/api/me", s.fresh_email("rz"))
    t.assert_json(me, 200)

    # And the limit lets up: after burst/rate seconds the bucket is empty.
    time.sleep(burst / rate() + 0.5)
    t.assert_status(t.get("/readyz"), 200)


t.run()
