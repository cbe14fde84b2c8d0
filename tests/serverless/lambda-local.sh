#!/usr/bin/env bash
# Local-invoke check of the Lambda binaries with cargo-lambda (pip package, brings zig):
# `cargo lambda build` of the three functions, then `cargo lambda watch` (the Lambda runtime
# API on 127.0.0.1) and `cargo lambda invoke` of sample events from events/ (the schedules
# custom resource's with a moto presigned response URL). Needs the
# emulators running (tests/serverless/run.sh calls this with CAIRN_LAMBDA_LOCAL=1). Ends with
# the end-to-end test (tests/serverless/e2e.py).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
DIR="${CAIRN_EMULATORS_DIR:-$ROOT/.emulators}"
# shellcheck disable=SC1091
. "$DIR/endpoints.env"
[ -x "$DIR/venv/bin/cargo-lambda" ] || "$DIR/venv/bin/pip" install --quiet --disable-pip-version-check "cargo-lambda>=1.9,<2"
export PATH="$DIR/venv/bin:$PATH"

echo "== cargo lambda build"
cargo lambda build --bin api --bin advance --bin schedule

echo "== cargo lambda invoke (events/ samples)"
# The table, and the task-token key as the template makes it (a generated secret), which each
# function reads once at its cold start.
token_secret="$("$DIR/venv/bin/python" - <<'PY'
import boto3, os
c = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
# Created unless it exists (ListTables answers 100 names a page, and the Rust tests before this
# leave many tables behind, so asking is what tells).
try:
    c.create_table(TableName="cairn-local", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}])
except c.exceptions.ResourceInUseException:
    pass
secrets = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
try:
    print(secrets.describe_secret(SecretId="cairn-local-token-key")["ARN"])
except secrets.exceptions.ResourceNotFoundException:
    key = secrets.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]
    print(secrets.create_secret(Name="cairn-local-token-key", SecretString=key)["ARN"])
PY
)"
envfile="$DIR/lambda.env"
cat > "$envfile" <<ENV
TABLE_NAME=cairn-local
EVENT_BUS_NAME=default
ALERT_TOPIC_ARN=arn:aws:sns:us-east-1:123456789012:cairn-local
TIMER_QUEUE_URL=$AWS_ENDPOINT_URL/123456789012/cairn-local
TIMER_QUEUE_ARN=arn:aws:sqs:us-east-1:123456789012:cairn-local
STATE_MACHINE_ARN=arn:aws:states:us-east-1:123456789012:stateMachine:cairn-local
AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB
AWS_ACCESS_KEY_ID=test
AWS_SECRET_ACCESS_KEY=test
AWS_REGION=us-east-1
TASK_TOKEN_SECRET_ARN=$token_secret
CAIRN_SCHEDULES_FILE=$DIR/schedules-local.json
ENV
# What the Schedules custom resource syncs when the schedule function runs here (deployed, the
# file comes from the SchedulesLayer at /opt/schedules.json).
cat > "$DIR/schedules-local.json" <<'JSON'
{"schedules": [
  {"name": "local-nightly", "expression": "cron(0 6 * * ? *)", "timezone": "Europe/Paris",
   "stateMachine": "cairn-local", "input": {"report": "daily"}},
  {"name": "local-hourly", "expression": "rate(1 hour)", "stateMachine": "cairn-local", "enabled": false}
]}
JSON
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" --env-file "$envfile" \
  >"$DIR/watch.log" 2>&1 &
watch_pid=$!
trap 'kill "$watch_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 1
done

check() { # function, sample, text the answer must contain
  out="$(cargo lambda invoke "$1" --data-file "events/$2" -A 127.0.0.1 -P "$port" 2>&1 || true)"
  echo "$1 $2 -> $out"
  case "$out" in *"$3"*) ;; *) echo "expected '$3'"; exit 1 ;; esac
}
# An advance event for an execution that does not exist changes nothing.
check advance advance-eventbridge.json '"applied":"Missing"'
# Nor does a timer message: it is consumed, not reported as a batch item failure to retry.
check advance advance-timer-sqs.json '"batchItemFailures":[]'
# A queued asynchronous Express execution runs to its end in the invocation (the ExpressFunction).
check advance advance-express-sqs.json '"batchItemFailures":[]'
# A start of a state machine that does not exist answers AWS's error as HTTP 400.
check api api-start-execution.json 'StateMachineDoesNotExist'
check api api-start-sync-execution.json 'StateMachineDoesNotExist'
# The schedule function reports the same error for the machine a Scheduler schedule names, and
# for the one its STATE_MACHINE_ARN names when a schedule rule's event arrives.
check schedule schedule.json 'State Machine Does Not Exist'
check schedule schedule-rule.json 'State Machine Does Not Exist'

# The Schedules custom resource through the schedule binary: CloudFormation's Create (the
# sample, its ResponseURL a moto S3 presigned URL) fills the group from the schedules file and
# PUTs SUCCESS there; the Delete empties and removes the group.
"$DIR/venv/bin/python" - "$port" <<'PY'
import json, os, sys, urllib.request
import boto3
invoke = f"http://127.0.0.1:{sys.argv[1]}/2015-03-31/functions/schedule/invocations"
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
scheduler = boto3.client("scheduler", endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name="us-east-1")
bucket = "cairn-local-cfn-responses"
s3.create_bucket(Bucket=bucket)
event = json.load(open("events/schedule-custom-resource.json"))
group = event["ResourceProperties"]["GroupName"]

def send(kind):
    event["RequestType"] = kind
    event["PhysicalResourceId"] = group
    event["ResponseURL"] = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": kind}, ExpiresIn=600)
    request = urllib.request.Request(invoke, data=json.dumps(event).encode(), method="POST")
    answer = json.load(urllib.request.urlopen(request, timeout=60))
    sent = json.load(s3.get_object(Bucket=bucket, Key=kind)["Body"])
    assert sent == answer and sent["Status"] == "SUCCESS", (answer, sent)
    return sent

created = send("Create")
names = sorted(s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"])
assert names == ["local-hourly", "local-nightly"] and created["Data"]["Created"] == 2, (names, created)
target = scheduler.get_schedule(Name="local-nightly", GroupName=group)["Target"]
assert json.loads(target["Input"])["stateMachineArn"] == "arn:aws:states:us-east-1:123456789012:stateMachine:cairn-local", target
print("schedule Create ->", created["Data"])
deleted = send("Delete")
assert deleted["Data"]["Deleted"] == 2 and group not in [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]], deleted
print("schedule Delete ->", deleted["Data"])
PY

# Task states call Lambda through its Invoke API: here the one cargo lambda watch serves, as
# cairn run and cairn serve would call AWS Lambda (AWS_ENDPOINT_URL_LAMBDA points them at it).
echo "== a lambda:invoke task of cairn run and of cairn serve reaches the advance function"
export AWS_ENDPOINT_URL_LAMBDA="http://127.0.0.1:$port"
cargo build -q -p cairn --locked
out="$(target/debug/cairn run tests/serverless/lambda-task.asl.json --input @events/advance-eventbridge.json --format json)"
"$DIR/venv/bin/python" - "$out" <<'PY'
import json, sys
run = json.loads(sys.argv[1])
assert run["status"] == "SUCCEEDED", run
assert run["output"] == {"Payload": {"applied": "Missing"}, "StatusCode": 200}, run
print("cairn run  -> lambda:invoke answered", run["output"])
PY
"$DIR/venv/bin/python" - <<'PY'
import json, re, subprocess, tempfile, time
import boto3
from botocore.config import Config
data = tempfile.mkdtemp(prefix="cairn-lambda-")
server = subprocess.Popen(["target/debug/cairn", "serve", "--port", "0", "--data", data],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
try:
    endpoint = re.search(r"listening on (http://\S+)", server.stdout.readline()).group(1)
    sfn = boto3.client("stepfunctions", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test",
                       config=Config(retries={"max_attempts": 1}))
    machine = sfn.create_state_machine(name="calls-lambda", roleArn="arn:aws:iam::123456789012:role/r",
        definition=open("tests/serverless/lambda-task.asl.json").read())["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=machine, input=open("events/advance-eventbridge.json").read())["executionArn"]
    deadline = time.time() + 120
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.time() < deadline, "still running"
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert output == {"Payload": {"applied": "Missing"}, "StatusCode": 200}, output
    print("cairn serve -> lambda:invoke answered", output)
finally:
    server.terminate()
    server.wait(timeout=10)
PY

# The whole serverless path, end to end: the three functions and a test Lambda
# (tests/serverless/worker) under their own cargo lambda watch, configured as template.yaml
# configures them, with DynamoDB Local's table and LocalStack's bus, rules, timer queue and alert
# topic; a workflow with Lambda tasks, a Retry, a Wait and a Catch to SUCCEEDED and a failing
# one's SNS alert, all through the api function's HTTP routes. Built here first so a build error
# shows as one (the watch server builds with cargo run).
echo "== end to end: api, advance and a Lambda task under cargo lambda watch, LocalStack and DynamoDB Local"
cargo build --locked -q --bin api --bin advance --bin schedule --bin e2e-worker
"$DIR/venv/bin/python" tests/serverless/e2e.py
