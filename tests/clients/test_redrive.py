"""RedriveExecution through boto3 against `cairn serve`.

The first test is issue 14's: an execution fails because the S3 object its Task reads is
missing (moto); the test fixes nothing but that input source (it puts the object), redrives,
and sees the execution succeed with redriveCount 1, the state before the failure not run
again. It needs the emulators (tests/emulators/start.sh, as in test_integrations.py): without
them it skips, or fails when CAIRN_REQUIRE_EMULATORS=1. The others need nothing but the server.
"""

import json
import os
import uuid

import boto3
import pytest

from conftest import REGION, ROLE, emulator_env, history, require_emulator, serving, wait_until_done

MOTO = os.environ.get("CAIRN_TEST_MOTO")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create(sfn, definition):
    return sfn.create_state_machine(name=unique("redrive"), definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def types(events):
    return [e["type"] for e in events]


@pytest.fixture(scope="module")
def moto_server():
    require_emulator("CAIRN_TEST_MOTO")
    yield from serving("cairn-redrive-", env=emulator_env(AWS_ENDPOINT_URL=MOTO))


def test_a_fixed_input_source_lets_the_redriven_execution_succeed(moto_server):
    sfn = moto_server.client()
    s3 = boto3.client(
        "s3", endpoint_url=MOTO, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    bucket = unique("redrive")
    s3.create_bucket(Bucket=bucket)
    machine = create(
        sfn,
        {
            "StartAt": "Prepare",
            "States": {
                "Prepare": {"Type": "Pass", "Parameters": {"key.$": "$.key"}, "ResultPath": "$.prepared", "Next": "Read"},
                "Read": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                    "Parameters": {"Bucket": bucket, "Key.$": "$.key"},
                    "ResultSelector": {"body.$": "States.StringToJson($.Body)"},
                    "ResultPath": "$.read",
                    "End": True,
                },
            },
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"key": "order.json"}))["executionArn"]
    failed = wait_until_done(sfn, arn)
    assert failed["status"] == "FAILED"
    assert failed["error"] == "S3.NoSuchKeyException"
    assert failed["redriveStatus"] == "REDRIVABLE"
    assert failed["redriveCount"] == 0

    # The fix is the input source only: the definition and the input stay as they were.
    s3.put_object(Bucket=bucket, Key="order.json", Body=json.dumps({"total": 42}).encode())
    redriven = sfn.redrive_execution(executionArn=arn)
    assert redriven["redriveDate"]

    done = wait_until_done(sfn, arn)
    assert done["status"] == "SUCCEEDED", done
    assert done["redriveCount"] == 1
    assert done["redriveDate"] == redriven["redriveDate"]
    assert done["redriveStatus"] == "NOT_REDRIVABLE"
    assert done["redriveStatusReason"] == "Execution is SUCCEEDED and cannot be redriven"
    assert json.loads(done["output"]) == {
        "key": "order.json",
        "prepared": {"key": "order.json"},
        "read": {"body": {"total": 42}},
    }

    events = history(sfn, arn)
    kinds = types(events)
    assert kinds.count("ExecutionFailed") == 1 and kinds.count("ExecutionRedriven") == 1
    redrive = kinds.index("ExecutionRedriven")
    assert kinds[redrive - 1] == "ExecutionFailed"
    assert events[redrive]["executionRedrivenEventDetails"] == {"redriveCount": 1}
    assert kinds.count("PassStateEntered") == 1, "the state that succeeded is not run again"
    assert kinds[redrive + 1 :] == [
        "TaskStateEntered",
        "TaskScheduled",
        "TaskStarted",
        "TaskSucceeded",
        "TaskStateExited",
        "ExecutionSucceeded",
    ]

    listed = sfn.list_executions(stateMachineArn=machine, redriveFilter="REDRIVEN")["executions"]
    assert [e["executionArn"] for e in listed] == [arn]
    assert listed[0]["redriveCount"] == 1
    assert sfn.list_executions(stateMachineArn=machine, redriveFilter="NOT_REDRIVEN")["executions"] == []


def test_a_parallel_redrive_runs_only_the_failed_branch_and_errors_are_aws_s(sfn):
    # functions.json's "fail" always raises: the redrive fails again, at the same place. The
    # good branch ends before the task is even invoked (a branch still running when the other
    # fails is aborted, and a redrive runs it again).
    fail = "arn:aws:lambda:us-east-1:123456789012:function:fail"
    machine = create(
        sfn,
        {
            "StartAt": "Both",
            "States": {
                "Both": {
                    "Type": "Parallel",
                    "End": True,
                    "Branches": [
                        {"StartAt": "Good", "States": {"Good": {"Type": "Pass", "Result": "good", "End": True}}},
                        {"StartAt": "Bad", "States": {"Bad": {"Type": "Task", "Resource": fail, "End": True}}},
                    ],
                }
            },
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    assert wait_until_done(sfn, arn)["status"] == "FAILED"
    first = types(history(sfn, arn))
    assert first.count("PassStateExited") == 1 and first.count("LambdaFunctionScheduled") == 1

    sfn.redrive_execution(executionArn=arn)
    again = wait_until_done(sfn, arn)
    assert again["status"] == "FAILED"
    assert again["error"] == "ValueError"
    assert again["redriveCount"] == 1
    assert again["redriveStatus"] == "REDRIVABLE"
    after = types(history(sfn, arn))[len(first) :]
    assert after[:3] == ["ExecutionRedriven", "ParallelStateEntered", "ParallelStateStarted"]
    assert after.count("LambdaFunctionScheduled") == 1
    assert "PassStateEntered" not in after, "the branch that succeeded is not run again"

    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):
        sfn.redrive_execution(executionArn=arn + "-missing")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.redrive_execution(executionArn="not-an-arn")

    passing = create(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    succeeded = sfn.start_execution(stateMachineArn=passing)["executionArn"]
    assert wait_until_done(sfn, succeeded)["status"] == "SUCCEEDED"
    with pytest.raises(sfn.exceptions.ExecutionNotRedrivable) as refused:
        sfn.redrive_execution(executionArn=succeeded)
    assert "Execution is SUCCEEDED and cannot be redriven" in refused.value.response["Error"]["Message"]
