// The load board: endpoint readings, pool aggregation, staleness, the headroom count, torn-free
// reads under a concurrent writer, and MemoryState reading an attached board.

#include "policies/load.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "policies/state.h"
#include "tests/policies/config_builder.h"

namespace sb::policies {
namespace {

config::LoadSettings settings() {
  config::LoadSettings s;
  s.stale_after = config::Duration(5'000);
  s.headroom_queue = 4;
  s.headroom_kv_cache = 0.9;
  return s;
}

TEST(LoadBoardTest, NamesItsSources) {
  EXPECT_EQ(to_string(LoadSource::none), "none");
  EXPECT_EQ(to_string(LoadSource::engine), "engine");
  EXPECT_EQ(to_string(LoadSource::stale), "stale");
}

TEST(LoadBoardTest, EndpointNeverReadIsNotFresh) {
  LoadBoard board(2);
  EXPECT_EQ(board.endpoints(), 2u);
  const EndpointLoad e = board.endpoint(0, 1'000, settings());
  EXPECT_FALSE(e.fresh);
  EXPECT_EQ(e.age_ms, -1);
  EXPECT_EQ(e.waiting, -1);
  const LoadSignals s = board.pool(1'000, settings());
  EXPECT_EQ(s.source, LoadSource::stale);
  EXPECT_EQ(s.endpoints, 2u);
  EXPECT_EQ(s.fresh, 0u);
  EXPECT_EQ(s.age_ms, -1);
  EXPECT_EQ(s.with_headroom, 0u);
}

TEST(LoadBoardTest, EndpointReadingIsFreshUntilStaleAfter) {
  LoadBoard board(1);
  board.publish(0, 3, 7, 0.5, 0.25, 10'000);
  EndpointLoad e = board.endpoint(0, 12'000, settings());
  EXPECT_TRUE(e.fresh);
  EXPECT_EQ(e.age_ms, 2'000);
  EXPECT_EQ(e.waiting, 3);
  EXPECT_EQ(e.running, 7);
  EXPECT_EQ(e.kv_cache, 0.5);
  EXPECT_EQ(e.ttft_p50, 0.25);
  EXPECT_TRUE(board.endpoint(0, 15'000, settings()).fresh);  // exactly stale_after old
  e = board.endpoint(0, 15'001, settings());
  EXPECT_FALSE(e.fresh);
  EXPECT_EQ(e.age_ms, 5'001);
  EXPECT_EQ(board.pool(15'001, settings()).source, LoadSource::stale);
}

TEST(LoadBoardTest, OutOfRangeEndpointsAreIgnored) {
  LoadBoard board(1);
  board.publish(3, 1, 1, 0.1, 0.1, 0);  // no effect, no crash
  EXPECT_FALSE(board.endpoint(3, 0, settings()).fresh);
  EXPECT_FALSE(board.endpoint(0, 0, settings()).fresh);
}

TEST(LoadBoardTest, NegativeOrNanFiguresMeanNotExported) {
  LoadBoard board(1);
  board.publish(0, -5, std::numeric_limits<double>::quiet_NaN(), -0.1, -2, 0);
  const EndpointLoad e = board.endpoint(0, 0, settings());
  EXPECT_TRUE(e.fresh);
  EXPECT_EQ(e.waiting, -1);
  EXPECT_EQ(e.running, -1);
  EXPECT_EQ(e.kv_cache, -1);
  EXPECT_EQ(e.ttft_p50, -1);
}

TEST(LoadBoardTest, PoolSumsQueuesAndTakesTheBestFreshReplica) {
  LoadBoard board(3);
  board.publish(0, 2, 10, 0.70, 0.30, 1'000);
  board.publish(1, 5, 20, 0.40, 0.50, 2'000);
  board.publish(2, 100, 100, 0.01, 0.01, -10'000);  // stale: left out of every figure
  const LoadSignals s = board.pool(3'000, settings());
  EXPECT_EQ(s.source, LoadSource::engine);
  EXPECT_EQ(s.endpoints, 3u);
  EXPECT_EQ(s.fresh, 2u);
  EXPECT_EQ(s.waiting, 7);
  EXPECT_EQ(s.running, 30);
  EXPECT_EQ(s.kv_cache, 0.40);
  EXPECT_EQ(s.ttft_p50, 0.30);
  EXPECT_EQ(s.age_ms, 1'000);  // the freshest reading
  // Endpoint 0 (queue 2 < 4, kv 0.7 < 0.9) has headroom; endpoint 1's queue 5 >= 4 has not.
  EXPECT_EQ(s.with_headroom, 1u);
}

TEST(LoadBoardTest, HeadroomNeedsBothThresholdsAndCountsMissingFiguresAsNoObjection) {
  LoadBoard board(4);
  board.publish(0, 3.9, 1, 0.89, -1, 0);  // below both
  board.publish(1, 4, 1, 0.10, -1, 0);    // queue at the threshold
  board.publish(2, 0, 1, 0.90, -1, 0);    // kv at the threshold
  board.publish(3, -1, 1, 0.50, -1, 0);   // no queue figure: judged by kv alone
  const LoadSignals s = board.pool(0, settings());
  EXPECT_EQ(s.fresh, 4u);
  EXPECT_EQ(s.with_headroom, 2u);
  EXPECT_EQ(s.waiting, 3.9 + 4 + 0);  // a missing figure adds nothing
  EXPECT_EQ(s.ttft_p50, -1);          // no endpoint exports it

  LoadBoard kv_only(1);
  kv_only.publish(0, -1, -1, 0.95, -1, 0);
  EXPECT_EQ(kv_only.pool(0, settings()).with_headroom, 0u);
  EXPECT_EQ(kv_only.pool(0, settings()).kv_cache, 0.95);
}

TEST(LoadBoardTest, ThresholdsComeFromTheSettings) {
  LoadBoard board(1);
  board.publish(0, 10, 1, 0.5, -1, 0);
  config::LoadSettings loose = settings();
  loose.headroom_queue = 16;
  EXPECT_EQ(board.pool(0, settings()).with_headroom, 0u);
  EXPECT_EQ(board.pool(0, loose).with_headroom, 1u);
}

TEST(LoadBoardTest, LaterReadingReplacesTheEarlierOne) {
  LoadBoard board(1);
  board.publish(0, 9, 9, 0.9, 0.9, 0);
  board.publish(0, 1, 2, 0.3, 0.4, 100);
  const EndpointLoad e = board.endpoint(0, 100, settings());
  EXPECT_EQ(e.waiting, 1);
  EXPECT_EQ(e.running, 2);
  EXPECT_EQ(e.kv_cache, 0.3);
  EXPECT_EQ(e.ttft_p50, 0.4);
  EXPECT_EQ(e.age_ms, 0);
}

// One writer per endpoint publishes readings whose figures keep fixed relations; readers on other
// threads must never see a mix of two readings.
TEST(LoadBoardTest, ConcurrentReadsAreNeverTorn) {
  constexpr int kEndpoints = 2;
  constexpr int kWrites = 200'000;
  LoadBoard board(kEndpoints);
  std::atomic<bool> done{false};
  std::atomic<long> checked{0};
  std::atomic<long> torn{0};
  std::atomic<int> readers{0};  // writers start once both readers run, so reads overlap writes
  std::vector<std::thread> threads;
  for (int w = 0; w < kEndpoints; ++w) {
    threads.emplace_back([&board, &readers, w] {
      while (readers.load() < 2) {
        std::this_thread::yield();
      }
      for (int i = 1; i <= kWrites; ++i) {
        const double x = i;
        board.publish(static_cast<std::size_t>(w), x, 2 * x, 1.0 / x, 3 * x, i);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      const config::LoadSettings s = settings();
      readers.fetch_add(1);
      while (!done.load(std::memory_order_relaxed) || checked.load() == 0) {
        for (std::size_t i = 0; i < kEndpoints; ++i) {
          const EndpointLoad e = board.endpoint(i, kWrites, s);
          if (e.age_ms < 0) {
            continue;  // not read yet, or a reader that gave up: never a torn value
          }
          const double x = e.waiting;
          const bool whole = e.running == 2 * x && e.kv_cache == 1.0 / x && e.ttft_p50 == 3 * x &&
                             e.age_ms == kWrites - static_cast<int>(x);
          torn.fetch_add(whole ? 0 : 1, std::memory_order_relaxed);
          checked.fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  threads[0].join();
  threads[1].join();
  done.store(true);
  threads[2].join();
  threads[3].join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GT(checked.load(), 0);
  // After the writers, the last reading of each endpoint.
  const LoadSignals pool = board.pool(kWrites, settings());
  EXPECT_EQ(pool.waiting, 2.0 * kWrites);
  EXPECT_EQ(pool.running, 4.0 * kWrites);
}

TEST(LoadBoardTest, ClockIsMonotonic) {
  const std::int64_t a = load_clock_ms();
  const std::int64_t b = load_clock_ms();
  EXPECT_LE(a, b);
}

// ---- MemoryState

class MemoryStateLoadTest : public ::testing::Test {
 protected:
  MemoryStateLoadTest() {
    cfg.self_hosted("local", "standard", "restricted", 8).load.headroom_queue = 2;
    cfg.closed("cloud", "frontier", "internal");
  }
  testing::ConfigBuilder cfg;
};

TEST_F(MemoryStateLoadTest, WithoutABoardTheSourceIsNone) {
  MemoryState state(cfg.config());
  EXPECT_EQ(state.backend_load(0).source, LoadSource::none);
  EXPECT_EQ(state.backend_load(1).source, LoadSource::none);
  EXPECT_EQ(state.backend_load(7).source, LoadSource::none);  // out of range
}

TEST_F(MemoryStateLoadTest, AttachedBoardIsReadWithTheBackendsSettings) {
  MemoryState state(cfg.config());
  auto board = std::make_shared<LoadBoard>(2);
  board->publish(0, 1, 4, 0.5, 0.2, load_clock_ms());
  board->publish(1, 3, 4, 0.2, 0.1, load_clock_ms());
  state.attach_load(0, board);
  state.attach_load(9, board);  // out of range: ignored
  const LoadSignals s = state.backend_load(0);
  EXPECT_EQ(s.source, LoadSource::engine);
  EXPECT_EQ(s.fresh, 2u);
  EXPECT_EQ(s.waiting, 4);
  EXPECT_EQ(s.kv_cache, 0.2);
  EXPECT_EQ(s.with_headroom, 1u);  // headroom.queue 2: only endpoint 0
  EXPECT_EQ(state.backend_load(1).source, LoadSource::none);
}

TEST_F(MemoryStateLoadTest, OldReadingsAreStale) {
  MemoryState state(cfg.config());
  auto board = std::make_shared<LoadBoard>(1);
  board->publish(0, 1, 1, 0.1, 0.1, load_clock_ms() - 60'000);
  state.attach_load(0, board);
  const LoadSignals s = state.backend_load(0);
  EXPECT_EQ(s.source, LoadSource::stale);
  EXPECT_EQ(s.fresh, 0u);
  EXPECT_GE(s.age_ms, 60'000);
}

}  // namespace
}  // namespace sb::policies
