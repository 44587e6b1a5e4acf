#!/usr/bin/env bash
# Capacity planning: a day-shaped load through Switchboard with one to four simulated vLLM
# replicas (tests/support/fake_engine) and a closed stand-in (fake_upstream as an OpenAI
# provider), once per routing policy and replica count.
#
#   bash tests/bench/capacity.sh
#
# Each run starts the replicas, the stand-in and a gateway with the policy's config, drives
# capacity_load.mjs (a daily curve plus bursts compressed into CAP_DURATION seconds, a share of
# requests carrying an e-mail address or a card number, most of them streamed), then reads the
# gateway's /metrics. It prints one row per run:
#   ttft p50/p99      time to first token of streamed answers, seconds (as the client saw it)
#   local %           answers served self-hosted
#   closed $          switchboard_cost_usd_total of the closed backend
#   all-closed $      closed $ + switchboard_reference_cost_usd_total (what the closed reference
#                     would have charged for the traffic served self-hosted)
#   gpu $             switchboard_cost_usd_total of the self-hosted backend (GPU-hour price per token)
#   sens refused      sensitive requests not answered 200 (503 or 429), of those sent
#   sens p99          p99 time to first byte of the sensitive requests answered (their wait)
#   spills            switchboard_spills_total (spill policies only)
#
# Policies (CAP_POLICIES, in order):
#   local         everything to the replicas, no gateway limit: the engine's queue absorbs bursts
#   ordered       [local, closed] ordered with max_in_flight on local: clean traffic goes closed
#                 once the gateway's in-flight count reaches the limit, or on errors; sensitive
#                 traffic gets 503 there
#   overflow      a volume rule (local in_flight_above 0.8 -> closed), then [local, closed]
#   spill         strategy spill, default load settings (engine signals scraped every 1 s)
#   spill-tight   spill with tighter headroom (queue 1, kv_cache 0.7, in_flight 0.6)
#   spill-fast    spill with default headroom, signals scraped every 250 ms (not run by default)
#
# The spill policies need the capacity-aware routing of issue 14 and several replicas need pool
# `endpoints:`; when the gateway rejects a config the row says so and the bench goes on.
#
# Environment (defaults in brackets):
#   BUILD_DIR            build tree, relative to the repo root or absolute [build]
#   CAP_REPLICAS         replica counts to run [1 2 4]
#   CAP_POLICIES         policies to run [local ordered overflow spill spill-tight]
#   CAP_DURATION         seconds of load per run (the compressed day) [30]
#   CAP_BASE_RPS         the daily curve's peak, requests/s [10]
#   CAP_BURST_RPS        added at each burst's peak [14]
#   CAP_BURSTS           bursts per day [3]
#   CAP_SENSITIVE_SHARE  share of requests with an e-mail address or card number [0.2]
#   CAP_STREAM_SHARE     share streamed [0.8]
#   CAP_PROMPT_WORDS     prompt size range in words (about tokens) [200:800]
#   CAP_ENGINE           fake_engine options per replica
#                        [--tokens-per-second 400 --stream-tokens-per-second 25 --batch 16
#                         --kv-tokens 8000 --prefill-tokens-per-second 4000 --output-tokens 40]
#   CAP_MAX_IN_FLIGHT    local max_in_flight per replica (ordered, overflow, spill) [24]
#   CAP_GPU_PRICE        price of a replica [{gpu_hour_usd: 2.5, tokens_per_second: 2500}]
#   CAP_CLOSED_PRICE     price of the closed stand-in [{input_per_mtok: 2.5, output_per_mtok: 10}]
#   CAP_CLOSED_LATENCY   closed stand-in's delay before its answer and between chunks, ms [150]
#   CAP_CLOSED_OUTPUT    completion tokens the closed stand-in reports per answer, as many as
#                        the replicas generate so both sides price the same answer [40]
#   CAP_SHARED_RPS       peak requests/s that other clients send straight to the first replica,
#                        bypassing the gateway (an engine shared with other applications: its
#                        queue is invisible to the gateway's own in-flight counts) [0]
#   CAP_KEEP_OUTPUT      1 keeps the temp dir (configs, logs, per-run JSON) [0]
#
# The default replica decodes 400 tokens/s, a sixth of a real 8B replica on one GPU, to spare
# this machine's CPU (every token is one SSE event through the gateway); its price is the real
# replica's per token (2500 tokens/s). Default total: 15 runs of about 33 s, under 10 minutes.
# Everything shares this machine's cores: the figures compare policies with each other.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir="$root/$build_dir"
replica_counts=${CAP_REPLICAS:-1 2 4}
policies=${CAP_POLICIES:-local ordered overflow spill spill-tight}
duration=${CAP_DURATION:-30}
engine_args=${CAP_ENGINE:---tokens-per-second 400 --stream-tokens-per-second 25 --batch 16 --kv-tokens 8000 --prefill-tokens-per-second 4000 --output-tokens 40}
mif_per_replica=${CAP_MAX_IN_FLIGHT:-24}
gpu_price=${CAP_GPU_PRICE:-"{gpu_hour_usd: 2.5, tokens_per_second: 2500}"}
closed_price=${CAP_CLOSED_PRICE:-"{input_per_mtok: 2.5, output_per_mtok: 10}"}
closed_latency=${CAP_CLOSED_LATENCY:-150}
closed_output=${CAP_CLOSED_OUTPUT:-40}
keep_output=${CAP_KEEP_OUTPUT:-0}
shared_rps=${CAP_SHARED_RPS:-0}
startup_timeout_s=15

say() { printf 'capacity: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

command -v node >/dev/null 2>&1 || die "node not found"
command -v curl >/dev/null 2>&1 || die "curl not found"
switchboard_bin=$build_dir/gateway/switchboard
engine_bin=$build_dir/tests/support/fake_engine
closed_bin=$build_dir/tests/support/fake_upstream
for bin in "$switchboard_bin" "$engine_bin" "$closed_bin"; do
  [[ -x $bin ]] || die "$bin missing: build the switchboard, fake_engine and fake_upstream targets"
done

work=$(mktemp -d)
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  stop_all
  if [[ $keep_output == 1 ]]; then
    say "output kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits until FILE matches PATTERN; fails when PID exits first or after the startup timeout.
wait_for_line() {
  local file=$1 pattern=$2 pid=$3
  local deadline=$((SECONDS + startup_timeout_s))
  while ! grep -Eq "$pattern" "$file" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || return 1
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

start_listener() {  # LOG BIN ARGS... -> sets listener_url to the base URL
  local log=$1
  shift
  "$@" --port 0 >"$log" 2>&1 &
  pids+=($!)
  wait_for_line "$log" '^listening ' "$!" || die "$1 did not start: $(cat "$log")"
  listener_url=$(sed -nE 's/^listening (.*)$/\1/p' "$log" | head -n 1)
}

# The local backend and the rules of POLICY over REPLICA URLS.
write_config() {  # FILE POLICY CLOSED_URL URL...
  local file=$1 policy=$2 closed_url=$3
  shift 3
  local n=$# urls
  urls=$(printf '"%s", ' "$@")
  urls="[${urls%, }]"
  {
    echo 'server: {listen: "127.0.0.1:0", threads: 1}'
    echo 'admin: {listen: "127.0.0.1:0"}'
    echo 'backends:'
    echo '  local:'
    echo '    provider: vllm'
    if ((n == 1)); then
      echo "    base_url: \"$1\""
    else
      echo "    endpoints: $urls"
    fi
    echo '    model: sim-llama'
    echo '    clearance: restricted'
    echo "    price: $gpu_price"
    [[ $policy == local ]] || echo "    max_in_flight: $((mif_per_replica * n))"
    [[ $policy != spill-tight ]] ||
      echo '    load: {headroom: {queue: 1, kv_cache: 0.7, in_flight: 0.6}}'
    [[ $policy != spill-fast ]] || echo '    load: {interval: 250ms}'
    echo '  closed:'
    echo '    provider: openai'
    echo '    allow_insecure: true'
    echo "    base_url: \"$closed_url\""
    echo '    api_key: sk-closed'
    echo '    model: gpt-4o'
    echo "    price: $closed_price"
    echo 'models:'
    echo '  default: {candidates: [local, closed]}'
    echo 'policies:'
    case $policy in
      local) echo '  - {name: all, route: {to: [local]}}' ;;
      ordered) echo '  - {name: all, route: {to: [local, closed], strategy: ordered}}' ;;
      overflow)
        echo '  - {name: overflow, when: {volume: {backend: local, in_flight_above: 0.8}}, route: {to: [closed]}}'
        echo '  - {name: all, route: {to: [local, closed], strategy: ordered}}'
        ;;
      spill | spill-tight | spill-fast) echo '  - {name: all, route: {to: [local, closed], strategy: spill}}' ;;
      *) die "unknown policy '$policy'" ;;
    esac
  } >"$file"
}

# Sum of METRIC's samples whose labels match REGEX, from a /metrics text on stdin.
metric_sum() {  # METRIC REGEX
  awk -v m="$1" -v re="$2" '
    index($0, m) == 1 && (substr($0, length(m) + 1, 1) == "{" || substr($0, length(m) + 1, 1) == " ") && $0 ~ re {
      s += $NF
    }
    END { printf "%.4f", s + 0 }'
}

run_one() {  # POLICY REPLICAS -> prints a table row
  local policy=$1 n=$2 tag="$1-$2" i urls=() closed_url
  for ((i = 0; i < n; i++)); do
    # shellcheck disable=SC2086  # CAP_ENGINE is a list of options
    start_listener "$work/$tag-engine$i.log" "$engine_bin" --model sim-llama $engine_args
    urls+=("$listener_url")
  done
  start_listener "$work/$tag-closed.log" "$closed_bin" --name closed --latency-ms "$closed_latency" \
    --completion-tokens "$closed_output"
  closed_url=$listener_url
  write_config "$work/$tag.yaml" "$policy" "$closed_url" "${urls[@]}"
  "$switchboard_bin" run --config "$work/$tag.yaml" >/dev/null 2>"$work/$tag-gateway.log" &
  pids+=($!)
  if ! wait_for_line "$work/$tag-gateway.log" '"msg":"listening"' "$!"; then
    printf '%-12s %3s  gateway refused the config: %s\n' "$policy" "$n" \
      "$(tail -n 1 "$work/$tag-gateway.log" | sed -E 's#^[^ ]*/##' | cut -c1-100)"
    stop_all
    return
  fi
  local line addr admin
  line=$(grep -m 1 '"msg":"listening"' "$work/$tag-gateway.log")
  addr=$(sed -nE 's/.*"listen":"([^"]+)".*/\1/p' <<<"$line")
  admin=$(sed -nE 's/.*"admin":"([^"]+)".*/\1/p' <<<"$line")
  local shared_pid=""
  if [[ $shared_rps != 0 ]]; then
    node "$here/capacity_load.mjs" --url "${urls[0]%/v1}" --model sim-llama --duration "$duration" \
      --base-rps "$shared_rps" --burst-rps 0 --sensitive-share 0 --seed 99 \
      --stream-share "${CAP_STREAM_SHARE:-0.8}" --prompt-words "${CAP_PROMPT_WORDS:-200:800}" \
      >"$work/$tag.shared.json" &
    shared_pid=$!
  fi
  node "$here/capacity_load.mjs" --url "http://$addr" --duration "$duration" \
    --base-rps "${CAP_BASE_RPS:-10}" --burst-rps "${CAP_BURST_RPS:-14}" \
    --bursts "${CAP_BURSTS:-3}" --sensitive-share "${CAP_SENSITIVE_SHARE:-0.2}" \
    --stream-share "${CAP_STREAM_SHARE:-0.8}" --prompt-words "${CAP_PROMPT_WORDS:-200:800}" \
    --local-backends local --dump "$work/$tag.requests.jsonl" >"$work/$tag.json"
  [[ -z $shared_pid ]] || wait "$shared_pid" || true
  sleep 0.3  # a request's metrics land just after its answer
  curl -fsS --max-time 5 "http://$admin/metrics" >"$work/$tag.metrics" || true
  stop_all
  local closed gpu reference spills
  closed=$(metric_sum switchboard_cost_usd_total 'backend="closed"' <"$work/$tag.metrics")
  gpu=$(metric_sum switchboard_cost_usd_total 'backend="local"' <"$work/$tag.metrics")
  reference=$(metric_sum switchboard_reference_cost_usd_total '' <"$work/$tag.metrics")
  spills=$(metric_sum switchboard_spills_total '' <"$work/$tag.metrics")
  # shellcheck disable=SC2016  # JavaScript, not shell
  node -e '
    const [r, closed, gpu, reference, spills, policy, n] = [JSON.parse(process.argv[1]),
      ...process.argv.slice(2, 6).map(Number), process.argv[6], process.argv[7]];
    const f = (v, d = 2) => (v === null ? "-" : v.toFixed(d));
    const pct = r.ok ? (100 * r.local) / r.ok : 0;
    console.log([policy.padEnd(12), n.padStart(3), String(r.sent).padStart(5),
      String(r.ok).padStart(5), f(r.ttft_p50).padStart(7), f(r.ttft_p99).padStart(7),
      pct.toFixed(1).padStart(7), f(closed, 4).padStart(9), f(closed + reference, 4).padStart(11),
      f(gpu, 4).padStart(8), `${r.sensitive_refused}/${r.sensitive}`.padStart(9),
      f(r.sensitive_ttft_p99).padStart(8), String(spills).padStart(6)].join(" "));
  ' "$(cat "$work/$tag.json")" "$closed" "$gpu" "$reference" "$spills" "$policy" "$n"
}

say "runs of ${duration}s: policies [$policies] x replicas [$replica_counts]"
[[ $shared_rps == 0 ]] || say "other clients send up to ${shared_rps} requests/s straight to the first replica"
printf '%-12s %3s %5s %5s %7s %7s %7s %9s %11s %8s %9s %8s %6s\n' policy rep sent ok \
  'p50 s' 'p99 s' 'local%' 'closed$' 'allclosed$' 'gpu$' 'sens-ref' 'sens-p99' spills
for n in $replica_counts; do
  for policy in $policies; do
    run_one "$policy" "$n"
  done
done
