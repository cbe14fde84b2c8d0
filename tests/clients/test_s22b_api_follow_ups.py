"""Follow-ups of the API work of issue 14, through `cairn serve` and boto3: `resourceName` on
TooManyTags and ResourceNotFound as botocore parses it, no redrive of an execution whose state
machine is DELETING, no new version or alias of one, and a Distributed Map that batches the
items of its own input.
"""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, wait_until_done

WAITS = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def refused(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def create(sfn, definition):
    return sfn.create_state_machine(name=unique("s22b"), definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]


def test_too_many_tags_and_resource_not_found_carry_the_resource_name(sfn):
    arn = create(sfn, WAITS)
    tags = [{"key": f"k{i}", "value": "v"} for i in range(51)]
    response = refused(sfn.tag_resource, resourceArn=arn, tags=tags)
    assert response["Error"]["Code"] == "TooManyTags"
    assert response["resourceName"] == arn
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400

    alias = f"{arn}:NOPE"
    response = refused(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
    assert response["Error"]["Code"] == "ResourceNotFound"
    assert response["resourceName"] == alias
    sfn.delete_state_machine(stateMachineArn=arn)


def test_a_deleting_state_machine_is_neither_redriven_nor_versioned(sfn):
    arn = create(sfn, WAITS)
    version = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    aborted = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    running = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    sfn.stop_execution(executionArn=aborted)
    assert sfn.describe_execution(executionArn=aborted)["redriveStatus"] == "REDRIVABLE"

    sfn.delete_state_machine(stateMachineArn=arn)
    assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "DELETING"
    response = refused(sfn.redrive_execution, executionArn=aborted)
    assert response["Error"]["Code"] == "ExecutionNotRedrivable"
    assert "State machine is in DELETING status" in response["Error"]["Message"]
    described = sfn.describe_execution(executionArn=aborted)
    assert described["redriveStatus"] == "NOT_REDRIVABLE"
    assert described["redriveStatusReason"] == "State machine is in DELETING status"

    for call, kwargs in [
        (sfn.publish_state_machine_version, {"stateMachineArn": arn}),
        (
            sfn.create_state_machine_alias,
            {"name": "LIVE", "routingConfiguration": [{"stateMachineVersionArn": version, "weight": 100}]},
        ),
    ]:
        assert refused(call, **kwargs)["Error"]["Code"] == "StateMachineDeleting"

    sfn.stop_execution(executionArn=running)
    response = refused(sfn.describe_state_machine, stateMachineArn=arn)
    assert response["Error"]["Code"] == "StateMachineDoesNotExist"


def test_a_distributed_map_batches_the_items_of_its_input(sfn):
    arn = create(
        sfn,
        {
            "StartAt": "Map",
            "States": {
                "Map": {
                    "Type": "Map",
                    "Label": "Batches",
                    "ItemsPath": "$.numbers",
                    "ItemBatcher": {"MaxItemsPerBatch": 3, "BatchInput": {"factor.$": "$.factor"}},
                    "ItemProcessor": {
                        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                        "StartAt": "P",
                        "States": {"P": {"Type": "Pass", "End": True}},
                    },
                    "End": True,
                }
            },
        },
    )
    numbers = list(range(1, 11))
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"numbers": numbers, "factor": 7}))[
        "executionArn"
    ]
    done = wait_until_done(sfn, execution)
    assert done["status"] == "SUCCEEDED"
    batches = json.loads(done["output"])
    assert [b["Items"] for b in batches] == [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10]]
    assert all(b["BatchInput"] == {"factor": 7} for b in batches)

    [run] = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    described = sfn.describe_map_run(mapRunArn=run["mapRunArn"])
    assert described["executionCounts"]["total"] == 4
    listed = sfn.list_executions(mapRunArn=run["mapRunArn"])["executions"]
    assert sorted(c["itemCount"] for c in listed) == [1, 3, 3, 3]
