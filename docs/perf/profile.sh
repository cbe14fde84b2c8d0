#!/usr/bin/env bash
# Profiles a release `cairn serve` under the load driver and prints where its CPU goes.
#   bash docs/perf/profile.sh express 64 150000      (modes: express, standard, chain)
# Needs perf and inferno (cargo install inferno); writes the flame graph docs/perf/serve-<mode>.svg.
# The server gets a fresh data directory in /tmp, removed afterwards with the profile.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-express}; clients=${2:-64}; total=${3:-150000}; port=${PORT:-18095}
cargo build -q --release -p cairn --bin cairn
cargo build -q --release -p cairn-api --example load
target=${CARGO_TARGET_DIR:-target}
data=$(mktemp -d)
"$target/release/cairn" serve --port "$port" --data "$data" --retention-days 0 >"$data.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$data" "$data.log"' EXIT
for _ in $(seq 50); do grep -qs listening "$data.log" && break; sleep 0.1; done
echo "load average before the run: $(cut -d' ' -f1 /proc/loadavg)"
# Four seconds from the middle of the run: DWARF stacks, since the release build keeps no frame pointers.
(sleep 0.7; perf record -q -F 999 -g --call-graph dwarf,32768 -p "$server" -o "$data/perf.data" -- sleep 4 >/dev/null 2>&1) &
recorder=$!
"$target/release/examples/load" "127.0.0.1:$port" "$mode" "$clients" "$total"
wait $recorder
perf script -i "$data/perf.data" 2>/dev/null | inferno-collapse-perf >"$data/serve.folded"
inferno-flamegraph --minwidth 0.5 --title "cairn serve, $mode load (perf cpu-clock, DWARF stacks)" \
    "$data/serve.folded" >"docs/perf/serve-$mode.svg"
python3 docs/perf/breakdown.py "$data/serve.folded"
