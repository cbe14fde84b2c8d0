"""The client matrix's scenario through the AWS CLI (which injects the `sync-` host prefix unless
told not to: the `aws` fixture sets AWS_DISABLE_HOST_PREFIX_INJECTION)."""

import json
import uuid

from conftest import ROLE


def test_cli_round_trip(aws, tmp_path):
    definition = tmp_path / "machine.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "hi", "End": True}}}))
    name = f"cli-{uuid.uuid4().hex[:8]}"
    tags = [{"key": "client", "value": "aws-cli"}, {"key": "team", "value": "cairn"}]
    created = aws(
        "create-state-machine", "--name", name, "--role-arn", ROLE, "--definition", f"file://{definition}",
        "--tags", json.dumps(tags),
    )
    machine = created["stateMachineArn"]
    # AWS CLI v1 prints the wire value: epoch seconds as a JSON number with a fraction.
    assert isinstance(created["creationDate"], float)
    started = aws("start-execution", "--state-machine-arn", machine, "--input", '{"x": 1}')
    described = aws("describe-execution", "--execution-arn", started["executionArn"])
    assert (described["status"], json.loads(described["output"])) == ("SUCCEEDED", "hi")

    # History two events a page: the CLI hands the server's nextToken back through --starting-token.
    events, pages, token = [], 0, None
    while True:
        paging = ["--page-size", "2", "--max-items", "2"] + (["--starting-token", token] if token else [])
        page = aws("get-execution-history", "--execution-arn", started["executionArn"], *paging)
        events.extend(page["events"])
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
        assert pages < 10, "the history never ran out"
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    assert [e["id"] for e in events] == [1, 2, 3, 4]
    assert pages == 2
    listed = aws("list-executions", "--state-machine-arn", machine)
    assert [e["executionArn"] for e in listed["executions"]] == [started["executionArn"]]

    express = aws(
        "create-state-machine", "--name", name + "-x", "--type", "EXPRESS", "--role-arn", ROLE,
        "--definition", f"file://{definition}", "--tags", json.dumps(tags),
    )["stateMachineArn"]
    result = aws("start-sync-execution", "--state-machine-arn", express, "--input", "{}")
    assert (result["status"], json.loads(result["output"])) == ("SUCCEEDED", "hi")

    tested = aws(
        "test-state", "--role-arn", ROLE, "--input", '{"n": 21}',
        "--definition", json.dumps({"Type": "Pass", "Parameters": {"d.$": "States.MathAdd($.n, $.n)"}, "End": True}),
    )
    assert (tested["status"], json.loads(tested["output"])) == ("SUCCEEDED", {"d": 42})

    for arn in (machine, express):
        listed_tags = aws("list-tags-for-resource", "--resource-arn", arn)["tags"]
        assert sorted(listed_tags, key=lambda t: t["key"]) == tags

    # Typed errors: the CLI names the modelled exception it mapped the __type to.
    missing = started["executionArn"] + "-nope"
    failed = aws("describe-execution", "--execution-arn", missing, check=False)
    assert failed.returncode != 0
    assert "An error occurred (ExecutionDoesNotExist) when calling the DescribeExecution operation" in failed.stderr
    failed = aws("describe-state-machine", "--state-machine-arn", machine + "-nope", check=False)
    assert failed.returncode != 0
    assert "StateMachineDoesNotExist" in failed.stderr
