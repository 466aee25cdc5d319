# sbx-test: no-stack
"""Self-test of tests/fakes/fake_idp.py: starts it on a free loopback port,
runs the authorization-code + PKCE flow with urllib, verifies the ID token
with python3-cryptography against the JWKS, and exercises the refusals,
rotation, minting and fault injection. Prints "N passed, M failed"."""

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fakehttp import FakeProcess, check, http, summary

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_idp.py")
CLIENT_ID = "selftest-client.apps.example"
CLIENT_SECRET = "selftest-" + secrets.token_hex(8)
SECRET_ENV = "SELFTEST_IDP_CLIENT_SECRET"
REDIRECT = "http://127.0.0.1:9/auth/callback"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwk_to_key(jwk):
    n = int.from_bytes(b64d(jwk["n"]), "big")
    e = int.from_bytes(b64d(jwk["e"]), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


def verify_rs256(token, jwks):
    """Returns the claims when the RS256 signature verifies with the JWKS
    key named by kid, else None."""
    head, payload, sig = token.split(".")
    header = json.loads(b64d(head))
    if header.get("alg") != "RS256":
        return None
    for jwk in jwks["keys"]:
        if jwk["kid"] == header.get("kid"):
            try:
                jwk_to_key(jwk).verify(b64d(sig), (head + "." + payload)
                                       .encode(), padding.PKCS1v15(),
                                       hashes.SHA256())
            except InvalidSignature:
                return None
            return json.loads(b64d(payload))
    return None


def start(*extra, by_env=True):
    """fake_idp with the self-test's client. The secret comes from the
    environment (--client-secret-env, as scripts/up passes it) or, with
    by_env=False, from the command line (--client-secret, still kept)."""
    if by_env:
        return FakeProcess(FAKE, "--client-id", CLIENT_ID,
                           "--client-secret-env", SECRET_ENV, *extra,
                           env={SECRET_ENV: CLIENT_SECRET})
    return FakeProcess(FAKE, "--client-id", CLIENT_ID,
                       "--client-secret", CLIENT_SECRET, *extra)


def pkce():
    verifier = secrets.token_urlsafe(48)
    challenge = b64e(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge


def authorize(fake, email="alice@example.com", challenge=None, **over):
    q = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT,
         "response_type": "code", "scope": "openid email profile",
         "state": "st-" + secrets.token_hex(4),
         "nonce": "n-" + secrets.token_hex(4),
         "code_challenge": challenge, "code_challenge_method": "S256",
         "login_hint": email}
    q.update(over)
    q = {k: v for k, v in q.items() if v is not None}
    st, h, _ = http("GET", fake.url("/authorize?" + urllib.parse.urlencode(q)))
    loc = h.get("Location") or ""
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(loc).query))
    return st, loc, params, q


def token(fake, code, verifier, basic=True, secret=CLIENT_SECRET,
          redirect=REDIRECT):
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": redirect, "code_verifier": verifier}
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % (CLIENT_ID, secret)).encode()).decode()
    else:
        form["client_id"] = CLIENT_ID
        form["client_secret"] = secret
    st, _, b = http("POST", fake.url("/token"), form=form, headers=headers)
    try:
        return st, json.loads(b)
    except ValueError:
        return st, {"raw": b.decode(errors="replace")}


def main():
    key_dir = tempfile.mkdtemp(prefix="fake-idp-keys-")
    fake = start("--key-dir", key_dir)
    try:
        with open("/proc/%d/cmdline" % fake.proc.pid, "rb") as f:
            cmdline = f.read()
        check("--client-secret-env keeps the secret off the command line",
              b"--client-secret-env" in cmdline
              and CLIENT_SECRET.encode() not in cmdline)
        run(fake)
    except Exception as e:  # a crash is a failure, not a traceback exit
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    rc, err = fake.stop()
    check("exits 0 on SIGTERM", rc == 0, "rc=%r" % rc)
    check("log never shows the secret or a code",
          CLIENT_SECRET not in err and "4/0" not in err
          and "ya29" not in err, err[-400:])
    check("log has one line per request", "fake_idp: POST /token 200" in err)

    # Keys kept in --key-dir survive a restart (same kid); the secret on
    # the command line still works.
    fake2 = start("--key-dir", key_dir, by_env=False)
    try:
        st, keys = fake2.ctl("keys", method="GET")
        check("key-dir keeps the keys across restarts",
              st == 200 and keys["current"] == KIDS_AT_END["current"],
              "%r vs %r" % (keys, KIDS_AT_END))
        verifier, challenge = pkce()
        _, _, params, _ = authorize(fake2, challenge=challenge)
        st, tok = token(fake2, params.get("code"), verifier)
        check("--client-secret still works", st == 200 and "id_token" in tok,
              "%s %s" % (st, tok.get("error")))
        st, tok = token(fake2, "4/0unknown", verifier, secret="wrong")
        check("--client-secret: a wrong secret is refused",
              st == 401 and tok.get("error") == "invalid_client", st)
    finally:
        fake2.stop()

    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV}
    r = subprocess.run([sys.executable, "-B", FAKE, "--port", "0",
                        "--client-id", CLIENT_ID,
                        "--client-secret-env", SECRET_ENV], env=env,
                       capture_output=True, text=True, timeout=60)
    check("--client-secret-env with the variable unset: refused at once",
          r.returncode == 2 and "listening" not in r.stdout
          and SECRET_ENV + " is not set" in r.stderr,
          "rc=%r %s" % (r.returncode, r.stderr[-200:]))
    return summary()


KIDS_AT_END = {}


def run(fake):
    iss = fake.base
    st, h, b = http("GET", fake.url("/.well-known/openid-configuration"))
    disc = json.loads(b)
    check("discovery", st == 200 and disc["issuer"] == iss
          and disc["authorization_endpoint"] == iss + "/authorize"
          and disc["token_endpoint"] == iss + "/token"
          and disc["jwks_uri"] == iss + "/jwks"
          and disc["id_token_signing_alg_values_supported"] == ["RS256"]
          and disc["code_challenge_methods_supported"] == ["S256"]
          and "client_secret_basic" in
          disc["token_endpoint_auth_methods_supported"], json.dumps(disc))

    st, h, b = http("GET", fake.url("/jwks"))
    jwks = json.loads(b)
    check("jwks with max-age", st == 200 and len(jwks["keys"]) == 1
          and "max-age=3600" in h.get("Cache-Control", ""),
          h.get("Cache-Control"))
    fake.ctl("config", {"jwks_max_age": 5})
    st, h, b = http("GET", fake.url("/jwks"))
    check("jwks max-age settable", "max-age=5," in h.get("Cache-Control", ""),
          h.get("Cache-Control"))

    # The whole flow, client_secret_basic.
    verifier, challenge = pkce()
    st, loc, p, q = authorize(fake, challenge=challenge)
    check("authorize with login_hint redirects at once",
          st == 302 and loc.startswith(REDIRECT + "?") and p.get("code")
          and p.get("state") == q["state"], "%s %s" % (st, loc))
    code = p.get("code", "")
    st, tok = token(fake, code, verifier)
    check("token exchange (basic)", st == 200 and tok.get("token_type") ==
          "Bearer" and tok.get("access_token") and tok.get("id_token")
          and tok.get("expires_in"), "%s %s" % (st, list(tok)))
    claims = verify_rs256(tok.get("id_token", "a.b.c"), jwks)
    check("id token verifies against the JWKS", claims is not None)
    claims = claims or {}
    now = time.time()
    check("id token claims", claims.get("iss") == iss
          and claims.get("aud") == CLIENT_ID and claims.get("azp") == CLIENT_ID
          and claims.get("email") == "alice@example.com"
          and claims.get("email_verified") is True
          and claims.get("nonce") == q["nonce"]
          and claims.get("name") and claims.get("picture")
          and "hd" not in claims
          and abs(claims.get("iat", 0) - now) < 60
          and claims.get("exp", 0) - claims.get("iat", 0) == 3600,
          json.dumps(claims))
    check("at_hash matches the access token", claims.get("at_hash") == b64e(
        hashlib.sha256(tok.get("access_token", "").encode()).digest()[:16]))
    sub1 = claims.get("sub")
    head = json.loads(b64d(tok["id_token"].split(".")[0]))
    check("header RS256 with kid", head.get("alg") == "RS256"
          and head.get("kid") == jwks["keys"][0]["kid"], head)

    st, ui_h, ui = http("GET", fake.url("/userinfo"), headers={
        "Authorization": "Bearer " + tok.get("access_token", "")})
    check("userinfo", st == 200 and json.loads(ui)["email"] ==
          "alice@example.com")

    st, tok2 = token(fake, code, verifier)
    check("code reuse refused", st == 400 and tok2.get("error") ==
          "invalid_grant", "%s %s" % (st, tok2))
    st, _, _ = http("GET", fake.url("/userinfo"), headers={
        "Authorization": "Bearer " + tok.get("access_token", "")})
    check("code reuse revokes its access token", st == 401)

    # client_secret_post, same email: same sub
    verifier, challenge = pkce()
    _, _, p, q = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], verifier, basic=False)
    claims = verify_rs256(tok.get("id_token", "a.b.c"), jwks) or {}
    check("token exchange (post), sub stable", st == 200
          and claims.get("sub") == sub1 and sub1, "%s %s" % (st, tok))

    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], verifier + "x")
    check("wrong verifier refused", st == 400 and tok.get("error") ==
          "invalid_grant", "%s %s" % (st, tok))
    st, tok = token(fake, p["code"], verifier)
    check("a code is spent by a failed attempt", st == 400)

    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], "")
    check("missing verifier refused", st == 400 and tok.get("error") ==
          "invalid_grant", "%s %s" % (st, tok))

    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], verifier, secret="wrong")
    check("wrong client secret: 401 invalid_client", st == 401
          and tok.get("error") == "invalid_client", "%s %s" % (st, tok))
    st, tok = token(fake, p["code"], verifier)
    check("a code survives a bad client auth", st == 200, "%s %s" % (st, tok))

    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], verifier, redirect=REDIRECT + "x")
    check("redirect_uri mismatch refused", st == 400 and tok.get("error") ==
          "redirect_uri_mismatch", "%s %s" % (st, tok))

    st, tok = token(fake, "4/0nonsense", "v" * 43)
    check("unknown code refused", st == 400 and tok.get("error") ==
          "invalid_grant")

    # authorize refusals
    st, loc, p, _ = authorize(fake, challenge=None)
    check("authorize without PKCE redirects with an error",
          st == 302 and p.get("error") == "invalid_request" and p.get("state"),
          loc)
    st, loc, p, _ = authorize(fake, challenge=pkce()[1],
                              code_challenge_method="plain")
    check("authorize refuses plain PKCE", st == 302 and p.get("error") ==
          "invalid_request", loc)
    st, loc, p, _ = authorize(fake, challenge=pkce()[1], scope="email")
    check("authorize needs openid scope", st == 302 and p.get("error") ==
          "invalid_scope", loc)
    st, loc, p, _ = authorize(fake, challenge=pkce()[1], client_id="other")
    check("authorize with an unknown client: error page, no redirect",
          st == 401 and not loc)
    st, loc, p, _ = authorize(fake, challenge=pkce()[1], redirect_uri=None)
    check("authorize without redirect_uri: 400", st == 400 and not loc)

    # The HTML form for humans.
    verifier, challenge = pkce()
    st, loc, p, q = authorize(fake, challenge=challenge, login_hint=None)
    check("authorize without login_hint shows a form", st == 200)
    q.pop("login_hint", None)
    form = dict(q, email="bob@example.org")
    st, h, _ = http("POST", fake.url("/authorize"), form=form)
    p = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        h.get("Location", "")).query))
    st2, tok = token(fake, p.get("code", "x"), verifier)
    claims = verify_rs256(tok.get("id_token", "a.b.c"), jwks) or {}
    check("form post redirects with a usable code", st == 302 and st2 == 200
          and claims.get("email") == "bob@example.org"
          and claims.get("nonce") == q["nonce"], "%s %s" % (st, st2))

    # Users and Workspace domains.
    fake.ctl("users", {"email": "carol@example.com", "email_verified": False})
    fake.ctl("config", {"workspace_domains": ["corp.example"]})
    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, "carol@example.com", challenge)
    st, tok = token(fake, p["code"], verifier)
    claims = verify_rs256(tok.get("id_token", "a.b.c"), jwks) or {}
    check("email_verified false from control", claims.get("email_verified")
          is False and "hd" not in claims, json.dumps(claims))
    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, "dave@corp.example", challenge)
    st, tok = token(fake, p["code"], verifier)
    claims = verify_rs256(tok.get("id_token", "a.b.c"), jwks) or {}
    check("hd for a Workspace domain", claims.get("hd") == "corp.example",
          json.dumps(claims))
    fake.ctl("users", {"email": "eve@example.com", "deny": True})
    st, loc, p, _ = authorize(fake, "eve@example.com", pkce()[1])
    check("denied user: access_denied", p.get("error") == "access_denied",
          loc)

    # Minting.
    st, m = fake.ctl("mint", {"email": "mint@example.com",
                              "claims": {"exp": 1000, "nonce": None}})
    claims = verify_rs256(m["token"], jwks)
    check("mint expired, valid signature", st == 200 and claims
          and claims["exp"] == 1000 and "nonce" not in claims
          and claims["aud"] == CLIENT_ID, m)
    st, m = fake.ctl("mint", {"relative": {"iat": 3600, "exp": 7200}})
    claims = verify_rs256(m["token"], jwks) or {}
    check("mint with relative times", st == 200 and
          abs(claims.get("iat", 0) - time.time() - 3600) < 60 and
          claims.get("exp", 0) - claims.get("iat", 0) == 3600, m)
    st, m = fake.ctl("mint", {"alg": "none"})
    parts = m["token"].split(".")
    check("mint alg none", parts[2] == "" and
          json.loads(b64d(parts[0]))["alg"] == "none")
    st, keys = fake.ctl("keys", method="GET")
    st, m = fake.ctl("mint", {"alg": "HS256-with-public-key"})
    h0, p0, s0 = m["token"].split(".")
    mac = hmac.new(keys["public_pem"].encode(), (h0 + "." + p0).encode(),
                   hashlib.sha256).digest()
    pem_from_jwk = jwk_to_key(jwks["keys"][0]).public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    check("mint HS256 keyed with the public PEM", b64e(mac) == s0
          and json.loads(b64d(h0))["alg"] == "HS256"
          and pem_from_jwk == keys["public_pem"])
    st, m = fake.ctl("mint", {"key": "unknown"})
    kid = json.loads(b64d(m["token"].split(".")[0]))["kid"]
    check("mint with an unknown key", kid not in
          [k["kid"] for k in jwks["keys"]] and verify_rs256(m["token"], jwks)
          is None)
    st, m = fake.ctl("mint", {"tamper": True})
    check("mint with a bad signature", verify_rs256(m["token"], jwks) is None)
    st, m = fake.ctl("mint", {"header": {"kid": None}})
    check("mint header override removes kid",
          "kid" not in json.loads(b64d(m["token"].split(".")[0])))
    st, m = fake.ctl("mint", {"key": "old"})
    check("mint with old key before rotation: 400", st == 400)

    # Rotation.
    old_kid = jwks["keys"][0]["kid"]
    st, r = fake.ctl("rotate")
    _, _, b = http("GET", fake.url("/jwks"))
    jwks2 = json.loads(b)
    kids = [k["kid"] for k in jwks2["keys"]]
    check("rotate: new key current, old kept", st == 200
          and r["kid"] != old_kid and set(kids) == {old_kid, r["kid"]})
    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], verifier)
    head = json.loads(b64d(tok["id_token"].split(".")[0]))
    check("after rotation tokens use the new kid", head["kid"] == r["kid"]
          and verify_rs256(tok["id_token"], jwks) is None
          and verify_rs256(tok["id_token"], jwks2) is not None)
    st, m = fake.ctl("mint", {"key": "old"})
    check("mint with the old key", st == 200 and json.loads(
        b64d(m["token"].split(".")[0]))["kid"] == old_kid
        and verify_rs256(m["token"], jwks) is not None)
    st, r2 = fake.ctl("rotate", {"drop_old": True})
    _, _, b = http("GET", fake.url("/jwks"))
    check("rotate with drop_old", [k["kid"] for k in json.loads(b)["keys"]]
          == [r2["kid"]])
    KIDS_AT_END["current"] = r2["kid"]

    # Fault injection.
    fake.ctl("config", {"fail": "token"})
    verifier, challenge = pkce()
    _, _, p, _ = authorize(fake, challenge=challenge)
    st, tok = token(fake, p["code"], verifier)
    check("fail token: 500", st == 500)
    fake.ctl("config", {"fail": ["jwks", "discovery"]})
    st1, _, _ = http("GET", fake.url("/jwks"))
    st2, _, _ = http("GET", fake.url("/.well-known/openid-configuration"))
    check("fail jwks/discovery: 500", st1 == 500 and st2 == 500)
    fake.ctl("config", {"fail": None, "down": True})
    try:
        http("GET", fake.url("/jwks"))
        closed = False
    except (urllib.error.URLError, ConnectionError, OSError):
        closed = True
    check("down: connections closed", closed)
    fake.ctl("config", {"down": "503"})
    st, _, _ = http("GET", fake.url("/jwks"))
    check("down 503", st == 503)
    fake.ctl("config", {"down": False})
    st, _, _ = http("GET", fake.url("/jwks"))
    check("up again", st == 200)

    st, stats = fake.ctl("stats", method="GET")
    check("stats count", stats.get("jwks", 0) >= 5
          and stats.get("token_ok", 0) >= 6
          and stats.get("token_invalid_grant", 0) >= 3
          and stats.get("discovery", 0) >= 2, json.dumps(stats))
    st, _ = fake.ctl("config", {"nonsense": 1})
    check("unknown config refused", st == 400)
    st, _ = fake.ctl("reset")
    st, stats = fake.ctl("stats", method="GET")
    _, cfg = fake.ctl("config", method="GET")
    check("reset", stats == {} and cfg["jwks_max_age"] == 3600
          and cfg["workspace_domains"] == [])


if __name__ == "__main__":
    sys.exit(main())
