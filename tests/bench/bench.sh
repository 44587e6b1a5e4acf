#!/usr/bin/env bash
# Throughput, latency and CPU cost of Switchboard as a proxy, next to nginx, on loopback.
#
#   bash tests/bench/bench.sh
#
# Runs wrk (POST /v1/chat/completions, non-stream, small or 20 KB body; see chat.lua) against:
#   direct       fake_upstream itself (no latency): the floor every proxy adds to
#   switchboard  switchboard with server.threads: 1, the fake as its only backend
#   nginx        nginx proxy_pass to the same fake (one process, keepalive upstream pool);
#                skipped with a note when nginx is not installed
# each twice: closed loop (BENCH_CONNECTIONS connections as fast as they go) and open loop at a
# fixed rate (BENCH_RATE req/s: wrk2 when installed, else wrk paced by chat.lua's delay()).
#
# Prints req/s, p50/p99 latency, the proxy's overhead over direct (p50 and p99 differences), the
# proxy process's CPU time per request (utime+stime from /proc/PID/stat around the run, divided
# by completed requests) and, for switchboard, the mean in-gateway overhead from its own
# switchboard_overhead_seconds metric.
#
# Everything shares this machine's cores (wrk, the fake, the proxy): compare rows of one run,
# not figures across machines. Both proxies write an access log line per request to /dev/null.
#
# Environment (defaults in brackets):
#   BUILD_DIR              build tree, relative to the repo root or absolute [build]; the
#                          switchboard and fake_upstream targets are built there when missing
#   BENCH_THREADS          wrk threads [2]
#   BENCH_CONNECTIONS      connections of the closed-loop runs [32]
#   BENCH_DURATION         length of each closed-loop run [10s]
#   BENCH_RATE             requests/s of the fixed-rate runs, 0 to skip them [2000]
#   BENCH_RATE_CONNECTIONS connections of the fixed-rate runs [16]
#   BENCH_RATE_DURATION    length of each fixed-rate run [10s]
#   BENCH_WARMUP           unmeasured warm-up before each run [1s]
#   BENCH_NGINX            0 skips nginx [1]
#   BENCH_KEEP_OUTPUT      1 keeps the temp dir (configs, wrk and server output) [0]
#   BENCH_BODY             small (the ~100-byte body of chat.lua) or big (a ~20 KB conversation
#                          of 24 turns, as tests/bench/instructions.sh sends) [small]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build_dir=${BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir="$root/$build_dir"
threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-32}
duration=${BENCH_DURATION:-10s}
rate=${BENCH_RATE:-2000}
rate_connections=${BENCH_RATE_CONNECTIONS:-16}
rate_duration=${BENCH_RATE_DURATION:-10s}
warmup=${BENCH_WARMUP:-1s}
want_nginx=${BENCH_NGINX:-1}
keep_output=${BENCH_KEEP_OUTPUT:-0}
body_kind=${BENCH_BODY:-small}
startup_timeout_s=15

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

[[ $body_kind == small || $body_kind == big ]] || die "BENCH_BODY is small or big, not '$body_kind'"

# --- tools and binaries ---------------------------------------------------------------------------
command -v wrk >/dev/null 2>&1 || die "wrk not found: install it (Debian: apt-get install wrk)"
have_curl=0
command -v curl >/dev/null 2>&1 && have_curl=1
nginx_bin=""
if [[ $want_nginx != 0 ]]; then
  nginx_bin=$(command -v nginx || true)
  [[ -z $nginx_bin && -x /usr/sbin/nginx ]] && nginx_bin=/usr/sbin/nginx
fi
rate_tool=wrk
if ((rate > 0)) && command -v wrk2 >/dev/null 2>&1; then
  rate_tool=wrk2
fi

switchboard_bin=${SWITCHBOARD_BIN:-$build_dir/gateway/switchboard}
fake_bin=${FAKE_UPSTREAM_BIN:-$build_dir/tests/support/fake_upstream}
missing=()
[[ -x $switchboard_bin ]] || missing+=(switchboard)
[[ -x $fake_bin ]] || missing+=(fake_upstream)
if ((${#missing[@]} > 0)); then
  say "building ${missing[*]} in $build_dir"
  cmake --build "$build_dir" --target "${missing[@]}" -j2
fi
[[ -x $switchboard_bin ]] || die "no switchboard binary at $switchboard_bin"
[[ -x $fake_bin ]] || die "no fake_upstream binary at $fake_bin"

# --- processes ------------------------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")
pids=()
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local status=$?
  local pid
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $keep_output == 1 ]]; then
    say "output kept in $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export BENCH_BODY_FILE=""
if [[ $body_kind == big ]]; then
  BENCH_BODY_FILE="$work/big.json"
  /usr/bin/python3 - "$BENCH_BODY_FILE" <<'PY'
import json, sys
turn = ("Here is some more context about the project we are discussing: the build uses CMake and "
        "the gateway is written in C++20; please keep the answers short and to the point. ")
msgs = [{"role": "system", "content": "You are a careful assistant."}]
while len(json.dumps(msgs)) < 20000:
    msgs.append({"role": "user" if len(msgs) % 2 else "assistant", "content": turn * 4})
open(sys.argv[1], "w").write(json.dumps({"model": "default", "max_tokens": 16, "messages": msgs}))
PY
fi

# Waits until FILE has a line matching the extended regex; fails when PID dies or on timeout.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3 what=$4
  local deadline=$((SECONDS + startup_timeout_s))
  while ! grep -Eq "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || die "$what exited before it was ready: $(cat "$file")"
    ((SECONDS < deadline)) || die "$what not ready after ${startup_timeout_s}s: $(cat "$file")"
    sleep 0.05
  done
}

# Succeeds once 127.0.0.1:PORT accepts a connection, fails when PID dies or after 5 s.
wait_for_port() {
  local port=$1 pid=$2
  local deadline=$((SECONDS + 5))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

"$fake_bin" --host 127.0.0.1 --port 0 --name bench >"$work/fake.log" 2>&1 &
fake_pid=$!
pids+=("$fake_pid")
fake_line='^listening (http://127\.0\.0\.1:([0-9]+)/v1)'
wait_for_line "$work/fake.log" "$fake_line" "$fake_pid" fake_upstream
fake_url=$(sed -nE "s#${fake_line}.*#\\1#p" "$work/fake.log" | head -n 1)
fake_port=$(sed -nE "s#${fake_line}.*#\\2#p" "$work/fake.log" | head -n 1)

# Two gateways on the same backend: "switchboard" with detection and policies off (the plain
# proxy), "sb-policies" with every built-in detector on and a realistic rule set (tenant key
# authentication, sensitivity, tier and volume rules), so their difference is what routing costs.
cat >"$work/switchboard.yaml" <<EOF
server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
backends:
  local: {provider: vllm, base_url: "$fake_url", model: "meta-llama/Llama-3.1-8B-Instruct"}
models:
  default: {candidates: [local]}
sensitivity:
  detectors: {credit_card: "off", us_ssn: "off", iban: "off", email: "off", phone: "off",
              ip_address: "off", secret: "off"}
EOF
cat >"$work/sb-policies.yaml" <<EOF
server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
backends:
  local:
    provider: vllm
    base_url: "$fake_url"
    model: "meta-llama/Llama-3.1-8B-Instruct"
    clearance: restricted
    max_in_flight: 1000
    price: {gpu_hour_usd: 2.1, tokens_per_second: 1800}
  spare:
    provider: vllm
    base_url: "$fake_url"
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
  - {name: big-prompts, when: {features: {prompt_tokens_above: 100000}}, route: {to: [spare]}}
  - {name: default, route: {to: [local, spare], strategy: ordered}}
EOF
start_switchboard() {  # NAME CONFIG -> sets sb_pid, sb_addr, sb_admin
  "$switchboard_bin" run --config "$2" >/dev/null 2>"$work/$1.log" &
  sb_pid=$!
  pids+=("$sb_pid")
  wait_for_line "$work/$1.log" '"msg":"listening"' "$sb_pid" "$1"
  local line
  line=$(grep -m 1 '"msg":"listening"' "$work/$1.log")
  sb_addr=$(sed -nE 's/.*"listen":"([^"]+)".*/\1/p' <<<"$line")
  sb_admin=$(sed -nE 's/.*"admin":"([^"]+)".*/\1/p' <<<"$line")
}
start_switchboard switchboard "$work/switchboard.yaml"
switchboard_pid=$sb_pid
switchboard_addr=$sb_addr
admin_addr=$sb_admin
start_switchboard sb-policies "$work/sb-policies.yaml"
policies_pid=$sb_pid
policies_addr=$sb_addr
declare -A admin_of=([switchboard]="$admin_addr" [sb-policies]="$sb_admin")

nginx_pid=""
nginx_addr=""
nginx_note=""
start_nginx() {
  local dir="$work/nginx" port
  mkdir -p "$dir"
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    cat >"$dir/nginx.conf" <<EOF
# One process (no master, no workers), in the foreground, everything under $dir.
worker_processes 1;
master_process off;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
  access_log /dev/null;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 100000;
  # Bodies stay in memory (the default 16 KB buffer would spill a 20 KB body to a file).
  client_max_body_size 8m;
  client_body_buffer_size 64k;
  upstream fake {
    server 127.0.0.1:$fake_port;
    keepalive 64;
    keepalive_requests 100000;
  }
  server {
    listen 127.0.0.1:$port;
    location / {
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
    "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
    nginx_pid=$!
    if wait_for_port "$port" "$nginx_pid"; then
      pids+=("$nginx_pid")
      nginx_addr="127.0.0.1:$port"
      return 0
    fi
    kill -TERM "$nginx_pid" 2>/dev/null || true
    wait "$nginx_pid" 2>/dev/null || true
    nginx_pid=""
    grep -q "Address already in use" "$dir/error.log" 2>/dev/null || break
  done
  nginx_note="nginx failed to start: $(tail -n 3 "$dir/error.log" 2>/dev/null | tr '\n' ' ')"
  return 1
}
if [[ $want_nginx == 0 ]]; then
  nginx_note="nginx skipped (BENCH_NGINX=0)"
elif [[ -z $nginx_bin ]]; then
  nginx_note="nginx skipped: not installed (Debian: apt-get install nginx)"
else
  start_nginx || true
fi

# --- measuring ------------------------------------------------------------------------------------
clk_tck=$(getconf CLK_TCK)

# utime+stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat, counted after the
# parenthesized command name, which may contain spaces).
cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  local -a f
  read -r -a f <<<"${stat##*) }"
  echo $((f[11] + f[12]))
}

# Sum and count of switchboard_overhead_seconds from the admin plane, "" when unavailable.
overhead_metric() {  # ADMIN_ADDR
  ((have_curl)) || return 0
  curl -fsS --max-time 2 "http://$1/metrics" 2>/dev/null |
    awk '/^switchboard_overhead_seconds_sum[ {]/ {s += $NF}
         /^switchboard_overhead_seconds_count[ {]/ {c += $NF}
         END {if (c > 0) printf "%.9f %d\n", s, c}'
}

# A request must answer 200 before a target is measured.
check_target() {
  local name=$1 addr=$2
  ((have_curl)) || return 0
  local code
  code=$(curl -sS -o "$work/check-$name.json" -w '%{http_code}' --max-time 5 \
    -H 'Content-Type: application/json' -H 'Authorization: Bearer sk-bench' \
    -d '{"model":"default","messages":[{"role":"user","content":"check"}]}' \
    "http://$addr/v1/chat/completions" || true)
  [[ $code == 200 ]] ||
    die "$name answered $code instead of 200: $(head -c 300 "$work/check-$name.json")"
}

declare -A result
rows=()

# run_wrk NAME ADDR MODE PID: MODE is "load" or "rate"; PID is the proxy's, empty for direct.
run_wrk() {
  local name=$1 addr=$2 mode=$3 pid=$4
  local url="http://$addr/v1/chat/completions"
  local tool=wrk conns=$connections dur=$duration rate_arg=() per_thread=0 label
  label="$connections conns"
  if [[ $mode == rate ]]; then
    tool=$rate_tool
    conns=$rate_connections
    dur=$rate_duration
    label="$rate req/s"
    if [[ $tool == wrk2 ]]; then
      rate_arg=(-R "$rate")
    else
      per_thread=$(awk -v r="$rate" -v t="$threads" 'BEGIN {printf "%.3f", r / t}')
    fi
  fi
  local key="$name/$mode"
  local out="$work/wrk-$name-$mode.txt"
  export BENCH_MODEL=default BENCH_RATE_PER_THREAD=$per_thread

  "$tool" -t "$threads" -c "$conns" -d "$warmup" "${rate_arg[@]}" -s "$here/chat.lua" "$url" \
    >/dev/null 2>&1 || true
  local cpu0="" cpu1="" m0="" m1=""
  [[ -n $pid ]] && cpu0=$(cpu_ticks "$pid")
  [[ -n ${admin_of[$name]:-} ]] && m0=$(overhead_metric "${admin_of[$name]}")
  "$tool" -t "$threads" -c "$conns" -d "$dur" "${rate_arg[@]}" --latency -s "$here/chat.lua" \
    "$url" >"$out" 2>&1 || die "$tool failed against $name: $(tail -n 5 "$out")"
  [[ -n $pid ]] && cpu1=$(cpu_ticks "$pid")
  [[ -n ${admin_of[$name]:-} ]] && m1=$(overhead_metric "${admin_of[$name]}")

  local line
  line=$(grep -m 1 '^BENCH ' "$out") || die "no BENCH line in the $tool output: $(tail -n 5 "$out")"
  local requests duration_us p50 p99 errors
  requests=$(sed -nE 's/.* requests=([0-9]+).*/\1/p' <<<"$line")
  duration_us=$(sed -nE 's/.* duration_us=([0-9]+).*/\1/p' <<<"$line")
  p50=$(sed -nE 's/.* p50_us=([0-9]+).*/\1/p' <<<"$line")
  p99=$(sed -nE 's/.* p99_us=([0-9]+).*/\1/p' <<<"$line")
  errors=$(awk '{for (i = 1; i <= NF; i++) if ($i ~ /^err_/) {split($i, kv, "="); n += kv[2]}}
                END {print n + 0}' <<<"$line")
  result[$key.label]=$label
  result[$key.rps]=$(awk -v n="$requests" -v d="$duration_us" \
    'BEGIN {printf "%.0f", n / (d / 1e6)}')
  result[$key.p50]=$p50
  result[$key.p99]=$p99
  result[$key.errors]=$errors
  result[$key.cpu]="-"
  if [[ -n $pid ]] && ((requests > 0)); then
    result[$key.cpu]=$(awk -v t="$((cpu1 - cpu0))" -v hz="$clk_tck" -v n="$requests" \
      'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  fi
  result[$key.gw]="-"
  if [[ -n $m0 && -n $m1 ]]; then
    result[$key.gw]=$(awk -v a="$m0" -v b="$m1" 'BEGIN {split(a, x, " "); split(b, y, " ");
      if (y[2] > x[2]) printf "%.1f", (y[1] - x[1]) / (y[2] - x[2]) * 1e6; else print "-"}')
  fi
  rows+=("$key")
  say "$(printf '%-12s %-12s %8s req/s  p50 %6s us  p99 %6s us  cpu/req %6s us  errors %s' \
    "$name" "$label" "${result[$key.rps]}" "$p50" "$p99" "${result[$key.cpu]}" "$errors")"
}

say "$(nproc) cores, load average $(cut -d ' ' -f 1-3 /proc/loadavg); wrk $threads threads"
endpoints="direct $fake_url, switchboard http://$switchboard_addr/v1"
say "$endpoints${nginx_addr:+, nginx http://$nginx_addr/v1}"
[[ -n $nginx_note ]] && say "$nginx_note"

targets=(direct switchboard sb-policies)
[[ -n $nginx_addr ]] && targets+=(nginx)
modes=(load)
((rate > 0)) && modes+=(rate)

declare -A addr_of=([direct]="127.0.0.1:$fake_port" [switchboard]="$switchboard_addr"
  [sb-policies]="$policies_addr" [nginx]="$nginx_addr")
declare -A pid_of=([direct]="" [switchboard]="$switchboard_pid" [sb-policies]="$policies_pid"
  [nginx]="$nginx_pid")
for target in "${targets[@]}"; do
  check_target "$target" "${addr_of[$target]}"
done
for mode in "${modes[@]}"; do
  for target in "${targets[@]}"; do
    run_wrk "$target" "${addr_of[$target]}" "$mode" "${pid_of[$target]}"
  done
done

for pid in "$switchboard_pid" "$policies_pid" $nginx_pid; do
  kill -0 "$pid" 2>/dev/null || die "a proxy (pid $pid) died during the benchmark"
done

# --- report ---------------------------------------------------------------------------------------
echo
echo "Switchboard benchmark: POST /v1/chat/completions (non-stream, $body_kind body), loopback, wrk -t$threads"
printf '%-12s %-12s %9s %8s %8s %9s %9s %11s %10s %7s\n' target run "req/s" "p50 us" "p99 us" \
  "+p50 us" "+p99 us" "cpu us/req" "gw us/req" errors
for key in "${rows[@]}"; do
  name=${key%/*}
  mode=${key#*/}
  d50="-"
  d99="-"
  base50=${result[direct/$mode.p50]:-}
  base99=${result[direct/$mode.p99]:-}
  if [[ $name != direct && -n $base50 ]]; then
    p50=${result[$key.p50]}
    p99=${result[$key.p99]}
    d50=$((p50 - base50))
    d99=$((p99 - base99))
  fi
  printf '%-12s %-12s %9s %8s %8s %9s %9s %11s %10s %7s\n' "$name" "${result[$key.label]}" \
    "${result[$key.rps]}" "${result[$key.p50]}" "${result[$key.p99]}" "$d50" "$d99" \
    "${result[$key.cpu]}" "${result[$key.gw]}" "${result[$key.errors]}"
done
echo
echo "+p50/+p99: latency added over direct in the same kind of run. cpu us/req: the proxy"
echo "process's utime+stime per completed request. gw us/req: mean switchboard_overhead_seconds."
if ((rate > 0)); then
  if [[ $rate_tool == wrk2 ]]; then
    echo "Fixed rate by wrk2 -R $rate (latency corrected for coordinated omission)."
  else
    echo "Fixed rate by wrk paced with delay() (wrk2 not installed): latency is measured from"
    echo "each actual send, without wrk2's coordinated-omission correction."
  fi
fi
[[ -n $nginx_note ]] && echo "$nginx_note"
exit 0
