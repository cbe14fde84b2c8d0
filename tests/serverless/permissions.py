"""Each function's IAM permissions match the AWS calls its code can make.

Emulators check no permissions, so a call the template does not allow would only fail in a
real account. This reads the Rust code the three functions link (their `main.rs`, the
serverless engine, the shared API, the DynamoDB store and the schedules sync), follows the calls from each
function's `main.rs` to the functions it can reach, collects the AWS SDK operations made
there, and compares them with the statements of that function's policies in template.yaml.
It fails when a reachable call is not granted to the function (it would be refused), and when
a function is granted an action none of its reachable code calls (least privilege).

The call graph is by name: a call `x.name(..)` reaches every `fn name` of the code read, a call
`Type::name(..)` the `fn name` of `Type`'s impls; a type that implements a trait defined
outside the code read (the integrations' `StepFunctionsApi` port, `Drop`) has those methods
reached as soon as the type is named, since the outside code may call any of them. That
over-approximates (two `fn get` are one name) but never misses a call.

What Task states call is the user's to grant (the template's `Task*` parameters and
`TaskPolicyArn`): statements whose `Sid` starts with `Task` are left out of the comparison, and
the integrations' code is not read. The functions' own SDK calls made for a Task (a long Lambda
task's asynchronous `Invoke`) must be covered by such a statement on the function that makes them.

Run with a Python that has cfn-lint (tests/serverless/run.sh uses the emulators' virtualenv):
`python tests/serverless/permissions.py`. It then checks itself: a template with one action
removed from a function, or one unused action added, must fail.
"""

import copy
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]



def binaries():
    """Each Lambda binary (a `[[bin]]` of a crate under functions/) and its source folder; the
    template's `BuildProperties.Binary` names which function runs which."""
    found = {}
    for manifest in sorted((ROOT / "functions").glob("*/Cargo.toml")):
        text = manifest.read_text()
        for block in text.split("[[bin]]")[1:]:
            name = re.search(r'^name\s*=\s*"([^"]+)"', block, re.M)
            path = re.search(r'^path\s*=\s*"([^"]+)"', block, re.M)
            if name:
                main = manifest.parent / (path.group(1) if path else "src/main.rs")
                found[name.group(1)] = str(main.parent.relative_to(ROOT))
    return found


# The code the binaries link whose AWS calls are the functions' own (not a Task state's).
LIBRARIES = [
    "functions/core/src",
    "shared/api/src",
    "shared/store-dynamodb/src",
    # The schedule function's custom resource (the schedules file into its schedule group).
    "shared/schedules/src",
]

# Traits whose callers are in the code read: their methods are reached by name only. The
# others (defined outside) may be called on any value of a type that implements them.
TRAIT_SOURCES = ["shared/store/src/lib.rs"]

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
    # Creating or updating a group's schedule passes the role its target names, as above.
    "update_schedule": ["scheduler:UpdateSchedule", "iam:PassRole"],
    "get_schedule": ["scheduler:GetSchedule"],
    "list_schedules": ["scheduler:ListSchedules"],
    "get_schedule_group": ["scheduler:GetScheduleGroup"],
    "create_schedule_group": ["scheduler:CreateScheduleGroup"],
    "delete_schedule_group": ["scheduler:DeleteScheduleGroup"],
    "get_object": ["s3:GetObject"],
    "put_object": ["s3:PutObject"],
    "delete_object": ["s3:DeleteObject"],
    "delete_objects": ["s3:DeleteObject"],
    "head_object": ["s3:GetObject"],
}

# SDK operations the functions make on a Task state's behalf (a long Lambda task invoked
# asynchronously): granted by the Task* statements, which a function making them must have.
TASK_OPERATIONS = {
    "invoke": "lambda:InvokeFunction",
}

# Step Functions' aws-sdk service names whose IAM prefix differs.
IAM_PREFIX = {"cloudwatchlogs": "logs", "sfn": "states", "eventbridge": "events"}

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

KEYWORDS = {
    "fn", "let", "mut", "if", "else", "match", "for", "while", "loop", "return", "impl",
    "pub", "use", "mod", "crate", "self", "super", "struct", "enum", "trait", "where", "as",
    "in", "move", "async", "await", "ref", "const", "static", "type", "dyn", "unsafe", "break",
    "continue", "true", "false", "Some", "None", "Ok", "Err", "Self",
}


def production_code(path):
    """A file's text up to its unit tests."""
    return path.read_text().split("#[cfg(test)]", 1)[0]


STRING = re.compile(r'r#*"|"|\'(?:\\.|[^\\\'])\'|//[^\n]*|/\*.*?\*/', re.S)


def blank_literals(code):
    """The code with comments, strings and char literals blanked (same length, so offsets
    match the original), for brace matching and identifier scanning."""
    out = []
    i = 0
    while i < len(code):
        m = STRING.search(code, i)
        if not m:
            out.append(code[i:])
            break
        out.append(code[i:m.start()])
        token = m.group(0)
        if token.startswith("r"):
            hashes = token.count("#")
            end = code.find('"' + "#" * hashes, m.end())
            end = len(code) if end < 0 else end + 1 + hashes
        elif token == '"':
            j = m.end()
            while j < len(code) and code[j] != '"':
                j += 2 if code[j] == "\\" else 1
            end = j + 1
        else:
            end = m.end()
        out.append(re.sub(r"[^\n]", " ", code[m.start():end]))
        i = end
    return "".join(out)


def block_end(code, open_at):
    depth = 0
    for i in range(open_at, len(code)):
        if code[i] == "{":
            depth += 1
        elif code[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(code)


class Fn:
    def __init__(self, name, owner, trait, path, body, raw):
        self.name, self.owner, self.trait, self.path = name, owner, trait, path
        self.body, self.raw = body, raw

    def __repr__(self):
        return f"{self.owner or ''}::{self.name} ({self.path})"


IMPL = re.compile(r"\bimpl\b\s*(?:<[^{]*?>)?\s*([A-Za-z_][\w:]*(?:<[^{]*?>)?)(?:\s+for\s+([A-Za-z_][\w:]*))?[^{;]*\{")


def parse(path):
    raw = production_code(path)
    code = blank_literals(raw)
    impls = []
    for m in IMPL.finditer(code):
        first, second = m.group(1), m.group(2)
        trait, owner = (first, second) if second else (None, first)
        base = lambda t: re.sub(r"<.*", "", t).split("::")[-1] if t else None
        impls.append((m.end() - 1, block_end(code, m.end() - 1), base(owner), base(trait)))
    fns = []
    for m in re.finditer(r"\bfn\s+([a-z_][a-z0-9_]*)", code):
        i, depth = m.end(), 0
        while i < len(code):
            c = code[i]
            if c in "(<[":
                depth += 1
            elif c in ")>]":
                depth -= 1 if code[i - 1] != "-" else 0
            elif depth <= 0 and c in "{;":
                break
            i += 1
        if i >= len(code) or code[i] == ";":
            continue
        end = block_end(code, i)
        owner = trait = None
        for start, stop, impl_owner, impl_trait in impls:
            if start < m.start() < stop:
                owner, trait = impl_owner, impl_trait
        fns.append(Fn(m.group(1), owner, trait, str(path.relative_to(ROOT)), code[i:end], raw[i:end]))
    return fns


def rust_files(folder):
    return sorted((ROOT / folder).rglob("*.rs"))


def local_traits():
    names = set()
    for name in TRAIT_SOURCES:
        names.update(re.findall(r"\btrait\s+([A-Z]\w*)", (ROOT / name).read_text()))
    for folder in LIBRARIES:
        for path in rust_files(folder):
            names.update(re.findall(r"\btrait\s+([A-Z]\w*)", production_code(path)))
    return names


def reachable(roots, library):
    """Every fn reachable from the roots through the library (and the roots themselves)."""
    by_name, by_owner = {}, {}
    for fn in library:
        by_name.setdefault(fn.name, []).append(fn)
        if fn.owner:
            by_owner.setdefault((fn.owner, fn.name), []).append(fn)
    traits = local_traits()
    foreign = {}
    for fn in library:
        if fn.trait and fn.trait not in traits:
            foreign.setdefault(fn.owner, []).append(fn)
    seen, todo = set(), list(roots)
    while todo:
        fn = todo.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        yield fn
        body = fn.body
        for m in re.finditer(r"\b([A-Za-z_]\w*)\s*::\s*(?:<[^>]*>\s*::\s*)?([a-z_]\w*)", body):
            owner = fn.owner if m.group(1) == "Self" else m.group(1)
            todo.extend(by_owner.get((owner, m.group(2)), []))
        for m in re.finditer(r"(::)?\s*\b([A-Za-z_]\w*)\b", body):
            word = m.group(2)
            if word in KEYWORDS:
                continue
            if word[0].isupper():
                todo.extend(foreign.get(word, []))
            elif not m.group(1):
                todo.extend(by_name.get(word, []))


def actions_of(fn):
    found = set()
    for op in re.findall(r"\.([a-z_]+)\(\)", fn.body):
        if op not in NOT_CALLED_BY_FUNCTIONS:
            found.update(OPERATIONS.get(op, []))
        if op in TASK_OPERATIONS:
            found.add("task:" + TASK_OPERATIONS[op])
    if ".transact_write_items()" in fn.body or "TransactWriteItem::builder()" in fn.body:
        for element, action in TRANSACT_ELEMENTS.items():
            if re.search(r"TransactWriteItem::builder\(\)\s*\.%s\(" % element, fn.body):
                found.add(action)
    # The functions also call AWS through the integrations' models, naming the action as a
    # Task resource does (`aws-sdk:secretsmanager:getSecretValue`).
    for service, action in re.findall(r"aws-sdk:([a-z0-9]+):([a-zA-Z0-9]+)", fn.raw):
        found.add(f"{IAM_PREFIX.get(service, service)}:{action[0].upper()}{action[1:]}")
    return found


def needed_actions():
    """function name -> {action: {places}} for every binary."""
    library = [fn for folder in LIBRARIES for path in rust_files(folder) for fn in parse(path)]
    needed = {}
    for binary, folder in binaries().items():
        roots = [fn for path in rust_files(folder) for fn in parse(path)]
        calls = {}
        for fn in reachable(roots, library):
            for action in actions_of(fn):
                calls.setdefault(action, set()).add(f"{fn.path}:{fn.name}")
        needed[binary] = calls
    return needed


def statements(document):
    """(statement, is_task_grant) for each Allow statement; a conditional statement
    (`Fn::If [c, statement, AWS::NoValue]`) counts as its statement."""
    found = document.get("Statement", [])
    for statement in [found] if isinstance(found, dict) else found:
        if isinstance(statement, dict) and "Fn::If" in statement:
            statement = statement["Fn::If"][1]
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        yield statement, str(statement.get("Sid", "")).startswith("Task")


def granted_actions(template):
    """binary -> [(function resource, its own actions, the actions of its Task* statements)]:
    one binary may run as several functions (advance also runs the Express queue's), and each
    must be granted what the binary calls."""
    resources = template["Resources"]
    granted = {}
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
        actions, tasks = set(), set()
        for policy in resource["Properties"].get("Policies", []):
            if isinstance(policy, dict) and "Fn::If" in policy:
                policy = policy["Fn::If"][1]
            ref = policy.get("Ref") if isinstance(policy, dict) else None
            if ref in resources and resources[ref]["Type"] == "AWS::IAM::ManagedPolicy":
                document = resources[ref]["Properties"]["PolicyDocument"]
            elif isinstance(policy, dict) and "Statement" in policy:
                document = policy
            else:
                continue
            for statement, task in statements(document):
                listed = statement.get("Action", [])
                if task:
                    tasks.update([listed] if isinstance(listed, str) else listed)
                else:
                    actions.update([listed] if isinstance(listed, str) else listed)
        granted.setdefault(binary, []).append((name, actions, tasks))
    return granted


def check(template, needed):
    failures = []
    granted = granted_actions(template)
    for binary in sorted(set(needed) | set(granted)):
        if binary not in granted:
            failures.append(f"the {binary} binary is deployed by no function of the template")
            continue
        if binary not in needed:
            failures.append(f"{granted[binary][0][0]} runs {binary}, which no crate under functions/ builds")
            continue
        for function, actions, tasks in granted[binary]:
            for action, places in sorted(needed[binary].items()):
                if action.startswith("task:"):
                    if action[len("task:"):] not in tasks:
                        failures.append(f"{function} calls {action[5:]} for Task states ({', '.join(sorted(places)[:3])}) but has no Task* statement granting it")
                    continue
                if action not in actions:
                    failures.append(f"{function} calls {action} ({', '.join(sorted(places)[:3])}) but is not granted it")
            for action in sorted(actions - set(needed[binary])):
                failures.append(f"{function} is granted {action}, which its code never calls")
    return failures


def self_test(template, needed):
    """The check must fail on a template one action short, and on one with an extra one."""
    problems = []
    runs = [(binary, run) for binary, runs in granted_actions(template).items() for run in runs]
    for binary, (function, actions, _) in runs:
        if not actions:
            continue
        short = copy.deepcopy(template)
        removed = sorted(actions)[0]
        for policy in short["Resources"][function]["Properties"]["Policies"]:
            if isinstance(policy, dict) and "Statement" in policy:
                for statement, _ in statements(policy):
                    listed = statement.get("Action")
                    if isinstance(listed, list) and removed in listed:
                        listed.remove(removed)
                    elif listed == removed:
                        statement["Action"] = []
        if not any(removed in f and "not granted" in f for f in check(short, needed)):
            problems.append(f"removing {removed} from {function} went unnoticed")
        extra = copy.deepcopy(template)
        extra["Resources"][function]["Properties"]["Policies"].append(
            {"Statement": [{"Effect": "Allow", "Action": ["ec2:RunInstances"], "Resource": "*"}]})
        if not any("ec2:RunInstances" in f and "never calls" in f for f in check(extra, needed)):
            problems.append(f"granting {function} an unused action went unnoticed")
        if any(a.startswith("task:") for a in needed.get(binary, {})):
            untasked = copy.deepcopy(template)
            policies = untasked["Resources"][function]["Properties"]["Policies"]
            policies[:] = [p for p in policies if "TaskTargetsPolicy" not in str(p)]
            if not any("for Task states" in f for f in check(untasked, needed)):
                problems.append(f"{function} without its Task* grants went unnoticed")
    return problems


def main():
    template, problems = decode(str(ROOT / "template.yaml"))
    if template is None:
        print(f"template.yaml cannot be read: {problems}")
        return 1
    needed = needed_actions()
    failures = check(template, needed)
    for binary, calls in sorted(needed.items()):
        print(f"{binary}: {len(calls)} actions reachable")
        for action, places in sorted(calls.items()):
            print(f"  {action}: {', '.join(sorted(places)[:3])}{' ...' if len(places) > 3 else ''}")
    for failure in failures:
        print(f"FAIL: {failure}")
    broken = self_test(template, needed)
    for problem in broken:
        print(f"FAIL (self-test): {problem}")
    if not broken:
        print("self-test: a missing grant, an extra one and missing Task* grants are caught")
    return 1 if failures or broken or not any(needed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
