// The trace exporter end to end (tests/integration/trace_fixture.h): a dead, hanging or full
// exporter never touches the requests (counted in switchboard_trace_spans_total), shutdown flushes,
// a reload keeps tracing on, and a concurrent burst arrives whole.

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/integration/trace_fixture.h"

namespace sb::testing::traces {
namespace {

// 7a. The collector is down: requests are served, the spans are counted failed.
TEST_F(TracingTest, ADownCollectorLeavesRequestsUntouched) {
  ASSERT_NO_FATAL_FAILURE(start("http://127.0.0.1:" + std::to_string(closed_port())));
  for (int i = 0; i < 5; ++i) {
    auto r = chat("down-" + std::to_string(i), i % 2 == 0 ? kEmail : "hello", i == 3);
    ASSERT_TRUE(r) << "request " << i;
    EXPECT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_GT(wait_metric_above(gw_->admin_port(), "failed", 0), 0);
  EXPECT_EQ(spans_metric(gw_->admin_port(), "exported"), 0);
  auto r = chat("down-after", "hello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200u);
}

// 7b. A collector that never answers: requests are served; the export times out (failed).
TEST_F(TracingTest, AHangingCollectorLeavesRequestsUntouched) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver("    timeout: 300ms\n", {"--hang"}));
  for (int i = 0; i < 5; ++i) {
    auto r = chat("hang-" + std::to_string(i), i % 2 == 0 ? kEmail : "hello", i == 3);
    ASSERT_TRUE(r) << "request " << i;  // within the client's timeout
    EXPECT_EQ(r->status, 200u) << r->body;
  }
  EXPECT_GT(wait_metric_above(gw_->admin_port(), "failed", 0), 0);
  EXPECT_EQ(spans_metric(gw_->admin_port(), "exported"), 0);
}

// 7c. A one-span queue behind a hanging collector and a burst: spans are dropped, every request
// is served.
TEST_F(TracingTest, AFullQueueDropsSpansAndEveryRequestSucceeds) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver("    queue: 1\n    timeout: 2s\n", {"--hang"}));
  constexpr int kThreads = 8;
  constexpr int kEach = 5;
  std::vector<unsigned> statuses(kThreads * kEach, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "burst-" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<std::pair<std::string, std::string>> h{{"x-request-id", id}};
        auto r = request(gw_->port(), "POST", "/v1/chat/completions",
                         chat_body("default", (t + i) % 2 == 0 ? kEmail : "hello", i == 2), h);
        statuses[static_cast<std::size_t>(t * kEach + i)] = r ? r->status : 0;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i], 200u) << "request " << i;
  }
  EXPECT_GT(wait_metric_above(gw_->admin_port(), "dropped", 0), 0);
}

// 7d. Shutdown sends what is still queued: a long interval, then SIGTERM.
TEST_F(TracingTest, ShutdownFlushesTheQueuedSpans) {
  interval_ = "60s";
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  auto r = chat("flush-1", kEmail);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200u);
  EXPECT_TRUE(receiver_->spans().empty()) << "exported before the interval: " << receiver_->raw();
  gw_->send_signal(SIGTERM);
  EXPECT_EQ(gw_->wait_exit(20s), 0) << gw_->stderr_text();
  const Spans spans = receiver_->spans();
  const Span* server = server_span(spans, "flush-1");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(attempts_of(spans, *server).size(), 1u);
}

// 7e. A reload (SIGHUP) keeps tracing on, with the new config's decisions.
TEST_F(TracingTest, TracingSurvivesAReload) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  auto before = chat("reload-before", kEmail);
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200u);
  std::string yaml = config(receiver_->endpoint());
  const std::string from = "name: sensitive-stays-home";
  yaml.replace(yaml.find(from), from.size(), "name: private-at-home");
  gw_->write_config(yaml);
  gw_->send_signal(SIGHUP);
  ASSERT_TRUE(gw_->wait_for_log("configuration reloaded", 5s)) << gw_->stderr_text();
  auto after = chat("reload-after", kEmail);
  ASSERT_TRUE(after);
  ASSERT_EQ(after->status, 200u);
  const Spans spans = receiver_->wait([](const Spans& s) {
    return server_span(s, "reload-before") != nullptr && server_span(s, "reload-after") != nullptr;
  });
  ASSERT_NE(server_span(spans, "reload-before"), nullptr) << receiver_->raw();
  const Span* server = server_span(spans, "reload-after");
  ASSERT_NE(server, nullptr) << receiver_->raw();
  EXPECT_EQ(str_attr(*server, "switchboard.rule"), "private-at-home");
  EXPECT_EQ(attempts_of(spans, *server).size(), 1u);
}

// 7f. A concurrent burst with a healthy collector: every span arrives once, as counted.
TEST_F(TracingTest, AConcurrentBurstExportsEverySpanOnce) {
  ASSERT_NO_FATAL_FAILURE(start_with_receiver());
  constexpr int kThreads = 8;
  constexpr int kEach = 10;
  std::vector<unsigned> statuses(kThreads * kEach, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "many-" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<std::pair<std::string, std::string>> h{{"x-request-id", id}};
        auto r = request(gw_->port(), "POST", "/v1/chat/completions",
                         chat_body("default", (t + i) % 2 == 0 ? kEmail : "hello", i % 3 == 0), h);
        statuses[static_cast<std::size_t>(t * kEach + i)] = r ? r->status : 0;
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  for (std::size_t i = 0; i < statuses.size(); ++i) {
    ASSERT_EQ(statuses[i], 200u) << "request " << i;
  }
  constexpr std::size_t kSpans = 2 * kThreads * kEach;
  const Spans spans = receiver_->wait([](const Spans& s) { return s.size() >= kSpans; });
  ASSERT_EQ(spans.size(), kSpans) << receiver_->raw();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kEach; ++i) {
      const std::string id = "many-" + std::to_string(t) + "-" + std::to_string(i);
      const Span* server = server_span(spans, id);
      ASSERT_NE(server, nullptr) << id;
      EXPECT_EQ(attempts_of(spans, *server).size(), 1u) << id;
    }
  }
  EXPECT_EQ(wait_metric_above(gw_->admin_port(), "exported", kSpans - 1),
            static_cast<long long>(kSpans));
  EXPECT_EQ(spans_metric(gw_->admin_port(), "dropped"), 0);
  EXPECT_EQ(spans_metric(gw_->admin_port(), "failed"), 0);
}

}  // namespace
}  // namespace sb::testing::traces
