#include "policies/state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/policies/config_builder.h"

namespace sb::policies {
namespace {

using namespace std::chrono;
using namespace std::chrono_literals;
using testing::ConfigBuilder;

// The injected clock: a settable instant shared by the test and the state under test.
std::atomic<std::int64_t> g_now_ms{0};

MemoryState::Clock::time_point fake_now() {
  return MemoryState::Clock::time_point{milliseconds{g_now_ms.load()}};
}

void set_now(sys_time<milliseconds> t) {
  g_now_ms.store(t.time_since_epoch().count());
}
void advance(milliseconds d) {
  g_now_ms.fetch_add(d.count());
}

constexpr sys_days kDay = sys_days{year{2025} / March / day{14}};

class StateTest : public ::testing::Test {
 protected:
  void SetUp() override { set_now(kDay + 12h); }

  /// Tenant 0 with the given budgets, tenant 1 without limits; two backends.
  static config::Config budget_config(std::optional<double> daily, std::optional<double> monthly,
                                      config::RateLimit rate = {}) {
    ConfigBuilder b;
    b.self_hosted("local", "standard", "restricted", 4);
    b.closed("cloud", "frontier", "internal");
    config::Tenant& t = b.tenant("payments");
    t.budget.daily_usd = daily;
    t.budget.monthly_usd = monthly;
    t.rate = rate;
    b.tenant("open");
    return b.config();
  }
};

TEST_F(StateTest, ConvertsDollarsToMicrosRoundingToNearest) {
  EXPECT_EQ(to_micros(1.5), 1'500'000);
  EXPECT_EQ(to_micros(0.0000014), 1);
  EXPECT_EQ(to_micros(0.0000016), 2);
  EXPECT_EQ(to_micros(-0.25), -250'000);
  EXPECT_DOUBLE_EQ(to_usd(2'500'000), 2.5);
}

TEST_F(StateTest, ConcurrentAdmissionsReserveExactlyWhatTheBudgetHolds) {
  constexpr Micros kEstimate = 1'234;
  constexpr int kFits = 1'000;
  // Both budgets bound at exactly kFits estimates; the monthly one is checked after the daily one.
  for (const auto& [daily, monthly] :
       {std::pair<std::optional<double>, std::optional<double>>{to_usd(kEstimate * kFits),
                                                                std::nullopt},
        {std::nullopt, to_usd(kEstimate * kFits)},
        {to_usd(kEstimate * kFits * 2), to_usd(kEstimate * kFits)}}) {
    MemoryState state(budget_config(daily, monthly), &fake_now);
    std::atomic<int> ok{0};
    std::atomic<int> exhausted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 400; ++i) {
          const AdmissionResult r = state.admit(0, 100, kEstimate, true);
          if (r.outcome == Admission::ok) {
            EXPECT_EQ(r.reservation.amount, kEstimate);
            ok.fetch_add(1);
          } else {
            EXPECT_EQ(r.outcome, Admission::budget_exhausted);
            exhausted.fetch_add(1);
          }
        }
      });
    }
    for (std::thread& t : threads) {
      t.join();
    }
    EXPECT_EQ(ok.load(), kFits);
    EXPECT_EQ(exhausted.load(), 8 * 400 - kFits);
    EXPECT_TRUE(state.budget_exhausted(0));
    EXPECT_DOUBLE_EQ(state.budget_fraction(0, config::BudgetPeriod::any), 1.0);
  }
}

TEST_F(StateTest, ReconcileReturnsTheUnusedPartOfAReservation) {
  MemoryState state(budget_config(std::nullopt, 1.0), &fake_now);
  std::vector<Reservation> held;
  for (int i = 0; i < 4; ++i) {
    AdmissionResult r = state.admit(0, 10, 250'000, true);
    ASSERT_EQ(r.outcome, Admission::ok);
    held.push_back(r.reservation);
  }
  EXPECT_EQ(state.admit(0, 10, 1, true).outcome, Admission::budget_exhausted);
  EXPECT_TRUE(state.budget_exhausted(0));

  state.reconcile(held[0], 100'000);  // 150'000 of the reservation comes back
  EXPECT_FALSE(state.budget_exhausted(0));
  EXPECT_NEAR(*state.budget_remaining_usd(0, config::BudgetPeriod::monthly), 0.15, 1e-9);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::monthly), 0.85, 1e-9);
  EXPECT_EQ(state.admit(0, 10, 150'001, true).outcome, Admission::budget_exhausted);
  EXPECT_EQ(state.admit(0, 10, 150'000, true).outcome, Admission::ok);

  state.reconcile(held[1], 0);  // nothing served: the whole reservation comes back
  EXPECT_NEAR(*state.budget_remaining_usd(0, config::BudgetPeriod::monthly), 0.25, 1e-9);
}

TEST_F(StateTest, ActualCostAboveTheEstimateCountsInFull) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  AdmissionResult r = state.admit(0, 10, 100'000, true);
  ASSERT_EQ(r.outcome, Admission::ok);
  state.reconcile(r.reservation, 1'200'000);
  EXPECT_TRUE(state.budget_exhausted(0));
  EXPECT_NEAR(*state.budget_remaining_usd(0, config::BudgetPeriod::daily), -0.2, 1e-9);
  EXPECT_EQ(state.admit(0, 10, 0, true).outcome, Admission::budget_exhausted);
}

TEST_F(StateTest, DailyBudgetRollsOverAtUtcMidnight) {
  set_now(kDay + 23h + 59min + 50s);
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  AdmissionResult first = state.admit(0, 10, 600'000, true);
  ASSERT_EQ(first.outcome, Admission::ok);
  AdmissionResult refused = state.admit(0, 10, 600'000, true);
  EXPECT_EQ(refused.outcome, Admission::budget_exhausted);
  EXPECT_EQ(refused.retry_after, 10s);

  set_now(kDay + 24h + 1s);
  EXPECT_DOUBLE_EQ(state.budget_fraction(0, config::BudgetPeriod::daily), 0.0);
  AdmissionResult next_day = state.admit(0, 10, 600'000, true);
  ASSERT_EQ(next_day.outcome, Admission::ok);
  EXPECT_EQ(next_day.reservation.day, first.reservation.day + 1);

  // Yesterday's request finishes today: its actual cost counts today, and today's reservation
  // stays untouched.
  state.reconcile(first.reservation, 300'000);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.9, 1e-9);
  state.reconcile(next_day.reservation, 600'000);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.9, 1e-9);
}

TEST_F(StateTest, MonthlyBudgetWaitsUntilTheMonthEnds) {
  set_now(kDay + 12h);  // 2025-03-14 12:00 UTC; April starts 17.5 days later
  MemoryState state(budget_config(10.0, 1.0), &fake_now);
  ASSERT_EQ(state.admit(0, 10, 1'000'000, true).outcome, Admission::ok);
  AdmissionResult refused = state.admit(0, 10, 1, true);
  EXPECT_EQ(refused.outcome, Admission::budget_exhausted);
  EXPECT_EQ(refused.retry_after, duration_cast<seconds>(17 * 24h + 12h));
  // The refused admission left the daily budget as it was.
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.1, 1e-9);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::any), 1.0, 1e-9);

  set_now(sys_days{year{2025} / April / day{1}});
  EXPECT_FALSE(state.budget_exhausted(0));
  EXPECT_EQ(state.admit(0, 10, 1, true).outcome, Admission::ok);
}

TEST_F(StateTest, WithoutBudgetEnforcementNothingIsReservedButCostStillCounts) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  AdmissionResult r = state.admit(0, 10, 5'000'000, false);
  ASSERT_EQ(r.outcome, Admission::ok);
  EXPECT_EQ(r.reservation.amount, 0);
  EXPECT_DOUBLE_EQ(state.budget_fraction(0, config::BudgetPeriod::daily), 0.0);
  state.reconcile(r.reservation, 400'000);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.4, 1e-9);
}

TEST_F(StateTest, TenantWithoutBudgetsIsNeverExhausted) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(state.admit(1, 10, 10'000'000, true).outcome, Admission::ok);
  }
  EXPECT_FALSE(state.budget_exhausted(1));
  EXPECT_DOUBLE_EQ(state.budget_fraction(1, config::BudgetPeriod::any), 0.0);
  EXPECT_FALSE(state.budget_remaining_usd(1, config::BudgetPeriod::any).has_value());
}

TEST_F(StateTest, RequestsPerMinuteLimitWaitsForTheOldestSecondToLeave) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {3, 0}), &fake_now);
  ASSERT_EQ(state.admit(0, 1, 0, true).outcome, Admission::ok);
  advance(20s);
  ASSERT_EQ(state.admit(0, 1, 0, true).outcome, Admission::ok);
  ASSERT_EQ(state.admit(0, 1, 0, true).outcome, Admission::ok);
  advance(10s);
  AdmissionResult refused = state.admit(0, 1, 0, true);
  EXPECT_EQ(refused.outcome, Admission::rate_limited_requests);
  EXPECT_EQ(refused.retry_after, 30s);  // the first request leaves the window 60 s after it came

  // Refused requests do not count: once the first one has left, exactly one more fits.
  advance(30s);
  EXPECT_EQ(state.admit(0, 1, 0, true).outcome, Admission::ok);
  AdmissionResult again = state.admit(0, 1, 0, true);
  EXPECT_EQ(again.outcome, Admission::rate_limited_requests);
  EXPECT_EQ(again.retry_after, 20s);
  EXPECT_EQ(state.admit(1, 1, 0, true).outcome, Admission::ok);  // other tenants are unaffected
}

TEST_F(StateTest, TokensPerMinuteLimitCountsEstimatedTokens) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {0, 1'000}), &fake_now);
  ASSERT_EQ(state.admit(0, 600, 0, true).outcome, Admission::ok);
  advance(5s);
  AdmissionResult refused = state.admit(0, 500, 0, true);
  EXPECT_EQ(refused.outcome, Admission::rate_limited_tokens);
  EXPECT_EQ(refused.retry_after, 55s);
  EXPECT_EQ(state.admit(0, 400, 0, true).outcome, Admission::ok);
  // More tokens than a whole minute allows never fit; the hint is the whole window.
  AdmissionResult never = state.admit(0, 1'001, 0, true);
  EXPECT_EQ(never.outcome, Admission::rate_limited_tokens);
  EXPECT_EQ(never.retry_after, 60s);
  advance(60s);
  EXPECT_EQ(state.admit(0, 1'000, 0, true).outcome, Admission::ok);
}

TEST_F(StateTest, BudgetRefusalDoesNotConsumeTheRate) {
  MemoryState state(budget_config(0.001, std::nullopt, {2, 0}), &fake_now);
  EXPECT_EQ(state.admit(0, 1, 2'000, true).outcome, Admission::budget_exhausted);
  EXPECT_EQ(state.admit(0, 1, 2'000, true).outcome, Admission::budget_exhausted);
  EXPECT_EQ(state.admit(0, 1, 500, true).outcome, Admission::ok);
  EXPECT_EQ(state.admit(0, 1, 500, true).outcome, Admission::ok);
  EXPECT_EQ(state.admit(0, 1, 0, true).outcome, Admission::rate_limited_requests);
}

TEST_F(StateTest, ConcurrentAdmissionsNeverExceedTheRequestRate) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {500, 0}), &fake_now);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (state.admit(0, 1, 0, true).outcome == Admission::ok) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_LE(ok.load(), 500);
  EXPECT_GT(ok.load(), 0);
}

TEST_F(StateTest, BackendWindowsSumTheLastMinute) {
  MemoryState state(budget_config(std::nullopt, std::nullopt), &fake_now);
  state.record_backend(0, 100);
  advance(30s);
  state.record_backend(0, 50);
  state.record_backend(0, 25);
  state.record_backend(1, 7);
  EXPECT_DOUBLE_EQ(state.backend_rpm(0), 3);
  EXPECT_DOUBLE_EQ(state.backend_tpm(0), 175);
  EXPECT_DOUBLE_EQ(state.backend_rpm(1), 1);
  advance(30s);  // the first second has left the window
  EXPECT_DOUBLE_EQ(state.backend_rpm(0), 2);
  EXPECT_DOUBLE_EQ(state.backend_tpm(0), 75);
  advance(2min);
  EXPECT_DOUBLE_EQ(state.backend_rpm(0), 0);
  EXPECT_DOUBLE_EQ(state.backend_tpm(1), 0);
  // A bucket reused a minute later starts from zero.
  state.record_backend(0, 1);
  EXPECT_DOUBLE_EQ(state.backend_tpm(0), 1);
}

TEST_F(StateTest, TracksInFlightPerBackend) {
  MemoryState state(budget_config(std::nullopt, std::nullopt), &fake_now);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        state.add_in_flight(0, 1);
        state.add_in_flight(0, -1);
        state.add_in_flight(1, 1);
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_EQ(state.backend_in_flight(0), 0);
  EXPECT_EQ(state.backend_in_flight(1), 4000);
  EXPECT_EQ(state.backend_in_flight(99), 0);  // out of range reads as idle
}

TEST_F(StateTest, CarryOverSharesCountersByName) {
  ConfigBuilder old_config;
  old_config.self_hosted("gone", "small", "public");
  old_config.self_hosted("local", "standard", "restricted");
  old_config.tenant("payments").budget.daily_usd = 1.0;
  MemoryState previous(old_config.config(), &fake_now);
  previous.add_in_flight(1, 3);
  previous.record_backend(1, 40);
  AdmissionResult held = previous.admit(0, 10, 500'000, true);
  ASSERT_EQ(held.outcome, Admission::ok);

  ConfigBuilder new_config;  // "local" moved to index 0, a new backend and tenant first
  new_config.self_hosted("local", "standard", "restricted");
  new_config.closed("cloud", "frontier", "internal");
  new_config.tenant("research");
  new_config.tenant("payments").budget.daily_usd = 2.0;  // the limit comes from the new config
  MemoryState next(new_config.config(), &fake_now);
  next.carry_over(previous);

  EXPECT_EQ(next.backend_in_flight(0), 3);
  EXPECT_DOUBLE_EQ(next.backend_tpm(0), 40);
  EXPECT_EQ(next.backend_in_flight(1), 0);
  EXPECT_NEAR(next.budget_fraction(1, config::BudgetPeriod::daily), 0.25, 1e-9);
  EXPECT_DOUBLE_EQ(next.budget_fraction(0, config::BudgetPeriod::daily), 0.0);

  // A request admitted before the reload leaves and reconciles through the old state; the new
  // state sees it, because the counters are the same.
  previous.add_in_flight(1, -1);
  previous.reconcile(held.reservation, 100'000);
  EXPECT_EQ(next.backend_in_flight(0), 2);
  EXPECT_NEAR(next.budget_fraction(1, config::BudgetPeriod::daily), 0.05, 1e-9);
}

TEST_F(StateTest, ConfigWithoutTenantsHasAnOpenImplicitTenant) {
  ConfigBuilder b;
  b.self_hosted("local", "standard", "restricted");
  MemoryState state(b.config(), &fake_now);
  EXPECT_EQ(state.admit(0, 1'000'000, 1'000'000'000, true).outcome, Admission::ok);
  EXPECT_FALSE(state.budget_exhausted(0));
}

}  // namespace
}  // namespace sb::policies
