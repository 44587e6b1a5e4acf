// The engine-load scraper (gateway/runtime/load_scraper.h) against a fake engine serving
// vLLM metrics: readings reach the board, a backend keeps its board while its settings stay,
// gets a new one when they change, and failed or malformed scrapes are counted.

#include "gateway/runtime/load_scraper.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>

#include "gateway/observability/metrics.h"
#include "gateway/observability/stats.h"
#include "tests/support/fake_upstream.h"

namespace sb::gateway {
namespace {

using namespace std::chrono_literals;

constexpr const char* kVllm =
    "# TYPE vllm:num_requests_waiting gauge\n"
    "vllm:num_requests_waiting{model_name=\"m\"} 7\n"
    "# TYPE vllm:num_requests_running gauge\n"
    "vllm:num_requests_running{model_name=\"m\"} 3\n"
    "# TYPE vllm:kv_cache_usage_perc gauge\n"
    "vllm:kv_cache_usage_perc{model_name=\"m\"} 0.5\n";

// Polls `done` for up to 10 s (the scraper runs on its own thread).
bool eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) {
      return true;
    }
    std::this_thread::sleep_for(10ms);
  }
  return done();
}

class LoadScraperTest : public ::testing::Test {
 protected:
  LoadScraperTest() {
    testing::FakeUpstreamOptions o;
    o.metrics = kVllm;
    engine_ = std::make_unique<testing::FakeUpstream>(o);
    backend_.name = "local";
    backend_.provider = config::Provider::vllm;
    backend_.base_url = engine_->base_url();
    backend_.endpoints = {engine_->base_url()};
    backend_.scrape = true;
    backend_.load.metrics = "vllm";
    backend_.load.interval = config::Duration{20};
  }

  policies::EndpointLoad reading(const policies::LoadBoard& board) const {
    return board.endpoint(0, policies::load_clock_ms(), backend_.load);
  }

  std::string scrapes(const char* result) {
    return std::to_string(
        registry_.counter(stats::kLoadScrapesTotal, {{"backend", "local"}, {"result", result}})
            .value());
  }

  metrics::Registry registry_;
  std::unique_ptr<testing::FakeUpstream> engine_;
  config::Backend backend_;
};

TEST_F(LoadScraperTest, ReadingsReachTheBoard) {
  LoadScraper scraper(registry_);
  std::shared_ptr<const policies::LoadBoard> board = scraper.board(backend_);
  ASSERT_NE(board, nullptr);
  ASSERT_TRUE(eventually([&] { return reading(*board).fresh; }));
  const policies::EndpointLoad l = reading(*board);
  EXPECT_EQ(l.waiting, 7);
  EXPECT_EQ(l.running, 3);
  EXPECT_EQ(l.kv_cache, 0.5);
  EXPECT_GE(engine_->metrics_requests(), 1u);
  EXPECT_EQ(engine_->request_count(), 0u) << "scrapes are not chat requests";
}

TEST_F(LoadScraperTest, ABackendKeepsItsBoardUntilItsSettingsChange) {
  LoadScraper scraper(registry_);
  auto first = scraper.board(backend_);
  EXPECT_EQ(scraper.board(backend_), first);
  backend_.load.headroom_queue = 9;  // read by the routing engine, not the scraper
  EXPECT_EQ(scraper.board(backend_), first);
  backend_.load.path = "/other";
  auto second = scraper.board(backend_);
  ASSERT_NE(second, nullptr);
  EXPECT_NE(second, first);
}

TEST_F(LoadScraperTest, UnscrapedBackendsHaveNoBoard) {
  LoadScraper scraper(registry_);
  backend_.scrape = false;
  EXPECT_EQ(scraper.board(backend_), nullptr);
  backend_.scrape = true;
  backend_.load.metrics = "none";
  EXPECT_EQ(scraper.board(backend_), nullptr);
  backend_.load.metrics = "prometheus";  // not an engine this build reads
  EXPECT_EQ(scraper.board(backend_), nullptr);
}

TEST_F(LoadScraperTest, FailedAndMalformedScrapesAreCounted) {
  LoadScraper scraper(registry_);
  engine_->set_metrics("vllm:num_requests_waiting{ 3\n");
  auto board = scraper.board(backend_);
  ASSERT_TRUE(eventually([&] { return scrapes("malformed") != "0"; }));
  engine_->set_metrics(std::nullopt);  // 503
  ASSERT_TRUE(eventually([&] { return scrapes("error") != "0"; }));
  EXPECT_FALSE(reading(*board).fresh);
  EXPECT_EQ(scrapes("ok"), "0");
}

TEST_F(LoadScraperTest, StopsWithLoopsRunning) {
  auto scraper = std::make_unique<LoadScraper>(registry_);
  auto board = scraper->board(backend_);
  ASSERT_TRUE(eventually([&] { return reading(*board).fresh; }));
  scraper->stop();
  scraper->stop();  // idempotent
  EXPECT_EQ(scraper->board(backend_), nullptr) << "a stopped scraper starts nothing";
  scraper.reset();
}

}  // namespace
}  // namespace sb::gateway
