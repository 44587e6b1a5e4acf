// Cost of the Redis client (gateway/state/redis_client.h) against a real redis-server on loopback:
// one command at a time (a round trip each), and N commands in flight at once (pipelined on
// the one connection). Reports the client process's CPU per command next to the wall time, since
// the shared state store counts CPU on the replica, not Redis's.
//
//   ./build/tests/bench/redis_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include <ctime>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "gateway/state/redis_client.h"
#include "tests/support/redis_server.h"

namespace {

namespace asio = boost::asio;
using namespace sb;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

config::StateSettings settings(std::uint16_t port) {
  config::StateSettings s;
  s.store = config::StateSettings::Store::redis;
  s.host = "127.0.0.1";
  s.port = port;
  s.command_timeout = std::chrono::seconds(5);
  return s;
}

// Runs `in_flight` coroutines that each issue commands back to back until `total` are done.
void run_commands(benchmark::State& state, int in_flight) {
  testing::RedisServer server;
  asio::io_context io;
  gateway::redis::Client client(io.get_executor(), settings(server.port()));
  const gateway::redis::Script script(
      "return redis.call('INCRBY', KEYS[1], ARGV[1])");  // a lease-sized script
  std::int64_t commands = 0;
  std::int64_t failures = 0;
  double cpu = 0;
  for (auto _ : state) {
    const int total = 10'000;
    int issued = 0;
    int done = 0;
    const double cpu_before = cpu_seconds();
    for (int w = 0; w < in_flight; ++w) {
      asio::co_spawn(
          io,
          [&]() -> asio::awaitable<void> {
            while (issued < total) {
              ++issued;
              std::vector<std::string> keys{"{bench}:budget"};
              std::vector<std::string> args{"1"};
              gateway::redis::Result r =
                  co_await client.eval(script, std::move(keys), std::move(args));
              failures += !r.ok();
              ++done;
            }
          },
          asio::detached);
    }
    while (done < total) {
      io.run_one();
    }
    cpu += cpu_seconds() - cpu_before;
    commands += total;
  }
  state.counters["cpu_us_per_cmd"] = cpu * 1e6 / static_cast<double>(commands);
  state.counters["cmds_per_s"] =
      benchmark::Counter(static_cast<double>(commands), benchmark::Counter::kIsRate);
  state.counters["failures"] = static_cast<double>(failures);
}

void BM_EvalshaOneAtATime(benchmark::State& state) {
  run_commands(state, 1);
}
void BM_EvalshaPipelined(benchmark::State& state) {
  run_commands(state, static_cast<int>(state.range(0)));
}

BENCHMARK(BM_EvalshaOneAtATime)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_EvalshaPipelined)->Arg(16)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
