#!/usr/bin/python3
"""A local CloudFormation that speaks the Query API (2010-05-15) for
CreateStack, DescribeStacks, DeleteStack, DescribeStackEvents and ListStacks,
and checks each request's SigV4 signature with botocore, an implementation
independent of ours, so a signing bug fails the tests.

    fake_cfn.py --port P --access-key-id K --secret-access-key S
                [--session-token T] [--region us-east-1]
                [--create-delay SECONDS] [--delete-delay SECONDS]
                [--state FILE]

--port 0 picks a free port. Once listening it prints one line to stdout:
    fake_cfn listening on http://127.0.0.1:PORT
Binds 127.0.0.1 only. Logs one line per request to stderr (action, stack,
status, error code); never a secret, session token or parameter value.
Exits 0 on SIGTERM or SIGINT. With --session-token, requests with key K must
carry that X-Amz-Security-Token; without it any token (or none) is accepted.
--state FILE keeps the stacks across restarts: a journal of JSON lines, one
appended per changed stack (never the whole state per call, so 10,000s of
stacks stay cheap), compacted when loaded.

The control API (/_fake/..., JSON, no auth, never faulted) is described
above Handler.control.
Python: /usr/bin/python3, stdlib plus Debian's python3-botocore.
"""

import datetime
import hashlib
import heapq
import itertools
import json
import os
import re
import sys
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

import fakeaws
import fakehttp

XMLNS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
ACCOUNT = "123456789012"
MAX_TEMPLATE_BODY = 51200
MAX_TAGS = 50
STACK_NAME_RE = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]*$")
TOKEN_RE = re.compile(r"^[a-zA-Z0-9][-a-zA-Z0-9]*$")
ACTIONS = ("CreateStack", "DescribeStacks", "DeleteStack",
           "DescribeStackEvents", "ListStacks", "DescribeStackResources")
STATUSES = (
    "CREATE_IN_PROGRESS", "CREATE_FAILED", "CREATE_COMPLETE",
    "ROLLBACK_IN_PROGRESS", "ROLLBACK_FAILED", "ROLLBACK_COMPLETE",
    "DELETE_IN_PROGRESS", "DELETE_FAILED", "DELETE_COMPLETE",
    "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_COMPLETE", "UPDATE_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS",
    "UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
    "UPDATE_ROLLBACK_COMPLETE", "REVIEW_IN_PROGRESS", "IMPORT_IN_PROGRESS",
    "IMPORT_COMPLETE", "IMPORT_ROLLBACK_IN_PROGRESS", "IMPORT_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE")
THROTTLE_CODES = ("Throttling", "ThrottlingException", "RequestLimitExceeded")
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM",
                "CAPABILITY_AUTO_EXPAND")


ApiError = fakeaws.ApiError


def validation(message):
    return ApiError(400, "ValidationError", message)


def iso(t):
    if t is None:
        return None
    d = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


# ---------------------------------------------------------------- templates
def _strip_scalar(v):
    v = v.strip()
    if " #" in v:
        v = v.split(" #", 1)[0].rstrip()
    if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
        v = v[1:-1]
    return v


_YAML_KEY = re.compile(r"^\s*(\"[^\"]+\"|'[^']+'|[A-Za-z0-9_:.-]+)\s*:(\s+.*|)$")


def _yaml_children(lines):
    """[key, scalar, child lines] for the entries at the block's indent."""
    lines = [ln for ln in lines if ln.strip() and
             not ln.lstrip().startswith("#")]
    if not lines:
        return []
    indent = min(len(ln) - len(ln.lstrip()) for ln in lines)
    out = []
    for ln in lines:
        ind = len(ln) - len(ln.lstrip())
        if ind == indent:
            m = _YAML_KEY.match(ln)
            if m:
                out.append([_strip_scalar(m.group(1)),
                            _strip_scalar(m.group(2)), []])
                continue
        if out:
            out[-1][2].append(ln)
    return out


def parse_template(body):
    """Returns a dict with description, parameters [(name, {default, noecho,
    type})], resources [(logical id, type)], outputs [(key, description)]
    or raises ValidationError as CloudFormation does. Only the shape is
    read: enough for parameters, NoEcho, outputs and capabilities."""
    text = body.strip()
    info = {"description": None, "parameters": [], "resources": [],
            "outputs": [], "transform": False, "resource_props": {}}
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except ValueError as e:
            raise validation("Template format error: JSON not well-formed. "
                             "(%s)" % e.args[0].split(":")[0])
        if not isinstance(doc, dict):
            raise validation("Template format error: JSON not well-formed.")
        res = doc.get("Resources")
        if not isinstance(res, dict) or not res:
            raise validation("Template format error: At least one Resources "
                             "member must be defined.")
        if isinstance(doc.get("Description"), str):
            info["description"] = doc["Description"]
        for name, p in (doc.get("Parameters") or {}).items():
            p = p if isinstance(p, dict) else {}
            info["parameters"].append((name, {
                "default": None if p.get("Default") is None
                else str(p.get("Default")),
                "noecho": str(p.get("NoEcho", "false")).lower() == "true",
                "type": p.get("Type", "String")}))
        for name, r in res.items():
            info["resources"].append(
                (name, (r or {}).get("Type", "AWS::CloudFormation::"
                                     "WaitConditionHandle")
                 if isinstance(r, dict) else "Unknown"))
            props = r.get("Properties") if isinstance(r, dict) else None
            info["resource_props"][name] = {
                k: v for k, v in (props or {}).items()
                if isinstance(v, (str, int, float)) or
                (isinstance(v, dict) and list(v) == ["Ref"])}
        for name, o in (doc.get("Outputs") or {}).items():
            info["outputs"].append(
                (name, o.get("Description") if isinstance(o, dict) else None))
        info["transform"] = "Transform" in doc
        return info

    top = {}
    order = []
    cur = None
    for raw in body.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#") or \
                raw.strip() in ("---", "..."):
            continue
        if not raw[0].isspace():
            m = _YAML_KEY.match(raw)
            if not m:
                raise validation("Template format error: YAML not "
                                 "well-formed. (line: %s)" % raw[:40])
            cur = _strip_scalar(m.group(1))
            top[cur] = [_strip_scalar(m.group(2)), []]
            order.append(cur)
        elif cur is None:
            raise validation("Template format error: YAML not well-formed.")
        else:
            top[cur][1].append(raw)
    if not top:
        raise validation("Template format error: YAML not well-formed.")
    if "Resources" not in top or not _yaml_children(top["Resources"][1]):
        raise validation("Template format error: At least one Resources "
                         "member must be defined.")
    if "Description" in top:
        v, lines = top["Description"]
        if v in (">", "|", ">-", "|-", ""):
            v = " ".join(ln.strip() for ln in lines)
        info["description"] = v
    for name, _, lines in _yaml_children(top.get("Parameters", ["", []])[1]):
        props = {k: v for k, v, _ in _yaml_children(lines)}
        info["parameters"].append((name, {
            "default": props.get("Default"),
            "noecho": props.get("NoEcho", "false").lower() == "true",
            "type": props.get("Type", "String")}))
    for name, _, lines in _yaml_children(top["Resources"][1]):
        props = {k: (v, sub) for k, v, sub in _yaml_children(lines)}
        info["resources"].append((name, props.get("Type",
                                                  ("Unknown",))[0]))
        scalars = {}
        for k, v, _ in _yaml_children(props.get("Properties", ("", []))[1]):
            if v.startswith("!Ref "):
                scalars[k] = {"Ref": v[5:].strip()}
            elif v and v[0] not in "!{[|>":
                scalars[k] = v
        info["resource_props"][name] = scalars
    for name, _, lines in _yaml_children(top.get("Outputs", ["", []])[1]):
        props = {k: v for k, v, _ in _yaml_children(lines)}
        info["outputs"].append((name, props.get("Description")))
    info["transform"] = "Transform" in top
    return info


def physical_id(stack, logical, rtype):
    """The physical id of a stack's resource, stable for the stack, in the
    shape AWS gives that type (i-..., vol-..., a bucket name...). The
    first AWS::EC2::Instance gets the id the InstanceId output shows."""
    h = hashlib.sha256((stack["id"] + "/" + logical).encode()).hexdigest()
    if rtype == "AWS::EC2::Instance":
        first = next((lid for lid, rt in stack["resources"] or
                      [["Instance", rtype]] if rt == rtype), None)
        if first == logical:
            return output_value("InstanceId", stack["id"],
                                STATE.args.region)
        return "i-" + h[:17]
    if rtype == "AWS::EC2::Volume":
        return "vol-" + h[:17]
    if rtype == "AWS::EC2::SecurityGroup":
        return "sg-" + h[:17]
    if rtype == "AWS::S3::Bucket":
        return ("%s-%s-%s" % (stack["name"], logical, h[:12])).lower()[:63]
    return "%s-%s-%s" % (stack["name"], logical, h[:12].upper())


def output_value(key, stack_id, region):
    """A plausible value for an output, stable for the stack."""
    h = hashlib.sha256(stack_id.encode()).hexdigest()
    n = int(h[:4], 16)
    ip = "203.0.113.%d" % (n % 254 + 1)
    k = key.lower()
    if "instanceid" in k:
        return "i-" + h[:17]
    if "privateip" in k:
        return "10.0.%d.%d" % (n // 256 % 256, n % 254 + 1)
    if k.endswith("ip") or "ipaddress" in k or "publicip" in k:
        return ip
    if "dns" in k or "hostname" in k:
        return "ec2-%s.compute-1.amazonaws.com" % ip.replace(".", "-")
    if "url" in k:
        return "http://%s/" % ip
    if "arn" in k:
        return "arn:aws:ec2:%s:%s:instance/i-%s" % (region, ACCOUNT, h[:17])
    return "%s-%s" % (key, h[:8])


# ---------------------------------------------------------------- state
class State(fakeaws.State):
    def __init__(self, args):
        super().__init__(args)
        self.stacks = []         # oldest first; deleted ones stay
        self.tokens = {}         # CreateStack ClientRequestToken -> stack id
        # Indexes over self.stacks, so that no call scans every stack: by
        # StackId; by name (oldest first); the stacks not yet known to be
        # DELETE_COMPLETE; and a heap of the times at which some of them
        # are planned to reach DELETE_COMPLETE (entries may be stale: a
        # delete can replace a plan; count_live checks the status).
        self.by_id = {}
        self.by_name = {}
        self.live = {}
        self.ends = []
        self.seq = itertools.count()
        self.journal = None
        self.reset()
        self.load()

    def reset(self):
        self.config = fakeaws.fault_defaults("Throttling")
        self.config.update({
            "create_delay": self.args.create_delay,
            "delete_delay": self.args.delete_delay,
            "fail_create": [], "fail_delete": [], "max_stacks": 100000,
            "unavailable_stacks": [],
        })
        self.calls = {"actions": {}, "actions_ok": {}, "stacks": {},
                      "stacks_ok": {}, "rejected": {}, "recent": [],
                      "max_in_flight": {}}
        # requests being answered now (not reset: some may be)
        self.in_flight = getattr(self, "in_flight", {})

    def enter(self, action):
        """A Query API request of action is being answered: counts it in
        flight and keeps the most there were at once (GET /_fake/calls
        max_in_flight; POST /_fake/calls starts that count again)."""
        n = self.in_flight.get(action, 0) + 1
        self.in_flight[action] = n
        top = self.calls["max_in_flight"]
        top[action] = max(top.get(action, 0), n)

    def leave(self, action):
        self.in_flight[action] = max(0, self.in_flight.get(action, 1) - 1)

    def control_reset(self, req):
        self.reset()
        if not req.get("keep_stacks"):
            self.wipe()

    def wipe(self):
        self.stacks = []
        self.tokens = {}
        self.by_id, self.by_name, self.live, self.ends = {}, {}, {}, []
        self.compact()

    # -- indexes ---------------------------------------------------------
    def add(self, stack):
        """Appends a new stack (callers journal it with save)."""
        self.stacks.append(stack)
        self.by_id[stack["id"]] = stack
        self.by_name.setdefault(stack["name"], []).append(stack)
        self.live[stack["id"]] = stack
        self.planned(stack)

    def planned(self, stack):
        """Notes when a (re)planned timeline reaches DELETE_COMPLETE."""
        for e in stack["timeline"]:
            if e["status"] == "DELETE_COMPLETE":
                heapq.heappush(self.ends, (e["t"], next(self.seq),
                                           stack["id"]))

    def live_stacks(self, now):
        """The stacks that are not DELETE_COMPLETE at now, oldest first."""
        while self.ends and self.ends[0][0] <= now:
            _, _, sid = heapq.heappop(self.ends)
            s = self.live.get(sid)
            if s is not None and self.status(s, now) == "DELETE_COMPLETE":
                del self.live[sid]
        return self.live.values()

    # -- persistence -----------------------------------------------------
    # The state file is a journal: {"stack": {...}} lines (the newest line
    # of a StackId wins) and {"token": [token, stack id]} lines. Each
    # change appends one line; loading replays the lines and rewrites the
    # file compacted. A state file of the older format (one JSON object
    # with "stacks" and "tokens") is read too.
    def load(self):
        if not self.args.state:
            return
        stacks = {}
        try:
            with open(self.args.state, encoding="utf-8") as f:
                text = f.read()
        except OSError:
            text = ""
        try:
            doc = json.loads(text) if text.lstrip().startswith(
                '{"stacks"') else None
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            for st in doc.get("stacks", []):
                stacks[st["id"]] = st
            self.tokens = doc.get("tokens", {})
        else:
            for line in text.splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue    # a line cut short by a crash
                if "stack" in rec:
                    stacks[rec["stack"]["id"]] = rec["stack"]
                elif "token" in rec:
                    self.tokens[rec["token"][0]] = rec["token"][1]
        for st in stacks.values():
            self.add(st)
        self.compact()

    def compact(self):
        """Rewrites the state file from memory and opens it to append."""
        if not self.args.state:
            return
        if self.journal is not None:
            self.journal.close()
        tmp = self.args.state + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            for st in self.stacks:
                f.write(json.dumps({"stack": st}) + "\n")
            for tok, sid in self.tokens.items():
                f.write(json.dumps({"token": [tok, sid]}) + "\n")
        os.replace(tmp, self.args.state)
        self.journal = open(self.args.state, "a", encoding="utf-8")

    def save(self, stack, token=None):
        """Journals one changed stack (and the token that created it)."""
        if self.journal is None:
            return
        self.journal.write(json.dumps({"stack": stack}) + "\n")
        if token is not None:
            self.journal.write(json.dumps({"token": [token, stack["id"]]}) +
                               "\n")
        self.journal.flush()

    # -- lookups ---------------------------------------------------------
    @staticmethod
    def now_entry(stack, now):
        cur = stack["timeline"][0]
        for e in stack["timeline"]:
            if e["t"] <= now:
                cur = e
        return cur

    def status(self, stack, now):
        return self.now_entry(stack, now)["status"]

    def live_by_name(self, name, now):
        for s in reversed(self.by_name.get(name, ())):
            if self.status(s, now) != "DELETE_COMPLETE":
                return s
        return None

    def find(self, name_or_id, now):
        """A stack by name (live ones only) or by StackId (any)."""
        if name_or_id.startswith("arn:"):
            return self.by_id.get(name_or_id)
        return self.live_by_name(name_or_id, now)

    def stack_name_of(self, name_or_id):
        if name_or_id and name_or_id.startswith("arn:"):
            s = self.by_id.get(name_or_id)
            if s is not None:
                return s["name"]
        return name_or_id

    # -- timelines -------------------------------------------------------
    def _event(self, stack, t, logical, rtype, status, reason, physical=None):
        return {"t": t, "id": str(uuid.uuid4()), "logical": logical,
                "type": rtype, "status": status, "reason": reason,
                "physical": physical}

    def _entry(self, t, status, reason, events):
        return {"t": t, "status": status, "reason": reason, "events": events}

    def _stack_event(self, stack, t, status, reason):
        return self._event(stack, t, stack["name"],
                           "AWS::CloudFormation::Stack", status, reason,
                           stack["id"])

    def _resources(self, stack):
        return stack["resources"] or [["Instance", "AWS::EC2::Instance"]]

    def plan_create(self, stack, now, fail):
        d = float(self.config["create_delay"])
        res = self._resources(stack)
        ev0 = [self._stack_event(stack, now, "CREATE_IN_PROGRESS",
                                 "User Initiated")]
        ev0 += [self._event(stack, now, lid, rt, "CREATE_IN_PROGRESS", None)
                for lid, rt in res]
        tl = [self._entry(now, "CREATE_IN_PROGRESS", "User Initiated", ev0)]
        t1 = now + d
        if not fail:
            ev1 = [self._event(stack, t1, lid, rt, "CREATE_COMPLETE", None,
                               physical_id(stack, lid, rt))
                   for lid, rt in res]
            ev1.append(self._stack_event(stack, t1, "CREATE_COMPLETE", None))
            tl.append(self._entry(t1, "CREATE_COMPLETE", None, ev1))
            stack["complete_at"] = t1
            stack["timeline"] = tl
            return
        lid, rt = res[0]
        res_reason = ("Resource handler returned message: \"Injected failure "
                      "by fake_cfn fail_create\" (RequestToken: %s, "
                      "HandlerErrorCode: InternalFailure)" % uuid.uuid4())
        reason = ("The following resource(s) failed to create: [%s]. " % lid)
        ev1 = [self._event(stack, t1, lid, rt, "CREATE_FAILED", res_reason)]
        mode = stack["on_failure"]
        if mode == "DO_NOTHING":
            ev1.append(self._stack_event(stack, t1, "CREATE_FAILED", reason))
            tl.append(self._entry(t1, "CREATE_FAILED", reason, ev1))
        else:
            # DELETE deletes the stack; ROLLBACK (the default) keeps it,
            # rolled back. The failed resource is deleted either way.
            verb, going, gone = ("Delete", "DELETE_IN_PROGRESS",
                                 "DELETE_COMPLETE") if mode == "DELETE" \
                else ("Rollback", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE")
            reason += "%s requested by user." % verb
            ev1.append(self._stack_event(stack, t1, going, reason))
            tl.append(self._entry(t1, going, reason, ev1))
            t2 = t1 + float(self.config["delete_delay"])
            ev2 = [self._event(stack, t2, lid, rt, "DELETE_COMPLETE", None),
                   self._stack_event(stack, t2, gone, None)]
            # AWS drops the reason once ROLLBACK_COMPLETE; we keep it on the
            # stack so a test can see why (the events carry it too).
            tl.append(self._entry(t2, gone, reason, ev2))
            if mode == "DELETE":
                stack["deleted_at"] = t1
        stack["timeline"] = tl

    def plan_delete(self, stack, now, fail):
        # Whatever was still to come (a create in progress) is cancelled.
        stack["timeline"] = [e for e in stack["timeline"] if e["t"] <= now]
        if stack.get("complete_at") and stack["complete_at"] > now:
            stack["complete_at"] = None
        res = self._resources(stack)
        ev0 = [self._stack_event(stack, now, "DELETE_IN_PROGRESS",
                                 "User Initiated")]
        stack["timeline"].append(self._entry(now, "DELETE_IN_PROGRESS",
                                             "User Initiated", ev0))
        t1 = now + float(self.config["delete_delay"])
        if fail:
            lid, rt = res[0]
            reason = "The following resource(s) failed to delete: [%s]. " % lid
            ev1 = [self._event(stack, t1, lid, rt, "DELETE_FAILED",
                               "Resource handler returned message: "
                               "\"Injected failure by fake_cfn fail_delete\""),
                   self._stack_event(stack, t1, "DELETE_FAILED", reason)]
            stack["timeline"].append(self._entry(t1, "DELETE_FAILED", reason,
                                                 ev1))
        else:
            ev1 = [self._event(stack, t1, lid, rt, "DELETE_COMPLETE", None)
                   for lid, rt in res]
            ev1.append(self._stack_event(stack, t1, "DELETE_COMPLETE", None))
            stack["timeline"].append(self._entry(t1, "DELETE_COMPLETE", None,
                                                 ev1))
            stack["deleted_at"] = now
        stack["last_updated"] = now

    def new_stack(self, name, now, token=None, body="", info=None,
                  params=None, tags=None, caps=None, on_failure="ROLLBACK",
                  role_arn=None, timeout=None, disable_rollback=False):
        info = info or {"description": None, "parameters": [],
                        "resources": [], "outputs": []}
        props = info.get("resource_props") or {}
        sid = "arn:aws:cloudformation:%s:%s:stack/%s/%s" % (
            self.args.region, ACCOUNT, name, uuid.uuid4())
        declared = dict(info["parameters"])
        if declared:
            plist = []
            given = dict(params or [])
            for pname, p in info["parameters"]:
                v = given.get(pname, p["default"])
                plist.append([pname, v if v is not None else "",
                              bool(p["noecho"]), p.get("type") or "String"])
        else:
            plist = [[k, v, False, "String"] for k, v in (params or [])]
        outputs = info["outputs"] or [
            ("InstanceId", "The sandbox instance"),
            ("PublicIp", "Public IP address of the sandbox instance")]
        stack = {
            "id": sid, "name": name, "token": token, "created": now,
            "deleted_at": None, "last_updated": None, "complete_at": None,
            "description": info["description"], "template_size":
            len(body.encode("utf-8")), "parameters": plist,
            "tags": [list(t) for t in (tags or [])],
            "capabilities": list(caps or []), "on_failure": on_failure,
            "disable_rollback": disable_rollback, "role_arn": role_arn,
            "timeout": timeout,
            "resources": [list(r) for r in info["resources"]],
            "resource_props": {k: dict(v) for k, v in props.items()},
            "outputs": [[k, output_value(k, sid, self.args.region), d]
                        for k, d in outputs],
            "counts": {}, "timeline": [],
        }
        return stack

    def count(self, action, status, code, stack_name):
        c = self.calls
        ok = status == 200
        c["actions"][action] = c["actions"].get(action, 0) + 1
        if ok:
            c["actions_ok"][action] = c["actions_ok"].get(action, 0) + 1
        if stack_name:
            per = c["stacks"].setdefault(stack_name, {})
            per[action] = per.get(action, 0) + 1
            if ok:
                per = c["stacks_ok"].setdefault(stack_name, {})
                per[action] = per.get(action, 0) + 1
            # the newest stack of that name (the one a name now means)
            named = self.by_name.get(stack_name)
            if named:
                s = named[-1]
                s["counts"][action] = s["counts"].get(action, 0) + 1
        c["recent"].append({"time": iso(time.time()), "action": action,
                            "stack": stack_name, "status": status,
                            "code": code})
        del c["recent"][:-200]


STATE = None


# ---------------------------------------------------------------- XML
el = fakeaws.el


def members(name, items):
    return "<%s>%s</%s>" % (name, "".join(
        "<member>%s</member>" % i for i in items), name)


def response(action, result_xml, request_id):
    inner = "<%sResult>%s</%sResult>" % (action, result_xml, action) \
        if result_xml is not None else ""
    return ('<%sResponse xmlns="%s">\n  %s\n  <ResponseMetadata>\n'
            '    <RequestId>%s</RequestId>\n  </ResponseMetadata>\n'
            '</%sResponse>\n') % (action, XMLNS, inner, request_id, action)


def error_xml(err, request_id):
    return ('<ErrorResponse xmlns="%s">\n  <Error>\n    <Type>%s</Type>\n'
            '    <Code>%s</Code>\n    <Message>%s</Message>\n  </Error>\n'
            '  <RequestId>%s</RequestId>\n</ErrorResponse>\n') % (
                XMLNS, err.kind, escape(err.code), escape(err.message),
                request_id)


def stack_xml(stack, now):
    entry = STATE.now_entry(stack, now)
    status = entry["status"]
    parts = [el("StackId", stack["id"]), el("StackName", stack["name"]),
             el("Description", stack["description"])]
    if stack["parameters"]:
        items = []
        for p in stack["parameters"]:
            k, v, noecho = p[0], p[1], p[2]
            x = el("ParameterKey", k) + el("ParameterValue",
                                           "****" if noecho else v)
            if len(p) > 3 and p[3].startswith("AWS::SSM::Parameter::Value"):
                # CloudFormation shows what an SSM parameter resolved to.
                x += el("ResolvedValue", "ami-0" + hashlib.sha256(
                    (v + stack["id"]).encode()).hexdigest()[:16]
                    if "Image" in p[3] else "resolved-" + hashlib.sha256(
                        v.encode()).hexdigest()[:8])
            items.append(x)
        parts.append(members("Parameters", items))
    parts.append(el("CreationTime", iso(stack["created"])))
    if stack["deleted_at"] and stack["deleted_at"] <= now:
        parts.append(el("DeletionTime", iso(stack["deleted_at"])))
    if stack["last_updated"] and stack["last_updated"] <= now:
        parts.append(el("LastUpdatedTime", iso(stack["last_updated"])))
    parts.append("<RollbackConfiguration/>")
    parts.append(el("StackStatus", status))
    parts.append(el("StackStatusReason", entry["reason"]))
    parts.append(el("DisableRollback", stack["disable_rollback"]))
    parts.append("<NotificationARNs/>")
    parts.append(el("TimeoutInMinutes", stack["timeout"]))
    if stack["capabilities"]:
        parts.append(members("Capabilities", [escape(c) for c in
                                              stack["capabilities"]]))
    if stack["complete_at"] is not None and stack["complete_at"] <= now:
        parts.append(members("Outputs", [
            el("OutputKey", k) + el("OutputValue", v) + el("Description", d)
            for k, v, d in stack["outputs"]]))
    parts.append(el("RoleARN", stack["role_arn"]))
    if stack["tags"]:
        parts.append(members("Tags", [el("Key", k) + el("Value", v)
                                      for k, v in stack["tags"]]))
    parts.append(el("EnableTerminationProtection", False))
    parts.append("<DriftInformation>%s</DriftInformation>" %
                 el("StackDriftStatus", "NOT_CHECKED"))
    return "".join(parts)


# ---------------------------------------------------------------- actions
def indexed(params, prefix, fields):
    """Collects Prefix.member.N.Field parameters into a list of dicts in
    N order; a gap or a bad N is a ValidationError."""
    found = {}
    pat = re.compile(r"^%s\.member\.(\d+)(?:\.(\w+))?$" % re.escape(prefix))
    for k, v in params.items():
        m = pat.match(k)
        if not m:
            continue
        n = int(m.group(1))
        field = m.group(2)
        if n < 1 or (field is not None and field not in fields) or \
                (field is None and fields):
            raise validation("Invalid parameter %s" % k)
        found.setdefault(n, {})[field] = v
    if sorted(found) != list(range(1, len(found) + 1)):
        raise validation("%s.member.N must count from 1 without gaps" %
                         prefix)
    return [found[n] for n in sorted(found)]


def required_name(params, field="StackName"):
    v = params.get(field)
    if v is None or v == "":
        raise validation("1 validation error detected: Value null at '%s' "
                         "failed to satisfy constraint: Member must not be "
                         "null" % (field[0].lower() + field[1:]))
    return v


def act_create(params, now, request_id):
    name = required_name(params)
    if len(name) > 128 or not STACK_NAME_RE.match(name):
        raise validation(
            "1 validation error detected: Value '%s' at 'stackName' failed "
            "to satisfy constraint: Member must satisfy regular expression "
            "pattern: [a-zA-Z][-a-zA-Z0-9]*|arn:[-a-zA-Z0-9:/._+]*"
            % name[:200] if len(name) <= 128 else
            "1 validation error detected: Value at 'stackName' failed to "
            "satisfy constraint: Member must have length less than or equal "
            "to 128")
    token = params.get("ClientRequestToken")
    if token is not None and (len(token) > 128 or not TOKEN_RE.match(token)):
        raise validation(
            "1 validation error detected: Value '%s' at 'clientRequestToken' "
            "failed to satisfy constraint: Member must satisfy regular "
            "expression pattern: [a-zA-Z0-9][-a-zA-Z0-9]*" % token[:130])
    body = params.get("TemplateBody")
    url = params.get("TemplateURL")
    if body is None and url is None:
        raise validation("Either Template URL or Template Body must be "
                         "specified.")
    if body is not None and url is not None:
        raise validation("Specify exactly one of TemplateBody or "
                         "TemplateUrl.")
    if body is not None and len(body.encode("utf-8")) > MAX_TEMPLATE_BODY:
        raise validation(
            "1 validation error detected: Value at 'templateBody' failed to "
            "satisfy constraint: Member must have length less than or equal "
            "to %d" % MAX_TEMPLATE_BODY)
    if body is not None and not body.strip():
        raise validation("1 validation error detected: Value at "
                         "'templateBody' failed to satisfy constraint: "
                         "Member must have length greater than or equal to 1")
    ps = indexed(params, "Parameters", ("ParameterKey", "ParameterValue",
                                        "UsePreviousValue",
                                        "ResolvedValue"))
    tags = indexed(params, "Tags", ("Key", "Value"))
    caps = [c[None] for c in indexed(params, "Capabilities", ())]
    if len(tags) > MAX_TAGS:
        raise validation(
            "1 validation error detected: Value at 'tags' failed to satisfy "
            "constraint: Member must have length less than or equal to %d"
            % MAX_TAGS)
    tag_list = []
    for t in tags:
        k, v = t.get("Key"), t.get("Value")
        if not k or v is None:
            raise validation("Tags: Key and Value are required")
        if len(k) > 128 or len(v) > 256:
            raise validation("Tags: Key is at most 128 and Value at most 256 "
                             "characters")
        if k.lower().startswith("aws:"):
            raise validation("Tag keys starting with 'aws:' are reserved")
        tag_list.append((k, v))
    if len({k for k, _ in tag_list}) != len(tag_list):
        raise validation("Duplicate tag keys are not allowed")
    plist = []
    for p in ps:
        if not p.get("ParameterKey"):
            raise validation("Parameters: ParameterKey is required")
        if p.get("UsePreviousValue", "false").lower() == "true":
            raise validation("UsePreviousValue cannot be used when creating "
                             "a stack")
        plist.append((p["ParameterKey"], p.get("ParameterValue", "")))
    for c in caps:
        if c not in CAPABILITIES:
            raise validation(
                "1 validation error detected: Value '[%s]' at 'capabilities' "
                "failed to satisfy constraint: Member must satisfy "
                "constraint: [Member must satisfy enum value set: [%s]]" % (
                    c, ", ".join(CAPABILITIES)))
    on_failure = params.get("OnFailure")
    disable = params.get("DisableRollback")
    if on_failure is not None and disable is not None:
        raise validation("You cannot specify both DisableRollback and "
                         "OnFailure.")
    if on_failure is not None and on_failure not in ("DO_NOTHING", "ROLLBACK",
                                                     "DELETE"):
        raise validation(
            "1 validation error detected: Value '%s' at 'onFailure' failed "
            "to satisfy constraint: Member must satisfy enum value set: "
            "[DO_NOTHING, ROLLBACK, DELETE]" % on_failure[:40])
    disable_rb = (disable or "false").lower() == "true"
    if on_failure is None:
        on_failure = "DO_NOTHING" if disable_rb else "ROLLBACK"
    timeout = params.get("TimeoutInMinutes")
    if timeout is not None:
        if not timeout.isdigit() or int(timeout) < 1:
            raise validation(
                "1 validation error detected: Value '%s' at "
                "'timeoutInMinutes' failed to satisfy constraint: Member "
                "must have value greater than or equal to 1" % timeout[:20])
        timeout = int(timeout)
    role = params.get("RoleARN")
    if role is not None and not role.startswith("arn:"):
        raise validation("1 validation error detected: Value '%s' at "
                         "'roleARN' failed to satisfy constraint: Member "
                         "must have length greater than or equal to 20"
                         % role[:80])

    info = parse_template(body) if body is not None else None
    if info is not None:
        declared = dict(info["parameters"])
        given = dict(plist)
        if declared or given:
            unknown = [k for k in given if k not in declared]
            if unknown:
                raise validation("Parameters: [%s] do not exist in the "
                                 "template" % ", ".join(unknown))
            missing = [k for k, p in info["parameters"]
                       if p["default"] is None and k not in given]
            if missing:
                raise validation("Parameters: [%s] must have values" %
                                 ", ".join(missing))
        need = []
        iam = [rt for _, rt in info["resources"]
               if rt.startswith("AWS::IAM::")]
        if iam and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(caps):
            need.append("CAPABILITY_IAM")
        if info["transform"] and "CAPABILITY_AUTO_EXPAND" not in caps:
            need.append("CAPABILITY_AUTO_EXPAND")
        if need:
            raise ApiError(400, "InsufficientCapabilitiesException",
                           "Requires capabilities : [%s]" % ", ".join(need))

    with STATE.lock:
        live = STATE.live_by_name(name, now)
        if live is not None:
            if token is not None and live["token"] == token:
                return el("StackId", live["id"])
            raise ApiError(400, "AlreadyExistsException",
                           "Stack [%s] already exists" % name)
        if token is not None and token in STATE.tokens:
            prev = STATE.find(STATE.tokens[token], now)
            if prev is not None and prev["name"] == name:
                # The same request again after the stack has gone: the
                # token names that (finished) request.
                return el("StackId", prev["id"])
            raise ApiError(400, "TokenAlreadyExistsException",
                           "Another CreateStack request with the same "
                           "ClientRequestToken already exists")
        nlive = len(STATE.live_stacks(now))
        if nlive >= int(STATE.config["max_stacks"]):
            raise ApiError(400, "LimitExceededException",
                           "Limit on the number of stacks has been exceeded "
                           "(%d)" % int(STATE.config["max_stacks"]))
        stack = STATE.new_stack(name, now, token, body or "", info, plist,
                                tag_list, caps, on_failure, role, timeout,
                                disable_rb)
        STATE.plan_create(stack, now, name in STATE.config["fail_create"])
        STATE.add(stack)
        if token is not None:
            STATE.tokens[token] = stack["id"]
        STATE.save(stack, token)
        return el("StackId", stack["id"])


DESCRIBE_PAGE = 100


def act_describe(params, now, request_id):
    name = params.get("StackName")
    with STATE.lock:
        if name:
            s = STATE.find(name, now)
            if s is None:
                raise validation("Stack with id %s does not exist" % name)
            found = [s]
        else:
            found = list(reversed(list(STATE.live_stacks(now))))
        # Without a name AWS answers in pages (of 100 here) with a
        # NextToken; one answer of 10,000 stacks would pass 4 MiB.
        tok = params.get("NextToken") or "0"
        start = int(tok) if tok.isdigit() else 0
        page = found[start:start + DESCRIBE_PAGE]
        more = "" if start + DESCRIBE_PAGE >= len(found) else \
            el("NextToken", str(start + DESCRIBE_PAGE))
        return members("Stacks", [stack_xml(s, now) for s in page]) + more


def act_delete(params, now, request_id):
    name = required_name(params)
    token = params.get("ClientRequestToken")
    if token is not None and (len(token) > 128 or not TOKEN_RE.match(token)):
        raise validation("1 validation error detected: Value '%s' at "
                         "'clientRequestToken' failed to satisfy constraint"
                         % token[:130])
    with STATE.lock:
        s = STATE.find(name, now)
        if s is None:
            return None  # AWS: deleting what is not there succeeds
        status = STATE.status(s, now)
        if status in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
            return None
        STATE.plan_delete(s, now, s["name"] in STATE.config["fail_delete"])
        STATE.planned(s)
        STATE.save(s)
        return None


def act_events(params, now, request_id):
    name = required_name(params)
    with STATE.lock:
        s = STATE.find(name, now)
        if s is None:
            raise validation("Stack [%s] does not exist" % name)
        evs = []
        for entry in s["timeline"]:
            if entry["t"] <= now:
                evs.extend(entry["events"])
        evs.reverse()  # newest first, as AWS
        items = []
        for e in evs:
            items.append(
                el("StackId", s["id"]) + el("EventId", e["id"]) +
                el("StackName", s["name"]) +
                el("LogicalResourceId", e["logical"]) +
                el("PhysicalResourceId", e["physical"] or "") +
                el("ResourceType", e["type"]) +
                el("Timestamp", iso(e["t"])) +
                el("ResourceStatus", e["status"]) +
                el("ResourceStatusReason", e["reason"]) +
                el("ClientRequestToken", s["token"]))
        return members("StackEvents", items)


def act_list(params, now, request_id):
    filt = [f[None] for f in indexed(params, "StackStatusFilter", ())]
    for f in filt:
        if f not in STATUSES:
            raise validation(
                "1 validation error detected: Value '[%s]' at "
                "'stackStatusFilter' failed to satisfy constraint: Member "
                "must satisfy constraint: [Member must satisfy enum value "
                "set: [%s]]" % (f[:40], ", ".join(STATUSES)))
    with STATE.lock:
        items = []
        for s in reversed(STATE.stacks):
            entry = STATE.now_entry(s, now)
            if filt and entry["status"] not in filt:
                continue
            x = el("StackId", s["id"]) + el("StackName", s["name"]) + \
                el("TemplateDescription", s["description"]) + \
                el("CreationTime", iso(s["created"]))
            if s["deleted_at"] and s["deleted_at"] <= now:
                x += el("DeletionTime", iso(s["deleted_at"]))
            if s["last_updated"] and s["last_updated"] <= now:
                x += el("LastUpdatedTime", iso(s["last_updated"]))
            x += el("StackStatus", entry["status"]) + \
                el("StackStatusReason", entry["reason"]) + \
                "<DriftInformation>%s</DriftInformation>" % el(
                    "StackDriftStatus", "NOT_CHECKED")
            items.append(x)
        return members("StackSummaries", items)


def stack_resources(stack, now):
    """The stack's resources as they are at now: [{logical_id,
    physical_id (None until created), type, status, reason, timestamp,
    properties}] in template order. Properties are the template's scalar
    ones with Ref resolved (a parameter's value, another resource's
    physical id, AWS::Region, AWS::StackName)."""
    latest = {}
    for entry in stack["timeline"]:
        if entry["t"] > now:
            break
        for e in entry["events"]:
            if e["type"] == "AWS::CloudFormation::Stack":
                continue
            prev = latest.get(e["logical"], {})
            latest[e["logical"]] = dict(
                e, physical=e["physical"] or prev.get("physical"))
    res = [(lid, rt) for lid, rt in STATE._resources(stack)
           if lid in latest]
    physical = {lid: latest[lid]["physical"] for lid, _ in res}
    params = {p[0]: p[1] for p in stack["parameters"]}
    pseudo = {"AWS::Region": STATE.args.region,
              "AWS::StackName": stack["name"], "AWS::StackId": stack["id"],
              "AWS::AccountId": ACCOUNT}
    out = []
    for lid, rt in res:
        props = {}
        for k, v in (stack.get("resource_props") or {}).get(lid, {}).items():
            if isinstance(v, dict):
                ref = v["Ref"]
                v = params.get(ref, physical.get(ref, pseudo.get(ref)))
            if v is not None:
                props[k] = str(v)
        e = latest[lid]
        out.append({"logical_id": lid, "physical_id": e["physical"],
                    "type": rt, "status": e["status"],
                    "reason": e["reason"], "timestamp": iso(e["t"]),
                    "properties": props})
    return out


def act_resources(params, now, request_id):
    name = params.get("StackName")
    phys = params.get("PhysicalResourceId")
    logical = params.get("LogicalResourceId")
    if not name and not phys:
        raise validation("Either StackName or PhysicalResourceId must be "
                         "specified.")
    if name and phys:
        raise validation("Specify either StackName or PhysicalResourceId, "
                         "not both.")
    with STATE.lock:
        if name:
            s = STATE.find(name, now)
            if s is None:
                raise validation("Stack with id %s does not exist" % name)
        else:
            s = next((st for st in reversed(STATE.stacks)
                      if any(r["physical_id"] == phys
                             for r in stack_resources(st, now))), None)
            if s is None:
                raise validation("Stack for %s does not exist" % phys)
        items = []
        for r in stack_resources(s, now):
            if logical and r["logical_id"] != logical:
                continue
            items.append(
                el("StackId", s["id"]) + el("StackName", s["name"]) +
                el("LogicalResourceId", r["logical_id"]) +
                el("PhysicalResourceId", r["physical_id"]) +
                el("ResourceType", r["type"]) +
                el("Timestamp", r["timestamp"]) +
                el("ResourceStatus", r["status"]) +
                el("ResourceStatusReason", r["reason"]) +
                "<DriftInformation>%s</DriftInformation>" % el(
                    "StackResourceDriftStatus", "NOT_CHECKED"))
        return members("StackResources", items)


DISPATCH = {"CreateStack": act_create, "DescribeStacks": act_describe,
            "DeleteStack": act_delete, "DescribeStackEvents": act_events,
            "ListStacks": act_list, "DescribeStackResources": act_resources}


# ---------------------------------------------------------------- HTTP
class Handler(fakeaws.ApiHandler):
    server_version = "fake-cfn/1"
    LOG_NAME = "fake_cfn"
    ACTIONS = ACTIONS
    THROTTLE_CODES = THROTTLE_CODES
    SERVICE = "cloudformation"
    CONTENT_TYPE = "text/xml"
    DOWN = (503, "ServiceUnavailable", "Service is unavailable")
    THROTTLED = (400, "Rate exceeded")
    FAILED = (500, "InternalFailure",
              "The request processing has failed because of an unknown "
              "error, exception or failure.")

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    # -- the Query API ---------------------------------------------------
    def api(self, body):
        self.counted = None
        try:
            return super().api(body)
        finally:
            if self.counted is not None:
                with STATE.lock:
                    STATE.leave(self.counted)

    def parse(self, body):
        params = self.query_params(body)
        with STATE.lock:
            stack_name = STATE.stack_name_of(params.get("StackName"))
            self.counted = params.get("Action") or "-"
            STATE.enter(self.counted)
        self.unavailable = stack_name in STATE.config["unavailable_stacks"]
        return params, params.get("Action"), stack_name

    def refuse(self, params, action):
        if self.command not in ("GET", "POST"):
            return ApiError(405, "InvalidAction",
                            "Use POST (or GET) for the Query API")
        if not action:
            return ApiError(400, "MissingAction",
                            "Could not find operation  for version "
                            "2010-05-15")
        version = params.get("Version")
        if version is None:
            return ApiError(400, "MissingParameter",
                            "The request must contain the parameter Version")
        if action not in ACTIONS or version != "2010-05-15":
            return ApiError(400, "InvalidAction",
                            "Could not find operation %s for version %s" % (
                                action[:60], version[:20]))
        return None

    def act(self, action, params, now, request_id):
        if self.unavailable:
            raise ApiError(*self.FAILED)
        return response(action, DISPATCH[action](params, now, request_id),
                        request_id)

    error_body = staticmethod(error_xml)

    # -- control API -----------------------------------------------------
    # JSON; no auth; never faulted.
    #   GET  /_fake/health                 {"ok": true, "region": ...}
    #   POST /_fake/config                 {create_delay, delete_delay,
    #        throttle_next, throttle_code, fail_next, slow_ms, down
    #        (true|"503"|"close"|false), fail_create: [names],
    #        fail_delete: [names], unavailable_stacks: [names] (every
    #        call about one answers 500), only_actions: [actions]|null,
    #        max_stacks, max_skew_seconds} -> the whole config
    #   GET  /_fake/config
    #   GET  /_fake/stacks[?name=N]        {"stacks": [...]}, oldest first
    #   GET  /_fake/resources[?physical_id=P&type=T]  {"resources": [...]}
    #   POST /_fake/stacks                 {name, tags, parameters, status,
    #        status_reason, outputs, age_seconds} -> the stack
    #   GET  /_fake/calls                  counts (see State.count), and
    #        max_in_flight {action: most requests answered at once}
    #   POST /_fake/calls                  starts max_in_flight again
    #   POST /_fake/credentials            {access_key_id, secret_access_key,
    #        session_token} adds a key; {access_key_id, remove: true}
    #   POST /_fake/reset                  {"keep_stacks": false}
    def control_get(self, name):
        now = time.time()
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.path).query))
        if name == "stacks":
            return 200, {"stacks": [
                stack_json(s, now) for s in
                (STATE.by_name.get(q["name"], ()) if "name" in q
                 else STATE.stacks)]}
        if name == "resources":
            return 200, {"resources": resources_json(now, q)}
        return None

    def control_post(self, name, req):
        if name == "calls":
            STATE.calls["max_in_flight"] = {}
            return 200, json.loads(json.dumps(STATE.calls))
        if name == "stacks":
            return 200, make_orphan(req, time.time())
        if name == "credentials":
            ak = req["access_key_id"]
            if req.get("remove"):
                STATE.creds.pop(ak, None)
            else:
                STATE.creds[ak] = {"secret": req["secret_access_key"],
                                   "token": req.get("session_token")}
            return 200, {"access_key_ids": sorted(STATE.creds)}
        return None

    def own_setting(self, cfg, key, value):
        if key in ("create_delay", "delete_delay"):
            cfg[key] = fakeaws.number_setting(key, value)
        elif key == "max_stacks":
            cfg[key] = fakeaws.count_setting(key, value)
        elif key in ("fail_create", "fail_delete", "unavailable_stacks"):
            if not isinstance(value, list) or \
                    not all(isinstance(x, str) for x in value):
                raise ValueError("%s must be a list of stack names" % key)
            cfg[key] = list(value)
        else:
            return False
        return True


def stack_json(s, now):
    entry = STATE.now_entry(s, now)
    complete = s["complete_at"] is not None and s["complete_at"] <= now
    return {
        "stack_id": s["id"], "name": s["name"], "status": entry["status"],
        "status_reason": entry["reason"], "created": iso(s["created"]),
        "deleted": iso(s["deleted_at"]) if s["deleted_at"] and
        s["deleted_at"] <= now else None,
        "client_request_token": s["token"],
        "tags": {k: v for k, v in s["tags"]},
        "parameters": {p[0]: p[1] for p in s["parameters"]},
        "noecho_parameters": [p[0] for p in s["parameters"] if p[2]],
        "outputs": {k: v for k, v, _ in s["outputs"]} if complete else {},
        "capabilities": s["capabilities"], "on_failure": s["on_failure"],
        "role_arn": s["role_arn"], "timeout_in_minutes": s["timeout"],
        "template_size": s["template_size"],
        "description": s["description"],
        "counts": dict(s["counts"]),
    }


def resources_json(now, q):
    """Every stack's resources (what fake_ec2 reads), each with its
    stack's id, name and status; ?physical_id= and ?type= filter."""
    out = []
    for s in STATE.stacks:
        status = STATE.status(s, now)
        for r in stack_resources(s, now):
            if "physical_id" in q and r["physical_id"] != q["physical_id"]:
                continue
            if "type" in q and r["type"] != q["type"]:
                continue
            out.append(dict(r, stack_id=s["id"], stack_name=s["name"],
                            stack_status=status))
    return out


def make_orphan(req, now):
    """A stack that exists in the account but was not created through the
    API (e.g. left behind by a crash): created age_seconds ago and already
    in `status` (default CREATE_COMPLETE)."""
    name = req["name"]
    if not isinstance(name, str) or not STACK_NAME_RE.match(name):
        raise ValueError("name must be a valid stack name")
    if STATE.live_by_name(name, now) is not None:
        raise ValueError("a live stack named %s exists" % name)
    tags = req.get("tags") or {}
    if isinstance(tags, dict):
        tags = list(tags.items())
    else:
        tags = [(t["Key"], t["Value"]) for t in tags]
    params = list((req.get("parameters") or {}).items())
    outputs = req.get("outputs")
    status = req.get("status", "CREATE_COMPLETE")
    if status not in STATUSES:
        raise ValueError("unknown status %r" % status)
    created = now - float(req.get("age_seconds", 0))
    info = {"description": req.get("description"), "parameters": [],
            "resources": [], "outputs": [(k, None) for k in (outputs or {})]}
    stack = STATE.new_stack(name, created, req.get("client_request_token"),
                            "", info, params, tags)
    if outputs:
        stack["outputs"] = [[k, str(v), None] for k, v in outputs.items()]
    ev = [STATE._stack_event(stack, created, status,
                             req.get("status_reason"))]
    stack["timeline"] = [STATE._entry(created, status,
                                      req.get("status_reason"), ev)]
    if status in ("CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_FAILED",
                  "DELETE_IN_PROGRESS"):
        stack["complete_at"] = created
    if status == "DELETE_COMPLETE":
        stack["deleted_at"] = created
    STATE.add(stack)
    if stack["token"]:
        STATE.tokens[stack["token"]] = stack["id"]
    STATE.save(stack, stack["token"])
    return stack_json(stack, now)


def main(argv=None):
    global STATE
    p = fakeaws.arg_parser(__doc__)
    p.add_argument("--create-delay", type=float, default=2.0)
    p.add_argument("--delete-delay", type=float, default=2.0)
    p.add_argument("--state")
    args = p.parse_args(argv)

    server = fakehttp.make_server(args.port, Handler)
    STATE = Handler.state = State(args)
    return fakehttp.serve(server, "fake_cfn",
                          "region %s, key %s, %d stacks loaded" % (
                              args.region, args.access_key_id,
                              len(STATE.stacks)))


if __name__ == "__main__":
    sys.exit(main())
