#!/usr/bin/env bash
# Peak memory of the gateway under hostile and heavy clients, on loopback.
#
#   bash tests/bench/rss.sh
#
# Each scenario runs against a fresh `switchboard` (two worker threads, a fake_upstream as its
# only backend) and prints the process's resident memory before (VmRSS) and its peak during the
# scenario (VmHWM, from /proc/PID/status):
#   bodies      8 concurrent chat requests of 4 MiB each (answered by the fake)
#   idle        10,000 connections that send nothing, held open together
#   extensions  one chunked request whose first chunk header carries 300 MiB of extensions, then
#               64 MiB of 1-byte chunks each with a 1,000-byte extension (under the per-line cap)
#   trailers    100 chunked requests, each with a 70 KiB trailer field (the crash of issue 9),
#               then one with a 300 MiB trailer
# and whether the process is still up and answers a healthy request afterwards.
#
# Bounded: every scenario stops after its byte count or BENCH_SCENARIO_TIMEOUT seconds. The
# soft descriptor limit is raised to the hard limit (10,000 idle connections need about 10,100
# descriptors on each side); with less, the idle scenario holds as many as it can and says so.
#
# Environment (defaults in brackets):
#   BUILD_DIR               build tree, relative to the repo root or absolute [build]
#   BENCH_IDLE_CONNECTIONS  connections of the idle scenario [10000]
#   BENCH_SCENARIO_TIMEOUT  seconds per scenario [60]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build_dir=${BUILD_DIR:-build}
[[ $build_dir == /* ]] || build_dir="$root/$build_dir"
switchboard_bin=${SWITCHBOARD_BIN:-$build_dir/gateway/switchboard}
fake_bin=${FAKE_UPSTREAM_BIN:-$build_dir/tests/support/fake_upstream}
idle_connections=${BENCH_IDLE_CONNECTIONS:-10000}
scenario_timeout=${BENCH_SCENARIO_TIMEOUT:-60}

say() { printf 'rss: %s\n' "$*" >&2; }
[[ -x $switchboard_bin ]] || { say "missing $switchboard_bin (build the switchboard target)"; exit 1; }
[[ -x $fake_bin ]] || { say "missing $fake_bin (build the fake_upstream target)"; exit 1; }
command -v python3 >/dev/null || { say "python3 is needed for the clients"; exit 1; }

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d)
fake_pid=""
gw_pid=""
cleanup() {
  [[ -n $gw_pid ]] && kill "$gw_pid" 2>/dev/null || true
  [[ -n $fake_pid ]] && kill "$fake_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$fake_bin" --host 127.0.0.1 --port 0 --name local >"$work/fake.out" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do
  grep -q '^listening ' "$work/fake.out" && break
  sleep 0.05
done
fake_url=$(sed -n 's/^listening //p' "$work/fake.out")
[[ -n $fake_url ]] || { say "fake_upstream did not start"; exit 1; }

cat >"$work/config.yaml" <<EOF
server:
  listen: "127.0.0.1:0"
  threads: 2
  max_body_bytes: 5MiB
  header_timeout: 30s
  idle_timeout: 30s
  max_connections: $((idle_connections + 100))
admin: {listen: "127.0.0.1:0"}
backends:
  local: {provider: vllm, base_url: "$fake_url", model: m}
models:
  default: {candidates: [local]}
EOF

start_gateway() {
  "$switchboard_bin" run --config "$work/config.yaml" >/dev/null 2>"$work/gw.err" &
  gw_pid=$!
  for _ in $(seq 200); do
    grep -q '"msg":"listening"' "$work/gw.err" && break
    sleep 0.05
  done
  gw_port=$(grep -o '"listen":"127.0.0.1:[0-9]*"' "$work/gw.err" | head -1 | grep -o '[0-9]*"$' |
    tr -d '"')
  [[ -n $gw_port ]] || { say "switchboard did not start: $(cat "$work/gw.err")"; exit 1; }
}

stop_gateway() {
  kill "$gw_pid" 2>/dev/null || true
  wait "$gw_pid" 2>/dev/null || true
  gw_pid=""
}

mem() { awk -v f="$1:" '$1 == f {print int($2 / 1024)}' "/proc/$gw_pid/status" 2>/dev/null || true; }

# The clients: one Python program, the scenario named by its first argument.
cat >"$work/clients.py" <<'EOF'
import json, resource, socket, sys, threading, time

scenario, port, deadline = sys.argv[1], int(sys.argv[2]), time.time() + float(sys.argv[3])
addr = ("127.0.0.1", port)

def connect(timeout=10):
    s = socket.create_connection(addr, timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

def status_of(s):
    data = b""
    try:
        while b"\r\n" not in data:
            got = s.recv(4096)
            if not got:
                break
            data += got
    except OSError:
        pass
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0

def send_bounded(s, head, piece, total):
    """Sends head, then piece repeatedly up to total bytes; stops when the server stops reading."""
    sent = 0
    try:
        s.sendall(head)
        while sent < total and time.time() < deadline:
            s.sendall(piece)
            sent += len(piece)
    except OSError:
        pass
    return sent

def post_head(extra=b""):
    return (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n")

if scenario == "bodies":
    text = "lorem ipsum dolor sit amet " * (4 * 1024 * 1024 // 27)
    body = json.dumps({"model": "default", "messages": [{"role": "user", "content": text}]}).encode()
    statuses = []
    def one():
        s = connect(60)
        s.sendall(post_head(b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)) + body)
        statuses.append(status_of(s))
        s.close()
    threads = [threading.Thread(target=one) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print("8 x %.1f MiB bodies: statuses %s" % (len(body) / 1048576, sorted(set(statuses))))
elif scenario == "idle":
    want = int(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held = []
    try:
        while len(held) < want and time.time() < deadline:
            held.append(connect())
    except OSError as e:
        print("stopped at %d connections: %s" % (len(held), e))
    print("%d idle connections held" % len(held))
    sys.stdout.flush()
    time.sleep(1.0)
    print("READY", flush=True)
    sys.stdin.readline()  # the script measures, then lets go
    for s in held:
        s.close()
elif scenario == "extensions":
    s = connect()
    sent = send_bounded(s, post_head(b"Transfer-Encoding: chunked\r\n") + b"1;e=",
                        b"e" * 65536, 300 << 20)
    print("one chunk header: %.1f MiB of extensions accepted by the socket before the answer (status %d)"
          % (sent / 1048576, status_of(s)))
    s.close()
    s = connect()
    piece = b"".join(b"1;e=" + b"x" * 994 + b"\r\nx\r\n" for _ in range(64))
    sent = send_bounded(s, post_head(b"Transfer-Encoding: chunked\r\n"), piece, 64 << 20)
    print("small chunks: %.1f MiB of 1-byte chunks with 1,000-byte extensions sent" % (sent / 1048576))
    s.close()
elif scenario == "trailers":
    statuses = set()
    for _ in range(100):
        s = connect()
        s.sendall(post_head(b"Transfer-Encoding: chunked\r\n") + b"2\r\n{}\r\n0\r\nX-Big: " +
                  b"t" * (70 * 1024) + b"\r\n\r\n")
        statuses.add(status_of(s))
        s.close()
    s = connect()
    sent = send_bounded(s, post_head(b"Transfer-Encoding: chunked\r\n") + b"0\r\nX-Big: ",
                        b"t" * 65536, 300 << 20)
    print("100 x 70 KiB trailers: statuses %s; one 300 MiB trailer: %.1f MiB accepted by the socket"
          % (sorted(statuses), sent / 1048576))
    s.close()
elif scenario == "healthy":
    s = connect()
    body = json.dumps({"model": "default", "messages": [{"role": "user", "content": "hi"}]}).encode()
    s.sendall(post_head(b"Content-Length: %d\r\n" % len(body)) + body)
    print(status_of(s))
EOF

printf '%-11s %10s %10s  %s\n' scenario "rss MiB" "peak MiB" "after"
for scenario in bodies idle extensions trailers; do
  start_gateway
  before=$(mem VmRSS)
  if [[ $scenario == idle ]]; then
    coproc idle_client { timeout "$((scenario_timeout + 30))" python3 "$work/clients.py" idle \
      "$gw_port" "$scenario_timeout" "$idle_connections"; }
    while read -r line <&"${idle_client[0]}"; do
      [[ $line == READY ]] && break
      say "$scenario: $line"
    done
    held_rss=$(mem VmRSS)
    echo >&"${idle_client[1]}"
    wait "$idle_client_PID" 2>/dev/null || true
    say "$scenario: VmRSS with the connections held: $held_rss MiB"
  else
    timeout "$((scenario_timeout + 30))" python3 "$work/clients.py" "$scenario" "$gw_port" \
      "$scenario_timeout" 2>&1 | while read -r line; do say "$scenario: $line"; done || true
  fi
  peak=$(mem VmHWM)
  if [[ -z $peak ]]; then
    peak="?"
  fi
  if kill -0 "$gw_pid" 2>/dev/null; then
    after="up, healthy request: $(python3 "$work/clients.py" healthy "$gw_port" 10)"
  else
    after="DIED"
  fi
  printf '%-11s %10s %10s  %s\n' "$scenario" "$before" "$peak" "$after"
  stop_gateway
done
