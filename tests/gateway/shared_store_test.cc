// The shared store in process, on an injected clock, against a real redis-server: budgets roll
// over exactly at UTC day and month boundaries, each period's spend lands in its own key, and a
// budget changed by a reload keeps what was spent.

#include "gateway/state/shared_store.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "gateway/observability/metrics.h"
#include "gateway/state/state_sync.h"
#include "policies/state.h"
#include "tests/support/redis_server.h"

namespace sb::gateway {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using policies::Admission;
using policies::Ask;

std::atomic<std::int64_t> g_now_s{0};
std::chrono::system_clock::time_point fake_now() {
  return std::chrono::system_clock::time_point{std::chrono::seconds{g_now_s.load()}};
}
std::int64_t at(int y, unsigned m, unsigned d, int hh, int mm, int ss) {
  using namespace std::chrono;
  const sys_days day{year{y} / month{m} / std::chrono::day{d}};
  return (sys_seconds{day} + hours{hh} + minutes{mm} + seconds{ss}).time_since_epoch().count();
}

std::string redis_cli(std::uint16_t port, const std::string& args) {
  const std::string cmd = "redis-cli -h 127.0.0.1 -p " + std::to_string(port) + " " + args;
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
      out.append(buf, n);
    }
    ::pclose(p);
  }
  while (!out.empty() && out.back() == '\n') {
    out.pop_back();
  }
  return out;
}

std::shared_ptr<const config::Config> load(std::uint16_t port, const std::string& daily) {
  const std::string yaml = R"(state:
  store: redis
  url: "redis://127.0.0.1:)" +
                           std::to_string(port) +
                           R"("
  prefix: roll
  lease: {ttl: 5s, horizon: 1s}
  sync_interval: 50ms
backends:
  closed: {provider: openai, base_url: "https://api.openai.com/v1", api_key: sk-x, model: gpt-4o}
models:
  default: {candidates: [closed]}
tenants:
  team: {budget: {daily_usd: )" +
                           daily + R"(, monthly_usd: 100, on_exhausted: reject}}
auth: {anonymous_tenant: team}
)";
  config::LoadResult r = config::load_string(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  return std::make_shared<const config::Config>(std::move(*r.config));
}

class SharedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    g_now_s = at(2026, 12, 31, 23, 59, 58);
    thread_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    guard_.reset();
    io_.stop();
    thread_.join();
  }

  policies::AdmissionResult admit(SharedStore& store, policies::Nanos cost) {
    Ask ask;
    ask.cost = ask.min_cost = cost;
    policies::AdmissionResult r = store.admit(0, ask);
    if (r.outcome == Admission::short_lease) {
      r = asio::co_spawn(io_, store.top_up(0, ask), asio::use_future).get();
    }
    return r;
  }

  std::int64_t spent(const std::string& key) {
    for (int i = 0; i < 100; ++i) {
      const std::string v = redis_cli(redis_.port(), "HGET " + key + " spent");
      if (!v.empty()) {
        return std::stoll(v);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

  testing::RedisServer redis_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{asio::make_work_guard(io_)};
  std::thread thread_;
  metrics::Registry registry_;
};

TEST_F(SharedStoreTest, BudgetsRollOverExactlyAtUtcDayAndMonthBoundaries) {
  auto cfg = load(redis_.port(), "10");
  StateSync sync(cfg->state, registry_, &fake_now);
  auto memory = std::make_shared<policies::MemoryState>(*cfg);
  SharedStore store(*cfg, sync, memory);

  const auto first = admit(store, 1'000'000'000);
  ASSERT_EQ(first.outcome, Admission::ok);
  store.reconcile(first.reservation, 0, 400'000'001);  // $0.400000001 spent on Dec 31

  g_now_s = at(2027, 1, 1, 0, 0, 0);  // the very first second of a new day, month and year
  const auto second = admit(store, 1'000'000'000);
  ASSERT_EQ(second.outcome, Admission::ok);
  EXPECT_NE(second.reservation.day, first.reservation.day);
  EXPECT_NE(second.reservation.month, first.reservation.month);
  store.reconcile(second.reservation, 0, 250'000'000);

  EXPECT_EQ(spent("roll:{t:team}:day:2026-12-31"), 400'000'001);
  EXPECT_EQ(spent("roll:{t:team}:month:2026-12"), 400'000'001);
  EXPECT_EQ(spent("roll:{t:team}:day:2027-01-01"), 250'000'000);
  EXPECT_EQ(spent("roll:{t:team}:month:2027-01"), 250'000'000);
}

TEST_F(SharedStoreTest, ABudgetChangedByReloadKeepsItsSpend) {
  auto cfg = load(redis_.port(), "10");
  StateSync sync(cfg->state, registry_, &fake_now);
  auto memory = std::make_shared<policies::MemoryState>(*cfg);
  auto store = std::make_unique<SharedStore>(*cfg, sync, memory);
  const auto r = admit(*store, 1'000'000'000);
  ASSERT_EQ(r.outcome, Admission::ok);
  store->reconcile(r.reservation, 0, 900'000'000);
  ASSERT_EQ(spent("roll:{t:team}:day:2026-12-31"), 900'000'000);

  // The reload lowers the daily budget to $1: $0.10 is left, a $0.50 request does not fit.
  auto lower = load(redis_.port(), "1");
  auto memory2 = std::make_shared<policies::MemoryState>(*lower);
  memory2->carry_over(*memory);
  store = std::make_unique<SharedStore>(*lower, sync, memory2);
  const auto refused = admit(*store, 500'000'000);
  EXPECT_EQ(refused.outcome, Admission::budget_exhausted);
  const auto fits = admit(*store, 100'000'000);
  EXPECT_EQ(fits.outcome, Admission::ok);
  EXPECT_LE(*store->budget_remaining(0, config::BudgetPeriod::daily), 0);
}

}  // namespace
}  // namespace sb::gateway
