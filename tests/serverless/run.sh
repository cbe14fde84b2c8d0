#!/usr/bin/env bash
# Serverless Cairn against real emulators: installs and starts DynamoDB Local and moto server
# (tests/emulators/start.sh), lints template.yaml with cfn-lint, runs the DynamoDB store suite
# and the functions' handlers in-process through the official AWS SDK clients, then stops the
# emulators. Exits non-zero on any failure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

# The packages whose tests need the emulators. They all run here, once; tests/run.sh leaves
# them out of its plain `cargo test --workspace` step (it reads this list with --packages).
PACKAGES=(cairn-store-dynamodb cairn-serverless cairn-fn-api cairn-fn-advance cairn-fn-schedule cairn-schedules cairn-integrations)
if [ "${1:-}" = --packages ]; then
  printf '%s\n' "${PACKAGES[@]}"
  exit 0
fi

# This script starts the emulators, so a test that finds one missing fails instead of skipping.
export CAIRN_REQUIRE_EMULATORS=1

endpoints="$(bash tests/emulators/start.sh)"
trap 'bash "$ROOT/tests/emulators/stop.sh"' EXIT
# shellcheck disable=SC1090
. "$endpoints"

echo "== cfn-lint template.yaml"
"$CAIRN_CFN_LINT" template.yaml

echo "== sam validate --lint template.yaml"
# SAM's own check (its transform, then its lint) is what `sam deploy` runs first; it works
# offline. Its own virtualenv: aws-sam-cli pins its own cfn-lint.
sam_venv="${CAIRN_EMULATORS_DIR:-$ROOT/.emulators}/sam-venv"
if [ ! -x "$sam_venv/bin/sam" ]; then
  python3 -m venv "$sam_venv"
  "$sam_venv/bin/pip" install --quiet --disable-pip-version-check "aws-sam-cli>=1.130,<2"
fi
SAM_CLI_TELEMETRY=0 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  "$sam_venv/bin/sam" validate --lint --region us-east-1 -t template.yaml

echo "== functions/README.md's samconfig.toml example works as written; the schedules file is wired to the stack"
SAM_CLI_TELEMETRY=0 "$sam_venv/bin/python" tests/serverless/readme_examples.py

echo "== the functions' IAM permissions match the AWS calls their code makes"
"$(dirname "$CAIRN_CFN_LINT")/python" tests/serverless/permissions.py

echo "== no silent failures: dead-letter queues, alarms, JSON logs with retention, tracing"
"$(dirname "$CAIRN_CFN_LINT")/python" tests/serverless/operations.py

echo "== the sample events in events/ match the template's API stage and routes"
"$(dirname "$CAIRN_CFN_LINT")/python" tests/serverless/sample_events.py

echo "== the documented IAM-signed client (boto3 signing for execute-api) through a local stand-in of API Gateway's IAM auth"
cargo build --locked -q -p cairn
# The AWS CLI v1 (its plugins take the documented signing hook), in a virtualenv of its own: it
# pins its own botocore.
cli_venv="${CAIRN_EMULATORS_DIR:-$ROOT/.emulators}/cli-venv"
if [ ! -x "$cli_venv/bin/aws" ]; then
  python3 -m venv "$cli_venv"
  "$cli_venv/bin/pip" install --quiet --disable-pip-version-check "awscli>=1.30,<2"
fi
"$(dirname "$CAIRN_CFN_LINT")/python" tests/serverless/iam_client.py target/debug/cairn "$cli_venv/bin/aws"

echo "== DynamoDB store suite and serverless handlers against the emulators"
cargo test --locked "${PACKAGES[@]/#/--package=}"

echo "== cost per million state transitions (bench workloads through the serverless path)"
cargo test --locked -p cairn-serverless --test cost -- --ignored --nocapture

if [ "${CAIRN_LAMBDA_LOCAL:-0}" = 1 ]; then
  bash tests/serverless/lambda-local.sh
else
  echo "== cargo lambda build/invoke check and the LocalStack end-to-end test (tests/serverless/e2e.py) skipped (set CAIRN_LAMBDA_LOCAL=1; it adds about 5 minutes)"
fi
