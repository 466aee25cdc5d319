#!/usr/bin/python3
"""Prints a bearer session token for EMAIL, signed in through the running
stack with the local IdP (tests/fakes/fake_idp.py), for curl:

    set -a; . var/up.env; set +a
    TOKEN=$(/usr/bin/python3 tests/integration/lib/get_token.py you@example.com)
    curl -k -H "Authorization: Bearer $TOKEN" https://localhost:8443/api/me

It runs the JSON variant of the sign-in flow: GET /auth/login with
login_hint (the local IdP then answers at once), follows the redirects
with a cookie jar, and reads access_token from the callback's JSON answer.
With a real provider (Google) the sign-in needs a browser: open
$BASE_URL/auth/login, or send a Google ID token for GOOGLE_CLIENT_ID as the
bearer token instead. Settings come from the environment (var/up.env).
"""

import http.cookiejar
import json
import os
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request


def main(argv):
    if len(argv) != 2 or "@" not in argv[1]:
        sys.stderr.write("usage: get_token.py EMAIL   (with var/up.env loaded)\n")
        return 2
    email = argv[1]
    base = os.environ.get("BASE_URL") or "https://localhost:%s" % os.environ.get(
        "HTTPS_PORT", "8443")
    cert = os.environ.get("SBX_TLS_CERT")
    if cert and os.path.exists(cert):
        ctx = ssl.create_default_context(cafile=cert)
    else:
        ctx = ssl.create_default_context()
    opener = urllib.request.build_opener(
        urllib.request.HTTPSHandler(context=ctx),
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    url = base + "/auth/login?" + urllib.parse.urlencode({"login_hint": email})
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with opener.open(req, timeout=30) as resp:
            final = urllib.parse.urlsplit(resp.geturl())
            body = resp.read()
    except urllib.error.HTTPError as e:
        detail = e.read().decode("utf-8", "replace")
        try:
            detail = json.loads(detail).get("detail", detail)
        except ValueError:
            pass
        sys.stderr.write("get_token.py: sign-in refused (%d): %s\n" % (e.code, detail))
        return 1
    except urllib.error.URLError as e:
        sys.stderr.write("get_token.py: cannot reach %s: %s\n" % (base, e.reason))
        return 1
    if final.path != "/auth/callback":
        sys.stderr.write("get_token.py: the identity provider wants a person "
                         "(it stopped at %s://%s%s): sign in with a browser "
                         "at %s/auth/login\n" % (final.scheme, final.netloc,
                                                final.path, base))
        return 1
    token = json.loads(body.decode("utf-8")).get("access_token")
    if not token:
        sys.stderr.write("get_token.py: the callback answered no access_token\n")
        return 1
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
