#!/usr/bin/python3
"""A webhook receiver for tests: verifies each delivery's signature as a
real receiver would, records every delivery, and can be told to be down.

    webhook_receiver.py --port P [--secret-env NAME] [--tolerance 300]

The shared secret is read from the environment variable NAME (default
WEBHOOK_SECRET), never from the command line (other users can read
command lines). Binds 127.0.0.1 only; prints
``webhook_receiver listening on http://127.0.0.1:PORT`` once listening;
SIGTERM or SIGINT makes it exit 0. Stdlib only.

A delivery is any POST (to any path) with X-Sbx-Timestamp and
X-Sbx-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">.
It is answered:
  - 503 while down is true ("close": the connection is closed unanswered);
  - 500 for the next fail_next deliveries;
  - 401 when the signature does not verify, or the timestamp is more than
    --tolerance seconds away from now (a replay);
  - 204 otherwise.
Every delivery is recorded, whatever the answer.

Control API (JSON; never affected by down or fail_next):
  GET  /_fake/deliveries -> {"deliveries": [{"n", "time", "path",
       "answer", "verified", "reason", "timestamp", "signature", "event",
       "delivery", "body" (raw text), "json" (parsed or null)}]}
  POST /_fake/config {"down": false|true|"close", "fail_next": N}
       -> the config
  POST /_fake/reset -> clears deliveries and config
  GET  /_fake/health -> {"ok": true}

How a receiver verifies a delivery (what verify() below does):
  1. read X-Sbx-Timestamp and the raw body bytes, before any JSON parsing;
  2. compute HMAC-SHA256 over timestamp + "." + body with the shared secret;
  3. compare "sha256=" + hexdigest with X-Sbx-Signature in constant time
     (hmac.compare_digest);
  4. refuse a timestamp too far from now (replays);
  5. drop a duplicate by the body's "id" (delivery is at least once).
"""

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time

import fakehttp

MAX_BODY = 1 << 20


def verify(secret, timestamp, body, signature, now, tolerance):
    """(ok, reason) for one delivery: secret and body are bytes."""
    if not timestamp or not signature:
        return False, "missing X-Sbx-Timestamp or X-Sbx-Signature"
    try:
        ts = int(timestamp)
    except ValueError:
        return False, "X-Sbx-Timestamp is not a number"
    if abs(now - ts) > tolerance:
        return False, "timestamp outside the tolerance"
    mac = hmac.new(secret, timestamp.encode("ascii") + b"." + body,
                   hashlib.sha256).hexdigest()
    if not hmac.compare_digest("sha256=" + mac, signature):
        return False, "signature does not match"
    return True, None


class State:
    def __init__(self, secret, tolerance):
        self.secret = secret
        self.tolerance = tolerance
        self.lock = threading.Lock()
        self.deliveries = []
        self.config = {"down": False, "fail_next": 0}

    def reset(self):
        with self.lock:
            self.deliveries = []
            self.config = {"down": False, "fail_next": 0}


class Handler(fakehttp.Handler):
    server_version = "webhook_receiver"
    sys_version = ""

    def log_message(self, fmt, *args):
        sys.stderr.write("webhook_receiver: %s %s\n" % (
            self.address_string(), fmt % args))

    def do_GET(self):
        st = self.server.state
        if self.path == "/_fake/health":
            return self.send_json(200, {"ok": True})
        if self.path == "/_fake/deliveries":
            with st.lock:
                return self.send_json(200, {
                    "deliveries": list(st.deliveries)})
        if self.path == "/_fake/config":
            with st.lock:
                return self.send_json(200, dict(st.config))
        return self.send_json(404, {"error": "not found"})

    def do_POST(self):
        st = self.server.state
        try:
            body = self.read_body(MAX_BODY)
        except ValueError:
            return self.send_json(413, {"error": "body too large"})
        if self.path.startswith("/_fake/"):
            return self._control(st, body)
        with st.lock:
            down = st.config["down"]
        if down == "close":
            self._record(st, body, None, False, "down (closed)")
            return self.close_unanswered()
        if down:
            self._record(st, body, 503, False, "down")
            return self.send_body(503, b"")
        with st.lock:
            fail = st.config["fail_next"] > 0
            if fail:
                st.config["fail_next"] -= 1
        if fail:
            self._record(st, body, 500, False, "fail_next")
            return self.send_body(500, b"")
        ok, reason = verify(st.secret, self.headers.get("X-Sbx-Timestamp"),
                            body, self.headers.get("X-Sbx-Signature"),
                            int(time.time()), st.tolerance)
        self._record(st, body, 204 if ok else 401, ok, reason)
        return self.send_body(204 if ok else 401, b"")

    def _record(self, st, body, answer, verified, reason):
        text = body.decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        with st.lock:
            st.deliveries.append({
                "n": len(st.deliveries) + 1,
                "time": time.time(),
                "path": self.path,
                "answer": answer,
                "verified": verified,
                "reason": reason,
                "timestamp": self.headers.get("X-Sbx-Timestamp"),
                "signature": self.headers.get("X-Sbx-Signature"),
                "event": self.headers.get("X-Sbx-Event"),
                "delivery": self.headers.get("X-Sbx-Delivery"),
                "content_type": self.headers.get("Content-Type"),
                "body": text,
                "json": parsed,
            })

    def _control(self, st, body):
        try:
            req = fakehttp.json_object(body)
        except ValueError:
            return self.send_json(400, {"error": "body is not a JSON object"})
        if self.path == "/_fake/reset":
            st.reset()
            return self.send_json(200, {"ok": True})
        if self.path == "/_fake/config":
            with st.lock:
                if "down" in req:
                    if req["down"] not in (True, False, "close"):
                        return self.send_json(400, {
                            "error": "down: true, false or \"close\""})
                    st.config["down"] = req["down"]
                if "fail_next" in req:
                    st.config["fail_next"] = int(req["fail_next"])
                return self.send_json(200, dict(st.config))
        return self.send_json(404, {"error": "not found"})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--secret-env", default="WEBHOOK_SECRET")
    p.add_argument("--tolerance", type=int, default=300)
    args = p.parse_args()
    secret = os.environ.get(args.secret_env)
    if not secret:
        sys.stderr.write("webhook_receiver: %s is not set\n" % args.secret_env)
        return 2
    server = fakehttp.make_server(args.port, Handler)
    server.state = State(secret.encode("utf-8"), args.tolerance)
    return fakehttp.serve(server, "webhook_receiver")


if __name__ == "__main__":
    sys.exit(main())
