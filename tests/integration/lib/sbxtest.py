"""Helpers for the integration tests (stdlib only; /usr/bin/python3).

A test is a module with functions named test_*; it ends with
``sbxtest.run()``, which runs them in the order they are defined, prints
``ok``/``FAIL`` lines and exits 1 when any failed (automake's harness reads
the exit code). Use plain ``assert`` or the ``assert_*`` helpers here.

The settings of the stack under test come from the environment (run-one
loads the file SBX_TEST_ENV names) or, when a test is run by hand, from
that file directly::

    SBX_TEST_ENV=var/up.env /usr/bin/python3 tests/integration/test_welcome.py

Requests go to loopback only: 127.0.0.1 on HTTPS_PORT, with TLS verified
against the stack's own certificate (SBX_TLS_CERT) for the name localhost.
Never put a secret or a token in an assertion message: bodies shown on
failure are redacted (see redact()).
"""

import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import traceback
import urllib.parse

__all__ = [
    "setting", "request", "get", "post", "Response", "assert_status",
    "assert_json", "assert_problem", "assert_security_headers", "psql",
    "pg_ctl", "processes", "responder_pids", "wait_until", "redact", "run",
]


def _load_settings():
    """The stack's settings: the env file's values, then the environment's
    (run-one has exported the file, so they agree there)."""
    values = {}
    path = os.environ.get("SBX_TEST_ENV")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.rstrip("\n")
                if not line or line.startswith("#") or "=" not in line:
                    continue
                key, _, value = line.partition("=")
                values[key] = value
    values.update(os.environ)
    return values


SETTINGS = _load_settings()


def setting(name, default=None):
    """A setting of the stack; a missing one without default fails the
    test with a message naming it."""
    value = SETTINGS.get(name)
    if value is None or value == "":
        if default is not None:
            return default
        raise AssertionError(
            "setting %s is missing: is SBX_TEST_ENV the env file of a "
            "running stack (scripts/up --detach, or scripts/test)?" % name)
    return value


# ----------------------------------------------------------------- HTTP

_REDACT_KEYS = re.compile(
    r'("(?:[a-z_]*token|[a-z_]*secret|password|code|id_token|'
    r'access_token|refresh_token|session[a-z_]*|cookie)"\s*:\s*)"[^"]*"',
    re.IGNORECASE)


def redact(text):
    """text with the values of token-, secret- and password-like JSON
    members replaced, for assertion messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = _REDACT_KEYS.sub(r'\1"<redacted>"', text)
    return text if len(text) <= 2000 else text[:2000] + "...(truncated)"


class Response:
    """An HTTP answer: status, headers (an http.client.HTTPMessage: use
    header() or headers.get_all()), body (bytes)."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def content_type(self):
        """The media type, lower case, without parameters."""
        value = self.header("Content-Type", "")
        return value.split(";")[0].strip().lower()

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError as e:
            raise AssertionError("body is not JSON (%s): %s" % (e, redact(self.body)))

    def __repr__(self):
        return "<%d %s %s: %s>" % (self.status, self.reason, self.content_type,
                                   redact(self.body[:500]))


def _tls_context():
    """Verifies the stack's self-signed certificate. Only when that file
    is absent (a stack not started by scripts/up) is verification off,
    and then only because every request here goes to 127.0.0.1."""
    cert = setting("SBX_TLS_CERT", "")
    if cert and os.path.exists(cert):
        return ssl.create_default_context(cafile=cert)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _LoopbackHTTPS(http.client.HTTPSConnection):
    """Connects to 127.0.0.1 but checks the certificate for server_name
    (localhost), as a browser at https://localhost:PORT would."""

    def __init__(self, port, context, server_name, timeout):
        super().__init__("127.0.0.1", port, timeout=timeout, context=context)
        self._sbx_context = context
        self._sbx_server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._sbx_context.wrap_socket(
            sock, server_hostname=self._sbx_server_name)


def connection(scheme="https", port=None, timeout=30, context=None):
    """A connection to the stack's nginx on loopback (keep-alive: send
    several requests on it with request(..., conn=c))."""
    if scheme == "https":
        port = int(port or setting("HTTPS_PORT"))
        return _LoopbackHTTPS(port, context or _tls_context(), "localhost", timeout)
    port = int(port or setting("HTTP_PORT"))
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(method, path, body=None, headers=None, json_body=None,
            scheme="https", port=None, conn=None, timeout=30, openapi=True):
    """Sends one request to the stack and returns a Response. json_body
    (any JSON value) is serialised with Content-Type application/json.
    The Host header is localhost:PORT unless headers give one. Every
    HTTPS answer is checked against the OpenAPI document (sbxopenapi):
    one it does not describe fails the test (openapi=False skips that,
    for a test that checks the document's own coverage)."""
    headers = dict(headers or {})
    if json_body is not None:
        body = json.dumps(json_body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode("utf-8")
    own = conn is None
    if own:
        conn = connection(scheme, port, timeout)
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = "localhost:%d" % conn.port
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        answer = Response(resp.status, resp.reason, resp.headers, data)
    finally:
        if own:
            conn.close()
    if openapi and scheme == "https":
        import sbxopenapi  # here: the fakes' self-tests import this module
        sbxopenapi.check(method, path, answer)
    return answer


def get(path, **kw):
    return request("GET", path, **kw)


def post(path, **kw):
    return request("POST", path, **kw)


def access_log_line(request_id, timeout=5):
    """nginx's access log line (JSON) for the request with this
    X-Request-Id, once nginx has written it; fails the test after
    timeout seconds without one."""
    log = os.path.join(setting("SBX_LOG_DIR"), "nginx-access.log")

    def line():
        with open(log, encoding="utf-8") as f:
            return next((x for x in f
                         if '"request_id":"%s"' % request_id in x), None)

    found = wait_until(line, timeout=timeout)
    assert found, "no access log line for %s" % request_id
    return found


# ------------------------------------------------------------- the fakes

def loopback(url_setting):
    """(host, port) of a local fake from its URL setting (FAKE_IDP_URL,
    FAKE_CFN_URL, ...); fails the test when it is not on loopback: tests
    drive only local fakes' control APIs."""
    url = urllib.parse.urlsplit(setting(url_setting))
    assert url.hostname in ("127.0.0.1", "localhost", "::1"), \
        "%s is not loopback: %s" % (url_setting, url.geturl())
    return url.hostname, url.port


def fake_call(url_setting, method, path, body=None):
    """A call to a local fake's control API (/_fake/..., body sent as
    JSON): (status, the raw answer)."""
    host, port = loopback(url_setting)
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def fake_control(url_setting, method, path, body=None):
    """fake_call that must answer 200: its JSON answer."""
    status, raw = fake_call(url_setting, method, path, body)
    assert status == 200, "%s %s %s: %d %s" % (
        url_setting, method, path, status, redact(raw))
    return json.loads(raw.decode("utf-8"))


# ------------------------------------------------------------ assertions

def assert_status(resp, status):
    assert resp.status == status, "expected %d, got %r" % (status, resp)


def assert_json(resp, status=200):
    """resp is `status` with an application/json body; returns it parsed."""
    assert_status(resp, status)
    assert resp.content_type == "application/json", \
        "expected application/json, got %r" % resp
    return resp.json()


def assert_problem(resp, status, request_id=None):
    """resp is an application/problem+json answer with the members type,
    title, status (== status), detail and request_id (equal to the
    X-Request-Id header, and to request_id when given); returns it."""
    assert_status(resp, status)
    assert resp.content_type == "application/problem+json", \
        "expected application/problem+json, got %r" % resp
    p = resp.json()
    assert isinstance(p, dict), "problem is not an object: %r" % resp
    for member in ("type", "title", "detail", "request_id"):
        assert isinstance(p.get(member), str), \
            "problem member %s missing or not a string: %r" % (member, resp)
    assert p["type"] and p["title"], "empty type or title: %r" % resp
    assert p.get("status") == status and isinstance(p["status"], int), \
        "problem status %r is not %d" % (p.get("status"), status)
    assert p["request_id"], "empty request_id: %r" % resp
    echoed = resp.header("X-Request-Id")
    assert echoed == p["request_id"], \
        "request_id %r differs from X-Request-Id %r" % (p["request_id"], echoed)
    if request_id is not None:
        assert p["request_id"] == request_id, \
            "request_id %r, expected %r" % (p["request_id"], request_id)
    return p


SECURITY_HEADERS = {
    "Strict-Transport-Security": lambda v: v.startswith("max-age=") and int(
        v.split(";")[0].split("=")[1]) >= 15552000,
    "X-Content-Type-Options": lambda v: v == "nosniff",
    "X-Frame-Options": lambda v: v == "DENY",
    "Referrer-Policy": lambda v: v == "no-referrer",
    "Content-Security-Policy": lambda v: "default-src 'none'" in v,
}


def assert_security_headers(resp):
    """Every HTTPS answer carries HSTS and the usual security headers,
    once each, and no server version."""
    for name, ok in SECURITY_HEADERS.items():
        values = resp.headers.get_all(name) or []
        assert len(values) == 1, "%s: expected once, got %r" % (name, values)
        assert ok(values[0]), "%s has a wrong value: %r" % (name, values[0])
    server = resp.header("Server", "")
    assert not re.search(r"\d", server), "Server header shows a version: %r" % server


# ------------------------------------------------------------- database

def _pg_env():
    """libpq variables from DATABASE_URL, so that the password travels in
    the environment, never on a command line."""
    url = urllib.parse.urlsplit(setting("DATABASE_URL"))
    env = dict(os.environ)
    env.update({
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": urllib.parse.unquote(url.username or ""),
        "PGPASSWORD": urllib.parse.unquote(url.password or ""),
        "PGDATABASE": url.path.lstrip("/") or "sbx",
        "PGCONNECT_TIMEOUT": "5",
    })
    return env


def psql(sql, **variables):
    """Runs sql with psql as the service's role and returns the rows as
    lists of strings (NULL as None). Pass values as keyword arguments and
    write them in sql as :'name' (a quoted literal) or :"name" (an
    identifier): psql quotes them, so they are never spliced by hand."""
    args = ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-F", "\x1f", "-P", "null=\x1e"]
    for name, value in variables.items():
        args += ["-v", "%s=%s" % (name, value)]
    done = subprocess.run(args, input=sql, env=_pg_env(), capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError("psql failed: %s" % done.stderr.strip())
    rows = []
    # split("\n"), not splitlines(): the latter also splits at \x1e,
    # the NULL marker, and so cut every row holding a NULL in two.
    for line in done.stdout.split("\n"):
        if line == "":
            continue
        rows.append([None if c == "\x1e" else c for c in line.split("\x1f")])
    return rows


def pg_ctl(*args):
    """Runs pg_ctl on the stack's private cluster as its user, e.g.
    pg_ctl("stop", "-m", "fast") or pg_ctl("start"). Fails when the stack
    uses a DATABASE_URL of its own (no PGDATA)."""
    pg_bin = setting("PG_BIN")
    pgdata = setting("PGDATA")
    user = setting("SBX_RUN_USER")
    log = os.path.join(setting("SBX_LOG_DIR"), "postgres.log")
    cmd = ["/usr/sbin/runuser", "-u", user, "--", os.path.join(pg_bin, "pg_ctl"),
           "-D", pgdata, "-w", "-t", "60", "-l", log] + list(args)
    # cwd "/": pg_ctl refuses to run from a directory its user cannot read.
    # The environment is minimal (no settings, no secrets) and carries the
    # stack's marker, as when scripts/up starts the cluster.
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "SBX_INSTANCE": setting("SBX_STATE_DIR")}
    done = subprocess.run(cmd, cwd="/", env=env, capture_output=True,
                          text=True, timeout=120)
    if done.returncode != 0:
        raise AssertionError("pg_ctl %s failed: %s %s" % (
            " ".join(args), done.stdout.strip(), done.stderr.strip()))


# ------------------------------------------------------------ processes

def _environ_of(pid):
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def processes():
    """(pid, argv as a list of bytes) of every process now running."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        yield int(entry), argv


def responder_pids(name):
    """The pids of the worker processes of responder `name` (sbx-meta...)
    of this stack (SBX_INSTANCE in their environment), as a set."""
    binary = os.path.join(setting("SBX_BUILD_DIR"), "fcgi", name).encode()
    marker = ("SBX_INSTANCE=%s" % setting("SBX_STATE_DIR")).encode()
    return {pid for pid, argv in processes()
            if argv and argv[0] == binary and marker in _environ_of(pid)}


def run_cgi(name, path, method="GET", authorization=None, settings=None,
            without=()):
    """Runs responder `name` by hand in CGI mode (README: operators poke a
    route so) with the stack's settings, changed by `settings` and without
    the names in `without`. Returns the CompletedProcess; its .status is
    the answer's status (None when it printed no answer)."""
    env = {k: v for k, v in SETTINGS.items()
           if k.isupper() and not k.startswith(("HTTP_", "REQUEST_"))}
    env.update(settings or {})
    for k in without:
        env.pop(k, None)
    env.update({"REQUEST_METHOD": method, "PATH_INFO": path,
                "QUERY_STRING": ""})
    if authorization is not None:
        env["HTTP_AUTHORIZATION"] = authorization
    done = subprocess.run([os.path.join(setting("SBX_BUILD_DIR"), "fcgi", name)],
                          env=env, cwd="/", capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    m = re.match(rb"Status: (\d{3})", done.stdout)
    done.status = int(m.group(1)) if m else None
    done.body = done.stdout.partition(b"\r\n\r\n")[2].decode("utf-8", "replace")
    return done


# --------------------------------------------------------------- timing

def wait_until(predicate, timeout=30.0, interval=0.2):
    """Polls predicate() until it returns a true value (returned) or
    timeout seconds pass (returns the last value). For waiting on a
    recovery, never for a clock the code under test keeps: such a
    duration must be a setting the test shortens."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


# --------------------------------------------------------------- runner

def run(namespace=None):
    """Runs the test_* functions of the calling module in definition
    order; exits 0 when all passed, 1 otherwise."""
    if namespace is None:
        namespace = sys.modules["__main__"].__dict__
    tests = [(n, f) for n, f in list(namespace.items())
             if n.startswith("test_") and callable(f)]
    if not tests:
        print("FAIL no test_* functions found")
        sys.exit(1)
    failed = []
    for name, fn in tests:
        started = time.monotonic()
        try:
            fn()
        except Exception:  # report every failure, then go on
            failed.append(name)
            print("FAIL %s" % name)
            traceback.print_exc(file=sys.stdout)
        else:
            print("ok   %s (%.2fs)" % (name, time.monotonic() - started))
        sys.stdout.flush()
    print("%d passed, %d failed%s" % (len(tests) - len(failed), len(failed),
                                      (": " + ", ".join(failed)) if failed else ""))
    sys.exit(1 if failed else 0)
