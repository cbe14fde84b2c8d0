"""Nested workflows in `cairn serve`: a Task state starts another state machine stored there
(`states:startExecution`, `.sync`, `.sync:2`), as boto3 sees it."""

import json
import os
import subprocess
import uuid

from conftest import ROLE, history, wait_until_done

CHILD = {
    "StartAt": "Nap",
    "States": {
        "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Echo"},
        "Echo": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": True},
    },
}
FAILING = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "SomeFailure", "Cause": "because"}}}


def create(sfn, definition):
    return sfn.create_state_machine(
        name=f"n-{uuid.uuid4().hex[:10]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def parent_of(sfn, resource, child):
    return create(
        sfn,
        {
            "StartAt": "Child",
            "States": {
                "Child": {
                    "Type": "Task",
                    "Resource": f"arn:aws:states:::states:{resource}",
                    "Parameters": {"StateMachineArn": child, "Input": {"a": 1}},
                    "End": True,
                }
            },
        },
    )


def run(sfn, machine):
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    return arn, wait_until_done(sfn, arn)


def test_sync2_waits_for_the_child_and_gives_its_output_as_json(sfn):
    child = create(sfn, CHILD)
    arn, described = run(sfn, parent_of(sfn, "startExecution.sync:2", child))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["Output"] == {"got": {"a": 1}}
    assert output["Input"] == {"a": 1}
    assert output["Status"] == "SUCCEEDED"
    assert output["StateMachineArn"] == child
    # The child really ran here: DescribeExecution knows it.
    assert sfn.describe_execution(executionArn=output["ExecutionArn"])["status"] == "SUCCEEDED"
    types = [e["type"] for e in history(sfn, arn)]
    assert types[types.index("TaskScheduled"):types.index("TaskSucceeded") + 1] == [
        "TaskScheduled",
        "TaskStarted",
        "TaskSubmitted",
        "TaskSucceeded",
    ]
    submitted = next(e for e in history(sfn, arn) if e["type"] == "TaskSubmitted")
    started = json.loads(submitted["taskSubmittedEventDetails"]["output"])
    assert started["ExecutionArn"] == output["ExecutionArn"]
    assert started["SdkHttpMetadata"]["HttpStatusCode"] == 200


def test_sync_gives_the_childs_output_as_text(sfn):
    child = create(sfn, CHILD)
    _, described = run(sfn, parent_of(sfn, "startExecution.sync", child))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["Output"] == json.dumps({"got": {"a": 1}}, separators=(",", ":"))
    assert output["Input"] == '{"a":1}'


def test_a_failed_child_fails_the_sync_task_with_its_description(sfn):
    child = create(sfn, FAILING)
    _, described = run(sfn, parent_of(sfn, "startExecution.sync", child))
    assert described["status"] == "FAILED", described
    assert described["error"] == "States.TaskFailed"
    cause = json.loads(described["cause"])
    assert (cause["Error"], cause["Cause"], cause["Status"]) == ("SomeFailure", "because", "FAILED")


def test_a_plain_start_does_not_wait(sfn):
    child = create(sfn, CHILD)
    arn, described = run(sfn, parent_of(sfn, "startExecution", child))
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output["ExecutionArn"].startswith(child.replace(":stateMachine:", ":execution:", 1) + ":")
    assert "StartDate" in output
    child_run = wait_until_done(sfn, output["ExecutionArn"])
    assert json.loads(child_run["output"]) == {"got": {"a": 1}}
    assert "TaskSubmitted" not in [e["type"] for e in history(sfn, arn)]


def test_a_missing_child_state_machine_is_the_apis_error(sfn):
    missing = "arn:aws:states:us-east-1:123456789012:stateMachine:nope"
    _, described = run(sfn, parent_of(sfn, "startExecution", missing))
    assert described["status"] == "FAILED", described
    assert described["error"] == "StepFunctions.StateMachineDoesNotExistException"
    assert "Error Code: StateMachineDoesNotExist" in described["cause"]


def test_cairn_run_waits_for_a_child_at_the_configured_endpoint(sfn, server, tmp_path):
    """`cairn run` holds no state machines: its `.sync:2` child runs where
    AWS_ENDPOINT_URL_SFN points (here this cairn serve), and the child's end comes back
    through the parent's task token."""
    child = create(sfn, CHILD)
    failing = create(sfn, FAILING)
    parent = {
        "StartAt": "Child",
        "States": {
            "Child": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync:2",
                "Parameters": {"StateMachineArn": child, "Input": {"a": 1}},
                "ResultSelector": {"Output.$": "$.Output", "Arn.$": "$.ExecutionArn"},
                "ResultPath": "$.child",
                "Next": "Failing",
            },
            "Failing": {
                "Type": "Task",
                "Resource": "arn:aws:states:::states:startExecution.sync",
                "Parameters": {"StateMachineArn": failing},
                "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.failed", "Next": "Done"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
        },
    }
    definition = tmp_path / "parent.json"
    definition.write_text(json.dumps(parent))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ENDPOINT_URL_SFN=server.endpoint,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    finished = subprocess.run(
        [os.environ["CAIRN_BIN"], "run", str(definition), "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    run = json.loads(finished.stdout)
    assert run["status"] == "SUCCEEDED", (run, finished.stderr)
    assert run["output"]["child"]["Output"] == {"got": {"a": 1}}
    assert sfn.describe_execution(executionArn=run["output"]["child"]["Arn"])["status"] == "SUCCEEDED"
    assert run["output"]["failed"]["Error"] == "States.TaskFailed"
    assert json.loads(run["output"]["failed"]["Cause"])["Error"] == "SomeFailure"
