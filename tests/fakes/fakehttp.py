"""What the local fakes (fake_idp.py, fake_cfn.py, webhook_receiver.py)
and their self-tests share: the HTTP/1.1 handler plumbing, the loopback
server and its start and stop, the control API's JSON bodies, and, for the
self-tests, starting a fake on a free port, a no-redirect HTTP client and
the pass/fail tally.

The fakes run as `/usr/bin/python3 <dir>/fake_x.py`, so this module is
imported from beside them (scripts/up copies the whole directory).
Stdlib only.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------- the fakes


class Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with the answer helpers every fake uses. Each
    fake logs its own line per request (never a query string, code, token
    or secret), so the default access log is off."""

    protocol_version = "HTTP/1.1"
    # TCP_NODELAY: the headers and the body go out in separate writes, and
    # on a kept-alive connection Nagle held the body until the client's
    # delayed ACK, about 40 ms per request (tests/bench/run measured it).
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def read_body(self, limit=None):
        """The request body (b"" without one). ValueError when the
        Content-Length is negative or over limit."""
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or (limit is not None and n > limit):
            raise ValueError("body too large")
        return self.rfile.read(n) if n > 0 else b""

    def send_body(self, status, body, ctype=None, headers=None):
        """Answers status with body (str or bytes), its Content-Type (none
        when ctype is None) and headers; a HEAD gets the headers only.
        A client that hung up first (the tests kill clients, and time
        them out on a slow fake) only ends the connection: no traceback
        in the fake's log."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            self.send_response(status)
            if ctype is not None:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def send_json(self, status, obj, headers=None,
                  ctype="application/json"):
        self.send_body(status, json.dumps(obj, indent=2) + "\n", ctype,
                       headers)

    def close_unanswered(self):
        """Drops the connection without an answer (a fake that is down)."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def json_object(body):
    """The JSON object in a control request's body, {} for an empty one;
    ValueError for anything else."""
    req = json.loads(body.decode("utf-8")) if body.strip() else {}
    if not isinstance(req, dict):
        raise ValueError("body must be a JSON object")
    return req


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def make_server(port, handler):
    """A threaded server on 127.0.0.1:port (0: a free one); the port it
    got is server.server_address[1]."""
    return Server(("127.0.0.1", port), handler)


def serve(server, name, info=None):
    """Prints "<name> listening on http://127.0.0.1:PORT" to stdout (what
    scripts and self-tests wait for), and info to stderr, then serves
    until SIGTERM or SIGINT. Returns 0, the fake's exit status."""

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.stdout.write("%s listening on http://127.0.0.1:%d\n" % (
        name, server.server_address[1]))
    sys.stdout.flush()
    if info:
        sys.stderr.write("%s: %s\n" % (name, info))
        sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
        sys.stderr.write("%s: stopped\n" % name)
    return 0


# ---------------------------------------------------------------- self-tests

_tally = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        _tally["passed"] += 1
        print("ok   %s" % name)
    else:
        _tally["failed"] += 1
        print("FAIL %s %s" % (name, detail))


def summary():
    """Prints "N passed, M failed"; the exit status (1 if any failed)."""
    print("%d passed, %d failed" % (_tally["passed"], _tally["failed"]))
    return 1 if _tally["failed"] else 0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(method, url, body=None, headers=None, form=None, js=None):
    """Returns (status, headers, body bytes); never follows a redirect and
    never raises on an HTTP error status. form (a dict) is sent
    form-encoded, js as JSON."""
    headers = dict(headers or {})
    if form is not None:
        body = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    if js is not None:
        body = json.dumps(js).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers)
    try:
        with _OPENER.open(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class FakeProcess:
    """A fake started as `python3 -B script --port 0 args...` (with env
    added to the environment): it waits for the "listening on" line and
    keeps the base URL. -B: no __pycache__ beside the fakes in the
    checkout."""

    def __init__(self, script, *args, env=None):
        self.name = script.rsplit("/", 1)[-1]
        self.proc = subprocess.Popen(
            [sys.executable, "-B", script, "--port", "0"] + list(args),
            env=dict(os.environ, **(env or {})),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            raise RuntimeError("%s did not start: %r %s" % (
                self.name, line, self.proc.stderr.read()))
        self.base = line.split("listening on ", 1)[1].strip()

    def url(self, path):
        return self.base + path

    def ctl(self, name, body=None, method="POST"):
        """A control call: (status, the JSON answer)."""
        st, _, b = http(method, self.url("/_fake/" + name),
                        js=(body or {}) if method == "POST" else None)
        return st, json.loads(b)

    def stop(self):
        """SIGTERM, then (exit status or None if it had to be killed, its
        stderr)."""
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = None
        return rc, self.proc.stderr.read()
