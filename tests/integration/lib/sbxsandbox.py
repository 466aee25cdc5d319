"""Helpers for the test_sandboxes_*.py integration tests (stdlib only).

- Callers: an ID token for any address is minted by the stack's local IdP
  (POST /_fake/mint) and sent as ``Authorization: Bearer``; the service
  accepts IdP ID tokens whose aud is its client id and creates the user on
  first use. ``admin@example.com`` is the stack's admin (ADMIN_EMAILS).
- The local CloudFormation (tests/fakes/fake_cfn.py) is read and steered
  through its control API under /_fake/ (config, stacks, calls).
- Names and addresses are made fresh per test, so tests do not see each
  other's sandboxes or spend each other's quota.

Never print a token: assertion messages go through sbxtest.redact().
"""

import contextlib
import re
import secrets
import threading
import urllib.parse

import sbxtest as t

ADMIN = "admin@example.com"
DOMAIN = "example.com"
SANDBOX_FIELDS = {
    "id", "name", "owner", "template", "template_version", "status",
    "status_reason", "stack_id", "parameters", "outputs", "created_at",
    "expiry_time", "max_expiry_time", "terminated_at", "cost",
}

_tokens = {}
_tokens_lock = threading.Lock()


def fresh_email(tag):
    return "%s-%s@%s" % (tag, secrets.token_hex(4), DOMAIN)


def fresh_name(tag):
    return "t-%s-%s" % (tag, secrets.token_hex(4))


_control = t.fake_control


def token(email):
    """An ID token for email from the local IdP (cached per address; it is
    valid for an hour, far longer than a test)."""
    with _tokens_lock:
        tok = _tokens.get(email)
    if tok is None:
        tok = _control("FAKE_IDP_URL", "POST", "/_fake/mint",
                       {"email": email})["token"]
        with _tokens_lock:
            _tokens[email] = tok
    return tok


def api(method, path, email, body=None, headers=None, raw=None,
        content_type=None):
    """One request as user `email`. body: a JSON value sent as
    application/json; raw: bytes or str sent as is (with content_type)."""
    h = {"Authorization": "Bearer " + token(email)}
    h.update(headers or {})
    if raw is not None:
        if content_type is not None:
            h["Content-Type"] = content_type
        return t.request(method, path, body=raw, headers=h)
    if body is not None:
        return t.request(method, path, json_body=body, headers=h)
    return t.request(method, path, headers=h)


def create(email, name, expect=201, **fields):
    body = {"name": name}
    body.update(fields)
    r = api("POST", "/api/sandboxes", email, body)
    if expect is None:
        return r
    return t.assert_json(r, expect)


def get(email, name):
    return api("GET", "/api/sandboxes/" + name, email)


def delete(email, name):
    return api("DELETE", "/api/sandboxes/" + name, email)


def assert_sandbox(obj):
    """obj is a sandbox object with every field."""
    assert isinstance(obj, dict), "not an object: %r" % obj
    missing = SANDBOX_FIELDS - set(obj)
    assert not missing, "sandbox lacks %s: %r" % (sorted(missing), obj)
    return obj


def next_link(resp):
    """The path of resp's Link rel="next", or None on the last page."""
    link = resp.header("Link")
    if link is None:
        return None
    m = re.fullmatch(r'<([^>]+)>; rel="next"', link)
    assert m, "malformed Link header: %r" % link
    return m.group(1)


def assert_invalid(resp, field, status=400):
    """resp is a problem naming `field`."""
    p = t.assert_problem(resp, status)
    assert p.get("field") == field, \
        "expected the problem to name %r, got %r" % (field, p)
    return p


def wait_status(email, name, status, timeout=30):
    """GETs the sandbox until it shows status (each GET may refresh it from
    CloudFormation); returns the last sandbox seen."""
    seen = {}

    def check():
        r = get(email, name)
        seen["s"] = t.assert_json(r, 200)
        return seen["s"]["status"] == status

    t.wait_until(check, timeout=timeout, interval=0.5)
    assert seen["s"]["status"] == status, \
        "%s did not become %s: %r" % (name, status, seen["s"])
    return seen["s"]


def cleanup(email, *names):
    """Deletes the sandboxes that are still live (best effort)."""
    for n in names:
        try:
            delete(email, n)
        except Exception:  # cleanup must not hide the test's own failure
            pass


# --------------------------------------------------------- CloudFormation

def cfn(method, path, body=None):
    return _control("FAKE_CFN_URL", method, path, body)


def cfn_config(**settings):
    return cfn("POST", "/_fake/config", settings)


@contextlib.contextmanager
def cfn_settings(**settings):
    """Sets fake CloudFormation settings for the block, then puts back the
    values they had."""
    before = cfn("GET", "/_fake/config")
    cfn_config(**settings)
    try:
        yield
    finally:
        cfn_config(**{k: before[k] for k in settings})


def cfn_stacks(stack_name):
    """The fake's stacks of that name (deleted ones included), oldest
    first."""
    q = urllib.parse.urlencode({"name": stack_name})
    return cfn("GET", "/_fake/stacks?" + q)["stacks"]


def cfn_live(stack_name):
    return [s for s in cfn_stacks(stack_name)
            if s["status"] != "DELETE_COMPLETE"]


def stack_name(name):
    return t.setting("STACK_NAME_PREFIX", "sbx-") + name


def cfn_calls():
    return cfn("GET", "/_fake/calls")


def cfn_count(stack, action):
    """How many calls of action the fake received for stack (any answer)."""
    return cfn_calls().get("stacks", {}).get(stack, {}).get(action, 0)


# ---------------------------------------------------------------- database

def row(sandbox_id):
    """The sandbox row's status, pending_action, attempts (strings) and
    stack_id (None when NULL)."""
    rows = t.psql("SELECT status, pending_action, attempts, "
                  "COALESCE(stack_id, '<null>') "
                  "FROM sandboxes WHERE id = :'id'", id=sandbox_id)
    assert len(rows) == 1, "no row for %s" % sandbox_id
    r = dict(zip(("status", "pending_action", "attempts", "stack_id"),
                 rows[0]))
    if r["stack_id"] == "<null>":
        r["stack_id"] = None
    return r


def live_count(email):
    rows = t.psql("SELECT count(*) FROM sandboxes WHERE owner_email = :'e' "
                  "AND status <> 'TERMINATED'", e=email)
    return int(rows[0][0])


def parallel(n, fn):
    """Runs fn(i) for i in 0..n-1 at once (threads released together);
    returns the results in order (an exception is returned, not raised)."""
    results = [None] * n
    barrier = threading.Barrier(n)

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fn(i)
        except Exception as e:  # reported by the caller's assertions
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(120)
    return results
