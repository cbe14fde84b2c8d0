"""The Step Functions API through boto3: what a program using the AWS SDK sees."""

import json
import threading
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, history, wait_until_done

PASS_CHOICE = {
    "StartAt": "Prepare",
    "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": "b4"}, "Next": "Decide"},
        "Decide": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.n", "NumericGreaterThan": 0, "Next": "Done"}],
            "Default": "Refuse",
        },
        "Done": {"Type": "Succeed"},
        "Refuse": {"Type": "Fail", "Error": "NotPositive", "Cause": "n <= 0"},
    },
}


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(sfn, definition, machine_type="STANDARD", name=None):
    return sfn.create_state_machine(
        name=name or unique("m"), definition=json.dumps(definition), roleArn=ROLE, type=machine_type
    )["stateMachineArn"]


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_state_machine_lifecycle(sfn):
    name = unique("life")
    arn = create(sfn, PASS_CHOICE, name=name)
    assert arn == f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert (described["name"], described["type"], described["status"]) == (name, "STANDARD", "ACTIVE")
    assert json.loads(described["definition"]) == PASS_CHOICE
    # Creating again with the same definition and role is idempotent.
    again = sfn.create_state_machine(name=name, definition=json.dumps(PASS_CHOICE), roleArn=ROLE)
    assert again["stateMachineArn"] == arn
    assert again["creationDate"] == described["creationDate"]
    code, message = error_of(
        sfn.create_state_machine, name=name, definition=json.dumps({**PASS_CHOICE, "Comment": "x"}), roleArn=ROLE
    )
    assert (code, message) == ("StateMachineAlreadyExists", f"State Machine Already Exists: '{arn}'")

    updated = dict(PASS_CHOICE, Comment="v2")
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(updated))
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == updated
    code, message = error_of(sfn.update_state_machine, stateMachineArn=arn)
    assert code == "MissingRequiredParameter"
    assert message == (
        "Either the definition, the role ARN, the LoggingConfiguration, or the TracingConfiguration must be specified"
    )
    names = [m["name"] for page in sfn.get_paginator("list_state_machines").paginate() for m in page["stateMachines"]]
    assert name in names

    sfn.tag_resource(resourceArn=arn, tags=[{"key": "team", "value": "cairn"}])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == [{"key": "team", "value": "cairn"}]
    sfn.untag_resource(resourceArn=arn, tagKeys=["team"])
    assert sfn.list_tags_for_resource(resourceArn=arn)["tags"] == []

    sfn.delete_state_machine(stateMachineArn=arn)
    code, message = error_of(sfn.describe_state_machine, stateMachineArn=arn)
    assert (code, message) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")


def test_start_describe_and_history(sfn):
    machine = create(sfn, PASS_CHOICE)
    started = sfn.start_execution(stateMachineArn=machine, name="first", input=json.dumps({"n": 3}))
    arn = started["executionArn"]
    assert arn.endswith(":execution:" + machine.rsplit(":", 1)[1] + ":first")
    described = wait_until_done(sfn, arn)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"]) == {"n": 3, "tag": "b4"}
    assert described["stopDate"] >= described["startDate"]

    events = history(sfn, arn)
    assert [e["type"] for e in events] == [
        "ExecutionStarted",
        "PassStateEntered",
        "PassStateExited",
        "ChoiceStateEntered",
        "ChoiceStateExited",
        "SucceedStateEntered",
        "SucceedStateExited",
        "ExecutionSucceeded",
    ]
    assert [e["id"] for e in events] == list(range(1, 9))
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == {"n": 3}
    newest = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=2)
    assert [e["id"] for e in newest["events"]] == [8, 7]
    following = sfn.get_execution_history(
        executionArn=arn, reverseOrder=True, maxResults=2, nextToken=newest["nextToken"]
    )
    assert [e["id"] for e in following["events"]] == [6, 5]
    bare = sfn.get_execution_history(executionArn=arn, includeExecutionData=False)
    assert "input" not in bare["events"][0]["executionStartedEventDetails"]

    for_execution = sfn.describe_state_machine_for_execution(executionArn=arn)
    assert json.loads(for_execution["definition"]) == PASS_CHOICE

    failed = wait_until_done(sfn, sfn.start_execution(stateMachineArn=machine, input='{"n": 0}')["executionArn"])
    assert (failed["status"], failed["error"], failed["cause"]) == ("FAILED", "NotPositive", "n <= 0")


def test_start_execution_name_idempotency(sfn):
    machine = create(sfn, {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}})
    first = sfn.start_execution(stateMachineArn=machine, name="same", input='{"a": 1}')
    again = sfn.start_execution(stateMachineArn=machine, name="same", input='{"a": 1}')
    assert again["executionArn"] == first["executionArn"]
    assert again["startDate"] == first["startDate"]
    code, message = error_of(sfn.start_execution, stateMachineArn=machine, name="same", input='{"a": 2}')
    assert (code, message) == ("ExecutionAlreadyExists", f"Execution Already Exists: '{first['executionArn']}'")
    sfn.stop_execution(executionArn=first["executionArn"], error="Stopped", cause="by the test")
    stopped = sfn.describe_execution(executionArn=first["executionArn"])
    assert (stopped["status"], stopped["error"], stopped["cause"]) == ("ABORTED", "Stopped", "by the test")
    assert history(sfn, first["executionArn"])[-1]["type"] == "ExecutionAborted"


def test_sync_execution(sfn):
    machine = create(
        sfn,
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"sum.$": "States.MathAdd($.a, $.b)"}, "End": True}}},
        machine_type="EXPRESS",
    )
    result = sfn.start_sync_execution(stateMachineArn=machine, input=json.dumps({"a": 2, "b": 5}))
    assert result["status"] == "SUCCEEDED"
    assert json.loads(result["output"]) == {"sum": 7}
    assert ":express:" in result["executionArn"]
    failing = create(sfn, {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "why"}}}, "EXPRESS")
    result = sfn.start_sync_execution(stateMachineArn=failing)
    assert (result["status"], result["error"], result["cause"]) == ("FAILED", "Boom", "why")
    code, message = error_of(sfn.list_executions, stateMachineArn=machine)
    assert (code, message) == ("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")


def test_activity_worker(sfn):
    activity = sfn.create_activity(name=unique("act"))["activityArn"]
    machine = create(
        sfn,
        {
            "StartAt": "Work",
            "States": {
                "Work": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 30, "Next": "After"},
                "After": {"Type": "Pass", "Parameters": {"result.$": "$.doubled"}, "End": True},
            },
        },
    )
    handed_out = []
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            task = sfn.get_activity_task(activityArn=activity, workerName="pytest-worker")
            if not task.get("taskToken"):
                continue
            handed_out.append(task["taskToken"])
            job = json.loads(task["input"])
            sfn.send_task_heartbeat(taskToken=task["taskToken"])
            sfn.send_task_success(taskToken=task["taskToken"], output=json.dumps({"doubled": job["n"] * 2}))

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    arns = [sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": n}))["executionArn"] for n in (1, 2, 3)]
    outputs = sorted(json.loads(wait_until_done(sfn, arn)["output"])["result"] for arn in arns)
    # Workers block in a 60 s long poll: one more task each lets them see the stop flag.
    stop.set()
    for _ in workers:
        sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": 0}))
    for thread in workers:
        thread.join(timeout=90)
    assert outputs == [2, 4, 6]
    assert len(set(handed_out)) == len(handed_out) >= 3  # no task went to two workers
    started = [e for e in history(sfn, arns[0]) if e["type"] == "ActivityStarted"]
    assert started[0]["activityStartedEventDetails"]["workerName"] == "pytest-worker"

    code, message = error_of(sfn.send_task_success, taskToken=handed_out[0], output="{}")
    assert (code, message) == ("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'")
    code, _ = error_of(sfn.send_task_success, taskToken="not-a-token-we-issued", output="{}")
    assert code == "InvalidToken"
    assert sfn.describe_activity(activityArn=activity)["activityArn"] == activity
    sfn.delete_activity(activityArn=activity)
    code, message = error_of(sfn.describe_activity, activityArn=activity)
    assert (code, message) == ("ActivityDoesNotExist", f"Activity Does Not Exist: '{activity}'")


def test_callback_with_wait_for_task_token(sfn):
    machine = create(
        sfn,
        {
            "StartAt": "Ask",
            "States": {
                "Ask": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                    "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token", "q.$": "$.q"}},
                    "End": True,
                }
            },
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine, input='{"q": "ready?"}')["executionArn"]
    token = None
    for _ in range(200):
        scheduled = [e for e in history(sfn, arn) if e["type"] == "TaskSubmitted"]
        if scheduled:
            events = history(sfn, arn)
            parameters = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]["parameters"]
            token = json.loads(parameters)["Payload"]["token"]
            break
        threading.Event().wait(0.05)
    assert token, "the callback task was never submitted"
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    sfn.send_task_success(taskToken=token, output='{"answer": "yes"}')
    assert json.loads(wait_until_done(sfn, arn)["output"]) == {"answer": "yes"}

    failing = sfn.start_execution(stateMachineArn=machine, input='{"q": "again"}')["executionArn"]
    for _ in range(200):
        events = history(sfn, failing)
        if any(e["type"] == "TaskSubmitted" for e in events):
            break
        threading.Event().wait(0.05)
    parameters = next(e for e in events if e["type"] == "TaskScheduled")["taskScheduledEventDetails"]["parameters"]
    sfn.send_task_failure(taskToken=json.loads(parameters)["Payload"]["token"], error="No", cause="declined")
    done = wait_until_done(sfn, failing)
    assert (done["status"], done["error"], done["cause"]) == ("FAILED", "No", "declined")


def test_list_executions_paging_and_filters(sfn):
    machine = create(sfn, PASS_CHOICE)
    arns = {sfn.start_execution(stateMachineArn=machine, input=json.dumps({"n": n}))["executionArn"] for n in range(-2, 5)}
    for arn in arns:
        wait_until_done(sfn, arn)
    seen = []
    token = None
    while True:
        kwargs = {"stateMachineArn": machine, "maxResults": 3}
        if token:
            kwargs["nextToken"] = token
        page = sfn.list_executions(**kwargs)
        assert len(page["executions"]) <= 3
        seen.extend(e["executionArn"] for e in page["executions"])
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(seen) == sorted(arns)
    failed = sfn.list_executions(stateMachineArn=machine, statusFilter="FAILED")["executions"]
    assert len(failed) == 3 and all(e["status"] == "FAILED" for e in failed)
    starts = [e["startDate"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]]
    assert starts == sorted(starts, reverse=True)


def test_error_answers_match_aws(sfn):
    machine = create(sfn, PASS_CHOICE)
    missing = machine + "-missing"
    assert error_of(sfn.start_execution, stateMachineArn=missing) == (
        "StateMachineDoesNotExist",
        f"State Machine Does Not Exist: '{missing}'",
    )
    assert error_of(sfn.list_executions, stateMachineArn=machine, maxResults=1001) == (
        "ValidationException",
        "1 validation error detected: Value '1001' at 'maxResults' failed to satisfy constraint: "
        "Member must have value less than or equal to 1000",
    )
    assert error_of(sfn.list_executions, stateMachineArn=machine, statusFilter="succeeded")[0] == "ValidationException"
    assert error_of(sfn.start_execution, stateMachineArn=machine, input="") == (
        "InvalidExecutionInput",
        "Invalid State Machine Execution Input: 'Invalid execution input.'",
    )
    assert error_of(sfn.create_activity, name="bad name") == ("InvalidName", "Invalid Name: 'bad name'")
    assert error_of(sfn.create_state_machine, name=unique("bad"), definition='{"StartAt": "A"}', roleArn=ROLE) == (
        "InvalidDefinition",
        "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: These fields are required: [States] at /'",
    )
    assert error_of(sfn.describe_execution, executionArn="arn:aws:states:us-east-1:123456789012:execution:x:nope")[0] == (
        "ExecutionDoesNotExist"
    )
    assert error_of(sfn.describe_execution, executionArn="nonsense") == ("InvalidArn", "Invalid Arn: 'Invalid ARN prefix: nonsense'")
    assert error_of(sfn.list_map_runs, executionArn="arn:aws:states:us-east-1:123456789012:execution:x:y")[0] == (
        "ExecutionDoesNotExist"
    )
    result = sfn.validate_state_machine_definition(definition='{"StartAt": "A"}')
    assert result["result"] == "FAIL"
    assert result["diagnostics"][0]["code"] == "SCHEMA_VALIDATION_FAILED"


def test_test_state(sfn):
    choice = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
        "Default": "Small",
    }
    answer = sfn.test_state(definition=json.dumps(choice), roleArn=ROLE, input='{"n": 42}')
    assert (answer["status"], answer["nextState"], json.loads(answer["output"])) == ("SUCCEEDED", "Big", {"n": 42})
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:getItem",
        "Parameters": {"TableName": "t", "Key": {"id": {"S.$": "$.id"}}},
        "ResultSelector": {"item.$": "$.Item"},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Recover"}],
        "End": True,
    }
    mocked = sfn.test_state(
        definition=json.dumps(task), roleArn=ROLE, input='{"id": "a"}', mock={"result": '{"Item": {"v": {"N": "1"}}}'}
    )
    assert (mocked["status"], json.loads(mocked["output"])) == ("SUCCEEDED", {"item": {"v": {"N": "1"}}})
    # A mocked result is checked against GetItem's output shape, as AWS checks it.
    with pytest.raises(sfn.exceptions.ValidationException) as invalid:
        sfn.test_state(definition=json.dumps(task), roleArn=ROLE, input="{}", mock={"result": '{"Item": {"v": 1}}'})
    assert "Mock result schema validation error" in invalid.value.response["Error"]["Message"]
    caught = sfn.test_state(
        definition=json.dumps(task),
        roleArn=ROLE,
        input='{"id": "b"}',
        mock={"errorOutput": {"error": "Nope", "cause": "why"}},
    )
    assert (caught["status"], caught["error"], caught["nextState"]) == ("CAUGHT_ERROR", "Nope", "Recover")
    assert json.loads(caught["output"]) == {"Error": "Nope", "Cause": "why"}


def test_client_matrix_scenario(sfn):
    """The scenario every client of the matrix runs (test_cli.py, js/scenario.mjs, the Rust
    SDK's cairn_serve.rs), here in one piece: typed exceptions are boto3's modelled classes."""
    tags = [{"key": "client", "value": "boto3"}, {"key": "team", "value": "cairn"}]
    standard = sfn.create_state_machine(
        name=unique("mx"), definition=json.dumps(PASS_CHOICE), roleArn=ROLE, type="STANDARD", tags=tags
    )
    assert standard["creationDate"].tzinfo is not None  # epoch seconds parsed to an aware datetime
    express = sfn.create_state_machine(
        name=unique("mx-x"),
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}),
        roleArn=ROLE,
        type="EXPRESS",
        tags=tags,
    )["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=standard["stateMachineArn"], input='{"n": 1}')["executionArn"]
    assert wait_until_done(sfn, arn)["status"] == "SUCCEEDED"

    pages = list(sfn.get_paginator("get_execution_history").paginate(executionArn=arn, PaginationConfig={"PageSize": 2}))
    assert [len(p["events"]) for p in pages] == [2, 2, 2, 2]
    assert all("nextToken" in p for p in pages[:-1]) and "nextToken" not in pages[-1]
    assert [e["id"] for p in pages for e in p["events"]] == list(range(1, 9))

    synced = sfn.start_sync_execution(stateMachineArn=express, input='{"k": "v"}')
    assert (synced["status"], json.loads(synced["output"])) == ("SUCCEEDED", {"k": "v"})
    tested = sfn.test_state(definition=json.dumps({"Type": "Pass", "Result": 7, "End": True}), roleArn=ROLE)
    assert (tested["status"], json.loads(tested["output"])) == ("SUCCEEDED", 7)

    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist) as raised:
        sfn.describe_execution(executionArn=arn + "-nope")
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    for machine in (standard["stateMachineArn"], express):
        assert sorted(sfn.list_tags_for_resource(resourceArn=machine)["tags"], key=lambda t: t["key"]) == tags
