// Cost of one admission and its reconciliation on the in-memory state (policies/state.h): a
// tenant with daily and monthly budgets and rpm/tpm limits large enough never to refuse, so each
// iteration is the full path (rate window add and check, two budget CASes, reconcile), on one
// thread and with threads contending for the same tenant.
//
//   ./build/tests/bench/state_bench [--benchmark_filter=...]

#include <benchmark/benchmark.h>

#include "policies/config.h"
#include "policies/state.h"

namespace {

using namespace sb;

config::Config one_tenant() {
  config::Config c;
  config::Backend b;
  b.name = "cloud";
  b.hosting = config::Hosting::closed;
  c.backends.push_back(b);
  config::Tenant t;
  t.name = "team";
  t.budget.daily_usd = 1e9;
  t.budget.monthly_usd = 1e9;
  t.rate.rpm = 1'000'000'000;
  t.rate.tpm = 1'000'000'000'000;
  c.tenants.push_back(t);
  return c;
}

policies::MemoryState& state() {
  static const config::Config config = one_tenant();
  static policies::MemoryState s(config);
  return s;
}

void BM_AdmitAndReconcile(benchmark::State& st) {
  policies::MemoryState& s = state();
  const policies::Ask ask{2'000, 300, 20'000'000, 3'000'000, true};
  for (auto _ : st) {
    const policies::AdmissionResult r = s.admit(0, ask);
    benchmark::DoNotOptimize(r);
    s.reconcile(r.reservation, 1'200, 12'345'678);
  }
}
BENCHMARK(BM_AdmitAndReconcile)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

void BM_BudgetRemaining(benchmark::State& st) {
  policies::MemoryState& s = state();
  for (auto _ : st) {
    benchmark::DoNotOptimize(s.budget_remaining(0, config::BudgetPeriod::any));
  }
}
BENCHMARK(BM_BudgetRemaining);

}  // namespace
