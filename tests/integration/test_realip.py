#!/usr/bin/python3
"""Behind a load balancer, nginx takes the client's address from
X-Forwarded-For, but only from the networks in NGINX_REAL_IP_FROM
(scripts/test sets 127.0.0.1, standing for the balancer), so that the
per-client rate limits count clients, not balancer nodes."""

import json
import time

import sbxtest as t


def _access_line(rid):
    return json.loads(t.access_log_line(rid))


def _remote_of(headers):
    rid = "realip-%d" % time.time_ns()
    headers = dict(headers, **{"X-Request-Id": rid})
    t.assert_json(t.get("/api/", headers=headers), 200)
    return _access_line(rid)["remote"]


def test_setting_is_on_for_this_stack():
    # Without it the tests below would prove nothing.
    assert t.setting("NGINX_REAL_IP_FROM") == "127.0.0.1", \
        "scripts/test should run the stack with NGINX_REAL_IP_FROM=127.0.0.1"


def test_client_address_from_forwarded_for():
    assert _remote_of({"X-Forwarded-For": "203.0.113.7"}) == "203.0.113.7"
    # The balancer appends the peer it saw: the last untrusted hop wins.
    assert _remote_of({"X-Forwarded-For": "198.51.100.1, 203.0.113.8"}) == "203.0.113.8"


def test_without_forwarded_for_the_peer_is_the_client():
    assert _remote_of({}) == "127.0.0.1"


def test_rate_limit_counts_each_client():
    burst = int(t.setting("RATE_LIMIT_AUTH_BURST", "20"))
    noisy = {"X-Forwarded-For": "203.0.113.50"}
    statuses = [t.get("/auth/login", headers=noisy).status for _ in range(burst + 15)]
    assert 429 in statuses, "the noisy client was never limited: %r" % statuses
    quiet = t.get("/auth/login", headers={"X-Forwarded-For": "203.0.113.51"})
    assert quiet.status != 429, "another client was limited with the noisy one"


t.run()
