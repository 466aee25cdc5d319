# sbx-test: no-stack
"""Self-test of tests/fakes/fake_ec2.py and of fake_cfn.py's
DescribeStackResources: starts both on free loopback ports (fake_ec2 reads
fake_cfn's stacks), and talks to them with botocore's own clients, so that
botocore signs the requests and parses the answers against AWS's service
models. Prints "N passed, M failed"."""

import json
import os
import secrets
import sys
import time

from botocore.exceptions import ClientError

from fakeaws import botocore_client, error_code, unanswered
from fakehttp import FakeProcess, check, summary

HERE = os.path.dirname(os.path.abspath(__file__))
AK = "AKIDSELFTESTEC2"
SK = "selftest/" + secrets.token_hex(12)
REGION = "us-east-1"

TEMPLATE = json.dumps({
    "Parameters": {"InstanceType": {"Type": "String",
                                    "Default": "t3.small"}},
    "Resources": {
        "Web": {"Type": "AWS::EC2::Instance",
                "Properties": {"InstanceType": {"Ref": "InstanceType"},
                               "ImageId": "ami-12345678"}},
        "Data": {"Type": "AWS::EC2::Volume",
                 "Properties": {"VolumeType": "gp3", "Size": 20,
                                "AvailabilityZone": "us-east-1a"}},
        "Bucket": {"Type": "AWS::S3::Bucket"}}})


def client(service, fake, sk=SK, ak=AK, region=REGION):
    return botocore_client(service, fake.base, ak, sk, region)


def wait_complete(cfn, name, want, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            s = cfn.describe_stacks(StackName=name)["Stacks"][0]
        except ClientError:
            s = {"StackStatus": "gone"}
        if s["StackStatus"] == want:
            return True
        time.sleep(0.1)
    return False


def main():
    cfn_fake = FakeProcess(os.path.join(HERE, "fake_cfn.py"),
                           "--access-key-id", AK, "--secret-access-key", SK,
                           "--region", REGION, "--create-delay", "0.3",
                           "--delete-delay", "0.3")
    ec2_fake = FakeProcess(os.path.join(HERE, "fake_ec2.py"),
                           "--access-key-id", AK, "--secret-access-key", SK,
                           "--region", REGION, "--cfn-url", cfn_fake.base)
    try:
        run(cfn_fake, ec2_fake)
    except Exception as e:  # a crash is a failure, not a traceback only
        check("no exception", False, repr(e))
    rc, err = ec2_fake.stop()
    check("fake_ec2 exits 0 on SIGTERM", rc == 0, "rc=%r" % rc)
    check("fake_ec2's log has no secret", SK not in err)
    check("fake_ec2 logs one line per request",
          "fake_ec2: POST DescribeInstances" in err, err[-300:])
    cfn_fake.stop()
    return summary()


def run(cfn_fake, ec2_fake):
    cfn = client("cloudformation", cfn_fake)
    ec2 = client("ec2", ec2_fake)

    cfn.create_stack(StackName="ec2-one", TemplateBody=TEMPLATE)
    res = cfn.describe_stack_resources(StackName="ec2-one")["StackResources"]
    check("DescribeStackResources while creating: no physical ids yet",
          len(res) == 3 and all(r["ResourceStatus"] == "CREATE_IN_PROGRESS"
                                and "PhysicalResourceId" not in r
                                for r in res), res)
    check("stack created", wait_complete(cfn, "ec2-one", "CREATE_COMPLETE"))
    res = cfn.describe_stack_resources(StackName="ec2-one")["StackResources"]
    by = {r["LogicalResourceId"]: r for r in res}
    check("DescribeStackResources: types, CREATE_COMPLETE",
          {k: r["ResourceType"] for k, r in by.items()} == {
              "Web": "AWS::EC2::Instance", "Data": "AWS::EC2::Volume",
              "Bucket": "AWS::S3::Bucket"} and
          all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in res), res)
    iid = by["Web"]["PhysicalResourceId"]
    vid = by["Data"]["PhysicalResourceId"]
    check("physical ids in AWS's shapes", iid.startswith("i-") and
          vid.startswith("vol-") and
          by["Bucket"]["PhysicalResourceId"].startswith("ec2-one-bucket-"),
          (iid, vid))
    one = cfn.describe_stack_resources(StackName="ec2-one",
                                       LogicalResourceId="Data")
    check("LogicalResourceId filters", [r["LogicalResourceId"] for r in
                                        one["StackResources"]] == ["Data"])
    byphys = cfn.describe_stack_resources(PhysicalResourceId=iid)
    check("by PhysicalResourceId: the whole stack",
          len(byphys["StackResources"]) == 3)
    check("unknown stack: ValidationError",
          error_code(lambda: cfn.describe_stack_resources(
              StackName="nope")) == "ValidationError")

    r = ec2.describe_instances(InstanceIds=[iid])
    inst = r["Reservations"][0]["Instances"][0]
    check("DescribeInstances: the template's parameter default as type",
          inst["InstanceType"] == "t3.small" and
          inst["State"]["Name"] == "running" and
          inst["Placement"]["Tenancy"] == "default" and
          "Platform" not in inst, inst)
    root = inst["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    vols = {v["VolumeId"]: v for v in ec2.describe_volumes(
        VolumeIds=[root, vid])["Volumes"]}
    check("DescribeVolumes: root volume gp3 8 GiB, attached",
          vols[root]["VolumeType"] == "gp3" and vols[root]["Size"] == 8 and
          vols[root]["Attachments"][0]["InstanceId"] == iid, vols.get(root))
    check("DescribeVolumes: the stack's volume from its properties",
          vols[vid]["VolumeType"] == "gp3" and vols[vid]["Size"] == 20 and
          vols[vid]["State"] == "available", vols.get(vid))

    cfn.create_stack(StackName="ec2-two", TemplateBody=TEMPLATE,
                     Parameters=[{"ParameterKey": "InstanceType",
                                  "ParameterValue": "m5.large"}])
    wait_complete(cfn, "ec2-two", "CREATE_COMPLETE")
    iid2 = cfn.describe_stack_resources(
        StackName="ec2-two", LogicalResourceId="Web")[
            "StackResources"][0]["PhysicalResourceId"]
    r = ec2.describe_instances(InstanceIds=[iid2])
    check("a parameter's value chooses the type",
          r["Reservations"][0]["Instances"][0]["InstanceType"] == "m5.large")
    alli = ec2.describe_instances()["Reservations"]
    check("DescribeInstances without ids: all", len(alli) == 2)
    pages = ec2.describe_volumes(MaxResults=5)
    check("DescribeVolumes pages with MaxResults (4 volumes, one page)",
          len(pages["Volumes"]) == 4 and "NextToken" not in pages)

    check("unknown instance: InvalidInstanceID.NotFound",
          error_code(lambda: ec2.describe_instances(
              InstanceIds=["i-0123456789abcdef0"])) ==
          "InvalidInstanceID.NotFound")
    check("malformed instance id: InvalidInstanceID.Malformed",
          error_code(lambda: ec2.describe_instances(
              InstanceIds=["x-1"])) == "InvalidInstanceID.Malformed")
    check("unknown volume: InvalidVolume.NotFound",
          error_code(lambda: ec2.describe_volumes(
              VolumeIds=["vol-0123456789abcdef0"])) ==
          "InvalidVolume.NotFound")

    st, _ = ec2_fake.ctl("instances", {"instance_id": iid,
                                       "instance_type": "x9.mega"})
    r = ec2.describe_instances(InstanceIds=[iid])
    check("an override changes an instance's type", st == 200 and
          r["Reservations"][0]["Instances"][0]["InstanceType"] == "x9.mega")
    ec2_fake.ctl("instances", {"instance_id": iid, "remove": True})

    # Signatures.
    check("wrong secret: 403 SignatureDoesNotMatch",
          error_code(lambda: client("ec2", ec2_fake, sk="wrong")
                  .describe_instances()) == "SignatureDoesNotMatch")
    check("unknown key: AuthFailure",
          error_code(lambda: client("ec2", ec2_fake, ak="AKIDUNKNOWN")
                  .describe_instances()) == "AuthFailure")
    check("signed for another region: refused",
          error_code(lambda: client("ec2", ec2_fake, region="eu-west-1")
                  .describe_instances()) == "SignatureDoesNotMatch")

    # Faults.
    ec2_fake.ctl("config", {"throttle_next": 1})
    check("throttle_next: RequestLimitExceeded, then OK",
          error_code(lambda: ec2.describe_instances()) == "RequestLimitExceeded"
          and error_code(lambda: ec2.describe_instances()) == "")
    ec2_fake.ctl("config", {"fail_next": 1})
    check("fail_next: 500 InternalError",
          error_code(lambda: ec2.describe_volumes()) == "InternalError")
    ec2_fake.ctl("config", {"down": True})
    check("down: 503 Unavailable",
          error_code(lambda: ec2.describe_volumes()) == "Unavailable")
    ec2_fake.ctl("config", {"down": "close"})
    check("down close: no answer", unanswered(lambda: ec2.describe_volumes()))
    ec2_fake.ctl("config", {"down": False, "slow_ms": 300,
                            "only_actions": ["DescribeVolumes"]})
    t0 = time.time()
    ec2.describe_instances()
    t1 = time.time()
    ec2.describe_volumes()
    t2 = time.time()
    check("slow_ms, only for only_actions", t1 - t0 < 0.3 and
          t2 - t1 >= 0.3, (t1 - t0, t2 - t1))
    ec2_fake.ctl("reset")
    st, calls = ec2_fake.ctl("calls", method="GET")
    check("reset clears the calls", st == 200 and calls["actions"] == {})
    ec2.describe_instances(InstanceIds=[iid])
    st, calls = ec2_fake.ctl("calls", method="GET")
    check("calls count DescribeInstances with the ids",
          calls["actions_ok"] == {"DescribeInstances": 1} and
          calls["recent"][-1]["detail"] == iid, calls)

    # Deleting the stack terminates its instance; volumes are gone.
    cfn.delete_stack(StackName="ec2-one")
    wait_complete(cfn, "ec2-one", "gone")
    r = ec2.describe_instances(InstanceIds=[iid])
    check("after DeleteStack: the instance is terminated",
          r["Reservations"][0]["Instances"][0]["State"]["Name"] ==
          "terminated")
    check("after DeleteStack: its volumes are gone",
          error_code(lambda: ec2.describe_volumes(VolumeIds=[vid])) ==
          "InvalidVolume.NotFound")
    sid = byphys["StackResources"][0]["StackId"]
    res = cfn.describe_stack_resources(StackName=sid)["StackResources"]
    check("a deleted stack's resources by StackId: DELETE_COMPLETE, ids kept",
          all(r["ResourceStatus"] == "DELETE_COMPLETE" for r in res) and
          {r["PhysicalResourceId"] for r in res} >= {iid, vid}, res)

    cfn_fake.stop()
    check("the local CloudFormation gone: 503 Unavailable",
          error_code(lambda: ec2.describe_instances()) == "Unavailable")


if __name__ == "__main__":
    sys.exit(main())
