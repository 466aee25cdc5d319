# sbx-test: no-stack
"""Self-test of tests/fakes/fake_pricing.py: starts it on a free loopback
port and talks to it with botocore's own pricing client (which signs the
requests and parses the answers against AWS's service model). Checks the
answers' shape (PriceList entries as JSON strings, OnDemand and Reserved
terms), the filters, paging, errors, signatures and faults. Prints
"N passed, M failed"."""

import json
import os
import secrets
import sys
import time

from fakeaws import botocore_client, error_code, unanswered
from fakehttp import FakeProcess, check, http, summary

HERE = os.path.dirname(os.path.abspath(__file__))
AK = "AKIDSELFTESTPRICE"
SK = "selftest/" + secrets.token_hex(12)
TABLE = json.load(open(os.path.join(HERE, "prices.json"), encoding="utf-8"))


def client(fake, sk=SK, ak=AK, region="us-east-1"):
    return botocore_client("pricing", fake.base, ak, sk, region)


def tm(field, value):
    return {"Type": "TERM_MATCH", "Field": field, "Value": value}


def ec2_filters(itype, os_name="Linux", region="us-east-1"):
    return [tm("instanceType", itype), tm("regionCode", region),
            tm("operatingSystem", os_name), tm("tenancy", "Shared"),
            tm("preInstalledSw", "NA"), tm("capacitystatus", "Used")]


def on_demand_usd(entry):
    """The On-Demand USD price of one PriceList entry (a JSON string)."""
    doc = json.loads(entry)
    (term,) = doc["terms"]["OnDemand"].values()
    (dim,) = term["priceDimensions"].values()
    return dim["pricePerUnit"]["USD"], dim["unit"], doc


def table_usd(**attrs):
    for p in TABLE["products"]:
        if all(p["attributes"].get(k) == v for k, v in attrs.items()):
            return p["usd"]
    return None


def main():
    fake = FakeProcess(os.path.join(HERE, "fake_pricing.py"),
                       "--access-key-id", AK, "--secret-access-key", SK)
    try:
        run(fake)
    except Exception as e:
        check("no exception", False, repr(e))
    rc, err = fake.stop()
    check("exits 0 on SIGTERM", rc == 0, "rc=%r" % rc)
    check("the log has no secret", SK not in err)
    check("one log line per request with the filters",
          "fake_pricing: POST GetProducts instanceType=t3.micro" in err,
          err[-300:])
    return summary()


def run(fake):
    pr = client(fake)
    r = pr.get_products(ServiceCode="AmazonEC2", FormatVersion="aws_v1",
                        Filters=ec2_filters("t3.micro"))
    check("one product for t3.micro Linux Shared Used", len(
        r["PriceList"]) == 1 and r["FormatVersion"] == "aws_v1", r)
    usd, unit, doc = on_demand_usd(r["PriceList"][0])
    check("PriceList entries are JSON strings", isinstance(
        r["PriceList"][0], str))
    check("OnDemand price from the table, per hour",
          usd == table_usd(instanceType="t3.micro", regionCode="us-east-1",
                           operatingSystem="Linux") == "0.0104000000" and
          unit == "Hrs", (usd, unit))
    check("a Reserved term beside it, with another price",
          list(doc["terms"]) == ["OnDemand", "Reserved"] and
          on_demand_usd(json.dumps({"terms": {"OnDemand": doc["terms"][
              "Reserved"]}}))[0] != usd)
    check("product attributes and sku", doc["product"]["attributes"][
        "instanceType"] == "t3.micro" and doc["product"]["sku"] and
        doc["serviceCode"] == "AmazonEC2")

    for itype, want in (("t3.small", "0.0208000000"),
                        ("m5.large", "0.0960000000")):
        r = pr.get_products(ServiceCode="AmazonEC2",
                            Filters=ec2_filters(itype))
        check("%s: %s" % (itype, want), len(r["PriceList"]) == 1 and
              on_demand_usd(r["PriceList"][0])[0] == want)
    r = pr.get_products(ServiceCode="AmazonEC2",
                        Filters=ec2_filters("t3.micro", "Windows"))
    check("operatingSystem chooses (Windows costs more)",
          on_demand_usd(r["PriceList"][0])[0] == "0.0196000000")
    r = pr.get_products(ServiceCode="AmazonEC2",
                        Filters=ec2_filters("t3.micro", region="eu-west-1"))
    check("regionCode chooses", on_demand_usd(r["PriceList"][0])[0] ==
          "0.0114000000")
    r = pr.get_products(ServiceCode="AmazonEC2",
                        Filters=ec2_filters("t3.micro")[:-1])
    check("without capacitystatus: two products", len(r["PriceList"]) == 2)
    for api, want in (("gp3", "0.0800000000"), ("gp2", "0.1000000000")):
        r = pr.get_products(ServiceCode="AmazonEC2", Filters=[
            tm("productFamily", "Storage"), tm("volumeApiName", api),
            tm("regionCode", "us-east-1")])
        usd, unit, _ = on_demand_usd(r["PriceList"][0])
        check("EBS %s: %s per GB-Mo" % (api, want), len(
            r["PriceList"]) == 1 and usd == want and unit == "GB-Mo")
    r = pr.get_products(ServiceCode="AmazonEC2",
                        Filters=ec2_filters("x9.mega"))
    check("an unknown instance type: empty PriceList", r["PriceList"] == [])

    # Paging.
    seen = []
    tok = None
    pages = 0
    while True:
        kw = {"NextToken": tok} if tok else {}
        r = pr.get_products(ServiceCode="AmazonEC2", MaxResults=4, **kw)
        seen += r["PriceList"]
        pages += 1
        tok = r.get("NextToken")
        if not tok or pages > 20:
            break
    check("NextToken pages through the whole table",
          len(seen) == len(TABLE["products"]) and pages ==
          (len(TABLE["products"]) + 3) // 4, (len(seen), pages))
    check("a NextToken of another query: InvalidNextTokenException",
          error_code(lambda: pr.get_products(
              ServiceCode="AmazonEC2", Filters=ec2_filters("t3.micro"),
              NextToken=pr.get_products(ServiceCode="AmazonEC2",
                                        MaxResults=1)["NextToken"])) ==
          "InvalidNextTokenException")
    check("a bad filter type: InvalidParameterException",
          error_code(lambda: pr.get_products(ServiceCode="AmazonEC2", Filters=[
              {"Type": "TERM_MATCH", "Field": "x", "Value": "y"}] + [
              {"Type": "NOPE", "Field": "x", "Value": "y"}])) in (
              "InvalidParameterException", "ParamValidation"))
    check("an unknown service code: NotFoundException",
          error_code(lambda: pr.get_products(ServiceCode="AmazonNope")) ==
          "NotFoundException")
    r = pr.describe_services(ServiceCode="AmazonEC2")
    check("DescribeServices lists attribute names",
          "instanceType" in r["Services"][0]["AttributeNames"])

    st, body = fake.ctl("prices", {"match": {"instanceType": "t3.micro",
                                             "regionCode": "us-east-1"},
                                   "usd": "0.0200000000"})
    r = pr.get_products(ServiceCode="AmazonEC2",
                        Filters=ec2_filters("t3.micro"))
    check("/_fake/prices changes a price", st == 200 and
          body["changed"] == 3 and
          on_demand_usd(r["PriceList"][0])[0] == "0.0200000000", body)

    # Signatures.
    check("wrong secret: InvalidSignatureException",
          error_code(lambda: client(fake, sk="wrong").get_products(
              ServiceCode="AmazonEC2")) == "InvalidSignatureException")
    check("unknown key: UnrecognizedClientException",
          error_code(lambda: client(fake, ak="AKIDNOPE").get_products(
              ServiceCode="AmazonEC2")) == "UnrecognizedClientException")
    check("signed for another region: refused",
          error_code(lambda: client(fake, region="eu-central-1").get_products(
              ServiceCode="AmazonEC2")) == "InvalidSignatureException")
    st, _, b = http("POST", fake.base + "/", body=b"{}", headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "AWSPriceListService.GetProducts"})
    check("no signature: 403 MissingAuthenticationTokenException",
          st == 403 and json.loads(b)["__type"] ==
          "MissingAuthenticationTokenException", b)

    # Faults.
    fake.ctl("config", {"throttle_next": 2})
    check("throttle_next 2: ThrottlingException twice, then OK",
          [error_code(lambda: pr.get_products(ServiceCode="AmazonEC2",
                                           MaxResults=1))
           for _ in range(3)] == ["ThrottlingException"] * 2 + [""])
    fake.ctl("config", {"fail_next": 1})
    check("fail_next: InternalErrorException",
          error_code(lambda: pr.get_products(ServiceCode="AmazonEC2")) ==
          "InternalErrorException")
    fake.ctl("config", {"down": True})
    check("down: 503", error_code(lambda: pr.get_products(
        ServiceCode="AmazonEC2")) == "ServiceUnavailableException")
    fake.ctl("config", {"down": "close"})
    check("down close: no answer", unanswered(lambda: pr.get_products(ServiceCode="AmazonEC2")))
    fake.ctl("config", {"down": False, "slow_ms": 300})
    t0 = time.time()
    pr.get_products(ServiceCode="AmazonEC2", MaxResults=1)
    check("slow_ms", time.time() - t0 >= 0.3)
    st, calls = fake.ctl("calls", method="GET")
    check("calls counted, with the rejections",
          calls["actions"]["GetProducts"] >= 15 and
          calls["rejected"].get("throttled") == 2 and
          calls["rejected"].get("auth") == 4, calls["rejected"])
    fake.ctl("reset")
    r = pr.get_products(ServiceCode="AmazonEC2",
                        Filters=ec2_filters("t3.micro"))
    check("reset restores the table's prices",
          on_demand_usd(r["PriceList"][0])[0] == "0.0104000000")


if __name__ == "__main__":
    sys.exit(main())
