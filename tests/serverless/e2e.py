"""Serverless Cairn end to end, locally: the three functions served by `cargo lambda watch`,
the table in DynamoDB Local, the bus, its rules, the timer queue and the alert topic in
LocalStack (host mode), as template.yaml defines them.

What stands in for AWS's wiring: LocalStack here runs no Lambda, so each rule that targets the
advance function in the template targets an SQS queue instead, and this driver hands what
arrives there to the advance function (`Invoke` on the watch server), as EventBridge would;
the timer queue's messages go to it as the SQS event source mapping would batch them. Task
states call a real Lambda function (tests/serverless/worker, served by the same watch server)
through the Lambda Invoke API (AWS_ENDPOINT_URL_LAMBDA). The payload bucket and Scheduler are
moto's (LocalStack's SERVICES here have neither; no payload or timer of this test needs them).

Scenarios, all through the api function's HTTP routes (API Gateway proxy events):
  1. a Standard workflow with Pass, a lambda:invoke Task that fails once and is retried after a
     1 s back-off (a timer message), a 2 s Wait (a timer message), a legacy Lambda-ARN Task whose
     error is caught, to SUCCEEDED: status, output and history event types read back with
     DescribeExecution and GetExecutionHistory;
  2. a workflow whose Task fails uncaught: FAILED, and the SNS alert read from an SQS queue
     subscribed to the alert topic;
  3. StartSyncExecution of an Express machine whose Lambda task runs inside the api invocation;
     then StartExecution of it, answered at once and run from the template's Express queue by
     the advance binary (its task called, its status events on the bus);
  4. a Wait whose timer message is lost: the sweep (the advance function's scheduled input)
     re-sends it from the table's timers index and the execution ends;
  5. long Lambda tasks (TimeoutSeconds above SyncTaskSeconds), invoked asynchronously, their
     results back as Lambda's destination records on the bus through the template's
     LambdaResults rule (the Lambda front here plays Lambda's part: the watch server has no
     asynchronous invocation), one succeeding and one failing into a Catch;
  6. a callback task (sqs:sendMessage.waitForTaskToken to LocalStack's SQS) answered with
     SendTaskSuccess through the api function, a tampered token refused (tokens are signed with
     the key in LocalStack's Secrets Manager);
  7. StopExecution of a waiting execution: ABORTED, and its alert;
  and the status-change events of the Standard executions, read from the bus.

Run by tests/serverless/lambda-local.sh (so by `bash tests/run.sh`) with the emulators'
virtualenv (boto3, cfn-lint): needs the emulators' endpoints in the environment
(tests/emulators/start.sh's endpoints.env) and cargo-lambda on PATH. With
CAIRN_REQUIRE_EMULATORS=1 a missing emulator or tool fails the test; otherwise it is SKIPPED.
Every trigger failure counts against it: a correct run needs no retry.
"""

import http.server
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
from botocore.config import Config
from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
REGION = "us-east-1"
WORKER = "e2e-worker"
# Generous: the first invocation of each function may wait for its build by cargo lambda watch.
FIRST_INVOKE_SECONDS = 600
INVOKE_SECONDS = 120
EXECUTION_SECONDS = 120


class Skip(Exception):
    pass


def log(text):
    print(f"[e2e] {text}", flush=True)


def answers(url):
    try:
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=3)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 3}))


# --- the template ----------------------------------------------------------------------------

def load_template():
    template, problems = decode(str(ROOT / "template.yaml"))
    if template is None:
        raise SystemExit(f"template.yaml cannot be read: {problems}")
    return template


def rule_patterns(template):
    """The EventBridge rules of the advance function: name -> event pattern."""
    events = template["Resources"]["AdvanceFunction"]["Properties"]["Events"]
    return {name: event["Properties"]["Pattern"] for name, event in events.items()
            if event["Type"] == "EventBridgeRule"}


def env_value(template, name):
    """A function environment variable's value when it is a plain parameter's default."""
    value = template["Globals"]["Function"]["Environment"]["Variables"][name]
    return value if isinstance(value, str) else template["Parameters"][value["Ref"]]["Default"]


def function_environment(template, resolve):
    """The Globals environment every function gets, each reference resolved by `resolve`."""
    parameters = template["Parameters"]
    env = {}
    for name, value in template["Globals"]["Function"]["Environment"]["Variables"].items():
        if isinstance(value, str):
            env[name] = value
        elif "Ref" in value and value["Ref"] in parameters:
            env[name] = str(parameters[value["Ref"]]["Default"])
        else:
            key = value.get("Ref") or ".".join(value.get("Fn::GetAtt", []))
            if key not in resolve:
                raise SystemExit(f"template.yaml gives the functions {name} = {dict(value)}, "
                                 "which this test does not stand up: add it to e2e.py")
            env[name] = resolve[key]
    return env


# --- the stack in the emulators ----------------------------------------------------------------

def create_stack(template, endpoints, suffix):
    """The template's table (DynamoDB Local), queues, bus, rules, topic and secret (LocalStack),
    payload bucket (moto). Returns names, ARNs and clients."""
    resources = template["Resources"]
    stack = {"suffix": suffix}
    ddb = client("dynamodb", endpoints["dynamodb"])
    table = dict(resources["ExecutionsTable"]["Properties"])
    stack["table"] = f"cairn-e2e-{suffix}"
    ddb.create_table(
        TableName=stack["table"], BillingMode=table["BillingMode"],
        AttributeDefinitions=[dict(a) for a in table["AttributeDefinitions"]],
        KeySchema=[dict(k) for k in table["KeySchema"]],
        GlobalSecondaryIndexes=[json.loads(json.dumps(i)) for i in table["GlobalSecondaryIndexes"]])
    ddb.get_waiter("table_exists").wait(TableName=stack["table"])

    sqs = client("sqs", endpoints["localstack"])
    stack["sqs"] = sqs

    def queue(name, **attributes):
        url = sqs.create_queue(QueueName=name, Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    timer = resources["TimerQueue"]["Properties"]
    stack["timer_dlq_url"], timer_dlq_arn = queue(f"cairn-e2e-{suffix}-timers-dlq")
    stack["timer_url"], stack["timer_arn"] = queue(
        f"cairn-e2e-{suffix}-timers", VisibilityTimeout=timer["VisibilityTimeout"],
        RedrivePolicy=json.dumps({"deadLetterTargetArn": timer_dlq_arn,
                                  "maxReceiveCount": timer["RedrivePolicy"]["maxReceiveCount"]}))
    stack["dlq_url"], dlq_arn = queue(f"cairn-e2e-{suffix}-failed-invocations")
    # Asynchronous Express executions wait here, as in the template (its trigger is the
    # ExpressFunction; the test hands its messages to the advance binary it runs).
    express = resources["ExpressQueue"]["Properties"]
    stack["express_dlq_url"], express_dlq_arn = queue(f"cairn-e2e-{suffix}-express-dlq")
    stack["express_url"], stack["express_arn"] = queue(
        f"cairn-e2e-{suffix}-express", VisibilityTimeout=express["VisibilityTimeout"],
        MaximumMessageSize=express["MaximumMessageSize"],
        RedrivePolicy=json.dumps({"deadLetterTargetArn": express_dlq_arn,
                                  "maxReceiveCount": express["RedrivePolicy"]["maxReceiveCount"]}))
    # Where the advance rules deliver (the template's target is the function itself).
    stack["advance_url"], advance_arn = queue(f"cairn-e2e-{suffix}-advance")
    # A user's own rule on the status-change events, to read them back.
    stack["status_url"], status_arn = queue(f"cairn-e2e-{suffix}-status")
    stack["alerts_url"], alerts_arn = queue(f"cairn-e2e-{suffix}-alerts")
    # Where a .waitForTaskToken task sends its token (a worker's queue).
    stack["approvals_url"], _ = queue(f"cairn-e2e-{suffix}-approvals")
    stack["account"] = stack["timer_arn"].split(":")[4]

    events = client("events", endpoints["localstack"])
    stack["bus"] = f"cairn-e2e-{suffix}"
    events.create_event_bus(Name=stack["bus"])
    advance_events = template["Resources"]["AdvanceFunction"]["Properties"]["Events"]
    for name, pattern in rule_patterns(template).items():
        retry = advance_events[name]["Properties"]["RetryPolicy"]
        events.put_rule(Name=f"cairn-e2e-{suffix}-{name}", EventBusName=stack["bus"],
                        EventPattern=json.dumps(pattern))
        events.put_targets(Rule=f"cairn-e2e-{suffix}-{name}", EventBusName=stack["bus"], Targets=[{
            "Id": "advance", "Arn": advance_arn,
            "RetryPolicy": {"MaximumRetryAttempts": retry["MaximumRetryAttempts"],
                            "MaximumEventAgeInSeconds": retry["MaximumEventAgeInSeconds"]},
            "DeadLetterConfig": {"Arn": dlq_arn}}])
    events.put_rule(Name=f"cairn-e2e-{suffix}-status", EventBusName=stack["bus"],
                    EventPattern=json.dumps({"source": ["cairn.states"],
                                             "detail-type": ["Step Functions Execution Status Change"]}))
    events.put_targets(Rule=f"cairn-e2e-{suffix}-status", EventBusName=stack["bus"],
                       Targets=[{"Id": "status", "Arn": status_arn}])

    sns = client("sns", endpoints["localstack"])
    stack["topic_arn"] = sns.create_topic(Name=f"cairn-e2e-{suffix}-alerts")["TopicArn"]
    sns.subscribe(TopicArn=stack["topic_arn"], Protocol="sqs", Endpoint=alerts_arn)

    secrets = client("secretsmanager", endpoints["localstack"])
    key = secrets.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]
    stack["secret_arn"] = secrets.create_secret(Name=f"cairn-e2e-{suffix}-token-key", SecretString=key)["ARN"]

    s3 = client("s3", endpoints["moto"])
    stack["bucket"] = f"cairn-e2e-{suffix}-payloads"
    s3.create_bucket(Bucket=stack["bucket"])
    return stack


# --- the watch server ------------------------------------------------------------------------

class Watch:
    def __init__(self, env, logfile):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.front = LambdaFront(self.url)
        self.envfile = logfile.with_suffix(".env")
        env = dict(env, AWS_ENDPOINT_URL_LAMBDA=self.front.url)
        self.envfile.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        self.log = open(logfile, "w")
        # --ignore-changes: an edit in the tree while the test runs must not restart a function.
        self.process = subprocess.Popen(
            ["cargo", "lambda", "watch", "--ignore-changes", "-A", "127.0.0.1", "-P", str(self.port),
             "--env-file", str(self.envfile)],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            # Only the env file decides where the functions' AWS clients go.
            env={k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")})
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.time() > deadline:
                    raise SystemExit(f"cargo lambda watch did not start; its log: {logfile}")
                time.sleep(0.5)

    def invoke(self, function, payload, timeout=INVOKE_SECONDS):
        """Lambda's Invoke API on the watch server: (function error or None, answer)."""
        request = urllib.request.Request(
            f"{self.url}/2015-03-31/functions/{function}/invocations",
            data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json"})
        status, error, body = watch_invoke(request, timeout)
        assert status == 200, f"Invoke {function}: HTTP {status}: {body[:2000]!r}"
        return error, json.loads(body) if body else None

    def stop(self):
        self.front.stop()
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        self.log.close()


def watch_invoke(request, timeout=INVOKE_SECONDS):
    """One Invoke on the watch server, answered as Lambda answers: (HTTP status, function error,
    body). The watch server answers a function's error as HTTP 500 with the error document
    (`{"errorType", "errorMessage"}`) and no header; Lambda answers 200 with
    `X-Amz-Function-Error: Unhandled` and the same document, which is what a caller (the
    integrations' Lambda client) reads."""
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("X-Amz-Function-Error"), response.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            document = json.loads(body)
        except ValueError:
            document = None
        if e.code == 500 and isinstance(document, dict) and "errorType" in document:
            return 200, "Unhandled", body
        return e.code, None, body


class LambdaFront:
    """Lambda's Invoke API for the functions' own calls, in front of the watch server, which
    knows a function only by its name: Lambda also takes the function's ARN (a legacy
    `arn:aws:lambda:...` Task resource, or an ARN as `FunctionName`), so this resolves it to the
    name and forwards the request and the answer (status, `X-Amz-Function-Error`) as they are.

    The watch server has no asynchronous invocation and no destinations either: an
    `InvocationType: Event` call (a long Lambda task) is answered 202 with a request id, as
    Lambda answers, then run through the watch server, and its outcome handed to
    `self.destination` (the test puts Lambda's destination record on the bus from there)."""

    def __init__(self, watch_url):
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                parts = self.path.split("/")
                # /2015-03-31/functions/<name or ARN>/invocations[?Qualifier=...]
                if len(parts) >= 4 and parts[2] == "functions":
                    name = urllib.parse.unquote(parts[3])
                    if name.startswith("arn:"):
                        name = name.split(":")[6]
                    parts[3] = urllib.parse.quote(name, safe="")
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("content-type", "x-amz-invocation-type", "x-amz-log-type",
                                            "x-amz-client-context")}
                front.calls.append(urllib.parse.unquote(self.path))
                if headers.pop("X-Amz-Invocation-Type", headers.pop("x-amz-invocation-type", None)) == "Event":
                    request = urllib.request.Request(watch_url + "/".join(parts), data=body, method="POST",
                                                     headers=headers)
                    request_id = str(uuid.uuid4())
                    front.event_calls.append(request_id)
                    threading.Thread(target=front.run_event, daemon=True,
                                     args=(urllib.parse.unquote(parts[3]), request_id, body, request)).start()
                    self.send_response(202)
                    self.send_header("x-amzn-RequestId", request_id)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = urllib.request.Request(watch_url + "/".join(parts), data=body, method="POST",
                                                 headers=headers)
                status, error, answer = watch_invoke(request)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error:
                    self.send_header("X-Amz-Function-Error", error)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.calls = []
        self.destination = None
        self.event_failures = []
        self.event_calls = []
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def run_event(self, function, request_id, payload, request):
        try:
            status, error, answer = watch_invoke(request)
            assert status == 200, f"asynchronous invocation of {function}: HTTP {status}: {answer[:2000]!r}"
            assert self.destination is not None, f"an asynchronous invocation of {function} has no destination"
            self.destination(function, request_id, json.loads(payload or b"null"), error,
                             json.loads(answer) if answer else None)
        except Exception as e:  # noqa: BLE001 - reported by the test, not lost in a thread
            self.event_failures.append(repr(e))

    def stop(self):
        self.server.shutdown()


def destination_to_bus(events, bus, account):
    """What Lambda does with an asynchronous invocation's outcome when the function's
    destination (OnSuccess and OnFailure) is an EventBridge bus, with MaximumRetryAttempts 0 as
    functions/README.md asks: one event whose detail is the invocation record."""

    def send(function, request_id, request_payload, function_error, response_payload):
        name = function.split(":")[6] if function.startswith("arn:") else function
        function_arn = f"arn:aws:lambda:{REGION}:{account}:function:{name}:$LATEST"
        response_context = {"statusCode": 200, "executedVersion": "$LATEST"}
        if function_error:
            response_context["functionError"] = function_error
        record = {
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "requestContext": {"requestId": request_id, "functionArn": function_arn,
                               "condition": "RetriesExhausted" if function_error else "Success",
                               "approximateInvokeCount": 1},
            "requestPayload": request_payload,
            "responseContext": response_context,
            "responsePayload": response_payload,
        }
        detail_type = ("Lambda Function Invocation Result - Failure" if function_error
                       else "Lambda Function Invocation Result - Success")
        out = events.put_events(Entries=[{
            "EventBusName": bus, "Source": "lambda", "DetailType": detail_type,
            "Resources": [f"arn:aws:events:{REGION}:{account}:event-bus/{bus}", function_arn],
            "Detail": json.dumps(record)}])
        assert out["FailedEntryCount"] == 0, out

    return send


# --- the API through API Gateway proxy events ---------------------------------------------------

class Api:
    """The api function as API Gateway's REST proxy integration calls it: the sample event's
    shape (events/api-start-execution.json), with the template's stage and routes."""

    def __init__(self, watch):
        self.watch = watch
        self.sample = json.loads((ROOT / "events" / "api-start-execution.json").read_text())

    def call(self, action, body, route, status=200, timeout=INVOKE_SECONDS):
        event = json.loads(json.dumps(self.sample))
        resource, path = {
            "target": ("/", "/"),
            "executions": ("/executions", "/executions"),
            "sync-executions": ("/sync-executions", "/sync-executions"),
            "action": ("/{action}", f"/{action}"),
        }[route]
        headers = {"Content-Type": "application/x-amz-json-1.0",
                   "Host": event["headers"]["Host"]}
        if route == "target":
            headers["X-Amz-Target"] = f"AWSStepFunctions.{action}"
        event.update(resource=resource, path=path, headers=headers,
                     multiValueHeaders={k: [v] for k, v in headers.items()},
                     pathParameters={"action": action} if route == "action" else None,
                     body=json.dumps(body))
        event["requestContext"].update(resourcePath=resource, path=f"/v1{path}",
                                       requestId=str(uuid.uuid4()))
        error, response = self.watch.invoke("api", event, timeout)
        assert error is None, f"{action}: the api function failed: {response}"
        answer = json.loads(response.get("body") or "{}")
        assert response["statusCode"] == status, f"{action} ({route}): HTTP {response['statusCode']}: {answer}"
        return answer

    def history(self, arn):
        events, token = [], None
        while True:
            page = self.call("GetExecutionHistory",
                             {"executionArn": arn, "maxResults": 10, **({"nextToken": token} if token else {})},
                             "action")
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events


# --- EventBridge and SQS as the triggers of the advance function ---------------------------------

class Triggers:
    """Hands the advance function what the template's triggers would: each event the advance
    rules deliver (one invocation per event, as EventBridge invokes), and batches of due timer
    messages (the SQS event source mapping: only the messages the answer does not report in
    batchItemFailures are deleted). Failures are counted, and the test fails on any."""

    def __init__(self, stack, watch):
        self.stack, self.watch, self.sqs = stack, watch, stack["sqs"]
        self.invocations = {"event": 0, "timers": 0}
        self.failures = []

    def round(self, wait_seconds):
        moved = 0
        for message in self.sqs.receive_message(QueueUrl=self.stack["advance_url"], MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", []):
            event = json.loads(message["Body"])
            error, answer = self.watch.invoke("advance", event)
            self.invocations["event"] += 1
            if error:
                # Lambda would retry the asynchronous invocation; the test counts it.
                self.failures.append(("event", event.get("detail"), answer))
                if len(self.failures) > 5:
                    raise AssertionError(f"the advance function keeps failing: {self.failures}")
                self.sqs.change_message_visibility(QueueUrl=self.stack["advance_url"],
                                                   ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=1)
                continue
            self.sqs.delete_message(QueueUrl=self.stack["advance_url"], ReceiptHandle=message["ReceiptHandle"])
            moved += 1
        messages = self.sqs.receive_message(QueueUrl=self.stack["timer_url"], MaxNumberOfMessages=10,
                                            WaitTimeSeconds=wait_seconds,
                                            AttributeNames=["All"]).get("Messages", [])
        if messages:
            records = [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m.get("Attributes", {}), "messageAttributes": {},
                "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
                "eventSourceARN": self.stack["timer_arn"], "awsRegion": REGION,
            } for m in messages]
            error, answer = self.watch.invoke("advance", {"Records": records})
            self.invocations["timers"] += 1
            assert error is None, f"the advance function failed a timer batch: {answer}"
            failed = {f["itemIdentifier"] for f in answer.get("batchItemFailures", [])}
            for m in messages:
                if m["MessageId"] in failed:
                    self.failures.append(("timer", m["Body"], answer))
                    if len(self.failures) > 5:
                        raise AssertionError(f"the advance function keeps failing: {self.failures}")
                    continue
                self.sqs.delete_message(QueueUrl=self.stack["timer_url"], ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        return moved

    def until_ended(self, api, arn, timeout=EXECUTION_SECONDS):
        deadline = time.time() + timeout
        while True:
            described = api.call("DescribeExecution", {"executionArn": arn}, "action")
            if described["status"] != "RUNNING":
                return described
            assert time.time() < deadline, f"{arn} still RUNNING after {timeout} s: {described}"
            self.round(wait_seconds=1)


def drain(sqs, url, want, timeout=30):
    """Messages of a queue until `want` of them have arrived (or the timeout)."""
    got, deadline = [], time.time() + timeout
    while len(got) < want and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


# --- the workflows ---------------------------------------------------------------------------

def order_machine(worker_arn):
    return {
        "Comment": "Lambda tasks with a Retry and a Catch, and a Wait, as serverless Cairn runs them",
        "StartAt": "Prepare",
        "States": {
            "Prepare": {"Type": "Pass", "Parameters": {"orderId.$": "$.orderId"}, "Next": "Charge"},
            "Charge": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": worker_arn, "Payload": {
                    "orderId.$": "$.orderId", "failUntilAttempt": 1, "attempt.$": "$$.State.RetryCount"}},
                "ResultSelector": {"charged.$": "$.Payload.echo.orderId", "attempt.$": "$.Payload.attempt"},
                "ResultPath": "$.charge",
                "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}],
                "Next": "Settle",
            },
            "Settle": {"Type": "Wait", "Seconds": 2, "Next": "Ship"},
            "Ship": {
                "Type": "Task", "Resource": worker_arn,
                "Parameters": {"fail": "CarrierDown", "message": "no carrier today"},
                "Catch": [{"ErrorEquals": ["CarrierDown"], "ResultPath": "$.shipping", "Next": "Backorder"}],
                "End": True,
            },
            "Backorder": {
                "Type": "Pass",
                "Parameters": {"orderId.$": "$.orderId", "charge.$": "$.charge", "backordered": True,
                               "reason.$": "$.shipping.Error", "cause.$": "$.shipping.Cause"},
                "End": True,
            },
        },
    }


def long_task_machine(worker_arn, sync_seconds):
    timeout = sync_seconds + 40
    return {
        "StartAt": "Crunch",
        "States": {
            "Crunch": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": timeout,
                       "Parameters": {"FunctionName": worker_arn, "Payload": {"batch.$": "$.batch"}},
                       "ResultSelector": {"batch.$": "$.Payload.echo.batch", "status.$": "$.StatusCode"},
                       "ResultPath": "$.crunched", "Next": "Publish"},
            "Publish": {"Type": "Task", "Resource": worker_arn, "TimeoutSeconds": timeout,
                        "Parameters": {"fail": "QuotaExceeded", "message": "try tomorrow"},
                        "Catch": [{"ErrorEquals": ["QuotaExceeded"], "ResultPath": "$.published", "Next": "Done"}],
                        "End": True},
            "Done": {"Type": "Pass", "End": True},
        },
    }


def failing_machine(worker_arn):
    return {
        "StartAt": "Pay",
        "States": {
            "Pay": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": worker_arn,
                                   "Payload": {"fail": "PaymentDeclined", "message": "card 4242 declined"}},
                    "End": True},
        },
    }


ORDER_HISTORY = [
    "ExecutionStarted",
    "PassStateEntered", "PassStateExited",
    "TaskStateEntered",
    "TaskScheduled", "TaskStarted", "TaskFailed",
    "TaskScheduled", "TaskStarted", "TaskSucceeded",
    "TaskStateExited",
    "WaitStateEntered", "WaitStateExited",
    "TaskStateEntered",
    "LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed",
    "TaskStateExited",
    "PassStateEntered", "PassStateExited",
    "ExecutionSucceeded",
]


def ms(event):
    stamp = event["timestamp"]
    return stamp * 1000 if isinstance(stamp, (int, float)) else None


def run(endpoints, workdir):
    template = load_template()
    suffix = uuid.uuid4().hex[:8]
    started = time.time()
    stack = create_stack(template, endpoints, suffix)
    try:
        exercise(template, stack, endpoints, workdir, started)
    finally:
        remove_stack(stack, endpoints)


def exercise(template, stack, endpoints, workdir, started):
    suffix, account = stack["suffix"], stack["account"]
    resolve = {
        "ExecutionsTable": stack["table"], "EventBus": stack["bus"], "AlertTopic": stack["topic_arn"],
        "TimerQueue": stack["timer_url"], "TimerQueue.Arn": stack["timer_arn"],
        "ExpressQueue": stack["express_url"],
        "SchedulerRole.Arn": f"arn:aws:iam::{account}:role/cairn-e2e-scheduler",
        "AWS::AccountId": account, "TaskTokenKey": stack["secret_arn"], "PayloadBucket": stack["bucket"],
    }
    env = function_environment(template, resolve)
    env.update({
        "AWS_ENDPOINT_URL": endpoints["localstack"],
        "AWS_ENDPOINT_URL_DYNAMODB": endpoints["dynamodb"],
        "AWS_ENDPOINT_URL_S3": endpoints["moto"],
        "AWS_ENDPOINT_URL_SCHEDULER": endpoints["moto"],
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    log(f"stack {suffix} in the emulators ({time.time() - started:.1f} s): table {stack['table']}, "
        f"bus {stack['bus']}, account {account}")
    watch = Watch(env, workdir / "e2e-watch.log")
    try:
        # Each function's first invocation waits for cargo lambda watch to build and start it.
        t = time.time()
        error, answer = watch.invoke(WORKER, {"ping": True}, timeout=FIRST_INVOKE_SECONDS)
        assert error is None and answer == {"echo": {"ping": True}, "attempt": 0}, (error, answer)
        error, answer = watch.invoke("advance", {"sweep": {"graceSeconds": 120}}, timeout=FIRST_INVOKE_SECONDS)
        assert error is None and answer["resentTimers"] == 0, (error, answer)
        api = Api(watch)
        api.call("ListStateMachines", {}, "target", timeout=FIRST_INVOKE_SECONDS)
        log(f"worker, advance and api functions answer through cargo lambda watch ({time.time() - t:.1f} s)")

        worker_arn = f"arn:aws:lambda:{REGION}:{account}:function:{WORKER}"
        triggers = Triggers(stack, watch)
        role = f"arn:aws:iam::{account}:role/cairn-e2e"
        order = api.call("CreateStateMachine", {"name": f"orders-{suffix}", "roleArn": role,
                                                "definition": json.dumps(order_machine(worker_arn))},
                         "target")["stateMachineArn"]
        failing = api.call("CreateStateMachine", {"name": f"payments-{suffix}", "roleArn": role,
                                                  "definition": json.dumps(failing_machine(worker_arn))},
                           "target")["stateMachineArn"]

        # 1. Retry, Wait and Catch to SUCCEEDED.
        t = time.time()
        arn = api.call("StartExecution", {"stateMachineArn": order, "name": "order-1042",
                                          "input": json.dumps({"orderId": 1042})}, "executions")["executionArn"]
        assert arn == f"arn:aws:states:{REGION}:{account}:execution:orders-{suffix}:order-1042", arn
        described = triggers.until_ended(api, arn)
        log(f"order-1042 {described['status']} in {time.time() - t:.1f} s "
            f"({triggers.invocations['event']} advance events, {triggers.invocations['timers']} timer batches)")
        history = api.history(arn)
        types = [e["type"] for e in history]
        assert described["status"] == "SUCCEEDED", (described, types)
        output = json.loads(described["output"])
        cause = json.loads(output.pop("cause"))
        assert output == {"orderId": 1042, "charge": {"charged": 1042, "attempt": 1},
                          "backordered": True, "reason": "CarrierDown"}, output
        assert cause == {"errorType": "CarrierDown", "errorMessage": "no carrier today"}, cause
        assert types == ORDER_HISTORY, f"history {types}\nexpected {ORDER_HISTORY}"
        # Three real Lambda calls by the advance function: Charge twice (the retry), Ship once.
        calls = [c for c in watch.front.calls if f":function:{WORKER}/" in c]
        assert len(calls) == 3, watch.front.calls
        failed = next(e for e in history if e["type"] == "TaskFailed")
        assert failed["taskFailedEventDetails"]["error"] == "Flaky", failed
        # The back-off and the Wait went through the timer queue: neither ended early.
        at = {}
        for e in history:
            at.setdefault(e["type"], []).append(ms(e))
        retried = at["TaskScheduled"][1] - at["TaskFailed"][0]
        waited = at["WaitStateExited"][0] - at["WaitStateEntered"][0]
        assert retried >= 1000, f"the retry came {retried} ms after the failure, before its 1 s interval"
        assert waited >= 2000, f"the Wait of 2 s ended after {waited} ms"
        log(f"order-1042: output {described['output']}; retry after {retried:.0f} ms, Wait {waited:.0f} ms; "
            f"{len(types)} history events as expected")

        # 2. An uncaught failure: FAILED, and its alert on the topic.
        t = time.time()
        arn2 = api.call("StartExecution", {"stateMachineArn": failing, "name": "payment-7",
                                           "input": json.dumps({"card": "4242"})}, "executions")["executionArn"]
        described2 = triggers.until_ended(api, arn2)
        assert described2["status"] == "FAILED", described2
        assert described2["error"] == "PaymentDeclined", described2
        assert json.loads(described2["cause"]) == {"errorType": "PaymentDeclined",
                                                   "errorMessage": "card 4242 declined"}, described2
        types2 = [e["type"] for e in api.history(arn2)]
        assert types2 == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskFailed",
                          "ExecutionFailed"], types2
        alerts = drain(stack["sqs"], stack["alerts_url"], 1)
        assert len(alerts) == 1, f"expected one alert on the topic, got {alerts}"
        notification = alerts[0]
        assert notification["Type"] == "Notification" and notification["TopicArn"] == stack["topic_arn"], notification
        assert notification["Subject"] == "Cairn execution FAILED: payment-7", notification
        alert = json.loads(notification["Message"])
        assert (alert["executionArn"], alert["status"], alert["error"]) == (arn2, "FAILED", "PaymentDeclined"), alert
        assert alert["stateMachineArn"] == failing, alert
        log(f"payment-7 FAILED in {time.time() - t:.1f} s; its alert: {notification['Subject']!r}")

        # 3. A synchronous Express execution: its Lambda task runs inside the api invocation.
        t = time.time()
        quote = api.call("CreateStateMachine", {
            "name": f"quotes-{suffix}", "roleArn": role, "type": "EXPRESS",
            "definition": json.dumps({"StartAt": "Quote", "States": {"Quote": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": worker_arn, "Payload": {"sku.$": "$.sku"}},
                "ResultSelector": {"sku.$": "$.Payload.echo.sku"}, "End": True}}})}, "target")["stateMachineArn"]
        before = len(watch.front.calls)
        synced = api.call("StartSyncExecution", {"stateMachineArn": quote, "input": json.dumps({"sku": "A-1"})},
                          "sync-executions")
        assert synced["status"] == "SUCCEEDED", synced
        assert json.loads(synced["output"]) == {"sku": "A-1"}, synced
        assert len(watch.front.calls) == before + 1, watch.front.calls[before:]
        log(f"StartSyncExecution of an Express machine with a Lambda task: SUCCEEDED in {time.time() - t:.2f} s")

        # 3b. An asynchronous Express start answers at once; the execution waits on the Express
        # queue, and its function (the advance binary) runs it, the Lambda task included.
        t = time.time()
        before = len(watch.front.calls)
        started_express = api.call("StartExecution", {"stateMachineArn": quote, "name": f"async-{suffix}",
                                                      "input": json.dumps({"sku": "B-2"})}, "executions")
        express_arn = started_express["executionArn"]
        assert f":express:quotes-{suffix}:async-{suffix}:" in express_arn, started_express
        assert len(watch.front.calls) == before, "the task ran inside the API call"
        queued = []
        deadline = time.time() + 30
        while not queued and time.time() < deadline:
            queued = stack["sqs"].receive_message(QueueUrl=stack["express_url"], MaxNumberOfMessages=1,
                                                  WaitTimeSeconds=1, AttributeNames=["All"]).get("Messages", [])
        assert len(queued) == 1, "the Express execution was not queued"
        m = queued[0]
        error, answer = watch.invoke("advance", {"Records": [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs", "eventSourceARN": stack["express_arn"], "awsRegion": REGION}]})
        assert error is None and answer == {"batchItemFailures": []}, answer
        stack["sqs"].delete_message(QueueUrl=stack["express_url"], ReceiptHandle=m["ReceiptHandle"])
        assert len(watch.front.calls) == before + 1, watch.front.calls[before:]
        # Its status events (RUNNING, SUCCEEDED with the output) are checked with the others below.
        log(f"asynchronous Express StartExecution: answered, then run from its queue "
            f"in {time.time() - t:.2f} s")

        # 4. A lost timer message (a crash between the write and the send) comes back through
        # the sweep, read from the table's timers index, and the execution goes on.
        t = time.time()
        nap = api.call("CreateStateMachine", {
            "name": f"naps-{suffix}", "roleArn": role,
            "definition": json.dumps({"StartAt": "Nap", "States": {
                "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Up"},
                "Up": {"Type": "Pass", "Result": "rested", "End": True}}})}, "target")["stateMachineArn"]
        arn4 = api.call("StartExecution", {"stateMachineArn": nap, "name": "nap-1"}, "executions")["executionArn"]
        lost = drain(stack["sqs"], stack["timer_url"], 1)
        assert [m["event"] for m in lost] == [{"TimerFired": {"timer_id": lost[0]["event"]["TimerFired"]["timer_id"]}}], lost
        time.sleep(1.5)
        assert api.call("DescribeExecution", {"executionArn": arn4}, "action")["status"] == "RUNNING"
        error, swept = watch.invoke("advance", {"sweep": {"graceSeconds": 0}})
        assert error is None and swept["resentTimers"] == 1 and not swept["continued"], swept
        described4 = triggers.until_ended(api, arn4)
        assert described4["status"] == "SUCCEEDED" and json.loads(described4["output"]) == "rested", described4
        log(f"nap-1: its timer message lost, re-sent by the sweep ({swept}), SUCCEEDED in {time.time() - t:.1f} s")

        # 5. Long Lambda tasks (TimeoutSeconds above SyncTaskSeconds): invoked asynchronously,
        # their results come back as destination records through the template's LambdaResults
        # rule; one succeeds, the other's error is caught.
        t = time.time()
        watch.front.destination = destination_to_bus(client("events", endpoints["localstack"]),
                                                     stack["bus"], account)
        sync_seconds = int(env_value(template, "CAIRN_SYNC_TASK_SECONDS"))
        reports = api.call("CreateStateMachine", {"name": f"reports-{suffix}", "roleArn": role,
                                                  "definition": json.dumps(long_task_machine(worker_arn, sync_seconds))},
                           "target")["stateMachineArn"]
        before = len(watch.front.calls)
        arn5 = api.call("StartExecution", {"stateMachineArn": reports, "name": "report-7",
                                           "input": json.dumps({"batch": 7})}, "executions")["executionArn"]
        described5 = triggers.until_ended(api, arn5)
        assert not watch.front.event_failures, watch.front.event_failures
        types5 = [e["type"] for e in api.history(arn5)]
        assert described5["status"] == "SUCCEEDED", (described5, types5)
        output5 = json.loads(described5["output"])
        published = output5.pop("published")
        assert output5 == {"batch": 7, "crunched": {"batch": 7, "status": 200}}, output5
        assert published["Error"] == "QuotaExceeded", published
        assert json.loads(published["Cause"]) == {"errorType": "QuotaExceeded", "errorMessage": "try tomorrow"}
        assert types5 == ["ExecutionStarted",
                          "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
                          "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
                          "LambdaFunctionFailed", "TaskStateExited",
                          "PassStateEntered", "PassStateExited", "ExecutionSucceeded"], types5
        assert len(watch.front.calls) == before + 2, watch.front.calls[before:]
        # Both asynchronously (the earlier scenarios' tasks have no TimeoutSeconds: none was).
        assert len(watch.front.event_calls) == 2, watch.front.event_calls
        log(f"report-7: two long Lambda tasks through their destination records, SUCCEEDED in {time.time() - t:.1f} s")

        # 6. A callback task (sqs:sendMessage.waitForTaskToken to LocalStack's SQS): the worker
        # answers with SendTaskSuccess through the api function; a tampered token is refused.
        t = time.time()
        approvals = api.call("CreateStateMachine", {
            "name": f"approvals-{suffix}", "roleArn": role,
            "definition": json.dumps({"StartAt": "Approve", "States": {"Approve": {
                "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": stack["approvals_url"],
                               "MessageBody": {"orderId.$": "$.orderId", "token.$": "$$.Task.Token"}},
                "ResultPath": "$.approval", "End": True}}})}, "target")["stateMachineArn"]
        arn6 = api.call("StartExecution", {"stateMachineArn": approvals, "name": "approval-9",
                                           "input": json.dumps({"orderId": 9})}, "executions")["executionArn"]
        deadline, asked = time.time() + EXECUTION_SECONDS, []
        while not asked:
            assert time.time() < deadline, "the callback task sent no message to the approvals queue"
            triggers.round(wait_seconds=0)
            asked = drain(stack["sqs"], stack["approvals_url"], 1, timeout=1)
        assert asked[0]["orderId"] == 9, asked
        token = asked[0]["token"]
        # One hex digit of the signature changed (lower case, so the value differs).
        tampered = token[:-1] + ("0" if token[-1] != "0" else "1")
        refused = api.call("SendTaskSuccess", {"taskToken": tampered, "output": "{}"}, "target", status=400)
        assert refused["__type"] == "InvalidToken", (refused, token)
        api.call("SendTaskSuccess", {"taskToken": token, "output": json.dumps({"approved": True})}, "target")
        described6 = triggers.until_ended(api, arn6)
        assert described6["status"] == "SUCCEEDED", described6
        assert json.loads(described6["output"]) == {"orderId": 9, "approval": {"approved": True}}, described6
        types6 = [e["type"] for e in api.history(arn6)]
        assert types6 == ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
                          "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"], types6
        log(f"approval-9: token sent through SQS, answered with SendTaskSuccess, SUCCEEDED in {time.time() - t:.1f} s")

        # 7. StopExecution of a waiting execution: ABORTED, with its alert.
        holds = api.call("CreateStateMachine", {
            "name": f"holds-{suffix}", "roleArn": role,
            "definition": json.dumps({"StartAt": "Hold", "States": {
                "Hold": {"Type": "Wait", "Seconds": 600, "End": True}}})}, "target")["stateMachineArn"]
        arn7 = api.call("StartExecution", {"stateMachineArn": holds, "name": "hold-1"}, "executions")["executionArn"]
        api.call("StopExecution", {"executionArn": arn7, "error": "Operator", "cause": "not needed"}, "target")
        described7 = api.call("DescribeExecution", {"executionArn": arn7}, "action")
        assert (described7["status"], described7.get("error"), described7.get("cause")) == (
            "ABORTED", "Operator", "not needed"), described7
        alerts7 = drain(stack["sqs"], stack["alerts_url"], 1)
        assert [a["Subject"] for a in alerts7] == ["Cairn execution ABORTED: hold-1"], alerts7
        assert json.loads(alerts7[0]["Message"])["executionArn"] == arn7, alerts7
        log("hold-1: StopExecution, ABORTED, and its alert")

        # Status changes on the bus: RUNNING and the end of each execution, AWS's detail shape.
        changes = drain(stack["sqs"], stack["status_url"], 14)
        seen = sorted((c["detail"]["name"], c["detail"]["status"]) for c in changes)
        assert seen == sorted([("approval-9", "RUNNING"), ("approval-9", "SUCCEEDED"),
                               (f"async-{suffix}", "RUNNING"), (f"async-{suffix}", "SUCCEEDED"),
                               ("hold-1", "ABORTED"), ("hold-1", "RUNNING"),
                               ("nap-1", "RUNNING"), ("nap-1", "SUCCEEDED"),
                               ("order-1042", "RUNNING"), ("order-1042", "SUCCEEDED"),
                               ("payment-7", "FAILED"), ("payment-7", "RUNNING"),
                               ("report-7", "RUNNING"), ("report-7", "SUCCEEDED")]), seen
        express_end = [c["detail"] for c in changes
                       if c["detail"]["executionArn"] == express_arn and c["detail"]["status"] == "SUCCEEDED"]
        assert json.loads(express_end[0]["output"]) == {"sku": "B-2"}, express_end
        assert all(c["source"] == "cairn.states" and c["detail-type"] == "Step Functions Execution Status Change"
                   for c in changes), changes

        # Nothing went to a dead-letter queue, and no trigger had to be retried.
        for name in ("timer_dlq_url", "dlq_url", "express_dlq_url"):
            left = stack["sqs"].get_queue_attributes(QueueUrl=stack[name], AttributeNames=["ApproximateNumberOfMessages"])
            assert left["Attributes"]["ApproximateNumberOfMessages"] == "0", (name, left)
        assert not triggers.failures, triggers.failures
        log(f"passed in {time.time() - started:.1f} s")
    except BaseException:
        log(f"the watch server's log (tail): {watch.log.name}")
        watch.log.flush()
        print("".join(open(watch.log.name).readlines()[-60:]), file=sys.stderr)
        raise
    finally:
        watch.stop()


def remove_stack(stack, endpoints):
    """Best effort: the emulators outlive a developer's run (CI's are new each time)."""
    def quietly(call, **kwargs):
        try:
            call(**kwargs)
        except Exception as e:  # noqa: BLE001 - a leftover is harmless, a hidden failure is not
            log(f"clean-up: {e}")

    suffix = stack["suffix"]
    quietly(client("dynamodb", endpoints["dynamodb"]).delete_table, TableName=stack["table"])
    for name in ("timer_url", "timer_dlq_url", "dlq_url", "advance_url", "status_url", "alerts_url",
                 "approvals_url", "express_url", "express_dlq_url"):
        quietly(stack["sqs"].delete_queue, QueueUrl=stack[name])
    events = client("events", endpoints["localstack"])

    def rules_and_bus():
        for rule in [r["Name"] for r in events.list_rules(EventBusName=stack["bus"])["Rules"]]:
            ids = [t["Id"] for t in events.list_targets_by_rule(Rule=rule, EventBusName=stack["bus"])["Targets"]]
            events.remove_targets(Rule=rule, EventBusName=stack["bus"], Ids=ids)
            events.delete_rule(Name=rule, EventBusName=stack["bus"])
        events.delete_event_bus(Name=stack["bus"])

    quietly(rules_and_bus)
    quietly(client("sns", endpoints["localstack"]).delete_topic, TopicArn=stack["topic_arn"])
    quietly(client("secretsmanager", endpoints["localstack"]).delete_secret,
            SecretId=stack["secret_arn"], ForceDeleteWithoutRecovery=True)
    quietly(client("s3", endpoints["moto"]).delete_bucket, Bucket=stack["bucket"])
    log(f"stack {suffix} removed")


def main():
    required = os.environ.get("CAIRN_REQUIRE_EMULATORS") == "1"
    try:
        endpoints = {name: os.environ.get(var) for name, var in (
            ("dynamodb", "CAIRN_TEST_DYNAMODB"), ("localstack", "CAIRN_TEST_LOCALSTACK"), ("moto", "CAIRN_TEST_MOTO"))}
        for name, url in endpoints.items():
            if not url or not answers(url):
                raise Skip(f"{name} is not running (source the env file tests/emulators/start.sh prints)")
        if shutil.which("cargo-lambda") is None:
            raise Skip("cargo-lambda is not on PATH (pip install cargo-lambda)")
    except Skip as why:
        if required:
            print(f"FAIL: {why}")
            return 1
        print(f"SKIPPED: {why}")
        return 0
    workdir = pathlib.Path(os.environ.get("CAIRN_EMULATORS_DIR", ROOT / ".emulators"))
    workdir.mkdir(parents=True, exist_ok=True)
    run(endpoints, workdir)
    print("e2e: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
