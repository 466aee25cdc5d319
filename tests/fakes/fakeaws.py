"""What the local AWS fakes (fake_cfn.py, fake_ec2.py, fake_pricing.py)
share: checking a request's SigV4 signature with botocore, an
implementation independent of ours, and the fault settings every fake
takes (down, slow, throttling, failures), with their injection.

Each fake turns a SigV4Error into its own protocol's error (the same
codes as CloudFormation's by default; a fake maps them where its service
names them differently). Stdlib plus Debian's python3-botocore.
"""

import datetime
import hashlib
import hmac
import re
import sys
import time
import urllib.parse

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


class SigV4Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


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


# ---------------------------------------------------------------- faults
def fault_defaults(throttle_code):
    """The fault settings of a fake's config, all off."""
    return {"throttle_next": 0, "throttle_code": throttle_code,
            "fail_next": 0, "slow_ms": 0, "down": False,
            "only_actions": None, "max_skew_seconds": 900}


def set_fault(cfg, key, value, actions, throttle_codes):
    """Applies one fault setting to cfg; False when key is not one
    (the fake's own setting, then). ValueError for a bad value."""
    if key in ("slow_ms", "max_skew_seconds"):
        if not isinstance(value, (int, float)) or isinstance(value, bool) \
                or value < 0:
            raise ValueError("%s must be a number >= 0" % key)
    elif key in ("throttle_next", "fail_next"):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError("%s must be an integer >= 0" % key)
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
class ApiHandler(fakehttp.Handler):
    """The HTTP side of fake_ec2 and fake_pricing: GET and POST go to
    self.api(body), except /_fake/... which goes to
    self.control_call(name, request JSON) -> (status, JSON answer); a
    ValueError, TypeError or KeyError there is a 400 {"error"}.
    LOG_NAME prefixes the log lines."""

    LOG_NAME = "fake"

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

    def front(self, state, action, what, body, service, fail, auth_codes,
              down_error):
        """The checks every AWS fake makes first, in AWS's order: down
        (before the signature), slow, then the signature. fail(status,
        code, message, why) answers an error; auth_codes maps a SigV4Error
        code to the service's (status, code); down_error is (status, code,
        message). Returns the time to act at, or None when the request has
        been answered or its connection closed."""
        with state.lock:
            down, slow = faults_for(state.config, action)
        if down == "close":
            with state.lock:
                state.reject("down")
            self.log_line(what, "closed (down)")
            self.close_unanswered()
            return None
        if down:
            fail(*down_error, "down")
            return None
        if slow:
            time.sleep(slow / 1000.0)
        now = time.time()
        with state.lock:
            creds = dict(state.creds)
            skew = state.config["max_skew_seconds"]
        try:
            verify_sigv4(self.command, self.path, self.headers.items(), body,
                         now, service, state.args.region, creds, skew,
                         self.LOG_NAME)
        except SigV4Error as e:
            status, code = auth_codes.get(e.code, (e.status, e.code))
            fail(status, code, e.message, "auth")
            return None
        return now

    def injected(self, state, action, fail, throttled, failed):
        """Answers an injected fault, if one is due: throttled is (status,
        message) with the configured throttle_code, failed (status, code,
        message). True when it answered."""
        with state.lock:
            why = take_injected(state.config, action)
            code = state.config["throttle_code"]
        if why == "throttled":
            fail(throttled[0], code, throttled[1], why)
        elif why == "failed":
            fail(*failed, why)
        return why is not None

    def control(self, path, body):
        try:
            req = fakehttp.json_object(body)
            status, obj = self.control_call(path[len("/_fake/"):], req)
        except (ValueError, TypeError, KeyError) as e:
            status, obj = 400, {"error": str(e)}
        self.send_json(status, obj)
        self.log_line(path, status)


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
