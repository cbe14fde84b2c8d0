"""template.yaml leaves no failure silent and every function observable.

Emulators run none of this, so the template itself is checked:

- every asynchronous path ends in a dead-letter queue: each EventBridge rule or schedule event of
  a function has a `DeadLetterConfig`, each function invoked asynchronously (by a rule, a
  schedule or EventBridge Scheduler) has an `EventInvokeConfig` `OnFailure` destination, each
  Scheduler schedule's target a `DeadLetterConfig`, and each SQS trigger's queue a redrive
  policy with a `maxReceiveCount`;
- every dead-letter queue has an alarm on its depth and every function one on its `Errors`,
  both publishing to the alert topic, which the `AlertEmail` parameter can subscribe to;
- every function logs JSON to a log group of the template kept `LogRetentionDays`, and its
  tracing follows the `Tracing` parameter;
- the payload bucket deletes the objects items leave behind, and never one a live item names
  (`payload_lifecycle`);
- StartSyncExecution may run Express's 5 minutes (`sync_express`), also through the function's
  Function URL, which is IAM-signed and buffered.

Run with a Python that has cfn-lint (tests/serverless/run.sh uses the emulators' virtualenv).
It then checks itself on a template with one alarm and one dead-letter setting removed.
"""

import copy
import pathlib
import re
import sys

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]


def ref_name(value):
    """The logical id a Ref or GetAtt names, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return target[0] if isinstance(target, list) else str(target).split(".")[0]
    return None


def check(template):
    resources = template["Resources"]
    globals_ = template.get("Globals", {}).get("Function", {})
    functions = {n: r for n, r in resources.items() if r.get("Type") == "AWS::Serverless::Function"}
    failures = []
    dead_letter_queues = set()
    async_invoked = set()

    for name, function in functions.items():
        props = function.get("Properties", {})
        for event_name, event in props.get("Events", {}).items():
            kind = event.get("Type")
            if kind in ("EventBridgeRule", "Schedule", "CloudWatchEvent"):
                async_invoked.add(name)
                dlq = ref_name(event.get("Properties", {}).get("DeadLetterConfig", {}).get("Arn"))
                if dlq is None:
                    failures.append(f"{name}'s {event_name} rule has no DeadLetterConfig")
                else:
                    dead_letter_queues.add(dlq)
            if kind == "SQS":
                queue = ref_name(event["Properties"].get("Queue"))
                redrive = resources.get(queue, {}).get("Properties", {}).get("RedrivePolicy", {})
                dlq = ref_name(redrive.get("deadLetterTargetArn"))
                if dlq is None or not redrive.get("maxReceiveCount"):
                    failures.append(f"{name}'s {event_name} queue {queue} has no redrive policy with maxReceiveCount")
                else:
                    dead_letter_queues.add(dlq)

    for name, schedule in resources.items():
        if schedule.get("Type") != "AWS::Scheduler::Schedule":
            continue
        target = schedule["Properties"]["Target"]
        invoked = ref_name(target.get("Arn"))
        if invoked in functions:
            async_invoked.add(invoked)
        dlq = ref_name(target.get("DeadLetterConfig", {}).get("Arn"))
        if dlq is None:
            failures.append(f"schedule {name} has no target DeadLetterConfig")
        else:
            dead_letter_queues.add(dlq)

    for name in sorted(async_invoked):
        on_failure = functions[name]["Properties"].get("EventInvokeConfig", {}).get("DestinationConfig", {}).get("OnFailure", {})
        dlq = ref_name(on_failure.get("Destination"))
        if dlq is None:
            failures.append(f"{name} is invoked asynchronously but has no EventInvokeConfig OnFailure destination")
        else:
            dead_letter_queues.add(dlq)

    alarms = [r["Properties"] for r in resources.values() if r.get("Type") == "AWS::CloudWatch::Alarm"]
    topic = next((n for n, r in resources.items() if r.get("Type") == "AWS::SNS::Topic"), None)

    def alarmed(metric, dimension, resource):
        for alarm in alarms:
            dims = {d["Name"]: ref_name(d["Value"]) for d in alarm.get("Dimensions", [])}
            if (
                alarm.get("MetricName") == metric
                and dims.get(dimension) == resource
                and alarm.get("ComparisonOperator") == "GreaterThanThreshold"
                and alarm.get("Threshold") in (0, "0")
                and topic in [ref_name(a) for a in alarm.get("AlarmActions", [])]
            ):
                return True
        return False

    for queue in sorted(dead_letter_queues):
        if not alarmed("ApproximateNumberOfMessagesVisible", "QueueName", queue):
            failures.append(f"dead-letter queue {queue} has no depth alarm (> 0) on the alert topic")
    for name in sorted(functions):
        if not alarmed("Errors", "FunctionName", name):
            failures.append(f"{name} has no Errors alarm (> 0) on the alert topic")
        props = functions[name]["Properties"]
        logging = props.get("LoggingConfig", globals_.get("LoggingConfig", {}))
        if logging.get("LogFormat") != "JSON":
            failures.append(f"{name} does not log JSON")
        group = resources.get(ref_name(logging.get("LogGroup")), {})
        if group.get("Type") != "AWS::Logs::LogGroup" or ref_name(group["Properties"].get("RetentionInDays")) != "LogRetentionDays":
            failures.append(f"{name} logs to no log group of the template kept LogRetentionDays")
        if ref_name(props.get("Tracing", globals_.get("Tracing"))) != "Tracing":
            failures.append(f"{name}'s tracing does not follow the Tracing parameter")

    subscribed = any(
        r.get("Type") == "AWS::SNS::Subscription"
        and ref_name(r["Properties"].get("TopicArn")) == topic
        and ref_name(r["Properties"].get("Endpoint")) == "AlertEmail"
        for r in resources.values()
    )
    if not subscribed:
        failures.append("no subscription of the alert topic to the AlertEmail parameter")
    return failures, dead_letter_queues, functions


def payload_lifecycle(template):
    """The payload bucket deletes what offloaded items leave behind, never what a live item
    still names: objects under the store's key prefix (read from the store's code: the table's
    name) expire PayloadExpirationDays after they were written, which by default is past the
    longest an object can stay named (the store's history margin, read from its code, plus the
    retention and a month of TTL lag); none expire when either setting is 0; incomplete
    multipart uploads are aborted."""
    failures = []
    resources, parameters = template["Resources"], template["Parameters"]
    env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    bucket = ref_name(env.get("PAYLOAD_BUCKET"))
    rules = resources.get(bucket, {}).get("Properties", {}).get("LifecycleConfiguration", {}).get("Rules", [])
    if not any(r.get("Status") == "Enabled" and r.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation")
               for r in rules if isinstance(r, dict) and "Fn::If" not in r):
        failures.append(f"payload bucket {bucket} aborts no incomplete multipart upload")
    store = (ROOT / "shared/store-dynamodb/src/lib.rs").read_text()
    if 'format!("{}/{hash:016x}/{nonce:016x}", self.name)' not in store:
        failures.append("the store's payload keys are no longer `<table>/...`: update the lifecycle prefix and this check")
    margin = re.search(r"const HISTORY_TTL_MARGIN_SECS: i64 = \(([\d +]+)\) \* 86_400;", store)
    margin_days = sum(int(d) for d in margin.group(1).split("+")) if margin else None
    if margin_days is None:
        failures.append("the store's HISTORY_TTL_MARGIN_SECS is not found: update this check")
    table = ref_name(env.get("TABLE_NAME"))
    table_name = ref_name(resources.get(table, {}).get("Properties", {}).get("TableName"))
    expiring = [r["Fn::If"] for r in rules if isinstance(r, dict) and "Fn::If" in r]
    rule = next((then for _, then, _ in expiring if isinstance(then, dict) and then.get("ExpirationInDays")), None)
    if rule is None:
        failures.append(f"payload bucket {bucket} has no expiration rule (conditional on the settings)")
        return failures
    condition = template["Conditions"].get(next(c for c, then, _ in expiring if then is rule), {})
    for setting in ("PayloadExpirationDays", "RetentionDays"):
        if f"'Ref': '{setting}'" not in str(condition):
            failures.append(f"the payload expiration does not depend on {setting} (0 keeps everything)")
    if rule.get("Prefix") != {"Fn::Sub": f"${{{table_name}}}/"}:
        failures.append(f"payload expiration prefix {rule.get('Prefix')} is not the table's (${{{table_name}}}/)")
    if ref_name(rule.get("ExpirationInDays")) != "PayloadExpirationDays":
        failures.append("payload expiration is not PayloadExpirationDays")
    default = int(parameters.get("PayloadExpirationDays", {}).get("Default", 0))
    retention = int(parameters["RetentionDays"]["Default"])
    if margin_days is not None and default < retention + margin_days + 30:
        failures.append(f"PayloadExpirationDays {default} would delete objects live items still name (RetentionDays {retention} + {margin_days} + 30)")
    return failures


def sync_express(template):
    """StartSyncExecution can run as long as AWS lets a synchronous Express execution run (5
    minutes): the function behind POST /sync-executions runs the api binary with a timeout
    parameter defaulting past 300 s; API Gateway's wait for it is a parameter that reaches
    300000 ms, on a Regional API (the only kind allowed past 29 s); a task claim it makes is not
    taken for lost while it may still run."""
    failures = []
    resources, parameters = template["Resources"], template["Parameters"]
    serving = [
        (name, r) for name, r in resources.items()
        if r.get("Type") == "AWS::Serverless::Function"
        for event in r["Properties"].get("Events", {}).values()
        if event.get("Type") == "Api" and event["Properties"].get("Path") == "/sync-executions"
    ]
    if len(serving) != 1:
        return [f"{len(serving)} functions serve POST /sync-executions, not one"]
    name, function = serving[0]
    props = function["Properties"]
    if function.get("Metadata", {}).get("BuildProperties", {}).get("Binary") != "api":
        failures.append(f"{name} does not run the api binary")
    timeout = parameters.get(ref_name(props.get("Timeout")), {})
    if int(timeout.get("Default", 0)) < 310 or int(timeout.get("MaxValue", 0)) > 900:
        failures.append(f"{name}'s Timeout is not a parameter defaulting to 300 s plus a margin (at most Lambda's 900)")
    event = next(e for e in props["Events"].values() if e["Properties"].get("Path") == "/sync-executions")
    wait = parameters.get(ref_name(event["Properties"].get("TimeoutInMillis")), {})
    if int(wait.get("MaxValue", 0)) != 300000 or int(wait.get("Default", 0)) > 29000:
        failures.append("API Gateway's wait for /sync-executions is not a parameter up to 300000 ms defaulting to the 29000 quota")
    apis = [r for r in resources.values() if r.get("Type") == "AWS::Serverless::Api"]
    if any(a["Properties"].get("EndpointConfiguration", {}).get("Type") != "REGIONAL" for a in apis):
        failures.append("the API is not Regional: an edge-optimized API never waits past 29 s")
    # Its Function URL needs no quota: signed (never public) and answering in one piece.
    url = props.get("FunctionUrlConfig")
    if url is not None and (url.get("AuthType") != "AWS_IAM" or url.get("InvokeMode", "BUFFERED") != "BUFFERED"):
        failures.append(f"{name}'s Function URL is not AuthType AWS_IAM with InvokeMode BUFFERED")
    claim = props.get("Environment", {}).get("Variables", {}).get("CAIRN_TASK_CLAIM_TIMEOUT_SECONDS")
    if claim is None or int(claim) <= 900:
        failures.append(f"{name}'s task claim timeout does not outlast its invocation")
    return failures


def self_test(template):
    problems = []
    broken = copy.deepcopy(template)
    broken["Parameters"]["SyncExpressFunctionTimeout"]["Default"] = 30
    broken["Resources"]["Api"]["Properties"].pop("EndpointConfiguration")
    if len(sync_express(broken)) != 2:
        problems.append("a 30 s synchronous Express function on an edge API went unnoticed")
    broken = copy.deepcopy(template)
    for function in broken["Resources"].values():
        if "FunctionUrlConfig" in function.get("Properties", {}):
            function["Properties"]["FunctionUrlConfig"]["AuthType"] = "NONE"
            if not any("Function URL" in f for f in sync_express(broken)):
                problems.append("a public Function URL went unnoticed")
    broken = copy.deepcopy(template)
    broken["Parameters"]["PayloadExpirationDays"]["Default"] = 400
    if not any("would delete" in f for f in payload_lifecycle(broken)):
        problems.append("a payload expiration shorter than the retention went unnoticed")
    broken = copy.deepcopy(template)
    bucket = ref_name(broken["Globals"]["Function"]["Environment"]["Variables"]["PAYLOAD_BUCKET"])
    broken["Resources"][bucket]["Properties"].pop("LifecycleConfiguration")
    if len(payload_lifecycle(broken)) < 2:
        problems.append("a payload bucket without lifecycle rules went unnoticed")
    broken = copy.deepcopy(template)
    alarm = next(n for n, r in broken["Resources"].items() if r.get("Type") == "AWS::CloudWatch::Alarm")
    del broken["Resources"][alarm]
    if not check(broken)[0]:
        problems.append(f"removing alarm {alarm} went unnoticed")
    broken = copy.deepcopy(template)
    for function in broken["Resources"].values():
        if function.get("Type") == "AWS::Serverless::Function":
            function["Properties"].pop("EventInvokeConfig", None)
    if not any("OnFailure" in f for f in check(broken)[0]):
        problems.append("removing the OnFailure destinations went unnoticed")
    return problems


def main():
    template, problems = decode(str(ROOT / "template.yaml"))
    if template is None:
        print(f"template.yaml cannot be read: {problems}")
        return 1
    failures, queues, functions = check(template)
    print(f"operations: {len(functions)} functions, dead-letter queues {sorted(queues)}")
    lifecycle = payload_lifecycle(template)
    print("payload bucket lifecycle: " + ("leftover objects expire, incomplete uploads abort" if not lifecycle else "wrong"))
    failures += lifecycle
    sync = sync_express(template)
    print("synchronous Express: " + ("up to 5 minutes on POST /sync-executions" if not sync else "bounded")
          + (", and on its IAM-signed Function URL" if any("FunctionUrlConfig" in r.get("Properties", {}) for r in template["Resources"].values()) else ""))
    failures += sync
    for failure in failures:
        print(f"FAIL: {failure}")
    broken = self_test(template)
    for problem in broken:
        print(f"FAIL (self-test): {problem}")
    if not broken:
        print("self-test: a missing alarm, missing OnFailure destinations, wrong payload lifecycles and a bounded synchronous Express are caught")
    return 1 if failures or broken or not functions or not queues else 0


if __name__ == "__main__":
    sys.exit(main())
