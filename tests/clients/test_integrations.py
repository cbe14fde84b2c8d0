"""`cairn serve` calls AWS services from Task states, against the emulators (moto for SNS, SQS,
EventBridge and S3; DynamoDB Local for DynamoDB), driven by boto3 as a program would.

The emulators come from tests/emulators/start.sh (tests/run.sh starts them before this step and
exports CAIRN_TEST_MOTO and CAIRN_TEST_DYNAMODB). Without them these tests skip, or fail when
CAIRN_REQUIRE_EMULATORS=1.
"""

import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid

import boto3
import pytest

from conftest import REGION, ROLE, Server, emulator_env, history, require_emulator, wait_until_done

MOTO = os.environ.get("CAIRN_TEST_MOTO")
DYNAMODB = os.environ.get("CAIRN_TEST_DYNAMODB")


CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/cairn-test/1"


class Api(http.server.BaseHTTPRequestHandler):
    """The third-party API an HTTP Task calls: answers JSON and remembers the API keys it saw."""

    keys = []

    def do_GET(self):  # noqa: N802 (the handler's name is http.server's)
        Api.keys.append(self.headers.get("x-api-key"))
        body = json.dumps({"path": self.path, "price": 42}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def emulated_server():
    """`cairn serve` configured as the AWS SDKs are, towards the emulators, with one
    EventBridge-style connection for HTTP Tasks."""
    require_emulator("CAIRN_TEST_MOTO", "CAIRN_TEST_DYNAMODB")
    env = emulator_env(AWS_ENDPOINT_URL=MOTO, AWS_ENDPOINT_URL_DYNAMODB=DYNAMODB)
    data_dir = tempfile.mkdtemp(prefix="cairn-integrations-")
    connections = os.path.join(data_dir, "connections.json")
    with open(connections, "w") as out:
        json.dump(
            {
                CONNECTION: {
                    "AuthorizationType": "API_KEY",
                    "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "k-42"}},
                }
            },
            out,
        )
    env["CAIRN_CONNECTIONS"] = connections
    server = Server(data_dir, env=env).start()
    # `cairn run` of the same workflows gets the same environment.
    server.env = env
    yield server
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def sfn(emulated_server):
    # The endpoint is explicit: AWS_ENDPOINT_URL in this environment names moto, not cairn serve.
    return emulated_server.client()


def emulator(service, endpoint):
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create(sfn, definition):
    return sfn.create_state_machine(
        name=unique("integrations"), definition=json.dumps(definition), roleArn=ROLE, type="STANDARD"
    )["stateMachineArn"]


def task(resource, parameters, nxt, **more):
    return {"Type": "Task", "Resource": f"arn:aws:states:::{resource}", "Parameters": parameters, "Next": nxt, **more}


ALL_SERVICES = {
    "StartAt": "CreateTable",
    "States": {
        "CreateTable": task(
            "aws-sdk:dynamodb:createTable",
            {
                "TableName.$": "$.name",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            },
            "Put",
            ResultSelector={"TableStatus.$": "$.TableDescription.TableStatus"},
            ResultPath="$.table",
        ),
        "Put": task(
            "dynamodb:putItem",
            {"TableName.$": "$.name", "Item": {"id": {"S": "a"}, "n": {"N": "1"}, "word.$": "$.word"}},
            "Get",
            ResultPath=None,
        ),
        "Get": task(
            "dynamodb:getItem",
            {"TableName.$": "$.name", "Key": {"id": {"S": "a"}}},
            "Queue",
            ResultSelector={"Item.$": "$.Item"},
            ResultPath="$.got",
        ),
        "Queue": task("aws-sdk:sqs:createQueue", {"QueueName.$": "$.name"}, "Send", ResultPath="$.queue"),
        "Send": task(
            "sqs:sendMessage",
            {"QueueUrl.$": "$.queue.QueueUrl", "MessageBody": {"hello.$": "$.got.Item.id.S", "n": 1}},
            "Topic",
            ResultSelector={"MessageId.$": "$.MessageId"},
            ResultPath="$.sent",
        ),
        "Topic": task("aws-sdk:sns:createTopic", {"Name.$": "$.name"}, "Publish", ResultPath="$.topic"),
        "Publish": task(
            "sns:publish",
            {"TopicArn.$": "$.topic.TopicArn", "Message": {"a": 1}},
            "Events",
            ResultSelector={"MessageId.$": "$.MessageId"},
            ResultPath="$.published",
        ),
        "Events": task(
            "events:putEvents",
            {"Entries": [{"Source": "cairn.test", "DetailType": "t", "Detail": {"x": 1}}]},
            "Bucket",
            ResultPath="$.events",
        ),
        "Bucket": task("aws-sdk:s3:createBucket", {"Bucket.$": "$.name"}, "PutObject", ResultPath=None),
        "PutObject": task(
            "aws-sdk:s3:putObject",
            {"Bucket.$": "$.name", "Key": "a/b c.json", "Body": {"k": "v"}},
            "GetObject",
            ResultPath=None,
        ),
        "GetObject": task(
            "aws-sdk:s3:getObject",
            {"Bucket.$": "$.name", "Key": "a/b c.json"},
            "Http",
            ResultSelector={"Body.$": "$.Body"},
            ResultPath="$.object",
        ),
        "Http": task(
            "http:invoke",
            {
                "ApiEndpoint.$": "States.Format('{}/prices', $.api)",
                "Method": "GET",
                "QueryParameters": {"sku": "A-1"},
                "Authentication": {"ConnectionArn": CONNECTION},
            },
            "Child",
            ResultSelector={"body.$": "$.ResponseBody", "status.$": "$.StatusCode"},
            ResultPath="$.http",
        ),
        "Child": task(
            "states:startExecution.sync:2",
            {"StateMachineArn.$": "$.child", "Input": {"price.$": "$.http.body.price"}},
            "Missing",
            ResultSelector={"Output.$": "$.Output", "Status.$": "$.Status"},
            ResultPath="$.nested",
        ),
        "Missing": task(
            "dynamodb:getItem",
            {"TableName.$": "States.Format('{}-missing', $.name)", "Key": {"id": {"S": "a"}}},
            "Done",
            Catch=[{"ErrorEquals": ["DynamoDB.ResourceNotFoundException"], "ResultPath": "$.caught", "Next": "Done"}],
        ),
        "Done": {"Type": "Succeed"},
    },
}


CHILD = {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"total.$": "States.MathAdd($.price, $.price)"}, "End": True}}}


def test_services_from_task_states(sfn, api):
    name = unique("cairn")
    machine = create(sfn, ALL_SERVICES)
    child = create(sfn, CHILD)
    start = {"name": name, "word": {"S": "hi"}, "api": api, "child": child}
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps(start))["executionArn"]
    done = wait_until_done(sfn, arn, timeout=60)
    events = history(sfn, arn)
    failures = [e for e in events if e["type"] in ("TaskFailed", "ExecutionFailed")]
    assert done["status"] == "SUCCEEDED", (done, failures)
    output = json.loads(done["output"])

    assert output["name"] == name
    assert output["table"] == {"TableStatus": "ACTIVE"}
    assert output["got"] == {"Item": {"id": {"S": "a"}, "n": {"N": "1"}, "word": {"S": "hi"}}}
    assert output["queue"]["QueueUrl"].endswith("/" + name)
    assert output["sent"]["MessageId"]
    assert output["topic"]["TopicArn"] == f"arn:aws:sns:{REGION}:123456789012:{name}"
    assert output["published"]["MessageId"]
    assert output["events"]["FailedEntryCount"] == 0
    assert len(output["events"]["Entries"]) == 1 and output["events"]["Entries"][0]["EventId"]
    assert json.loads(output["object"]["Body"]) == {"k": "v"}
    assert output["http"] == {"body": {"path": "/prices?sku=A-1", "price": 42}, "status": 200}
    assert "k-42" in Api.keys
    assert output["nested"] == {"Output": {"total": 84}, "Status": "SUCCEEDED"}
    assert output["caught"]["Error"] == "DynamoDB.ResourceNotFoundException"
    assert output["caught"]["Cause"]

    # The side effects, seen by boto3 against the emulators.
    sqs = emulator("sqs", MOTO)
    received = sqs.receive_message(QueueUrl=output["queue"]["QueueUrl"], WaitTimeSeconds=5)["Messages"]
    assert [json.loads(m["Body"]) for m in received] == [{"hello": "a", "n": 1}]
    assert received[0]["MessageId"] == output["sent"]["MessageId"]
    s3 = emulator("s3", MOTO)
    assert json.loads(s3.get_object(Bucket=name, Key="a/b c.json")["Body"].read()) == {"k": "v"}
    dynamodb = emulator("dynamodb", DYNAMODB)
    assert dynamodb.get_item(TableName=name, Key={"id": {"S": "a"}})["Item"] == {
        "id": {"S": "a"},
        "n": {"N": "1"},
        "word": {"S": "hi"},
    }
    sns = emulator("sns", MOTO)
    topic = f"arn:aws:sns:{REGION}:123456789012:{name}"
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic

    # The history names each call as AWS does: the service in resourceType, the action in resource.
    scheduled = [
        (e["taskScheduledEventDetails"]["resourceType"], e["taskScheduledEventDetails"]["resource"])
        for e in events
        if e["type"] == "TaskScheduled"
    ]
    assert scheduled == [
        ("aws-sdk:dynamodb", "createTable"),
        ("dynamodb", "putItem"),
        ("dynamodb", "getItem"),
        ("aws-sdk:sqs", "createQueue"),
        ("sqs", "sendMessage"),
        ("aws-sdk:sns", "createTopic"),
        ("sns", "publish"),
        ("events", "putEvents"),
        ("aws-sdk:s3", "createBucket"),
        ("aws-sdk:s3", "putObject"),
        ("aws-sdk:s3", "getObject"),
        ("http", "invoke"),
        ("states", "startExecution.sync:2"),
        ("dynamodb", "getItem"),
    ]
    assert all(e["taskScheduledEventDetails"]["region"] == REGION for e in events if e["type"] == "TaskScheduled")
    succeeded = [e["taskSucceededEventDetails"] for e in events if e["type"] == "TaskSucceeded"]
    assert [(d["resourceType"], d["resource"]) for d in succeeded] == scheduled[:-1]
    parameters = [json.loads(e["taskScheduledEventDetails"]["parameters"]) for e in events if e["type"] == "TaskScheduled"]
    assert parameters[1] == {"TableName": name, "Item": {"id": {"S": "a"}, "n": {"N": "1"}, "word": {"S": "hi"}}}
    failed = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert [(d["resourceType"], d["resource"], d["error"]) for d in failed] == [
        ("dynamodb", "getItem", "DynamoDB.ResourceNotFoundException")
    ]


def test_the_same_workflow_through_cairn_run(sfn, api, emulated_server, tmp_path):
    """`cairn run` reaches the same services with the same environment; its `.sync:2` child
    runs at the Step Functions endpoint it is given (this cairn serve)."""
    name = unique("cairn-run")
    child = create(sfn, CHILD)
    definition = tmp_path / "all.json"
    definition.write_text(json.dumps(ALL_SERVICES))
    env = dict(emulated_server.env, AWS_ENDPOINT_URL_SFN=emulated_server.endpoint)
    start = {"name": name, "word": {"S": "hi"}, "api": api, "child": child}
    finished = subprocess.run(
        [os.environ["CAIRN_BIN"], "run", str(definition), "--input", json.dumps(start), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    run = json.loads(finished.stdout)
    assert run["status"] == "SUCCEEDED", (run.get("error"), run.get("cause"), finished.stderr)
    output = run["output"]
    assert output["got"] == {"Item": {"id": {"S": "a"}, "n": {"N": "1"}, "word": {"S": "hi"}}}
    assert json.loads(output["object"]["Body"]) == {"k": "v"}
    assert output["http"]["status"] == 200
    assert output["nested"] == {"Output": {"total": 84}, "Status": "SUCCEEDED"}
    assert output["caught"]["Error"] == "DynamoDB.ResourceNotFoundException"
    received = emulator("sqs", MOTO).receive_message(QueueUrl=output["queue"]["QueueUrl"], WaitTimeSeconds=5)
    assert [json.loads(m["Body"]) for m in received["Messages"]] == [{"hello": "a", "n": 1}]


def test_sqs_wait_for_task_token(sfn):
    name = unique("cairn-callback")
    sqs = emulator("sqs", MOTO)
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    machine = create(
        sfn,
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": queue,
                        "MessageBody": {"token.$": "$$.Task.Token", "question.$": "$.question"},
                    },
                    "End": True,
                }
            },
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine, input='{"question": "ready?"}')["executionArn"]
    messages = []
    deadline = time.time() + 60
    while not messages and time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])
        if not messages:
            described = sfn.describe_execution(executionArn=arn)
            assert described["status"] == "RUNNING", described
    assert messages, "the task never sent its message"
    body = json.loads(messages[0]["Body"])
    assert body["question"] == "ready?"
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"

    sfn.send_task_success(taskToken=body["token"], output='{"ok": true}')
    done = wait_until_done(sfn, arn, timeout=60)
    assert done["status"] == "SUCCEEDED", done
    assert json.loads(done["output"]) == {"ok": True}
    events = history(sfn, arn)
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]
    assert (scheduled["resourceType"], scheduled["resource"]) == ("sqs", "sendMessage.waitForTaskToken")
    assert [e["type"] for e in events if e["type"].startswith("Task")] == [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
        "TaskStateExited",
    ]
