#pragma once
// Internal to the shared store's background side (state_sync.cc: the thread, lease sizing and
// rounds; state_sync_call.cc: one script call for one tenant). Not for other files.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "gateway/observability/metrics.h"
#include "gateway/state/redis_client.h"
#include "gateway/state/state_sync.h"

namespace sb::gateway {

namespace asio = boost::asio;

namespace sync_detail {

inline constexpr int kDay = 0;
inline constexpr int kMonth = 1;
inline constexpr int kRequests = 0;
inline constexpr int kTokens = 1;
/// A budget whose free part is below this many of the tenant's largest recent requests is
/// scarce: replicas then hold no lease ahead of need, and every request asks Redis for exactly
/// what it needs, so the last of a budget goes to whichever replica's request comes first.
inline constexpr std::int64_t kScarceAsks = 32;
/// Budget period keys outlive their period by this much (seconds), for audits and late reports.
inline constexpr std::int64_t kKeepAfterPeriod = 40LL * 86400;

/// Tenant and backend names inside keys: bytes other than [A-Za-z0-9_.-] as %XX, so no name can
/// break the hash tag's braces or collide with another.
std::string key_part(std::string_view name);
std::string day_name(std::int64_t day);      ///< YYYY-MM-DD
std::string month_name(std::int64_t month);  ///< YYYY-MM
std::int64_t to_int(const redis::Reply& r);  ///< an integer reply or integer text; else 0
std::string num(std::int64_t v);

}  // namespace sync_detail

// -------------------------------------------------------------------------------------------------
// The sync thread's bookkeeping for one tenant.

struct TenantShare::Book {
  using Nanos = policies::Nanos;
  explicit Book(const asio::any_io_executor& ex) : wake(ex) {
    wake.expires_at(asio::steady_timer::time_point::max());
  }
  bool busy = false;
  asio::steady_timer wake;  ///< waiters for `busy`, woken by cancel()
  std::uint64_t seq = 0;
  /// What this replica believes Redis holds as its lease, per kind and period slot.
  std::array<std::array<Nanos, 4>, 2> believed{};

  /// A report sent without an answer: sent again, as is, before anything new.
  struct BudgetReport {
    int kind = 0;
    std::int64_t period = 0;
    Nanos spend = 0;
    Nanos release = 0;
  };
  struct RateReport {
    std::int64_t second = -1;  ///< the grant the release goes back to
    std::uint64_t release = 0;
    std::uint64_t overrun = 0;
  };
  bool pending = false;
  std::uint64_t pending_seq = 0;
  std::vector<BudgetReport> budget_reports;
  /// The report of (kind, period) in the pending call; zeros when it has none.
  BudgetReport report(int kind, std::int64_t period) const {
    for (const BudgetReport& r : budget_reports) {
      if (r.kind == kind && r.period == period) {
        return r;
      }
    }
    return {kind, period, 0, 0};
  }
  std::array<RateReport, 2> rate_reports{};
  /// The second (Redis clock) of each rate lease's current grant, for its later release.
  std::array<std::int64_t, 2> grant_second{-1, -1};

  // Consumption rates (per second, smoothed) and when they were last read.
  std::array<double, 2> budget_rate{};
  std::array<std::uint64_t, 2> budget_seen{};
  std::array<double, 2> rate_rate{};
  std::array<std::uint64_t, 2> rate_seen{};
  std::int64_t rates_read_ms = 0;
  std::int64_t biggest_decayed_ms = 0;
  std::array<std::int64_t, 2> last_demand_ms{};

  // From the latest reply.
  std::array<Nanos, 2> free{};     ///< limit - spent - leased (what nobody holds)
  std::array<Nanos, 2> unspent{};  ///< limit - spent
  std::array<std::int64_t, 2> holders{};
  std::array<std::int64_t, 2> rate_free{};
  std::int64_t last_call_ms = 0;
  std::int64_t last_ok_ms = 0;
};

// -------------------------------------------------------------------------------------------------

struct StateSync::Impl {
  using Nanos = policies::Nanos;
  using BudgetLease = policies::BudgetLease;
  using RateLease = policies::RateLease;
  Impl(StateSync& self, const config::StateSettings& s, metrics::Registry& reg);

  StateSync& owner;
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard;
  redis::Client client;
  redis::Script tenant_script;
  redis::Script backend_script;
  metrics::Registry& registry;
  std::string replica;
  std::thread thread;
  std::atomic<bool> stopping{false};

  std::mutex mutex;  // the maps below; control path and the sync thread's round start
  std::map<std::string, std::shared_ptr<TenantShare>> tenants;
  std::map<std::string, std::shared_ptr<BackendShare>> backends;

  metrics::Gauge* up_gauge = nullptr;
  metrics::Counter* calls_ok = nullptr;
  metrics::Counter* calls_failed = nullptr;
  metrics::Counter* top_ups = nullptr;
  metrics::Gauge* unreported = nullptr;
  metrics::Gauge* stranded = nullptr;

  const config::StateSettings& settings() const { return owner.settings_; }
  std::int64_t ttl_ms() const { return settings().lease_ttl.count(); }
  std::int64_t horizon_ms() const { return settings().lease_horizon.count(); }
  /// A rate grant may be used for `horizon` after it was made; the window in Redis is longer by
  /// that (and two seconds of rounding), so no 60-second span ever admits more than the limit.
  std::int64_t rate_window_s() const { return 62 + (horizon_ms() + 999) / 1000; }

  std::string tenant_key(const TenantShare& t, std::string_view rest) const;

  void mark(bool ok, const std::string& why);

  // --- One call for one tenant -------------------------------------------------------------

  struct BudgetWant {
    int kind = 0;
    std::int64_t period = 0;
    Nanos min = 0;
    Nanos max = 0;
    bool for_request = false;
  };
  struct RateWant {
    std::uint64_t min = 0;
    std::uint64_t max = 0;
    bool for_request = false;
    bool asked = false;
  };
  struct Plan {
    std::vector<BudgetWant> budgets;  // every (kind, period) in the call
    std::array<RateWant, 2> rates{};
  };
  struct Outcome {
    bool reached = false;
    std::vector<Nanos> granted;  // per plan.budgets entry
    std::array<std::int64_t, 2> rate_granted{-1, -1};
    std::int64_t rate_retry_after = 1;
  };

  /// Waits until no other call of this tenant is in flight (replies update `believed`).
  asio::awaitable<void> lock(TenantShare::Book& b);
  void unlock(TenantShare::Book& b);

  /// Makes sure the ledgers of `period` exist for `kind` (reusing the one of four periods ago).
  void open_period(TenantShare& t, int kind, std::int64_t period);

  /// One script call for `t`: the pending report and `plan`'s wants; the reply applied.
  asio::awaitable<Outcome> call(TenantShare& t, Plan plan);
  void prepare_report(TenantShare& t, Plan& plan);
  void script_args(const TenantShare& t, const Plan& plan, std::vector<std::string>& keys,
                   std::vector<std::string>& args, std::vector<int>& rate_kinds) const;
  void apply_budgets(TenantShare& t, const Plan& plan, const std::vector<redis::Reply>& e,
                     std::int64_t sent_ms, Outcome& out);
  void apply_rates(TenantShare& t, const Plan& plan, const std::vector<int>& kinds,
                   const std::vector<redis::Reply>& e, std::int64_t sent_ms, Outcome& out);

  // --- Lease sizing ---------------------------------------------------------------------------

  /// How much headroom this replica should hold for `kind`: its recent spending over the
  /// horizon (at least one of its largest requests), and none when the budget is scarce.
  Nanos target(const TenantShare& t, int kind) const;

  /// More than it may ask for now: a fair share of what nobody holds, so that replicas that
  /// start later still find some.
  Nanos fair_share(const TenantShare& t, int kind) const;

  void read_rates(TenantShare& t, std::int64_t now_ms);

  // --- The background round -----------------------------------------------------------------

  /// Plans the background call for a tenant, or returns false when none is needed.
  bool plan_refill(TenantShare& t, std::int64_t now_ms, Plan& plan);
  bool plan_budgets(TenantShare& t, std::int64_t now_ms, Plan& plan);
  bool plan_rates(TenantShare& t, std::int64_t now_ms, Plan& plan);

  asio::awaitable<void> refill(std::shared_ptr<TenantShare> t);

  asio::awaitable<void> refill_backend(std::shared_ptr<BackendShare> s);

  asio::awaitable<void> loop();

  /// At shutdown: reports everything and gives every lease back.
  asio::awaitable<void> give_back_all();
};

}  // namespace sb::gateway
