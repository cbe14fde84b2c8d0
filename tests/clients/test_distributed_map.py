"""A Distributed Map as AWS runs it, through `cairn serve` and boto3: items read from a CSV
object in S3 (moto), results exported to S3 by the ResultWriter with AWS's manifest, and the
Map Run API (DescribeMapRun, ListMapRuns) answering for the run.

moto comes from tests/emulators/start.sh (tests/run.sh exports CAIRN_TEST_MOTO). Without it
these tests skip, or fail when CAIRN_REQUIRE_EMULATORS=1.
"""

import json
import os
import time
import uuid

import boto3
import pytest

from conftest import REGION, ROLE, emulator_env, require_emulator, serving, wait_until_done

MOTO = os.environ.get("CAIRN_TEST_MOTO")
ITEMS = int(os.environ.get("CAIRN_DMAP_ITEMS", "100000"))


@pytest.fixture(scope="module")
def server():
    require_emulator("CAIRN_TEST_MOTO")
    yield from serving("cairn-dmap-", env=emulator_env(AWS_ENDPOINT_URL=MOTO))


@pytest.fixture
def sfn(server):
    return server.client()


@pytest.fixture(scope="module")
def s3():
    require_emulator("CAIRN_TEST_MOTO")
    return boto3.client(
        "s3", endpoint_url=MOTO, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test"
    )


@pytest.fixture(scope="module")
def bucket(s3):
    name = f"dmap-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def read_json(s3, bucket, key):
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def create(sfn, definition, kind="STANDARD"):
    return sfn.create_state_machine(
        name=f"dmap-{uuid.uuid4().hex[:12]}", definition=json.dumps(definition), roleArn=ROLE, type=kind
    )["stateMachineArn"]


def distributed_map(processor, **fields):
    return {
        "StartAt": "Map",
        "States": {
            "Map": {
                "Type": "Map",
                "Label": "Rows",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                    "StartAt": "P",
                    "States": processor,
                },
                "End": True,
                **fields,
            }
        },
    }


def test_csv_of_100000_rows_exports_results_with_the_manifest(sfn, s3, bucket):
    rows = ["id,name,amount"] + [f"{i},item-{i},{i % 97}" for i in range(ITEMS)]
    s3.put_object(Bucket=bucket, Key="in/rows.csv", Body="\n".join(rows).encode())
    definition = distributed_map(
        {"P": {"Type": "Pass", "Parameters": {"id.$": "$.id", "double.$": "States.MathAdd($.amount, $.amount)"}, "End": True}},
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
            "Parameters": {"Bucket.$": "$.bucket", "Key": "in/rows.csv"},
        },
        ItemSelector={"id.$": "$$.Map.Item.Value.id", "amount.$": "States.StringToJson($$.Map.Item.Value.amount)"},
        MaxConcurrency=1000,
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket.$": "$.bucket", "Prefix": "out"},
        },
    )
    arn = create(sfn, definition)
    started = time.time()
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"bucket": bucket}))["executionArn"]
    described = wait_until_done(sfn, execution, timeout=1200)
    elapsed = time.time() - started
    assert described["status"] == "SUCCEEDED", described
    print(f"\nDistributed Map: {ITEMS} items in {elapsed:.1f}s through cairn serve, {ITEMS / elapsed:.0f} items/s")

    output = json.loads(described["output"])
    run_arn = output["MapRunArn"]
    machine_name = arn.rsplit(":", 1)[1]
    assert run_arn.startswith(f"arn:aws:states:{REGION}:123456789012:mapRun:{machine_name}/Rows:")
    run_id = run_arn.rsplit(":", 1)[1]
    assert output["ResultWriterDetails"] == {"Bucket": bucket, "Key": f"out/{run_id}/manifest.json"}

    manifest = read_json(s3, bucket, f"out/{run_id}/manifest.json")
    assert manifest["DestinationBucket"] == bucket
    assert manifest["MapRunArn"] == run_arn
    assert manifest["ResultFiles"]["FAILED"] == []
    assert manifest["ResultFiles"]["PENDING"] == []
    [listed] = manifest["ResultFiles"]["SUCCEEDED"]
    assert listed["Key"] == f"out/{run_id}/SUCCEEDED_0.json"
    head = s3.head_object(Bucket=bucket, Key=listed["Key"])
    assert head["ContentLength"] == listed["Size"]

    succeeded = read_json(s3, bucket, listed["Key"])
    assert len(succeeded) == ITEMS
    last = succeeded[-1]
    assert set(last) == {
        "ExecutionArn", "Input", "InputDetails", "Name", "Output", "OutputDetails", "RedriveCount",
        "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate",
    }
    n = ITEMS - 1
    assert json.loads(last["Input"]) == {"id": str(n), "amount": n % 97}
    assert json.loads(last["Output"]) == {"id": str(n), "double": 2 * (n % 97)}
    assert last["Status"] == "SUCCEEDED"
    assert last["ExecutionArn"] == f"arn:aws:states:{REGION}:123456789012:execution:{machine_name}/Rows:{last['Name']}"
    assert last["StateMachineArn"] == f"arn:aws:states:{REGION}:123456789012:stateMachine:{machine_name}/Rows"
    assert len({r["Name"] for r in succeeded}) == ITEMS, "each child execution has its own name"

    # The Map Run API answers for the run that wrote them.
    run = sfn.describe_map_run(mapRunArn=run_arn)
    assert run["executionArn"] == execution
    assert run["status"] == "SUCCEEDED"
    assert run["maxConcurrency"] == 1000
    assert run["startDate"] <= run["stopDate"]
    for counts in (run["itemCounts"], run["executionCounts"]):
        assert counts["total"] == ITEMS
        assert counts["succeeded"] == ITEMS
        assert counts["failed"] == counts["pending"] == counts["running"] == 0
    [listed_run] = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    assert listed_run["mapRunArn"] == run_arn
    assert listed_run["executionArn"] == execution
    assert listed_run["stateMachineArn"] == last["StateMachineArn"]
    # The ended run's children are executions of their own, listed newest first as
    # ListExecutions lists, a page at a time.
    children = sfn.list_executions(mapRunArn=run_arn, maxResults=50)
    assert len(children["executions"]) == 50 and "nextToken" in children
    following = sfn.list_executions(mapRunArn=run_arn, maxResults=50, nextToken=children["nextToken"])
    assert len(following["executions"]) == 50
    page = children["executions"] + following["executions"]
    by_arn = {r["ExecutionArn"]: r for r in succeeded}
    assert len({c["executionArn"] for c in page}) == 100
    assert all(c["executionArn"] in by_arn for c in page)
    starts = [c["startDate"] for c in page]
    assert starts == sorted(starts, reverse=True)
    first = page[0]
    assert first["mapRunArn"] == run_arn
    assert first["status"] == "SUCCEEDED"
    assert first["stateMachineArn"] == last["StateMachineArn"]
    child = sfn.describe_execution(executionArn=first["executionArn"])
    assert child["mapRunArn"] == run_arn
    assert child["status"] == "SUCCEEDED"
    exported = by_arn[first["executionArn"]]
    assert json.loads(child["input"]) == json.loads(exported["Input"])
    assert json.loads(child["output"]) == json.loads(exported["Output"])
    # EXPRESS children run inside their parent (AWS keeps no history of an Express
    # execution): each is stored when the run ends, its history its start and end.
    events = sfn.get_execution_history(executionArn=first["executionArn"])["events"]
    assert [e["type"] for e in events] == ["ExecutionStarted", "ExecutionSucceeded"]


def test_failed_children_go_to_failed_file_and_pending_when_the_threshold_is_exceeded(sfn, s3, bucket):
    definition = distributed_map(
        {
            "Check": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.bad", "BooleanEquals": True, "Next": "Boom"}],
                "Default": "Ok",
            },
            "Boom": {"Type": "Fail", "Error": "Bad.Row", "Cause": "row is bad"},
            "Ok": {"Type": "Succeed"},
        },
        MaxConcurrency=1,
        ToleratedFailureCount=1,
        ResultWriter={
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket": bucket, "Prefix": "fails/"},
        },
    )
    definition["States"]["Map"]["ItemProcessor"]["StartAt"] = "Check"
    arn = create(sfn, definition)
    items = [{"bad": False}, {"bad": True}, {"bad": False}, {"bad": True}, {"bad": False}, {"bad": False}]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(items))["executionArn"]
    described = wait_until_done(sfn, execution, timeout=60)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.ExceedToleratedFailureThreshold"

    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="fails/")["Contents"]]
    [manifest_key] = [k for k in keys if k.endswith("/manifest.json")]
    manifest = read_json(s3, bucket, manifest_key)
    failed = read_json(s3, bucket, manifest["ResultFiles"]["FAILED"][0]["Key"])
    assert [(f["Status"], f["Error"], f["Cause"]) for f in failed] == [("FAILED", "Bad.Row", "row is bad")] * 2
    succeeded = read_json(s3, bucket, manifest["ResultFiles"]["SUCCEEDED"][0]["Key"])
    assert len(succeeded) == 2
    pending = read_json(s3, bucket, manifest["ResultFiles"]["PENDING"][0]["Key"])
    assert [json.loads(p["Input"]) for p in pending] == [{"bad": False}, {"bad": False}]

    # The failed children are executions of their own, with their error and cause.
    [run] = sfn.list_map_runs(executionArn=execution)["mapRuns"]
    failed_children = sfn.list_executions(mapRunArn=run["mapRunArn"], statusFilter="FAILED")["executions"]
    assert len(failed_children) == 2
    for listed in failed_children:
        child = sfn.describe_execution(executionArn=listed["executionArn"])
        assert (child["status"], child["error"], child["cause"]) == ("FAILED", "Bad.Row", "row is bad")
        assert json.loads(child["input"]) == {"bad": True}
        assert child["redriveStatus"] == "REDRIVABLE_BY_MAP_RUN"
    counts = sfn.describe_map_run(mapRunArn=run["mapRunArn"])["executionCounts"]
    assert (counts["succeeded"], counts["failed"], counts["pending"], counts["total"]) == (2, 2, 2, 6)


def test_map_run_api_while_the_run_goes_on(sfn):
    definition = distributed_map(
        {"P": {"Type": "Wait", "Seconds": 2, "End": True}},
        MaxConcurrency=2,
        ToleratedFailurePercentage=25,
    )
    definition["States"]["Map"]["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] = "STANDARD"
    arn = create(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps([1, 2, 3, 4, 5]))["executionArn"]
    deadline = time.time() + 10
    runs = []
    while not runs and time.time() < deadline:
        runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
        time.sleep(0.05)
    [listed] = runs
    assert "stopDate" not in listed
    run = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert run["status"] == "RUNNING"
    assert run["toleratedFailurePercentage"] == 25.0
    assert run["itemCounts"]["total"] == 5
    assert run["itemCounts"]["running"] == 2
    assert run["itemCounts"]["pending"] == 3
    running = sfn.list_executions(mapRunArn=listed["mapRunArn"], statusFilter="RUNNING")["executions"]
    assert len(running) == 2 and "stopDate" not in running[0]
    # A running STANDARD child is an execution of its own: described, with the history it
    # has so far.
    child = running[0]["executionArn"]
    deadline = time.time() + 5
    while True:
        try:
            described_child = sfn.describe_execution(executionArn=child)
            break
        except sfn.exceptions.ExecutionDoesNotExist:
            # Listed as soon as its parent asked for it; stored once its start is written.
            assert time.time() < deadline
            time.sleep(0.02)
    assert described_child["status"] == "RUNNING"
    assert described_child["mapRunArn"] == listed["mapRunArn"]
    assert json.loads(described_child["input"]) in [1, 2]
    history = sfn.get_execution_history(executionArn=child)["events"]
    assert [e["type"] for e in history] == ["ExecutionStarted", "WaitStateEntered"]

    # UpdateMapRun raises the concurrency of the run under way: the pending items start.
    sfn.update_map_run(mapRunArn=listed["mapRunArn"], maxConcurrency=5, toleratedFailureCount=2)
    updated = sfn.describe_map_run(mapRunArn=listed["mapRunArn"])
    assert updated["maxConcurrency"] == 5
    assert updated["toleratedFailureCount"] == 2
    assert updated["itemCounts"]["pending"] == 0
    with pytest.raises(sfn.exceptions.ClientError) as refused:
        sfn.update_map_run(mapRunArn=listed["mapRunArn"], toleratedFailurePercentage=101)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert wait_until_done(sfn, execution, timeout=30)["status"] == "SUCCEEDED"
    assert sfn.describe_map_run(mapRunArn=listed["mapRunArn"])["itemCounts"]["succeeded"] == 5

    missing = listed["mapRunArn"].rsplit(":", 1)[0] + ":00000000-0000-0000-0000-000000000000"
    with pytest.raises(sfn.exceptions.ResourceNotFound):
        sfn.describe_map_run(mapRunArn=missing)
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_map_run(mapRunArn="arn:aws:states:us-east-1:123456789012:execution:x:y")


def test_s3_inventory_manifest_and_its_gzipped_data_files(sfn, s3, bucket):
    import gzip

    rows = [f'"{bucket}","objects/{i}.txt","{i}","2022-11-16T00:29:32.000Z"' for i in range(5)]
    s3.put_object(Bucket=bucket, Key="inv/data/a.csv.gz", Body=gzip.compress("\n".join(rows[:3]).encode()))
    s3.put_object(Bucket=bucket, Key="inv/data/b.csv.gz", Body=gzip.compress("\n".join(rows[3:]).encode()))
    manifest = {
        "sourceBucket": bucket,
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2016-11-30",
        "creationTimestamp": "1668560400000",
        "fileFormat": "CSV",
        "fileSchema": "Bucket, Key, Size, LastModifiedDate",
        "files": [{"key": "inv/data/a.csv.gz", "size": 1}, {"key": "inv/data/b.csv.gz", "size": 1}],
    }
    s3.put_object(Bucket=bucket, Key="inv/manifest.json", Body=json.dumps(manifest).encode())
    definition = distributed_map(
        {"P": {"Type": "Pass", "End": True}},
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "MANIFEST"},
            "Parameters": {"Bucket": bucket, "Key": "inv/manifest.json"},
        },
    )
    arn = create(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    described = wait_until_done(sfn, execution, timeout=60)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert len(output) == 5
    assert output[4] == {"Bucket": bucket, "Key": "objects/4.txt", "Size": "4", "LastModifiedDate": "2022-11-16T00:29:32.000Z"}


def run_map(sfn, definition, payload=None):
    arn = create(sfn, definition)
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(payload or {}))["executionArn"]
    described = wait_until_done(sfn, execution, timeout=60)
    assert described["status"] == "SUCCEEDED", described
    return json.loads(described["output"])


def test_reader_formats_and_batches_through_s3(sfn, s3, bucket):
    s3.put_object(Bucket=bucket, Key="fmt/rows.jsonl", Body=b'{"n": 1}\n{"n": 2}\n\n{"n": 3}\n')
    s3.put_object(Bucket=bucket, Key="fmt/rows.psv", Body=b"a|b\nc|d\n")
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"fmt/list/{i}.txt", Body=b"x" * (i + 1))
    identity = {"P": {"Type": "Pass", "End": True}}

    # JSON Lines, batched two at a time with a BatchInput, MaxItems cutting the third line.
    out = run_map(sfn, distributed_map(
        identity,
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "JSONL", "MaxItems": 2},
            "Parameters": {"Bucket": bucket, "Key": "fmt/rows.jsonl"},
        },
        ItemBatcher={"MaxItemsPerBatch": 2, "BatchInput": {"source": "jsonl"}},
    ))
    assert out == [{"BatchInput": {"source": "jsonl"}, "Items": [{"n": 1}, {"n": 2}]}]

    # CSV with given headers and a PIPE delimiter.
    out = run_map(sfn, distributed_map(
        identity,
        ItemReader={
            "Resource": "arn:aws:states:::s3:getObject",
            "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["x", "y"], "CSVDelimiter": "PIPE"},
            "Parameters": {"Bucket": bucket, "Key": "fmt/rows.psv"},
        },
    ))
    assert out == [{"x": "a", "y": "b"}, {"x": "c", "y": "d"}]

    # The objects under a prefix (ListObjectsV2), as AWS lists them for a map.
    out = run_map(sfn, distributed_map(
        identity,
        ItemReader={"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": bucket, "Prefix": "fmt/list/"}},
    ))
    assert [(o["Key"], o["Size"]) for o in out] == [(f"fmt/list/{i}.txt", i + 1) for i in range(3)]
    assert set(out[0]) == {"Etag", "Key", "LastModified", "Size", "StorageClass"}
