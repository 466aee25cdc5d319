# sbx-test: no-stack
"""Self-test of tests/fakes/fake_cfn.py: starts it on a free loopback port,
signs requests with botocore's SigV4Auth and exercises the stack lifecycle,
idempotency, errors, signature checks and fault injection. Prints
"N passed, M failed"."""

import json
import os
import secrets
import sys
import tempfile
import time
import urllib.parse
import xml.etree.ElementTree as ET

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fakehttp import FakeProcess, check, http, summary

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_cfn.py")
AK = "AKIDSELFTEST"
SK = "selftest/" + secrets.token_hex(12)
NS = "{http://cloudformation.amazonaws.com/doc/2010-05-15/}"
REGION = "eu-west-2"


# The checks read the IN_PROGRESS states right after a call: the delays
# leave a busy machine (make -j2 check beside a build) time to get there
# first. 0.3 s was too short under load (CREATE_COMPLETE was seen at once).
def start(*extra):
    return FakeProcess(FAKE, "--access-key-id", AK, "--secret-access-key", SK,
                       "--region", REGION, "--create-delay", "1.5",
                       "--delete-delay", "1.5", *extra)


def post_xml(fake, body, headers):
    """POSTs a signed Query API request; returns (status, root element)."""
    st, _, b = http("POST", fake.base + "/", body=body, headers=headers)
    return st, ET.fromstring(b)


def call(fake, action, params=None, ak=AK, sk=SK, token=None,
         region=REGION, tamper=None):
    """Signs with botocore and sends; returns (status, root element)."""
    form = {"Action": action, "Version": "2010-05-15"}
    form.update(params or {})
    body = urllib.parse.urlencode(form).encode()
    req = AWSRequest(method="POST", url=fake.base + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(ak, sk, token), "cloudformation", region).add_auth(
        req)
    headers = dict(req.headers.items())
    if tamper:
        body, headers = tamper(body, headers)
    return post_xml(fake, body, headers)


def call_at(fake, when):
    """ListStacks signed by botocore as if at time `when`."""
    body = b"Action=ListStacks&Version=2010-05-15"
    req = AWSRequest(method="POST", url=fake.base + "/", data=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    signer = SigV4Auth(Credentials(AK, SK), "cloudformation", REGION)
    req.context["timestamp"] = time.strftime("%Y%m%dT%H%M%SZ",
                                             time.gmtime(when))
    signer._modify_request_before_signing(req)
    sts = signer.string_to_sign(req, signer.canonical_request(req))
    signer._inject_signature_to_request(req, signer.signature(sts, req))
    return post_xml(fake, body, dict(req.headers.items()))


def text(root, path):
    e = root.find(path)
    return e.text if e is not None else None


def find(root, *names):
    path = "/".join(NS + n for n in names)
    return root.find(".//" + path)


def findall(root, *names):
    path = "/".join(NS + n for n in names)
    return root.findall(".//" + path)


def err_code(root):
    e = find(root, "Error", "Code")
    return e.text if e is not None else None


def status_of(fake, name):
    st, root = call(fake, "DescribeStacks", {"StackName": name})
    e = find(root, "StackStatus")
    return st, (e.text if e is not None else err_code(root)), root


def wait_status(fake, name, want, timeout=10):
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        _, seen, root = status_of(fake, name)
        if seen == want:
            return root
        time.sleep(0.05)
    raise AssertionError("%s: waited for %s, last %s" % (name, want, seen))


TEMPLATE_YAML = """AWSTemplateFormatVersion: '2010-09-09'
Description: >
  Selftest sandbox
Parameters:
  InstanceType:
    Type: String
    Default: t3.micro
  Password:
    Type: String
    NoEcho: true
Resources:
  Instance:
    Type: AWS::EC2::Instance
    Properties:
      InstanceType: !Ref InstanceType
Outputs:
  InstanceId:
    Value: !Ref Instance
  PublicIp:
    Description: The address
    Value: !GetAtt Instance.PublicIp
  WebUrl:
    Value: !Sub "http://${Instance.PublicDnsName}/"
"""


def create_params(name, token=None, **extra):
    p = {"StackName": name, "TemplateBody": TEMPLATE_YAML,
         "Parameters.member.1.ParameterKey": "Password",
         "Parameters.member.1.ParameterValue": "s3cret-value",
         "Tags.member.1.Key": "sbx:sandbox-id",
         "Tags.member.1.Value": token or "none",
         "Tags.member.2.Key": "Environment",
         "Tags.member.2.Value": "Sandbox",
         "OnFailure": "ROLLBACK"}
    if token:
        p["ClientRequestToken"] = token
    p.update(extra)
    return p


def main():
    state = tempfile.mktemp(prefix="fake-cfn-state-", suffix=".json")
    fake = start("--state", state)
    try:
        run(fake)
    except Exception as e:
        import traceback
        traceback.print_exc()
        check("no exception", False, repr(e))
    rc, err = fake.stop()
    check("exits 0 on SIGTERM", rc == 0, "rc=%r" % rc)
    check("log has no secret or parameter value", SK not in err
          and "s3cret-value" not in err and "sess-tok" not in err, err[-500:])
    check("log has one line per request",
          "fake_cfn: POST CreateStack sbx-one 200" in err, err[-300:])

    fake2 = start("--state", state)
    try:
        st, s = fake2.ctl("stacks?name=sbx-kept", method="GET")
        check("--state keeps stacks across restarts", st == 200
              and len(s["stacks"]) == 1
              and s["stacks"][0]["status"] == "CREATE_COMPLETE", s)
    finally:
        fake2.stop()
        os.unlink(state)
    return summary()


def run(fake):
    tok = "b5a0b1f2-0000-4000-8000-000000000001"
    st, root = call(fake, "CreateStack", create_params("sbx-one", tok))
    sid = text(root, ".//%sStackId" % NS)
    check("CreateStack answers a StackId", st == 200 and sid and sid.startswith(
        "arn:aws:cloudformation:%s:123456789012:stack/sbx-one/" % REGION)
        and root.tag == NS + "CreateStackResponse"
        and find(root, "ResponseMetadata", "RequestId") is not None,
        "%s %s" % (st, ET.tostring(root)[:300]))
    st, s, root = status_of(fake, "sbx-one")
    check("CREATE_IN_PROGRESS at first, no outputs yet",
          s == "CREATE_IN_PROGRESS" and find(root, "Outputs") is None, s)
    st, root2 = call(fake, "CreateStack", create_params("sbx-one", tok))
    check("same ClientRequestToken: same StackId", st == 200 and
          text(root2, ".//%sStackId" % NS) == sid)
    st, root2 = call(fake, "CreateStack", create_params("sbx-one", "other-1"))
    check("another token: AlreadyExistsException", st == 400 and
          err_code(root2) == "AlreadyExistsException"
          and root2.tag == NS + "ErrorResponse"
          and find(root2, "Error", "Type").text == "Sender"
          and root2.find(NS + "RequestId") is not None,
          ET.tostring(root2)[:300])
    st, root2 = call(fake, "CreateStack", create_params("sbx-two", tok))
    check("a token reused for another name: TokenAlreadyExistsException",
          st == 400 and err_code(root2) == "TokenAlreadyExistsException")

    root = wait_status(fake, "sbx-one", "CREATE_COMPLETE")
    outs = {m.find(NS + "OutputKey").text: m.find(NS + "OutputValue").text
            for m in findall(root, "Outputs", "member")}
    check("CREATE_COMPLETE with template outputs",
          set(outs) == {"InstanceId", "PublicIp", "WebUrl"}
          and outs["InstanceId"].startswith("i-")
          and outs["PublicIp"].startswith("203.0.113."), outs)
    params = {m.find(NS + "ParameterKey").text:
              m.find(NS + "ParameterValue").text
              for m in findall(root, "Parameters", "member")}
    check("parameters with defaults, NoEcho masked",
          params == {"InstanceType": "t3.micro", "Password": "****"}, params)
    tags = {m.find(NS + "Key").text: m.find(NS + "Value").text
            for m in findall(root, "Tags", "member")}
    check("tags returned", tags == {"sbx:sandbox-id": tok,
                                    "Environment": "Sandbox"}, tags)
    check("description from the template",
          text(root, ".//%sDescription" % NS) == "Selftest sandbox")
    st, root = call(fake, "DescribeStacks", {"StackName": sid})
    check("DescribeStacks by StackId", st == 200 and
          find(root, "StackStatus").text == "CREATE_COMPLETE")

    st, root = call(fake, "DeleteStack", {"StackName": "sbx-one"})
    check("DeleteStack: empty result", st == 200 and
          root.tag == NS + "DeleteStackResponse" and
          root.find(NS + "DeleteStackResult") is None)
    _, s, _ = status_of(fake, "sbx-one")
    check("DELETE_IN_PROGRESS", s == "DELETE_IN_PROGRESS", s)
    st, root = call(fake, "CreateStack", create_params("sbx-one", "tok-3"))
    check("name still taken while deleting", st == 400 and
          err_code(root) == "AlreadyExistsException")
    deadline = time.time() + 10
    while time.time() < deadline:
        st, s, root = status_of(fake, "sbx-one")
        if st != 200:
            break
        time.sleep(0.05)
    msg = find(root, "Error", "Message")
    check("deleted stack by name: ValidationError does not exist",
          st == 400 and s == "ValidationError" and msg is not None and
          msg.text == "Stack with id sbx-one does not exist",
          ET.tostring(root)[:300])
    st, root = call(fake, "DescribeStacks", {"StackName": sid})
    check("deleted stack by StackId: DELETE_COMPLETE", st == 200 and
          find(root, "StackStatus").text == "DELETE_COMPLETE"
          and find(root, "DeletionTime") is not None)
    st, root = call(fake, "DeleteStack", {"StackName": "sbx-never-was"})
    check("DeleteStack of an unknown name succeeds", st == 200)
    st, root = call(fake, "DeleteStack", {"StackName": sid})
    check("DeleteStack of a deleted StackId succeeds", st == 200)
    st, root = call(fake, "CreateStack", create_params("sbx-one", tok))
    check("same token after the stack is gone: the same (deleted) StackId",
          st == 200 and text(root, ".//%sStackId" % NS) == sid)
    st, root = call(fake, "CreateStack", create_params("sbx-one", "tok-4"))
    sid2 = text(root, ".//%sStackId" % NS)
    check("a deleted name can be reused", st == 200 and sid2 and sid2 != sid)

    st, root = call(fake, "DescribeStackEvents", {"StackName": sid})
    evs = [(m.find(NS + "LogicalResourceId").text,
            m.find(NS + "ResourceStatus").text)
           for m in findall(root, "StackEvents", "member")]
    check("DescribeStackEvents newest first", st == 200 and
          evs[0] == ("sbx-one", "DELETE_COMPLETE") and
          evs[-1] == ("sbx-one", "CREATE_IN_PROGRESS") and
          ("Instance", "CREATE_COMPLETE") in evs, evs)

    # validation
    st, root = call(fake, "CreateStack", create_params(
        "sbx-big", TemplateBody="{\"Resources\": {}, \"x\": \"%s\"}" %
        ("a" * 51200)))
    check("TemplateBody over 51200 bytes: ValidationError", st == 400 and
          err_code(root) == "ValidationError")
    st, root = call(fake, "CreateStack", create_params("9bad"))
    check("bad stack name: ValidationError", st == 400 and
          err_code(root) == "ValidationError")
    p = create_params("sbx-tags")
    for i in range(3, 52):
        p["Tags.member.%d.Key" % i] = "k%d" % i
        p["Tags.member.%d.Value" % i] = "v"
    st, root = call(fake, "CreateStack", p)
    check("51 tags: ValidationError", st == 400 and
          err_code(root) == "ValidationError")
    st, root = call(fake, "CreateStack", create_params(
        "sbx-p", **{"Parameters.member.2.ParameterKey": "Nope",
                    "Parameters.member.2.ParameterValue": "x"}))
    check("undeclared parameter: ValidationError", st == 400 and
          "do not exist" in (find(root, "Error", "Message").text or ""))
    p = create_params("sbx-p")
    del p["Parameters.member.1.ParameterKey"]
    del p["Parameters.member.1.ParameterValue"]
    st, root = call(fake, "CreateStack", p)
    check("missing parameter: ValidationError", st == 400 and
          "must have values" in (find(root, "Error", "Message").text or ""))
    st, root = call(fake, "CreateStack", {
        "StackName": "sbx-iam", "TemplateBody": json.dumps({"Resources": {
            "R": {"Type": "AWS::IAM::Role"}}})})
    check("IAM without capability: InsufficientCapabilitiesException",
          st == 400 and err_code(root) == "InsufficientCapabilitiesException")
    st, root = call(fake, "CreateStack", {"StackName": "sbx-bad-json",
                                          "TemplateBody": "{nope"})
    check("malformed JSON template: ValidationError", st == 400 and
          err_code(root) == "ValidationError")
    st, root = call(fake, "DescribeStacks", {"StackName": "sbx-none"})
    check("unknown name: ValidationError", st == 400 and
          err_code(root) == "ValidationError")
    st, root = call(fake, "UpdateStack", {"StackName": "x"})
    check("other actions: InvalidAction", st == 400 and
          err_code(root) == "InvalidAction")

    # signatures
    st, root = call(fake, "ListStacks", sk=SK + "x")
    check("wrong secret: 403 SignatureDoesNotMatch", st == 403 and
          err_code(root) == "SignatureDoesNotMatch")
    st, root = call(fake, "ListStacks", ak="AKIDUNKNOWN")
    check("unknown key: 403 InvalidClientTokenId", st == 403 and
          err_code(root) == "InvalidClientTokenId")
    st, root = call(fake, "ListStacks", region="us-east-1")
    check("wrong region in scope: 403", st == 403 and
          err_code(root) == "SignatureDoesNotMatch")

    def tamper_body(body, headers):
        return body.replace(b"ListStacks", b"DescribeStacks"), headers
    st, root = call(fake, "ListStacks", tamper=tamper_body)
    check("body changed after signing: 403", st == 403 and
          err_code(root) == "SignatureDoesNotMatch")

    def no_auth(body, headers):
        headers.pop("Authorization")
        return body, headers
    st, root = call(fake, "ListStacks", tamper=no_auth)
    check("no Authorization: 403 MissingAuthenticationToken", st == 403 and
          err_code(root) == "MissingAuthenticationToken")

    st, root = call_at(fake, time.time() - 20 * 60)
    check("X-Amz-Date 20 min old: 403 Signature expired", st == 403 and
          err_code(root) == "SignatureDoesNotMatch" and "expired" in
          find(root, "Error", "Message").text)
    st, root = call_at(fake, time.time() - 60)
    check("X-Amz-Date 1 min old: accepted", st == 200)

    def bad_hash(body, headers):
        headers["X-Amz-Content-SHA256"] = "0" * 64
        return body, headers
    st, root = call(fake, "ListStacks", tamper=bad_hash)
    check("X-Amz-Content-SHA256 not the body's: 400", st == 400)

    st, root = call(fake, "ListStacks", token="sess-tok-123")
    check("X-Amz-Security-Token accepted", st == 200)
    fake.ctl("credentials", {"access_key_id": "ASIATEMP",
                             "secret_access_key": "tmp-secret",
                             "session_token": "sess-tok-456"})
    st1, _ = call(fake, "ListStacks", ak="ASIATEMP", sk="tmp-secret",
                  token="sess-tok-456")
    st2, root = call(fake, "ListStacks", ak="ASIATEMP", sk="tmp-secret",
                     token="sess-tok-999")
    check("added credentials with a required session token",
          st1 == 200 and st2 == 403)

    # fault injection
    fake.ctl("config", {"throttle_next": 2})
    r = [call(fake, "ListStacks") for _ in range(3)]
    check("throttle_next 2: two 400 Throttling then OK",
          [x[0] for x in r] == [400, 400, 200] and err_code(r[0][1]) ==
          "Throttling", [x[0] for x in r])
    fake.ctl("config", {"fail_next": 1})
    st, root = call(fake, "DescribeStacks")
    st2, _ = call(fake, "DescribeStacks")
    check("fail_next 1: 500 InternalFailure then OK", st == 500 and
          err_code(root) == "InternalFailure" and st2 == 200 and
          find(root, "Error", "Type").text == "Receiver")
    fake.ctl("config", {"down": True})
    st, root = call(fake, "ListStacks")
    fake.ctl("config", {"down": False})
    check("down: 503", st == 503, st)
    fake.ctl("config", {"fail_next": 1, "only_actions": ["DeleteStack"]})
    st1, _ = call(fake, "DescribeStacks")
    st2, _ = call(fake, "DeleteStack", {"StackName": "sbx-x"})
    fake.ctl("config", {"only_actions": None})
    check("only_actions limits faults", st1 == 200 and st2 == 500)
    fake.ctl("config", {"slow_ms": 200})
    t0 = time.time()
    call(fake, "ListStacks")
    fake.ctl("config", {"slow_ms": 0})
    check("slow_ms", time.time() - t0 >= 0.2)

    fake.ctl("config", {"fail_create": ["sbx-fails"],
                        "fail_delete": ["sbx-stuck"]})
    call(fake, "CreateStack", create_params("sbx-fails", "tok-f"))
    seen = []
    deadline = time.time() + 10
    while time.time() < deadline:
        _, s, root = status_of(fake, "sbx-fails")
        if not seen or seen[-1] != s:
            seen.append(s)
        if s == "ROLLBACK_COMPLETE":
            break
        time.sleep(0.02)
    reason = find(root, "StackStatusReason")
    check("fail_create: CREATE_IN_PROGRESS, ROLLBACK_IN_PROGRESS, "
          "ROLLBACK_COMPLETE with a reason",
          seen == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS",
                   "ROLLBACK_COMPLETE"] and reason is not None and
          "failed to create" in reason.text, "%s" % seen)
    call(fake, "CreateStack", create_params("sbx-stuck", "tok-s"))
    wait_status(fake, "sbx-stuck", "CREATE_COMPLETE")
    call(fake, "DeleteStack", {"StackName": "sbx-stuck"})
    root = wait_status(fake, "sbx-stuck", "DELETE_FAILED")
    check("fail_delete: DELETE_FAILED with a reason",
          "failed to delete" in find(root, "StackStatusReason").text)
    fake.ctl("config", {"fail_delete": []})
    call(fake, "DeleteStack", {"StackName": "sbx-stuck"})
    st, s, _ = status_of(fake, "sbx-stuck")
    check("DELETE_FAILED can be deleted again", s == "DELETE_IN_PROGRESS", s)

    st, root = call(fake, "ListStacks", {
        "StackStatusFilter.member.1": "ROLLBACK_COMPLETE",
        "StackStatusFilter.member.2": "DELETE_COMPLETE"})
    got = sorted((m.find(NS + "StackName").text,
                  m.find(NS + "StackStatus").text)
                 for m in findall(root, "StackSummaries", "member"))
    check("ListStacks with StackStatusFilter", st == 200 and
          ("sbx-fails", "ROLLBACK_COMPLETE") in got and
          ("sbx-one", "DELETE_COMPLETE") in got and
          all(s in ("ROLLBACK_COMPLETE", "DELETE_COMPLETE") for _, s in got),
          got)
    st, root = call(fake, "ListStacks", {
        "StackStatusFilter.member.1": "NOPE"})
    check("ListStacks with a bad filter: ValidationError", st == 400)

    # control API
    st, o = fake.ctl("stacks", {"name": "sbx-orphan",
                                "tags": {"sbx:sandbox-id": "x"},
                                "age_seconds": 3600})
    st2, s, _ = status_of(fake, "sbx-orphan")
    check("orphan stack via control", st == 200 and s == "CREATE_COMPLETE"
          and o["tags"] == {"sbx:sandbox-id": "x"})
    st, o = fake.ctl("stacks", {"name": "sbx-kept"})
    st, stacks = fake.ctl("stacks", method="GET")
    one = [x for x in stacks["stacks"] if x["name"] == "sbx-one"]
    check("GET /_fake/stacks includes deleted ones with raw parameters",
          len(one) == 2 and one[0]["status"] == "DELETE_COMPLETE" and
          one[0]["parameters"]["Password"] == "s3cret-value" and
          one[0]["noecho_parameters"] == ["Password"], one[:1])
    st, calls = fake.ctl("calls", method="GET")
    check("GET /_fake/calls counts per stack",
          calls["stacks"]["sbx-one"]["DeleteStack"] == 2
          and calls["stacks_ok"]["sbx-one"]["DeleteStack"] == 2
          and calls["stacks"]["sbx-one"]["CreateStack"] == 6
          and calls["stacks_ok"]["sbx-one"]["CreateStack"] == 4
          and calls["stacks"]["sbx-x"]["DeleteStack"] == 1
          and "sbx-x" not in calls["stacks_ok"]
          and calls["rejected"]["auth"] >= 6
          and calls["rejected"]["throttled"] == 2
          and calls["actions"]["ListStacks"] >= 5, json.dumps(calls)[:600])
    st, _ = fake.ctl("config", {"bogus": 1})
    check("unknown config refused", st == 400)
    st, _ = fake.ctl("reset", {"keep_stacks": True})
    st, calls = fake.ctl("calls", method="GET")
    st, stacks = fake.ctl("stacks", method="GET")
    check("reset keep_stacks", calls["actions"] == {} and
          len(stacks["stacks"]) > 3)


if __name__ == "__main__":
    sys.exit(main())
