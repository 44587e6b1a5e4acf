#!/usr/bin/env bash
# Instructions per proxied request, counted by callgrind: figures that do not move with the
# machine's load (unlike the wall-clock figures of bench.sh).
#
#   bash tests/bench/instructions.sh
#
# For each body (a 300-byte chat request, a ~20 KB conversation, ~20 KB of source code as a coding
# agent sends it, and the small request streamed)
# and each proxy (switchboard with every detector, key authentication and a realistic rule set;
# nginx proxy_pass when installed), the proxy runs under `valgrind --tool=callgrind --cache-sim=no` twice, once serving
# N1 and once N2 requests over one keep-alive connection; (I(N2) - I(N1)) / (N2 - N1) is the cost
# of one request, start-up and shut-down cancelling out; the ratio column is switchboard's over
# nginx's (with nginx absent, 1.00). Loopback only; bounded in count.
#
# Environment: BUILD_DIR [build], CG_N1 [200], CG_N2 [1200], CG_NGINX [1], CG_EXTRA (YAML
# appended to switchboard's config, e.g. an `audit:` or `telemetry:` section to price it; the
# text may name $WORK, the run's scratch directory), CG_ROUTE [ordered]: `spill` makes the last
# rule `strategy: spill` with the self-hosted backend's engine load scraped every second (the
# upstream becomes fake_engine, a simulated vLLM replica with /metrics), to price reading the
# engines' load on every decision; CG_UPSTREAM [fake]: `engine` serves the self-hosted backend
# from fake_engine under any route (the same answers as `spill` sees, for a baseline);
# CG_REPLICAS [1]: with `spill`, that many fake_engine replicas as one pool (`endpoints:`, power
# of two choices and prefix affinity); CG_KEEP [0]: 1 keeps the scratch directory with the
# callgrind profiles, for callgrind_annotate (of the last body); CG_BODIES [small big code agent stream];
# CG_API [chat]: `messages` sends the same requests in Anthropic's Messages form to
# POST /v1/messages (as Claude Code does), `responses` in OpenAI's Responses form to
# POST /v1/responses (as Codex CLI does), translated to the self-hosted backend and back.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir="$root/$build_dir"
n1=${CG_N1:-200}
n2=${CG_N2:-1200}
want_nginx=${CG_NGINX:-1}
route=${CG_ROUTE:-ordered}
api=${CG_API:-chat}
case $api in
  chat) path=/v1/chat/completions ;;
  messages) path=/v1/messages ;;
  responses) path=/v1/responses ;;
  *) echo "callgrind: CG_API is chat, messages or responses" >&2; exit 1 ;;
esac
replicas=${CG_REPLICAS:-1}
sb=$build_dir/gateway/switchboard
fake=$build_dir/tests/support/fake_upstream
engine=$build_dir/tests/support/fake_engine
upstream=${CG_UPSTREAM:-fake}
[[ $route == spill ]] && upstream=engine
bins=("$sb" "$fake")
[[ $upstream == engine ]] && bins+=("$engine")
for b in "${bins[@]}"; do
  [[ -x $b ]] || { echo "callgrind: build $b first (deploy/dev.sh build)" >&2; exit 1; }
done
command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed" >&2; exit 1; }
nginx_bin=$(command -v nginx || true)
[[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
[[ $want_nginx == 0 ]] && nginx_bin=""

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-callgrind.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ ${CG_KEEP:-0} == 1 ]]; then
    echo "callgrind: profiles kept in $work (callgrind_annotate $work/cg.switchboard.N.out)" >&2
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 600); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "callgrind: nothing listens on :$1" >&2
  return 1
}

fake_port=$(free_port)
"$fake" --host 127.0.0.1 --port "$fake_port" --name bench >"$work/fake.log" 2>&1 &
pids+=($!)
wait_port "$fake_port"
# With the engine upstream, the self-hosted backend is simulated vLLM replicas, fast enough that
# their pacing never waits.
endpoints=("http://127.0.0.1:$fake_port/v1")
if [[ $upstream == engine ]]; then
  endpoints=()
  for _ in $(seq 1 "$replicas"); do
    p=$(free_port)
    "$engine" --host 127.0.0.1 --port "$p" --model "meta-llama/Llama-3.1-8B-Instruct" \
      --tokens-per-second 10000000 --stream-tokens-per-second 10000000 \
      --prefill-tokens-per-second 100000000 --batch 1000 --kv-tokens 100000000 \
      >"$work/engine.$p.log" 2>&1 &
    pids+=($!)
    wait_port "$p"
    endpoints+=("http://127.0.0.1:$p/v1")
  done
fi

# The request bodies: ~300 bytes, a 20 KB conversation of 24 turns, 20 KB of source code, and a
# coding agent's 20 KB of tools and tool calls.
/usr/bin/python3 - "$work" "$api" <<'EOF'
import json, sys
work, api = sys.argv[1], sys.argv[2]
small = {"model": "default", "max_tokens": 16, "messages": [
    {"role": "system", "content": "You are a helpful assistant for the benchmark."},
    {"role": "user", "content": "Say hello to the benchmark, briefly, and tell me one fact about the weather today."}]}
turn = ("Here is some more context about the project we are discussing: the build uses CMake and "
        "the gateway is written in C++20; please keep the answers short and to the point. ")
msgs = [{"role": "system", "content": "You are a careful assistant."}]
while len(json.dumps(msgs)) < 20000:
    msgs.append({"role": "user" if len(msgs) % 2 else "assistant", "content": turn * 4})
big = {"model": "default", "max_tokens": 16, "messages": msgs}
# A coding agent's ~20 KB: source code in the turns (`::`, braces, numbers), as Claude Code and
# Codex CLI send.
source = ("Please review this function and keep its behaviour:\n"
          "std::vector<std::string> split(std::string_view text, char sep) {\n"
          "  std::vector<std::string> out;\n"
          "  for (std::size_t at = 0; at <= text.size();) {\n"
          "    const std::size_t end = std::min(text.find(sep, at), text.size());\n"
          "    out.emplace_back(text.substr(at, end - at));  // 0x20 bytes at most\n"
          "    at = end + 1;\n  }\n  return out;\n}\n")
code_msgs = [{"role": "system", "content": "You are a coding agent."}]
while len(json.dumps(code_msgs)) < 20000:
    code_msgs.append({"role": "user" if len(code_msgs) % 2 else "assistant", "content": source * 3})
code = {"model": "default", "max_tokens": 16, "messages": code_msgs}
# A coding agent's ~20 KB in its usual shape: tools declared with JSON schemas, then turns of
# tool calls and their results, many short members (about one JSON token per 12 bytes) where the
# conversation above has long texts.
def schema(i):
    return {"type": "object", "properties": {
        "path": {"type": "string", "description": f"The file to act on, relative to the root {i}."},
        "line": {"type": "integer", "description": "The first line, counted from 1."},
        "patterns": {"type": "array", "items": {"type": "string"},
                     "description": "Glob patterns to include."},
        "dry_run": {"type": "boolean", "description": "Report without changing anything."}},
        "required": ["path"], "additionalProperties": False}
names = ["read_file", "write_file", "edit_file", "list_dir", "grep", "glob", "run_command",
         "run_tests", "git_diff", "git_log", "web_fetch", "todo_write"]
tools = [{"type": "function", "function": {"name": n, "description": f"Tool {n}: does what it says.",
                                           "parameters": schema(i)}} for i, n in enumerate(names)]
agent_msgs = [{"role": "system", "content": "You are a coding agent working in a repository."},
              {"role": "user", "content": "Find where the request parser lives and fix the bug."}]
k = 0
while len(json.dumps({"tools": tools, "messages": agent_msgs})) < 20000:
    name = names[k % len(names)]
    call = {"id": f"call_{k:04d}", "type": "function", "function": {"name": name,
            "arguments": json.dumps({"path": f"src/part_{k}.cc", "line": k + 1, "dry_run": False})}}
    agent_msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
    agent_msgs.append({"role": "tool", "tool_call_id": call["id"],
                       "content": f"ok: {k} lines matched in src/part_{k}.cc"})
    k += 1
agent = {"model": "default", "max_tokens": 16, "tools": tools, "messages": agent_msgs}
if api == "messages":
    # Anthropic's form: the system prompt beside the turns, which start with the user's.
    def anthropic(chat):
        turns = [m for m in chat["messages"] if m["role"] != "system"]
        system = " ".join(m["content"] for m in chat["messages"] if m["role"] == "system")
        return {"model": chat["model"], "max_tokens": chat["max_tokens"], "system": system,
                "messages": turns}
    small, big, code = anthropic(small), anthropic(big), anthropic(code)
    turns = []
    for m in agent["messages"][1:]:
        if m["role"] == "assistant":
            f = m["tool_calls"][0]
            turns.append({"role": "assistant", "content": [{"type": "tool_use", "id": f["id"],
                          "name": f["function"]["name"],
                          "input": json.loads(f["function"]["arguments"])}]})
        elif m["role"] == "tool":
            turns.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id":
                          m["tool_call_id"], "content": m["content"]}]})
        else:
            turns.append(m)
    agent = {"model": "default", "max_tokens": 16, "system": agent["messages"][0]["content"],
             "tools": [{"name": t["function"]["name"], "description": t["function"]["description"],
                        "input_schema": t["function"]["parameters"]} for t in agent["tools"]],
             "messages": turns}
if api == "responses":
    # The Responses form: the system prompt as instructions, the turns as input items.
    def responses(chat):
        turns = [m for m in chat["messages"] if m["role"] != "system"]
        system = " ".join(m["content"] for m in chat["messages"] if m["role"] == "system")
        return {"model": chat["model"], "max_output_tokens": chat["max_tokens"],
                "instructions": system, "store": False, "input": turns}
    small, big, code = responses(small), responses(big), responses(code)
    items = []
    for m in agent["messages"][1:]:
        if m["role"] == "assistant":
            f = m["tool_calls"][0]
            items.append({"type": "function_call", "call_id": f["id"],
                          "name": f["function"]["name"], "arguments": f["function"]["arguments"]})
        elif m["role"] == "tool":
            items.append({"type": "function_call_output", "call_id": m["tool_call_id"],
                          "output": m["content"]})
        else:
            items.append(m)
    agent = {"model": "default", "max_output_tokens": 16, "store": False,
             "instructions": agent["messages"][0]["content"],
             "tools": [dict(t["function"], type="function") for t in agent["tools"]],
             "input": items}
open(f"{work}/small.json", "w").write(json.dumps(small))
open(f"{work}/stream.json", "w").write(json.dumps(dict(small, stream=True)))
open(f"{work}/big.json", "w").write(json.dumps(big))
open(f"{work}/code.json", "w").write(json.dumps(code))
open(f"{work}/agent.json", "w").write(json.dumps(agent))
EOF

# Sends N requests over one keep-alive connection; fails on any non-200 answer.
client() {  # PORT BODYFILE N
  /usr/bin/python3 - "$@" "$path" <<'EOF'
import http.client, sys
port, body, n = int(sys.argv[1]), open(sys.argv[2], "rb").read(), int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
h = {"Content-Type": "application/json", "Authorization": "Bearer sk-bench"}
if sys.argv[4] == "/v1/messages":
    h["anthropic-version"] = "2023-06-01"  # as Anthropic's SDKs send it
for i in range(n):
    c.request("POST", sys.argv[4], body, h)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"answer {r.status} on request {i}")
EOF
}

sb_config() {  # PORT ADMIN_PORT
  cat <<EOF
server: {listen: "127.0.0.1:$1", threads: 1}
admin: {listen: "127.0.0.1:$2"}
backends:
  local:
    provider: vllm
$(if [[ $route == spill ]]; then
    echo "    endpoints: [$(printf '"%s",' "${endpoints[@]}" | sed 's/,$//')]"
    echo "    load: {interval: 1s}"
  else
    echo "    base_url: \"${endpoints[0]}\""
  fi)
    model: "meta-llama/Llama-3.1-8B-Instruct"
    clearance: restricted
    max_in_flight: 1000
    price: {gpu_hour_usd: 2.1, tokens_per_second: 1800}
  spare:
    provider: vllm
    base_url: "http://127.0.0.1:$fake_port/v1"
    model: "meta-llama/Llama-3.1-8B-Instruct"
    clearance: internal
    tier: frontier
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
models:
  default: {candidates: [local]}
tenants:
  bench: {api_keys: ["sha256:c00397de4384b5bbaf14c02fe1ec7020d28d1eeab6a722c576c84b6678c41c29"]}
sensitivity:
  detectors:
    custom:
      - {name: codename, pattern: 'PROJECT-(ATLAS|ORION)', level: confidential}
policies:
  - {name: sensitive-stays-home, when: {sensitivity: {at_least: confidential}}, route: {to: [local], on_unavailable: reject}}
  - {name: frontier, when: {tier: {at_least: frontier}}, route: {to: [spare]}}
  - {name: overflow, when: {volume: {backend: local, in_flight_above: 0.9}}, route: {to: [spare]}}
  - {name: default, route: {to: [local, spare], strategy: $route}}
EOF
  [[ -n ${CG_EXTRA:-} ]] && printf '%s\n' "${CG_EXTRA//\$WORK/$work}"
  return 0
}

nginx_config() {  # PORT DIR
  cat <<EOF
worker_processes 1;
master_process off;
daemon off;
pid $2/nginx.pid;
error_log $2/error.log warn;
events { worker_connections 1024; }
http {
  access_log /dev/null;
  client_body_temp_path $2/body;
  proxy_temp_path $2/proxy;
  fastcgi_temp_path $2/fastcgi;
  uwsgi_temp_path $2/uwsgi;
  scgi_temp_path $2/scgi;
  client_max_body_size 8m;
  client_body_buffer_size 64k;
  upstream fake { server 127.0.0.1:$fake_port; keepalive 8; }
  server {
    listen 127.0.0.1:$1;
    location / { proxy_pass http://fake; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
EOF
}

# Runs PROXY under callgrind serving N requests of BODY; prints the total instructions.
count() {  # PROXY BODY N
  local proxy=$1 body=$2 n=$3 port admin out pid
  port=$(free_port)
  out="$work/cg.$proxy.$n.out"
  if [[ $proxy == switchboard ]]; then
    admin=$(free_port)
    sb_config "$port" "$admin" >"$work/sb.yaml"
    valgrind --tool=callgrind --cache-sim=no --callgrind-out-file="$out" \
      "$sb" run --config "$work/sb.yaml" >/dev/null 2>"$work/sb.log" &
  else
    mkdir -p "$work/nginx"
    nginx_config "$port" "$work/nginx" >"$work/nginx/nginx.conf"
    valgrind --tool=callgrind --cache-sim=no --callgrind-out-file="$out" \
      "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" \
      >/dev/null 2>"$work/nginx.log" &
  fi
  pid=$!
  wait_port "$port"
  client "$port" "$body" "$n"
  kill -TERM "$pid"
  wait "$pid" || true
  sed -nE 's/^(summary|totals): ([0-9]+).*/\2/p' "$out" | tail -n 1
}

[[ $api == chat ]] || echo "requests: POST $path ($api)"
printf '%-12s %-14s %14s %8s\n' proxy body instr/request ratio
for body in ${CG_BODIES:-small big code agent stream}; do
  base=0
  for proxy in ${nginx_bin:+nginx} switchboard; do
    a=$(count "$proxy" "$work/$body.json" "$n1")
    b=$(count "$proxy" "$work/$body.json" "$n2")
    per=$(((b - a) / (n2 - n1)))
    ((base == 0)) && base=$per
    printf '%-12s %-14s %14d %7.2fx\n' "$proxy" "$body $(wc -c <"$work/$body.json")B" "$per" \
      "$(/usr/bin/python3 -c "print($per / $base)")"
  done
done
