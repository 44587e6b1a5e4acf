-- wrk script for tests/bench/bench.sh: POST /v1/chat/completions, non-stream, small body.
--
-- Environment:
--   BENCH_BODY_FILE        a file whose bytes are the body (default: the small body below)
--   BENCH_MODEL            "model" of the request (default "default")
--   BENCH_RATE_PER_THREAD  > 0: open-loop fixed rate, in requests/s per wrk thread, paced with
--                          delay(); unset or 0: closed loop (each connection sends as fast as
--                          answers come back)
--
-- done() prints one machine-readable line, "BENCH key=value ...", with latencies in
-- microseconds, which bench.sh parses.

local model = os.getenv("BENCH_MODEL") or "default"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer sk-bench"
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user",' ..
    '"content":"Say hello to the benchmark."}],"max_tokens":16}'

-- BENCH_BODY_FILE: send that file's bytes as the body instead (bench.sh writes a ~20 KB
-- conversation there for BENCH_BODY=big).
local body_file = os.getenv("BENCH_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
end

local rate = tonumber(os.getenv("BENCH_RATE_PER_THREAD") or "0") or 0

-- delay() is defined only in fixed-rate mode: when it exists at all, wrk arms a timer before
-- every request, which would slow the closed-loop runs down.
if rate > 0 then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clock_id, bench_timespec* tp);
  ]]
  local CLOCK_MONOTONIC = 1
  local ts = ffi.new("bench_timespec")
  local function now_us()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1e6 + tonumber(ts.tv_nsec) / 1e3
  end

  local interval_us = 1e6 / rate
  local next_slot_us = nil

  -- Each request of this thread claims the next slot of a fixed schedule and waits for it
  -- (wrk's timers have millisecond resolution, so a wait is rounded to the nearest ms). A late
  -- server makes later requests catch up instead of lowering the rate, as wrk2 does; unlike
  -- wrk2, latency is measured from the actual send, without coordinated-omission correction.
  function delay()
    local now = now_us()
    if next_slot_us == nil then
      next_slot_us = now
    end
    local slot = next_slot_us
    next_slot_us = next_slot_us + interval_us
    local wait_ms = math.floor((slot - now) / 1000 + 0.5)
    if wait_ms < 0 then
      return 0
    end
    return wait_ms
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
      "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
      "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
