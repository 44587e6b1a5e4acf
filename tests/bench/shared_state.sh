#!/usr/bin/env bash
# What sharing budgets and rate limits through Redis costs, next to the memory store.
#
#   bash tests/bench/shared_state.sh
#
# Starts a redis-server (loopback, no persistence), the fake upstream, and switchboard with one
# tenant that has a daily and a monthly budget, rpm and tpm, first on `state.store: memory`,
# then on `state.store: redis`. Each gets the same fixed-rate load from wrk (chat.lua's pacing)
# and the script prints, per store:
#   req/s and p50/p99 latency (from wrk), the gateway's CPU time per request (utime+stime of the
#   process, its Redis thread included) and, for Redis, commands per request (INFO commandstats
#   around the run, all commands counted).
# Then three replicas on one Redis share the same load, and it prints the allowance stranded on
# them (budget leased and not reserved: switchboard_state_lease_headroom_nanodollars summed, and
# Redis's own `leased`) at the end of the run and after BENCH_IDLE of no traffic.
#
# Environment (defaults in brackets):
#   BUILD_DIR        build tree [build]
#   BENCH_RATE       requests/s [1000]
#   BENCH_DURATION   length of each run [15s]
#   BENCH_IDLE       idle time before the second stranded reading [5]
#   BENCH_KEEP_OUTPUT 1 keeps the temp dir [0]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir="$root/$build_dir"
rate=${BENCH_RATE:-1000}
duration=${BENCH_DURATION:-15s}
idle=${BENCH_IDLE:-5}
keep_output=${BENCH_KEEP_OUTPUT:-0}
threads=2
connections=16

say() { printf 'bench: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}
for tool in wrk redis-server redis-cli curl; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (Debian: wrk, redis-server, curl)"
done
switchboard_bin=$build_dir/gateway/switchboard
fake_bin=$build_dir/tests/support/fake_upstream
[[ -x $switchboard_bin && -x $fake_bin ]] ||
  cmake --build "$build_dir" --target switchboard fake_upstream -j2

work=$(mktemp -d "${TMPDIR:-/tmp}/switchboard-bench.XXXXXX")
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ $keep_output == 1 ]] && say "output kept in $work" || rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

wait_for_line() {  # FILE REGEX PID
  local deadline=$((SECONDS + 15))
  until grep -Eq "$2" "$1" 2>/dev/null; do
    kill -0 "$3" 2>/dev/null || die "exited before ready: $(cat "$1")"
    ((SECONDS < deadline)) || die "not ready: $(cat "$1")"
    sleep 0.05
  done
}

redis_port=$((20000 + RANDOM % 20000))
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
pids+=("$!")
wait_for_line "$work/redis.log" "Ready to accept connections" "$!"

"$fake_bin" --host 127.0.0.1 --port 0 --name bench >"$work/fake.log" 2>&1 &
pids+=("$!")
wait_for_line "$work/fake.log" '^listening http' "$!"
fake_url=$(sed -nE 's#^listening (http://[^ ]+/v1).*#\1#p' "$work/fake.log" | head -n 1)

config() {  # STORE
  local state="state: {store: memory}"
  if [[ $1 == redis ]]; then
    state="state: {store: redis, url: \"redis://127.0.0.1:$redis_port\", prefix: bench}"
  fi
  cat <<EOF
server: {listen: "127.0.0.1:0", threads: 1}
admin: {listen: "127.0.0.1:0"}
$state
backends:
  closed:
    provider: openai
    allow_insecure: true
    base_url: "$fake_url"
    api_key: sk-bench-upstream
    model: bench
    price: {input_per_mtok: 2.5, output_per_mtok: 10}
models:
  default: {candidates: [closed]}
tenants:
  bench:
    api_keys: ["sha256:c00397de4384b5bbaf14c02fe1ec7020d28d1eeab6a722c576c84b6678c41c29"]
    budget: {daily_usd: 100000, monthly_usd: 1000000}
    rate: {rpm: 100000000, tpm: 100000000000}
sensitivity:
  detectors: {credit_card: "off", us_ssn: "off", iban: "off", email: "off", phone: "off",
              ip_address: "off", secret: "off"}
EOF
}

start() {  # NAME STORE -> sb_pid sb_addr sb_admin
  config "$2" >"$work/$1.yaml"
  "$switchboard_bin" run --config "$work/$1.yaml" >/dev/null 2>"$work/$1.log" &
  sb_pid=$!
  pids+=("$sb_pid")
  wait_for_line "$work/$1.log" '"msg":"listening"' "$sb_pid"
  local line
  line=$(grep -m 1 '"msg":"listening"' "$work/$1.log")
  sb_addr=$(sed -nE 's/.*"listen":"([^"]+)".*/\1/p' <<<"$line")
  sb_admin=$(sed -nE 's/.*"admin":"([^"]+)".*/\1/p' <<<"$line")
}

cpu_ticks() {
  local stat
  stat=$(<"/proc/$1/stat")
  local -a f
  read -r -a f <<<"${stat##*) }"
  echo $((f[11] + f[12]))
}
# Commands clients sent (scripts count once: the commands a script runs inside Redis are in
# commandstats too, so only EVAL/EVALSHA and top-level commands are counted).
redis_commands() {
  redis-cli -p "$redis_port" INFO commandstats |
    awk -F'[=,:]' '/^cmdstat_(evalsha|eval|ping|auth|select|script)[:]/ {n += $3} END {print n + 0}'
}
clk_tck=$(getconf CLK_TCK)

run() {  # NAME ADDR PID(s...)
  local name=$1 addr=$2
  shift 2
  export BENCH_MODEL=default BENCH_RATE_PER_THREAD
  BENCH_RATE_PER_THREAD=$(awk -v r="$rate" -v t="$threads" 'BEGIN {printf "%.3f", r / t}')
  wrk -t "$threads" -c "$connections" -d 2s -s "$here/chat.lua" "http://$addr/v1/chat/completions" \
    >/dev/null 2>&1 || true
  local c0=0 pid
  for pid in "$@"; do c0=$((c0 + $(cpu_ticks "$pid"))); done
  local r0
  r0=$(redis_commands)
  wrk -t "$threads" -c "$connections" -d "$duration" --latency -s "$here/chat.lua" \
    "http://$addr/v1/chat/completions" >"$work/wrk-$name.txt" 2>&1 || true
  local c1=0
  for pid in "$@"; do c1=$((c1 + $(cpu_ticks "$pid"))); done
  local r1
  r1=$(redis_commands)
  local line
  line=$(grep '^BENCH ' "$work/wrk-$name.txt") || die "wrk failed: $(cat "$work/wrk-$name.txt")"
  awk -v name="$name" -v ticks=$((c1 - c0)) -v hz="$clk_tck" -v cmds=$((r1 - r0)) '
    { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
    END {
      n = v["requests"]; s = v["duration_us"] / 1e6
      errors = v["err_connect"] + v["err_read"] + v["err_write"] + v["err_status"] + v["err_timeout"]
      printf "%-14s %8.0f req/s  p50 %7.3f ms  p99 %7.3f ms  cpu/req %6.1f us  redis cmds/req %.4f  errors %d\n",
        name, n / s, v["p50_us"] / 1000, v["p99_us"] / 1000, ticks / hz / n * 1e6, cmds / n, errors
    }' <<<"$line"
}

stranded() {  # ADMIN...
  local total=0 a v
  for a in "$@"; do
    v=$(curl -fsS "http://$a/metrics" |
      awk '/^switchboard_state_lease_headroom_nanodollars / {print $2}')
    total=$(awk -v t="$total" -v v="${v:-0}" 'BEGIN {printf "%.0f", t + v}')
  done
  local leased
  leased=$(redis-cli -p "$redis_port" --scan --pattern 'bench:*:day:*' |
    while read -r k; do redis-cli -p "$redis_port" HGET "$k" leased; done | awk '{s += $1} END {print s + 0}')
  printf 'headroom on the replicas $%.6f, leased in Redis $%.6f\n' \
    "$(awk -v n="$total" 'BEGIN {print n / 1e9}')" "$(awk -v n="$leased" 'BEGIN {print n / 1e9}')"
}

say "rate $rate req/s for $duration per run, $connections connections"
start memory memory
run memory "$sb_addr" "$sb_pid"
kill -TERM "$sb_pid"
start redis redis
run redis "$sb_addr" "$sb_pid"
kill -TERM "$sb_pid"

# Three replicas, one Redis: wrk spreads over them through three runs in parallel.
admins=()
addrs=()
rpids=()
for n in 1 2 3; do
  start "replica$n" redis
  admins+=("$sb_admin")
  addrs+=("$sb_addr")
  rpids+=("$sb_pid")
done
per_replica=$((rate / 3))
wrk_pids=()
for n in 0 1 2; do
  BENCH_RATE_PER_THREAD=$(awk -v r="$per_replica" -v t="$threads" 'BEGIN {printf "%.3f", r / t}') \
    BENCH_MODEL=default wrk -t "$threads" -c "$connections" -d "$duration" -s "$here/chat.lua" \
    "http://${addrs[$n]}/v1/chat/completions" >"$work/wrk-three-$n.txt" 2>&1 &
  wrk_pids+=("$!")
done
sleep 1
r0=$(redis_commands)
wait "${wrk_pids[@]}" 2>/dev/null || true
r1=$(redis_commands)
served=0
for n in 0 1 2; do
  served=$((served + $(sed -nE 's/^BENCH requests=([0-9]+).*/\1/p' "$work/wrk-three-$n.txt")))
done
printf '%-14s %d requests, redis cmds/req %.4f\n' "3 replicas" "$served" \
  "$(awk -v c=$((r1 - r0)) -v n="$served" 'BEGIN {print c / n}')"
printf 'stranded at the end of the run:  '
stranded "${admins[@]}"
sleep "$idle"
printf 'stranded after %ss idle:          ' "$idle"
stranded "${admins[@]}"
