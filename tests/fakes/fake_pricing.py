#!/usr/bin/python3
"""A local AWS Price List Query API (JSON 1.1, X-Amz-Target
AWSPriceListService.GetProducts / DescribeServices) answering from a small
committed price table (prices.json beside it), in the real answer's shape:
PriceList entries are JSON strings with terms.OnDemand...pricePerUnit.USD
(and a Reserved term beside it). Each request's SigV4 signature (service
pricing) is checked with botocore.

    fake_pricing.py --port P --access-key-id K --secret-access-key S
                    [--session-token T] [--region us-east-1]
                    [--prices FILE]      # default: prices.json beside it

--port 0 picks a free port. Once listening it prints one line to stdout:
    fake_pricing listening on http://127.0.0.1:PORT
Binds 127.0.0.1 only; logs one line per request to stderr (operation,
filters, status, error type); exits 0 on SIGTERM or SIGINT.
The control API (/_fake/..., JSON, no auth, never faulted) is described
above Handler.control.
Python: /usr/bin/python3, stdlib plus Debian's python3-botocore.
"""

import base64
import copy
import hashlib
import json
import os
import sys

import fakeaws
import fakehttp

TARGET_PREFIX = "AWSPriceListService."
ACTIONS = ("GetProducts", "DescribeServices")
THROTTLE_CODES = ("ThrottlingException",)
FILTER_TYPES = ("TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF")
ONDEMAND = "JRTCKXETXF"
RESERVED = "4NA7Y494T4"
RATE = "6YS6EN2CT7"
# What JSON 1.1 services call the errors of the signature check.
AUTH_CODES = {
    "InvalidClientTokenId": (403, "UnrecognizedClientException"),
    "MissingAuthenticationToken": (403,
                                   "MissingAuthenticationTokenException"),
    "SignatureDoesNotMatch": (403, "InvalidSignatureException"),
    "IncompleteSignature": (400, "IncompleteSignatureException")}


ApiError = fakeaws.ApiError


def invalid(message):
    return ApiError(400, "InvalidParameterException", message)


class State(fakeaws.State):
    def __init__(self, args):
        super().__init__(args)
        with open(args.prices, encoding="utf-8") as f:
            self.table = json.load(f)
        self.reset()

    def reset(self):
        self.config = fakeaws.fault_defaults("ThrottlingException")
        self.calls = fakeaws.new_calls()
        self.products = copy.deepcopy(self.table["products"])


STATE = None


# ---------------------------------------------------------------- answers
def price_item(p):
    """One PriceList entry (a dict; the answer carries it as a string)."""
    sku = p["sku"]
    eff = "2026-11-01T00:00:00Z"
    terms = {"OnDemand": {sku + "." + ONDEMAND: {
        "priceDimensions": {sku + "." + ONDEMAND + "." + RATE: {
            "unit": p["unit"], "endRange": "Inf",
            "description": p["description"], "appliesTo": [],
            "rateCode": sku + "." + ONDEMAND + "." + RATE,
            "beginRange": "0", "pricePerUnit": {"USD": p["usd"]}}},
        "sku": sku, "effectiveDate": eff, "offerTermCode": ONDEMAND,
        "termAttributes": {}}}}
    if p.get("reserved_usd"):
        terms["Reserved"] = {sku + "." + RESERVED: {
            "priceDimensions": {sku + "." + RESERVED + "." + RATE: {
                "unit": p["unit"], "endRange": "Inf",
                "description": "Linux/UNIX (Amazon VPC), %s reserved "
                "instance applied" % p["attributes"].get("instanceType"),
                "appliesTo": [], "rateCode": sku + "." + RESERVED + "." +
                RATE, "beginRange": "0",
                "pricePerUnit": {"USD": p["reserved_usd"]}}},
            "sku": sku, "effectiveDate": eff, "offerTermCode": RESERVED,
            "termAttributes": {"LeaseContractLength": "1yr",
                               "OfferingClass": "standard",
                               "PurchaseOption": "No Upfront"}}}
    return {"product": {"productFamily": p["productFamily"],
                        "attributes": p["attributes"], "sku": sku},
            "serviceCode": p["serviceCode"], "terms": terms,
            "version": STATE.table["version"],
            "publicationDate": STATE.table["publicationDate"]}


def matches(p, filters):
    fields = dict((k.lower(), v) for k, v in p["attributes"].items())
    fields["productfamily"] = p["productFamily"]
    for f in filters:
        have = fields.get(f["Field"].lower())
        want = f["Value"]
        t = f["Type"]
        if t in ("TERM_MATCH", "EQUALS"):
            ok = have == want
        elif t == "CONTAINS":
            ok = have is not None and want in have
        elif t == "ANY_OF":
            ok = have in want.split(",")
        else:
            ok = have not in want.split(",")
        if not ok:
            return False
    return True


def act_products(req):
    code = req.get("ServiceCode")
    if not isinstance(code, str) or not code:
        raise invalid("ServiceCode is required")
    fv = req.get("FormatVersion", "aws_v1")
    if fv != "aws_v1":
        raise invalid("Invalid FormatVersion %s" % str(fv)[:20])
    filters = req.get("Filters") or []
    if not isinstance(filters, list):
        raise invalid("Filters must be a list")
    for f in filters:
        if not isinstance(f, dict) or not all(
                isinstance(f.get(k), str) for k in ("Type", "Field",
                                                    "Value")):
            raise invalid("Each filter needs Type, Field and Value strings")
        if f["Type"] not in FILTER_TYPES:
            raise invalid("1 validation error detected: Value '%s' at "
                          "'filters.1.member.type' failed to satisfy "
                          "constraint: Member must satisfy enum value set: "
                          "[%s]" % (f["Type"][:20], ", ".join(FILTER_TYPES)))
    mr = req.get("MaxResults", 100)
    if not isinstance(mr, int) or isinstance(mr, bool) or not 1 <= mr <= 100:
        raise invalid("MaxResults must be between 1 and 100")
    with STATE.lock:
        codes = {p["serviceCode"] for p in STATE.products}
        found = [p for p in STATE.products
                 if p["serviceCode"] == code and matches(p, filters)]
        items = [price_item(p) for p in found]
    if code not in codes:
        raise ApiError(400, "NotFoundException",
                       "Service code %s not found" % code[:40])
    # The token binds the page to its query, as AWS's does.
    qhash = hashlib.sha256(json.dumps([code, filters], sort_keys=True)
                           .encode()).hexdigest()[:12]
    start = 0
    tok = req.get("NextToken")
    if tok is not None:
        try:
            h, s = base64.b64decode(tok, validate=True).decode().split(":")
            start = int(s)
            if h != qhash or not 0 <= start <= len(items):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "InvalidNextTokenException",
                           "The next token is invalid")
    end = start + mr
    out = {"FormatVersion": "aws_v1",
           "PriceList": [json.dumps(i) for i in items[start:end]]}
    if end < len(items):
        out["NextToken"] = base64.b64encode(
            ("%s:%d" % (qhash, end)).encode()).decode()
    return out


def act_services(req):
    with STATE.lock:
        by_code = {}
        for p in STATE.products:
            by_code.setdefault(p["serviceCode"], set()).update(
                p["attributes"])
    code = req.get("ServiceCode")
    if code is not None and code not in by_code:
        raise ApiError(400, "NotFoundException",
                       "Service code %s not found" % str(code)[:40])
    return {"FormatVersion": "aws_v1", "Services": [
        {"ServiceCode": c, "AttributeNames": sorted(a)}
        for c, a in sorted(by_code.items()) if code in (None, c)]}


DISPATCH = {"GetProducts": act_products, "DescribeServices": act_services}


# ---------------------------------------------------------------- HTTP
class Handler(fakeaws.ApiHandler):
    server_version = "fake-pricing/1"
    LOG_NAME = "fake_pricing"
    ACTIONS = ACTIONS
    THROTTLE_CODES = THROTTLE_CODES
    SERVICE = "pricing"
    AUTH_CODES = AUTH_CODES
    DOWN = (503, "ServiceUnavailableException", "Service is unavailable")
    THROTTLED = (400, "Rate exceeded")
    FAILED = (500, "InternalErrorException", "An internal error occurred")

    def target(self):
        return self.headers.get("X-Amz-Target") or ""

    def parse(self, body):
        target = self.target()
        action = target[len(TARGET_PREFIX):] \
            if target.startswith(TARGET_PREFIX) else None
        try:
            req = json.loads(body.decode("utf-8")) if body else {}
        except (ValueError, UnicodeDecodeError):
            req = None
        detail = None
        if isinstance(req, dict) and action == "GetProducts":
            detail = ",".join("%s=%s" % (f.get("Field"), f.get("Value"))
                              for f in req.get("Filters") or []
                              if isinstance(f, dict))[:300]
        return req, action, detail

    def refuse(self, req, action):
        if self.command != "POST":
            return ApiError(400, "UnknownOperationException",
                            "JSON 1.1 requests are POSTs")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        if ctype.strip().lower() != "application/x-amz-json-1.1":
            return ApiError(400, "SerializationException",
                            "Content-Type must be application/x-amz-json-1.1")
        if action not in ACTIONS:
            return ApiError(400, "UnknownOperationException",
                            "Unknown operation %s" % self.target()[:80])
        if not isinstance(req, dict):
            return ApiError(400, "SerializationException",
                            "The body is not a JSON object")
        return None

    def act(self, action, req, now, request_id):
        return DISPATCH[action](req)

    def reply(self, status, obj, request_id, code):
        headers = {"x-amzn-RequestId": request_id}
        if code:
            headers["x-amzn-ErrorType"] = code
        self.send_body(status, json.dumps(obj),
                       "application/x-amz-json-1.1", headers)

    def error_body(self, err, request_id):
        return {"__type": err.code, "Message": err.message}

    # -- control API -----------------------------------------------------
    # JSON; no auth; never faulted.
    #   GET  /_fake/health                 {"ok": true, "region": ...}
    #   POST /_fake/config                 {throttle_next, throttle_code,
    #        fail_next, slow_ms, down (true|"503"|"close"|false),
    #        only_actions, max_skew_seconds} -> the whole config
    #   GET  /_fake/config
    #   GET  /_fake/products               the table as served now
    #   POST /_fake/prices                 {"match": {attribute: value},
    #        "usd": "0.02"} sets the On-Demand price of every product
    #        matching all of match -> {"changed": n}
    #   GET  /_fake/calls                  {"actions", "actions_ok",
    #        "rejected", "recent": [{time, action, status, code, detail}]}
    #        (detail: the filters, Field=Value,...)
    #   POST /_fake/reset                  config, calls and the prices
    def control_get(self, name):
        if name == "products":
            return 200, {"products": copy.deepcopy(STATE.products)}
        return None

    def control_post(self, name, req):
        if name != "prices":
            return None
        match = req["match"]
        usd = req["usd"]
        if not isinstance(match, dict) or not match:
            raise ValueError("match must be a non-empty object")
        float(usd)
        n = 0
        for p in STATE.products:
            if all(p["attributes"].get(k) == v for k, v in match.items()):
                p["usd"] = str(usd)
                n += 1
        return 200, {"changed": n}


def main(argv=None):
    global STATE
    p = fakeaws.arg_parser(__doc__)
    p.add_argument("--prices", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "prices.json"))
    args = p.parse_args(argv)

    server = fakehttp.make_server(args.port, Handler)
    STATE = Handler.state = State(args)
    return fakehttp.serve(server, "fake_pricing", "region %s, key %s, %d "
                          "products" % (args.region, args.access_key_id,
                                        len(STATE.products)))


if __name__ == "__main__":
    sys.exit(main())
