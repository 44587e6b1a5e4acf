#!/usr/bin/env python3
"""Peak memory of switchboard under concurrent large chat requests, on loopback.

    python3 tests/bench/request_memory.py [BUILD_DIR]

Starts fake_upstream (answers after --latency-ms, so requests overlap while they wait on the
upstream) and switchboard (server.threads 1, max_body_bytes 8 MiB, or BODY_MIB + 1 when larger), then, for each scenario,
sends CONCURRENCY requests of about BODY_MIB MiB at once and reports switchboard's peak RSS
(VmHWM from /proc/PID/status; a fresh process per scenario) and the mean latency.

The body is a messages array of many tiny text parts (the worst case for a parsed DOM: about 16
bytes of text per JSON value). Scenarios:

  pass-through  a vLLM backend: the client's text is spliced into the upstream body
  translated    an Anthropic backend: the upstream body is built from the typed reading (a body
                past the typed reading's memory budget, 16x, would be answered 413)
  fallback      first candidate refuses the connection, the second (vLLM) answers: the second
                attempt parses the body again; compared with pass-through it shows that cost

BODY_KIND=long sends one long text instead (the DOM is then about the text's size).

Environment: CONCURRENCY [8], BODY_MIB [4], LATENCY_MS [1500], ROUNDS [1], BODY_KIND [tiny];
SWITCHBOARD and FAKE_UPSTREAM override the binaries (e.g. to compare with an older build).
Loopback only; everything is bounded (one round of CONCURRENCY requests per scenario).
"""

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build")
CONCURRENCY = int(os.environ.get("CONCURRENCY", "8"))
BODY_MIB = float(os.environ.get("BODY_MIB", "4"))
LATENCY_MS = int(os.environ.get("LATENCY_MS", "1500"))
ROUNDS = int(os.environ.get("ROUNDS", "1"))
BODY_KIND = os.environ.get("BODY_KIND", "tiny")
SWITCHBOARD = os.environ.get("SWITCHBOARD", os.path.join(BUILD, "gateway", "switchboard"))
FAKE_UPSTREAM = os.environ.get("FAKE_UPSTREAM",
                               os.path.join(BUILD, "tests", "support", "fake_upstream"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_body(model):
    target = int(BODY_MIB * 1024 * 1024) - 200
    if BODY_KIND == "long":
        text = ("lorem ipsum dolor sit amet " * (target // 27 + 1))[:target]
        return ('{"model":"%s","max_tokens":16,"messages":[{"role":"user","content":"%s"}]}'
                % (model, text)).encode()
    part = '{"type":"text","text":"ab"}'
    n = target // (len(part) + 1)
    parts = ",".join([part] * n)
    return ('{"model":"%s","max_tokens":16,"messages":[{"role":"user","content":[%s]}]}'
            % (model, parts)).encode()


def post(port, body, out, i):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    out[i] = (status, time.monotonic() - t0)


def status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def start_gateway(tmp, fake_url, down_url):
    cfg = os.path.join(tmp, "switchboard.yaml")
    with open(cfg, "w") as f:
        f.write("""server: {listen: "127.0.0.1:0", threads: 1, max_body_bytes: %dMiB}
admin: {listen: "127.0.0.1:0"}
retries: {attempts: 1}
backends:
  local: {provider: vllm, base_url: "%s", model: m, timeouts: {first_token: 60s, total: 120s}}
  claude: {provider: anthropic, base_url: "%s", api_key: "sk-ant-bench", allow_insecure: true,
           model: claude-3-5-sonnet-20241022, timeouts: {first_token: 60s, total: 120s}}
  down: {provider: vllm, base_url: "%s", model: m}
models:
  pass-through: {candidates: [local]}
  translated: {candidates: [claude]}
  fallback: {candidates: [down, local]}
""" % (max(8, int(BODY_MIB) + 1), fake_url, fake_url, down_url))
    err = open(os.path.join(tmp, "gw.err"), "w+")
    proc = subprocess.Popen([SWITCHBOARD, "run", "--config", cfg],
                            stdout=subprocess.DEVNULL, stderr=err)
    for _ in range(150):
        time.sleep(0.1)
        err.seek(0)
        m = re.search(r'"listen":"127\.0\.0\.1:(\d+)"', err.read())
        if m:
            return proc, int(m.group(1))
    proc.kill()
    raise SystemExit("switchboard did not start; see " + err.name)


def main():
    tmp = tempfile.mkdtemp(prefix="sb-mem-")
    fake_port = free_port()
    fake = subprocess.Popen([FAKE_UPSTREAM, "--port", str(fake_port), "--latency-ms", str(LATENCY_MS)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    fake_url = "http://127.0.0.1:%d/v1" % fake_port
    down_url = "http://127.0.0.1:%d/v1" % free_port()
    kind = "one long text" if BODY_KIND == "long" else "tiny text parts"
    print("body %.1f MiB of %s, %d concurrent, upstream latency %d ms\n"
          % (BODY_MIB, kind, CONCURRENCY, LATENCY_MS))
    try:
        for scenario in ("pass-through", "translated", "fallback"):
            body = make_body(scenario)
            proc, port = start_gateway(tmp, fake_url, down_url)
            idle = status_kib(proc.pid, "VmRSS")
            latencies = []
            statuses = []
            for _ in range(ROUNDS):
                out = [None] * CONCURRENCY
                threads = [threading.Thread(target=post, args=(port, body, out, i))
                           for i in range(CONCURRENCY)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                statuses += [o[0] for o in out]
                latencies += [o[1] for o in out]
            peak = status_kib(proc.pid, "VmHWM")
            proc.terminate()
            proc.wait(timeout=30)
            print("%-13s statuses %s  idle RSS %6.1f MiB  peak RSS %6.1f MiB  "
                  "(%.1fx the bodies in flight)  mean latency %.0f ms"
                  % (scenario, sorted(set(statuses)), idle / 1024, peak / 1024,
                     (peak - idle) / 1024 / (BODY_MIB * CONCURRENCY),
                     1000 * sum(latencies) / len(latencies)))
    finally:
        fake.terminate()
        fake.wait(timeout=10)


if __name__ == "__main__":
    main()
