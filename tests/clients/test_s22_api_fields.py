"""Fields and rules of the API as AWS has them, through `cairn serve` and boto3: each Map Run
child's `itemCount` in ListExecutions by `mapRunArn`, a deleted state machine that stays
DELETING while its executions run, and pagination tokens refused with InvalidToken.

The batched Distributed Map reads its items from S3 in moto (tests/emulators/start.sh; without it
that test skips, or fails when CAIRN_REQUIRE_EMULATORS=1).
"""

import json
import os
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from conftest import REGION, ROLE, emulator_env, require_emulator, serving, wait_until_done

MOTO = os.environ.get("CAIRN_TEST_MOTO")


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    response = raised.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]


def create(sfn, definition):
    return sfn.create_state_machine(name=unique("s22"), definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def distributed(processor, **fields):
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "Label": "Each",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "P",
                    "States": processor,
                },
                "End": True,
                **fields,
            }
        },
    }


def children(sfn, run_arn):
    listed = []
    for page in sfn.get_paginator("list_executions").paginate(mapRunArn=run_arn, PaginationConfig={"PageSize": 2}):
        listed.extend(page["executions"])
    return listed


def map_run_of(sfn, execution):
    [run] = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    return run["mapRunArn"]


def test_each_child_of_an_unbatched_map_processed_one_item(sfn):
    arn = create(sfn, distributed({"P": {"Type": "Pass", "End": True}}, ItemsPath="$.items"))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"items": [1, 2, 3, 4, 5]}))["executionArn"]
    assert wait_until_done(sfn, execution)["status"] == "SUCCEEDED"
    listed = children(sfn, map_run_of(sfn, execution))
    assert len(listed) == 5
    assert [c["itemCount"] for c in listed] == [1] * 5
    # Listed by its state machine, an execution has no itemCount.
    [parent] = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert "itemCount" not in parent


@pytest.fixture(scope="module")
def moto_server():
    require_emulator("CAIRN_TEST_MOTO")
    yield from serving("cairn-s22-", env=emulator_env(AWS_ENDPOINT_URL=MOTO))


def test_each_child_of_a_batched_map_counts_its_batch(moto_server):
    sfn = moto_server.client()
    s3 = boto3.client(
        "s3", endpoint_url=MOTO, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )
    bucket = unique("s22-items")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="items.json", Body=json.dumps([{"n": i} for i in range(7)]).encode())
    arn = create(
        sfn,
        distributed(
            {"P": {"Type": "Wait", "Seconds": 1, "End": True}},
            ItemReader={
                "Resource": "arn:aws:states:::s3:getObject",
                "ReaderConfig": {"InputType": "JSON"},
                "Parameters": {"Bucket": bucket, "Key": "items.json"},
            },
            ItemBatcher={"MaxItemsPerBatch": 3},
        ),
    )
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    # While the children run, each counts its batch once its own record is written (the
    # parent lists a child a moment before: DescribeExecution of it fails until then too).
    deadline = time.time() + 30
    while True:
        runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
        listed = children(sfn, runs[0]["mapRunArn"]) if runs else []
        if len(listed) == 3 and all("itemCount" in c for c in listed):
            break
        assert time.time() < deadline, listed
        time.sleep(0.05)
    assert sorted(c["itemCount"] for c in listed) == [1, 3, 3]
    assert all(c["status"] == "RUNNING" for c in listed), listed
    assert wait_until_done(sfn, execution)["status"] == "SUCCEEDED"
    listed = children(sfn, map_run_of(sfn, execution))
    assert sorted(c["itemCount"] for c in listed) == [1, 3, 3]
    assert all(c["status"] == "SUCCEEDED" for c in listed)


def test_a_state_machine_stays_deleting_while_its_executions_run(sfn):
    waits = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
    arn = create(sfn, waits)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.delete_state_machine(stateMachineArn=arn)

    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["status"] == "DELETING"
    code, message, status = error_of(sfn.start_execution, stateMachineArn=arn)
    assert (code, status) == ("StateMachineDeleting", 400)
    assert arn in message
    code, _, _ = error_of(sfn.update_state_machine, stateMachineArn=arn, roleArn=ROLE)
    assert code == "StateMachineDeleting"
    # Its execution goes on, listed as before.
    assert [e["executionArn"] for e in sfn.list_executions(stateMachineArn=arn)["executions"]] == [execution]
    assert sfn.describe_execution(executionArn=execution)["status"] == "RUNNING"

    sfn.stop_execution(executionArn=execution)
    code, message, _ = error_of(sfn.describe_state_machine, stateMachineArn=arn)
    assert (code, message) == ("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def test_a_token_cairn_did_not_issue_is_invalid(sfn):
    arn = create(sfn, {"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}, "Q": {"Type": "Pass", "End": True}}})
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    wait_until_done(sfn, execution)
    first = sfn.get_execution_history(executionArn=execution, maxResults=2)
    following = sfn.get_execution_history(executionArn=execution, maxResults=2, nextToken=first["nextToken"])
    ids = [e["id"] for e in first["events"] + following["events"]]
    assert ids == [1, 2, 3, 4]
    # The undated form Cairn gave before its tokens expired.
    code, message, status = error_of(sfn.get_execution_history, executionArn=execution, nextToken="event:2")
    assert (code, message, status) == ("InvalidToken", "Invalid Token: 'event:2'", 400)
