#!/usr/bin/env python3
"""maya's EC2 protocol library against botocore itself, the code every AWS SDK client for Python
(and the AWS CLI) runs. Through tests/ebs/ebs_tool:
  - requests made by a real botocore EC2 client (its serializer, its SigV4 signer) pass maya's
    verifier and parse into the parameters the call was given; tampered ones are refused with
    the EC2 codes, and so are wrong secrets, access keys, regions and stale dates;
  - the documents maya's XML writer makes (answers and errors) parse with botocore's EC2 parser
    into every field, including hostile text.
Usage: botocore_test.py PATH/TO/maya_ebs_tool   (exit 77 without botocore)"""
import datetime
import json
import subprocess
import sys
import time
import unittest
from urllib.parse import urlsplit

try:
    import botocore
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest, AWSResponse
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
except ImportError:
    print("SKIP: python3 has no botocore (packaging/install-deps.sh --with-tests installs "
          "python3-botocore)")
    sys.exit(77)

TOOL = None
AKID = "AKIAMAYATESTKEY00001"
SECRET = "mayaTestSecretKey0123456789/+abcdefghijk"
REGION = "maya-1"
ENDPOINT = "http://127.0.0.1:5656"
SKEW = 900


class Tool:
    """One maya_ebs_tool process per mode, one JSON line in, one out."""

    def __init__(self, mode):
        self.proc = subprocess.Popen([TOOL, mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def __call__(self, obj):
        self.proc.stdin.write(json.dumps(obj) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("maya_ebs_tool exited with %s" % self.proc.wait())
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(timeout=60) == 0


class Raw:
    def __init__(self, body):
        self.body = body

    def stream(self, **kwargs):
        yield self.body


def wire_request(prepared):
    """What the server receives from urllib3: the prepared request plus the Host header."""
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = [[k, v.decode() if isinstance(v, bytes) else v] for k, v in prepared.headers.items()]
    if not any(k.lower() == "host" for k, _ in headers):
        headers.append(["Host", url.netloc])
    target = url.path or "/"
    if url.query:
        target += "?" + url.query
    return {"method": prepared.method, "target": target, "headers": headers, "body": body}


def make_client(akid=AKID, secret=SECRET, region=REGION):
    session = botocore.session.get_session()
    return session.create_client(
        "ec2", region_name=region, endpoint_url=ENDPOINT, aws_access_key_id=akid,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 0}))


class FixedTimeSigV4(SigV4Auth):
    """botocore's signer with the signing time given instead of read from the clock: the same
    steps as SigV4Auth.add_auth."""

    def __init__(self, credentials, service, region, when):
        super().__init__(credentials, service, region)
        self.when = when

    def add_auth(self, request):
        request.context["timestamp"] = self.when.strftime("%Y%m%dT%H%M%SZ")
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


class BotocoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.verify_tool = Tool("verify")
        cls.parse_tool = Tool("parse")
        cls.document_tool = Tool("document")

    @classmethod
    def tearDownClass(cls):
        for t in (cls.verify_tool, cls.parse_tool, cls.document_tool):
            t.close()

    def verify(self, req, now=None, secret=SECRET, region=REGION):
        return self.verify_tool({
            "method": req["method"], "target": req["target"], "headers": req["headers"],
            "body_hex": req["body"].hex(), "access_key": AKID, "secret": secret,
            "region": region, "now": int(now if now is not None else time.time()),
            "max_skew": SKEW})

    def call(self, client, operation, answer=None, **params):
        """Calls the client; returns (what the server received, the client's result)."""
        seen = {}

        def before_send(request, **kwargs):
            seen["req"] = wire_request(request)
            status, xml = answer(seen["req"]) if answer else (200, self.empty_answer(operation))
            return AWSResponse(request.url, status, {"Content-Type": "text/xml"},
                               Raw(xml.encode("utf-8")))

        client.meta.events.register("before-send.ec2", before_send)
        try:
            result = getattr(client, operation)(**params)
        finally:
            client.meta.events.unregister("before-send.ec2", before_send)
        return seen["req"], result

    def empty_answer(self, operation):
        name = "".join(p.capitalize() for p in operation.split("_"))
        return ('<?xml version="1.0" encoding="UTF-8"?><%sResponse xmlns="http://ec2.amazonaws.'
                'com/doc/2016-11-15/"><requestId>r</requestId></%sResponse>' % (name, name))

    # --- requests: botocore's client → maya's verifier and parser -------------------------------

    def test_client_requests_verify_and_parse(self):
        client = make_client()
        calls = [
            ("describe_volumes", dict(VolumeIds=["vol-0123456789abcdef0", "vol-0123456789abcdef1"],
                                      Filters=[{"Name": "status", "Values": ["available", "in-use"]},
                                               {"Name": "tag:Name", "Values": ["a b&c=d+e/é"]}],
                                      MaxResults=5, NextToken="tok+/="),
             {"lists": {"VolumeId": ["vol-0123456789abcdef0", "vol-0123456789abcdef1"]},
              "filters": [{"Name": "status", "Values": ["available", "in-use"]},
                          {"Name": "tag:Name", "Values": ["a b&c=d+e/é"]}],
              "params": {"MaxResults": "5", "NextToken": "tok+/="}}),
            ("create_volume", dict(Size=8, AvailabilityZone="maya-1a", VolumeType="gp3",
                                   ClientToken="token-1", SnapshotId="snap-0123456789abcdef0",
                                   TagSpecifications=[{"ResourceType": "volume", "Tags": [
                                       {"Key": "Name", "Value": "db"},
                                       {"Key": "maya:replicas", "Value": "3"},
                                       {"Key": "empty", "Value": ""}]}]),
             {"tag_specifications": [{"ResourceType": "volume", "Tags": [
                 {"Key": "Name", "Value": "db"}, {"Key": "maya:replicas", "Value": "3"},
                 {"Key": "empty", "Value": ""}]}],
              "params": {"Size": "8", "AvailabilityZone": "maya-1a", "VolumeType": "gp3",
                         "ClientToken": "token-1", "SnapshotId": "snap-0123456789abcdef0"}}),
            ("delete_volume", dict(VolumeId="vol-0123456789abcdef0", DryRun=True),
             {"params": {"VolumeId": "vol-0123456789abcdef0", "DryRun": "true"}}),
            ("attach_volume", dict(VolumeId="vol-0123456789abcdef0", InstanceId="i-0123456789abcdef0",
                                   Device="/dev/sdf"),
             {"params": {"VolumeId": "vol-0123456789abcdef0", "InstanceId": "i-0123456789abcdef0",
                         "Device": "/dev/sdf"}}),
            ("detach_volume", dict(VolumeId="vol-0123456789abcdef0", Force=True),
             {"params": {"VolumeId": "vol-0123456789abcdef0", "Force": "true"}}),
            ("modify_volume", dict(VolumeId="vol-0123456789abcdef0", Size=16),
             {"params": {"VolumeId": "vol-0123456789abcdef0", "Size": "16"}}),
            ("describe_volumes_modifications", dict(VolumeIds=["vol-0123456789abcdef0"]),
             {"lists": {"VolumeId": ["vol-0123456789abcdef0"]}}),
            ("create_snapshot", dict(VolumeId="vol-0123456789abcdef0", Description="<nightly>",
                                     TagSpecifications=[{"ResourceType": "snapshot",
                                                         "Tags": [{"Key": "k", "Value": "v"}]}]),
             {"params": {"VolumeId": "vol-0123456789abcdef0", "Description": "<nightly>"},
              "tag_specifications": [{"ResourceType": "snapshot",
                                      "Tags": [{"Key": "k", "Value": "v"}]}]}),
            ("describe_snapshots", dict(SnapshotIds=["snap-0123456789abcdef0"],
                                        OwnerIds=["self"]),
             {"lists": {"SnapshotId": ["snap-0123456789abcdef0"], "Owner": ["self"]}}),
            ("delete_snapshot", dict(SnapshotId="snap-0123456789abcdef0"),
             {"params": {"SnapshotId": "snap-0123456789abcdef0"}}),
            ("create_tags", dict(Resources=["vol-0123456789abcdef0"],
                                 Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]),
             {"lists": {"ResourceId": ["vol-0123456789abcdef0"]},
              "tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]}),
            ("delete_tags", dict(Resources=["vol-0123456789abcdef0"], Tags=[{"Key": "a"}]),
             {"lists": {"ResourceId": ["vol-0123456789abcdef0"]},
              "tags": [{"Key": "a", "Value": None}]}),
            ("describe_tags", dict(Filters=[{"Name": "resource-id",
                                             "Values": ["vol-0123456789abcdef0"]}]),
             {"filters": [{"Name": "resource-id", "Values": ["vol-0123456789abcdef0"]}]}),
        ]
        for operation, params, expect in calls:
            with self.subTest(operation=operation):
                req, _ = self.call(client, operation, **params)
                self.assertEqual(self.verify(req), {"ok": True})
                parsed = self.parse_tool({"target": req["target"], "body_hex": req["body"].hex(),
                                          "lists": list(expect.get("lists", {}))})
                self.assertNotIn("code", parsed, parsed)
                model = client.meta.service_model.operation_model(
                    "".join(p.capitalize() for p in operation.split("_")))
                self.assertEqual(parsed["action"], model.name)
                self.assertEqual(parsed["version"], "2016-11-15")
                for name, value in expect.get("params", {}).items():
                    self.assertEqual(parsed["params"].get(name), value, name)
                for name, values in expect.get("lists", {}).items():
                    self.assertEqual(parsed[name], values, name)
                for key in ("filters", "tags", "tag_specifications"):
                    self.assertEqual(parsed[key], expect.get(key, []), key)

    def signed_describe(self):
        req, _ = self.call(make_client(), "describe_volumes",
                           Filters=[{"Name": "status", "Values": ["available"]}])
        self.assertEqual(self.verify(req), {"ok": True})
        return req

    def test_tampered_requests_are_refused(self):
        def code(req, **kw):
            return self.verify(req, **kw).get("code", "OK")

        def with_header(req, name, value):
            out = dict(req, headers=[h for h in req["headers"] if h[0].lower() != name.lower()])
            if value is not None:
                out["headers"] = out["headers"] + [[name, value]]
            return out

        def header(req, name):
            return next(v for k, v in req["headers"] if k.lower() == name.lower())

        req = self.signed_describe()
        self.assertEqual(code(dict(req, method="GET")), "SignatureDoesNotMatch")
        self.assertEqual(code(dict(req, target="/other")), "SignatureDoesNotMatch")
        self.assertEqual(code(dict(req, target="/?x=1")), "SignatureDoesNotMatch")
        self.assertEqual(code(dict(req, body=req["body"].replace(b"available", b"in-use"))),
                         "SignatureDoesNotMatch")
        self.assertEqual(code(dict(req, body=req["body"] + b"&DryRun=true")),
                         "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "Host", "127.0.0.1:5657")), "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "Host", "127.0.0.1")), "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "Content-Type", "text/plain")),
                         "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "Content-Type", None)), "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "Authorization", None)), "AuthFailure")
        self.assertEqual(code(with_header(req, "Authorization", "garbage")), "IncompleteSignature")
        auth = header(req, "Authorization")
        flipped = auth[:-1] + ("0" if auth[-1] != "0" else "1")
        self.assertEqual(code(with_header(req, "Authorization", flipped)), "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "X-Amz-Date", "20200101T000000Z")),
                         "SignatureDoesNotMatch")
        self.assertEqual(code(with_header(req, "X-Amz-Date", None)), "IncompleteSignature")
        # The verifier's own secret or region differ from the signer's.
        self.assertEqual(code(req, secret=SECRET[:-1] + "x"), "SignatureDoesNotMatch")
        r = self.verify(req, region="maya-2")
        self.assertEqual(r["code"], "SignatureDoesNotMatch")
        self.assertIn("'maya-2'", r["message"])
        # The server's clock is 20 minutes ahead of or behind the signer's.
        self.assertEqual(code(req, now=time.time() + 1200), "RequestExpired")
        self.assertEqual(code(req, now=time.time() - 1200), "RequestExpired")
        self.assertEqual(code(req, now=time.time() + 600), "OK")

    def test_wrong_credentials_and_region_from_the_client(self):
        cases = [(make_client(secret=SECRET[:-1] + "x"), "SignatureDoesNotMatch"),
                 (make_client(akid="AKIAOTHERKEY00000001"), "AuthFailure"),
                 (make_client(region="us-east-1"), "SignatureDoesNotMatch")]
        for client, expected in cases:
            with self.subTest(expected=expected):
                req, _ = self.call(client, "describe_volumes")
                self.assertEqual(self.verify(req).get("code"), expected)

    def sign_at(self, when, date_header=False, region=REGION):
        request = AWSRequest(method="POST", url=ENDPOINT + "/",
                             data={"Action": "DescribeVolumes", "Version": "2016-11-15"},
                             headers={"Content-Type":
                                      "application/x-www-form-urlencoded; charset=utf-8"})
        if date_header:
            request.headers["Date"] = "placeholder"
        FixedTimeSigV4(Credentials(AKID, SECRET), "ec2", region, when).add_auth(request)
        return wire_request(request.prepare())

    def test_fixed_dates(self):
        when = datetime.datetime(2026, 12, 6, 7, 0, 0)
        now = when.replace(tzinfo=datetime.timezone.utc).timestamp()
        req = self.sign_at(when)
        self.assertIn(["X-Amz-Date", "20261206T070000Z"], req["headers"])
        self.assertEqual(self.verify(req, now=now), {"ok": True})
        self.assertEqual(self.verify(req, now=now + SKEW), {"ok": True})
        self.assertEqual(self.verify(req, now=now + 1200)["code"], "RequestExpired")
        self.assertEqual(self.verify(req, now=now - 1200)["code"], "RequestExpired")
        # Across midnight: the scope's date is the signer's.
        late = datetime.datetime(2026, 12, 6, 23, 59, 50)
        late_now = late.replace(tzinfo=datetime.timezone.utc).timestamp() + 20
        self.assertEqual(self.verify(self.sign_at(late), now=late_now), {"ok": True})
        # botocore signs with a Date header instead of X-Amz-Date when the request has one.
        dated = self.sign_at(when, date_header=True)
        self.assertFalse(any(k.lower() == "x-amz-date" for k, _ in dated["headers"]))
        self.assertEqual(self.verify(dated, now=now), {"ok": True})
        self.assertEqual(self.verify(dated, now=now + 1200)["code"], "RequestExpired")

    # --- documents: maya's XML writer → botocore's parser ---------------------------------------

    def answer_with(self, document):
        xml = self.document_tool(document)["xml"]
        return lambda req: (200, xml)

    def test_describe_volumes_document(self):
        hostile = "a&b<c>d\"e'f ]]> é😀 tab\tlf\ncr\r"
        created = datetime.datetime(2026, 12, 6, 7, 0, 0, 123000, tzinfo=datetime.timezone.utc)
        ms = int(created.timestamp() * 1000)
        volumes = [
            {"id": "vol-0123456789abcdef0", "size": 8, "zone": "maya-1a", "state": "in-use",
             "create_ms": ms, "snapshot": "snap-0123456789abcdef0",
             "attachments": [{"instance": "i-0123456789abcdef0", "device": "/dev/sdf",
                              "state": "attached", "time_ms": ms + 1000}],
             "tags": [["Name", "db"], ["note", hostile], ["ctl", "x\x01y\x1bz"]]},
            {"id": "vol-0123456789abcdef1", "size": 1, "zone": "maya-1a", "state": "available",
             "create_ms": ms},
        ]
        _, result = self.call(make_client(), "describe_volumes",
                              answer=self.answer_with({"kind": "describe_volumes",
                                                       "request_id": "req-42",
                                                       "volumes": volumes,
                                                       "next_token": "next+/="}))
        self.assertEqual(result["ResponseMetadata"]["RequestId"], "req-42")
        self.assertEqual(result["NextToken"], "next+/=")
        self.assertEqual(len(result["Volumes"]), 2)
        v = result["Volumes"][0]
        self.assertEqual(v["VolumeId"], "vol-0123456789abcdef0")
        self.assertEqual(v["Size"], 8)
        self.assertEqual(v["State"], "in-use")
        self.assertEqual(v["SnapshotId"], "snap-0123456789abcdef0")
        self.assertEqual(v["AvailabilityZone"], "maya-1a")
        self.assertEqual(v["CreateTime"], created)
        self.assertEqual(v["Encrypted"], False)
        self.assertEqual(v["VolumeType"], "gp2")
        self.assertEqual(v["Attachments"], [{
            "VolumeId": "vol-0123456789abcdef0", "InstanceId": "i-0123456789abcdef0",
            "Device": "/dev/sdf", "State": "attached",
            "AttachTime": created + datetime.timedelta(seconds=1), "DeleteOnTermination": False}])
        self.assertEqual(v["Tags"], [{"Key": "Name", "Value": "db"},
                                     {"Key": "note", "Value": hostile},
                                     {"Key": "ctl", "Value": "x\ufffdy\ufffdz"}])
        self.assertEqual(result["Volumes"][1]["Attachments"], [])
        self.assertEqual(result["Volumes"][1]["Tags"], [])

    def test_create_snapshot_document(self):
        start = datetime.datetime(2026, 12, 6, 7, 0, 0, tzinfo=datetime.timezone.utc)
        _, result = self.call(make_client(), "create_snapshot", VolumeId="vol-0123456789abcdef0",
                              answer=self.answer_with({
                                  "kind": "create_snapshot", "id": "snap-0123456789abcdef0",
                                  "volume": "vol-0123456789abcdef0", "size": 8,
                                  "start_ms": int(start.timestamp() * 1000),
                                  "description": "<b>&amp;", "tags": [["k", "v"]]}))
        self.assertEqual(result["SnapshotId"], "snap-0123456789abcdef0")
        self.assertEqual(result["VolumeId"], "vol-0123456789abcdef0")
        self.assertEqual(result["State"], "pending")
        self.assertEqual(result["StartTime"], start)
        self.assertEqual(result["VolumeSize"], 8)
        self.assertEqual(result["Description"], "<b>&amp;")
        self.assertEqual(result["Tags"], [{"Key": "k", "Value": "v"}])

    def test_error_documents(self):
        client = make_client()
        codes = [(400, "MissingParameter"), (400, "InvalidParameterValue"),
                 (400, "InvalidParameterCombination"), (400, "InvalidVolume.NotFound"),
                 (400, "InvalidSnapshot.NotFound"), (400, "InvalidSnapshot.InUse"),
                 (400, "VolumeInUse"), (400, "IncorrectState"),
                 (400, "InvalidAttachment.NotFound"), (400, "InvalidInstanceID.NotFound"),
                 (400, "IdempotentParameterMismatch"), (400, "InvalidAction"),
                 (401, "AuthFailure"), (403, "SignatureDoesNotMatch"),
                 (400, "IncompleteSignature"), (400, "RequestExpired"),
                 (413, "RequestEntityTooLarge"), (500, "InternalError")]
        for status, code in codes:
            with self.subTest(code=code):
                message = "The volume 'vol-<&>' is \"odd\" é"
                doc = self.document_tool({"kind": "error", "status": status, "code": code,
                                          "message": message, "request_id": "req-" + code})
                with self.assertRaises(ClientError) as caught:
                    self.call(client, "describe_volumes", answer=lambda req: (status, doc["xml"]))
                r = caught.exception.response
                self.assertEqual(r["Error"]["Code"], code)
                self.assertEqual(r["Error"]["Message"], message)
                self.assertEqual(r["ResponseMetadata"]["RequestId"], "req-" + code)
                self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], status)


if __name__ == "__main__":
    TOOL = sys.argv.pop(1)
    print("botocore", botocore.__version__, "at", botocore.__file__)
    unittest.main(verbosity=2)
