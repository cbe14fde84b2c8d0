"""The same API through the AWS CLI (which injects the `sync-` host prefix unless told not to)."""

import json
import uuid

from conftest import ROLE


def test_cli_round_trip(aws, tmp_path):
    definition = tmp_path / "machine.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "hi", "End": True}}}))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    created = aws("create-state-machine", "--name", name, "--role-arn", ROLE, "--definition", f"file://{definition}")
    machine = created["stateMachineArn"]
    started = aws("start-execution", "--state-machine-arn", machine, "--input", '{"x": 1}')
    described = aws("describe-execution", "--execution-arn", started["executionArn"])
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", "hi")
    events = aws("get-execution-history", "--execution-arn", started["executionArn"])["events"]
    assert events[-1]["type"] == "ExecutionSucceeded"
    listed = aws("list-executions", "--state-machine-arn", machine)
    assert [e["executionArn"] for e in listed["executions"]] == [started["executionArn"]]

    express = aws(
        "create-state-machine", "--name", name + "-x", "--type", "EXPRESS", "--role-arn", ROLE,
        "--definition", f"file://{definition}",
    )["stateMachineArn"]
    result = aws("start-sync-execution", "--state-machine-arn", express, "--input", "{}")
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", "hi")

    failed = aws("describe-state-machine", "--state-machine-arn", machine + "-nope", check=False)
    assert failed.returncode != 0
    assert "StateMachineDoesNotExist" in failed.stderr
