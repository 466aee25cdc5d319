"""The page as nginx serves it (nginx/page.conf.in, nginx/headers.conf.in):
content types, cache lifetimes, the page's Content-Security-Policy with
AVATAR_HOSTS, every server security header repeated in the page's
locations, asset versions, and the sign-in round trip back to "/".
The page's behaviour in a browser is test_page_browser.py's."""

import hashlib
import os
import re
import subprocess
import tempfile

import sbxtest as t
import authflow as af

PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; "
            "connect-src 'self'; img-src 'self' %s; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'")

WWW = os.path.join(os.environ["SBX_SRC_DIR"], "nginx", "www")


def avatar_hosts():
    return " ".join(h.strip() for h in
                    t.setting("AVATAR_HOSTS", "https://*.googleusercontent.com").split(",")
                    if h.strip())


def index():
    r = t.get("/")
    t.assert_status(r, 200)
    return r, r.body.decode("utf-8")


def asset_version(html):
    m = re.search(r'src="/v/([0-9a-f]{16})/app\.js"', html)
    assert m, "index.html names no versioned app.js"
    return m.group(1)


def assert_page_headers(r, cache, path):
    """Every server header (test_errors checks them on API answers) and the
    page's own policy and cache lifetime."""
    t.assert_security_headers(r)
    for name in ("Strict-Transport-Security", "X-Content-Type-Options",
                 "X-Frame-Options", "Referrer-Policy", "X-Request-Id"):
        assert len(r.headers.get_all(name) or []) == 1, \
            "%s: %s is not there exactly once" % (path, name)
    csp = r.headers.get_all("Content-Security-Policy")
    assert csp == [PAGE_CSP % avatar_hosts()], "%s: CSP %r" % (path, csp)
    cc = r.headers.get_all("Cache-Control")
    assert cc == [cache], "%s: Cache-Control %r, want %r" % (path, cc, cache)


def test_index_html():
    r, html = index()
    assert r.headers["Content-Type"] == "text/html; charset=utf-8", r.headers["Content-Type"]
    assert_page_headers(r, "no-cache", "/")
    # No validator: a new asset version must be seen at once, and
    # index.html's own file does not change when only an asset does.
    assert r.headers.get("ETag") is None and r.headers.get("Last-Modified") is None
    # Filled in by nginx: no placeholder is left.
    assert "__SBX_" not in html, "a placeholder is left in index.html"
    assert '<meta name="sbx-avatar-hosts" content="%s">' % avatar_hosts() in html
    # No inline script or style, nothing from another origin.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and " style=" not in html, "inline style"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html, re.IGNORECASE), \
        "inline event handler"
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith("/") or url.startswith("#"), "not from this origin: %s" % url
    assert '<link rel="icon" href="/favicon.svg"' in html


def test_assets_versioned_for_a_year():
    _, html = index()
    v = asset_version(html)
    # The version is the digest nginx.sh computes over nginx/www/assets.
    h = hashlib.sha256()
    assets = os.path.join(WWW, "assets")
    for name in sorted(os.listdir(assets)):
        with open(os.path.join(assets, name), "rb") as f:
            h.update(("%s  ./%s\n" % (hashlib.sha256(f.read()).hexdigest(), name)).encode())
    assert v == h.hexdigest()[:16], "asset version %s is not the digest of the assets" % v
    types = {".js": "text/javascript; charset=utf-8",
             ".css": "text/css; charset=utf-8",
             ".svg": "image/svg+xml; charset=utf-8"}
    for name in sorted(os.listdir(assets)):
        r = t.get("/v/%s/%s" % (v, name))
        t.assert_status(r, 200)
        assert r.headers["Content-Type"] == types[os.path.splitext(name)[1]], \
            "%s: %s" % (name, r.headers["Content-Type"])
        assert_page_headers(r, "public, max-age=31536000, immutable", name)
        with open(os.path.join(assets, name), "rb") as f:
            assert r.body == f.read(), "%s differs from the file" % name
    # Another version, an unknown file, a path outside assets: 404 JSON.
    for path in ("/v/0000000000000000/app.js", "/v/%s/nope.js" % v,
                 "/v/%s/../index.html" % v, "/v/%s/app.js.map" % v,
                 "/index.html", "/assets/app.js"):
        r = t.get(path)
        assert r.status in (400, 404), "%s: %d" % (path, r.status)
        assert r.headers["Content-Type"].startswith("application/problem+json"), path


def test_modules_no_eval_no_inline():
    """The page's code never builds code or markup from strings."""
    assets = os.path.join(WWW, "assets")
    for name in sorted(os.listdir(assets)):
        if not name.endswith(".js"):
            continue
        with open(os.path.join(assets, name), encoding="utf-8") as f:
            # Comments may name what the code avoids.
            src = re.sub(r"(?m)^\s*//.*$", "", f.read())
        for bad in ("eval(", "new Function", "innerHTML", "outerHTML",
                    "insertAdjacentHTML", "document.write", ".style.",
                    "setAttribute(\"style\"", "http://", "https://"):
            assert bad not in src, "%s uses %s" % (name, bad)


def test_avatar_hosts_setting_is_checked():
    """AVATAR_HOSTS becomes the page's img-src: https host sources only, so
    that nothing else can reach the policy or nginx's configuration."""
    script = os.path.join(os.environ["SBX_SRC_DIR"], "scripts", "lib", "nginx.sh")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "avatar.conf")

        def render(value):
            env = {"PATH": "/usr/bin:/bin", "AVATAR_HOSTS": value, "OUT": out}
            return subprocess.run(
                ["bash", "-c", '. "$1"; sbx_nginx_avatar "$OUT"', "x", script],
                env=env, capture_output=True, text=True, timeout=30)

        done = render("https://*.googleusercontent.com, https://pics.example.org:8443")
        assert done.returncode == 0, done.stderr
        with open(out) as f:
            conf = f.read()
        assert '"https://*.googleusercontent.com https://pics.example.org:8443"' in conf, conf
        done = render("")
        assert done.returncode == 0, done.stderr
        with open(out) as f:
            assert 'default "";' in f.read()
        for bad in ("http://pics.example.org", "https://x.org/path", "*", "'unsafe-inline'",
                    "https://a.org; script-src *", 'https://a.org"', "data:"):
            done = render(bad)
            assert done.returncode != 0 and "AVATAR_HOSTS" in done.stderr, \
                "accepted %r" % bad


def test_favicon():
    r = t.get("/favicon.svg")
    t.assert_status(r, 200)
    assert r.headers["Content-Type"] == "image/svg+xml", r.headers["Content-Type"]
    assert_page_headers(r, "public, max-age=86400", "/favicon.svg")
    assert r.body.startswith(b"<svg")


def test_api_keeps_its_own_policy():
    """The page's locations do not loosen the API's answers."""
    r = t.get("/api/")
    t.assert_status(r, 200)
    assert r.headers.get_all("Content-Security-Policy") == [
        "default-src 'none'; frame-ancestors 'none'"]
    assert r.headers.get_all("Cache-Control") == ["no-store"]


def test_sign_in_returns_to_the_page():
    """The sign-in button's URL (/auth/login?next=/), followed as a browser
    does: the callback signs in (both cookies) and sends it back to "/"."""
    login = af.Login(af.fresh_email("page"), next_path="/")
    login.start()
    login.authorize()
    r = login.callback(json_answer=False)
    t.assert_status(r, 302)
    assert r.header("Location") in ("/", "https://localhost:%s/" % t.setting("HTTPS_PORT")), \
        "the callback sends the browser to %s" % r.header("Location")
    cookies = af.set_cookies(r)
    assert af.SESSION_COOKIE in cookies and af.CSRF_COOKIE in cookies, list(cookies)
    # The page reads the CSRF cookie to send it back as a header.
    assert "httponly" not in af.cookie_attrs(cookies[af.CSRF_COOKIE])


if __name__ == "__main__":
    t.run()
