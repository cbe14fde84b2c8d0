"""The functions' IAM permissions match what their code calls.

Emulators check no permissions, so a call the template does not allow would only fail in a
real account. This reads the AWS SDK operations the functions' Rust code makes (the DynamoDB
store and the serverless engine, test modules left out) and the policies template.yaml
attaches to each function, and fails when a call is not granted to the function that makes it,
or when a granted action is used by no code. What Task states call is the user's to grant
(the TaskPolicyArn parameter), so the integrations are not read here.

Run with a Python that has cfn-lint (tests/serverless/run.sh uses the emulators' virtualenv):
`python tests/serverless/permissions.py`.
"""

import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]

# The Rust code every function runs (the three binaries share the engine and the store).
SOURCES = [
    "shared/store-dynamodb/src",
    "functions/core/src",
    "functions/api/src",
    "functions/advance/src",
    "functions/schedule/src",
]

# SDK operation (as the Rust SDK names its builder) -> the IAM actions it needs.
OPERATIONS = {
    "get_item": ["dynamodb:GetItem"],
    "put_item": ["dynamodb:PutItem"],
    "delete_item": ["dynamodb:DeleteItem"],
    "update_item": ["dynamodb:UpdateItem"],
    "query": ["dynamodb:Query"],
    "scan": ["dynamodb:Scan"],
    "batch_get_item": ["dynamodb:BatchGetItem"],
    "batch_write_item": ["dynamodb:BatchWriteItem"],
    "put_events": ["events:PutEvents"],
    "send_message": ["sqs:SendMessage"],
    "send_message_batch": ["sqs:SendMessage"],
    "publish": ["sns:Publish"],
    # A schedule names the role it sends with: creating it passes that role.
    "create_schedule": ["scheduler:CreateSchedule", "iam:PassRole"],
    "delete_schedule": ["scheduler:DeleteSchedule"],
}

# TransactWriteItems has no IAM action of its own: each element needs its own action.
TRANSACT_ELEMENTS = {
    "put": "dynamodb:PutItem",
    "delete": "dynamodb:DeleteItem",
    "update": "dynamodb:UpdateItem",
    "condition_check": "dynamodb:ConditionCheckItem",
}

# Operations in the code that no function makes: table set-up for tests and local use
# (the template creates the table).
NOT_CALLED_BY_FUNCTIONS = {"create_table", "describe_table"}


def production_code(path):
    """A file's text up to its unit tests."""
    text = path.read_text()
    return text.split("#[cfg(test)]", 1)[0]


def needed_actions():
    needed = {}
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.rs")):
            code = production_code(path)
            where = str(path.relative_to(ROOT))
            for op in re.findall(r"\.([a-z_]+)\(\)", code):
                if op in NOT_CALLED_BY_FUNCTIONS:
                    continue
                for action in OPERATIONS.get(op, []):
                    needed.setdefault(action, set()).add(where)
            # The functions also call through the integrations' models, naming the action as a
            # Task resource does (`aws-sdk:secretsmanager:getSecretValue`).
            for service, action in re.findall(r"aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)", code):
                needed.setdefault(f"{service}:{action[0].upper()}{action[1:]}", set()).add(where)
            if ".transact_write_items()" in code:
                for element, action in TRANSACT_ELEMENTS.items():
                    if re.search(r"TransactWriteItem::builder\(\)\s*\.%s\(" % element, code):
                        needed.setdefault(action, set()).add(where)
    return needed


def granted_actions(template):
    """Actions each function's policies grant (managed policies of the stack included)."""
    resources = template["Resources"]

    def statements_of(document):
        for statement in document.get("Statement", []):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement.get("Action", [])
            yield from [actions] if isinstance(actions, str) else actions

    granted = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        actions = set()
        for policy in resource["Properties"].get("Policies", []):
            ref = policy.get("Ref") if isinstance(policy, dict) else None
            if ref in resources and resources[ref]["Type"] == "AWS::IAM::ManagedPolicy":
                actions.update(statements_of(resources[ref]["Properties"]["PolicyDocument"]))
            elif isinstance(policy, dict) and "Statement" in policy:
                actions.update(statements_of(policy))
        granted[name] = actions
    return granted


def main():
    template, problems = decode(str(ROOT / "template.yaml"))
    if template is None:
        print(f"template.yaml cannot be read: {problems}")
        return 1
    needed = needed_actions()
    granted = granted_actions(template)
    failures = []
    for function, actions in sorted(granted.items()):
        for action, places in sorted(needed.items()):
            if action not in actions:
                failures.append(f"{function} calls {action} ({', '.join(sorted(places))}) but is not granted it")
        for action in sorted(actions - set(needed)):
            failures.append(f"{function} is granted {action}, which no function code calls")
    print(f"permissions: {len(needed)} actions called, {len(granted)} functions checked")
    for action, places in sorted(needed.items()):
        print(f"  {action}: {', '.join(sorted(places))}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures or not granted or not needed else 0


if __name__ == "__main__":
    sys.exit(main())
