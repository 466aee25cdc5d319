"""What the local AWS fakes (fake_cfn.py, fake_ec2.py, fake_pricing.py)
share: checking a request's SigV4 signature with botocore, an
implementation independent of ours; the fault settings every fake takes
(down, slow, throttling, failures), with their injection; the command
line and the state's common part; and the HTTP handler (ApiHandler):
the steps of an API request in AWS's order, and the control calls every
fake answers.

Each fake turns a SigV4Error into its own protocol's error (the same
codes as CloudFormation's by default; a fake maps them where its service
names them differently). Stdlib plus Debian's python3-botocore.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import re
import sys
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EndpointConnectionError

import fakehttp

SIG_MISMATCH = ("The request signature we calculated does not match the "
                "signature you provided. Check your AWS Secret Access Key and "
                "signing method. Consult the service documentation for "
                "details.")


class ApiError(Exception):
    """An error answer: HTTP status, the service's error code and message.
    kind is the Query API's Type: Receiver for a 5xx (the service's
    fault), else Sender."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.kind = "Receiver" if status >= 500 else "Sender"


class SigV4Error(ApiError):
    pass


class _SignedHeadersSigV4(SigV4Auth):
    """botocore's SigV4 with the header set the client chose to sign (the
    request as received, not as botocore would have built it)."""

    def __init__(self, credentials, service, region, raw_headers, signed):
        super().__init__(credentials, service, region)
        self._raw_headers = raw_headers
        self._signed = signed

    def headers_to_sign(self, request):
        hm = HTTPHeaders()
        for name, value in self._raw_headers:
            if name.lower() in self._signed:
                hm[name.lower()] = value
        return hm


def _redact_canonical(canonical):
    return re.sub(r"(?im)^(x-amz-security-token:).*$", r"\1<redacted>",
                  canonical)


def verify_sigv4(method, path, raw_headers, body, now, service, region,
                 creds, max_skew, log_name):
    """Raises SigV4Error unless the request carries a valid SigV4
    Authorization header for service in region. creds maps an access key
    id to {"secret", "token"} (token None: any or none accepted). On a
    signature mismatch the expected canonical request and string to sign
    (security token redacted) go to stderr, prefixed with log_name, and
    into the message, as AWS does."""
    headers = {}
    for k, v in raw_headers:
        headers.setdefault(k.lower(), v)
    auth = headers.get("authorization")
    if not auth:
        raise SigV4Error(403, "MissingAuthenticationToken",
                         "Request is missing Authentication Token")
    algo, _, rest = auth.strip().partition(" ")
    if algo != "AWS4-HMAC-SHA256":
        raise SigV4Error(400, "IncompleteSignature",
                         "Unsupported AWS 'algorithm': '%s'" % algo[:40])
    fields = {}
    for part in rest.split(","):
        k, sep, v = part.strip().partition("=")
        if sep:
            fields[k.strip()] = v.strip()
    for need in ("Credential", "SignedHeaders", "Signature"):
        if need not in fields:
            raise SigV4Error(400, "IncompleteSignature",
                             "Authorization header requires '%s' parameter. "
                             "Authorization=AWS4-HMAC-SHA256 ..." % need)
    scope = fields["Credential"].split("/")
    if len(scope) != 5:
        raise SigV4Error(400, "IncompleteSignature",
                         "Credential is malformed: expected "
                         "KEY/DATE/REGION/SERVICE/aws4_request")
    akid, sdate, sregion, sservice, term = scope
    cred = creds.get(akid)
    if cred is None:
        raise SigV4Error(403, "InvalidClientTokenId",
                         "The security token included in the request is "
                         "invalid.")
    amzdate = headers.get("x-amz-date")
    if not amzdate:
        raise SigV4Error(400, "IncompleteSignature",
                         "Authorization header requires existence of either "
                         "a 'X-Amz-Date' or a 'Date' header.")
    try:
        t = datetime.datetime.strptime(amzdate, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc).timestamp()
    except ValueError:
        raise SigV4Error(400, "IncompleteSignature",
                         "Invalid X-Amz-Date: %s" % amzdate[:40])
    signed = [h for h in fields["SignedHeaders"].split(";") if h]
    if signed != sorted(set(signed)) or any(h != h.lower() for h in signed):
        raise SigV4Error(403, "SignatureDoesNotMatch",
                         SIG_MISMATCH + " (SignedHeaders must be lowercase, "
                         "sorted and unique.)")
    if "host" not in signed:
        raise SigV4Error(400, "IncompleteSignature",
                         "'Host' or ':authority' must be a 'SignedHeader' in "
                         "the AWS Authorization.")
    if "x-amz-date" not in signed:
        raise SigV4Error(400, "IncompleteSignature",
                         "'X-Amz-Date' must be a 'SignedHeader' in the AWS "
                         "Authorization.")
    for h in signed:
        if h not in headers:
            raise SigV4Error(403, "SignatureDoesNotMatch", SIG_MISMATCH +
                             " (signed header %s is missing)" % h)
    if sdate != amzdate[:8]:
        raise SigV4Error(403, "SignatureDoesNotMatch",
                         "Date in Credential scope does not match YYYYMMDD "
                         "from ISO-8601 version of date from HTTP: '%s' != "
                         "'%s', from '%s'." % (sdate, amzdate[:8], amzdate))
    if sregion != region:
        raise SigV4Error(403, "SignatureDoesNotMatch",
                         "Credential should be scoped to a valid region. ")
    if sservice != service:
        raise SigV4Error(403, "SignatureDoesNotMatch",
                         "Credential should be scoped to correct service: "
                         "'%s'. " % service)
    if term != "aws4_request":
        raise SigV4Error(403, "SignatureDoesNotMatch",
                         "Credential should be scoped with a valid "
                         "terminator: 'aws4_request', not '%s'. " % term[:20])
    skew = float(max_skew)
    if abs(now - t) > skew:
        fmt = "%Y%m%dT%H%M%SZ"
        raise SigV4Error(403, "SignatureDoesNotMatch",
                         "Signature expired: %s is now earlier than %s (%s - "
                         "%d min.)" % (amzdate, time.strftime(
                             fmt, time.gmtime(now - skew)), time.strftime(
                             fmt, time.gmtime(now)), int(skew // 60))
                         if t < now else
                         "Signature not yet current: %s is still later than "
                         "%s (%s + %d min.)" % (amzdate, time.strftime(
                             fmt, time.gmtime(now + skew)), time.strftime(
                             fmt, time.gmtime(now)), int(skew // 60)))
    if "x-amz-content-sha256" in headers and \
            headers["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
        raise SigV4Error(400, "XAmzContentSHA256Mismatch",
                         "The provided 'x-amz-content-sha256' header does not "
                         "match what was computed.")
    token = headers.get("x-amz-security-token")
    if cred["token"] is not None and token != cred["token"]:
        raise SigV4Error(403, "InvalidClientTokenId",
                         "The security token included in the request is "
                         "invalid.")

    signer = _SignedHeadersSigV4(Credentials(akid, cred["secret"], token),
                                 service, region, raw_headers, set(signed))
    request = AWSRequest(method=method, url="http://%s%s" % (
        headers.get("host", "localhost"), path), data=body)
    request.context["timestamp"] = amzdate
    canonical = signer.canonical_request(request)
    string_to_sign = signer.string_to_sign(request, canonical)
    expected = signer.signature(string_to_sign, request)
    if not hmac.compare_digest(expected, fields["Signature"]):
        canonical = _redact_canonical(canonical)
        sys.stderr.write("%s: signature mismatch; canonical request "
                         "was:\n%s\nstring to sign:\n%s\n" % (
                             log_name, canonical, string_to_sign))
        raise SigV4Error(403, "SignatureDoesNotMatch", SIG_MISMATCH + (
            "\n\nThe Canonical String for this request should have been\n"
            "'%s'\n\nThe String-to-Sign should have been\n'%s'\n" % (
                canonical, string_to_sign)))


# ---------------------------------------------------------------- XML
def el(name, value):
    """<name>value</name>, escaped; "" for None; booleans as AWS writes
    them."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = "true" if value else "false"
    return "<%s>%s</%s>" % (name, escape(str(value)), name)


# ---------------------------------------------------------------- state
def arg_parser(doc, region="us-east-1"):
    """The command line every AWS fake takes (--port, the key it accepts,
    --region); the fake adds its own options."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--access-key-id", required=True)
    p.add_argument("--secret-access-key", required=True)
    p.add_argument("--session-token")
    p.add_argument("--region", default=region)
    return p


class State:
    """What every AWS fake's state holds: the lock (held by a caller
    around config, calls and the fake's own data), the command line, the
    keys it accepts (access key id -> {"secret", "token"}), config and
    calls. A fake defines reset() (config and calls as they start) and
    count(action, status, code, detail)."""

    def __init__(self, args, lock=None):
        self.lock = lock or threading.Lock()
        self.args = args
        self.creds = {args.access_key_id: {"secret": args.secret_access_key,
                                           "token": args.session_token}}

    def reject(self, why):
        """Counts a request refused before its action ran (auth,
        throttled, failed, down)."""
        self.calls["rejected"][why] = self.calls["rejected"].get(why, 0) + 1

    def count(self, action, status, code, detail):
        count_call(self.calls, action, status, code, detail)

    def control_reset(self, req):
        """POST /_fake/reset."""
        self.reset()


# ---------------------------------------------------------------- faults
def number_setting(key, value):
    """value, if a number >= 0; else ValueError naming key."""
    if not isinstance(value, (int, float)) or isinstance(value, bool) \
            or value < 0:
        raise ValueError("%s must be a number >= 0" % key)
    return value


def count_setting(key, value):
    """value, if an integer >= 0; else ValueError naming key."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError("%s must be an integer >= 0" % key)
    return value


def fault_defaults(throttle_code):
    """The fault settings of a fake's config, all off."""
    return {"throttle_next": 0, "throttle_code": throttle_code,
            "fail_next": 0, "slow_ms": 0, "down": False,
            "only_actions": None, "max_skew_seconds": 900}


def set_fault(cfg, key, value, actions, throttle_codes):
    """Applies one fault setting to cfg; False when key is not one
    (the fake's own setting, then). ValueError for a bad value."""
    if key in ("slow_ms", "max_skew_seconds"):
        number_setting(key, value)
    elif key in ("throttle_next", "fail_next"):
        count_setting(key, value)
    elif key == "throttle_code":
        if value not in throttle_codes:
            raise ValueError("throttle_code: one of " +
                             ", ".join(throttle_codes))
    elif key == "down":
        if value in (False, None):
            value = False
        elif value is True or value in ("503", 503):
            value = "503"
        elif value != "close":
            raise ValueError("down: true, \"503\", \"close\" or false")
    elif key == "only_actions":
        if value is not None and (not isinstance(value, list) or
                                  any(a not in actions for a in value)):
            raise ValueError("only_actions: null or a list of %s" %
                             ", ".join(actions))
    else:
        return False
    cfg[key] = value
    return True


def faults_for(cfg, action):
    """(down, slow_ms) in force for a request of action: only_actions
    limits every fault to the actions it names."""
    only = cfg["only_actions"]
    if only is not None and action not in only:
        return False, 0
    return cfg["down"], cfg["slow_ms"]


def take_injected(cfg, action):
    """Spends one injected fault for a request of action (the caller
    holds the state lock): "throttled", "failed" or None."""
    only = cfg["only_actions"]
    if only is not None and action not in only:
        return None
    if cfg["throttle_next"] > 0:
        cfg["throttle_next"] -= 1
        return "throttled"
    if cfg["fail_next"] > 0:
        cfg["fail_next"] -= 1
        return "failed"
    return None


def count_call(calls, action, status, code, detail=None):
    """Counts one request that passed the signature check in calls
    ({"actions", "actions_ok", "recent"}); keeps the last 200."""
    calls["actions"][action] = calls["actions"].get(action, 0) + 1
    if status == 200:
        calls["actions_ok"][action] = calls["actions_ok"].get(action, 0) + 1
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "action": action, "status": status, "code": code}
    if detail is not None:
        entry["detail"] = detail
    calls["recent"].append(entry)
    del calls["recent"][:-200]


def new_calls():
    return {"actions": {}, "actions_ok": {}, "rejected": {}, "recent": []}


# ---------------------------------------------------------------- handlers
UNKNOWN_CONTROL = (404, {"error": "unknown control endpoint"})


class ApiHandler(fakehttp.Handler):
    """The HTTP side of the AWS fakes: GET and POST go to self.api(body)
    (which calls the fake's parse, refuse, act, reply and error_body),
    except /_fake/... which goes to self.control_call(name, request JSON)
    -> (status, JSON answer); a ValueError, TypeError or KeyError there is
    a 400 {"error"}.

    A fake's main() sets state (its State). The class names the rest:
    LOG_NAME prefixes the log lines; ACTIONS and THROTTLE_CODES are what
    the fault settings accept; SERVICE is the SigV4 service; AUTH_CODES
    maps a SigV4Error code to the service's (status, code); DOWN is the
    (status, code, message) of a fake that is down with "503", THROTTLED
    the (status, message) of a throttled request (its code is the
    configured throttle_code), FAILED the (status, code, message) of an
    injected failure; CONTENT_TYPE is the answers' (reply's)."""

    LOG_NAME = "fake"
    state = None
    ACTIONS = ()
    THROTTLE_CODES = ()
    SERVICE = None
    CONTENT_TYPE = None
    AUTH_CODES = {}
    DOWN = THROTTLED = FAILED = None

    def log_line(self, what, status, code=""):
        sys.stderr.write("%s: %s %s %s %s\n" % (
            self.LOG_NAME, self.command, what, status, code))
        sys.stderr.flush()

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def handle_any(self):
        body = self.read_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/_fake/"):
            return self.control(path, body)
        return self.api(body)

    # -- the API ---------------------------------------------------------
    def api(self, body):
        """One API request, in AWS's order. The fake's parse(body) gives
        (request, action, detail: what the log line and the calls name);
        then front(); then the protocol's own checks, refuse(request,
        action) -> an ApiError or None; then an injected fault; then
        act(action, request, now, request_id) -> the answer's payload (or
        it raises ApiError). reply(status, payload, request_id, code)
        sends a payload, error_body(err, request_id) is an error's."""
        request_id = str(uuid.uuid4())
        req, action, detail = self.parse(body)
        what = "%s %s" % (action or "-", detail or "-")

        def answer(status, payload, code=""):
            self.reply(status, payload, request_id, code)
            self.log_line(what, status, code)

        def fail(err, why=None):
            self.count(action, err, why, detail)
            answer(err.status, self.error_body(err, request_id), err.code)

        now = self.front(action, what, body, fail)
        if now is None:
            return
        err = self.refuse(req, action)
        if err is not None:
            return fail(err)
        if self.injected(action, fail):
            return
        try:
            out = self.act(action, req, now, request_id)
        except ApiError as e:
            return fail(e)
        self.count(action, None, None, detail)
        answer(200, out)

    def reply(self, status, payload, request_id, code):
        self.send_body(status, payload, self.CONTENT_TYPE,
                       {"x-amzn-RequestId": request_id})

    def query_params(self, body):
        """A Query API request's parameters: the URL's query, then a
        form-encoded POST body's (a later value wins); none when the body
        is not UTF-8."""
        query = urllib.parse.urlsplit(self.path).query
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        try:
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
            if self.command == "POST" and ctype.strip().lower() == \
                    "application/x-www-form-urlencoded":
                pairs += urllib.parse.parse_qsl(body.decode("utf-8"),
                                                keep_blank_values=True)
        except UnicodeDecodeError:
            pairs = []
        return dict(pairs)

    def front(self, action, what, body, fail):
        """The checks every AWS fake makes first, in AWS's order: down
        (before the signature), slow, then the signature. fail(ApiError,
        why) answers an error. Returns the time to act at, or None when
        the request has been answered or its connection closed."""
        state = self.state
        with state.lock:
            down, slow = faults_for(state.config, action)
        if down == "close":
            with state.lock:
                state.reject("down")
            self.log_line(what, "closed (down)")
            self.close_unanswered()
            return None
        if down:
            fail(ApiError(*self.DOWN), "down")
            return None
        if slow:
            time.sleep(slow / 1000.0)
        now = time.time()
        with state.lock:
            creds = dict(state.creds)
            skew = state.config["max_skew_seconds"]
        try:
            verify_sigv4(self.command, self.path, self.headers.items(), body,
                         now, self.SERVICE, state.args.region, creds, skew,
                         self.LOG_NAME)
        except SigV4Error as e:
            status, code = self.AUTH_CODES.get(e.code, (e.status, e.code))
            fail(ApiError(status, code, e.message), "auth")
            return None
        return now

    def injected(self, action, fail):
        """Answers an injected fault (THROTTLED or FAILED), if one is due.
        True when it answered."""
        with self.state.lock:
            why = take_injected(self.state.config, action)
            code = self.state.config["throttle_code"]
        if why == "throttled":
            fail(ApiError(self.THROTTLED[0], code, self.THROTTLED[1]), why)
        elif why == "failed":
            fail(ApiError(*self.FAILED), why)
        return why is not None

    def count(self, action, err, why=None, detail=None):
        """Counts an answer to a request of action: a refusal (why) under
        calls' rejected; the action itself (err None: a success) unless
        the signature check refused it or it is no action of ours."""
        state = self.state
        with state.lock:
            if why:
                state.reject(why)
            if action in self.ACTIONS and why != "auth":
                state.count(action, err.status if err else 200,
                            err.code if err else "", detail)

    # -- control API -----------------------------------------------------
    def control(self, path, body):
        try:
            req = fakehttp.json_object(body)
            status, obj = self.control_call(path[len("/_fake/"):], req)
        except (ValueError, TypeError, KeyError) as e:
            status, obj = 400, {"error": str(e)}
        self.send_json(status, obj)
        self.log_line(path, status)

    def control_call(self, name, req):
        """The control calls every AWS fake answers (GET health, config and
        calls; POST config and reset), then the fake's own, under the state
        lock: control_get(name) and control_post(name, req) answer
        (status, JSON) or None for a name they do not know (404)."""
        state = self.state
        with state.lock:
            if self.command == "GET":
                if name == "health":
                    return 200, {"ok": True, "region": state.args.region}
                if name == "config":
                    return 200, dict(state.config)
                if name == "calls":
                    return 200, json.loads(json.dumps(state.calls))
                return self.control_get(name) or UNKNOWN_CONTROL
            if self.command != "POST":
                return UNKNOWN_CONTROL
            if name == "config":
                return 200, self.set_config(req)
            if name == "reset":
                state.control_reset(req)
                return 200, {"ok": True}
            return self.control_post(name, req) or UNKNOWN_CONTROL

    def control_get(self, name):
        return None

    def control_post(self, name, req):
        return None

    def set_config(self, req):
        """POST /_fake/config: the fault settings, then the fake's own
        (own_setting(cfg, key, value) is False for a key it does not
        know). The whole config."""
        cfg = self.state.config
        for k, v in req.items():
            if not set_fault(cfg, k, v, self.ACTIONS, self.THROTTLE_CODES) \
                    and not self.own_setting(cfg, k, v):
                raise ValueError("unknown setting %r" % k)
        return dict(cfg)

    def own_setting(self, cfg, key, value):
        return False


# ---------------------------------------------------------------- self-tests
def botocore_client(service, base, ak, sk, region):
    """botocore's own client for service at base (a fake): it signs, and
    it parses the answers against AWS's service model. No retries."""
    return botocore.session.get_session().create_client(
        service, region_name=region, endpoint_url=base,
        aws_access_key_id=ak, aws_secret_access_key=sk,
        config=Config(retries={"total_max_attempts": 1},
                      connect_timeout=5, read_timeout=10))


def error_code(fn):
    """The AWS error code calling fn raises, "" when it succeeds."""
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return ""


def unanswered(fn):
    """True when fn's request got no answer (a fake down with "close")."""
    try:
        fn()
    except (EndpointConnectionError, ClientError):
        return True
    except Exception as e:
        return "Connection" in type(e).__name__
    return False
