"""`cairn serve --execution-log` and `--status-events`: the log events a state machine's
loggingConfiguration asks for, in AWS's CloudWatch Logs shape, and the "Step Functions
Execution Status Change" events, received by a webhook."""

import http.server
import json
import os
import shutil
import tempfile
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, Server, require_emulator, wait_until_done

FAILING = {
    "StartAt": "P",
    "States": {
        "P": {"Type": "Pass", "Result": {"x": 1}, "Next": "F"},
        "F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"},
    },
}
PASSING = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"ok": True}, "End": True}}}
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:cairn-test:*"


class Hook(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Hook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def observed():
    hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    data_dir = tempfile.mkdtemp(prefix="cairn-observe-")
    log = os.path.join(data_dir, "executions.log")
    server = Server(
        data_dir, "--execution-log", log, "--status-events", f"http://127.0.0.1:{hook.server_port}/events"
    ).start()
    yield server, log
    server.stop()
    hook.shutdown()
    shutil.rmtree(data_dir, ignore_errors=True)


def logging(level, include_data):
    return {
        "level": level,
        "includeExecutionData": include_data,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": LOG_GROUP}}],
    }


def log_lines(path, execution_arn):
    with open(path) as f:
        return [m for m in map(json.loads, f) if m["execution_arn"] == execution_arn]


def run(sfn, definition, config):
    arn = sfn.create_state_machine(
        name=f"obs-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition), roleArn=ROLE,
        loggingConfiguration=config,
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input='{"secret": 1}')["executionArn"]
    wait_until_done(sfn, execution)
    return arn, execution


def test_log_levels_and_shape(observed):
    server, log = observed
    sfn = server.client()
    _, everything = run(sfn, FAILING, logging("ALL", True))
    _, errors = run(sfn, FAILING, logging("ERROR", False))
    _, fatal = run(sfn, FAILING, logging("FATAL", True))
    _, off = run(sfn, FAILING, {"level": "OFF", "includeExecutionData": False})

    with pytest.raises(ClientError) as raised:
        sfn.create_state_machine(
            name=f"obs-{uuid.uuid4().hex[:10]}", definition=json.dumps(PASSING), roleArn=ROLE,
            loggingConfiguration={"level": "ALL", "includeExecutionData": True},
        )
    assert raised.value.response["Error"] == {
        "Code": "InvalidLoggingConfiguration",
        "Message": "Invalid Logging Configuration: Must specify exactly one Log Destination.",
    }

    lines = log_lines(log, everything)
    history = sfn.get_execution_history(executionArn=everything)["events"]
    assert [m["type"] for m in lines] == [e["type"] for e in history]
    started = lines[0]
    assert started["type"] == "ExecutionStarted"
    assert started["id"] == "1" and started["previous_event_id"] == "0"
    assert started["event_timestamp"].isdigit()
    assert json.loads(started["details"]["input"]) == {"secret": 1}
    assert started["details"]["roleArn"] == ROLE
    for message in lines:
        assert set(message) >= {"id", "type", "details", "previous_event_id", "event_timestamp", "execution_arn"}

    error_lines = log_lines(log, errors)
    assert [m["type"] for m in error_lines] == ["FailStateEntered", "ExecutionFailed"]
    # includeExecutionData false: the state's input stays out of the log.
    assert "input" not in error_lines[0]["details"]
    assert error_lines[1]["details"] == {"error": "Boom", "cause": "on purpose"}
    assert [m["type"] for m in log_lines(log, fatal)] == ["ExecutionFailed"]
    assert log_lines(log, off) == []


def test_status_change_events(observed):
    server, _ = observed
    sfn = server.client()
    machine, execution = run(sfn, PASSING, {"level": "OFF"})
    deadline = time.time() + 10
    mine = []
    while time.time() < deadline:
        mine = [e for e in Hook.received if e["resources"] == [execution]]
        if len(mine) >= 2:
            break
        time.sleep(0.05)
    assert [e["detail"]["status"] for e in mine] == ["RUNNING", "SUCCEEDED"]
    running, succeeded = mine
    for event in mine:
        assert event["source"] == "aws.states"
        assert event["detail-type"] == "Step Functions Execution Status Change"
        assert event["account"] == "123456789012" and event["region"] == "us-east-1"
        assert event["detail"]["executionArn"] == execution
        assert event["detail"]["stateMachineArn"] == machine
        assert event["detail"]["input"] == '{"secret": 1}'
    assert running["detail"]["stopDate"] is None and running["detail"]["output"] is None
    assert json.loads(succeeded["detail"]["output"]) == {"ok": True}
    assert succeeded["detail"]["stopDate"] >= succeeded["detail"]["startDate"]
    assert succeeded["detail"]["outputDetails"] == {"included": True}


def test_status_events_on_an_eventbridge_bus():
    """`--status-events eventbridge:BUS` puts the events on a bus through the integrations'
    PutEvents (moto here), where a rule hands them to an SQS queue."""
    moto = os.environ.get("CAIRN_TEST_MOTO")
    require_emulator("CAIRN_TEST_MOTO")
    import boto3

    def client(service):
        return boto3.client(
            service, endpoint_url=moto, region_name="us-east-1", aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    events, sqs = client("events"), client("sqs")
    bus = f"cairn-status-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=bus)
    queue = sqs.create_queue(QueueName=bus)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=bus, EventBusName=bus, EventPattern=json.dumps({"source": ["aws.states"]}))
    events.put_targets(Rule=bus, EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_REGION="us-east-1", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL=moto,
    )
    data_dir = tempfile.mkdtemp(prefix="cairn-status-bus-")
    server = Server(data_dir, "--status-events", f"eventbridge:{bus}", env=env).start()
    try:
        _, execution = run(server.client(), PASSING, {"level": "OFF"})
        received = []
        deadline = time.time() + 20
        while time.time() < deadline and len(received) < 2:
            answer = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            received += [json.loads(m["Body"]) for m in answer.get("Messages", [])]
        assert sorted(e["detail"]["status"] for e in received) == ["RUNNING", "SUCCEEDED"]
        for event in received:
            assert event["source"] == "aws.states"
            assert event["detail-type"] == "Step Functions Execution Status Change"
            assert event["detail"]["executionArn"] == execution
            assert event["resources"] == [execution]
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
