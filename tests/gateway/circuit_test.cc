#include "gateway/runtime/circuit.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sb::gateway {
namespace {

using std::chrono::milliseconds;
using State = Circuit::State;

// An arbitrary fixed origin; every test moves time by hand from here.
const Circuit::TimePoint kT0 = Circuit::TimePoint{} + std::chrono::hours(1000);

Circuit::TimePoint at(long ms) {
  return kT0 + milliseconds(ms);
}

CircuitSettings consecutive_only(unsigned n) {
  CircuitSettings s;
  s.consecutive_failures = n;
  s.error_rate = 0.0;  // disabled
  s.open_for = milliseconds(1'000);
  s.max_open_for = milliseconds(5'000);
  return s;
}

CircuitSettings rate_only(double rate, unsigned min_requests) {
  CircuitSettings s;
  s.consecutive_failures = 0;  // disabled
  s.error_rate = rate;
  s.min_requests = min_requests;
  s.window = milliseconds(10'000);
  return s;
}

TEST(CircuitTest, StartsClosedAndAllowsEverything) {
  Circuit c(CircuitSettings{});
  EXPECT_EQ(c.state(kT0), State::closed);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(c.allow(at(i)));
  }
}

TEST(CircuitTest, OpensAfterConsecutiveFailures) {
  Circuit c(consecutive_only(3));
  c.failure(at(0));
  c.failure(at(1));
  EXPECT_EQ(c.state(at(2)), State::closed);
  EXPECT_TRUE(c.allow(at(2)));
  c.failure(at(2));
  EXPECT_EQ(c.state(at(3)), State::open);
  EXPECT_FALSE(c.allow(at(3)));
  EXPECT_FALSE(c.allow(at(1'001)));  // open_for counts from the opening failure
}

TEST(CircuitTest, SuccessResetsConsecutiveCount) {
  Circuit c(consecutive_only(3));
  c.failure(at(0));
  c.failure(at(1));
  c.success(at(2));
  c.failure(at(3));
  c.failure(at(4));
  EXPECT_EQ(c.state(at(5)), State::closed);
  c.failure(at(5));
  EXPECT_EQ(c.state(at(6)), State::open);
}

TEST(CircuitTest, ZeroConsecutiveThresholdDisablesThatRule) {
  CircuitSettings s = consecutive_only(0);
  Circuit c(s);
  for (int i = 0; i < 1'000; ++i) {
    c.failure(at(i));
  }
  EXPECT_EQ(c.state(at(1'000)), State::closed);
}

TEST(CircuitTest, OpensOnErrorRateOnceMinRequestsReached) {
  Circuit c(rate_only(0.5, 10));
  // s f s f ... : after 9 requests 4 failed; the 10th (a failure) makes 5 of 10.
  for (int i = 0; i < 9; ++i) {
    if (i % 2 == 0) {
      c.success(at(i));
    } else {
      c.failure(at(i));
    }
  }
  EXPECT_EQ(c.state(at(9)), State::closed);
  c.failure(at(9));
  EXPECT_EQ(c.state(at(10)), State::open);
}

TEST(CircuitTest, ErrorRateIgnoredBelowMinRequests) {
  Circuit c(rate_only(0.5, 10));
  for (int i = 0; i < 9; ++i) {
    c.failure(at(i));  // 100% failures, but only 9 requests
  }
  EXPECT_EQ(c.state(at(9)), State::closed);
  c.failure(at(9));
  EXPECT_EQ(c.state(at(10)), State::open);
}

TEST(CircuitTest, ErrorRateBelowThresholdStaysClosed) {
  Circuit c(rate_only(0.3, 10));
  // 2 failures in every 10 requests, for many windows.
  for (int i = 0; i < 500; ++i) {
    if (i % 5 == 0) {
      c.failure(at(i * 10));
    } else {
      c.success(at(i * 10));
    }
  }
  EXPECT_EQ(c.state(at(5'000)), State::closed);
}

TEST(CircuitTest, ErrorRateAtExactDecimalThresholdOpens) {
  Circuit c(rate_only(0.3, 10));
  for (int i = 0; i < 7; ++i) {
    c.success(at(i));
  }
  c.failure(at(7));
  c.failure(at(8));
  EXPECT_EQ(c.state(at(9)), State::closed);
  c.failure(at(9));  // 3 of 10 == 0.3
  EXPECT_EQ(c.state(at(10)), State::open);
}

TEST(CircuitTest, WindowBucketsExpireOldCounts) {
  Circuit c(rate_only(0.5, 10));
  for (int i = 0; i < 9; ++i) {
    c.failure(at(i));
  }
  EXPECT_EQ(c.window_counts(at(9)).failures, 9u);
  // The window is 10 s in ten 1 s buckets: after it has gone by, those failures are forgotten.
  EXPECT_EQ(c.window_counts(at(10'500)).requests, 0u);
  c.failure(at(10'500));
  EXPECT_EQ(c.state(at(10'501)), State::closed);
  EXPECT_EQ(c.window_counts(at(10'501)).requests, 1u);
}

TEST(CircuitTest, WindowSlidesBucketByBucket) {
  Circuit c(rate_only(0.5, 10));
  c.failure(at(0));      // bucket 0
  c.failure(at(4'000));  // bucket 4
  c.success(at(9'000));  // bucket 9
  EXPECT_EQ(c.window_counts(at(9'999)).requests, 3u);
  EXPECT_EQ(c.window_counts(at(10'000)).requests, 2u);  // bucket 0 has left
  EXPECT_EQ(c.window_counts(at(10'000)).failures, 1u);
  EXPECT_EQ(c.window_counts(at(14'000)).requests, 1u);  // bucket 4 has left
  // Recording into a recycled slot starts it from zero.
  c.failure(at(10'000));
  EXPECT_EQ(c.window_counts(at(10'000)).failures, 2u);
}

TEST(CircuitTest, SlightlyLateClockReadingsStillCount) {
  Circuit c(rate_only(0.5, 10));
  c.failure(at(5'000));
  c.failure(at(4'999));  // another thread read its clock a little earlier
  EXPECT_EQ(c.window_counts(at(5'000)).failures, 2u);
  // A reading a whole window older than a slot's bucket is already outside that window and must
  // not wipe the newer counts.
  c.failure(at(5'000 - 10'000));
  EXPECT_EQ(c.window_counts(at(5'000)).failures, 2u);
}

TEST(CircuitTest, HalfOpenAfterOpenTimeAllowsOneProbe) {
  Circuit c(consecutive_only(1));
  c.failure(at(0));
  EXPECT_FALSE(c.allow(at(999)));
  EXPECT_EQ(c.state(at(999)), State::open);
  EXPECT_EQ(c.state(at(1'000)), State::half_open);
  EXPECT_TRUE(c.allow(at(1'000)));
  EXPECT_FALSE(c.allow(at(1'000)));
  EXPECT_FALSE(c.allow(at(2'000)));
  EXPECT_EQ(c.state(at(2'000)), State::half_open);
}

TEST(CircuitTest, HalfOpenAllowsExactlyOneProbeUnderContention) {
  for (int round = 0; round < 20; ++round) {
    Circuit c(consecutive_only(1));
    c.failure(at(0));
    constexpr int kThreads = 8;
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::atomic<int> granted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        ready.fetch_add(1);
        while (!go.load()) {
          std::this_thread::yield();
        }
        for (int i = 0; i < 1'000; ++i) {
          if (c.allow(at(1'000 + i))) {
            granted.fetch_add(1);
          }
        }
      });
    }
    while (ready.load() != kThreads) {
      std::this_thread::yield();
    }
    go.store(true);
    for (auto& th : threads) {
      th.join();
    }
    EXPECT_EQ(granted.load(), 1) << "round " << round;
    EXPECT_EQ(c.state(at(2'000)), State::half_open);
  }
}

TEST(CircuitTest, ProbeSuccessCloses) {
  Circuit c(consecutive_only(2));
  c.failure(at(0));
  c.failure(at(1));
  ASSERT_TRUE(c.allow(at(1'001)));
  c.success(at(1'050));
  EXPECT_EQ(c.state(at(1'050)), State::closed);
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(c.allow(at(1'051 + i)));
  }
  // Counts were cleared on closing: it takes a fresh run of failures to open again.
  c.failure(at(1'100));
  EXPECT_EQ(c.state(at(1'101)), State::closed);
  c.failure(at(1'101));
  EXPECT_EQ(c.state(at(1'102)), State::open);
}

TEST(CircuitTest, ProbeSuccessClearsErrorRateWindow) {
  CircuitSettings s = rate_only(0.5, 4);
  s.open_for = milliseconds(100);
  Circuit c(s);
  for (int i = 0; i < 4; ++i) {
    c.failure(at(i));
  }
  ASSERT_EQ(c.state(at(4)), State::open);
  ASSERT_TRUE(c.allow(at(200)));
  c.success(at(200));
  ASSERT_EQ(c.state(at(200)), State::closed);
  EXPECT_EQ(c.window_counts(at(200)).requests, 0u);
  c.failure(at(201));  // would trip at once if the old failures were still counted
  EXPECT_EQ(c.state(at(202)), State::closed);
}

TEST(CircuitTest, ProbeFailureReopensWithDoubledTimeCappedAtMax) {
  Circuit c(consecutive_only(1));  // open_for 1 s, max_open_for 5 s
  c.failure(at(0));
  long now = 0;
  long expected_open = 1'000;
  for (long next : {2'000L, 4'000L, 5'000L, 5'000L}) {
    EXPECT_FALSE(c.allow(at(now + expected_open - 1)));
    now += expected_open;
    ASSERT_TRUE(c.allow(at(now)));
    c.failure(at(now));
    EXPECT_EQ(c.state(at(now)), State::open);
    expected_open = next;
  }
  EXPECT_FALSE(c.allow(at(now + expected_open - 1)));
  now += expected_open;
  ASSERT_TRUE(c.allow(at(now)));
  c.success(at(now));
  EXPECT_EQ(c.state(at(now)), State::closed);

  // Closing reset the backoff: the next opening lasts open_for again.
  c.failure(at(now));
  EXPECT_FALSE(c.allow(at(now + 999)));
  EXPECT_TRUE(c.allow(at(now + 1'000)));
}

TEST(CircuitTest, ReportsWhileOpenAreIgnored) {
  Circuit c(consecutive_only(1));
  c.failure(at(0));
  c.success(at(10));  // a request dispatched before the opening finished fine
  EXPECT_EQ(c.state(at(10)), State::open);
  c.failure(at(500));  // a late failure does not extend the open time
  EXPECT_TRUE(c.allow(at(1'000)));
}

TEST(CircuitTest, LostProbeIsReplacedAfterProbeTimeout) {
  CircuitSettings s = consecutive_only(1);
  s.probe_timeout = milliseconds(30'000);
  Circuit c(s);
  c.failure(at(0));
  ASSERT_TRUE(c.allow(at(1'000)));
  EXPECT_FALSE(c.allow(at(30'999)));
  EXPECT_TRUE(c.allow(at(31'000)));
  EXPECT_FALSE(c.allow(at(31'001)));
}

TEST(CircuitTest, BackendUpGaugeValues) {
  EXPECT_EQ(backend_up_value(State::closed), 1.0);
  EXPECT_EQ(backend_up_value(State::half_open), 0.5);
  EXPECT_EQ(backend_up_value(State::open), 0.0);
  EXPECT_STREQ(to_string(State::half_open), "half_open");
}

}  // namespace
}  // namespace sb::gateway
