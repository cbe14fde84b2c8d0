#!/usr/bin/env bash
# Stops the emulators tests/emulators/start.sh started (by their recorded process ids).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${CAIRN_EMULATORS_DIR:-$ROOT/.emulators}"
for name in dynamodb moto; do
  pidfile="$DIR/$name.pid"
  if [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      # The recorded pid is a subshell's for DynamoDB Local (exec'd into java) or moto's own.
      kill "$pid" 2>/dev/null
      for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
done
rm -f "$DIR/endpoints.env"
