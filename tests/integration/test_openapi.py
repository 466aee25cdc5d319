#!/usr/bin/python3
"""The OpenAPI document (nginx/www/api/openapi.json): it is a
well-formed OpenAPI 3.1 description; every route of every responder's
table (`--routes`) and every nginx location that goes to a responder is
in it, so a route added without a description fails here; the query and
path inputs each route declares are the operation's parameters, with the
same bounds, so the two cannot drift; every path in it is answered (never
404 or 405); nginx serves it at /api/openapi.json
and a readable reference at /api/docs under a strict CSP.

That every answer the integration suite receives fits the document is
checked by sbxtest.request() itself (sbxopenapi.check) in every test;
the last tests here show that check refusing answers it must refuse."""

import json
import os
import re
import subprocess

import jsonschema

import sbxtest as t
import sbxopenapi as oa
import sbxsandbox as s

# Answered by nginx itself, with no responder behind them.
NGINX_ROUTES = {("GET", "/healthz"), ("GET", "/api/openapi.json"),
                ("GET", "/api/docs")}
# Path parameters, named as in the README.
PARAM_NAMES = {"name", "id", "email"}
EXAMPLES = {"name": "t-openapi-none", "id":
            "00000000-0000-4000-8000-000000000000",
            "email": "nobody@example.com"}


def _doc():
    return oa.document()


def _operations():
    """(METHOD, path, operation) of the document."""
    for path, item in _doc()["paths"].items():
        for m in oa.METHODS:
            if m in item:
                yield m.upper(), path, item[m]


def _route_tables():
    """Every responder's routes: [(binary, route dict)]."""
    fcgi = os.path.join(t.setting("SBX_BUILD_DIR"), "fcgi")
    out = []
    names = sorted(n for n in os.listdir(fcgi) if n.startswith("sbx-") and
                   os.access(os.path.join(fcgi, n), os.X_OK) and
                   not n.endswith((".o", ".c")))
    assert names, "no responders in %s" % fcgi
    for n in names:
        done = subprocess.run([os.path.join(fcgi, n), "--routes"],
                              capture_output=True, text=True, timeout=30,
                              env={"PATH": "/usr/bin:/bin"})
        assert done.returncode == 0, (n, done.stderr)
        lines = [x for x in done.stdout.splitlines() if x.strip()]
        assert lines, "%s --routes printed nothing" % n
        out += [(n, json.loads(x)) for x in lines]
    return out


def undescribed_routes(routes):
    """The routes (dicts of --routes) the document lacks or describes
    with other access rules; [] when all are there."""
    missing = []
    for binary, r in routes:
        item = _doc()["paths"].get(r["path"])
        op = item.get(r["method"].lower()) if item else None
        if op is None:
            missing.append("%s: %s %s is not in the document"
                           % (binary, r["method"], r["path"]))
            continue
        access = "admin" if r["admin"] else ("user" if r["auth"] else
                                              "anyone")
        if op.get("x-sbx-access") != access:
            missing.append("%s %s: the route is for %s, the document says "
                           "%s" % (r["method"], r["path"], access,
                                   op.get("x-sbx-access")))
        if bool(op.get("security")) != bool(r["auth"]):
            missing.append("%s %s: security does not match auth=%s"
                           % (r["method"], r["path"], r["auth"]))
        codes = set(op["responses"])
        if r["auth"] and not {"401", "403"} <= codes:
            missing.append("%s %s: no 401/403 documented" % (r["method"],
                                                             r["path"]))
        if r["json"] and not {"400", "415"} <= codes:
            missing.append("%s %s: no 400/415 documented" % (r["method"],
                                                             r["path"]))
        if r["json"] and "requestBody" not in op:
            missing.append("%s %s: no requestBody" % (r["method"],
                                                      r["path"]))
    return missing


def drifted_inputs(routes):
    """The routes (dicts of --routes) whose declared query and path inputs
    differ from their operation's parameters: names and places, whether
    required, integer bounds and enum values; [] when all agree."""
    out = []
    for _, r in routes:
        item = _doc()["paths"].get(r["path"])
        op = item.get(r["method"].lower()) if item else None
        if op is None:
            continue  # undescribed_routes reports it
        where = "%s %s" % (r["method"], r["path"])
        params = {}
        for p in op.get("parameters", []):
            p = oa.resolve(p)
            if p["in"] in ("query", "path"):
                params[(p["in"], p["name"])] = p
        inputs = {(i["in"], i["name"]): i for i in r.get("inputs", [])}
        for key in sorted(set(params) ^ set(inputs)):
            out.append("%s: %s parameter %s is %s" % (
                where, key[0], key[1], "not declared by the route"
                if key in params else "not in the document"))
        for key in sorted(set(params) & set(inputs)):
            i, schema = inputs[key], oa.resolve(params[key].get("schema",
                                                                 {}))
            name = "%s: %s" % (where, key[1])
            if bool(params[key].get("required")) != i["required"]:
                out.append("%s: required differs" % name)
            if i["type"] == "integer":
                for word in ("minimum", "maximum"):
                    if schema.get("type") != "integer" or \
                            schema.get(word) != i[word]:
                        out.append("%s: integer %s differs" % (name, word))
            elif schema.get("type") == "integer":
                out.append("%s: the document says integer" % name)
            if "enum" in i or "enum" in schema:
                if i.get("enum") != schema.get("enum"):
                    out.append("%s: enum %r, the document %r" % (
                        name, i.get("enum"), schema.get("enum")))
    return out


def _locations(conf_text):
    """(modifier, path) of every location block that passes to a
    FastCGI responder."""
    out = []
    for m in re.finditer(r"^\s*location\s+(=|\^~)?\s*(/\S*)\s*\{(.*?)^\s*\}",
                         conf_text, re.MULTILINE | re.DOTALL):
        if "fastcgi_pass" in m.group(3):
            out.append((m.group(1) or "", m.group(2)))
    return out


def undescribed_locations(locations):
    paths = list(_doc()["paths"])
    missing = []
    for mod, loc in locations:
        if mod == "=":
            ok = loc in paths
        else:
            ok = any(p == loc or p.startswith(loc) for p in paths)
        if not ok:
            missing.append("nginx location %s %s has no path in the "
                           "document" % (mod, loc))
    return missing


# ------------------------------------------------------------- the document

def test_document_is_openapi_3_1():
    d = _doc()
    assert d["openapi"].startswith("3.1."), d["openapi"]
    assert d["info"]["title"] and d["info"]["version"]
    jsonschema.Draft202012Validator.check_schema(
        {"$defs": d["components"]["schemas"]})
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids)) and all(ids), "operationIds not unique"
    # Every $ref resolves.
    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                oa.resolve(node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(d)
    for method, path, op in _operations():
        assert path.startswith("/"), path
        assert op["responses"], (method, path)
        declared = {oa.resolve(p)["name"] for p in op.get("parameters", [])
                    if oa.resolve(p)["in"] == "path"}
        named = set(re.findall(r"\{([^}]+)\}", path))
        assert declared == named, (method, path, declared, named)
        assert named <= PARAM_NAMES, (method, path, named)
        for code, r in op["responses"].items():
            r = oa.resolve(r)
            assert r.get("description"), (method, path, code)
            if code != "default" and int(code) >= 400:
                assert list(r["content"]) == ["application/problem+json"], \
                    (method, path, code)
    sec = d["components"]["securitySchemes"]
    assert sec["bearer"] == dict(sec["bearer"], type="http", scheme="bearer")
    assert sec["cookie"]["in"] == "cookie" and \
        sec["cookie"]["name"] == "__Host-sbx_session", sec["cookie"]
    assert sec["csrf"]["in"] == "header" and \
        sec["csrf"]["name"] == "X-CSRF-Token", sec["csrf"]


def test_sandbox_schema_lists_every_field():
    sb = _doc()["components"]["schemas"]["Sandbox"]
    assert set(sb["properties"]) == s.SANDBOX_FIELDS, sorted(sb["properties"])
    assert set(sb["required"]) == s.SANDBOX_FIELDS
    assert sb["additionalProperties"] is False
    # And a real one has exactly these, as the document says.
    email, name = s.fresh_email("oa"), s.fresh_name("oa")
    made = s.create(email, name)
    try:
        assert set(made) == set(sb["properties"]), sorted(made)
        oa.validate(sb, made)
        got = t.assert_json(s.get(email, name), 200)
        oa.validate(sb, got)
    finally:
        s.cleanup(email, name)


# ------------------------------------------------------------------ coverage

def test_every_route_of_every_responder_is_described():
    routes = _route_tables()
    missing = undescribed_routes(routes)
    assert not missing, "\n".join(missing)
    # The other way round: every operation is a route or nginx's own.
    have = {(r["method"], r["path"]) for _, r in routes} | NGINX_ROUTES
    extra = [(m, p) for m, p, _ in _operations() if (m, p) not in have]
    assert not extra, "documented but no responder routes them: %r" % extra


def test_a_route_added_without_a_description_fails():
    routes = _route_tables()
    added = ("sbx-new", {"method": "GET", "path": "/api/widgets/{id}",
                         "auth": True, "admin": False, "json": False})
    missing = undescribed_routes(routes + [added])
    assert missing == ["sbx-new: GET /api/widgets/{id} is not in the "
                       "document"], missing
    # A route that changes its rules is caught too.
    _, tokens = next(x for x in routes if x[1]["path"] == "/api/tokens" and
                     x[1]["method"] == "GET")
    assert undescribed_routes([("sbx-auth", dict(tokens, admin=True))])
    assert undescribed_locations([("^~", "/api/widgets")])


def test_declared_inputs_agree_with_the_document():
    """Each route's query and path inputs, as its table declares them
    (--routes), are the operation's parameters, with the same bounds."""
    routes = _route_tables()
    assert any(r.get("inputs") for _, r in routes), "no route has inputs"
    drift = drifted_inputs(routes)
    assert not drift, "\n".join(drift)
    # A drift either way is caught.
    _, listing = next(x for x in routes if x[1]["path"] == "/api/sandboxes"
                      and x[1]["method"] == "GET")
    inputs = listing["inputs"]
    limit = next(i for i in inputs if i["name"] == "limit")
    for changed in (
            [i for i in inputs if i["name"] != "cursor"],
            inputs + [dict(limit, name="offset")],
            [dict(i, maximum=500) if i is limit else i for i in inputs],
            [dict(i, enum=["ACTIVE"]) if i["name"] == "status" else i
             for i in inputs],
            [dict(i, required=True) if i is limit else i for i in inputs]):
        assert drifted_inputs([("sbx-sandboxes", dict(listing,
                                                      inputs=changed))]), \
            changed


def test_every_nginx_location_to_a_responder_is_described():
    conf = os.path.join(os.environ.get("SBX_SRC_DIR", "."), "nginx",
                        "sbx.conf.in")
    with open(conf, encoding="utf-8") as f:
        locations = _locations(f.read())
    assert ("^~", "/api/sandboxes") in locations and \
        ("=", "/readyz") in locations, locations
    missing = undescribed_locations(locations)
    assert not missing, "\n".join(missing)


def test_every_documented_path_is_answered():
    """Each operation, without credentials and with example parameters,
    reaches something that knows it: never 404 or 405."""
    for method, path, op in _operations():
        url = re.sub(r"\{([^}]+)\}", lambda m: EXAMPLES[m.group(1)], path)
        headers = {"Accept": "application/json"}
        body = None
        if "requestBody" in op:
            headers["Content-Type"] = "application/json"
            body = b"{}"
        for _ in range(50):
            r = t.request(method, url, body=body, headers=headers)
            if r.status != 429:
                break
            t.wait_until(lambda: False, timeout=0.3)
        assert r.status not in (404, 405), (method, path, r)


# ---------------------------------------------------------------- serving

def test_document_served_as_json():
    r = t.get("/api/openapi.json")
    assert r.status == 200 and r.content_type == "application/json", r
    with open(oa.doc_path(), "rb") as f:
        assert r.body == f.read(), "the served document is not the file"
    t.assert_security_headers(r)
    assert r.header("X-Request-Id")
    h = t.request("HEAD", "/api/openapi.json")
    assert h.status == 200 and h.body == b"", h


def test_docs_page_is_static_under_a_strict_csp():
    for path in ("/api/docs", "/api/docs/"):
        r = t.get(path)
        assert r.status == 200 and r.content_type == "text/html", r
        t.assert_security_headers(r)
        csp = r.header("Content-Security-Policy")
        directives = dict((d.strip().split(" ", 1) + [""])[:2]
                          for d in csp.split(";") if d.strip())
        assert directives["default-src"] == "'none'", csp
        assert directives["script-src"] == "'self'", csp
        assert directives["style-src"] == "'self'", csp
        assert directives["connect-src"] == "'self'", csp
        assert "unsafe" not in csp and "http" not in csp, csp
        html = r.text
        # No inline script or style: scripts and styles are files.
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), html
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html, re.I)
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert ref.startswith("/"), "not from this origin: %s" % ref
    for path, ctype in (("/api/docs/docs.js", "text/javascript"),
                        ("/api/docs/docs.css", "text/css")):
        r = t.get(path)
        assert r.status == 200 and r.content_type == ctype, (path, r)
        assert not re.search(r"https?://", r.text), "%s loads from elsewhere" \
            % path
        assert "innerHTML" not in r.text and "eval(" not in r.text, path
    # The reference's policy stays on its pages; the API keeps none.
    csp = t.get("/api/").header("Content-Security-Policy")
    assert "script-src" not in csp and "default-src 'none'" in csp, csp
    t.assert_problem(t.get("/api/docs/nothing.js"), 404)


def test_docs_page_renders_every_operation_in_chromium():
    """Debian's Chromium loads /api/docs under its CSP: no violation or
    console error, and one section per operation of the document."""
    import sbxbrowser
    b = sbxbrowser.Browser("docs")
    try:
        b.open("/api/docs")
        want = sum(1 for _ in _operations())
        b.wait(lambda d: len(b.all("section.op")) == want, what="%d "
               "operations rendered" % want)
        ids = {e.get_attribute("id") for e in b.all("section.op")}
        assert ids == {"op-" + op["operationId"] for _, _, op in
                       _operations()}, ids
        assert b.css("#schema-Sandbox").text == "Sandbox"
        title = b.css("#title").text
        assert title.startswith(_doc()["info"]["title"]), title
        b.check_view("api-docs")
    finally:
        b.quit()


# ------------------------------------------------- the answer check itself

class _Resp:
    def __init__(self, status, ctype, body):
        self.status = status
        self._ctype = ctype
        self.body = json.dumps(body).encode() if not isinstance(
            body, bytes) else body

    def header(self, name, default=None):
        return self._ctype if name == "Content-Type" else default


def test_answer_check_refuses_what_the_document_does_not_say():
    sandbox = {k: None for k in s.SANDBOX_FIELDS}
    sandbox.update(id="1", name="demo", owner="a@example.com",
                   template="default", template_version=1, status="ACTIVE",
                   parameters={}, created_at="2026-11-26T10:00:00Z",
                   expiry_time="2026-11-26T10:15:00Z",
                   max_expiry_time="2026-11-27T10:00:00Z")
    ok = _Resp(200, "application/json", sandbox)
    assert oa.problems("GET", "/api/sandboxes/demo", ok) == []
    assert oa.problems("GET", "/api/sandboxes/demo?x=1", ok) == []
    lacking = dict(sandbox)
    del lacking["stack_id"]
    assert oa.problems("GET", "/api/sandboxes/demo",
                       _Resp(200, "application/json", lacking))
    assert oa.problems("GET", "/api/sandboxes/demo",
                       _Resp(200, "application/json", dict(sandbox, x=1)))
    assert oa.problems("GET", "/api/sandboxes/demo",
                       _Resp(200, "application/json",
                             dict(sandbox, status="GONE")))
    assert oa.problems("GET", "/api/sandboxes/demo",
                       _Resp(200, "text/html", b"<p>"))
    # A status the route does not list and no default would take.
    assert oa.problems("GET", "/healthz", _Resp(201, "application/json",
                                                {"status": "ok"}))
    # An error that is not a problem.
    assert oa.problems("GET", "/api/me", _Resp(401, "application/json",
                                               {"error": "no"}))
    assert oa.problems("GET", "/api/nothing", _Resp(404, "text/html", b"x"))
    # A route the document lacks, answering.
    assert oa.problems("GET", "/api/widgets", _Resp(200, "application/json",
                                                    []))
    assert oa.problems("PUT", "/api/tokens", _Resp(200, "application/json",
                                                   []))


t.run()
