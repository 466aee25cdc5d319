#!/usr/bin/python3
"""scripts/container-start outside Docker: run as the
unprivileged user sbx, as the image's USER does, with an image-like
SBX_HOME (the built responders, nginx's templates, nginx.sh), its own
state directory and free ports, against the stack's database.

- TERM during a slow request (GET /metrics held up by a lock on the
  sandboxes table): the request completes with its 200 answer, the script
  exits 0, and no process of it is left, nor a listening port.
- A responder's supervisor killed: the script stops nginx and the others
  and exits non-zero, leaving nothing behind."""

import http.client
import os
import pwd
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import sbxtest as t

RESPONDERS = ("sbx-meta", "sbx-auth", "sbx-sandboxes", "sbx-jobs")
USER = "sbx"


def free_port(taken):
    """A free port below the ephemeral range, not in taken."""
    import random
    while True:
        p = random.randint(20000, 31999)
        if p in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        taken.add(p)
        return p


def _parent(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def listening(port):
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Container:
    """One container-start, as sbx, in a directory of its own."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sbx-cs-")
        self.home = os.path.join(self.dir, "home")
        self.state = os.path.join(self.dir, "state")
        src = t.setting("SBX_SRC_DIR")
        build = t.setting("SBX_BUILD_DIR")
        os.makedirs(os.path.join(self.home, "libexec", "sbx"))
        os.makedirs(os.path.join(self.home, "lib"))
        os.makedirs(self.state)
        for name in RESPONDERS:
            os.symlink(os.path.join(build, "fcgi", name),
                       os.path.join(self.home, "libexec", "sbx", name))
        os.symlink(os.path.join(src, "nginx"), os.path.join(self.home, "nginx"))
        os.symlink(os.path.join(src, "scripts", "lib", "nginx.sh"),
                   os.path.join(self.home, "lib", "nginx.sh"))
        pw = pwd.getpwnam(USER)
        # Its logs: files it can reopen through /dev/stdout and
        # /dev/stderr, as Docker makes its stdio the container user's.
        self.out_path = os.path.join(self.dir, "stdout")
        self.err_path = os.path.join(self.dir, "stderr")
        for p in (self.out_path, self.err_path):
            open(p, "w").close()
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        taken = {int(t.setting("HTTPS_PORT")), int(t.setting("HTTP_PORT"))}
        self.https = free_port(taken)
        self.http = free_port(taken)
        env = dict(os.environ)
        for k in ("SBX_TLS_CERT", "SBX_TLS_KEY", "SBX_LOG_DIR", "SBX_RUN_DIR",
                  "NGINX_USER", "NGINX_GROUP", "METRICS_ALLOW_FROM",
                  "NGINX_REAL_IP_FROM", "SBX_INSTANCE"):
            env.pop(k, None)
        env.update({
            "SBX_HOME": self.home, "SBX_STATE_DIR": self.state,
            "HTTPS_PORT": str(self.https), "HTTP_PORT": str(self.http),
            "NGINX_LISTEN_ADDRESS": "127.0.0.1", "NGINX_WORKER_PROCESSES": "1",
            "SBX_WORKERS": "1", "SBX_STOP_TIMEOUT_SECONDS": "20",
            "HOME": self.dir,
        })
        script = os.path.join(src, "scripts", "container-start")
        self.out = open(self.out_path, "a")
        self.err = open(self.err_path, "a")
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid=" + USER, "--regid=" + USER, "--init-groups",
             "--", "bash", script],
            env=env, stdout=self.out, stderr=self.err, stdin=subprocess.DEVNULL,
            cwd=self.dir)
        ok = t.wait_until(lambda: self.proc.poll() is not None or self.healthy(),
                          timeout=60, interval=0.3)
        assert ok and self.proc.poll() is None, \
            "container-start did not come up: %s" % self.log()

    def conn(self, timeout=30):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # its own self-signed certificate
        return http.client.HTTPSConnection("127.0.0.1", self.https,
                                           timeout=timeout, context=ctx)

    def healthy(self):
        try:
            c = self.conn(timeout=2)
            c.request("GET", "/healthz")
            return c.getresponse().status == 200
        except OSError:
            return False

    def processes(self):
        """Processes of this container (but the script itself): those
        that inherited its SBX_HOME or name its directory, and their
        children (nginx clears its environment, and its workers retitle
        themselves)."""
        mark = ("SBX_HOME=%s" % self.home).encode()
        where = self.dir.encode()
        procs = {pid: [a for a in argv if a] for pid, argv in t.processes()}
        ours = {pid for pid, argv in procs.items()
                if pid != self.proc.pid and (any(where in a for a in argv)
                                             or mark in t._environ_of(pid))}
        while True:
            more = {pid for pid in procs if pid not in ours
                    and pid != self.proc.pid and _parent(pid) in ours}
            if not more:
                break
            ours |= more
        return [(pid, b" ".join(procs[pid])) for pid in sorted(ours)]

    def supervisor(self, name):
        for pid, argv in self.processes():
            if argv.startswith(b"/usr/bin/multiwatch") and \
                    argv.endswith(os.path.join(self.home, "libexec", "sbx", name).encode()):
                return pid
        raise AssertionError("no supervisor of %s: %r" % (name, self.processes()))

    def log(self):
        with open(self.err_path, encoding="utf-8", errors="replace") as f:
            return t.redact(f.read()[-3000:])

    def wait(self, timeout=60):
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.out.close()
            self.err.close()

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
        for pid, _ in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def assert_nothing_left(self):
        left = t.wait_until(lambda: not self.processes(), timeout=10)
        assert left, "processes left behind: %r" % self.processes()
        for port in (self.https, self.http):
            assert not listening(port), "port %d still listened on" % port


def lock_sandboxes(seconds):
    """psql holding an exclusive lock on sandboxes for `seconds`; returns
    once the lock is held."""
    proc = subprocess.Popen(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
         "BEGIN; LOCK TABLE sandboxes IN ACCESS EXCLUSIVE MODE;"
         " SELECT pg_sleep(%d); COMMIT;" % seconds],
        env=t._pg_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    held = t.wait_until(lambda: t.psql(
        "SELECT count(*) FROM pg_locks WHERE relation = 'sandboxes'::regclass"
        " AND mode = 'AccessExclusiveLock' AND granted")[0][0] == "1",
        timeout=20)
    assert held, "could not lock sandboxes"
    return proc


def waiting_on_lock():
    return t.psql("SELECT count(*) FROM pg_locks WHERE relation ="
                  " 'sandboxes'::regclass AND NOT granted")[0][0] != "0"


def test_term_lets_the_request_in_flight_finish():
    c = Container()
    try:
        assert c.proc.poll() is None
        pids = [pid for pid, _ in c.processes()]
        assert len(pids) >= 1 + len(RESPONDERS) * 2, c.processes()
        # Everything runs as sbx, nothing as root.
        for pid in pids:
            with open("/proc/%d/status" % pid) as f:
                uid = next(x for x in f if x.startswith("Uid:")).split()[1]
            assert uid == str(pwd.getpwnam(USER).pw_uid), (pid, uid)

        locker = lock_sandboxes(6)
        answer = {}

        def slow():
            conn = c.conn(timeout=60)
            started = time.monotonic()
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            answer.update(status=r.status, body=r.read(),
                          seconds=time.monotonic() - started)

        th = threading.Thread(target=slow)
        th.start()
        assert t.wait_until(waiting_on_lock, timeout=20), \
            "the request never reached the database"
        c.proc.send_signal(signal.SIGTERM)
        # nginx stops accepting at once, while the request goes on.
        assert t.wait_until(lambda: not listening(c.https), timeout=10), \
            "nginx still accepts connections after TERM"
        assert c.proc.poll() is None, "container-start exited before the request ended"
        th.join(60)
        locker.wait(30)
        assert answer.get("status") == 200, (answer, c.log())
        assert b"sbx_sandboxes_overdue " in answer["body"], answer
        assert answer["seconds"] >= 2, answer
        rc = c.wait(60)
        assert rc == 0, "exit status %r after TERM: %s" % (rc, c.log())
        c.assert_nothing_left()
        assert "stopping gracefully" in c.log(), c.log()
    finally:
        c.cleanup()


def test_a_dead_child_stops_the_rest():
    c = Container()
    try:
        os.kill(c.supervisor("sbx-auth"), signal.SIGKILL)
        rc = c.wait(60)
        assert rc != 0, "exit status 0 after a responder's supervisor died"
        c.assert_nothing_left()
        assert "a child exited" in c.log(), c.log()
    finally:
        c.cleanup()


t.run()
