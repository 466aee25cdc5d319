#!/usr/bin/python3
"""A local OpenID provider that behaves like Google for the authorization-code
flow with PKCE, for scripts/up and the integration tests.

    fake_idp.py --port P --client-id ID
                (--client-secret-env NAME | --client-secret S)
                [--issuer URL] [--key-dir DIR] [--redirect-uri URI ...]
                [--jwks-max-age N]

--client-secret-env NAME reads the client secret from the environment
variable NAME, which other users cannot read, unlike a command line (ps).

--port 0 picks a free port. Once listening it prints one line to stdout:
    fake_idp listening on http://127.0.0.1:PORT
The issuer defaults to http://127.0.0.1:PORT. Binds 127.0.0.1 only. Logs one
line per request to stderr (method, path without query, status); never a
code, token or secret. Exits 0 on SIGTERM or SIGINT.

Public endpoints (as Google's):
  GET  /.well-known/openid-configuration
  GET  /jwks                    Cache-Control: public, max-age=N
  GET  /authorize               login_hint=EMAIL -> 302 at once; else an HTML form
  POST /authorize               the form's answer -> 302
  POST /token                   authorization_code + PKCE (S256)
  GET  /userinfo                Bearer access token
  POST /revoke                  token=...

Control API for tests (JSON; see the comment above Handler._control).
Python: /usr/bin/python3, stdlib plus Debian's python3-cryptography.
"""

import argparse
import base64
import hashlib
import hmac
import html
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

import fakehttp

CODE_TTL_DEFAULT = 600
ID_TOKEN_TTL_DEFAULT = 3600
GOOGLE_SCOPE_NAMES = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode("utf-8"))


def int_b64url(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class SigningKey:
    """One RSA key with its kid (derived from the public key, so a key kept
    in --key-dir keeps its kid across restarts)."""

    def __init__(self, private_key):
        self.private_key = private_key
        self.public_key = private_key.public_key()
        self.public_pem = self.public_key.public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        der = self.public_key.public_bytes(
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = hashlib.sha1(der).hexdigest()

    @classmethod
    def generate(cls):
        return cls(rsa.generate_private_key(public_exponent=65537,
                                            key_size=2048))

    def private_pem(self):
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())

    def jwk(self):
        nums = self.public_key.public_numbers()
        return {"e": int_b64url(nums.e), "kty": "RSA", "use": "sig",
                "alg": "RS256", "kid": self.kid, "n": int_b64url(nums.n)}

    def sign_rs256(self, signing_input):
        return self.private_key.sign(signing_input, padding.PKCS1v15(),
                                     hashes.SHA256())


class KeyStore:
    """The signing keys. keys[-1] is current; earlier ones are still
    published in the JWKS until dropped."""

    def __init__(self, key_dir):
        self.key_dir = key_dir
        self.keys = []
        if key_dir:
            os.makedirs(key_dir, mode=0o700, exist_ok=True)
            self._load()
        if not self.keys:
            self.add(SigningKey.generate())

    def _load(self):
        order_file = os.path.join(self.key_dir, "keys.json")
        try:
            with open(order_file, encoding="utf-8") as f:
                names = json.load(f)
        except (OSError, ValueError):
            return
        for name in names:
            try:
                with open(os.path.join(self.key_dir, name + ".pem"), "rb") as f:
                    pk = serialization.load_pem_private_key(f.read(), None)
            except (OSError, ValueError):
                continue
            self.keys.append(SigningKey(pk))

    def _save(self):
        if not self.key_dir:
            return
        for k in self.keys:
            path = os.path.join(self.key_dir, k.kid + ".pem")
            if not os.path.exists(path):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "wb") as f:
                    f.write(k.private_pem())
        tmp = os.path.join(self.key_dir, "keys.json.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump([k.kid for k in self.keys], f)
        os.replace(tmp, os.path.join(self.key_dir, "keys.json"))

    def add(self, key):
        self.keys.append(key)
        self._save()

    def drop_old(self):
        old = self.keys[:-1]
        self.keys = self.keys[-1:]
        self._save()
        if self.key_dir:
            for k in old:
                try:
                    os.unlink(os.path.join(self.key_dir, k.kid + ".pem"))
                except OSError:
                    pass

    @property
    def current(self):
        return self.keys[-1]

    @property
    def previous(self):
        return self.keys[-2] if len(self.keys) > 1 else None


def encode_jwt(header, claims, alg, key=None, hmac_secret=None):
    signing_input = (b64url_json(header) + "." + b64url_json(claims)).encode(
        "ascii")
    if alg == "none":
        sig = b""
    elif alg == "HS256":
        sig = hmac.new(hmac_secret, signing_input, hashlib.sha256).digest()
    else:
        sig = key.sign_rs256(signing_input)
    return signing_input.decode("ascii") + "." + b64url(sig)


class State:
    """Everything the fake remembers; one lock guards it all."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.keys = KeyStore(args.key_dir)
        self.unknown_key = None      # made on first use: never in the JWKS
        self.reset()

    def reset(self):
        self.codes = {}              # code -> dict (see authorize)
        self.access_tokens = {}      # access token -> email
        self.users = {}              # email -> overrides
        self.config = {
            "jwks_max_age": self.args.jwks_max_age,
            "fail": [],              # endpoints answering 500
            "down": False,           # False | "close" | "503"
            "workspace_domains": [],
            "code_ttl": CODE_TTL_DEFAULT,
            "id_token_ttl": ID_TOKEN_TTL_DEFAULT,
            "slow_ms": 0,
        }
        self.stats = {}

    def count(self, name, n=1):
        self.stats[name] = self.stats.get(name, 0) + n

    # -- users ---------------------------------------------------------
    def user_claims(self, email):
        """The claims Google would put in an ID token for this email."""
        email = email.strip()
        over = self.users.get(email.lower(), {})
        local, _, domain = email.partition("@")
        digest = hashlib.sha256(email.lower().encode("utf-8")).hexdigest()
        sub = over.get("sub") or ("1" + str(int(digest, 16) % 10**20).zfill(20))
        given = over.get("given_name") or (
            local.split(".")[0].split("+")[0].capitalize() or "User")
        family = over.get("family_name", "Tester")
        claims = {"sub": sub, "email": email}
        if "hd" in over:
            if over["hd"]:
                claims["hd"] = over["hd"]
        elif domain.lower() in [d.lower() for d in
                                self.config["workspace_domains"]]:
            claims["hd"] = domain.lower()
        claims["email_verified"] = bool(over.get("email_verified", True))
        claims["name"] = over.get("name") or (given + " " + family).strip()
        claims["picture"] = over.get("picture") or (
            "https://lh3.googleusercontent.com/a/" + digest[:24] + "=s96-c")
        claims["given_name"] = given
        if family:
            claims["family_name"] = family
        return claims

    def id_token_claims(self, email, nonce, access_token, now=None):
        now = int(now if now is not None else time.time())
        user = self.user_claims(email)
        claims = {"iss": self.args.issuer, "azp": self.args.client_id,
                  "aud": self.args.client_id, "sub": user.pop("sub")}
        if "hd" in user:
            claims["hd"] = user.pop("hd")
        claims["email"] = user.pop("email")
        claims["email_verified"] = user.pop("email_verified")
        if access_token:
            claims["at_hash"] = b64url(
                hashlib.sha256(access_token.encode("ascii")).digest()[:16])
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(user)
        claims["iat"] = now
        claims["exp"] = now + int(self.config["id_token_ttl"])
        return claims

    def sign(self, claims, header_over=None, key_choice="current",
             alg="RS256"):
        if key_choice == "old":
            key = self.keys.previous
            if key is None:
                raise ValueError("no old key: rotate first")
        elif key_choice == "unknown":
            if self.unknown_key is None:
                self.unknown_key = SigningKey.generate()
            key = self.unknown_key
        elif key_choice == "current":
            key = self.keys.current
        else:
            raise ValueError("key must be current, old or unknown")
        if alg == "RS256":
            header = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
            hdr = dict(header)
            hdr.update(header_over or {})
            hdr = {k: v for k, v in hdr.items() if v is not None}
            return encode_jwt(hdr, claims, "RS256", key=key)
        if alg == "HS256-with-public-key":
            hdr = {"alg": "HS256", "kid": key.kid, "typ": "JWT"}
            hdr.update(header_over or {})
            hdr = {k: v for k, v in hdr.items() if v is not None}
            return encode_jwt(hdr, claims, "HS256", hmac_secret=key.public_pem)
        if alg == "none":
            hdr = {"alg": "none", "typ": "JWT"}
            hdr.update(header_over or {})
            hdr = {k: v for k, v in hdr.items() if v is not None}
            return encode_jwt(hdr, claims, "none")
        raise ValueError("alg must be RS256, HS256-with-public-key or none")


STATE = None


class Handler(fakehttp.Handler):
    server_version = "fake-idp/1"

    # -- plumbing ------------------------------------------------------
    def log_line(self, status):
        path = self.path.split("?", 1)[0]
        sys.stderr.write("fake_idp: %s %s %s\n" % (self.command, path, status))
        sys.stderr.flush()

    def send_body(self, status, body, ctype=None, headers=None):
        super().send_body(status, body, ctype, headers)
        self.log_line(status)

    def send_json(self, status, obj, headers=None,
                  ctype="application/json; charset=utf-8"):
        h = {"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate",
             "Pragma": "no-cache"}
        h.update(headers or {})
        super().send_json(status, obj, h, ctype)

    def send_oauth_error(self, status, error, description, headers=None):
        self.send_json(status, {"error": error,
                                "error_description": description}, headers)

    def redirect(self, location):
        self.send_body(302, "", "text/html; charset=UTF-8",
                       {"Location": location, "Cache-Control": "no-store"})

    def form(self, body):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if ctype.lower() != "application/x-www-form-urlencoded":
            return None
        try:
            pairs = urllib.parse.parse_qsl(body.decode("utf-8"),
                                           keep_blank_values=True)
        except UnicodeDecodeError:
            return None
        out = {}
        for k, v in pairs:
            if k in out:
                out[k] = None  # a repeated parameter is an error in OAuth
            else:
                out[k] = v
        return out

    def query(self):
        q = urllib.parse.urlsplit(self.path).query
        return dict(urllib.parse.parse_qsl(q, keep_blank_values=True))

    def route(self):
        return urllib.parse.urlsplit(self.path).path

    # -- dispatch --------------------------------------------------------
    def do_GET(self):
        self.dispatch("GET")

    def do_HEAD(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def dispatch(self, method):
        path = self.route()
        body = self.read_body() if method == "POST" else b""
        if path.startswith("/_fake/"):
            return self._control(method, path, body)
        endpoint = {
            "/.well-known/openid-configuration": "discovery",
            "/jwks": "jwks", "/authorize": "authorize", "/token": "token",
            "/userinfo": "userinfo", "/revoke": "revoke",
        }.get(path)
        with STATE.lock:
            STATE.count("requests")
            down = STATE.config["down"]
            fail = endpoint in STATE.config["fail"]
            slow = STATE.config["slow_ms"]
            if endpoint:
                STATE.count(endpoint)
        if down == "close":
            self.log_line("closed (down)")
            return self.close_unanswered()
        if down:
            return self.send_json(503, {"error": "temporarily_unavailable"})
        if slow:
            time.sleep(slow / 1000.0)
        if endpoint is None:
            return self.send_json(404, {"error": "not_found"})
        if fail:
            with STATE.lock:
                STATE.count(endpoint + "_failed")
            return self.send_json(500, {"error": "server_error",
                                        "error_description": "injected"})
        getattr(self, "_" + endpoint)(method, body)

    # -- discovery and keys ----------------------------------------------
    def _discovery(self, method, body):
        iss = STATE.args.issuer.rstrip("/")
        doc = {
            "issuer": STATE.args.issuer,
            "authorization_endpoint": iss + "/authorize",
            "token_endpoint": iss + "/token",
            "userinfo_endpoint": iss + "/userinfo",
            "revocation_endpoint": iss + "/revoke",
            "jwks_uri": iss + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "aud", "email", "email_verified", "exp", "family_name",
                "given_name", "iat", "iss", "name", "picture", "sub", "hd",
                "nonce", "azp", "at_hash"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
        }
        self.send_json(200, doc, {"Cache-Control": "public, max-age=3600",
                                  "Pragma": ""})

    def _jwks(self, method, body):
        with STATE.lock:
            keys = [k.jwk() for k in reversed(STATE.keys.keys)]
            age = int(STATE.config["jwks_max_age"])
        self.send_json(200, {"keys": keys}, {
            "Cache-Control":
                "public, max-age=%d, must-revalidate, no-transform" % age,
            "Pragma": ""})

    # -- authorize ---------------------------------------------------------
    def _authorize(self, method, body):
        if method == "POST":
            params = self.form(body) or {}
        else:
            params = self.query()
        client_id = params.get("client_id")
        redirect_uri = params.get("redirect_uri")
        if client_id != STATE.args.client_id:
            return self.error_page(401, "invalid_client",
                                   "The OAuth client was not found.")
        if not redirect_uri:
            return self.error_page(400, "invalid_request",
                                   "Missing required parameter: redirect_uri")
        parts = urllib.parse.urlsplit(redirect_uri)
        if parts.scheme not in ("http", "https") or not parts.netloc \
                or parts.fragment:
            return self.error_page(400, "invalid_request",
                                   "Invalid parameter value for redirect_uri")
        if STATE.args.redirect_uri and \
                redirect_uri not in STATE.args.redirect_uri:
            return self.error_page(400, "redirect_uri_mismatch",
                                   "The redirect URI in the request does not "
                                   "match the ones authorized for the client.")
        state = params.get("state")

        def fail(error, desc):
            q = {"error": error, "error_description": desc}
            if state is not None:
                q["state"] = state
            self.redirect(add_query(redirect_uri, q))

        if params.get("response_type") != "code":
            return fail("unsupported_response_type",
                        "Only response_type=code is supported")
        scopes = (params.get("scope") or "").split()
        if "openid" not in scopes:
            return fail("invalid_scope", "scope must contain openid")
        if not params.get("code_challenge"):
            return fail("invalid_request", "code_challenge is required")
        if params.get("code_challenge_method") != "S256":
            return fail("invalid_request",
                        "code_challenge_method must be S256")
        challenge = params["code_challenge"]
        if not (43 <= len(challenge) <= 128) or any(
                c not in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-._~" for c in challenge):
            return fail("invalid_request", "Invalid code_challenge")

        email = params.get("login_hint") or params.get("email")
        if method == "GET" and not params.get("login_hint"):
            return self.login_form(params)
        if not email or "@" not in email:
            return self.login_form(params, "Enter an email address.")
        with STATE.lock:
            over = STATE.users.get(email.strip().lower(), {})
            if over.get("deny"):
                STATE.count("authorize_denied")
                denied = True
            else:
                denied = False
                code = "4/0" + secrets.token_urlsafe(48)
                STATE.codes[code] = {
                    "email": email.strip(), "redirect_uri": redirect_uri,
                    "challenge": challenge, "nonce": params.get("nonce"),
                    "scope": scopes, "expires": time.time() +
                    float(STATE.config["code_ttl"]), "used": False}
                STATE.count("codes_issued")
        if denied:
            return fail("access_denied", "The user denied the request")
        q = {"state": state} if state is not None else {}
        q["code"] = code
        q["scope"] = " ".join(
            scopes + [GOOGLE_SCOPE_NAMES[s] for s in ("email", "profile")
                      if s in scopes])
        q["authuser"] = "0"
        q["prompt"] = "none"
        self.redirect(add_query(redirect_uri, q))

    def error_page(self, status, error, desc):
        page = ("<!doctype html><title>Error %d (%s)</title>"
                "<h1>Access blocked: authorization error</h1>"
                "<p>Error %d: %s</p><p>%s</p>") % (
                    status, html.escape(error), status, html.escape(error),
                    html.escape(desc))
        self.send_body(status, page, "text/html; charset=utf-8")

    def login_form(self, params, message=""):
        hidden = "".join(
            '<input type="hidden" name="%s" value="%s">' % (
                html.escape(k), html.escape(v or ""))
            for k, v in sorted(params.items())
            if k not in ("email", "login_hint"))
        with STATE.lock:
            known = sorted(STATE.users)
        buttons = "".join(
            '<li><button name="email" value="%s">%s</button></li>' % (
                html.escape(e), html.escape(e)) for e in known)
        page = """<!doctype html>
<html><head><meta charset="utf-8"><title>Sign in - fake IdP</title></head>
<body>
<h1>Sign in (local test identity provider)</h1>
<p>This is not Google. Pick or type an email; it will be vouched for.</p>
<p>%s</p>
<form method="post" action="/authorize">
%s
<ul>%s</ul>
<label>Email <input type="email" name="email" autofocus required></label>
<button type="submit">Continue</button>
</form>
</body></html>
""" % (html.escape(message), hidden, buttons)
        self.send_body(200, page, "text/html; charset=utf-8",
                       {"Cache-Control": "no-store"})

    # -- token ---------------------------------------------------------------
    def client_auth(self, form):
        """Returns (client_id, secret, method) or None when both methods
        are used or the Basic header is malformed."""
        auth = self.headers.get("Authorization")
        if auth:
            scheme, _, cred = auth.partition(" ")
            if scheme.lower() != "basic":
                return None
            try:
                raw = base64.b64decode(cred.strip(), validate=True).decode()
            except (ValueError, UnicodeDecodeError):
                return None
            cid, sep, secret = raw.partition(":")
            if not sep:
                return None
            cid = urllib.parse.unquote_plus(cid)
            secret = urllib.parse.unquote_plus(secret)
            if form.get("client_secret") is not None:
                return None  # RFC 6749 2.3: only one method per request
            if form.get("client_id") not in (None, cid):
                return None
            return cid, secret, "client_secret_basic"
        return form.get("client_id"), form.get("client_secret"), \
            "client_secret_post"

    def _token(self, method, body):
        if method != "POST":
            return self.send_oauth_error(405, "invalid_request",
                                         "Use POST")
        form = self.form(body)
        if form is None:
            return self.send_oauth_error(400, "invalid_request",
                                         "Body must be form-encoded")
        auth = self.client_auth(form)
        bad_client = (auth is None or auth[0] != STATE.args.client_id or
                      auth[1] is None or not hmac.compare_digest(
                          auth[1].encode(),
                          STATE.args.client_secret.encode()))
        if bad_client:
            with STATE.lock:
                STATE.count("token_invalid_client")
            return self.send_oauth_error(401, "invalid_client",
                                         "Unauthorized")
        grant = form.get("grant_type")
        if grant != "authorization_code":
            with STATE.lock:
                STATE.count("token_bad_grant_type")
            return self.send_oauth_error(400, "unsupported_grant_type",
                                         "Invalid grant_type: %s" % grant)
        code = form.get("code")
        with STATE.lock:
            entry = STATE.codes.get(code) if code else None
            err = None
            if entry is None:
                err = (400, "invalid_grant", "Malformed auth code.")
            elif entry["used"]:
                # A replayed code: refused, and (RFC 6749 4.1.2) the tokens
                # issued for it are revoked.
                err = (400, "invalid_grant", "Bad Request")
                STATE.access_tokens.pop(entry.get("access_token"), None)
            elif time.time() > entry["expires"]:
                err = (400, "invalid_grant", "Bad Request")
            else:
                # Any redemption attempt spends the code, good or bad.
                entry["used"] = True
                verifier = form.get("code_verifier")
                if form.get("redirect_uri") != entry["redirect_uri"]:
                    err = (400, "redirect_uri_mismatch", "Bad Request")
                elif not verifier:
                    err = (400, "invalid_grant", "Missing code verifier.")
                elif not hmac.compare_digest(
                        b64url(hashlib.sha256(
                            verifier.encode("utf-8")).digest()),
                        entry["challenge"]):
                    err = (400, "invalid_grant", "Invalid code verifier.")
            if err:
                STATE.count("token_" + err[1])
            else:
                STATE.count("token_ok")
                access = "ya29.fake-" + secrets.token_urlsafe(40)
                STATE.access_tokens[access] = entry["email"]
                entry["access_token"] = access
                claims = STATE.id_token_claims(entry["email"], entry["nonce"],
                                               access)
                id_token = STATE.sign(claims)
                scope = " ".join(
                    [GOOGLE_SCOPE_NAMES[s] for s in ("email", "profile")
                     if s in entry["scope"]] + ["openid"])
        if err:
            return self.send_oauth_error(*err)
        self.send_json(200, {"access_token": access,
                             "expires_in": 3599, "scope": scope,
                             "token_type": "Bearer", "id_token": id_token})

    def _userinfo(self, method, body):
        auth = self.headers.get("Authorization") or ""
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        with STATE.lock:
            email = STATE.access_tokens.get(token)
            info = STATE.user_claims(email) if email else None
        if info is None:
            return self.send_json(401, {"error": "invalid_request",
                                        "error_description":
                                        "Invalid Credentials"},
                                  {"WWW-Authenticate": "Bearer"})
        self.send_json(200, info)

    def _revoke(self, method, body):
        form = self.form(body) or {}
        token = form.get("token") or self.query().get("token")
        with STATE.lock:
            known = STATE.access_tokens.pop(token, None) if token else None
        if known is None:
            return self.send_oauth_error(400, "invalid_token", "Bad Request")
        self.send_json(200, {})

    # -- control API -----------------------------------------------------
    # All JSON, loopback only, no auth; never affected by fail/down.
    #   GET  /_fake/health               {"ok": true, "issuer": ...}
    #   POST /_fake/rotate               {"drop_old": bool} -> {"kid", "kids"}
    #   POST /_fake/mint                 {"email", "claims", "relative",
    #                                     "header", "key", "alg", "tamper"} -> {"token", "kid",
    #                                     "claims"}
    #   POST /_fake/users                {"email", "email_verified", "hd",
    #                                     "name", "picture", "sub", "deny"}
    #   POST /_fake/config               {"jwks_max_age", "fail", "down",
    #                                     "workspace_domains", "code_ttl",
    #                                     "id_token_ttl", "slow_ms"}
    #   GET  /_fake/config, GET /_fake/stats, GET /_fake/keys
    #   POST /_fake/reset                (keys are kept; see below)
    def _control(self, method, path, body):
        try:
            req = fakehttp.json_object(body)
        except ValueError as e:
            return self.send_json(400, {"error": "bad json: %s" % e})
        try:
            status, answer = self._control_call(method, path, req)
        except (ValueError, TypeError, KeyError) as e:
            return self.send_json(400, {"error": str(e)})
        self.send_json(status, answer)

    def _control_call(self, method, path, req):
        name = path[len("/_fake/"):]
        with STATE.lock:
            if method == "GET" and name == "health":
                return 200, {"ok": True, "issuer": STATE.args.issuer}
            if method == "GET" and name == "stats":
                return 200, dict(STATE.stats)
            if method == "GET" and name == "config":
                return 200, dict(STATE.config)
            if method == "GET" and name == "keys":
                return 200, {"current": STATE.keys.current.kid,
                             "kids": [k.kid for k in STATE.keys.keys],
                             "public_pem": STATE.keys.current.public_pem
                             .decode("ascii")}
            if method != "POST":
                return 404, {"error": "unknown control endpoint"}
            if name == "rotate":
                STATE.keys.add(SigningKey.generate())
                if req.get("drop_old"):
                    STATE.keys.drop_old()
                STATE.count("rotations")
                return 200, {"kid": STATE.keys.current.kid,
                             "kids": [k.kid for k in STATE.keys.keys]}
            if name == "mint":
                return 200, self._mint(req)
            if name == "users":
                email = req.get("email")
                if not isinstance(email, str) or "@" not in email:
                    raise ValueError("email is required")
                over = {k: req[k] for k in (
                    "email_verified", "hd", "name", "picture", "sub",
                    "given_name", "family_name", "deny") if k in req}
                STATE.users.setdefault(email.lower(), {}).update(over)
                return 200, {"email": email,
                             "claims": STATE.user_claims(email)}
            if name == "config":
                return 200, self._config(req)
            if name == "reset":
                if req.get("drop_old_keys"):
                    STATE.keys.drop_old()
                STATE.reset()
                return 200, {"ok": True}
        return 404, {"error": "unknown control endpoint"}

    def _config(self, req):
        cfg = STATE.config
        for k, v in req.items():
            if k == "fail":
                if v is None:
                    v = []
                elif isinstance(v, str):
                    v = [v]
                for e in v:
                    if e not in ("token", "jwks", "discovery", "authorize",
                                 "userinfo", "revoke"):
                        raise ValueError("fail: unknown endpoint %r" % e)
                cfg["fail"] = list(v)
            elif k == "down":
                if v in (False, None):
                    cfg["down"] = False
                elif v is True or v == "close":
                    cfg["down"] = "close"
                elif v in ("503", 503):
                    cfg["down"] = "503"
                else:
                    raise ValueError("down: true, \"close\", \"503\" or false")
            elif k == "workspace_domains":
                if not isinstance(v, list):
                    raise ValueError("workspace_domains must be a list")
                cfg[k] = [str(d).lower() for d in v]
            elif k in ("jwks_max_age", "code_ttl", "id_token_ttl", "slow_ms"):
                if not isinstance(v, (int, float)) or v < 0:
                    raise ValueError("%s must be a number >= 0" % k)
                cfg[k] = v
            else:
                raise ValueError("unknown setting %r" % k)
        return dict(cfg)

    def _mint(self, req):
        """A token for tests. Starts from the claims a real login for
        `email` (default alice@example.com) would get, nonce absent unless
        given, then applies `claims` (a null value removes that claim) and
        `header` (likewise). `key` picks current, old (after a rotation) or
        unknown (a key never published). `alg`: RS256,
        HS256-with-public-key (HMAC keyed with the signing key's public PEM,
        the algorithm-confusion attack), or none (empty signature).
        `relative`: {"claim": seconds} sets claim = now + seconds (e.g.
        {"exp": -60} expired, {"iat": 3600} issued in the future).
        `tamper`: true flips a bit of the signature."""
        email = req.get("email", "alice@example.com")
        claims = STATE.id_token_claims(email, None, None)
        for k, v in (req.get("claims") or {}).items():
            if v is None:
                claims.pop(k, None)
            else:
                claims[k] = v
        now = int(time.time())
        for k, v in (req.get("relative") or {}).items():
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise ValueError("relative: seconds from now, a number")
            claims[k] = now + int(v)
        token = STATE.sign(claims, req.get("header") or {},
                           req.get("key", "current"), req.get("alg", "RS256"))
        if req.get("tamper"):
            head, payload, sig = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4))
                            or b"\0")
            raw[len(raw) // 2] ^= 0x01
            token = head + "." + payload + "." + b64url(bytes(raw))
        STATE.count("minted")
        header = json.loads(base64.urlsafe_b64decode(
            token.split(".")[0] + "=" * (-len(token.split(".")[0]) % 4)))
        return {"token": token, "header": header, "claims": claims}


def add_query(url, params):
    parts = urllib.parse.urlsplit(url)
    q = parts.query
    extra = urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
    q = q + "&" + extra if q else extra
    return urllib.parse.urlunsplit(
        (parts.scheme, parts.netloc, parts.path, q, ""))


def main(argv=None):
    global STATE
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--client-id", required=True)
    secret = p.add_mutually_exclusive_group(required=True)
    secret.add_argument("--client-secret-env", metavar="NAME",
                        help="read the client secret from this environment "
                             "variable (not visible in ps)")
    secret.add_argument("--client-secret",
                        help="the client secret itself (visible in ps)")
    p.add_argument("--issuer")
    p.add_argument("--key-dir")
    p.add_argument("--redirect-uri", action="append", default=[],
                   help="registered redirect URI (repeatable); "
                        "without one any http(s) URI is accepted")
    p.add_argument("--jwks-max-age", type=int, default=3600)
    args = p.parse_args(argv)
    if args.client_secret_env:
        args.client_secret = os.environ.get(args.client_secret_env)
        if not args.client_secret:
            p.error("%s is not set" % args.client_secret_env)

    server = fakehttp.make_server(args.port, Handler)
    if not args.issuer:
        args.issuer = "http://127.0.0.1:%d" % server.server_address[1]
    STATE = State(args)
    return fakehttp.serve(server, "fake_idp",
                          "issuer %s, client %s, kid %s" % (
                              args.issuer, args.client_id,
                              STATE.keys.current.kid))


if __name__ == "__main__":
    sys.exit(main())
