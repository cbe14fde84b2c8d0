#!/usr/bin/env bash
# The web console in Debian's headless Chromium, driven by Playwright (playwright-core, pinned
# in package-lock.json) against a `cairn serve` started here, then in Debian's Firefox ESR
# (firefox.mjs, WebDriver BiDi). Works on a fresh Debian machine with Rust and Node 20+:
# installs chromium and firefox-esr with apt-get when missing.
# Screenshots go to tests/console/artifacts/. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
here=$root/tests/console

missing=()
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
[ -x "${FIREFOX:-/usr/bin/firefox-esr}" ] || missing+=(firefox-esr)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

# A syntax error in an asset would otherwise show only as a blank page.
for script in "$root"/cairn/console/*.js; do node --check "$script"; done

# Waits for a server started in the background to print its address and sets $listening to it;
# exits with the server's log if the server stops, or is not listening within 10 s.
wait_listening() {
    local log=$1 pid=$2 what=$3
    listening=""
    for _ in $(seq 1 100); do
        listening=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //' || true)
        [ -n "$listening" ] && return 0
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "tests/console: $what exited" >&2; exit 1; }
        sleep 0.1
    done
    cat "$log" >&2
    echo "tests/console: $what did not start" >&2
    exit 1
}

# CAIRN_BIN picks a cairn already built (e.g. a release build); otherwise build the debug one.
if [ -z "${CAIRN_BIN:-}" ]; then
    cargo build -q -p cairn --locked
fi
bin=${CAIRN_BIN:-${CARGO_TARGET_DIR:-$root/target}/debug/cairn}
data=$(mktemp -d)
log=$data/serve.log
"$bin" serve --port 0 --data "$data/store" --functions "$here/functions.json" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
wait_listening "$log" "$server" "cairn serve"
url=$listening
echo "tests/console: cairn serve at $url"

# A second server that checks SigV4 signatures: the console must sign its calls there.
cat >"$data/keys.json" <<'KEYS'
[{"AccessKeyId": "AKIDCONSOLE", "SecretAccessKey": "console-test-secret"}]
KEYS
auth_log=$data/serve-auth.log
"$bin" serve --port 0 --data "$data/store-auth" --auth "$data/keys.json" >"$auth_log" 2>&1 &
auth_server=$!
trap 'kill "$server" "$auth_server" 2>/dev/null || true; wait "$server" "$auth_server" 2>/dev/null || true; rm -rf "$data"' EXIT
wait_listening "$auth_log" "$auth_server" "cairn serve --auth"
auth_url=$listening

# `cairn console --endpoint`: the console served locally, its calls forwarded to the --auth
# server signed with the credentials of the AWS SDKs' chain (here the environment's, and no
# profile or instance metadata from this machine).
proxy_log=$data/console.log
AWS_ACCESS_KEY_ID=AKIDCONSOLE AWS_SECRET_ACCESS_KEY=console-test-secret AWS_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
    "$bin" console --endpoint "$auth_url" --port 0 >"$proxy_log" 2>&1 &
proxy=$!
trap 'kill "$server" "$auth_server" "$proxy" 2>/dev/null || true; wait "$server" "$auth_server" "$proxy" 2>/dev/null || true; rm -rf "$data"' EXIT
wait_listening "$proxy_log" "$proxy" "cairn console"
proxy_url=$listening
node "$here/console.test.mjs" "$url" "$auth_url" "$proxy_url"
# Then Firefox, through WebDriver BiDi, on what the Chromium run left in the server.
# Node 20 has WebSocket behind a flag; later versions have it on (and may drop the flag).
ws_flag=()
[ "$(node -e 'process.stdout.write(typeof WebSocket)')" = function ] || ws_flag=(--experimental-websocket)
node "${ws_flag[@]}" "$here/firefox.mjs" "$url"
