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

/// These cases were written in micro-dollars: the same amounts in nanos.
constexpr Nanos micro_usd(std::int64_t micros) {
  return micros * 1'000;
}

/// An ask with no range: all of `cost` and `tokens`, or nothing.
Ask exactly(std::uint64_t tokens, Nanos cost, bool enforce_budget = true) {
  return Ask{tokens, tokens, cost, cost, enforce_budget};
}

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

TEST_F(StateTest, ConvertsDollarsToNanosRoundingToNearest) {
  EXPECT_EQ(usd_to_nanos(1.5), 1'500'000'000);
  EXPECT_EQ(usd_to_nanos(0.0000000014), 1);
  EXPECT_EQ(usd_to_nanos(0.0000000016), 2);
  EXPECT_EQ(usd_to_nanos(-0.25), -250'000'000);
  EXPECT_DOUBLE_EQ(nanos_to_usd(2'500'000'000), 2.5);
  EXPECT_EQ(format_usd(11'400'000), "0.011400000");
  EXPECT_EQ(format_usd(200), "0.000000200");
}

TEST_F(StateTest, ConcurrentAdmissionsReserveExactlyWhatTheBudgetHolds) {
  constexpr Nanos kEstimate = 1'234;
  constexpr int kFits = 1'000;
  // Both budgets bound at exactly kFits estimates; the monthly one is checked after the daily one.
  for (const auto& [daily, monthly] :
       {std::pair<std::optional<double>, std::optional<double>>{nanos_to_usd(kEstimate * kFits),
                                                                std::nullopt},
        {std::nullopt, nanos_to_usd(kEstimate * kFits)},
        {nanos_to_usd(kEstimate * kFits * 2), nanos_to_usd(kEstimate * kFits)}}) {
    MemoryState state(budget_config(daily, monthly), &fake_now);
    std::atomic<int> ok{0};
    std::atomic<int> exhausted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 400; ++i) {
          const AdmissionResult r = state.admit(0, exactly(100, kEstimate));
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
    AdmissionResult r = state.admit(0, exactly(10, micro_usd(250'000)));
    ASSERT_EQ(r.outcome, Admission::ok);
    held.push_back(r.reservation);
  }
  EXPECT_EQ(state.admit(0, exactly(10, micro_usd(1))).outcome, Admission::budget_exhausted);
  EXPECT_TRUE(state.budget_exhausted(0));

  state.reconcile(held[0], 0, micro_usd(100'000));  // 150'000 of the reservation comes back
  EXPECT_FALSE(state.budget_exhausted(0));
  EXPECT_NEAR(nanos_to_usd(*state.budget_remaining(0, config::BudgetPeriod::monthly)), 0.15, 1e-9);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::monthly), 0.85, 1e-9);
  EXPECT_EQ(state.admit(0, exactly(10, micro_usd(150'001))).outcome, Admission::budget_exhausted);
  EXPECT_EQ(state.admit(0, exactly(10, micro_usd(150'000))).outcome, Admission::ok);

  state.reconcile(held[1], 0, 0);  // nothing served: the whole reservation comes back
  EXPECT_NEAR(nanos_to_usd(*state.budget_remaining(0, config::BudgetPeriod::monthly)), 0.25, 1e-9);
}

TEST_F(StateTest, ActualCostAboveTheEstimateCountsInFull) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  AdmissionResult r = state.admit(0, exactly(10, micro_usd(100'000)));
  ASSERT_EQ(r.outcome, Admission::ok);
  state.reconcile(r.reservation, 0, micro_usd(1'200'000));
  EXPECT_TRUE(state.budget_exhausted(0));
  EXPECT_NEAR(nanos_to_usd(*state.budget_remaining(0, config::BudgetPeriod::daily)), -0.2, 1e-9);
  EXPECT_EQ(state.admit(0, exactly(10, 0)).outcome, Admission::budget_exhausted);
}

TEST_F(StateTest, DailyBudgetRollsOverAtUtcMidnight) {
  set_now(kDay + 23h + 59min + 50s);
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  AdmissionResult first = state.admit(0, exactly(10, micro_usd(600'000)));
  ASSERT_EQ(first.outcome, Admission::ok);
  AdmissionResult refused = state.admit(0, exactly(10, micro_usd(600'000)));
  EXPECT_EQ(refused.outcome, Admission::budget_exhausted);
  EXPECT_EQ(refused.retry_after, 10s);

  set_now(kDay + 24h + 1s);
  EXPECT_DOUBLE_EQ(state.budget_fraction(0, config::BudgetPeriod::daily), 0.0);
  AdmissionResult next_day = state.admit(0, exactly(10, micro_usd(600'000)));
  ASSERT_EQ(next_day.outcome, Admission::ok);
  EXPECT_EQ(next_day.reservation.day, first.reservation.day + 1);

  // Yesterday's request finishes today: its actual cost counts yesterday, where it was reserved
  // (so that no day's budget is exceeded by requests admitted the day before), and today's
  // reservation stays untouched.
  state.reconcile(first.reservation, 0, micro_usd(300'000));
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.6, 1e-9);
  state.reconcile(next_day.reservation, 0, micro_usd(600'000));
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.6, 1e-9);
  set_now(kDay + 23h + 59min + 59s);  // a clock that reads yesterday sees what it spent
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.3, 1e-9);
}

TEST_F(StateTest, MonthlyBudgetWaitsUntilTheMonthEnds) {
  set_now(kDay + 12h);  // 2025-03-14 12:00 UTC; April starts 17.5 days later
  MemoryState state(budget_config(10.0, 1.0), &fake_now);
  ASSERT_EQ(state.admit(0, exactly(10, micro_usd(1'000'000))).outcome, Admission::ok);
  AdmissionResult refused = state.admit(0, exactly(10, micro_usd(1)));
  EXPECT_EQ(refused.outcome, Admission::budget_exhausted);
  EXPECT_EQ(refused.retry_after, duration_cast<seconds>(17 * 24h + 12h));
  // The refused admission left the daily budget as it was.
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.1, 1e-9);
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::any), 1.0, 1e-9);

  set_now(sys_days{year{2025} / April / day{1}});
  EXPECT_FALSE(state.budget_exhausted(0));
  EXPECT_EQ(state.admit(0, exactly(10, micro_usd(1))).outcome, Admission::ok);
}

TEST_F(StateTest, WithoutBudgetEnforcementNothingIsReservedButCostStillCounts) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  AdmissionResult r = state.admit(0, exactly(10, micro_usd(5'000'000), false));
  ASSERT_EQ(r.outcome, Admission::ok);
  EXPECT_EQ(r.reservation.amount, 0);
  EXPECT_DOUBLE_EQ(state.budget_fraction(0, config::BudgetPeriod::daily), 0.0);
  state.reconcile(r.reservation, 0, micro_usd(400'000));
  EXPECT_NEAR(state.budget_fraction(0, config::BudgetPeriod::daily), 0.4, 1e-9);
}

TEST_F(StateTest, TenantWithoutBudgetsIsNeverExhausted) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(state.admit(1, exactly(10, micro_usd(10'000'000))).outcome, Admission::ok);
  }
  EXPECT_FALSE(state.budget_exhausted(1));
  EXPECT_DOUBLE_EQ(state.budget_fraction(1, config::BudgetPeriod::any), 0.0);
  EXPECT_FALSE(state.budget_remaining(1, config::BudgetPeriod::any).has_value());
}

TEST_F(StateTest, RequestsPerMinuteLimitWaitsForTheOldestSecondToLeave) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {3, 0}), &fake_now);
  ASSERT_EQ(state.admit(0, exactly(1, 0)).outcome, Admission::ok);
  advance(20s);
  ASSERT_EQ(state.admit(0, exactly(1, 0)).outcome, Admission::ok);
  ASSERT_EQ(state.admit(0, exactly(1, 0)).outcome, Admission::ok);
  advance(10s);
  AdmissionResult refused = state.admit(0, exactly(1, 0));
  EXPECT_EQ(refused.outcome, Admission::rate_limited_requests);
  EXPECT_EQ(refused.retry_after, 30s);  // the first request leaves the window 60 s after it came

  // Refused requests do not count: once the first one has left, exactly one more fits.
  advance(30s);
  EXPECT_EQ(state.admit(0, exactly(1, 0)).outcome, Admission::ok);
  AdmissionResult again = state.admit(0, exactly(1, 0));
  EXPECT_EQ(again.outcome, Admission::rate_limited_requests);
  EXPECT_EQ(again.retry_after, 20s);
  EXPECT_EQ(state.admit(1, exactly(1, 0)).outcome, Admission::ok);  // other tenants are unaffected
}

TEST_F(StateTest, TokensPerMinuteLimitCountsEstimatedTokens) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {0, 1'000}), &fake_now);
  ASSERT_EQ(state.admit(0, exactly(600, 0)).outcome, Admission::ok);
  advance(5s);
  AdmissionResult refused = state.admit(0, exactly(500, 0));
  EXPECT_EQ(refused.outcome, Admission::rate_limited_tokens);
  EXPECT_EQ(refused.retry_after, 55s);
  EXPECT_EQ(state.admit(0, exactly(400, 0)).outcome, Admission::ok);
  // More tokens than a whole minute allows never fit; the hint is the whole window.
  AdmissionResult never = state.admit(0, exactly(1'001, 0));
  EXPECT_EQ(never.outcome, Admission::rate_limited_tokens);
  EXPECT_EQ(never.retry_after, 60s);
  advance(60s);
  EXPECT_EQ(state.admit(0, exactly(1'000, 0)).outcome, Admission::ok);
}

TEST_F(StateTest, BudgetRefusalDoesNotConsumeTheRate) {
  MemoryState state(budget_config(0.001, std::nullopt, {2, 0}), &fake_now);
  EXPECT_EQ(state.admit(0, exactly(1, micro_usd(2'000))).outcome, Admission::budget_exhausted);
  EXPECT_EQ(state.admit(0, exactly(1, micro_usd(2'000))).outcome, Admission::budget_exhausted);
  EXPECT_EQ(state.admit(0, exactly(1, micro_usd(500))).outcome, Admission::ok);
  EXPECT_EQ(state.admit(0, exactly(1, micro_usd(500))).outcome, Admission::ok);
  EXPECT_EQ(state.admit(0, exactly(1, 0)).outcome, Admission::rate_limited_requests);
}

TEST_F(StateTest, ConcurrentAdmissionsNeverExceedTheRequestRate) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {500, 0}), &fake_now);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        if (state.admit(0, exactly(1, 0)).outcome == Admission::ok) {
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
  AdmissionResult held = previous.admit(0, exactly(10, micro_usd(500'000)));
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
  previous.reconcile(held.reservation, 0, micro_usd(100'000));
  EXPECT_EQ(next.backend_in_flight(0), 2);
  EXPECT_NEAR(next.budget_fraction(1, config::BudgetPeriod::daily), 0.05, 1e-9);
}

TEST_F(StateTest, BudgetGrantsWhatFitsBetweenTheLeastUsefulAndTheWorstCase) {
  MemoryState state(budget_config(1.0, std::nullopt), &fake_now);
  const Ask ask{100, 100, 700'000'000, 100'000'000, true};  // $0.70 worst case, $0.10 useful
  AdmissionResult first = state.admit(0, ask);
  ASSERT_EQ(first.outcome, Admission::ok);
  EXPECT_EQ(first.reservation.amount, 700'000'000);
  AdmissionResult second = state.admit(0, ask);  // $0.30 left: granted in full
  ASSERT_EQ(second.outcome, Admission::ok);
  EXPECT_EQ(second.reservation.amount, 300'000'000);
  EXPECT_TRUE(state.budget_exhausted(0));
  EXPECT_EQ(state.admit(0, ask).outcome, Admission::budget_exhausted);
  state.reconcile(first.reservation, 0, 650'000'000);  // $0.05 back: less than useful
  EXPECT_EQ(state.admit(0, ask).outcome, Admission::budget_exhausted);
  state.reconcile(second.reservation, 0, 200'000'000);  // $0.15 back
  AdmissionResult third = state.admit(0, ask);
  ASSERT_EQ(third.outcome, Admission::ok);
  EXPECT_EQ(third.reservation.amount, 150'000'000);
  EXPECT_EQ(*state.budget_remaining(0, config::BudgetPeriod::daily), 0);
}

TEST_F(StateTest, DailyAndMonthlyBudgetsGrantTheSameAmount) {
  MemoryState state(budget_config(1.0, 0.25), &fake_now);
  AdmissionResult r = state.admit(0, Ask{1, 1, 600'000'000, 1'000, true});
  ASSERT_EQ(r.outcome, Admission::ok);
  EXPECT_EQ(r.reservation.amount, 250'000'000);  // the month binds; the day keeps as much
  EXPECT_EQ(*state.budget_remaining(0, config::BudgetPeriod::daily), 750'000'000);
  EXPECT_EQ(*state.budget_remaining(0, config::BudgetPeriod::monthly), 0);
}

TEST_F(StateTest, ConcurrentPartialGrantsNeverExceedTheBudget) {
  constexpr Nanos kLimit = 1'000'000'007;  // $1.000000007: not a multiple of any ask
  MemoryState state(budget_config(nanos_to_usd(kLimit), nanos_to_usd(kLimit)), &fake_now);
  std::atomic<Nanos> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const Nanos worst = 3'000'000 + 1'000 * ((t * 300 + i) % 97);
        const AdmissionResult r = state.admit(0, Ask{10, 10, worst, worst / 10, true});
        if (r.outcome == Admission::ok) {
          EXPECT_LE(r.reservation.amount, worst);
          EXPECT_GE(r.reservation.amount, worst / 10);
          granted.fetch_add(r.reservation.amount);
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_LE(granted.load(), kLimit);
  EXPECT_EQ(granted.load() + *state.budget_remaining(0, config::BudgetPeriod::any), kLimit);
  EXPECT_LT(*state.budget_remaining(0, config::BudgetPeriod::any), 3'000'000 / 10);
}

TEST_F(StateTest, BudgetsOfABillionDollarsAreExactToTheNanoDollar) {
  MemoryState state(budget_config(1e9, 1e9), &fake_now);
  constexpr Nanos kBillion = 1'000'000'000 * kNanosPerUsd;
  ASSERT_EQ(state.admit(0, exactly(1, kBillion - 1)).outcome, Admission::ok);
  EXPECT_EQ(*state.budget_remaining(0, config::BudgetPeriod::any), 1);
  EXPECT_EQ(state.admit(0, exactly(1, 2)).outcome, Admission::budget_exhausted);
  AdmissionResult last = state.admit(0, exactly(1, 1));
  ASSERT_EQ(last.outcome, Admission::ok);
  EXPECT_TRUE(state.budget_exhausted(0));
  state.reconcile(last.reservation, 0, 0);
  EXPECT_EQ(*state.budget_remaining(0, config::BudgetPeriod::daily), 1);
}

TEST_F(StateTest, AnIdleBudgetStartsFromZeroWhateverTheGap) {
  MemoryState state(budget_config(1.0, 10.0), &fake_now);
  ASSERT_EQ(state.admit(0, exactly(1, 900'000'000)).outcome, Admission::ok);
  // Gaps of 32 and 64 days reuse the same slot with the same lap; 33 the other slot.
  for (const int gap : {32, 33, 64, 1}) {
    advance(days{gap});
    EXPECT_DOUBLE_EQ(state.budget_fraction(0, config::BudgetPeriod::daily), 0.0) << gap;
    AdmissionResult r = state.admit(0, exactly(1, 900'000'000));
    ASSERT_EQ(r.outcome, Admission::ok) << gap;
    EXPECT_EQ(*state.budget_remaining(0, config::BudgetPeriod::daily), 100'000'000) << gap;
  }
}

TEST_F(StateTest, MonthlyBudgetRollsOverOnTheFirstOfTheMonthUtc) {
  set_now(sys_days{year{2025} / January / day{31}} + 23h + 59min + 59s);
  MemoryState state(budget_config(std::nullopt, 1.0), &fake_now);
  AdmissionResult january = state.admit(0, exactly(1, 1'000'000'000));
  ASSERT_EQ(january.outcome, Admission::ok);
  AdmissionResult refused = state.admit(0, exactly(1, 1));
  EXPECT_EQ(refused.outcome, Admission::budget_exhausted);
  EXPECT_EQ(refused.retry_after, 1s);
  advance(1s);  // 2025-02-01 00:00:00 UTC
  AdmissionResult february = state.admit(0, exactly(1, 1'000'000'000));
  ASSERT_EQ(february.outcome, Admission::ok);
  EXPECT_EQ(february.reservation.month, january.reservation.month + 1);
  state.reconcile(january.reservation, 0, 400'000'000);  // settles in January
  EXPECT_TRUE(state.budget_exhausted(0));
}

TEST_F(StateTest, TokensPerMinuteGrantsWhatFitsAndReconcilesToActualUsage) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {0, 1'000}), &fake_now);
  AdmissionResult first = state.admit(0, Ask{800, 300, 0, 0, true});
  ASSERT_EQ(first.outcome, Admission::ok);
  EXPECT_EQ(first.reservation.tokens, 800u);
  AdmissionResult second = state.admit(0, Ask{800, 150, 0, 0, true});  // 200 left: granted
  ASSERT_EQ(second.outcome, Admission::ok);
  EXPECT_EQ(second.reservation.tokens, 200u);
  AdmissionResult refused = state.admit(0, Ask{800, 1, 0, 0, true});
  EXPECT_EQ(refused.outcome, Admission::rate_limited_tokens);
  // The first used 500 of its 800: 300 come back within the minute.
  state.reconcile(first.reservation, 500, 0);
  AdmissionResult third = state.admit(0, Ask{800, 300, 0, 0, true});
  ASSERT_EQ(third.outcome, Admission::ok);
  EXPECT_EQ(third.reservation.tokens, 300u);
  // The second used more than it reserved: the excess counts, nothing more fits.
  state.reconcile(second.reservation, 260, 0);
  EXPECT_EQ(state.admit(0, Ask{1, 1, 0, 0, true}).outcome, Admission::rate_limited_tokens);
}

TEST_F(StateTest, ConcurrentTokenGrantsNeverExceedTheTokensPerMinute) {
  MemoryState state(budget_config(std::nullopt, std::nullopt, {0, 100'000}), &fake_now);
  std::atomic<std::uint64_t> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        const AdmissionResult r = state.admit(0, Ask{1'000, 100, 0, 0, true});
        if (r.outcome == Admission::ok) {
          granted.fetch_add(r.reservation.tokens);
        }
      }
    });
  }
  for (std::thread& t : threads) {
    t.join();
  }
  EXPECT_LE(granted.load(), 100'000u);
  EXPECT_GT(granted.load(), 90'000u);
}

TEST_F(StateTest, ABudgetChangedByReloadKeepsItsSpend) {
  ConfigBuilder old_config;
  old_config.closed("cloud", "frontier", "internal");
  old_config.tenant("payments").budget.daily_usd = 1.0;
  MemoryState previous(old_config.config(), &fake_now);
  AdmissionResult spent = previous.admit(0, exactly(10, 600'000'000));
  ASSERT_EQ(spent.outcome, Admission::ok);
  previous.reconcile(spent.reservation, 10, 600'000'000);
  AdmissionResult held = previous.admit(0, exactly(10, 100'000'000));  // in flight over the reload
  ASSERT_EQ(held.outcome, Admission::ok);

  for (const double limit : {2.0, 0.5}) {
    ConfigBuilder new_config;
    new_config.closed("cloud", "frontier", "internal");
    new_config.tenant("payments").budget.daily_usd = limit;
    MemoryState next(new_config.config(), &fake_now);
    next.carry_over(previous);
    EXPECT_EQ(*next.budget_remaining(0, config::BudgetPeriod::daily),
              usd_to_nanos(limit) - 700'000'000)
        << limit;
    EXPECT_EQ(next.budget_exhausted(0), limit < 0.7) << limit;
  }
  ConfigBuilder raised;
  raised.closed("cloud", "frontier", "internal");
  raised.tenant("payments").budget.daily_usd = 2.0;
  MemoryState next(raised.config(), &fake_now);
  next.carry_over(previous);
  previous.reconcile(held.reservation, 10, 50'000'000);  // settles through the old state
  EXPECT_EQ(*next.budget_remaining(0, config::BudgetPeriod::daily), 1'350'000'000);
  AdmissionResult big = next.admit(0, exactly(10, 1'350'000'000));
  EXPECT_EQ(big.outcome, Admission::ok);
  EXPECT_EQ(next.admit(0, exactly(10, 1)).outcome, Admission::budget_exhausted);
}

TEST_F(StateTest, ConfigWithoutTenantsHasAnOpenImplicitTenant) {
  ConfigBuilder b;
  b.self_hosted("local", "standard", "restricted");
  MemoryState state(b.config(), &fake_now);
  EXPECT_EQ(state.admit(0, exactly(1'000'000, micro_usd(1'000'000'000))).outcome, Admission::ok);
  EXPECT_FALSE(state.budget_exhausted(0));
}

}  // namespace
}  // namespace sb::policies
