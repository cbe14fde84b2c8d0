"""AWS's documented mock configuration example, unchanged, through `cairn serve` with boto3:
SFN_MOCK_CONFIG names the file, and StartExecution on `<stateMachineArn>#<TestCaseName>`
selects the test case, as with Step Functions Local."""

import json
import os
import shutil
import tempfile

import pytest
from botocore.exceptions import ClientError

import boto3

from conftest import REGION, ROLE, Server, history, require_emulator, wait_until_done

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "examples", "testing")
SQS_MOCK = {
    "MD5OfMessageBody": "3bcb6e8e-7h85-4375-b0bc-1a59812c6e51",
    "MessageId": "3bcb6e8e-8b51-4375-b0bc-1a59812c6e51",
}


@pytest.fixture(scope="module")
def mocked():
    data_dir = tempfile.mkdtemp(prefix="cairn-mock-config-")
    env = dict(os.environ)
    env["SFN_MOCK_CONFIG"] = os.path.join(EXAMPLES, "MockConfigFile.json")
    server = Server(data_dir, env=env).start()
    sfn = server.client()
    with open(os.path.join(EXAMPLES, "LambdaSQSIntegration.asl.json")) as f:
        definition = f.read()
    standard = sfn.create_state_machine(name="LambdaSQSIntegration", definition=definition, roleArn=ROLE)
    yield sfn, standard["stateMachineArn"], definition
    server.stop()
    shutil.rmtree(data_dir, ignore_errors=True)


def test_happy_path_answers_both_task_states_from_the_mocked_responses(mocked):
    sfn, machine, _ = mocked
    started = sfn.start_execution(stateMachineArn=machine + "#HappyPath", name="executionWithHappyPathMockedServices")
    # The execution belongs to the state machine: the test case is not part of its ARN.
    assert started["executionArn"] == machine.replace(":stateMachine:", ":execution:") + ":executionWithHappyPathMockedServices"
    described = wait_until_done(sfn, started["executionArn"])
    assert described["status"] == "SUCCEEDED", described
    assert described["stateMachineArn"] == machine
    assert json.loads(described["output"]) == SQS_MOCK
    events = history(sfn, started["executionArn"])
    succeeded = [e for e in events if e["type"] == "TaskSucceeded"]
    assert [e["taskSucceededEventDetails"]["resourceType"] for e in succeeded] == ["lambda", "sqs"]
    assert json.loads(succeeded[0]["taskSucceededEventDetails"]["output"]) == {
        "StatusCode": 200,
        "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"},
    }
    # The mocked Lambda answer is the SQS state's input, as in AWS's example history.
    sqs_entered = next(
        e for e in events if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "SQSState"
    )
    assert json.loads(sqs_entered["stateEnteredEventDetails"]["input"])["Payload"]["body"] == "Hello from Lambda!"


def test_retry_path_shows_each_mocked_failure_and_the_retries_in_the_history(mocked):
    sfn, machine, _ = mocked
    started = sfn.start_execution(stateMachineArn=machine + "#RetryPath", name="retry-path")
    # Retries wait 2, 4 and 8 seconds (IntervalSeconds 2, BackoffRate 2) in real time.
    described = wait_until_done(sfn, started["executionArn"], timeout=60)
    assert described["status"] == "SUCCEEDED", described
    events = history(sfn, started["executionArn"])
    failures = [
        (e["taskFailedEventDetails"]["error"], e["taskFailedEventDetails"]["cause"])
        for e in events
        if e["type"] == "TaskFailed"
    ]
    assert failures == [
        ("Lambda.ResourceNotReadyException", "Lambda resource is not ready."),
        ("Lambda.TimeoutException", "Lambda timed out."),
        ("Lambda.TimeoutException", "Lambda timed out."),
    ]
    kinds = [e["type"] for e in events]
    lambda_part = kinds[: kinds.index("TaskStateExited")]
    assert lambda_part.count("TaskScheduled") == 4, kinds
    scheduled = [e["timestamp"] for e in events if e["type"] == "TaskScheduled"][:4]
    gaps = [(b - a).total_seconds() for a, b in zip(scheduled, scheduled[1:])]
    # Never early; a loaded machine (a build beside the test) may fire a timer late.
    assert all(want <= gap < want + 1.5 for want, gap in zip([2, 4, 8], gaps)) and len(gaps) == 3, gaps


def test_each_execution_counts_its_own_attempts(mocked):
    sfn, machine, _ = mocked
    first = sfn.start_execution(stateMachineArn=machine + "#HappyPath", name="happy-again-1")
    second = sfn.start_execution(stateMachineArn=machine + "#HappyPath", name="happy-again-2")
    for started in (first, second):
        described = wait_until_done(sfn, started["executionArn"])
        # A shared count would leave the second execution without an attempt 0.
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == SQS_MOCK


def test_an_unknown_test_case_is_refused(mocked):
    sfn, machine, _ = mocked
    with pytest.raises(ClientError) as refused:
        sfn.start_execution(stateMachineArn=machine + "#NoSuchPath")
    error = refused.value.response["Error"]
    assert error["Code"] == "InvalidArn"
    assert "no test case 'NoSuchPath' for the state machine 'LambdaSQSIntegration'" in error["Message"]


# Last: it replaces the Standard machine with an Express one of the same name.
def test_sync_express_executions_select_test_cases_too(mocked):
    sfn, machine, definition = mocked
    express = sfn.create_state_machine(
        name="LambdaSQSIntegration-express", definition=definition, roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    # The mock configuration names the state machine LambdaSQSIntegration only.
    with pytest.raises(ClientError) as missing:
        sfn.start_sync_execution(stateMachineArn=express + "#HappyPath")
    assert missing.value.response["Error"]["Code"] == "InvalidArn"
    assert "no state machine named 'LambdaSQSIntegration-express'" in missing.value.response["Error"]["Message"]
    # An Express machine of the configured name answers from the mocks synchronously.
    sfn.delete_state_machine(stateMachineArn=machine)
    express = sfn.create_state_machine(
        name="LambdaSQSIntegration", definition=definition, roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    result = sfn.start_sync_execution(stateMachineArn=express + "#HappyPath")
    assert result["status"] == "SUCCEEDED", result
    assert result["stateMachineArn"] == express
    assert json.loads(result["output"]) == SQS_MOCK


def test_a_mocked_callback_task_ends_with_its_mocked_answer_in_cairn_serve():
    """A `.waitForTaskToken` task mocked by a test case waits for no token (Step Functions
    Local answers it with the mock), and a mocked `.sync` child's failure reaches Catch."""
    workdir = tempfile.mkdtemp(prefix="cairn-mock-callback-")
    config = os.path.join(workdir, "mocks.json")
    with open(config, "w") as f:
        json.dump(
            {
                "StateMachines": {"callbacks": {"TestCases": {"Approved": {"Approve": "Approved", "Child": "ChildFailed"}}}},
                "MockedResponses": {
                    "Approved": {"0": {"Return": {"approved": True}}},
                    "ChildFailed": {"0": {"Throw": {"Error": "States.TaskFailed", "Cause": "the child failed"}}},
                },
            },
            f,
        )
    definition = {
        "StartAt": "Approve",
        "States": {
            "Approve": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {
                    "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                    "MessageBody": {"token.$": "$$.Task.Token"},
                },
                "ResultPath": "$.approval",
                "Next": "Child",
            },
            "Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child"},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.childError", "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    server = Server(os.path.join(workdir, "data"), "--mock-config", config).start()
    try:
        sfn = server.client()
        machine = sfn.create_state_machine(name="callbacks", definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
        started = sfn.start_execution(stateMachineArn=machine + "#Approved", input="{}")
        described = wait_until_done(sfn, started["executionArn"])
        assert described["status"] == "SUCCEEDED", described
        output = json.loads(described["output"])
        assert output["approval"] == {"approved": True}
        assert output["childError"]["Cause"] == "the child failed"
        kinds = [e["type"] for e in history(sfn, started["executionArn"])]
        assert "TaskSubmitted" not in kinds, kinds
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_hybrid_path_mocks_the_lambda_state_and_calls_sqs_for_real():
    """HybridPath mocks LambdaState only: SQSState sends the mocked Lambda answer to a real
    queue (moto, as AWS_ENDPOINT_URL), as Step Functions Local calls the service."""
    moto = os.environ.get("CAIRN_TEST_MOTO")
    require_emulator("CAIRN_TEST_MOTO")
    sqs = boto3.client(
        "sqs", endpoint_url=moto, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    queue = sqs.create_queue(QueueName="myQueue")["QueueUrl"]
    sqs.purge_queue(QueueUrl=queue)
    workdir = tempfile.mkdtemp(prefix="cairn-mock-hybrid-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_REGION=REGION,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_ENDPOINT_URL=moto,
        SFN_MOCK_CONFIG=os.path.join(EXAMPLES, "MockConfigFile.json"),
    )
    server = Server(os.path.join(workdir, "data"), env=env).start()
    try:
        sfn = server.client()
        with open(os.path.join(EXAMPLES, "LambdaSQSIntegration.asl.json")) as f:
            machine = sfn.create_state_machine(name="LambdaSQSIntegration", definition=f.read(), roleArn=ROLE)[
                "stateMachineArn"
            ]
        started = sfn.start_execution(stateMachineArn=machine + "#HybridPath", name="hybrid")
        described = wait_until_done(sfn, started["executionArn"])
        assert described["status"] == "SUCCEEDED", described
        output = json.loads(described["output"])
        # The real SendMessage answer, not MockedSQSSuccess's.
        assert output["MessageId"] != SQS_MOCK["MessageId"], output
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        bodies = [json.loads(m["Body"]) for m in messages]
        assert {"StatusCode": 200, "Payload": {"StatusCode": 200, "body": "Hello from Lambda!"}} in bodies, bodies
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
