"""State machine versions and aliases through boto3: publishing, weighted routing, and AWS's
rules and error names for them."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, wait_until_done


def passing(value):
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": value}, "End": True}}}


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def test_publish_route_and_split(sfn):
    created = sfn.create_state_machine(
        name=unique("ver"), definition=json.dumps(passing(1)), roleArn=ROLE, publish=True,
        versionDescription="first",
    )
    arn = created["stateMachineArn"]
    v1 = created["stateMachineVersionArn"]
    assert v1 == f"{arn}:1"

    updated = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(passing(2)))
    revision = updated["revisionId"]
    # The revision guard: a stale revision id is refused, the current one publishes.
    code, message = error_of(sfn.publish_state_machine_version, stateMachineArn=arn, revisionId="stale")
    assert code == "ConflictException"
    assert message == (
        f"Failed to publish the State Machine version for revision stale. "
        f"The current State Machine revision is {revision}."
    )
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn, revisionId=revision, description="second")[
        "stateMachineVersionArn"
    ]
    assert v2 == f"{arn}:2"
    # Idempotent per revision.
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == v2

    versions = sfn.list_state_machine_versions(stateMachineArn=arn)["stateMachineVersions"]
    assert [v["stateMachineVersionArn"] for v in versions] == [v2, v1]
    # Paged one at a time, newest first.
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1)
    assert [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]] == [v2]
    page = sfn.list_state_machine_versions(stateMachineArn=arn, maxResults=1, nextToken=page["nextToken"])
    assert [v["stateMachineVersionArn"] for v in page["stateMachineVersions"]] == [v1]
    assert "nextToken" not in page
    described = sfn.describe_state_machine(stateMachineArn=v1)
    assert described["stateMachineArn"] == v1
    assert json.loads(described["definition"]) == passing(1)
    assert described["description"] == "first"
    # Versions are immutable: UpdateStateMachine does not take a version ARN.
    code, message = error_of(sfn.update_state_machine, stateMachineArn=v1, definition=json.dumps(passing(3)))
    assert code == "StateMachineDoesNotExist"
    assert message == f"State Machine Does Not Exist: '{v1}'"

    alias = sfn.create_state_machine_alias(
        name="live",
        description="90/10",
        routingConfiguration=[
            {"stateMachineVersionArn": v1, "weight": 90},
            {"stateMachineVersionArn": v2, "weight": 10},
        ],
    )["stateMachineAliasArn"]
    assert alias == f"{arn}:live"

    counts = {v1: 0, v2: 0}
    started = [sfn.start_execution(stateMachineArn=alias)["executionArn"] for _ in range(200)]
    started_through_alias = started[0]
    for execution in started:
        done = wait_until_done(sfn, execution)
        assert done["status"] == "SUCCEEDED"
        assert done["stateMachineArn"] == arn
        assert done["stateMachineAliasArn"] == alias
        version = done["stateMachineVersionArn"]
        counts[version] += 1
        # The version routed to is the definition that ran.
        assert json.loads(done["output"]) == {"v": 1 if version == v1 else 2}
    # 10% of 200 is 20 (standard deviation 4.2): 4..42 fails by chance far less than once
    # in a million runs.
    assert 4 <= counts[v2] <= 42, counts
    assert counts[v1] + counts[v2] == 200

    # ListExecutions on the alias lists what it started; on a version, what that version ran.
    through_alias = sfn.list_executions(stateMachineArn=alias, maxResults=1000)["executions"]
    assert len(through_alias) == 200
    direct = sfn.start_execution(stateMachineArn=v2)["executionArn"]
    done = wait_until_done(sfn, direct)
    assert done["stateMachineVersionArn"] == v2 and "stateMachineAliasArn" not in done
    # ExecutionStarted names the version and alias, as AWS's does.
    first = sfn.get_execution_history(executionArn=direct)["events"][0]["executionStartedEventDetails"]
    assert first["stateMachineVersionArn"] == v2 and "stateMachineAliasArn" not in first
    first = sfn.get_execution_history(executionArn=started_through_alias)["events"][0]["executionStartedEventDetails"]
    assert first["stateMachineAliasArn"] == alias
    assert first["stateMachineVersionArn"] in (v1, v2)
    for_v2 = sfn.list_executions(stateMachineArn=v2, maxResults=1000)["executions"]
    assert len(for_v2) == counts[v2] + 1
    for_execution = sfn.describe_state_machine_for_execution(executionArn=direct)
    assert json.loads(for_execution["definition"]) == passing(2)
    assert for_execution["revisionId"] == revision

    # A version an alias routes to cannot be deleted.
    code, message = error_of(sfn.delete_state_machine_version, stateMachineVersionArn=v2)
    assert code == "ConflictException"
    assert message == (
        "Version to be deleted must not be referenced by an alias. "
        "Current list of aliases referencing this version: [live]"
    )
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": v1, "weight": 100}]
    )
    described = sfn.describe_state_machine_alias(stateMachineAliasArn=alias)
    assert described["routingConfiguration"] == [{"stateMachineVersionArn": v1, "weight": 100}]
    assert described["name"] == "live" and described["description"] == "90/10"
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)
    sfn.delete_state_machine_version(stateMachineVersionArn=v2)  # idempotent
    assert [v["stateMachineVersionArn"] for v in sfn.list_state_machine_versions(stateMachineArn=arn)[
        "stateMachineVersions"]] == [v1]
    # Numbers are never reused after a deletion.
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(passing(4)))
    assert sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"] == f"{arn}:3"

    aliases = sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"]
    assert [a["stateMachineAliasArn"] for a in aliases] == [alias]
    sfn.delete_state_machine_alias(stateMachineAliasArn=alias)
    assert sfn.list_state_machine_aliases(stateMachineArn=arn)["stateMachineAliases"] == []
    code, _ = error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=alias)
    assert code == "ResourceNotFound"


def test_alias_rules_and_errors(sfn):
    created = sfn.create_state_machine(
        name=unique("rules"), definition=json.dumps(passing(1)), roleArn=ROLE, publish=True
    )
    arn, v1 = created["stateMachineArn"], created["stateMachineVersionArn"]

    code, message = error_of(
        sfn.create_state_machine, name=unique("nopub"), definition=json.dumps(passing(1)), roleArn=ROLE,
        versionDescription="x",
    )
    assert (code, message) == ("ValidationException", "Version description can only be set when publish is true")

    def create_alias(name="a", routes=None):
        return sfn.create_state_machine_alias(
            name=name, routingConfiguration=routes or [{"stateMachineVersionArn": v1, "weight": 100}]
        )

    code, message = error_of(create_alias, name="123")
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '123' at 'name' failed to satisfy constraint")
    code, message = error_of(create_alias, routes=[{"stateMachineVersionArn": arn, "weight": 100}])
    assert (code, message) == (
        "ValidationException",
        f"Routing configuration must contain state machine version ARNs. Received: [{arn}]",
    )
    code, message = error_of(
        create_alias,
        routes=[{"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v1, "weight": 30}],
    )
    assert message == f"Routing configuration must contain distinct state machine version ARNs. Received: [{v1}, {v1}]"
    sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(passing(2)))
    v2 = sfn.publish_state_machine_version(stateMachineArn=arn)["stateMachineVersionArn"]
    code, message = error_of(
        create_alias,
        routes=[{"stateMachineVersionArn": v1, "weight": 70}, {"stateMachineVersionArn": v2, "weight": 29}],
    )
    assert (code, message) == ("ValidationException", "Sum of routing configuration weights must equal 100. Received: [70, 29]")
    code, message = error_of(
        create_alias,
        routes=[{"stateMachineVersionArn": v1, "weight": 101}, {"stateMachineVersionArn": v2, "weight": 0}],
    )
    assert message == (
        "1 validation error detected: Value '101' at 'routingConfiguration.1.member.weight' failed to "
        "satisfy constraint: Member must have value less than or equal to 100"
    )

    # Creating the same alias again is idempotent; a different routing is a conflict.
    first = create_alias()
    assert create_alias()["stateMachineAliasArn"] == first["stateMachineAliasArn"]
    code, message = error_of(create_alias, routes=[{"stateMachineVersionArn": v2, "weight": 100}])
    assert (code, message) == (
        "ConflictException",
        "Failed to create alias because an alias with the same name and a different routing configuration already exists.",
    )
    code, message = error_of(
        sfn.update_state_machine_alias, stateMachineAliasArn=f"{arn}:missing", description="x"
    )
    assert (code, message) == ("ResourceNotFound", "Request references a resource that does not exist.")
    code, _ = error_of(sfn.start_execution, stateMachineArn=f"{arn}:99")
    assert code == "StateMachineDoesNotExist"

    # Deleting the state machine deletes its versions and aliases.
    sfn.delete_state_machine(stateMachineArn=arn)
    code, _ = error_of(sfn.describe_state_machine, stateMachineArn=v1)
    assert code == "StateMachineDoesNotExist"
    code, _ = error_of(sfn.describe_state_machine_alias, stateMachineAliasArn=first["stateMachineAliasArn"])
    assert code == "ResourceNotFound"
