"""Tags through boto3: state machines and activities, with AWS's limits and error names."""

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response["Error"]["Code"], raised.value.response["Error"]["Message"]


def tags(n, prefix="k"):
    return [{"key": f"{prefix}{i}", "value": f"v{i}"} for i in range(n)]


def test_tag_limits_on_state_machines_and_activities(sfn):
    created = sfn.create_state_machine(
        name=f"tags-{uuid.uuid4().hex[:10]}", definition=json.dumps(PASS), roleArn=ROLE, publish=True,
        tags=tags(10),
    )
    arn = created["stateMachineArn"]
    activity = sfn.create_activity(name=f"tags-{uuid.uuid4().hex[:10]}")["activityArn"]
    for resource in (arn, activity):
        sfn.tag_resource(resourceArn=resource, tags=tags(40, "x"))
        listed = sfn.list_tags_for_resource(resourceArn=resource)["tags"]
        assert len(listed) == (50 if resource == arn else 40)
        # Replacing a value does not add a tag.
        sfn.tag_resource(resourceArn=resource, tags=[{"key": "x0", "value": "changed"}])
        listed = {t["key"]: t["value"] for t in sfn.list_tags_for_resource(resourceArn=resource)["tags"]}
        assert listed["x0"] == "changed"
        code, _ = error_of(sfn.tag_resource, resourceArn=resource, tags=tags(11, "y"))
        assert code == "TooManyTags"
        code, message = error_of(sfn.tag_resource, resourceArn=resource, tags=[{"key": "aws:owner", "value": "x"}])
        assert code == "ValidationException" and "aws:" in message
        code, message = error_of(sfn.tag_resource, resourceArn=resource, tags=[{"key": "k" * 129, "value": "x"}])
        assert code == "ValidationException"
        assert message.endswith(
            "at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128"
        )
        code, _ = error_of(sfn.tag_resource, resourceArn=resource, tags=[{"key": "k", "value": "v" * 257}])
        assert code == "ValidationException"
        sfn.untag_resource(resourceArn=resource, tagKeys=["x0", "x1", "absent"])
        keys = {t["key"] for t in sfn.list_tags_for_resource(resourceArn=resource)["tags"]}
        assert "x0" not in keys and "x1" not in keys and "x2" in keys

    # Creating with more than 50 tags is refused too.
    code, _ = error_of(
        sfn.create_state_machine, name=f"tags-{uuid.uuid4().hex[:10]}", definition=json.dumps(PASS),
        roleArn=ROLE, tags=tags(51),
    )
    assert code == "TooManyTags"
    # Versions are not taggable resources (AWS answers ResourceNotFound).
    version = created["stateMachineVersionArn"]
    code, message = error_of(sfn.tag_resource, resourceArn=version, tags=tags(1))
    assert (code, message) == ("ResourceNotFound", f"Resource not found: '{version}'")
