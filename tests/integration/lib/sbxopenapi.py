"""The OpenAPI document (nginx/www/api/openapi.json) as the tests use it:
finding the operation of a request, and checking an answer against it.

sbxtest.request() calls check() on every answer it receives over HTTPS,
so every integration test's answers are validated against the document
(status, content type, JSON body against the schema, with Debian's
python3-jsonschema). An answer the document does not allow fails the
test that received it. Answers to paths the document does not have (an
unknown path, a fake's control API) must still be problem+json when they
are errors.
"""

import functools
import json
import os
import re
import threading

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")

_lock = threading.Lock()
_checked = {}


def doc_path():
    src = os.environ.get("SBX_SRC_DIR") or os.path.join(HERE, "..", "..", "..")
    return os.path.join(src, "nginx", "www", "api", "openapi.json")


@functools.lru_cache(maxsize=1)
def document():
    with open(doc_path(), encoding="utf-8") as f:
        return json.load(f)


def _template_re(template):
    """A path template as a regex: each {param} is one non-empty segment."""
    parts = re.split(r"(\{[^}/]+\})", template)
    out = "".join("[^/]+" if p.startswith("{") else re.escape(p)
                  for p in parts)
    return re.compile("^" + out + "$")


@functools.lru_cache(maxsize=1)
def _templates():
    """(template, regex, literal?) of every path, literal ones first, so
    that /api/tokens is not taken for /api/tokens/{id}."""
    items = [(p, _template_re(p), "{" not in p) for p in document()["paths"]]
    return sorted(items, key=lambda x: (not x[2], -len(x[0])))


def find_path(path):
    """The document's path template matching a request path (no query),
    or None."""
    for template, rx, _ in _templates():
        if rx.match(path):
            return template
    return None


def operation(method, path):
    """(template, operation) for a request, or (template, None) when the
    path is documented but not the method, or (None, None)."""
    template = find_path(path)
    if template is None:
        return None, None
    item = document()["paths"][template]
    m = method.lower()
    if m == "head" and "head" not in item:
        m = "get"
    return template, item.get(m)


def resolve(obj):
    """obj with a top-level $ref into the document followed."""
    while isinstance(obj, dict) and "$ref" in obj:
        node = document()
        for part in obj["$ref"].lstrip("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def response_for(op, status):
    """The response object for status: exact, then 4XX-style, then
    default; None when the operation has none."""
    rs = op.get("responses", {})
    for key in (str(status), "%dXX" % (status // 100), "default"):
        if key in rs:
            return resolve(rs[key])
    return None


def validate(schema, value):
    """Raises jsonschema.ValidationError when value does not fit schema
    (a schema of the document: its $refs resolve inside it)."""
    root = dict(schema)
    root["components"] = document()["components"]
    jsonschema.Draft202012Validator(root).validate(value)


def _problem_schema():
    return document()["components"]["schemas"]["Problem"]


def _media_type(resp):
    return (resp.header("Content-Type", "") or "").split(";")[0].strip().lower()


# What the document describes: the API, sign-in, and the probes. The page
# (/, its assets) and the reference page's files (/api/docs/...) are not
# an API and are not checked here.
API_PATH = re.compile(r"^/(api(?!/docs/)|auth)(/|$)|^/(readyz|healthz|metrics)$")


def problems(method, path, resp):
    """What is wrong with answer resp to method path, as a list of
    sentences (empty when it fits the document)."""
    path = path.split("?", 1)[0]
    if not API_PATH.match(path):
        return []
    status = resp.status
    ctype = _media_type(resp)
    template, op = operation(method, path)
    if template is None or op is None:
        # Not a documented route (nginx's 404 for an unknown path, a 405
        # from a responder): an error must still be a problem.
        if status >= 400 and resp.body:
            if ctype != "application/problem+json":
                return ["%s %s: %d answered %s, not problem+json"
                        % (method, path, status, ctype or "no type")]
            return _body_problems(method, path, status, _problem_schema(),
                                  resp)
        if template is None and status < 400 and status not in (301, 302):
            return ["%s %s answered %d but the document has no such path"
                    % (method, path, status)]
        if template is not None and op is None and status < 400:
            return ["%s %s answered %d but the document has no %s for %s"
                    % (method, path, status, method, template)]
        return []
    with _lock:
        key = (method.upper(), template, status)
        _checked[key] = _checked.get(key, 0) + 1
    r = response_for(op, status)
    if r is None:
        return ["%s %s: status %d is not documented" % (method, template,
                                                        status)]
    content = r.get("content")
    if method.upper() == "HEAD" or status in (204, 304) or not resp.body:
        if content and resp.body:
            return ["%s %s: %d has a body" % (method, template, status)]
        return []
    if not content:
        return ["%s %s: %d has a body (%s) the document does not describe"
                % (method, template, status, ctype)]
    if ctype not in content:
        return ["%s %s: %d answered %s; the document says %s"
                % (method, template, status, ctype, sorted(content))]
    schema = content[ctype].get("schema")
    if schema is None or not ctype.endswith("json"):
        return []
    return _body_problems(method, template, status, schema, resp)


def _body_problems(method, template, status, schema, resp):
    try:
        value = json.loads(resp.body.decode("utf-8"))
    except ValueError as e:
        return ["%s %s: %d body is not JSON: %s" % (method, template, status,
                                                    e)]
    try:
        validate(schema, value)
    except jsonschema.ValidationError as e:
        where = "/".join(str(x) for x in e.absolute_path) or "(the body)"
        # The message quotes the offending value: never a secret.
        msg = e.message if not re.search(r"sbx_pat_|eyJ", e.message) \
            else "(value withheld)"
        return ["%s %s: %d body does not fit the document at %s: %s"
                % (method, template, status, where, msg[:300])]
    return []


def check(method, path, resp):
    """Raises AssertionError when resp does not fit the document."""
    found = problems(method, path, resp)
    if found:
        raise AssertionError("OpenAPI: " + "; ".join(found))


def checked():
    """{(METHOD, template, status): count} of the answers checked so far
    in this process."""
    with _lock:
        return dict(_checked)
