"""Sign-in helpers for the test_auth_*.py integration tests (stdlib only).

The stack's local IdP (tests/fakes/fake_idp.py) is driven through its
control API under /_fake/ (mint tokens, rotate keys, change users, take
it down); the sign-in flow is driven step by step (login, authorize,
callback) so that a test can tamper with any step, or whole with urllib
following redirects and keeping a cookie jar, as a browser would.

Never print a token: messages go through sbxtest.redact().
"""

import base64
import hashlib
import hmac
import http.client
import http.cookiejar
import json
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import sbxtest as t

SESSION_COOKIE = "__Host-sbx_session"
CSRF_COOKIE = "__Host-sbx_csrf"
LOGIN_COOKIE = "__Host-sbx_login"
DOMAIN = "example.com"          # ALLOWED_EMAIL_DOMAINS of the test stack


def fresh_email(tag, domain=DOMAIN):
    """An address no earlier test used, so rows can be counted by it."""
    return "%s-%s@%s" % (tag, secrets.token_hex(4), domain)


# ------------------------------------------------------------- the IdP

def idp(method, path, body=None):
    """Calls the fake IdP's control API; returns the parsed JSON answer."""
    return t.fake_control("FAKE_IDP_URL", method, path, body)


def mint(**req):
    """A token from the fake IdP (see its _mint): email, claims, header,
    key (current/old/unknown), alg, tamper."""
    return idp("POST", "/_fake/mint", req)["token"]


def idp_config(**cfg):
    return idp("POST", "/_fake/config", cfg)


def idp_stats():
    return idp("GET", "/_fake/stats")


def idp_user(email, **over):
    over["email"] = email
    return idp("POST", "/_fake/users", over)


def idp_get(url):
    """GETs a URL of the IdP (its authorize endpoint); returns (status,
    Location)."""
    parts = urllib.parse.urlsplit(url)
    host, port = t.loopback("FAKE_IDP_URL")
    assert (parts.hostname, parts.port) == (host, port), \
        "redirected somewhere other than the IdP: %s" % parts.netloc
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        target = parts.path + ("?" + parts.query if parts.query else "")
        conn.request("GET", target)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Location")
    finally:
        conn.close()


# -------------------------------------------------------- the service

def auth_request(method, path, headers=None, **kw):
    """A request to /auth/... that waits out nginx's per-client rate limit
    on /auth/ (a 429 is answered before any responder sees the request, so
    repeating it is safe)."""
    for _ in range(100):
        r = t.request(method, path, headers=headers, **kw)
        if r.status != 429:
            return r
        time.sleep(0.25)
    raise AssertionError("still rate limited on %s" % path.split("?")[0])


def set_cookies(resp):
    """name -> the whole Set-Cookie line, for the answer's cookies."""
    out = {}
    for line in resp.headers.get_all("Set-Cookie") or []:
        name = line.split("=", 1)[0].strip()
        out[name] = line
    return out


def cookie_value(line):
    return line.split(";", 1)[0].split("=", 1)[1]


def cookie_attrs(line):
    """The attributes of a Set-Cookie line, lower-cased names."""
    attrs = {}
    for part in line.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        attrs[k.lower()] = v
    return attrs


class Login:
    """One sign-in, step by step. start() calls /auth/login and keeps the
    login cookie and the IdP URL; authorize() lets the IdP answer (with
    login_hint, non-interactively) and keeps code and state; callback()
    finishes it. Each step may be tampered with in between."""

    def __init__(self, email, next_path=None):
        self.email = email
        self.next_path = next_path
        self.login_cookie = None
        self.authorize_url = None
        self.code = None
        self.state = None

    def start(self):
        q = {"login_hint": self.email}
        if self.next_path is not None:
            q["next"] = self.next_path
        r = auth_request("GET", "/auth/login?" + urllib.parse.urlencode(q))
        t.assert_status(r, 302)
        cookies = set_cookies(r)
        assert LOGIN_COOKIE in cookies, "no login cookie: %r" % list(cookies)
        self.login_cookie = cookie_value(cookies[LOGIN_COOKIE])
        self.authorize_url = r.header("Location")
        return r

    def authorize_params(self):
        q = urllib.parse.urlsplit(self.authorize_url).query
        return dict(urllib.parse.parse_qsl(q))

    def set_authorize_param(self, name, value):
        parts = urllib.parse.urlsplit(self.authorize_url)
        q = dict(urllib.parse.parse_qsl(parts.query))
        q[name] = value
        self.authorize_url = urllib.parse.urlunsplit(
            parts._replace(query=urllib.parse.urlencode(q)))

    def authorize(self):
        status, location = idp_get(self.authorize_url)
        assert status == 302, "IdP authorize answered %d" % status
        cb = urllib.parse.urlsplit(location)
        assert cb.path == "/auth/callback", "IdP sent us to %s" % cb.path
        q = dict(urllib.parse.parse_qsl(cb.query))
        self.code = q.get("code")
        self.state = q.get("state")
        self.error = q.get("error")
        return q

    def callback(self, json_answer=True, code=None, state=None,
                 cookie=None, extra_query=None):
        q = {}
        code = self.code if code is None else code
        state = self.state if state is None else state
        if code is not False and code is not None:
            q["code"] = code
        if state is not False and state is not None:
            q["state"] = state
        if extra_query:
            q.update(extra_query)
        headers = {}
        cookie = self.login_cookie if cookie is None else cookie
        if cookie:
            headers["Cookie"] = "%s=%s" % (LOGIN_COOKIE, cookie)
        if json_answer:
            headers["Accept"] = "application/json"
        return auth_request("GET", "/auth/callback?" +
                            urllib.parse.urlencode(q), headers=headers)


def sign_in(email, json_answer=True):
    """A whole sign-in; returns the callback's answer (JSON: 200)."""
    login = Login(email)
    login.start()
    login.authorize()
    return login.callback(json_answer=json_answer)


def session_token(email):
    """Signs email in (JSON variant) and returns its bearer token."""
    r = sign_in(email)
    body = t.assert_json(r, 200)
    return body["access_token"]


def bearer(token):
    return {"Authorization": "Bearer " + token}


def me(token=None, headers=None, path="/api/me"):
    h = dict(headers or {})
    if token is not None:
        h.update(bearer(token))
    return t.get(path, headers=h)


# ------------------------------------------------------------ a browser

class _Recorder(urllib.request.HTTPRedirectHandler):
    """Follows redirects like urllib does, remembering each hop."""

    def __init__(self):
        self.hops = []

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        self.hops.append((req.full_url, code, headers))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class Browser:
    """urllib with a cookie jar, following redirects between the service
    (https://localhost:PORT, its own certificate) and the local IdP."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.recorder = _Recorder()
        ctx = ssl.create_default_context(cafile=t.setting("SBX_TLS_CERT"))
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=ctx),
            urllib.request.HTTPCookieProcessor(self.jar),
            self.recorder)

    def url(self, path):
        return "https://localhost:%s%s" % (t.setting("HTTPS_PORT"), path)

    def open(self, path_or_url, method="GET", headers=None, data=None):
        """Returns (status, final URL, headers, body bytes); an HTTP error
        status is returned, not raised. Waits out /auth/ rate limits."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        for _ in range(100):
            req = urllib.request.Request(url, data=data, method=method,
                                         headers=dict(headers or {}))
            try:
                with self.opener.open(req, timeout=30) as resp:
                    got = (resp.status, resp.geturl(), resp.headers,
                           resp.read())
            except urllib.error.HTTPError as e:
                if e.code == 429:
                    time.sleep(0.25)
                    continue
                got = (e.code, e.geturl(), e.headers, e.read())
            self._check_openapi(method, url, got)
            return got
        raise AssertionError("still rate limited on %s" % url.split("?")[0])

    def _check_openapi(self, method, asked, got):
        """The answer the redirects ended on, when it is ours, fits the
        OpenAPI document (as sbxtest.request checks every other one); a
        redirect turned the method into GET."""
        status, url, headers, body = got
        if not url.startswith(self.url("/")):
            return
        import sbxopenapi
        sbxopenapi.check(method if url == asked else "GET",
                         urllib.parse.urlsplit(url).path,
                         t.Response(status, "", headers, body))

    def cookie(self, name):
        for c in self.jar:
            if c.name == name:
                return c
        return None


# -------------------------------------------------------------- forging

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge_session_token(secret, jti=None, sub=None, iat=None, exp=None):
    """A token shaped exactly like ours, signed with another secret."""
    now = int(time.time())
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64url(json.dumps({
        "jti": jti or str(uuid.uuid4()), "sub": sub or str(uuid.uuid4()),
        "iat": iat or now, "exp": exp or now + 3600,
    }, separators=(",", ":")).encode())
    signing = (header + "." + payload).encode()
    sig = hmac.new(secret, signing, hashlib.sha256).digest()
    return header + "." + payload + "." + b64url(sig)


# ------------------------------------------------------------- database

def count(sql, **params):
    return int(t.psql(sql, **params)[0][0])


def users_with(email):
    return count("SELECT count(*) FROM users WHERE email = lower(:'e')",
                 e=email)


def sessions_of(email):
    return count("SELECT count(*) FROM sessions s JOIN users u "
                 "ON u.id = s.user_id WHERE u.email = lower(:'e')", e=email)


def all_sessions():
    return count("SELECT count(*) FROM sessions")


def all_users():
    return count("SELECT count(*) FROM users")
