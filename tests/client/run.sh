#!/usr/bin/env bash
# Runs the official OpenAI Node SDK against a real Switchboard gateway in front of a fake
# upstream, all on loopback with ports chosen by the kernel.
#
#   bash tests/client/run.sh PATH/TO/switchboard PATH/TO/fake_upstream
#
# Installs the locked npm dependencies when node_modules is missing or stale, starts
# fake_upstream and switchboard, runs `node --test` over tests/client, stops both processes on
# exit and exits with node's status.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 PATH/TO/switchboard PATH/TO/fake_upstream" >&2
  exit 2
fi
switchboard_bin=$1
fake_bin=$2
for bin in "$switchboard_bin" "$fake_bin"; do
  if [[ ! -x $bin ]]; then
    echo "run.sh: not an executable: $bin (build the switchboard and fake_upstream targets)" >&2
    exit 2
  fi
done
for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run.sh: '$tool' not found: install nodejs and npm (the project's install script does)" >&2
    exit 2
  fi
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fake_name=fake
backend_name=local
alias_name=default
startup_timeout_s=15

# --- dependencies: exactly what package-lock.json pins -----------------------------------------
locked_version() {
  node -e 'console.log(require(process.argv[1]).packages["node_modules/openai"].version)' \
    "$here/package-lock.json"
}
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { console.log("none") }' \
    "$here/node_modules/openai/package.json"
}
if [[ ! -d $here/node_modules || $(installed_version) != "$(locked_version)" ]]; then
  echo "run.sh: installing node dependencies (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund)
fi
echo "run.sh: node $(node --version), openai $(installed_version)"

# --- processes ------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-client.XXXXXX")
fake_pid=""
gateway_pid=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  for pid in $gateway_pid $fake_pid; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in $gateway_pid $fake_pid; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until FILE has a line matching the extended regex; fails when PID dies or on timeout.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 what=$4
  local deadline=$((SECONDS + startup_timeout_s))
  while ! grep -Eq "$pattern" "$file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $what exited before it was ready; its output:" >&2
      cat "$work"/*.log >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "run.sh: $what not ready after ${startup_timeout_s}s; its output:" >&2
      cat "$work"/*.log >&2 || true
      return 1
    fi
    sleep 0.05
  done
}

"$fake_bin" --host 127.0.0.1 --port 0 --name "$fake_name" >"$work/fake.out.log" \
  2>"$work/fake.err.log" &
fake_pid=$!
fake_line='^listening (http://127\.0\.0\.1:[0-9]+/v1)'
wait_for_line "$work/fake.out.log" "$fake_line" "$fake_pid" fake_upstream
upstream_url=$(sed -nE "s#${fake_line}.*#\\1#p" "$work/fake.out.log" | head -n 1)

cat >"$work/switchboard.yaml" <<EOF
server: {listen: "127.0.0.1:0", threads: 2}
admin: {listen: "127.0.0.1:0"}
backends:
  ${backend_name}:
    provider: vllm
    base_url: "${upstream_url}"
    model: "meta-llama/Llama-3.1-8B-Instruct"
models:
  ${alias_name}: {candidates: [${backend_name}]}
EOF

"$switchboard_bin" run --config "$work/switchboard.yaml" >"$work/gateway.access.log" \
  2>"$work/gateway.err.log" &
gateway_pid=$!
wait_for_line "$work/gateway.err.log" '"msg":"listening"' "$gateway_pid" switchboard
listen=$(grep -m 1 '"msg":"listening"' "$work/gateway.err.log" \
  | sed -nE 's/.*"listen":"([^"]+)".*/\1/p')
if [[ -z $listen ]]; then
  echo "run.sh: no listen address in the gateway's listening line:" >&2
  cat "$work/gateway.err.log" >&2
  exit 1
fi
echo "run.sh: fake upstream at $upstream_url, gateway at http://$listen/v1"

# --- the tests ------------------------------------------------------------------------------------
status=0
SWITCHBOARD_URL="http://$listen/v1" SWITCHBOARD_MODEL="$alias_name" FAKE_NAME="$fake_name" \
  FAKE_BACKEND="$backend_name" node --test "$here"/*.test.mjs || status=$?

if ((status != 0)); then
  echo "run.sh: node --test failed ($status); gateway stderr:" >&2
  cat "$work/gateway.err.log" >&2 || true
  echo "run.sh: gateway access log (last 40 lines):" >&2
  tail -n 40 "$work/gateway.access.log" >&2 || true
fi
if ! kill -0 "$gateway_pid" 2>/dev/null; then
  echo "run.sh: the gateway died during the tests; its stderr:" >&2
  cat "$work/gateway.err.log" >&2 || true
  status=1
fi
exit "$status"
