"""The fields AWS added to existing actions, through boto3: encryptionConfiguration, includedData,
variableReferences, traceHeader (body and X-Amzn-Trace-Id header) and Distributed Map label ARNs."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, wait_until_done

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}

VARIABLES = {
    "StartAt": "Set",
    "States": {
        "Set": {"Type": "Pass", "Assign": {"greeting": "hello", "count.$": "$.n"}, "Next": "Use"},
        "Use": {
            "Type": "Pass",
            "Parameters": {"text.$": "States.Format('{} {}', $greeting, $count)"},
            "Next": "Late",
        },
        "Late": {
            "Type": "Pass",
            "QueryLanguage": "JSONata",
            "Output": "{% $count + $sum([1, 2]) %}",
            "End": True,
        },
    },
}

LABELED = {
    "StartAt": "Items",
    "States": {
        "Items": {
            "Type": "Map",
            "Label": "Fanout",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Each",
                "States": {"Each": {"Type": "Pass", "End": True}},
            },
            "End": True,
        }
    },
}

KEY = "arn:aws:kms:us-east-1:123456789012:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def test_encryption_configuration_is_stored_answered_and_checked(sfn):
    plain = sfn.create_state_machine(name=name("enc"), definition=json.dumps(PASS), roleArn=ROLE)
    described = sfn.describe_state_machine(stateMachineArn=plain["stateMachineArn"])
    assert described["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}

    customer = {"type": "CUSTOMER_MANAGED_KMS_KEY", "kmsKeyId": KEY}
    machine_name = name("enc")
    created = sfn.create_state_machine(
        name=machine_name, definition=json.dumps(PASS), roleArn=ROLE, encryptionConfiguration=customer
    )
    arn = created["stateMachineArn"]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["encryptionConfiguration"] == {**customer, "kmsDataKeyReusePeriodSeconds": 300}

    # Idempotent only with the same encryption configuration.
    again = sfn.create_state_machine(
        name=machine_name, definition=json.dumps(PASS), roleArn=ROLE, encryptionConfiguration=customer
    )
    assert again["creationDate"] == created["creationDate"]
    response = error_of(sfn.create_state_machine, name=machine_name, definition=json.dumps(PASS), roleArn=ROLE)
    assert response["Error"]["Code"] == "StateMachineAlreadyExists"
    # AWS ignores (and does not apply) another role; another tracing configuration is a conflict.
    other_role = sfn.create_state_machine(
        name=machine_name,
        definition=json.dumps(PASS),
        roleArn=ROLE + "-other",
        encryptionConfiguration=customer,
    )
    assert other_role["creationDate"] == created["creationDate"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["roleArn"] == ROLE
    response = error_of(
        sfn.create_state_machine,
        name=machine_name,
        definition=json.dumps(PASS),
        roleArn=ROLE,
        encryptionConfiguration=customer,
        tracingConfiguration={"enabled": True},
    )
    assert response["Error"]["Code"] == "StateMachineAlreadyExists"

    # UpdateStateMachine takes it alone.
    sfn.update_state_machine(
        stateMachineArn=arn,
        encryptionConfiguration={**customer, "kmsDataKeyReusePeriodSeconds": 900},
    )
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["encryptionConfiguration"]["kmsDataKeyReusePeriodSeconds"] == 900

    response = error_of(
        sfn.create_state_machine,
        name=name("enc"),
        definition=json.dumps(PASS),
        roleArn=ROLE,
        encryptionConfiguration={"type": "CUSTOMER_MANAGED_KMS_KEY"},
    )
    assert response["Error"]["Code"] == "InvalidEncryptionConfiguration"
    # botocore checks no maximum: the server's range check answers.
    response = error_of(
        sfn.update_state_machine,
        stateMachineArn=arn,
        encryptionConfiguration={**customer, "kmsDataKeyReusePeriodSeconds": 1000},
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert "kmsDataKeyReusePeriodSeconds" in response["Error"]["Message"]

    activity_name = name("enc")
    activity = sfn.create_activity(name=activity_name, encryptionConfiguration=customer)["activityArn"]
    described = sfn.describe_activity(activityArn=activity)
    assert described["encryptionConfiguration"] == {**customer, "kmsDataKeyReusePeriodSeconds": 300}
    response = error_of(sfn.create_activity, name=activity_name)
    assert response["Error"]["Code"] == "ActivityAlreadyExists"
    plain_activity = sfn.create_activity(name=name("enc"))["activityArn"]
    assert sfn.describe_activity(activityArn=plain_activity)["encryptionConfiguration"] == {"type": "AWS_OWNED_KEY"}


def test_included_data_metadata_only(sfn):
    arn = sfn.create_state_machine(name=name("meta"), definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    assert sfn.describe_state_machine(stateMachineArn=arn)["definition"] == json.dumps(PASS)
    meta = sfn.describe_state_machine(stateMachineArn=arn, includedData="METADATA_ONLY")
    assert meta["definition"] == "{}"
    assert meta["roleArn"] == ROLE

    execution = sfn.start_execution(stateMachineArn=arn, input='{"secret": 1}')["executionArn"]
    done = wait_until_done(sfn, execution)
    assert done["input"] == '{"secret": 1}'
    meta = sfn.describe_execution(executionArn=execution, includedData="METADATA_ONLY")
    assert "input" not in meta and "output" not in meta
    assert meta["inputDetails"] == {"included": False}
    assert meta["outputDetails"] == {"included": False}
    assert meta["status"] == "SUCCEEDED"

    express = sfn.create_state_machine(
        name=name("meta"), definition=json.dumps(PASS), roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    sync = sfn.start_sync_execution(stateMachineArn=express, input='{"a": 1}', includedData="METADATA_ONLY")
    assert sync["status"] == "SUCCEEDED"
    assert "input" not in sync and "output" not in sync
    assert sync["inputDetails"] == {"included": False}
    full = sfn.start_sync_execution(stateMachineArn=express, input='{"a": 1}')
    assert json.loads(full["output"]) == {"a": 1}


def test_variable_references(sfn):
    arn = sfn.create_state_machine(name=name("vars"), definition=json.dumps(VARIABLES), roleArn=ROLE)[
        "stateMachineArn"
    ]
    described = sfn.describe_state_machine(stateMachineArn=arn)
    assert described["variableReferences"] == {"Use": ["greeting", "count"], "Late": ["count"]}
    execution = sfn.start_execution(stateMachineArn=arn, input='{"n": 2}')["executionArn"]
    assert wait_until_done(sfn, execution)["status"] == "SUCCEEDED"
    for_execution = sfn.describe_state_machine_for_execution(executionArn=execution)
    assert for_execution["variableReferences"] == described["variableReferences"]

    plain = sfn.create_state_machine(name=name("vars"), definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
    assert "variableReferences" not in sfn.describe_state_machine(stateMachineArn=plain)


def test_trace_header_checked_and_answered(sfn):
    express = sfn.create_state_machine(
        name=name("trace"), definition=json.dumps(PASS), roleArn=ROLE, type="EXPRESS"
    )["stateMachineArn"]
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"
    sync = sfn.start_sync_execution(stateMachineArn=express, traceHeader=header)
    assert sync["traceHeader"] == header

    # The X-Amzn-Trace-Id header wins over the body's traceHeader, as AWS prefers it.
    from_header = "Root=1-00000000-000000000000000000000001"

    def add_header(request, **_):
        request.headers["X-Amzn-Trace-Id"] = from_header

    sfn.meta.events.register_first("before-sign.stepfunctions.StartSyncExecution", add_header)
    try:
        sync = sfn.start_sync_execution(stateMachineArn=express, traceHeader=header)
    finally:
        sfn.meta.events.unregister("before-sign.stepfunctions.StartSyncExecution", add_header)
    assert sync["traceHeader"] == from_header

    standard = sfn.create_state_machine(name=name("trace"), definition=json.dumps(PASS), roleArn=ROLE)[
        "stateMachineArn"
    ]
    response = error_of(sfn.start_execution, stateMachineArn=standard, traceHeader="é")
    assert response["Error"]["Code"] == "ValidationException"
    assert "traceHeader" in response["Error"]["Message"]

    # A Standard execution keeps its header: DescribeExecution answers it, as AWS does.
    traced = sfn.start_execution(stateMachineArn=standard, traceHeader=header)["executionArn"]
    wait_until_done(sfn, traced)
    assert sfn.describe_execution(executionArn=traced)["traceHeader"] == header
    untraced = sfn.start_execution(stateMachineArn=standard)["executionArn"]
    assert "traceHeader" not in sfn.describe_execution(executionArn=untraced)


def test_distributed_map_label_arns(sfn):
    arn = sfn.create_state_machine(name=name("label"), definition=json.dumps(LABELED), roleArn=ROLE)[
        "stateMachineArn"
    ]
    labeled = f"{arn}/Fanout"
    response = error_of(sfn.start_execution, stateMachineArn=labeled)
    assert response["Error"]["Code"] == "ValidationException"
    assert response["reason"] == "API_DOES_NOT_SUPPORT_LABELED_ARNS"

    described = sfn.describe_state_machine(stateMachineArn=labeled)
    assert described["label"] == "Fanout"
    assert described["stateMachineArn"] == labeled
    assert json.loads(described["definition"])["StartAt"] == "Each"

    response = error_of(sfn.describe_state_machine, stateMachineArn=f"{arn}/NoSuchLabel")
    assert response["Error"]["Code"] == "StateMachineDoesNotExist"


def test_validate_definition_severity_and_max_results(sfn):
    broken = json.dumps(
        {
            "StartAt": "A",
            "States": {
                "A": {"Type": "Task", "Next": "B"},
                "B": {"Type": "Task", "Next": "C"},
                "C": {"Type": "Task", "End": True},
            },
        }
    )
    full = sfn.validate_state_machine_definition(definition=broken)
    assert full["result"] == "FAIL"
    assert len(full["diagnostics"]) >= 2
    assert full["truncated"] is False
    assert all(d["severity"] == "ERROR" for d in full["diagnostics"])
    one = sfn.validate_state_machine_definition(definition=broken, maxResults=1)
    assert one["diagnostics"] == full["diagnostics"][:1]
    assert one["truncated"] is True
    response = error_of(sfn.validate_state_machine_definition, definition=broken, maxResults=101)
    assert response["Error"]["Code"] == "ValidationException"
