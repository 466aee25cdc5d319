#!/usr/bin/python3
"""A local EC2 that speaks the Query API (Version 2016-11-15, XML answers)
for DescribeInstances and DescribeVolumes, over the resources of the local
CloudFormation's stacks, and checks each request's SigV4 signature
(service ec2) with botocore.

    fake_ec2.py --port P --access-key-id K --secret-access-key S
                [--session-token T] [--region us-east-1]
                [--cfn-url http://127.0.0.1:PORT]

--port 0 picks a free port. Once listening it prints one line to stdout:
    fake_ec2 listening on http://127.0.0.1:PORT
Binds 127.0.0.1 only; logs one line per request to stderr (action, ids,
status, error code); exits 0 on SIGTERM or SIGINT.

Where the instances and volumes come from:
  - with --cfn-url, every AWS::EC2::Instance and AWS::EC2::Volume of the
    local CloudFormation's stacks (its GET /_fake/resources): the instance
    type from the template's InstanceType (a literal or a parameter),
    m1.small without one, as EC2's default; each instance has a root
    volume (config root_volume, default gp3 8 GiB); a volume's type and
    size from VolumeType (default gp2) and Size. An instance of a deleted
    stack is "terminated"; its volumes are gone.
  - POST /_fake/instances and /_fake/volumes add or override one (a test
    resizes an instance, or makes a type nobody prices).
The control API (/_fake/..., JSON, no auth, never faulted) is described
above Handler.control.
Python: /usr/bin/python3, stdlib plus Debian's python3-botocore.
"""

import hashlib
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from xml.sax.saxutils import escape

import fakeaws
import fakehttp

XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
VERSION = "2016-11-15"
ACCOUNT = "123456789012"
ACTIONS = ("DescribeInstances", "DescribeVolumes")
THROTTLE_CODES = ("RequestLimitExceeded", "Throttling")
INSTANCE_ID_RE = re.compile(r"^i-[0-9a-f]{8,17}$")
VOLUME_ID_RE = re.compile(r"^vol-[0-9a-f]{8,17}$")
# What EC2 calls an error of the signature check (fakeaws names them as
# CloudFormation does).
AUTH_CODES = {"InvalidClientTokenId": (401, "AuthFailure"),
              "MissingAuthenticationToken": (401, "AuthFailure")}
STATES = {"pending": 0, "running": 16, "shutting-down": 32,
          "terminated": 48, "stopping": 64, "stopped": 80}


ApiError = fakeaws.ApiError


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))


def hexid(prefix, seed):
    return prefix + hashlib.sha256(seed.encode()).hexdigest()[:17]


class State(fakeaws.State):
    def __init__(self, args):
        # Re-entrant: the control API holds it around inventory(), which
        # takes it too.
        super().__init__(args, threading.RLock())
        self.reset()

    def reset(self):
        self.config = fakeaws.fault_defaults("RequestLimitExceeded")
        self.config["root_volume"] = {"type": "gp3", "size": 8}
        self.calls = fakeaws.new_calls()
        self.instances = {}      # overrides: id -> instance
        self.volumes = {}        # overrides: id -> volume


STATE = None


# ---------------------------------------------------------------- inventory
def cfn_resources():
    """The local CloudFormation's EC2 resources, [] without --cfn-url.
    ApiError 503 when it does not answer (EC2 would not be down then, but
    a test must see the dependency)."""
    if not STATE.args.cfn_url:
        return []
    try:
        with urllib.request.urlopen(STATE.args.cfn_url.rstrip("/") +
                                    "/_fake/resources", timeout=5) as r:
            doc = json.loads(r.read())
    except (OSError, ValueError) as e:
        raise ApiError(503, "Unavailable",
                       "fake_ec2: the local CloudFormation did not answer "
                       "(%s)" % e.__class__.__name__)
    return [r for r in doc.get("resources", [])
            if r.get("physical_id") and r["type"] in
            ("AWS::EC2::Instance", "AWS::EC2::Volume")]


def inventory(now):
    """(instances, volumes): dicts by id, from the stacks then the
    overrides."""
    with STATE.lock:
        root = dict(STATE.config["root_volume"])
        over_i = json.loads(json.dumps(STATE.instances))
        over_v = json.loads(json.dumps(STATE.volumes))
    instances, volumes = {}, {}
    for r in cfn_resources():
        p = r["properties"]
        gone = r["stack_status"] == "DELETE_COMPLETE" or \
            r["status"] == "DELETE_COMPLETE"
        if r["type"] == "AWS::EC2::Instance":
            iid = r["physical_id"]
            vol = hexid("vol-", "root/" + iid)
            instances[iid] = {
                "id": iid, "type": p.get("InstanceType", "m1.small"),
                "platform": "windows" if "windows" in
                p.get("ImageId", "").lower() else None,
                "tenancy": p.get("Tenancy", "default"),
                "state": "terminated" if gone else "running",
                "launch": r["timestamp"], "volumes": [] if gone else [vol],
                "stack": r["stack_name"], "logical": r["logical_id"]}
            if not gone:
                volumes[vol] = {"id": vol, "type": root["type"],
                                "size": int(root["size"]),
                                "attached": iid, "device": "/dev/xvda",
                                "create": r["timestamp"]}
        elif not gone:
            vid = r["physical_id"]
            volumes[vid] = {"id": vid, "type": p.get("VolumeType", "gp2"),
                            "size": int(p.get("Size", "8") or 8),
                            "attached": None, "device": None,
                            "create": r["timestamp"]}
    for iid, o in over_i.items():
        base = instances.get(iid, {"id": iid, "type": "t3.micro",
                                   "platform": None, "tenancy": "default",
                                   "state": "running", "launch": iso(now),
                                   "volumes": [], "stack": None,
                                   "logical": None})
        instances[iid] = dict(base, **o)
    for vid, o in over_v.items():
        base = volumes.get(vid, {"id": vid, "type": "gp2", "size": 8,
                                 "attached": None, "device": None,
                                 "create": iso(now)})
        volumes[vid] = dict(base, **o)
    return instances, volumes


# ---------------------------------------------------------------- XML
el = fakeaws.el


def items(name, parts):
    return "<%s>%s</%s>" % (name, "".join("<item>%s</item>" % p
                                          for p in parts), name)


def response(action, request_id, inner):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<%sResponse xmlns="%s">'
            '\n    <requestId>%s</requestId>\n    %s\n</%sResponse>\n') % (
                action, XMLNS, request_id, inner, action)


def error_xml(err, request_id):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            '<Code>%s</Code><Message>%s</Message></Error></Errors>'
            '<RequestID>%s</RequestID></Response>\n') % (
                escape(err.code), escape(err.message), request_id)


def instance_xml(i, volumes):
    state = i["state"]
    bdm = []
    for vid in i["volumes"]:
        v = volumes.get(vid)
        if v is None:
            continue
        bdm.append(el("deviceName", v["device"] or "/dev/sdf") +
                   "<ebs>%s</ebs>" % (
                       el("volumeId", vid) + el("status", "attached") +
                       el("attachTime", v["create"]) +
                       el("deleteOnTermination", True)))
    return (el("instanceId", i["id"]) +
            el("imageId", "ami-0" + hashlib.sha256(
                i["id"].encode()).hexdigest()[:16]) +
            "<instanceState>%s%s</instanceState>" % (
                el("code", STATES.get(state, 16)), el("name", state)) +
            el("privateDnsName", "") + el("dnsName", "") +
            el("amiLaunchIndex", 0) +
            el("instanceType", i["type"]) +
            el("launchTime", i["launch"]) +
            "<placement>%s</placement>" % (
                el("availabilityZone", STATE.args.region + "a") +
                el("groupName", "") + el("tenancy", i["tenancy"])) +
            el("platform", i["platform"]) +
            "<monitoring>%s</monitoring>" % el("state", "disabled") +
            el("architecture", "x86_64") +
            el("rootDeviceType", "ebs") + el("rootDeviceName", "/dev/xvda") +
            items("blockDeviceMapping", bdm) +
            el("virtualizationType", "hvm") +
            el("hypervisor", "xen") + el("ebsOptimized", False) +
            (items("tagSet", [el("key", "aws:cloudformation:stack-name") +
                              el("value", i["stack"]),
                              el("key", "aws:cloudformation:logical-id") +
                              el("value", i["logical"])])
             if i.get("stack") else ""))


def volume_xml(v):
    att = []
    if v["attached"]:
        att.append(el("volumeId", v["id"]) + el("instanceId", v["attached"]) +
                   el("device", v["device"]) + el("status", "attached") +
                   el("attachTime", v["create"]) +
                   el("deleteOnTermination", True))
    iops = {"gp3": 3000, "io1": 100, "io2": 100}.get(v["type"],
                                                     max(100, 3 * v["size"])
                                                     if v["type"] == "gp2"
                                                     else None)
    return (el("volumeId", v["id"]) + el("size", v["size"]) +
            el("snapshotId", "") +
            el("availabilityZone", STATE.args.region + "a") +
            el("status", "in-use" if v["attached"] else "available") +
            el("createTime", v["create"]) + items("attachmentSet", att) +
            el("volumeType", v["type"]) + el("iops", iops) +
            (el("throughput", 125) if v["type"] == "gp3" else "") +
            el("encrypted", False) + el("multiAttachEnabled", False))


# ---------------------------------------------------------------- actions
def listed(params, name):
    """Name.1, Name.2, ... in N order (a gap ends the list, as EC2's
    parser reads them)."""
    out = []
    n = 1
    while "%s.%d" % (name, n) in params:
        out.append(params["%s.%d" % (name, n)])
        n += 1
    return out


def page(params, all_ids):
    """MaxResults/NextToken over all_ids: (ids, next token or None)."""
    mr = params.get("MaxResults")
    start = 0
    tok = params.get("NextToken")
    if tok:
        try:
            start = int(tok.split(".", 1)[1]) if tok.startswith("p.") else -1
        except ValueError:
            start = -1
        if start < 0 or start > len(all_ids):
            raise ApiError(400, "InvalidParameterValue",
                           "The parameter NextToken is not valid")
    if mr is None:
        return all_ids[start:], None
    if not mr.isdigit() or not 5 <= int(mr) <= 1000:
        raise ApiError(400, "InvalidParameterValue",
                       "Value ( %s ) for parameter maxResults is invalid. "
                       "Expecting a value between 5 and 1000." % mr[:20])
    end = start + int(mr)
    return all_ids[start:end], ("p.%d" % end if end < len(all_ids) else None)


def described(params, now, id_param, set_name, id_re, malformed,
              not_found):
    """What DescribeInstances and DescribeVolumes share: the ids asked
    for (id_param.N), or without them a MaxResults/NextToken page of all,
    checked as EC2 does: ids not with MaxResults; each matching id_re
    (else malformed: (code, message % the id)); each known (else
    not_found: (code, message % (plural "s", the ids, "es" for one))).
    Returns (the chosen ids, the next token, instances, volumes)."""
    ids = listed(params, id_param)
    if ids and "MaxResults" in params:
        raise ApiError(400, "InvalidParameterCombination",
                       "The parameter %s cannot be used with the "
                       "parameter maxResults" % set_name)
    for i in ids:
        if not id_re.match(i):
            raise ApiError(400, malformed[0], malformed[1] % i[:40])
    instances, volumes = inventory(now)
    known = instances if id_param == "InstanceId" else volumes
    missing = [i for i in ids if i not in known]
    if missing:
        many = len(missing) > 1
        raise ApiError(400, not_found[0], not_found[1] % (
            "s" if many else "", ", ".join(missing), "" if many else "es"))
    chosen, nxt = page(params, ids or sorted(known))
    return chosen, nxt, instances, volumes


def act_instances(params, now, request_id):
    chosen, nxt, instances, volumes = described(
        params, now, "InstanceId", "instancesSet", INSTANCE_ID_RE,
        ("InvalidInstanceID.Malformed", "Invalid id: \"%s\""),
        ("InvalidInstanceID.NotFound",
         "The instance ID%s '%s' do%s not exist"))
    res = [el("reservationId", hexid("r-", iid)) + el("ownerId", ACCOUNT) +
           "<groupSet/>" + items("instancesSet",
                                 [instance_xml(instances[iid], volumes)])
           for iid in chosen]
    return items("reservationSet", res) + el("nextToken", nxt)


def act_volumes(params, now, request_id):
    chosen, nxt, _, volumes = described(
        params, now, "VolumeId", "volumeSet", VOLUME_ID_RE,
        ("InvalidParameterValue",
         "Invalid id: \"%s\" (expecting \"vol-...\")"),
        ("InvalidVolume.NotFound", "The volume%s '%s' do%s not exist."))
    return items("volumeSet", [volume_xml(volumes[v]) for v in chosen]) + \
        el("nextToken", nxt)


DISPATCH = {"DescribeInstances": act_instances,
            "DescribeVolumes": act_volumes}


# ---------------------------------------------------------------- HTTP
class Handler(fakeaws.ApiHandler):
    server_version = "fake-ec2/1"
    LOG_NAME = "fake_ec2"
    ACTIONS = ACTIONS
    THROTTLE_CODES = THROTTLE_CODES
    SERVICE = "ec2"
    CONTENT_TYPE = "text/xml;charset=UTF-8"
    AUTH_CODES = AUTH_CODES
    DOWN = (503, "Unavailable",
            "The server is overloaded and cannot handle the request.")
    THROTTLED = (503, "Request limit exceeded.")
    FAILED = (500, "InternalError", "An internal error has occurred")

    def parse(self, body):
        params = self.query_params(body)
        ids = ",".join(listed(params, "InstanceId") +
                       listed(params, "VolumeId"))[:200]
        return params, params.get("Action"), ids or None

    def refuse(self, params, action):
        if self.command not in ("GET", "POST"):
            return ApiError(400, "InvalidAction",
                            "Use POST (or GET) for the Query API")
        if not action:
            return ApiError(400, "MissingAction",
                            "The request must contain the parameter Action")
        if params.get("Version") is None:
            return ApiError(400, "MissingParameter",
                            "The request must contain the parameter Version")
        if action not in ACTIONS:
            return ApiError(400, "InvalidAction",
                            "The action %s is not valid for this web "
                            "service." % action[:60])
        if params["Version"] != VERSION:
            return ApiError(400, "InvalidParameterValue",
                            "Invalid API version %s for action %s" % (
                                params["Version"][:20], action))
        return None

    def act(self, action, params, now, request_id):
        return response(action, request_id,
                        DISPATCH[action](params, now, request_id))

    error_body = staticmethod(error_xml)

    # -- control API -----------------------------------------------------
    # JSON; no auth; never faulted.
    #   GET  /_fake/health                 {"ok": true, "region": ...}
    #   POST /_fake/config                 {throttle_next, throttle_code
    #        (RequestLimitExceeded|Throttling), fail_next, slow_ms, down
    #        (true|"503"|"close"|false), only_actions, max_skew_seconds,
    #        root_volume: {"type", "size"}} -> the whole config
    #   GET  /_fake/config
    #   GET  /_fake/instances, /_fake/volumes   what the API would show
    #   POST /_fake/instances              {"instance_id", "instance_type",
    #        "platform", "tenancy", "state", "volumes": [ids]} adds or
    #        overrides one (only the fields given); {"instance_id",
    #        "remove": true} drops the override
    #   POST /_fake/volumes                {"volume_id", "volume_type",
    #        "size", "attached"} likewise
    #   GET  /_fake/calls                  {"actions", "actions_ok",
    #        "rejected", "recent": [{time, action, status, code, detail}]}
    #   POST /_fake/reset                  config, calls and overrides
    def control_get(self, name):
        if name not in ("instances", "volumes"):
            return None
        try:
            instances, volumes = inventory(time.time())
        except ApiError as e:
            return e.status, {"error": e.message}
        return 200, {name: sorted(
            (instances if name == "instances" else volumes).values(),
            key=lambda x: x["id"])}

    def control_post(self, name, req):
        if name == "instances":
            return 200, override(STATE.instances, req, "instance_id",
                                 INSTANCE_ID_RE, {
                                     "instance_type": "type",
                                     "platform": "platform",
                                     "tenancy": "tenancy",
                                     "state": "state",
                                     "volumes": "volumes"})
        if name == "volumes":
            return 200, override(STATE.volumes, req, "volume_id",
                                 VOLUME_ID_RE, {
                                     "volume_type": "type",
                                     "size": "size",
                                     "attached": "attached"})
        return None

    def own_setting(self, cfg, key, value):
        if key != "root_volume":
            return False
        if not isinstance(value, dict) or \
                not isinstance(value.get("type"), str) or \
                not isinstance(value.get("size"), int) or value["size"] < 1:
            raise ValueError("root_volume: {\"type\": str, \"size\": "
                             "int >= 1}")
        cfg[key] = {"type": value["type"], "size": value["size"]}
        return True


def override(table, req, key, id_re, fields):
    oid = req[key]
    if not isinstance(oid, str) or not id_re.match(oid):
        raise ValueError("%s must match %s" % (key, id_re.pattern))
    if req.get("remove"):
        table.pop(oid, None)
        return {"removed": oid}
    o = table.setdefault(oid, {})
    for k, v in req.items():
        if k == key:
            continue
        if k not in fields:
            raise ValueError("unknown field %r" % k)
        if k == "state" and v not in STATES:
            raise ValueError("state: one of " + ", ".join(STATES))
        if k == "size" and (not isinstance(v, int) or v < 1):
            raise ValueError("size must be an integer >= 1")
        o[fields[k]] = v
    return {key: oid, "override": dict(o)}


def main(argv=None):
    global STATE
    p = fakeaws.arg_parser(__doc__)
    p.add_argument("--cfn-url")
    args = p.parse_args(argv)

    server = fakehttp.make_server(args.port, Handler)
    STATE = Handler.state = State(args)
    return fakehttp.serve(server, "fake_ec2", "region %s, key %s, cfn %s" % (
        args.region, args.access_key_id, args.cfn_url or "none"))


if __name__ == "__main__":
    sys.exit(main())
