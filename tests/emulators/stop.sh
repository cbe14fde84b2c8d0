#!/usr/bin/env bash
# Stops the emulators tests/emulators/start.sh started (by their recorded process ids).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DIR="${CAIRN_EMULATORS_DIR:-$ROOT/.emulators}"
for name in dynamodb moto localstack; do
  pidfile="$DIR/$name.pid"
  if [ -f "$pidfile" ]; then
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      # The recorded pid is a subshell's for DynamoDB Local (exec'd into java), moto's own, or
      # LocalStack's, which leads its own process group (setsid): the group is ended with it.
      target="$pid"
      [ "$name" = localstack ] && [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ] && target="-$pid"
      kill -- "$target" 2>/dev/null
      # LocalStack takes a few seconds to shut its services down.
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 -- "$target" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  fi
done
rm -f "$DIR/endpoints.env"
