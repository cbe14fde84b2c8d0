#!/usr/bin/env bash
# Drives `cairn serve` with real AWS clients (boto3, the AWS CLI, the JavaScript SDK v3, the Go SDK
# v2) and runs the crash test. Works on a fresh Debian machine with Rust, Python 3, Node 20+ and
# npm: it creates its own virtualenv, installs the pinned JavaScript SDK and Debian's Go SDK.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target=${CARGO_TARGET_DIR:-$root/target}
venv=${CAIRN_CLIENTS_VENV:-$target/clients-venv}

if [ ! -x "$venv/bin/pytest" ] || [ ! -x "$venv/bin/aws" ]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
        # Debian ships venv support separately.
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        fi
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    "$venv/bin/pip" install -q --upgrade pip
    "$venv/bin/pip" install -q boto3 awscli pytest
fi

# The JavaScript SDK goes into tests/clients/js/node_modules (git-ignored): Node resolves an ES
# module's imports only from node_modules beside or above it (NODE_PATH does not apply), so a copy
# under target/ would need the scenario copied there too. npm ci runs again only when the lock
# file is newer than the last install. Without npm, test_js_sdk.py fails and says why.
js=tests/clients/js
if command -v npm >/dev/null; then
    if [ ! -f "$js/node_modules/.package-lock.json" ] || [ "$js/package-lock.json" -nt "$js/node_modules/.package-lock.json" ]; then
        (cd "$js" && npm ci --no-audit --no-fund --loglevel=error)
    fi
else
    echo "tests/clients: npm not found, the JavaScript SDK test will fail" >&2
fi

# The AWS SDK for Go v2 comes from Debian (the Go module proxy is not reachable from the project's
# machines): Debian's Go and its packaged SDK, built in GOPATH mode by test_go_sdk.py. Without
# root or apt, test_go_sdk.py fails and says why.
if ! command -v go >/dev/null || [ ! -d /usr/share/gocode/src/github.com/aws/aws-sdk-go-v2/service/sfn ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq && apt-get install -y -qq golang-go golang-github-aws-aws-sdk-go-v2-dev >/dev/null ||
            echo "tests/clients: installing Debian's Go SDK failed, the Go SDK test will fail" >&2
    else
        echo "tests/clients: cannot install Debian's golang-go and golang-github-aws-aws-sdk-go-v2-dev, the Go SDK test will fail" >&2
    fi
fi
export CAIRN_GO_CACHE="$target/go-cache"

cargo build -q -p cairn --locked
export CAIRN_BIN="$target/debug/cairn"
export PATH="$venv/bin:$PATH"
cd tests/clients
# pytest exits 5 when it collected no test: that is a failure here too.
set +e
pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
    echo "tests/clients: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
