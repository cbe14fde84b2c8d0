#!/usr/bin/env bash
# Drives `cairn serve` with real AWS clients (boto3 and the AWS CLI) and runs the crash test.
# Works on a fresh Debian machine with Rust and Python 3: it creates its own virtualenv.
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
