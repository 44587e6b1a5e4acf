// The local side of shared limits: many threads taking from one lease never take more than it
// holds, settling gives back exactly the unused part, and rate grants refuse once expired.

#include "policies/lease.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace sb::policies {
namespace {

TEST(BudgetLeaseTest, ConcurrentTakesNeverExceedTheHeadroom) {
  BudgetLease lease;
  lease.reset(7);
  lease.credit(1'000'000);
  lease.set_valid_until(1'000);
  ASSERT_TRUE(lease.usable(7, 999));
  EXPECT_FALSE(lease.usable(7, 1'000)) << "expired";
  EXPECT_FALSE(lease.usable(8, 10)) << "another period";

  std::atomic<Nanos> taken{0};
  std::atomic<int> refused{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int n = 0; n < 20'000; ++n) {
        lease.note_demand(7);
        if (auto got = lease.take(7, 7)) {
          taken += *got;
        } else {
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  // 142,857 takes of 7 fit in 1,000,000; the last 1 nano-dollar is less than a take.
  EXPECT_EQ(taken.load(), 142'857 * 7);
  EXPECT_EQ(lease.headroom(), 1);
  EXPECT_EQ(refused.load(), 160'000 - 142'857) << "every other take refused";
  EXPECT_EQ(lease.demand(), static_cast<std::uint64_t>(160'000 * 7)) << "refused asks count too";
}

TEST(BudgetLeaseTest, TakesWhatIsLeftDownToTheMinimum) {
  BudgetLease lease;
  lease.reset(1);
  lease.credit(500);
  EXPECT_EQ(lease.take(100, 400), 400);
  EXPECT_EQ(lease.take(50, 400), 100) << "capped to what is left";
  EXPECT_FALSE(lease.take(1, 10)) << "nothing left";
  EXPECT_EQ(lease.take(0, 0), 0) << "a free request takes nothing and always fits";
}

TEST(BudgetLeaseTest, SettleReturnsTheUnusedPartAndJournalsTheSpend) {
  BudgetLease lease;
  lease.reset(1);
  lease.credit(1'000);
  const Nanos got = *lease.take(600, 600);
  lease.settle(got, 250);
  EXPECT_EQ(lease.headroom(), 750);
  EXPECT_EQ(lease.unreported(), 250);
  // Usage beyond the reservation is paid from the headroom.
  const Nanos second = *lease.take(100, 100);
  lease.settle(second, 400);
  EXPECT_EQ(lease.headroom(), 350);
  EXPECT_EQ(lease.take_unreported(), 650);
  EXPECT_EQ(lease.unreported(), 0);
  // Spend admitted without the lease still counts against it.
  lease.journal(500);
  EXPECT_EQ(lease.headroom(), -150);
  EXPECT_FALSE(lease.take(1, 1));
  EXPECT_EQ(lease.take_for_release(1'000), 0) << "nothing to give back from a debt";
}

TEST(BudgetLeaseTest, ReleaseTakesOnlyWhatIsThere) {
  BudgetLease lease;
  lease.reset(3);
  lease.credit(300);
  EXPECT_EQ(lease.take_for_release(100), 100);
  EXPECT_EQ(lease.take_for_release(1'000), 200);
  EXPECT_EQ(lease.headroom(), 0);
  lease.credit(10);
  lease.reset(4);
  EXPECT_EQ(lease.headroom(), 0) << "a new period starts with nothing granted";
  EXPECT_EQ(lease.period(), 4);
  EXPECT_FALSE(lease.usable(4, 0)) << "not usable until a grant sets its validity";
}

TEST(RateLeaseTest, ConcurrentTakesNeverExceedTheGrant) {
  RateLease lease;
  lease.replace(1'000, 10'000);
  std::atomic<std::uint64_t> taken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int n = 0; n < 1'000; ++n) {
        if (auto got = lease.take(1, 1, 5'000)) {
          taken += got->amount;
        }
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(taken.load(), 1'000u);
  EXPECT_EQ(lease.available(), 0u);
}

TEST(RateLeaseTest, AnExpiredGrantAdmitsNothing) {
  RateLease lease;
  lease.replace(100, 2'000);
  EXPECT_TRUE(lease.take(1, 1, 1'999));
  EXPECT_FALSE(lease.take(1, 1, 2'000));
  EXPECT_FALSE(lease.take(1, 1, 5'000));
}

TEST(RateLeaseTest, GiveBackReachesOnlyTheGrantItCameFrom) {
  RateLease lease;
  lease.replace(1'000, 10'000);
  const auto got = lease.take(100, 600, 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->amount, 600u);
  lease.give_back(got->grant, 200);
  EXPECT_EQ(lease.available(), 600u);
  const auto [left, old] = lease.replace(50, 10'000);
  EXPECT_EQ(left, 600u) << "what the old grant had left goes back to the store";
  EXPECT_EQ(old, got->grant);
  lease.give_back(got->grant, 300);
  EXPECT_EQ(lease.available(), 50u) << "a newer grant does not take tokens of an older one";
  lease.overrun(70);
  lease.overrun(5);
  EXPECT_EQ(lease.take_overrun(), 75u);
  EXPECT_EQ(lease.take_overrun(), 0u);
}

TEST(RateLeaseTest, TakesWhatIsLeftDownToTheMinimum) {
  RateLease lease;
  lease.replace(500, 100);
  EXPECT_EQ(lease.take(100, 400, 0)->amount, 400u);
  EXPECT_EQ(lease.take(50, 400, 0)->amount, 100u);
  EXPECT_FALSE(lease.take(1, 1, 0));
  EXPECT_EQ(lease.take(0, 0, 0)->amount, 0u) << "asking nothing always fits";
}

}  // namespace
}  // namespace sb::policies
