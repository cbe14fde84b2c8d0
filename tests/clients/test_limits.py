"""Quotas through the API: AWS's by default, raised with cairn serve's flags (beyond AWS)."""

import json

import pytest
from botocore.exceptions import ClientError
from conftest import ROLE, serving, wait_until_done

PASS = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
# A Choice loop of 10,000 rounds: about 40,000 history events.
LOOP = json.dumps({
    "StartAt": "Inc",
    "States": {
        "Inc": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "Check"},
        "Check": {"Type": "Choice",
                  "Choices": [{"Variable": "$.n", "NumericEquals": 10000, "Next": "Done"}],
                  "Default": "Inc"},
        "Done": {"Type": "Succeed"},
    },
})


@pytest.fixture(scope="module")
def raised():
    yield from serving("cairn-limits-", "--max-payload-bytes", "10000000", "--max-history-events", "100000")


def run(sfn, name, definition, payload):
    machine = sfn.create_state_machine(name=name, definition=definition, roleArn=ROLE)
    started = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=payload)
    return wait_until_done(sfn, started["executionArn"])


def test_default_server_applies_aws_quotas(sfn):
    big = json.dumps({"blob": "a" * 300_000})
    machine = sfn.create_state_machine(name="limits-pass", definition=PASS, roleArn=ROLE)
    with pytest.raises(ClientError) as error:
        sfn.start_execution(stateMachineArn=machine["stateMachineArn"], input=big)
    # AWS's request validation answers this, counting bytes.
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"] == (
        "1 validation error detected: Value at 'input' failed to satisfy constraint: "
        "Member must have size less than or equal to 262144 bytes in UTF-8 encoding"
    )
    looped = run(sfn, "limits-loop", LOOP, '{"n": 0}')
    assert looped["status"] == "FAILED"
    history = sfn.get_execution_history(executionArn=looped["executionArn"], reverseOrder=True)
    failed = history["events"][0]["executionFailedEventDetails"]
    assert failed["error"] == "States.Runtime"
    assert "25000" in failed["cause"]


def test_raised_quotas_let_larger_workflows_run(raised):
    sfn = raised.client()
    # Over the 8 MiB request body cairn serve accepts by default.
    big = json.dumps({"blob": "a" * 9_000_000})
    passed = run(sfn, "limits-pass", PASS, big)
    assert passed["status"] == "SUCCEEDED"
    assert json.loads(passed["output"]) == json.loads(big)
    looped = run(sfn, "limits-loop", LOOP, '{"n": 0}')
    assert looped["status"] == "SUCCEEDED"
    assert json.loads(looped["output"]) == {"n": 10000}
