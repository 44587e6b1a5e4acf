#!/usr/bin/env bash
# Runs the official OpenAI and Anthropic Node SDKs and the Codex and Claude Code CLIs against a
# real Switchboard gateway in front of three fake upstreams, all on loopback with ports chosen by
# the kernel:
#
#   OpenAI SDK    -> /v1/chat/completions -> gateway -> OpenAI format    (self-hosted backend)
#                                                    -> Anthropic format (closed backend)
#   OpenAI SDK    -> /v1/responses        -> gateway -> OpenAI format    (self-hosted backend)
#                                                    -> OpenAI format    (closed `openai` backend)
#   Codex CLI     -> /v1/responses        -> gateway -> OpenAI format    (self-hosted backend)
#   Anthropic SDK -> /v1/messages         -> gateway -> OpenAI format    (self-hosted backend)
#   Claude Code   -> /v1/messages         -> gateway -> Anthropic format (closed backend)
#                                                    -> OpenAI format    (self-hosted backend)
#
#   bash tests/client/run.sh PATH/TO/switchboard PATH/TO/fake_upstream
#
# Installs the locked npm dependencies when node_modules is missing or differs from
# package-lock.json, starts the fakes (each recording what it receives, when fake_upstream has
# --record) and switchboard, runs `node --test` over tests/client, stops every process on exit
# and exits with node's status. The CLIs get their HOME and CODEX_HOME inside this run's
# temporary directory, run under strace so the tests can assert that they connect to loopback
# only, and have their telemetry and update checks switched off.
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
for tool in node npm strace; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "run.sh: '$tool' not found: install nodejs, npm and strace" >&2
    exit 2
  fi
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The OpenAI-format fake behind a self-hosted backend, and the Anthropic-format fake behind a
# closed `anthropic` backend. Each fake answers in the format of the path it is called on and
# prefixes its replies with its name, so a reply shows which backend produced it.
fake_name=fake
backend_name=local
alias_name=default
local_alias=local
anthropic_fake_name=fake-anthropic
anthropic_backend=claude
anthropic_alias=claude-via-gateway
anthropic_model=claude-sonnet-4-5
openai_fake_name=fake-openai
openai_backend=openai
openai_alias=gpt-via-gateway
# The keys the gateway accepts (tenants `clients` and `others`); any other key is a 401. The
# second tenant checks that stored responses do not cross tenants.
client_key=sk-switchboard-client-test
second_key=sk-switchboard-other-tenant
startup_timeout_s=15
# The whole `node --test` run, and each suite of the CLI tests (each agent run is killed after
# at most 120 s by the tests themselves).
suite_timeout_s=900
test_timeout_ms=240000

# --- dependencies: exactly what package-lock.json pins -----------------------------------------
# Prints every package whose installed version differs from the lockfile (nothing when in sync).
stale_packages() {
  # shellcheck disable=SC2016  # the single-quoted text is JavaScript
  node -e '
    const fs = require("node:fs");
    const path = require("node:path");
    const dir = process.argv[1];
    const lock = JSON.parse(fs.readFileSync(path.join(dir, "package-lock.json"), "utf8"));
    for (const [where, entry] of Object.entries(lock.packages)) {
      if (!where.startsWith("node_modules/") || entry.optional || entry.peer) continue;
      let installed = "none";
      try {
        installed = JSON.parse(fs.readFileSync(path.join(dir, where, "package.json"), "utf8"))
                        .version;
      } catch {}
      if (installed !== entry.version) {
        console.log(`${where.slice("node_modules/".length)} ${installed} != ${entry.version}`);
      }
    }' "$here"
}
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { console.log("none") }' \
    "$here/node_modules/$1/package.json"
}
stale=$(stale_packages)
if [[ ! -d $here/node_modules || -n $stale ]]; then
  echo "run.sh: installing node dependencies (npm ci)${stale:+; differing from the lockfile:}"
  if [[ -n $stale ]]; then
    echo "$stale"
  fi
  (cd "$here" && npm ci --no-audit --no-fund)
fi
echo "run.sh: node $(node --version), openai $(installed_version openai)," \
  "@anthropic-ai/sdk $(installed_version @anthropic-ai/sdk)," \
  "@openai/codex $(installed_version @openai/codex)," \
  "@anthropic-ai/claude-code $(installed_version @anthropic-ai/claude-code)"

# --- processes ------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-client.XXXXXX")
pids=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  local pid
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  for pid in "${pids[@]}"; do
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
      tail -n +1 "$work"/*.log >&2 || true
      return 1
    fi
    if ((SECONDS >= deadline)); then
      echo "run.sh: $what not ready after ${startup_timeout_s}s; its output:" >&2
      tail -n +1 "$work"/*.log >&2 || true
      return 1
    fi
    sleep 0.05
  done
}

# A fake_upstream with --record appends one JSON line per request it receives to a file: the
# tests read what the gateway sent upstream there. Without it (an older build) the tests that need
# a record fail and say so.
record_supported=false
if "$fake_bin" --help 2>/dev/null | grep -q -- '--record'; then
  record_supported=true
else
  echo "run.sh: $fake_bin has no --record: the tests that check upstream requests will fail" >&2
fi

# Starts a fake upstream named NAME and sets fake_url to its base URL (http://127.0.0.1:PORT/v1)
# and fake_record to its record file ("" without --record).
fake_url=""
fake_record=""
start_fake() {
  local name=$1
  local record_args=()
  fake_record=""
  if [[ $record_supported == true ]]; then
    fake_record="$work/$name.requests.jsonl"
    : >"$fake_record"
    record_args=(--record "$fake_record")
  fi
  "$fake_bin" --host 127.0.0.1 --port 0 --name "$name" "${record_args[@]}" \
    >"$work/$name.out.log" 2>"$work/$name.err.log" &
  pids+=("$!")
  local line='^listening (http://127\.0\.0\.1:[0-9]+/v1)'
  wait_for_line "$work/$name.out.log" "$line" "$!" "fake_upstream $name"
  fake_url=$(sed -nE "s#${line}.*#\\1#p" "$work/$name.out.log" | head -n 1)
}
start_fake "$fake_name"
upstream_url=$fake_url
upstream_record=$fake_record
start_fake "$anthropic_fake_name"
anthropic_url=$fake_url
anthropic_record=$fake_record
start_fake "$openai_fake_name"
openai_url=$fake_url
openai_record=$fake_record

# The Anthropic backend calls {base_url}/messages, i.e. the fake's /v1/messages; the OpenAI
# backend {base_url}/chat/completions and {base_url}/responses. The backends have the shipped
# config's clearances (self-hosted restricted, closed internal), and sensitivity keeps its
# defaults: a coding agent's boilerplate must not make its requests confidential.
# Keep-alive comments every 50 ms of silence: the SDKs and CLIs must skip them wherever an
# upstream pauses (the tests that ask the fake for 150 ms between events assert they are sent).
cat >"$work/switchboard.yaml" <<YAML
server: {listen: "127.0.0.1:0", threads: 2, stream_keepalive: 50ms}
admin: {listen: "127.0.0.1:0"}
backends:
  ${backend_name}:
    provider: vllm
    base_url: "${upstream_url}"
    model: "meta-llama/Llama-3.1-8B-Instruct"
    max_output_tokens: 8192   # Claude Code asks for 32000: clamped to this
    clearance: restricted     # as the shipped config's self-hosted engine
  ${anthropic_backend}:
    provider: anthropic
    allow_insecure: true   # an http:// stand-in
    base_url: "${anthropic_url}"
    api_key: "sk-ant-fake-upstream-key"
    model: "${anthropic_model}"
    max_output_tokens: 64000
    clearance: internal
  ${openai_backend}:
    provider: openai
    allow_insecure: true   # an http:// stand-in
    base_url: "${openai_url}"
    api_key: "sk-openai-fake-upstream-key"
    model: "gpt-4o"
    clearance: internal
models:
  ${alias_name}: {candidates: [${backend_name}]}
  ${local_alias}: {candidates: [${backend_name}]}
  ${anthropic_alias}: {candidates: [${anthropic_backend}]}
  ${openai_alias}: {candidates: [${openai_backend}]}
tenants:
  clients:
    api_keys: ["$("$switchboard_bin" hash-key "$client_key")"]
  others:
    api_keys: ["$("$switchboard_bin" hash-key "$second_key")"]
YAML

"$switchboard_bin" run --config "$work/switchboard.yaml" >"$work/gateway.access.log" \
  2>"$work/gateway.err.log" &
gateway_pid=$!
pids+=("$gateway_pid")
wait_for_line "$work/gateway.err.log" '"msg":"listening"' "$gateway_pid" switchboard
listen=$(grep -m 1 '"msg":"listening"' "$work/gateway.err.log" \
  | sed -nE 's/.*"listen":"([^"]+)".*/\1/p')
if [[ -z $listen ]]; then
  echo "run.sh: no listen address in the gateway's listening line:" >&2
  cat "$work/gateway.err.log" >&2
  exit 1
fi
echo "run.sh: fakes at $upstream_url (OpenAI format, self-hosted), $anthropic_url (Anthropic" \
  "format) and $openai_url (OpenAI format, closed), gateway at http://$listen"

# --- the tests ------------------------------------------------------------------------------------
# The CLIs' homes (HOME, CODEX_HOME, project directories) are made under this directory.
mkdir -p "$work/clients"
status=0
SWITCHBOARD_URL="http://$listen/v1" SWITCHBOARD_ROOT_URL="http://$listen" \
  SWITCHBOARD_API_KEY="$client_key" SECOND_API_KEY="$second_key" \
  SWITCHBOARD_MODEL="$alias_name" FAKE_NAME="$fake_name" FAKE_BACKEND="$backend_name" LOCAL_ALIAS="$local_alias" \
  FAKE_RECORD="$upstream_record" \
  ANTHROPIC_ALIAS="$anthropic_alias" ANTHROPIC_FAKE_NAME="$anthropic_fake_name" \
  ANTHROPIC_BACKEND="$anthropic_backend" ANTHROPIC_FAKE_RECORD="$anthropic_record" \
  ANTHROPIC_BACKEND_MODEL="$anthropic_model" \
  ANTHROPIC_FAKE_URL="${anthropic_url%/v1}" \
  OPENAI_ALIAS="$openai_alias" OPENAI_FAKE_NAME="$openai_fake_name" \
  OPENAI_BACKEND="$openai_backend" OPENAI_FAKE_RECORD="$openai_record" \
  CLIENT_WORK_DIR="$work/clients" CLIENT_TEST_TIMEOUT_MS="$test_timeout_ms" \
  GATEWAY_ACCESS_LOG="$work/gateway.access.log" \
  timeout --kill-after=10 "$suite_timeout_s" \
  node --test "$here"/*.test.mjs || status=$?

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
