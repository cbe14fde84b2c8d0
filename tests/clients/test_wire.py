"""Wire details every client relies on, checked on the raw HTTP exchange: JSON 1.0 and 1.1
content types, gzip request bodies (signed too), AWS's answer to a request over the size limit,
`x-amzn-RequestId` as a UUID, timestamps as epoch seconds with fractions."""

import gzip
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, ROLE, wait_until_done
from test_auth import KEY_ID, SECRET, auth_server  # noqa: F401  (the --auth server fixture)

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def post(endpoint, action, body, content_type="application/x-amz-json-1.0", headers=None, sign=False):
    """One request as an SDK sends it; returns (status, headers, parsed body)."""
    all_headers = {"Content-Type": content_type, "X-Amz-Target": f"AWSStepFunctions.{action}", **(headers or {})}
    if sign:
        request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=all_headers)
        SigV4Auth(Credentials(KEY_ID, SECRET), "states", REGION).add_auth(request)
        all_headers = dict(request.headers.items())
    request = urllib.request.Request(endpoint + "/", data=body, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_json_1_0_and_1_1_are_both_answered_in_kind(server):
    for content_type in ("application/x-amz-json-1.0", "application/x-amz-json-1.1"):
        status, headers, body = post(server.endpoint, "ListStateMachines", b"{}", content_type)
        assert status == 200, body
        assert headers["Content-Type"] == content_type
        assert "stateMachines" in json.loads(body)
        status, headers, body = post(server.endpoint, "DescribeStateMachine", b'{"stateMachineArn": "x"}', content_type)
        assert (status, headers["Content-Type"], json.loads(body)["__type"]) == (400, content_type, "InvalidArn")
    status, headers, _ = post(server.endpoint, "ListStateMachines", b"{}", "application/x-amz-json-1.1; charset=utf-8")
    assert (status, headers["Content-Type"]) == (200, "application/x-amz-json-1.1")


def test_gzip_request_bodies_are_inflated(server):
    name = f"gz-{uuid.uuid4().hex[:8]}"
    body = gzip.compress(json.dumps({"name": name, "definition": json.dumps(PASS), "roleArn": ROLE}).encode())
    status, _, answer = post(server.endpoint, "CreateStateMachine", body, headers={"Content-Encoding": "gzip"})
    assert status == 200, answer
    assert json.loads(answer)["stateMachineArn"].endswith(f":stateMachine:{name}")
    status, _, answer = post(server.endpoint, "ListStateMachines", b"not gzip", headers={"Content-Encoding": "gzip"})
    assert (status, json.loads(answer)["__type"]) == (400, "SerializationException")
    status, _, answer = post(server.endpoint, "ListStateMachines", b"{}", headers={"Content-Encoding": "br"})
    assert status == 400 and "not supported" in json.loads(answer)["message"]


def test_a_signed_gzip_body_is_verified_as_sent(auth_server):  # noqa: F811
    # SDKs that compress sign the compressed bytes: the check must come before inflating.
    body = gzip.compress(b'{"maxResults": 5}')
    status, _, answer = post(
        auth_server.endpoint, "ListStateMachines", body, headers={"Content-Encoding": "gzip"}, sign=True
    )
    assert status == 200, answer
    assert "stateMachines" in json.loads(answer)


def test_a_request_over_the_size_limit_gets_aws_error(sfn, server):
    machine = sfn.create_state_machine(name=f"big-{uuid.uuid4().hex[:8]}", definition=json.dumps(PASS), roleArn=ROLE)
    oversized = json.dumps({"pad": "x" * (9 * 1024 * 1024)})
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=oversized)
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert re.fullmatch(r"Request must be smaller than \d+ bytes for the StartExecution operation", error["Error"]["Message"])
    # Inflating past the limit is refused the same way (a small gzip body can expand a lot).
    bomb = gzip.compress(b'{"a": "' + b"0" * (9 * 1024 * 1024) + b'"}')
    status, _, answer = post(server.endpoint, "ListStateMachines", bomb, headers={"Content-Encoding": "gzip"})
    assert (status, json.loads(answer)["__type"]) == (413, "RequestEntityTooLargeException")


def test_request_ids_are_fresh_v4_uuids(sfn, server):
    ids = set()
    for _ in range(5):
        _, headers, _ = post(server.endpoint, "ListStateMachines", b"{}")
        ids.add(headers["x-amzn-RequestId"])
    _, headers, _ = post(server.endpoint, "DescribeExecution", b'{"executionArn": "nope"}')
    ids.add(headers["x-amzn-RequestId"])
    assert len(ids) == 6 and all(UUID4.match(i) for i in ids), ids
    metadata = sfn.list_state_machines()["ResponseMetadata"]
    assert UUID4.match(metadata["RequestId"]) and metadata["RequestId"] == metadata["HTTPHeaders"]["x-amzn-requestid"]


def test_timestamps_are_epoch_seconds_with_fractions(sfn, server):
    machine = sfn.create_state_machine(name=f"ts-{uuid.uuid4().hex[:8]}", definition=json.dumps(PASS), roleArn=ROLE)
    arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"])["executionArn"]
    described = wait_until_done(sfn, arn)
    _, _, raw = post(server.endpoint, "DescribeExecution", json.dumps({"executionArn": arn}).encode())
    text = raw.decode()
    # A JSON number with a fractional part, not a string and not whole seconds only.
    start = re.search(r'"startDate":(\d+\.\d+)[,}]', text)
    assert start, text
    seconds = float(start.group(1))
    assert abs(described["startDate"].timestamp() - seconds) < 0.0005
    assert 1.6e9 < seconds < 4e9
