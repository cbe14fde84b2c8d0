"""`cairn serve --auth KEYS_FILE`: SigV4 verification with real SDK requests (boto3, the AWS CLI).

Good keys work for every operation, the `sync-` ones included (the signature is over the host
the client really sends to); unsigned requests, unknown keys, wrong secrets, another region and
a clock 20 minutes off are refused with the `__type`s AWS's JSON services answer.
"""

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from datetime import datetime, timedelta, timezone

import boto3
import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REGION, ROLE, Server

KEY_ID = "AKIDCAIRNAUTHTEST"
SECRET = "cairn-auth-secret/with+chars"
PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "signed", "End": True}}})


@pytest.fixture(scope="module")
def auth_server():
    data_dir = tempfile.mkdtemp(prefix="cairn-auth-")
    keys = os.path.join(data_dir, "keys.json")
    with open(keys, "w") as f:
        json.dump([{"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET}], f)
    server = Server(os.path.join(data_dir, "data"), "--auth", keys).start()
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def client(endpoint, key_id=KEY_ID, secret=SECRET, region=REGION, unsigned=False):
    config = Config(inject_host_prefix=False, retries={"max_attempts": 1})
    if unsigned:
        config = config.merge(Config(signature_version=UNSIGNED))
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=config,
    )


def refusal(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"], response["Error"]["Message"]


def test_boto3_with_a_configured_key_reaches_every_operation(auth_server):
    sfn = client(auth_server.endpoint)
    name = f"auth-{uuid.uuid4().hex[:8]}"
    express = sfn.create_state_machine(name=name, definition=PASS, roleArn=ROLE, type="EXPRESS")["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=express, input="{}")
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", "signed")
    tested = sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), roleArn=ROLE, input='{"a": 1}')
    assert json.loads(tested["output"]) == {"a": 1}
    # A modelled error still comes back as the SDK's typed exception once the signature passed.
    with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
        sfn.describe_state_machine(stateMachineArn=express + "-missing")


def test_boto3_unsigned_unknown_key_and_wrong_secret_are_refused(auth_server):
    endpoint = auth_server.endpoint
    assert refusal(client(endpoint, unsigned=True).list_state_machines) == (
        400,
        "MissingAuthenticationTokenException",
        "Request is missing Authentication Token",
    )
    assert refusal(client(endpoint, key_id="AKIDUNKNOWN").list_state_machines) == (
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    )
    status, code, message = refusal(client(endpoint, secret="not-the-secret").list_state_machines)
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith("The request signature we calculated does not match the signature you provided.")
    assert "AWSStepFunctions.ListStateMachines" in message  # the canonical request, to debug a signer
    assert refusal(client(endpoint, region="eu-west-1").list_state_machines) == (
        400,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    )
    # The sync- operations are refused the same way, not let through.
    status, code, _ = refusal(
        client(endpoint, secret="nope").start_sync_execution,
        stateMachineArn=f"arn:aws:states:{REGION}:123456789012:stateMachine:x",
    )
    assert (status, code) == (400, "InvalidSignatureException")


def test_a_clock_20_minutes_off_expires_the_signature(auth_server, monkeypatch):
    late = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(minutes=20)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *args, **kwargs: late)
    status, code, message = refusal(client(auth_server.endpoint).list_state_machines)
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {late.strftime('%Y%m%dT%H%M%SZ')} is now earlier than ")
    assert message.endswith(" - 15 min.)")


def test_without_auth_signatures_stay_unchecked(server):
    # The shared server runs without --auth: no signature, or any key, is accepted.
    assert "stateMachines" in client(server.endpoint, unsigned=True).list_state_machines()
    assert "stateMachines" in client(server.endpoint, key_id="anything", secret="at all").list_state_machines()


def aws_cli(endpoint, *args, key_id=KEY_ID, secret=SECRET, unsigned=False):
    env = dict(os.environ)
    env.update(
        AWS_ACCESS_KEY_ID=key_id,
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_DEFAULT_REGION=REGION,
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
        AWS_PAGER="",
        AWS_MAX_ATTEMPTS="1",
    )
    env.pop("AWS_SESSION_TOKEN", None)
    command = ["aws", "--endpoint-url", endpoint, "--output", "json"]
    if unsigned:
        command.append("--no-sign-request")
    return subprocess.run(
        [*command, "stepfunctions", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_aws_cli_with_and_without_the_right_key(auth_server, tmp_path):
    definition = tmp_path / "pass.json"
    definition.write_text(PASS)
    name = f"auth-cli-{uuid.uuid4().hex[:8]}"
    created = aws_cli(
        auth_server.endpoint, "create-state-machine", "--name", name, "--type", "EXPRESS",
        "--role-arn", ROLE, "--definition", f"file://{definition}",
    )
    assert created.returncode == 0, created.stderr
    machine = json.loads(created.stdout)["stateMachineArn"]
    synced = aws_cli(auth_server.endpoint, "start-sync-execution", "--state-machine-arn", machine)
    assert synced.returncode == 0, synced.stderr
    assert json.loads(json.loads(synced.stdout)["output"]) == "signed"

    for kwargs, code in [
        ({"unsigned": True}, "MissingAuthenticationTokenException"),
        ({"key_id": "AKIDUNKNOWN"}, "UnrecognizedClientException"),
        ({"secret": "wrong"}, "InvalidSignatureException"),
    ]:
        refused = aws_cli(auth_server.endpoint, "describe-state-machine", "--state-machine-arn", machine, **kwargs)
        assert refused.returncode != 0, kwargs
        assert f"An error occurred ({code}) when calling the DescribeStateMachine operation" in refused.stderr, (
            kwargs,
            refused.stderr,
        )


def test_js_sdk_v3_signs_and_is_refused_with_aws_error_names(auth_server):
    js = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js")
    node = shutil.which("node")
    assert node, "node is not on PATH: the JavaScript SDK leg needs Node 20 or later (tests/clients/run.sh)"
    assert os.path.exists(os.path.join(js, "node_modules", "@aws-sdk", "client-sfn")), "run tests/clients/run.sh (npm ci)"
    express = client(auth_server.endpoint).create_state_machine(
        name=f"auth-js-{uuid.uuid4().hex[:8]}", definition=PASS, roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    result = subprocess.run(
        [node, "auth.mjs"],
        cwd=js,
        env={
            **os.environ,
            "CAIRN_ENDPOINT": auth_server.endpoint,
            "CAIRN_KEY_ID": KEY_ID,
            "CAIRN_SECRET": SECRET,
            "CAIRN_EXPRESS_ARN": express,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"node auth.mjs exited {result.returncode}\n{result.stdout}\n{result.stderr}"
